//! What the campaign commands share: the time arguments and loading the cases.

use crate::campaign::log::{self, Step};
use crate::campaign::Campaign;
use crate::config::Pilot;
use crate::ledger;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use std::path::Path;

/// Parses `YYYY-MM-DDTHH:MM[:SS]` (Asia/Almaty), or a date alone meaning 09:00 that day, the
/// hour SMS go out.
pub fn parse_time(s: &str) -> Result<NaiveDateTime, String> {
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_time(SEND_TIME))
        .map_err(|_| format!("expected YYYY-MM-DDTHH:MM (Asia/Almaty) or YYYY-MM-DD, got `{s}`"))
}

/// The hour the portal sends a day's SMS.
pub const SEND_TIME: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).unwrap();

/// Every case offered by `at`, folded with the ledger's events before this run.
pub fn load(out: &Path, pilots: &[Pilot], at: NaiveDateTime, step: Step) -> anyhow::Result<Campaign> {
    let offers = ledger::to_offers(&ledger::offers_until(out, at.date())?)?;
    let events = log::read_before(out, at, step).map_err(|e| match e {
        later @ log::LogError::Later { .. } => anyhow::Error::from(super::UsageError(later.to_string())),
        other => other.into(),
    })?;
    Ok(Campaign::load(offers, events, pilots)?)
}
