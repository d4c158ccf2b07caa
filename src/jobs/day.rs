//! One day's work in one process: candidates → dispatch → advance → report, for every pilot
//! in force, reading each registry once. A day interrupted at any step can run again:
//! finished steps are not repeated and nothing is duplicated.

use super::advance::{advance, AdvanceSummary, PortalFiles, ReplyOptions};
use super::candidates::{candidates_with, Job};
use super::dispatch::{dispatch_with, DispatchSummary};
use super::report::{report, ReportSummary, DEFAULT_MIN_CELL};
use super::stage::StagedSnapshot;
use crate::campaign::log::{self, Step};
use crate::config::Pilot;
use crate::time::SEND_TIME;
use chrono::NaiveDate;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A step of the day that an earlier, interrupted run of the same day already did.
pub const DISPATCH: &str = "dispatch";
pub const ADVANCE: &str = "advance";

/// What a day did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DaySummary {
    pub as_of: String,
    pub pilots: Vec<String>,
    pub events_in_scope: u64,
    pub offered_new: u64,
    pub dispatch: Option<DispatchSummary>,
    pub advance: Option<AdvanceSummary>,
    pub report: Option<ReportSummary>,
    /// Steps already done by an earlier, interrupted run of the same day.
    pub skipped: Vec<&'static str>,
    /// Why the advance waits (a portal file named on the command line is missing): the next
    /// run with the files decides everything since.
    pub advance_deferred: Option<String>,
}

/// A snapshot staged once, the pilots, and the output folder: what every day of a run or a
/// backfill reads.
pub struct Runner {
    pub staged: StagedSnapshot,
    pub pilots: Vec<Pilot>,
    pub out: PathBuf,
    /// How the advance takes the reply files.
    pub replies: ReplyOptions,
    /// Why the day's advance must wait, if it must (files it was told to read are missing).
    pub defer_advance: Option<String>,
    /// The analysts' tier's key, if it is published.
    pub pseudonym: Option<crate::pseudonym::Pseudonymizer>,
}

impl Runner {
    pub fn new(staged: StagedSnapshot, pilots: Vec<Pilot>, out: &Path) -> Runner {
        Runner {
            staged,
            pilots,
            out: out.to_path_buf(),
            replies: ReplyOptions::default(),
            defer_advance: None,
            pseudonym: None,
        }
    }

    /// One day: candidates, dispatch at 09:00, advance to 09:00 with what the portal and
    /// e-license sent, and the report when asked.
    pub fn day(
        &self,
        as_of: NaiveDate,
        replies: &PortalFiles,
        with_report: bool,
    ) -> anyhow::Result<DaySummary> {
        let at = as_of.and_time(SEND_TIME);
        let in_force: Vec<Pilot> = self.pilots.iter().filter(|p| p.in_force_on(as_of)).cloned().collect();
        let mut s = DaySummary {
            as_of: as_of.to_string(),
            pilots: in_force.iter().map(|p| p.id.clone()).collect(),
            ..Default::default()
        };
        if !in_force.is_empty() {
            let snapshot = self.staged.snapshot.clone();
            let (out, pseudonym) = (self.out.clone(), self.pseudonym.clone());
            let job = Job { snapshot, as_of, out, pilots: in_force, pseudonym };
            for p in candidates_with(&job, &self.staged.inputs)?.pilots {
                s.events_in_scope += p.events_in_scope;
                s.offered_new += p.new;
            }
        }
        // A step is done when the ledger holds it or a later run (an earlier run of this day
        // was interrupted after it); a step that changed nothing left no file and simply
        // runs again, to the same result.
        let last = log::last_run(&self.out)?;
        if last.is_some_and(|l| l >= (at, Step::Dispatch)) {
            s.skipped.push(DISPATCH);
        } else {
            let (snapshot, mobile) = (&self.staged.snapshot, &self.staged.mobile);
            s.dispatch = Some(dispatch_with(snapshot, mobile, &self.out, at, &self.pilots)?);
        }
        if last.is_some_and(|l| l >= (at, Step::Advance)) {
            s.skipped.push(ADVANCE);
        } else if let Some(why) = &self.defer_advance {
            tracing::warn!("advance of {at} deferred: {why}");
            s.advance_deferred = Some(why.clone());
        } else {
            s.advance = Some(advance(&self.out, at, replies, &self.pilots, self.replies)?);
        }
        // No report before any candidate run was published (days before the pilots).
        if with_report && !crate::report::latest_runs(&self.out, as_of)?.is_empty() {
            s.report = Some(report(&self.out, as_of, None, DEFAULT_MIN_CELL, &self.pilots)?);
        }
        Ok(s)
    }
}

impl DaySummary {
    /// The summary as people read it: a line for the day, one per step.
    pub fn lines(&self) -> Vec<String> {
        let pilots = if self.pilots.is_empty() { "none".into() } else { self.pilots.join(", ") };
        let mut lines = vec![format!("{}: pilots in force: {pilots}", self.as_of)];
        lines.push(format!(
            "  candidates: {} events in scope, {} newly offered",
            self.events_in_scope, self.offered_new
        ));
        let steps = [
            (DISPATCH, self.dispatch.as_ref().map(|d| d.to_string())),
            (ADVANCE, self.advance.as_ref().map(|a| a.to_string())),
            ("report", self.report.as_ref().map(|r| r.folder.display().to_string())),
        ];
        for (step, line) in steps {
            match line {
                Some(l) => lines.push(format!("  {step}: {l}")),
                None if self.skipped.contains(&step) => {
                    lines.push(format!("  {step}: already done by an earlier run of this day"))
                }
                None if step == ADVANCE && self.advance_deferred.is_some() => lines.push(format!(
                    "  {step}: DEFERRED ({}); the next run with the files decides everything since",
                    self.advance_deferred.as_deref().unwrap_or_default()
                )),
                None => {}
            }
        }
        lines
    }
}
