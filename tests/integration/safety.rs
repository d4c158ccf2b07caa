//! Nothing lost, nothing published rewritten (issue 16): `--out` folders of another kind,
//! past-dated and corrected runs, empty or truncated registries, the lock, temporaries left
//! by killed runs, and the messages of ordinary mistakes.

use crate::common::*;
use std::path::Path;

fn world(dir: &Path) {
    let o = sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn run(dir: &Path, day: &str, extra: &[&str]) -> std::process::Output {
    sdu(&[&["run", "--snapshot", "w", "--as-of", day, "--out", "out", "--no-report"], extra].concat(), dir)
}

#[test]
fn no_command_deletes_what_it_did_not_create() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    let before = tree(&dir.join("w"));
    // validate into the snapshot itself, or below it
    for out in ["w", "w/report"] {
        let o = sdu(&["validate", "--snapshot", "w", "--out", out], dir);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("inside the snapshot"), "{}", stderr(&o));
    }
    assert_eq!(tree(&dir.join("w")), before, "the snapshot is untouched");
    // synth over a folder of notes, over a file, over an output folder
    std::fs::create_dir(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/notes.txt"), "mine").unwrap();
    std::fs::write(dir.join("F"), "x").unwrap();
    assert!(run(dir, "2026-11-10", &[]).status.success());
    let out_before = tree(&dir.join("out"));
    for target in ["notes", "F", "out"] {
        let o = sdu(&["synth", "--out", target, "--scale", "tiny", "--as-of", "2026-11-23"], dir);
        assert_eq!(o.status.code(), Some(2), "{target}: {}", stderr(&o));
    }
    assert_eq!(std::fs::read_to_string(dir.join("notes/notes.txt")).unwrap(), "mine");
    assert_eq!(std::fs::read_to_string(dir.join("F")).unwrap(), "x");
    assert!(!dir.join(".F.old").exists() && !dir.join(".notes.tmp-1").exists());
    assert_eq!(tree(&dir.join("out")), out_before, "the output folder is untouched");
    // run into a folder holding other data, or a file
    for target in ["notes", "F"] {
        let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", target], dir);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(target), "{}", stderr(&o));
    }
    assert!(stderr(&sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "F"], dir))
        .contains("is a file"));
    // a world is replaced by a world
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir)
        .status
        .success());
}

