//! Steps 12–15 of the campaign (seed 000, §12–§15) up to a time: the portal's replies and
//! the clock decide, resend and time out; accepted cases become re-issue requests. Publishes
//! the advance's folder and records its events in the case ledger.

use crate::campaign::inbox::{complete_until, read_confirmations, read_deliveries, read_replies, InputFile};
use crate::campaign::{
    files, log::Step, CaseCounts, Checks, ConfirmationCounts, DeliveryCounts, EventCheck, Inbox, Kind,
    ReplyCounts,
};
use crate::config::Pilot;
use crate::contract;
use crate::io;
use crate::layout;
use crate::publish::{InputEntry, Manifest, RunFolder};
use crate::time::zoned;
use anyhow::Context;
use chrono::NaiveDateTime;
use polars::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What the portal and e-license sent back: reply files, delivery report files, e-license's
/// answers. Reply and delivery files may state a `complete_until` watermark in a sidecar.
#[derive(Debug, Clone, Default)]
pub struct PortalFiles {
    pub replies: Vec<PathBuf>,
    pub deliveries: Vec<PathBuf>,
    pub confirmations: Vec<PathBuf>,
}

/// How an advance takes the portal's reply files.
#[derive(Debug, Clone, Copy)]
pub struct ReplyOptions {
    /// Take reply files of any size (see [`MAX_REPLIES_PER_SMS`]).
    pub accept_many: bool,
    /// Without a `complete_until` watermark, replies may still arrive for this long after
    /// they were received: windows close, and replies are decided, only up to `now − grace`.
    pub grace: chrono::Duration,
}

/// Hours of [`ReplyOptions::grace`] by default.
pub const DEFAULT_GRACE_HOURS: u32 = 3;

impl Default for ReplyOptions {
    fn default() -> ReplyOptions {
        ReplyOptions { accept_many: false, grace: chrono::Duration::hours(i64::from(DEFAULT_GRACE_HOURS)) }
    }
}

/// `advance.json`: what an advance decided (keys in alphabetical order when written).
#[derive(Debug, Clone, Serialize)]
pub struct AdvanceCounts {
    pub as_of: String,
    /// Replies were decided, and windows closed, up to this time: the reply files'
    /// `complete_until` watermark (at most `as_of`), or `as_of` less the grace without one.
    pub decided_until: String,
    /// The watermark the reply files state, if any.
    pub complete_until: Option<String>,
    /// The watermark the delivery report files state, if any.
    pub deliveries_complete_until: Option<String>,
    pub replies: ReplyCounts,
    pub deliveries: DeliveryCounts,
    pub confirmations: ConfirmationCounts,
    pub cases: CaseCounts,
    /// The candidates each pilot's cases were re-checked against: pilot → day.
    pub rechecked_against: std::collections::BTreeMap<String, String>,
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
        let (n, r, c) = (&self.counts, &self.counts.replies, &self.counts.cases);
        write!(
            f,
            "advanced to {} (decided up to {}{}): {} replies ({} accept, {} decline, {} invalid, {} late, {} unmatched, {} already recorded, {} waiting for a later advance, {} received after the advance time), {} input rows quarantined, {} superseded, {} voided, {} second SMS, {} first SMS from the queue, {} timed out, {} re-issue requests → {}",
            n.as_of,
            n.decided_until,
            // What set the time decided to: the earliest of the inputs' watermarks and the grace.
            if n.complete_until.as_ref() == Some(&n.decided_until) {
                ", the replies' watermark"
            } else if n.deliveries_complete_until.as_ref() == Some(&n.decided_until) {
                ", the delivery reports' watermark"
            } else if n.decided_until == n.as_of {
                ""
            } else {
                ", the grace for inputs without a watermark"
            },
            r.received,
            r.accept,
            r.decline,
            r.invalid,
            r.late,
            r.unmatched,
            r.already_recorded,
            r.waiting,
            r.not_yet_received,
            n.quarantined,
            c.superseded,
            c.voided,
            n.second_sms,
            c.dequeued,
            n.timed_out,
            n.reissue_requests,
            self.folder.display()
        )?;
        let (d, k) = (&n.deliveries, &n.confirmations);
        if d.received > 0 || n.deliveries_complete_until.is_some() {
            write!(
                f,
                "; delivery: {} delivered, {} failed, {} expired, {} sent again to another number, {} undeliverable, {} unknown",
                d.delivered, d.failed, d.expired, d.retried, d.undeliverable, d.unknown
            )?;
        }
        if k.received > 0 {
            write!(f, "; e-license: {} re-issued, {} refused, {} unknown", k.reissued, k.refused, k.unknown)?;
        }
        if n.rechecked_against.is_empty() {
            write!(f, "; no published candidates: open cases were not re-checked")
        } else {
            let against: Vec<String> =
                n.rechecked_against.iter().map(|(p, d)| format!("{p} of {d}")).collect();
            write!(f, "; re-checked against the candidates of {}", against.join(", "))
        }
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

/// The rows of input files of one kind, their quarantined rows and manifest entries, and
/// the latest watermark they state.
struct Read<T> {
    rows: Vec<T>,
    watermark: Option<NaiveDateTime>,
}

fn read_all<T, E>(
    files: &[PathBuf],
    what: &str,
    read: impl Fn(&Path) -> Result<InputFile<T>, E>,
    inputs: &mut Vec<InputEntry>,
    quarantine: &mut Vec<Quarantined>,
) -> anyhow::Result<Read<T>>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut out = Read { rows: vec![], watermark: None };
    for f in files {
        let r = read(f).with_context(|| format!("reading {what}"))?;
        if let Some(w) = complete_until(f)? {
            out.watermark = out.watermark.max(Some(w));
        }
        inputs.push(InputEntry {
            file: f.display().to_string(),
            sha256: io::sha256_file(f)?,
            rows: (r.rows.len() + r.quarantined.len()) as u64,
            left_out: r.quarantined.len() as u64,
        });
        for (row, why) in r.quarantined {
            tracing::warn!("{}: row {row}: {why}; quarantined", f.display());
            quarantine.push(Quarantined { file: f.display().to_string(), row: row as u32, reason: why });
        }
        out.rows.extend(r.rows);
    }
    Ok(out)
}

