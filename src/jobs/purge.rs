//! Retention (`sdu purge`): the personal data a closed case no longer needs (law 94-V: kept no
//! longer than its purpose needs) go from everything `sdu` wrote; what the KPIs count stays.
//!
//! A case closed (decided, timed out, undeliverable, superseded, voided, or accepted with its
//! request out) more than its pilot's `retention_days` before the purge date loses its phones
//! (the case ledger, the SMS outboxes), its recipient's name (the recipients list, the
//! outcomes) and its reply texts (the ledger). Rows of no case lose theirs by their own date:
//! replies that matched nothing, the names in outcomes of excluded events, the simulators'
//! files. Everything else stays (IINs, case ids, states, times, outcome codes and reasons), so
//! the report reproduces. Published folders are purged once a later campaign run used their
//! day (before the cutoff horizon), since only such days are never published again. Each folder is rewritten whole and swapped in one step, its
//! manifest and data package with the new files' hashes and `purged_on`; ledger files are
//! replaced one by one, atomically; the ledger's cache is removed; a record of the purge is
//! appended to `<out>/audit/purges/<date>.json`. Killed midway, a purge leaves every file
//! either as before or as after; run again, it finishes. Purging twice changes nothing.

use crate::campaign::Campaign;
use crate::config::Pilot;
use crate::contract::{self, Table};
use crate::io;
use crate::layout;
use crate::pipeline::columns as c;
use crate::publish::read_manifest;
use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What a purge removes, and as of when.
pub struct Purge<'a> {
    pub out: &'a Path,
    /// The purge date: cases closed more than their retention before its start go.
    pub as_of: NaiveDate,
    /// Days to keep instead of each pilot's `retention_days`.
    pub days: Option<u32>,
    pub pilots: &'a [Pilot],
}

/// What a purge did.
#[derive(Debug, Default, Serialize)]
pub struct PurgeSummary {
    pub as_of: NaiveDate,
    /// The cutoff of each pilot: cases closed before it are purged.
    pub closed_before: BTreeMap<String, String>,
    /// Rows of no case dated before this lose their personal data.
    pub uncased_before: String,
    /// Closed cases past their retention (purged now or by an earlier purge).
    pub cases: usize,
    /// Rows whose personal data this purge removed, by file kind.
    pub rows: BTreeMap<String, u64>,
    /// Files and folders rewritten, under --out.
    pub rewritten: Vec<String>,
    /// The purge's record (none when nothing was left to remove).
    pub record: Option<PathBuf>,
}

/// The rules of one purge: which cases, and the cutoff of rows without a case.
struct Rules {
    cases: HashSet<String>,
    /// Every case the ledger holds: an outcome row of another case id was never a case
    /// (an excluded event's id) and goes by its date.
    known: HashSet<String>,
    uncased_before: NaiveDateTime,
}

