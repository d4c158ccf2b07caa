//! The day's work: a backfill run twice changes nothing, a backfill killed midway and
//! resumed ends as an uninterrupted one, and the lock on the output folder.

use crate::common::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `root` (manifests aside: their run fields differ) with its digest.
/// The paths whose content differs (or that exist on one side only).
fn diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
}

fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "manifest.json") {
                let digest: String =
                    Sha256::digest(std::fs::read(&p).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
                out.insert(p.strip_prefix(root).unwrap().display().to_string(), digest);
            }
        }
    }
    out
}

const BACKFILL: [&str; 10] = [
    "backfill",
    "--snapshot",
    "w",
    "--from",
    "2026-11-01",
    "--to",
    "2026-11-21",
    "--simulate-portal",
    "--out",
    "OUT",
];

fn backfill(dir: &Path, out: &str, env: &[(&str, &str)]) -> std::process::Output {
    let args: Vec<&str> = BACKFILL.iter().map(|a| if *a == "OUT" { out } else { a }).collect();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"));
    cmd.args(&args).current_dir(dir).env("SDU_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn a_backfill_twice_changes_nothing_and_a_killed_one_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir);
    assert!(o.status.success());
    let o = backfill(dir, "a", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = tree(&dir.join("a"));
    assert!(first.keys().any(|k| k.starts_with("ledger/campaign/")), "the campaign ran");
    assert!(first.keys().any(|k| k.starts_with("reports/2026-11-21/")), "the last day has a report");
    let o = backfill(dir, "a", &[]);
    assert!(o.status.success());
    assert_eq!(
        diff(&tree(&dir.join("a")), &first),
        Vec::<String>::new(),
        "a second backfill changes nothing"
    );

    // Killed between a publication and its ledger write, a few days in; then resumed.
    for (point, skip) in
        [("advance:before-ledger", "3"), ("dispatch:before-ledger", "1"), ("candidates:before-ledger", "4")]
    {
        let out = format!("b-{}", point.split(':').next().unwrap());
        let o = backfill(dir, &out, &[("SDU_FAIL_AT", point), ("SDU_FAIL_SKIP", skip)]);
        assert_eq!(o.status.code(), Some(1), "{point}: the injected failure stops the run");
        assert!(String::from_utf8_lossy(&o.stderr).contains("failure injected"));
        let o = backfill(dir, &out, &[]);
        assert!(o.status.success(), "{point}: resumed: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            diff(&tree(&dir.join(&out)), &first),
            Vec::<String>::new(),
            "{point}: resumed = uninterrupted"
        );
    }
}

#[test]
fn the_lock_keeps_a_second_run_out_and_a_stale_one_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir)
        .status
        .success());
    std::fs::create_dir_all(dir.join("out")).unwrap();
    // Held by a live process: this test's own.
    std::fs::write(dir.join("out/.sdu.lock"), format!("{} 2026-11-23T08:00:00Z\n", std::process::id()))
        .unwrap();
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"], dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("another run"), "{}", stderr(&o));
    assert!(dir.join("out/.sdu.lock").exists(), "a live lock is left alone");
    // Left by a process that no longer runs.
    std::fs::write(dir.join("out/.sdu.lock"), "4194303 2026-11-22T08:00:00Z\n").unwrap();
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--json"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(summary["stale_lock_replaced"], "pid 4194303 since 2026-11-22T08:00:00Z");
    assert!(summary["report"]["folder"].as_str().is_some_and(|f| f.ends_with("2026-11-10")), "{summary}");
    assert!(
        summary["dispatch"]["sms"].is_u64() && summary["advance"]["replies"]["received"].is_u64(),
        "{summary}"
    );
    assert!(!dir.join("out/.sdu.lock").exists(), "released at the end");
    // The same day again: every step is done or changes nothing.
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--json"], dir);
    assert!(o.status.success());
}
