//! The output folder's layout: every path and file name under `--out`, and the listings that
//! find published folders and ledger files in it. Writers ([`crate::publish`], the ledgers)
//! and readers (the campaign, the report, a backfill) all ask here, so a name is spelled
//! once.
//!
//! ```text
//! <out>/<date>/<pilot>/            portal tier: candidates of a pilot (organizations, recipients, funnel)
//! <out>/<date>/dispatch/           portal tier: first SMS of the day
//! <out>/<date>/advance-<HHMM>/     portal tier: replies and deadlines up to that time
//! <out>/analysts/<date>/<pilot>/   analysts' tier: pseudonymized outcomes
//! <out>/reports/<date>/            analysts' tier: KPI report
//! <out>/audit/<date>/<pilot>/      audit tier: every event's outcome with its evidence
//! <out>/audit/purges/<date>.json   audit tier: what a retention purge removed
//! <out>/ledger/offers/<pilot>/<date>.parquet                   audit tier: the case ledger
//! <out>/ledger/campaign/<YYYY-MM-DDTHH-MM-SS>-<step>.parquet
//! <out>/simulated-replies/<date>.parquet   (backfill with the portal simulator)
//! <out>/.sdu.lock, <out>/.sdu-out (the folder's lock and marker)
//! ```
//! Days published before the tiers hold their outcomes in the pilot's folder; readers find
//! them there ([`outcomes_file`]).
//! Every published folder holds `manifest.json` and, last, `_SUCCESS`.

use chrono::{NaiveDate, NaiveDateTime};
use std::path::{Path, PathBuf};

/// Marks a published folder complete; written last.
pub const SUCCESS: &str = "_SUCCESS";
pub const MANIFEST: &str = "manifest.json";
/// The Frictionless Data Package describing a published folder's CSV files.
pub const DATA_PACKAGE: &str = "datapackage.json";
pub const LOCK: &str = ".sdu.lock";
/// The case ledger's folder under `--out`.
pub const LEDGER: &str = "ledger";
/// What `sdu synth` writes beside a world's registries (its sizes and planted defects); it
/// also marks the folder as a world.
pub const SYNTH_SUMMARY: &str = "_synth.json";
/// Marks a folder as an sdu output folder (see [`crate::outdir`]).
pub const OUTPUT_MARKER: &str = ".sdu-out";

pub const OUTCOMES: &str = "outcomes.parquet";
pub const FUNNEL: &str = "funnel.json";
pub const OUTBOX_PARQUET: &str = "sms_outbox.parquet";
pub const REQUESTS: &str = "elicense_requests.parquet";
pub const REPLIES_QUARANTINE: &str = "replies_quarantine.parquet";
pub const REPLIES_UNMATCHED: &str = "replies_unmatched.parquet";
pub const REPORTS_UNMATCHED: &str = "reports_unmatched.parquet";
/// Where a backfill with the simulators keeps their files.
pub const SIMULATED_DIR: &str = "simulated-replies";
pub const ADVANCE_SUMMARY: &str = "advance.json";
pub const KPI_JSON: &str = "kpi.json";
pub const REPORT_MD: &str = "report.md";
pub const REPORT_HTML: &str = "report.html";
pub const CHARTS: &str = "charts";

/// Names of the folders `validate` writes (under its own `--out`).
pub mod validation {
    pub const RESULTS_PARQUET: &str = "validation.parquet";
    pub const RESULTS_JSON: &str = "validation.json";
    pub const QUARANTINE: &str = "quarantine";
}

/// The folder of one day's runs.
pub fn day_dir(out: &Path, day: NaiveDate) -> PathBuf {
    out.join(day.to_string())
}

/// The analysts' tier of a pilot's candidates of one day (pseudonymized, without evidence).
pub fn analysts_dir(out: &Path, day: NaiveDate, pilot: &str) -> PathBuf {
    out.join(ANALYSTS).join(day.to_string()).join(pilot)
}

/// The analysts' tier under `--out`.
pub const ANALYSTS: &str = "analysts";
/// The restricted audit tier under `--out`.
pub const AUDIT: &str = "audit";

/// The audit tier of a pilot's candidates of one day (every outcome with its evidence).
pub fn audit_dir(out: &Path, day: NaiveDate, pilot: &str) -> PathBuf {
    out.join(AUDIT).join(day.to_string()).join(pilot)
}

