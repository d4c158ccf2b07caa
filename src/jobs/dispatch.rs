//! Step 9–11 of a day (seed 000, §9–§11): the first SMS of every offered case not yet
//! dispatched, to the recipient's latest active МАБ number, published as the portal's outbox
//! and recorded in the case ledger.

use super::stage::{mobile_entry, InputGuard};
use crate::campaign::{files, log::Step, Kind, Numbers};
use crate::config::Pilot;
use crate::contract;
use crate::frames::collect_streaming;
use crate::io;
use crate::layout;
use crate::pipeline::numbers::active_numbers;
use crate::publish::{Manifest, RunFolder};
use crate::registry::{mobile_base as mb, Snapshot, Staged};
use anyhow::Context;
use chrono::NaiveDateTime;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a dispatch did.
#[derive(Debug, Clone, Serialize)]
pub struct DispatchSummary {
    #[serde(serialize_with = "crate::time::serialize_zoned")]
    pub at: NaiveDateTime,
    pub sms: usize,
    pub no_number: usize,
    /// Put behind another question to the same phone (or about the same permits).
    pub queued: u64,
    /// Not texted: a newer case of the same permits took over.
    pub superseded: u64,
    /// Not texted: another case's request already holds every permit.
    pub voided: u64,
    pub folder: PathBuf,
}

impl std::fmt::Display for DispatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dispatched at {}: {} SMS, {} without a number, {} queued behind another question, {} superseded, {} voided → {}",
            self.at,
            self.sms,
            self.no_number,
            self.queued,
            self.superseded,
            self.voided,
            self.folder.display()
        )
    }
}

/// Stages МАБ (its row count checked by the guard), then as [`dispatch_with`].
pub fn dispatch(
    snapshot: &Snapshot,
    out: &Path,
    at: NaiveDateTime,
    pilots: &[Pilot],
    guard: &InputGuard,
) -> anyhow::Result<DispatchSummary> {
    let mobile = snapshot.stage(&mb::SPEC)?;
    guard.check(&[mobile_entry(snapshot, &mobile)?])?;
    dispatch_with(snapshot, &mobile, out, at, pilots)
}

/// Dispatches at `at` with МАБ already staged.
pub fn dispatch_with(
    snapshot: &Snapshot,
    mobile: &Staged,
    out: &Path,
    at: NaiveDateTime,
    pilots: &[Pilot],
) -> anyhow::Result<DispatchSummary> {
    let started = chrono::Utc::now();
    let mut campaign = super::load_campaign(out, pilots, at, Step::Dispatch)?;
    let waiting: Vec<String> = campaign
        .cases
        .values()
        .filter(|c| c.state == crate::campaign::state::State::Offered)
        .map(|c| c.offer.iin.clone())
        .collect();
    let asked = polars::prelude::Column::new(mb::IIN.into(), &waiting);
    let frame = crate::registry::slices::frame_for(&mobile.frame, mobile.slice.as_ref(), &asked);
    let numbers = collect_streaming(active_numbers(frame, &waiting, at))
        .map_err(anyhow::Error::from)
        .context("looking up МАБ numbers")?;
    let (iins, lists) = (numbers.column(mb::IIN)?.str()?, numbers.column(mb::PHONE)?.list()?);
    let mut phones: Numbers = HashMap::new();
    for i in 0..numbers.height() {
        let (Some(iin), Some(list)) = (iins.get(i), lists.get_as_series(i)) else { continue };
        phones.insert(iin.to_string(), list.str()?.iter().flatten().map(String::from).collect());
    }
    let (events, sms, cases) = campaign.dispatch(&phones, at)?;
    let mut outbox = files::outbox(&campaign, &sms, pilots)?;

    let target = layout::dispatch_dir(out, at.date());
    let mut folder = RunFolder::new(&target)?;
    folder.table(&contract::SMS_OUTBOX, &mut outbox)?;
    let inputs = vec![mobile_entry(snapshot, mobile)?];
    let snapshot_dir = snapshot.dir().display().to_string();
    super::publish_once(folder, Manifest::new(started, crate::time::zoned(at), None, snapshot_dir, inputs))?;
    io::fail_point("dispatch:before-ledger")?;
    super::record(out, at, Step::Dispatch, &events)?;
    let no_number = events.iter().filter(|e| e.kind == Kind::NoNumber).count();
    Ok(DispatchSummary {
        at,
        sms: sms.len(),
        no_number,
        queued: cases.queued,
        superseded: cases.superseded,
        voided: cases.voided,
        folder: target,
    })
}