/// Runs a purge under the output folder's lock (the caller holds it).
pub fn purge(job: &Purge, campaign: &Campaign) -> anyhow::Result<PurgeSummary> {
    let last_run = crate::campaign::log::last_run(job.out)?.map(|(at, _)| at);
    // A case is purged only when closed more than a day before the ledger's last run: a
    // question it held back on its phone has moved on by then, so the ledger replays the same.
    let horizon = last_run.map(|t| t - chrono::Duration::days(1));
    let cutoff = |days: u32| {
        let start = job.as_of.checked_sub_days(chrono::Days::new(u64::from(days))).unwrap_or(NaiveDate::MIN);
        let c = start.and_hms_opt(0, 0, 0).expect("midnight");
        horizon.map_or(c, |h| c.min(h))
    };
    let retention = |pilot: &str| {
        job.days.unwrap_or_else(|| {
            job.pilots
                .iter()
                .find(|p| p.id == pilot)
                .map_or(crate::config::DEFAULT_RETENTION_DAYS, |p| p.retention_days)
        })
    };
    let mut summary = PurgeSummary { as_of: job.as_of, ..Default::default() };
    for p in job.pilots {
        summary.closed_before.insert(p.id.clone(), crate::time::zoned(cutoff(retention(&p.id))));
    }
    let mut cases = HashSet::new();
    for case in campaign.cases.values() {
        if case.pending() {
            continue;
        }
        let closed = case
            .history
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or_else(|| case.offer.offered_on.and_hms_opt(0, 0, 0).expect("midnight"));
        if closed < cutoff(retention(&case.offer.pilot)) {
            cases.insert(case.offer.case_id.clone());
        }
    }
    // Rows of no case keep their data as long as the longest retention.
    let longest = job.days.unwrap_or_else(|| {
        job.pilots.iter().map(|p| p.retention_days).max().unwrap_or(crate::config::DEFAULT_RETENTION_DAYS)
    });
    let known = campaign.cases.keys().cloned().collect();
    let rules = Rules { cases, known, uncased_before: cutoff(longest) };
    summary.cases = rules.cases.len();
    summary.uncased_before = crate::time::zoned(rules.uncased_before);
    // Recorded before anything changes: a purge killed midway leaves its `started` entry
    // without a `finished` one, and the run that completes it says what it cleared.
    append_record(job, &summary, "started")?;

    let ledger = layout::campaign_dir(job.out);
    crate::compact::remove(&ledger);
    let count = |kind: &str, n: u64, path: &Path, summary: &mut PurgeSummary| {
        if n > 0 {
            *summary.rows.entry(kind.to_string()).or_default() += n;
            let shown = path.strip_prefix(job.out).unwrap_or(path).display().to_string();
            summary.rewritten.push(shown);
        }
    };
    for path in layout::visible_entries(&ledger)? {
        count("ledger", purge_file(&path, &CAMPAIGN_LEDGER, &rules)?, &path, &mut summary);
    }
    for pilot in layout::visible_entries(&layout::offers_root(job.out))? {
        crate::compact::remove(&pilot);
        for path in layout::visible_entries(&pilot)? {
            count("offers", purge_file(&path, &OFFERS_LEDGER, &rules)?, &path, &mut summary);
        }
        crate::compact::remove(&pilot);
    }
    let mut folders = Vec::new();
    for (date, day) in layout::days(job.out)? {
        folders.extend(layout::visible_entries(&day)?.into_iter().map(|f| (date, f)));
    }
    for (date, day) in layout::days(&job.out.join(layout::AUDIT))? {
        folders.extend(layout::visible_entries(&day)?.into_iter().map(|f| (date, f)));
    }
    // Only days a later campaign run used, which are never published again: a day after it
    // may still be re-run, and would be published from the registries as it was.
    let used = horizon.map(|h| h.date());
    for (date, folder) in folders.into_iter().filter(|(d, _)| used.is_some_and(|u| *d < u)) {
        for (kind, n) in purge_folder(&folder, date, &rules, job.as_of)? {
            count(&kind, n, &folder, &mut summary);
        }
    }
    let simulated = layout::visible_entries(&job.out.join(layout::SIMULATED_DIR))?;
    for path in simulated.into_iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")) {
        count("simulated", purge_file(&path, &SIMULATED, &rules)?, &path, &mut summary);
    }
    crate::compact::remove(&ledger);
    summary.rewritten.dedup();
    summary.record = Some(append_record(job, &summary, "finished")?);
    Ok(summary)
}