/// What retention purges removed, a record per purge date.
pub fn purge_record(out: &Path, day: NaiveDate) -> PathBuf {
    out.join(AUDIT).join("purges").join(format!("{day}.json"))
}

/// The outcomes of a pilot's published day: in the audit tier, or in the pilot's folder for
/// days published before the tiers. None while neither is complete.
pub fn outcomes_file(out: &Path, day: NaiveDate, pilot: &str) -> Option<PathBuf> {
    let audit = audit_dir(out, day, pilot);
    let legacy = pilot_dir(out, day, pilot);
    [audit, legacy]
        .into_iter()
        .find(|d| is_published(d) && d.join(OUTCOMES).is_file())
        .map(|d| d.join(OUTCOMES))
}

/// A pilot's candidates of one day.
pub fn pilot_dir(out: &Path, day: NaiveDate, pilot: &str) -> PathBuf {
    day_dir(out, day).join(pilot)
}

/// The dispatch of one day.
pub fn dispatch_dir(out: &Path, day: NaiveDate) -> PathBuf {
    day_dir(out, day).join("dispatch")
}

/// An advance to a time.
pub fn advance_dir(out: &Path, at: NaiveDateTime) -> PathBuf {
    day_dir(out, at.date()).join(format!("{ADVANCE_PREFIX}{}", at.format("%H%M")))
}

const ADVANCE_PREFIX: &str = "advance-";

/// The advance folders of a day folder (`advance-<HHMM>`).
pub fn advance_dirs(day: &Path) -> std::io::Result<Vec<PathBuf>> {
    let is_advance =
        |p: &PathBuf| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(ADVANCE_PREFIX));
    Ok(visible_entries(day)?.into_iter().filter(is_advance).collect())
}

/// The reports under `--out`.
pub fn reports_root(out: &Path) -> PathBuf {
    out.join("reports")
}

/// The KPI report of a date.
pub fn report_dir(out: &Path, day: NaiveDate) -> PathBuf {
    reports_root(out).join(day.to_string())
}

/// The simulator's replies given to a backfilled day.
pub fn simulated_replies(out: &Path, day: NaiveDate) -> PathBuf {
    out.join(SIMULATED_DIR).join(format!("{day}.parquet"))
}

/// The simulator's delivery reports given to a backfilled day.
pub fn simulated_delivery(out: &Path, day: NaiveDate) -> PathBuf {
    out.join(SIMULATED_DIR).join(format!("{day}.delivery.parquet"))
}

/// The simulated e-license's answers given to a backfilled day.
pub fn simulated_confirmations(out: &Path, day: NaiveDate) -> PathBuf {
    out.join(SIMULATED_DIR).join(format!("{day}.confirmations.parquet"))
}

/// The lock file of an output folder.
pub fn lock_file(out: &Path) -> PathBuf {
    out.join(LOCK)
}

/// The offers ledger of a pilot.
pub fn offers_dir(out: &Path, pilot: &str) -> PathBuf {
    offers_root(out).join(pilot)
}

/// The folder holding every pilot's offers ledger.
pub fn offers_root(out: &Path) -> PathBuf {
    out.join(LEDGER).join("offers")
}

/// The offers a pilot's run of one date made.
pub fn offers_file(out: &Path, pilot: &str, day: NaiveDate) -> PathBuf {
    offers_dir(out, pilot).join(format!("{day}.parquet"))
}

/// The campaign ledger's folder.
pub fn campaign_dir(out: &Path) -> PathBuf {
    out.join(LEDGER).join("campaign")
}

const STAMP: &str = "%Y-%m-%dT%H-%M-%S";

/// The campaign ledger file of the run of `step` at `at`.
pub fn campaign_file(out: &Path, at: NaiveDateTime, step: &str) -> PathBuf {
    campaign_dir(out).join(format!("{}-{step}.parquet", at.format(STAMP)))
}

/// The time and step a campaign ledger file name stands for.
pub fn parse_campaign_file(path: &Path) -> Option<(NaiveDateTime, String)> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let (stamp, step) = name.strip_suffix(".parquet")?.rsplit_once('-')?;
    Some((NaiveDateTime::parse_from_str(stamp, STAMP).ok()?, step.to_string()))
}

