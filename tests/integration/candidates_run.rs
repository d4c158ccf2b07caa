//! `sdu candidates` on generated worlds: conservation, byte-identical re-runs, no case offered
//! twice, atomic publication and clear failures.

use crate::common::*;
use polars::prelude::*;
use std::path::Path;

fn world(dir: &Path) {
    let o = sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "5", "--as-of", "2026-11-23"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn read(path: &Path) -> DataFrame {
    LazyFrame::scan_parquet(PlRefPath::try_from_path(path).unwrap(), Default::default())
        .unwrap()
        .collect()
        .unwrap()
}

fn candidates(dir: &Path, as_of: &str, out: &str) {
    let o = sdu(&["candidates", "--snapshot", "w", "--as-of", as_of, "--out", out], dir);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn every_event_in_scope_gets_exactly_one_outcome() {
    let tmp = tempfile::tempdir().unwrap();
    world(tmp.path());
    candidates(tmp.path(), "2026-11-23", "out");
    let run = tmp.path().join("out/2026-11-23/sanitary");
    assert!(run.join("_SUCCESS").exists());
    // The outcomes, with their evidence, are the audit tier's; the portal's folder has none.
    assert!(!run.join("outcomes.parquet").exists() && !run.join("outcomes.csv").exists());
    let outcomes = read(&tmp.path().join("out/audit/2026-11-23/sanitary/outcomes.parquet"));
    // Independently: renames changed since the pilot's start and recorded by the end of D,
    // from the raw file (the tiny world is dirty, so subtract what validation leaves out).
    let renames = read(&tmp.path().join("w/legal_entity_renames.parquet"));
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 30).unwrap();
    let in_scope = renames
        .lazy()
        .filter(col("changed_on").gt_eq(lit(Scalar::new_date(sdu::synth::frame::days(start)))))
        .collect()
        .unwrap()
        .height();
    let kinds = outcomes.column("event_kind").unwrap().str().unwrap();
    let rename_rows = kinds.iter().filter(|k| *k == Some("rename")).count();
    let funnel_early: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("funnel.json")).unwrap()).unwrap();
    let orphans = funnel_early["renames_of_quarantined_organizations"].as_u64().unwrap() as usize;
    assert_eq!(
        rename_rows + orphans,
        in_scope,
        "every rename in scope has an outcome, or is counted as left out"
    );
    let ids = outcomes.column("event_id").unwrap().n_unique().unwrap();
    assert_eq!(ids, outcomes.height(), "one row per event");
    let allowed: Vec<&str> = sdu::pipeline::outcome::ALL.to_vec();
    for o in outcomes.column("outcome").unwrap().str().unwrap().iter() {
        assert!(allowed.contains(&o.unwrap()));
    }
    let funnel: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("funnel.json")).unwrap()).unwrap();
    let total: u64 = funnel["by_outcome"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total as usize, outcomes.height(), "the funnel adds up");
    let recipients = read(&run.join("recipients.parquet"));
    assert_eq!(recipients.height() as u64, funnel["by_outcome"]["offered"].as_u64().unwrap());
    assert!(recipients
        .column("message_kk")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .all(|m| m.unwrap().contains("1414")));
    // Only in-force pilots publish: ecology ended in 2025, trusted-software in May 2026.
    assert!(!tmp.path().join("out/2026-11-23/ecology").exists());
}