/// Where a table holds personal data, and whose.
struct Personal {
    /// Cleared on the rows of purged cases (and of no case, by `time`).
    columns: &'static [&'static str],
    /// Cleared too where `.0` (the organization's BIN) is null: the holder is a person and
    /// these are their names (an individual's own change of name).
    holder: Option<(&'static str, &'static [&'static str])>,
    /// The time of a row of no case: this column's, or else the day of its folder.
    time: Option<&'static str>,
}

const NAMES: &[&str] = &[c::OLD_NAME_KK, c::OLD_NAME_RU, c::NEW_NAME_KK, c::NEW_NAME_RU];

const CAMPAIGN_LEDGER: Personal =
    Personal { columns: &["phone", "next_phones", "reply_text"], holder: None, time: Some("at") };
const OFFERS_LEDGER: Personal = Personal { columns: &[], holder: Some((c::BIN, NAMES)), time: None };
const SIMULATED: Personal = Personal { columns: &["phone", "text"], holder: None, time: Some("received_at") };

/// The personal columns of a published table.
fn personal(table: &Table) -> Option<Personal> {
    let name = table.name;
    let with = |columns, holder, time| Some(Personal { columns, holder, time });
    if name == contract::RECIPIENTS.name || name == contract::OUTCOMES.name {
        with(&["recipient_name"], Some((c::BIN, NAMES)), None)
    } else if name == contract::SMS_OUTBOX.name {
        with(&["phone"], None, Some("sent_at"))
    } else if name == contract::REPLIES_UNMATCHED.name {
        with(&["phone", "text"], None, Some("received_at"))
    } else if name == contract::ELICENSE_REQUESTS.name {
        with(&[], Some(("holder_bin", NAMES)), None)
    } else if name == contract::SDU_WRITEBACK.name {
        with(&[], Some(("holder_bin", &["holder_name_kk", "holder_name_ru"])), None)
    } else {
        None
    }
}

/// Sets `columns` to null on the rows of `mask` that hold any of them; how many rows changed.
fn clear(df: &mut DataFrame, mask: &BooleanChunked, columns: &[&str]) -> PolarsResult<u64> {
    let present: Vec<&str> = columns.iter().copied().filter(|n| df.column(n).is_ok()).collect();
    let mut holding = BooleanChunked::full("holding".into(), false, df.height());
    for name in &present {
        holding = &holding | &df.column(name)?.is_not_null();
    }
    let hit = mask & &holding;
    let n = hit.sum().unwrap_or(0) as u64;
    if n == 0 {
        return Ok(0);
    }
    let keep = !&hit;
    for name in present {
        let col = df.column(name)?.as_materialized_series().clone();
        let nulls = Series::full_null(name.into(), df.height(), col.dtype());
        df.with_column(col.zip_with(&keep, &nulls)?.into_column())?;
    }
    Ok(n)
}

/// Clears a frame's personal data (`day`: its folder's, the time of rows without one):
/// rows of the purged cases, or of no case and before the cutoff. Rows changed.
fn clear_personal(
    df: &mut DataFrame,
    p: &Personal,
    rules: &Rules,
    day: Option<NaiveDate>,
) -> anyhow::Result<u64> {
    let at = match p.time {
        Some(name) if df.column(name).is_ok() => crate::frames::wall_clock_times(df.column(name)?)?,
        _ => vec![day.and_then(|d| d.and_hms_opt(0, 0, 0)); df.height()],
    };
    let old = |t: &Option<NaiveDateTime>| t.is_some_and(|t| t < rules.uncased_before);
    let mask: BooleanChunked = match df.column(c::CASE_ID) {
        Ok(case) => case
            .str()?
            .iter()
            .zip(&at)
            .map(|(case, at)| match case {
                Some(id) if rules.known.contains(id) => rules.cases.contains(id),
                _ => old(at),
            })
            .collect(),
        Err(_) => at.iter().map(old).collect(),
    };
    let mut n = clear(df, &mask, p.columns)?;
    if let Some((bin, names)) = p.holder {
        if let Ok(bin) = df.column(bin) {
            let person = &mask & &bin.is_null();
            n += clear(df, &person, names)?;
        }
    }
    Ok(n)
}

/// Purges a file that is not a published folder's (a ledger's, a simulator's), replaced
/// atomically when a row changed.
fn purge_file(path: &Path, p: &Personal, rules: &Rules) -> anyhow::Result<u64> {
    let mut df = io::read_parquet(path)?;
    let n = clear_personal(&mut df, p, rules, crate::layout::file_date(path))?;
    if n > 0 {
        io::write_parquet_atomic(&mut df, path)?;
    }
    Ok(n)
}

/// Purges a published folder's tables; the folder is rewritten and swapped in only when a
/// row changed. Rows changed, by table.
fn purge_folder(
    folder: &Path,
    date: NaiveDate,
    rules: &Rules,
    as_of: NaiveDate,
) -> anyhow::Result<Vec<(String, u64)>> {
    let Some(manifest) = read_manifest(folder) else { return Ok(vec![]) };
    let listed = |f: &str| manifest.outputs.iter().any(|o| o.file == f);
    let mut frames = Vec::new();
    let mut changed = Vec::new();
    for t in contract::TABLES.iter().copied().filter(|t| listed(&t.parquet()) && listed(&t.csv())) {
        let mut df = io::read_parquet(&folder.join(t.parquet()))?;
        if let Some(p) = personal(t) {
            let n = clear_personal(&mut df, &p, rules, Some(date))?;
            if n > 0 {
                changed.push((t.name.to_string(), n));
            }
        }
        frames.push((t, df));
    }
    if !changed.is_empty() {
        let manifest = crate::publish::Manifest { purged_on: Some(as_of.to_string()), ..manifest };
        crate::publish::rewrite(folder, frames, manifest)?;
    }
    Ok(changed)
}

/// Appends the purge to the date's record (`<out>/audit/purges/<date>.json`, a list): its
/// `started` entry, then its `finished` one.
fn append_record(job: &Purge, summary: &PurgeSummary, state: &str) -> anyhow::Result<PathBuf> {
    let path = layout::purge_record(job.out, job.as_of);
    let mut runs: Vec<serde_json::Value> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a purge record ({e}); nothing appended", path.display()))?,
        Err(_) => vec![],
    };
    let mut entry = serde_json::to_value(summary)?;
    entry["ran_at"] = crate::time::zoned_utc(chrono::Utc::now()).into();
    entry["state"] = state.into();
    entry.as_object_mut().map(|o| o.remove("record"));
    runs.push(entry);
    io::write_json_atomic(&runs, &path)?;
    Ok(path)
}