#[test]
fn a_published_day_is_never_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    assert!(run(dir, "2026-11-10", &[]).status.success());
    assert!(run(dir, "2026-11-13", &[]).status.success());
    let before = tree(&dir.join("out"));
    let manifest = std::fs::read(dir.join("out/2026-11-10/sanitary/manifest.json")).unwrap();
    // an earlier day that never ran: refused by run, candidates and backfill alike
    for args in [
        vec!["run", "--snapshot", "w", "--as-of", "2026-11-07", "--out", "out"],
        vec!["candidates", "--snapshot", "w", "--as-of", "2026-11-07", "--out", "out"],
        vec!["backfill", "--snapshot", "w", "--from", "2026-11-07", "--to", "2026-11-08", "--out", "out"],
    ] {
        let o = sdu(&args, dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("never rewritten"), "{}", stderr(&o));
    }
    // an exact re-run of a used day: nothing changes, not even its manifest
    let o = run(dir, "2026-11-10", &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("out/2026-11-10/sanitary/manifest.json")).unwrap(), manifest);
    assert_eq!(tree(&dir.join("out")), before);
    // a corrected snapshot for a dispatched day: refused, and every command still works
    let people = dir.join("w/individuals.parquet");
    let mut df = polars::prelude::LazyFrame::scan_parquet(
        polars::prelude::PlRefPath::try_from_path(&people).unwrap(),
        Default::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    df = df.slice(0, df.height() - 5);
    sdu::io::write_parquet(&mut df, &people).unwrap();
    let o = run(dir, "2026-11-13", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(tree(&dir.join("out")), before, "nothing rewritten");
    for args in [
        vec!["campaign", "status", "--out", "out"],
        vec!["advance", "--out", "out", "--as-of", "2026-11-14T09:00"],
        vec!["report", "--out", "out", "--as-of", "2026-11-14"],
    ] {
        let o = sdu(&args, dir);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    assert!(run(dir, "2026-11-15", &[]).status.success(), "the correction goes forward");
}

#[test]
fn an_empty_or_truncated_registry_stops_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    assert!(run(dir, "2026-11-10", &[]).status.success());
    let shrink = |file: &str, keep: f64| {
        let path = dir.join("w").join(file);
        let df = polars::prelude::LazyFrame::scan_parquet(
            polars::prelude::PlRefPath::try_from_path(&path).unwrap(),
            Default::default(),
        )
        .unwrap()
        .collect()
        .unwrap();
        let mut df = df.slice(0, (df.height() as f64 * keep) as usize);
        sdu::io::write_parquet(&mut df, &path).unwrap();
    };
    shrink("individuals.parquet", 0.5);
    let o = run(dir, "2026-11-11", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("individuals.parquet") && err.contains("previous run") && err.contains("--accept-drop"),
        "{err}"
    );
    assert!(!dir.join("out/2026-11-11").exists(), "nothing decided");
    shrink("mobile_base.parquet", 0.0);
    let o = sdu(&["dispatch", "--snapshot", "w", "--as-of", "2026-11-11", "--out", "out"], dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("mobile_base.parquet: has no rows"), "{}", stderr(&o));
    let o = run(dir, "2026-11-11", &["--accept-drop"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn ordinary_mistakes_get_clear_messages_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    for args in [
        vec!["advance", "--out", "typo", "--as-of", "2026-11-14T09:00"],
        vec!["report", "--out", "typo", "--as-of", "2026-11-14"],
        vec!["campaign", "status", "--out", "typo"],
        vec!["dispatch", "--snapshot", "w", "--as-of", "2026-11-14", "--out", "typo"],
    ] {
        let o = sdu(&args, dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("is --out right?"), "{}", stderr(&o));
        assert!(!dir.join("typo").exists(), "{args:?} created the folder");
    }
    let o = sdu(
        &["backfill", "--snapshot", "w", "--from", "1900-01-01", "--to", "2200-01-01", "--out", "far"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the pilots' terms") && !dir.join("far").exists(), "{}", stderr(&o));
    let o = sdu(
        &["simulate-portal", "--outbox", "nope.parquet", "--as-of", "2026-11-14", "--out", "r.parquet"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o).matches("nope.parquet").count(), 1, "{}", stderr(&o));
    std::fs::write(dir.join("p.toml"), "schema_version = 1\n[[pilot]]\nid = \"x\"\nseed = 3\n").unwrap();
    let o =
        sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--pilots", "p.toml"], dir);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("p.toml") && err.contains("line 4") && err.contains("seed"), "{err}");
}

#[test]
fn temporaries_of_killed_runs_go_and_bad_cells_are_not_echoed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    assert!(run(dir, "2026-11-10", &[]).status.success());
    let left = dir.join("out/2026-11-10/.sanitary.tmp-999999");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("recipients.csv"), "+77011234567").unwrap();
    std::fs::write(dir.join("out/ledger/offers/.x.parquet.tmp-999999"), "x").unwrap();
    // a reply whose time is a phone number
    use polars::prelude::*;
    let mut replies = df!(
        "message_id" => [None::<&str>],
        "phone" => ["+77011234567"],
        "text" => ["1"],
        "received_at" => ["+77019876543"],
    )
    .unwrap();
    sdu::io::write_parquet(&mut replies, &dir.join("r.parquet")).unwrap();
    let o = sdu(&["advance", "--out", "out", "--as-of", "2026-11-11T09:00", "--replies", "r.parquet"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!left.exists() && !dir.join("out/ledger/offers/.x.parquet.tmp-999999").exists());
    assert!(!stderr(&o).contains("9876543"), "{}", stderr(&o));
    let q = LazyFrame::scan_parquet(
        PlRefPath::try_from_path(&dir.join("out/2026-11-11/advance-0900/replies_quarantine.parquet"))
            .unwrap(),
        Default::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let reason = q.column("reason").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert!(reason.contains("received_at") && !reason.contains("9876543"), "{reason}");
}

/// Every file below `root` with its content, manifests included (the lock aside).
fn everything(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let lock = |p: &std::path::PathBuf| p.file_name().is_some_and(|n| n == ".sdu.lock");
    let rel = |p: &Path| p.strip_prefix(root).unwrap().display().to_string();
    files(root).into_iter().filter(|p| !lock(p)).map(|p| (rel(&p), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn a_published_dispatch_or_advance_is_never_replaced_and_exact_re_runs_touch_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let outbox = "out/2026-11-10/dispatch/sms_outbox.parquet";
    let sim = ["simulate-portal", "--outbox", outbox, "--as-of", "2026-11-12T09:00", "--out", "r.parquet"];
    assert!(sdu(&sim, dir).status.success());
    let advance = ["advance", "--out", "out", "--as-of", "2026-11-12T09:00", "--replies", "r.parquet"];
    assert!(sdu(&advance, dir).status.success());
    let before = everything(&dir.join("out"));
    // the same advance, and the same day's run: nothing is written, manifests included (its
    // report aside: a report as of a past day is regenerated from the ledger as it is now)
    assert!(sdu(&advance, dir).status.success());
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--no-report"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(everything(&dir.join("out")) == before, "an exact re-run rewrote a file");
    // the same advance without the replies would publish other results: refused
    let o = sdu(&["advance", "--out", "out", "--as-of", "2026-11-12T09:00"], dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("never rewritten"), "{}", stderr(&o));
    assert!(everything(&dir.join("out")) == before, "a refused advance wrote something");
    // the simulator does not write over a published outbox, a snapshot's file, or a foreign file
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    for target in [outbox, "w/individuals.parquet", "notes.txt"] {
        let args = ["simulate-portal", "--outbox", outbox, "--as-of", "2026-11-12T09:00", "--out", target];
        let o = sdu(&args, dir);
        assert_eq!(o.status.code(), Some(2), "{target}: {}", stderr(&o));
    }
    assert!(everything(&dir.join("out")) == before);
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
    assert!(sdu(&sim, dir).status.success(), "its own earlier file is replaced");
    // nothing is written inside a snapshot or another command's folder
    for args in [
        vec!["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "w/inner"],
        vec!["synth", "--out", "w/inner", "--scale", "tiny", "--as-of", "2026-11-23"],
        vec!["synth", "--out", "out/inner", "--scale", "tiny", "--as-of", "2026-11-23"],
    ] {
        let o = sdu(&args, dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    assert!(!dir.join("w/inner").exists() && !dir.join("out/inner").exists());
}

#[test]
fn a_flood_of_replies_stops_the_advance_and_unmatched_replies_stay_out_of_the_ledger() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir);
    assert!(run(dir, "2026-11-10", &[]).status.success());
    let n = 1500;
    let phones: Vec<String> = (0..n).map(|i| format!("+7799{i:07}")).collect();
    let times: Vec<String> =
        (0..n).map(|i| format!("2026-11-10T10:{:02}:{:02}", i / 60 % 60, i % 60)).collect();
    let mut flood = df!(
        "message_id" => vec![None::<&str>; n],
        "phone" => phones,
        "text" => vec!["1"; n],
        "received_at" => times,
    )
    .unwrap();
    sdu::io::write_parquet(&mut flood, &dir.join("flood.parquet")).unwrap();
    let advance = |at: &str, extra: &[&str]| {
        let args =
            [&["advance", "--out", "out", "--as-of", at, "--replies", "flood.parquet"], extra].concat();
        sdu(&args, dir)
    };
    let o = advance("2026-11-11T09:00", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1500 new replies") && stderr(&o).contains("--accept-many-replies"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("out/2026-11-11").exists(), "nothing decided");
    let o = advance("2026-11-11T09:00", &["--accept-many-replies"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |p: &str| {
        LazyFrame::scan_parquet(PlRefPath::try_from_path(&dir.join(p)).unwrap(), Default::default())
            .unwrap()
            .collect()
            .unwrap()
    };
    assert_eq!(read("out/2026-11-11/advance-0900/replies_unmatched.parquet").height(), n);
    let ledger = read("out/ledger/campaign/2026-11-11T09-00-00-advance.parquet");
    let unmatched = ledger.lazy().filter(col("kind").eq(lit("reply_unmatched"))).collect().unwrap();
    assert_eq!(unmatched.height(), n);
    assert_eq!(unmatched.column("phone").unwrap().null_count(), n, "no phone in the ledger");
    assert_eq!(unmatched.column("reply_text").unwrap().null_count(), n, "no text in the ledger");
    // The same file again: recorded already (so not a flood any more), stored nowhere twice.
    let o = advance("2026-11-12T09:00", &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(s["replies"]["already_recorded"], n, "{s}");
    assert_eq!(read("out/2026-11-12/advance-0900/replies_unmatched.parquet").height(), 0);
}
