//! Steps 12–15 of the campaign (seed 000, §12–§15) up to a time: the portal's replies and
//! the clock decide, resend and time out; accepted cases become re-issue requests. Publishes
//! the advance's folder and records its events in the case ledger.

use crate::campaign::inbox::read_replies;
use crate::campaign::{files, log::Step, Kind, ReplyCounts};
use crate::config::Pilot;
use crate::io;
use crate::layout;
use crate::publish::{InputEntry, Manifest, RunFolder};
use anyhow::Context;
use chrono::NaiveDateTime;
use polars::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `advance.json`: what an advance decided (keys in alphabetical order when written).
#[derive(Debug, Clone, Serialize)]
pub struct AdvanceCounts {
    pub as_of: String,
    pub replies: ReplyCounts,
    pub quarantined: usize,
    pub second_sms: usize,
    pub timed_out: usize,
    pub reissue_requests: usize,
}

/// What an advance did, and where it published.
#[derive(Debug, Clone, Serialize)]
pub struct AdvanceSummary {
    #[serde(flatten)]
    pub counts: AdvanceCounts,
    pub folder: PathBuf,
}

impl std::fmt::Display for AdvanceSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, r) = (&self.counts, &self.counts.replies);
        write!(
            f,
            "advanced to {}: {} replies ({} accept, {} decline, {} invalid, {} late, {} unmatched, {} already recorded, {} quarantined), {} second SMS, {} timed out, {} re-issue requests → {}",
            n.as_of,
            r.received,
            r.accept,
            r.decline,
            r.invalid,
            r.late,
            r.unmatched,
            r.already_recorded,
            n.quarantined,
            n.second_sms,
            n.timed_out,
            n.reissue_requests,
            self.folder.display()
        )
    }
}

/// A reply row that could not be read: the file, its row, why.
struct Quarantined {
    file: String,
    row: u32,
    reason: String,
}

fn quarantine_frame(q: &[Quarantined]) -> PolarsResult<DataFrame> {
    DataFrame::new(
        q.len(),
        vec![
            Column::new("file".into(), q.iter().map(|q| q.file.clone()).collect::<Vec<_>>()),
            Column::new("row_index".into(), q.iter().map(|q| q.row).collect::<Vec<_>>()),
            Column::new("reason".into(), q.iter().map(|q| q.reason.clone()).collect::<Vec<_>>()),
        ],
    )
}

/// More replies than this per SMS ever sent (and above [`MIN_REPLIES_ALLOWED`]) is not a
/// reply file of ours: the advance stops before reading it into the campaign.
pub const MAX_REPLIES_PER_SMS: usize = 10;
pub const MIN_REPLIES_ALLOWED: usize = 1000;

/// Advances the campaign to `at` with the replies of these files (an implausibly large set
/// stops it unless `accept_many`).
pub fn advance(
    out: &Path,
    at: NaiveDateTime,
    reply_files: &[PathBuf],
    pilots: &[Pilot],
    accept_many: bool,
) -> anyhow::Result<AdvanceSummary> {
    let started = chrono::Utc::now();
    let mut replies = Vec::new();
    let mut quarantine = Vec::new();
    let mut inputs = Vec::new();
    for f in reply_files {
        let r = read_replies(f).with_context(|| "reading replies".to_string())?;
        inputs.push(InputEntry {
            file: f.display().to_string(),
            sha256: io::sha256_file(f)?,
            rows: (r.replies.len() + r.quarantined.len()) as u64,
            left_out: r.quarantined.len() as u64,
        });
        for (row, why) in r.quarantined {
            tracing::warn!("{}: row {row}: {why}; quarantined", f.display());
            quarantine.push(Quarantined { file: f.display().to_string(), row: row as u32, reason: why });
        }
        replies.extend(r.replies);
    }
    let mut campaign = super::load_campaign(out, pilots, at, Step::Advance)?;
    let sent: usize = campaign.cases.values().map(|c| c.sms.len()).sum();
    let plausible = MAX_REPLIES_PER_SMS * sent + MIN_REPLIES_ALLOWED;
    // Replies already recorded by an earlier run do not count: they are not read again.
    let fresh = replies.iter().filter(|r| !campaign.seen_replies.contains(&r.id())).count();
    if fresh > plausible && !accept_many {
        return Err(super::Failed(format!(
            "the reply files hold {fresh} new replies, more than {MAX_REPLIES_PER_SMS} for each of the {sent} SMS \
             sent plus {MIN_REPLIES_ALLOWED} (at most {plausible}); a file this size is not the portal's replies \
             to us. Pass --accept-many-replies if it is"
        ))
        .into());
    }
    let (events, sms, counts) = campaign.advance(&replies, at)?;
    let mut outbox = files::outbox(&campaign, &sms, pilots)?;
    let (mut requests, mut writeback) = files::reissues(&campaign, &events)?;
    let summary = AdvanceCounts {
        as_of: at.to_string(),
        replies: counts,
        quarantined: quarantine.len(),
        second_sms: sms.len(),
        timed_out: events.iter().filter(|e| e.kind == Kind::TimedOut).count(),
        reissue_requests: requests.height(),
    };
    let target = layout::advance_dir(out, at);
    let mut folder = RunFolder::new(&target)?;
    folder.parquet(layout::OUTBOX_PARQUET, &mut outbox)?;
    folder.csv(layout::OUTBOX_CSV, &outbox)?;
    folder.parquet(layout::REQUESTS, &mut requests)?;
    folder.parquet(layout::WRITEBACK, &mut writeback)?;
    folder.parquet(layout::REPLIES_QUARANTINE, &mut quarantine_frame(&quarantine)?)?;
    folder.parquet(layout::REPLIES_UNMATCHED, &mut files::unmatched(&campaign.unmatched_now)?)?;
    folder.json(layout::ADVANCE_SUMMARY, &serde_json::to_value(&summary)?, 1)?;
    super::publish_once(folder, Manifest::new(started, at.to_string(), None, String::new(), inputs))?;
    io::fail_point("advance:before-ledger")?;
    super::record(out, at, Step::Advance, &events)?;
    Ok(AdvanceSummary { counts: summary, folder: target })
}