#[test]
fn re_runs_are_byte_identical_and_never_offer_a_case_twice() {
    let tmp = tempfile::tempdir().unwrap();
    world(tmp.path());
    candidates(tmp.path(), "2026-11-20", "a");
    candidates(tmp.path(), "2026-11-20", "b");
    candidates(tmp.path(), "2026-11-20", "b");
    let (a, b) = (tmp.path().join("a/2026-11-20/sanitary"), tmp.path().join("b/2026-11-20/sanitary"));
    for f in
        ["organizations.parquet", "organizations.csv", "recipients.parquet", "recipients.csv", "funnel.json"]
    {
        assert!(std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    let audit = |o: &str| tmp.path().join(o).join("audit/2026-11-20/sanitary/outcomes.parquet");
    assert!(std::fs::read(audit("a")).unwrap() == std::fs::read(audit("b")).unwrap(), "outcomes differ");
    let manifest = |p: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.join("manifest.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("run");
        v
    };
    assert_eq!(manifest(&a), manifest(&b), "manifests differ only in the run fields");

    // The next day: yesterday's cases stay offered but are not in the new recipients list.
    candidates(tmp.path(), "2026-11-23", "a");
    let first = read(&a.join("recipients.parquet"));
    let next = tmp.path().join("a/2026-11-23/sanitary");
    let again = read(&next.join("recipients.parquet"));
    let before: Vec<&str> = first.column("case_id").unwrap().str().unwrap().no_null_iter().collect();
    for case in again.column("case_id").unwrap().str().unwrap().no_null_iter() {
        assert!(!before.contains(&case), "case {case} offered twice");
    }
    let outcomes = read(&tmp.path().join("a/audit/2026-11-23/sanitary/outcomes.parquet"));
    let previously = outcomes.column("previously_offered_on").unwrap().is_not_null().sum().unwrap() as usize;
    assert_eq!(previously, first.height(), "every earlier offer is remembered");
}

#[test]
fn a_broken_snapshot_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    world(tmp.path());
    std::fs::write(tmp.path().join("w/permits.parquet"), b"broken").unwrap();
    let o = sdu(&["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out"], tmp.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("permits.parquet"), "{}", stderr(&o));
    assert!(!tmp.path().join("out/2026-11-23").exists(), "nothing published");
}

#[test]
fn pilots_are_checked_against_the_date() {
    let tmp = tempfile::tempdir().unwrap();
    world(tmp.path());
    let o = sdu(
        &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out", "--pilot", "ecology"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not in force"), "{}", stderr(&o));
    let o = sdu(
        &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out", "--pilot", "nope"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let o = sdu(
        &[
            "candidates",
            "--snapshot",
            "w",
            "--as-of",
            "2026-11-23",
            "--out",
            "out",
            "--pilot",
            "ecology",
            "--allow-expired",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tmp.path().join("out/2026-11-23/ecology/_SUCCESS").exists());
}

#[test]
fn csv_files_open_in_excel_with_kazakh_letters() {
    let tmp = tempfile::tempdir().unwrap();
    world(tmp.path());
    candidates(tmp.path(), "2026-11-23", "out");
    let bytes = std::fs::read(tmp.path().join("out/2026-11-23/sanitary/recipients.csv")).unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("pilot,case_id,event_id,iin,bin,"), "{}", &text[..80]);
    assert!(text.contains("\r\n"), "CRLF line ends");
    assert!(text.contains("Құрметті көрсетілетін қызметті алушы"), "Kazakh letters intact");
    // The SMS text has line breaks and commas: RFC 4180 quotes the field.
    assert!(text.contains("\"Құрметті"), "quoted multi-line field");
}

#[test]
fn explain_shows_evidence_and_masks_everyone_else() {
    let tmp = tempfile::tempdir().unwrap();
    world(tmp.path());
    candidates(tmp.path(), "2026-11-23", "out");
    let outcomes = read(&tmp.path().join("out/audit/2026-11-23/sanitary/outcomes.parquet"));
    let offered = outcomes
        .lazy()
        .filter(col("outcome").eq(lit("offered")).and(col("event_kind").eq(lit("rename"))))
        .collect()
        .unwrap();
    let bin = offered.column("bin").unwrap().str().unwrap().get(0).unwrap().to_string();
    let head = offered.column("iin").unwrap().str().unwrap().get(0).unwrap().to_string();
    let o = sdu(
        &["explain", "--snapshot", "w", "--as-of", "2026-11-23", "--bin", &bin, "--out", "out"],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("still carries the old name") && text.contains("outcome: offered"), "{text}");
    assert!(!text.contains(&head), "the head's IIN is masked when asked by BIN: {text}");
    assert!(text.contains(&sdu::ids::mask(&head)));
    let o = sdu(
        &["explain", "--snapshot", "w", "--as-of", "2026-11-23", "--iin", &head, "--out", "out"],
        tmp.path(),
    );
    assert!(stdout(&o).contains(&head), "the IIN asked is shown: {}", stdout(&o));
    let o = sdu(
        &["explain", "--snapshot", "w", "--as-of", "2026-11-23", "--bin", "123", "--out", "out"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_rename_of_a_quarantined_organization_is_counted_not_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tables = valid_snapshot();
    let le = tables["legal_entities"].clone();
    let doubled = le.vstack(&le.slice(0, 1)).unwrap();
    tables.insert("legal_entities", doubled);
    write_snapshot(&tmp.path().join("w"), &tables);
    let o = sdu(&["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let run = tmp.path().join("out/2026-11-23/sanitary");
    let funnel: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("funnel.json")).unwrap()).unwrap();
    assert_eq!(funnel["renames_of_quarantined_organizations"], 1);
    assert_eq!(funnel["left_out_by_validation"]["legal_entities"], 2);
    let outcomes = read(&tmp.path().join("out/audit/2026-11-23/sanitary/outcomes.parquet"));
    let kinds: Vec<Option<&str>> = outcomes.column("event_kind").unwrap().str().unwrap().iter().collect();
    assert!(!kinds.contains(&Some("rename")), "RN1 is not evaluated: {kinds:?}");
    let o = sdu(
        &["explain", "--snapshot", "w", "--as-of", "2026-11-23", "--bin", ORG_A, "--out", "out"],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("rename RN1 (ЗТ МДҚ)") && text.contains("renames_of_quarantined_organizations"),
        "{text}"
    );
    assert!(!text.contains("no event in scope"), "{text}");
}
