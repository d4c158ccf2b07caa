//! A backfill: each day of a period replayed in order, on one snapshot (the registries' dated
//! histories serve every day; statuses that carry no date, a permit's or a number's, are
//! then as of the snapshot) or on a folder of snapshots by date (each day reads the latest
//! snapshot of that day or before), with the portal's and e-license's real files by day, or
//! the labelled simulators answering. Re-running a backfill, or resuming one that was
//! interrupted, changes nothing that was already done.

use super::advance::PortalFiles;
use super::day::{DaySummary, Runner};
use super::report::ReportSummary;
use super::UsageError;
use crate::config::Pilot;
use crate::layout;
use crate::time::SEND_TIME;
use chrono::{Days, NaiveDate};
use serde::Serialize;

/// What a backfill did.
#[derive(Debug, Clone, Serialize)]
pub struct BackfillSummary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: u64,
    /// The last day's report.
    pub report: Option<ReportSummary>,
}

/// How a backfill runs: the simulator's seed (None: no simulated replies), the folder of the
/// portal's and e-license's files by day (see [`portal_files`]), and whether to show a
/// progress bar.
pub struct Options {
    pub simulate: Option<u64>,
    pub portal: Option<std::path::PathBuf>,
    pub progress: bool,
}

/// The files of one day in a folder of the portal's and e-license's files, as the daily run
/// takes them (docs/operations.md): `sms_replies-<day>.parquet`, `sms_delivery-<day>.parquet`
/// and `reissue_confirmations-<day>.parquet`, each if present (with its sidecar, if any).
pub fn portal_files(dir: &std::path::Path, day: NaiveDate) -> PortalFiles {
    let file = |stem: &str| {
        let f = dir.join(format!("{stem}-{day}.parquet"));
        if !f.is_file() {
            tracing::warn!(
                "{day}: no {} in {}",
                f.file_name().unwrap_or_default().to_string_lossy(),
                dir.display()
            );
        }
        f.is_file().then_some(f).into_iter().collect::<Vec<_>>()
    };
    PortalFiles {
        replies: file("sms_replies"),
        deliveries: file("sms_delivery"),
        confirmations: file("reissue_confirmations"),
    }
}

/// The stems of the files a portal folder holds by day.
const PORTAL_STEMS: [&str; 3] = ["sms_replies", "sms_delivery", "reissue_confirmations"];

/// Checks a portal folder before the replay: files that match no day's name are named in a
/// warning, a sidecar without its file too; a folder with none of the day files is an error.
pub fn check_portal(dir: &std::path::Path, from: NaiveDate, to: NaiveDate) -> anyhow::Result<()> {
    let entries = layout::visible_entries(dir)?;
    let day_file = |name: &str| {
        PORTAL_STEMS.iter().find_map(|stem| {
            let rest = name.strip_prefix(stem)?.strip_prefix('-')?;
            let date = rest.strip_suffix(".parquet").or_else(|| rest.strip_suffix(".manifest.json"))?;
            NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
        })
    };
    let mut in_range = 0;
    for p in &entries {
        let name = p.file_name().unwrap_or_default().to_string_lossy().to_string();
        match day_file(&name) {
            None => tracing::warn!(
                "{}: not a file of the portal by day ({}-YYYY-MM-DD.parquet); left out",
                p.display(),
                PORTAL_STEMS.join("|")
            ),
            Some(d)
                if name.ends_with(".manifest.json")
                    && !p.with_extension("").with_extension("parquet").is_file() =>
            {
                tracing::warn!("{}: a sidecar without its file ({d})", p.display())
            }
            Some(d) if (from..=to).contains(&d) && name.ends_with(".parquet") => in_range += 1,
            Some(_) => {}
        }
    }
    if in_range == 0 {
        return Err(UsageError::Argument(format!(
            "--portal {}: no file of the portal for any day from {from} to {to} (expected {}-YYYY-MM-DD.parquet)",
            dir.display(),
            PORTAL_STEMS.join("|")
        ))
        .into());
    }
    Ok(())
}

/// The snapshots of a backfill: one for every day, or one per date, staged when a day first
/// needs it.
pub enum Snapshots {
    One(Box<Runner>),
    Dated {
        /// (date, folder), in date order.
        dated: Vec<(NaiveDate, std::path::PathBuf)>,
        pilots: Vec<Pilot>,
        out: std::path::PathBuf,
        guard: super::stage::InputGuard,
        current: Option<(NaiveDate, Box<Runner>)>,
        /// The analysts' tier's key, for each day's runner.
        pseudonym: Option<crate::pseudonym::Pseudonymizer>,
        /// The staged store each day's snapshot is staged through.
        store: Option<std::path::PathBuf>,
    },
}

/// The snapshots of a folder of snapshots by date: its sub-folders named `YYYY-MM-DD`, in
/// date order (None when it has none: it is a snapshot itself). Anything else in it is named
/// in a warning (a mistyped date would leave the older snapshot in use without a word).
pub fn dated_snapshots(
    dir: &std::path::Path,
) -> std::io::Result<Option<Vec<(NaiveDate, std::path::PathBuf)>>> {
    let dated: Vec<_> = layout::days(dir)?.into_iter().filter(|(_, p)| p.is_dir()).collect();
    if dated.is_empty() {
        return Ok(None);
    }
    for other in layout::visible_entries(dir)?.into_iter().filter(|p| !dated.iter().any(|(_, d)| d == p)) {
        tracing::warn!("{}: not a snapshot folder named YYYY-MM-DD; left out", other.display());
    }
    if dated.len() == 1 {
        tracing::warn!(
            "{}: one snapshot for every day: permit and МАБ statuses carry no date, so each day sees them as of the snapshot",
            dir.display()
        );
    }
    Ok(Some(dated))
}