/// Advances the campaign to `at` with what the portal and e-license sent (an implausibly
/// large set of replies stops it unless `options.accept_many`), deciding up to the
/// watermark of the reply and delivery files (the earlier of the two when both are given)
/// or `at` less the grace.
pub fn advance(
    out: &Path,
    at: NaiveDateTime,
    files: &PortalFiles,
    pilots: &[Pilot],
    options: ReplyOptions,
) -> anyhow::Result<AdvanceSummary> {
    let started = chrono::Utc::now();
    let mut quarantine = Vec::new();
    let mut inputs = Vec::new();
    let Read { rows: replies, watermark } =
        read_all(&files.replies, "replies", read_replies, &mut inputs, &mut quarantine)?;
    let deliveries =
        read_all(&files.deliveries, "delivery reports", read_deliveries, &mut inputs, &mut quarantine)?;
    let confirmations = read_all(
        &files.confirmations,
        "e-license answers",
        read_confirmations,
        &mut inputs,
        &mut quarantine,
    )?;
    let mut campaign = super::load_campaign(out, pilots, at, Step::Advance)?;
    let sent: usize = campaign.cases.values().map(|c| c.sms.len()).sum();
    let plausible = MAX_REPLIES_PER_SMS * sent + MIN_REPLIES_ALLOWED;
    // Replies already recorded by an earlier run do not count: they are not read again.
    let fresh = replies.iter().filter(|r| !campaign.seen_replies.contains(&r.id())).count();
    if fresh > plausible && !options.accept_many {
        return Err(super::Failed(format!(
            "the reply files hold {fresh} new replies, more than {MAX_REPLIES_PER_SMS} for each of the {sent} SMS \
             sent plus {MIN_REPLIES_ALLOWED} (at most {plausible}); a file this size is not the portal's replies \
             to us. Pass --accept-many-replies if it is"
        ))
        .into());
    }
    let covered = |w: Option<NaiveDateTime>, what: &str| {
        let until = w.map_or(at - options.grace, |w| w.min(at));
        if w.is_none() {
            tracing::info!(
                "no complete_until watermark beside the {what} files: deciding up to {until} ({} h of grace)",
                options.grace.num_hours()
            );
        } else if w.is_some_and(|w| w + chrono::Duration::hours(24) < at) {
            tracing::warn!("the {what} files are complete only up to {until}, more than a day before this advance: later windows wait");
        }
        until
    };
    let mut until = covered(watermark, "reply");
    if !files.deliveries.is_empty() {
        until = until.min(covered(deliveries.watermark, "delivery report"));
    }
    // The candidates of every day since the previous advance, for the send times decided now.
    let since = previous_decided_until(out, at)?;
    // The days of the send times to decide (after the previous advance's), and today.
    let first = since
        .map_or(at.date(), |s| crate::campaign::next_send_slot(s + chrono::Duration::seconds(1)).date())
        .min(at.date());
    let mut clock = crate::campaign::Clock { now: at, until, since, checks: Default::default() };
    let mut check_files = std::collections::BTreeMap::new();
    let mut day = first;
    while day <= at.date() {
        let (checks, files) = load_checks(out, day, pilots)?;
        for f in files {
            check_files.insert(f.file.clone(), f);
        }
        clock.checks.insert(day, checks);
        day = day.succ_opt().expect("date in range");
    }
    inputs.extend(check_files.into_values());
    let inbox = Inbox { replies: &replies, deliveries: &deliveries.rows, confirmations: &confirmations.rows };
    let done = campaign.advance_with(inbox, &clock)?;
    let late: Vec<&crate::campaign::Sms> =
        done.outbox.iter().filter(|s| s.sent_at + chrono::Duration::hours(1) < at).collect();
    if let Some(first) = late.iter().map(|s| s.sent_at).min() {
        tracing::warn!(
            "{} SMS were due before this advance (the earliest at {first}): they go out late, their windows counted from when they were due",
            late.len()
        );
    }
    if done.unpublished > 0 {
        tracing::warn!(
            "{} SMS whose reply windows closed before this advance are not published (the ledger marks them {})",
            done.unpublished,
            crate::campaign::closed::WINDOW_OVER
        );
    }
    let (events, sms) = (&done.events, &done.outbox);
    let mut outbox = files::outbox(&campaign, sms, pilots)?;
    let mut requests = files::requests(&campaign, events)?;
    let mut writeback = files::writeback(&campaign, events)?;
    let summary = AdvanceCounts {
        as_of: zoned(at),
        decided_until: zoned(until),
        complete_until: watermark.map(zoned),
        deliveries_complete_until: deliveries.watermark.map(zoned),
        replies: done.replies.clone(),
        deliveries: done.deliveries.clone(),
        confirmations: done.confirmations.clone(),
        cases: done.cases.clone(),
        rechecked_against: clock
            .on(at.date())
            .pilots
            .iter()
            .map(|(p, (d, _))| (p.clone(), d.to_string()))
            .collect(),
        quarantined: quarantine.len(),
        // Not counting an SMS sent again to another number (its own message id).
        second_sms: sms
            .iter()
            .filter(|s| s.send_no == 2 && s.message_id == crate::campaign::message_id(&s.case_id, 2))
            .count(),
        timed_out: events.iter().filter(|e| e.kind == Kind::TimedOut).count(),
        reissue_requests: requests.height(),
    };
    let target = layout::advance_dir(out, at);
    let mut folder = RunFolder::new(&target)?;
    folder.table(&contract::SMS_OUTBOX, &mut outbox)?;
    folder.table(&contract::ELICENSE_REQUESTS, &mut requests)?;
    folder.table(&contract::SDU_WRITEBACK, &mut writeback)?;
    folder.table(&contract::REPLIES_QUARANTINE, &mut quarantine_frame(&quarantine)?)?;
    folder.table(&contract::REPLIES_UNMATCHED, &mut files::unmatched(&campaign.unmatched_now)?)?;
    folder.table(&contract::REPORTS_UNMATCHED, &mut files::unknown_reports(&campaign.unknown_now)?)?;
    folder.json(layout::ADVANCE_SUMMARY, &serde_json::to_value(&summary)?, 1)?;
    super::publish_once(folder, Manifest::new(started, zoned(at), None, String::new(), inputs))?;
    io::fail_point("advance:before-ledger")?;
    super::record(out, at, Step::Advance, events)?;
    Ok(AdvanceSummary { counts: summary, folder: target })
}