/// Whether a published folder is complete.
pub fn is_published(dir: &Path) -> bool {
    dir.join(SUCCESS).is_file()
}

/// The date a file's name starts with (`<date>.parquet`, `<date>.delivery.parquet`).
pub fn file_date(path: &Path) -> Option<NaiveDate> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()
}

fn date_of(path: &Path) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&path.file_name()?.to_string_lossy(), "%Y-%m-%d").ok()
}

/// The entries of a folder that are not hidden (temporary folders and files start with a
/// dot). A missing folder has none.
pub fn visible_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The day folders under `out`, by date.
pub fn days(out: &Path) -> std::io::Result<Vec<(NaiveDate, PathBuf)>> {
    Ok(visible_entries(out)?.into_iter().filter_map(|p| Some((date_of(&p)?, p))).collect())
}

/// The latest published candidates of each pilot on or before `as_of`: (pilot, date, the
/// day's outcomes file, see [`outcomes_file`]).
pub fn latest_pilot_runs(out: &Path, as_of: NaiveDate) -> std::io::Result<Vec<(String, NaiveDate, PathBuf)>> {
    let mut best: std::collections::BTreeMap<String, (NaiveDate, PathBuf)> = Default::default();
    for (date, day) in days(out)? {
        if date > as_of {
            continue;
        }
        for pilot in visible_entries(&day)? {
            let id = pilot.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if !is_published(&pilot) {
                continue;
            }
            let Some(outcomes) = outcomes_file(out, date, &id) else { continue };
            if best.get(&id).is_none_or(|(d, _)| *d < date) {
                best.insert(id, (date, outcomes));
            }
        }
    }
    Ok(best.into_iter().map(|(k, (d, p))| (k, d, p)).collect())
}

/// Every published `sms_outbox.parquet` of the days in `from..until` (until excluded).
pub fn outboxes_between(out: &Path, from: NaiveDate, until: NaiveDate) -> std::io::Result<Vec<PathBuf>> {
    published_between(out, from, until, OUTBOX_PARQUET)
}

/// Every published `elicense_requests.parquet` of the days in `from..until` (until excluded).
pub fn requests_between(out: &Path, from: NaiveDate, until: NaiveDate) -> std::io::Result<Vec<PathBuf>> {
    published_between(out, from, until, REQUESTS)
}

/// Every published file `name` of a step of the days in `from..until` (until excluded).
fn published_between(
    out: &Path,
    from: NaiveDate,
    until: NaiveDate,
    name: &str,
) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for (date, day) in days(out)? {
        if date >= until || date < from {
            continue;
        }
        for step in visible_entries(&day)? {
            let f = step.join(name);
            if f.is_file() && is_published(&step) {
                found.push(f);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The latest report before `as_of` that has a `kpi.json`: its date and that file.
pub fn previous_report(out: &Path, as_of: NaiveDate) -> std::io::Result<Option<(NaiveDate, PathBuf)>> {
    Ok(days(&reports_root(out))?
        .into_iter()
        .filter(|(d, p)| *d < as_of && p.join(KPI_JSON).is_file())
        .max_by_key(|(d, _)| *d)
        .map(|(d, p)| (d, p.join(KPI_JSON))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaign_file_names_round_trip() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(9, 0, 0).unwrap();
        let f = campaign_file(Path::new("out"), at, "advance");
        assert_eq!(f, Path::new("out/ledger/campaign/2026-11-23T09-00-00-advance.parquet"));
        assert_eq!(parse_campaign_file(&f), Some((at, "advance".to_string())));
        assert_eq!(parse_campaign_file(Path::new("x/notes.txt")), None);
    }

    #[test]
    fn folders_of_a_day() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let out = Path::new("out");
        assert_eq!(pilot_dir(out, d, "sanitary"), Path::new("out/2026-11-23/sanitary"));
        assert_eq!(
            advance_dir(out, d.and_hms_opt(9, 5, 0).unwrap()),
            Path::new("out/2026-11-23/advance-0905")
        );
        assert_eq!(offers_file(out, "ecology", d), Path::new("out/ledger/offers/ecology/2026-11-23.parquet"));
    }
}