impl Snapshots {
    /// The runner of `day`: the latest snapshot dated on or before it.
    pub fn runner(&mut self, day: NaiveDate) -> anyhow::Result<&Runner> {
        match self {
            Snapshots::One(r) => Ok(r),
            Snapshots::Dated { dated, pilots, out, guard, current, pseudonym, store } => {
                let Some((date, dir)) = dated.iter().rev().find(|(d, _)| *d <= day).cloned() else {
                    let first = dated.first().map(|(d, _)| d.to_string()).unwrap_or_default();
                    return Err(UsageError::Argument(format!(
                        "no snapshot dated on or before {day} (the first is {first})"
                    ))
                    .into());
                };
                if current.as_ref().is_none_or(|(d, _)| *d != date) {
                    tracing::info!("{day}: snapshot of {date} ({})", dir.display());
                    let mut snapshot = crate::registry::Snapshot::open(&dir)?;
                    if let Some(store) = store {
                        snapshot = snapshot.with_store(store);
                    }
                    // Compared with the runs before this day: a re-run or a resumed backfill
                    // has later days that read later snapshots.
                    let guard = super::stage::InputGuard { before: Some(day), ..guard.clone() };
                    let staged = super::stage::StagedSnapshot::open(snapshot, true, &guard)?;
                    let mut runner = Runner::new(staged, pilots.clone(), out);
                    runner.pseudonym = pseudonym.clone();
                    *current = Some((date, Box::new(runner)));
                }
                Ok(&current.as_ref().expect("set above").1)
            }
        }
    }
}

/// SMS older than a week belong to cases closed by now (a case times out 6 days after its
/// first SMS), so the simulator answers the outboxes of the week before a day; the day's own
/// SMS (09:00) cannot be answered by 09:00.
const ANSWERED_WITHIN: Days = Days::new(7);

/// e-license answers within three working days (at most five calendar days): the simulated
/// e-license answers the requests of the two weeks before a day.
const CONFIRMED_WITHIN: Days = Days::new(14);

/// A period to replay: `from` ≤ `to`, and within the pilots' terms (from the earliest first
/// day to the latest last day) unless `outside` is allowed.
pub fn check_range(
    pilots: &[Pilot],
    from: NaiveDate,
    to: NaiveDate,
    outside: bool,
) -> Result<(), UsageError> {
    if to < from {
        return Err(UsageError::Argument(format!("--to {to} is before --from {from}")));
    }
    let first = pilots.iter().map(|p| p.in_force_from).min();
    let last = pilots.iter().map(|p| p.in_force_until).max();
    match (first, last) {
        (Some(first), Some(last)) if !outside && (from < first || to > last) => Err(UsageError::Argument(format!(
            "{from} to {to} reaches outside the pilots' terms ({first} to {last}); pass --outside-pilots to replay it anyway"
        ))),
        _ => Ok(()),
    }
}

/// Replays every day from `from` to `to`, the report on the last; `each` sees every day's
/// summary (to print it).
pub fn backfill(
    snapshots: &mut Snapshots,
    from: NaiveDate,
    to: NaiveDate,
    options: &Options,
    mut each: impl FnMut(&DaySummary) -> anyhow::Result<()>,
) -> anyhow::Result<BackfillSummary> {
    let days = (to - from).num_days() as u64 + 1;
    let bar = crate::progress::bar(days, "days");
    if !options.progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut report = None;
    let mut day = from;
    while day <= to {
        let runner = snapshots.runner(day)?;
        let mut replies = options.portal.as_deref().map(|dir| portal_files(dir, day)).unwrap_or_default();
        if let Some(seed) = options.simulate {
            // Every day, even with nothing to answer: the files' watermarks say the day's
            // replies and delivery reports are complete.
            let at = day.and_time(SEND_TIME);
            let boxes = layout::outboxes_between(&runner.out, day - ANSWERED_WITHIN, day)?;
            let (file, delivery) =
                (layout::simulated_replies(&runner.out, day), layout::simulated_delivery(&runner.out, day));
            std::fs::create_dir_all(file.parent().expect("has a parent"))?;
            super::simulate::simulate(&boxes, at, seed, &file, Some(&delivery))?;
            let requests = layout::requests_between(&runner.out, day - CONFIRMED_WITHIN, day)?;
            let confirmations = layout::simulated_confirmations(&runner.out, day);
            super::simulate::simulate_elicense(&requests, at, seed, &confirmations)?;
            replies = PortalFiles {
                replies: vec![file],
                deliveries: vec![delivery],
                confirmations: vec![confirmations],
            };
        }
        let s = runner.day(day, &replies, day == to)?;
        bar.suspend(|| each(&s))?;
        report = s.report.clone().or(report);
        bar.inc(1);
        day = day.succ_opt().expect("date in range");
    }
    bar.finish_and_clear();
    Ok(BackfillSummary { from, to, days, report })
}