/// The re-check's evidence: each pilot's latest published candidates on or before `day`
/// (what their outcomes say about every event), and those files as inputs of the run.
pub fn load_checks(
    out: &Path,
    day: chrono::NaiveDate,
    pilots: &[Pilot],
) -> anyhow::Result<(Checks, Vec<InputEntry>)> {
    use crate::pipeline::columns as c;
    let mut checks = Checks::default();
    let mut inputs = Vec::new();
    let latest = layout::latest_pilot_runs(out, day)?;
    // A later day's folder of a pilot that is not a complete publication would make the
    // re-check fall back to an older day without a word: refuse it.
    for (date, _) in layout::days(out)?.into_iter().filter(|(d, _)| *d <= day) {
        for pilot in pilots {
            let folder = layout::pilot_dir(out, date, &pilot.id);
            let used = latest.iter().find(|(p, _, _)| *p == pilot.id).map(|(_, d, _)| *d);
            if folder.exists() && used.is_none_or(|u| date > u) {
                let fallback = used.map_or("no candidates at all".to_string(), |u| format!("those of {u}"));
                return Err(super::Failed(format!(
                    "{}: the candidates of {date} for {} are incomplete (no {} or no {}); the re-check \
                     would fall back to {fallback}. Run `sdu candidates --as-of {date}` for that day again",
                    folder.display(),
                    pilot.id,
                    layout::OUTCOMES,
                    layout::SUCCESS
                ))
                .into());
            }
        }
    }
    for (pilot, date, path) in latest {
        if date < day {
            tracing::debug!(
                "{pilot}: re-checking cases against the candidates of {date}, the latest before {day}"
            );
        }
        let read = || -> PolarsResult<DataFrame> {
            LazyFrame::scan_parquet(PlRefPath::try_from_path(&path)?, ScanArgsParquet::default())?
                .select([col(c::EVENT_ID), col(c::OUTCOME), col(c::CASE_ID), col(c::IIN), col(c::PERMIT_IDS)])
                .collect()
        };
        let df = read()
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{}: reading the outcomes to re-check cases", path.display()))?;
        let s = |name: &str| df.column(name).and_then(|c| c.str().cloned());
        let (event, outcome, case, iin) = (s(c::EVENT_ID)?, s(c::OUTCOME)?, s(c::CASE_ID)?, s(c::IIN)?);
        let permits = df.column(c::PERMIT_IDS)?.list()?.clone();
        let mut events = std::collections::HashMap::new();
        for i in 0..df.height() {
            let Some(e) = event.get(i) else { continue };
            let permit_ids = match permits.get_as_series(i) {
                Some(p) => p.str()?.iter().flatten().map(String::from).collect(),
                None => vec![],
            };
            events.insert(
                e.to_string(),
                EventCheck {
                    outcome: outcome.get(i).unwrap_or_default().to_string(),
                    case_id: case.get(i).map(String::from),
                    iin: iin.get(i).map(String::from),
                    permit_ids,
                },
            );
        }
        inputs.push(InputEntry {
            file: path.display().to_string(),
            sha256: io::sha256_file(&path)?,
            rows: df.height() as u64,
            left_out: 0,
        });
        checks.pilots.insert(pilot, (date, events));
    }
    Ok((checks, inputs))
}

/// What the next advance reads of an `advance.json`.
#[derive(serde::Deserialize)]
struct Decided {
    as_of: String,
    /// Absent in an advance published before it was kept: then `as_of`.
    #[serde(default)]
    decided_until: Option<String>,
}

/// How far the previous advance decided: the `decided_until` of the latest published
/// `advance.json` before `at`. Send times after it are decided now. Every advance publishes
/// its folder, even one that changed nothing, so this is the run before, not the last that
/// recorded events.
pub fn previous_decided_until(out: &Path, at: NaiveDateTime) -> anyhow::Result<Option<NaiveDateTime>> {
    let mut days = layout::days(out)?;
    days.retain(|(d, _)| *d <= at.date());
    for (_, day) in days.iter().rev() {
        let mut best: Option<(NaiveDateTime, NaiveDateTime)> = None;
        for folder in layout::advance_dirs(day)? {
            let Some(d) = std::fs::read(folder.join(layout::ADVANCE_SUMMARY))
                .ok()
                .and_then(|b| serde_json::from_slice::<Decided>(&b).ok())
            else {
                continue;
            };
            let Some(as_of) = crate::time::parse_instant(&d.as_of).filter(|t| *t < at) else { continue };
            let decided = d.decided_until.as_deref().and_then(crate::time::parse_instant).unwrap_or(as_of);
            if best.is_none_or(|(a, _)| as_of > a) {
                best = Some((as_of, decided));
            }
        }
        if let Some((_, decided)) = best {
            return Ok(Some(decided));
        }
    }
    Ok(None)
}
