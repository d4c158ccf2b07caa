//! The day's work: a backfill run twice changes nothing, a backfill killed midway and
//! resumed ends as an uninterrupted one, and the lock on the output folder.

use crate::common::*;
use std::path::Path;

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
    // The runs below start with the usual permissive umask (the child inherits it).
    // SAFETY: umask(2) only sets the process's file mode creation mask.
    unsafe { libc::umask(0o022) };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir);
    assert!(o.status.success());
    let o = backfill(dir, "a", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first = tree(&dir.join("a"));
    assert!(first.keys().any(|k| k.starts_with("ledger/campaign/")), "the campaign ran");
    // Least privilege on disk, whatever the umask the run was started with (this test's
    // is usually 022): nothing sdu wrote is readable by others, nothing group-writable.
    {
        use std::os::unix::fs::PermissionsExt;
        let mut open = vec![];
        let mut stack = vec![dir.join("a"), dir.join("w")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                if mode & 0o027 != 0 {
                    open.push(format!("{} {mode:o}", e.path().display()));
                }
                if e.path().is_dir() {
                    stack.push(e.path());
                }
            }
        }
        assert_eq!(open, Vec::<String>::new(), "files or folders open to others");
    }
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

    // The ledger's caches: written once enough files are beyond them, and never trusted
    // blindly: with them broken or deleted, the next days and the report come out the same.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args(["campaign", "status", "--out", "a"])
        .current_dir(dir)
        .env("SDU_COMPACT_AFTER", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(diff(&tree(&dir.join("a")), &first), Vec::<String>::new(), "reading writes only caches");
    let cache = dir.join("a/ledger/campaign/.compact");
    assert!(cache.join("campaign.json").is_file(), "the campaign ledger is compacted");
    assert!(dir.join("a/ledger/offers/sanitary/.compact/offers.json").is_file(), "and the offers");
    let copy = |to: &str| {
        for f in files(&dir.join("a")) {
            let target = dir.join(to).join(f.strip_prefix(dir.join("a")).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(&f, &target).unwrap();
        }
    };
    copy("broken");
    copy("none");
    for f in
        files(&dir.join("broken")).into_iter().filter(|f| f.components().any(|c| c.as_os_str() == ".compact"))
    {
        if f.extension().is_some_and(|e| e == "parquet") {
            // The campaign's: a valid Parquet file of other rows (a ledger file); the
            // offers': truncated.
            if f.components().any(|c| c.as_os_str() == "campaign") {
                let ledger = files(&dir.join("broken/ledger/campaign"))
                    .into_iter()
                    .find(|p| !p.components().any(|c| c.as_os_str() == ".compact"))
                    .unwrap();
                std::fs::copy(ledger, &f).unwrap();
            } else {
                std::fs::write(&f, b"PAR1 truncated").unwrap();
            }
        }
    }
    for f in
        files(&dir.join("none")).into_iter().filter(|f| f.components().any(|c| c.as_os_str() == ".compact"))
    {
        std::fs::remove_file(f).unwrap();
    }
    for out in ["a", "broken", "none"] {
        let o = sdu(
            &[
                "backfill",
                "--snapshot",
                "w",
                "--from",
                "2026-11-22",
                "--to",
                "2026-11-23",
                "--simulate-portal",
                "--out",
                out,
            ],
            dir,
        );
        assert!(o.status.success(), "{out}: {}", stderr(&o));
    }
    let a = tree(&dir.join("a"));
    assert_eq!(diff(&tree(&dir.join("broken")), &a), Vec::<String>::new(), "a broken cache changes nothing");
    assert_eq!(diff(&tree(&dir.join("none")), &a), Vec::<String>::new(), "no cache changes nothing");
}

/// `--group`: the output folder and everything in it belong to the group, readable by it and
/// by no one else, and what a later run writes inherits the group.
#[cfg(unix)]
#[test]
fn a_group_is_granted_the_output_folder_and_keeps_it() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A group this user may give files to: any, as root; otherwise a supplementary group.
    // SAFETY: plain libc queries of the process's ids.
    let (euid, primary) = unsafe { (libc::geteuid(), libc::getegid()) };
    let gid = if euid == 0 {
        65534
    } else {
        let mut groups = vec![0 as libc::gid_t; 64];
        // SAFETY: the buffer holds 64 ids; getgroups writes at most that many.
        let n = unsafe { libc::getgroups(64, groups.as_mut_ptr()) }.max(0) as usize;
        groups[..n].iter().copied().find(|g| *g != primary).unwrap_or(primary)
    };
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3"], dir).status.success());
    // A first run without a group; the second gives the folder, what the first wrote included.
    let first = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-09", "--out", "out", "--no-report"], dir);
    assert!(first.status.success(), "{}", stderr(&first));
    let g = gid.to_string();
    let second =
        sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--group", &g], dir);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-11", "--out", "out"], dir).status.success());
    let mut seen = 0;
    let mut stack = vec![dir.join("out")];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(meta.gid(), gid, "{} belongs to group {}", p.display(), meta.gid());
        assert_eq!(meta.mode() & 0o007, 0, "{} is open to others", p.display());
        if meta.is_dir() {
            assert_ne!(meta.mode() & 0o2000, 0, "{} lacks setgid", p.display());
            stack.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
        seen += 1;
    }
    assert!(seen > 50, "{seen} entries");
    // A link in the folder is not followed: what it points at keeps its group.
    std::fs::write(dir.join("outside"), "not sdu's").unwrap();
    let before = std::fs::metadata(dir.join("outside")).unwrap().gid();
    assert!(sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-09", "--out", "fresh", "--no-report"], dir)
        .status
        .success());
    std::os::unix::fs::symlink(dir.join("outside"), dir.join("fresh/2026-11-09/link")).unwrap();
    let o = sdu(
        &["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "fresh", "--no-report", "--group", &g],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(dir.join("outside")).unwrap().gid(), before, "a link was followed");
    // Under a umask of 077 the group still reads what a run with --group writes.
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077; exec {} run --snapshot w --as-of 2026-11-13 --out out --no-report --group {g}",
            env!("CARGO_BIN_EXE_sdu")
        ))
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let outbox = std::fs::metadata(dir.join("out/2026-11-13/dispatch/sms_outbox.parquet")).unwrap();
    assert_eq!(outbox.mode() & 0o777, 0o640, "group-readable under umask 077");
    // A group id no group has is refused too.
    let o = sdu(
        &["run", "--snapshot", "w", "--as-of", "2026-11-12", "--out", "out", "--group", "4294967295"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = sdu(
        &["run", "--snapshot", "w", "--as-of", "2026-11-12", "--out", "out", "--group", "no-such-group-sdu"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no-such-group-sdu: no such group"), "{}", stderr(&o));
}

/// The analysts' tier: the outcomes without raw identifiers or the criteria's evidence,
/// pseudonyms stable under a key and different under another, the key written nowhere.
#[test]
fn the_analysts_tier_holds_pseudonyms_and_no_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3"], dir).status.success());
    let key = "a-key-of-the-operator-0123456789";
    std::fs::write(dir.join("key"), format!("{key}\n")).unwrap();
    let day = |out: &str, extra: &[&str]| {
        let mut args = vec!["candidates", "--snapshot", "w", "--as-of", "2026-11-10", "--out", out];
        args.extend_from_slice(extra);
        let o = sdu(&args, dir);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    day("a", &["--pseudonym-key", "key"]);
    day("b", &["--pseudonym-key", "key"]);
    day("plain", &[]);
    assert!(!dir.join("plain/analysts").exists(), "no key, no analysts' tier");
    // The key from the environment, and another key.
    let other = |out: &str, k: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"))
            .args(["candidates", "--snapshot", "w", "--as-of", "2026-11-10", "--out", out])
            .env("SDU_PSEUDONYM_KEY", k)
            .env("SDU_LOG", "warn")
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    other("env", key);
    other("c", "another-key-of-the-operator-987654");
    let read = |out: &str| {
        std::fs::read_to_string(dir.join(out).join("analysts/2026-11-10/sanitary/analyst_outcomes.csv"))
            .unwrap()
    };
    let (a, b, env, c) = (read("a"), read("b"), read("env"), read("c"));
    assert_eq!(a, b, "the same key gives the same pseudonyms");
    assert_eq!(a, env, "the key from the file (its line end aside) and from the environment");
    assert_ne!(a, c, "another key gives other pseudonyms");
    let header = a.trim_start_matches('\u{feff}').lines().next().unwrap();
    for evidence in [
        "iin",
        "bin",
        "case_id",
        "event_id",
        "old_name_kk",
        "new_name_ru",
        "permit_ids",
        "head_from_date",
        "recipient_name",
        "death_date",
        "death_act_id",
        "death_act_date",
        "declared_dead_on",
        "missing_declared_on",
        "emigrated_on",
        "incapable_from",
        "imprisoned_from",
    ] {
        assert!(!header.split(',').any(|c| c == evidence), "{evidence} in the analysts' tier: {header}");
    }
    // No raw IIN or case id of the day's outcomes anywhere in the tier.
    let outcomes = std::fs::read_to_string(dir.join("a/audit/2026-11-10/sanitary/outcomes.csv")).unwrap();
    let mut secrets: Vec<&str> = vec![];
    for line in outcomes.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        secrets.extend([cells[1], cells[3], cells[4], cells[5]].into_iter().filter(|v| v.len() >= 10));
    }
    assert!(secrets.len() > 5, "{secrets:?}");
    let tier: Vec<_> = crate::common::files(&dir.join("a/analysts"));
    for f in &tier {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(!text.contains(s), "{s} in {}", f.display());
        }
    }
    // The key is in no file of any output folder.
    for out in ["a", "env", "c"] {
        for f in crate::common::files(&dir.join(out)) {
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert!(!text.contains(key) && !text.contains("another-key"), "the key in {}", f.display());
        }
    }
    // The analysts' rows are the outcomes' rows, and a pilot's folder is still complete.
    assert_eq!(a.lines().count(), outcomes.lines().count());
    // One folder holds one key's pseudonyms: another key for another day is refused.
    std::fs::write(dir.join("key2"), "another-key-of-the-operator-987654").unwrap();
    let o = sdu(
        &["candidates", "--snapshot", "w", "--as-of", "2026-11-11", "--out", "a", "--pseudonym-key", "key2"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("another pseudonym key"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("another-key"), "the key is not shown: {}", stderr(&o));
    // The key given twice is refused.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args([
            "candidates",
            "--snapshot",
            "w",
            "--as-of",
            "2026-11-11",
            "--out",
            "a",
            "--pseudonym-key",
            "key",
        ])
        .env("SDU_PSEUDONYM_KEY", key)
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("given twice"));
    // A day run and dispatched without the key gets its tier when run again with it.
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-12", "--out", "plain", "--no-report"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sdu(
        &[
            "run",
            "--snapshot",
            "w",
            "--as-of",
            "2026-11-12",
            "--out",
            "plain",
            "--no-report",
            "--pseudonym-key",
            "key",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        dir.join("plain/analysts/2026-11-12/sanitary/_SUCCESS").is_file(),
        "the tier of a day that ran without the key"
    );
    // Without the key, an exact re-run of a day with a tier is fine; one that would change
    // its outcomes under the tier is refused, and the tier stays as it was.
    day("a", &[]);
    assert!(sdu(&["synth", "--out", "w4", "--scale", "tiny", "--seed", "4"], dir).status.success());
    let o = sdu(&["candidates", "--snapshot", "w4", "--as-of", "2026-11-10", "--out", "a"], dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("would go stale"), "{}", stderr(&o));
    assert_eq!(read("a"), b, "the tier is unchanged");
    // A short key is a usage error.
    std::fs::write(dir.join("short"), "too-short").unwrap();
    let o = sdu(
        &["candidates", "--snapshot", "w", "--as-of", "2026-11-11", "--out", "a", "--pseudonym-key", "short"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("at least 16"), "{}", stderr(&o));
}

#[test]
fn the_lock_keeps_a_second_run_out_and_a_dead_holder_never_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir)
        .status
        .success());
    std::fs::create_dir_all(dir.join("out")).unwrap();
    // Held by a live process: this test's own flock on the lock file.
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("out/.sdu.lock"))
        .unwrap();
    held.try_lock().unwrap();
    std::fs::write(dir.join("out/.sdu.lock"), "4242 2026-11-23T08:00:00Z\n").unwrap();
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"], dir);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("another run (pid 4242"), "{}", stderr(&o));
    assert!(!dir.join("out/2026-11-10").exists(), "nothing written without the lock");
    drop(held);
    // A lock file left behind by a process that died holds nothing.
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--json"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(summary["report"]["folder"].as_str().is_some_and(|f| f.ends_with("2026-11-10")), "{summary}");
    assert!(
        summary["dispatch"]["sms"].is_u64() && summary["advance"]["replies"]["received"].is_u64(),
        "{summary}"
    );
    // The same day again: every step is done or changes nothing.
    let o = sdu(&["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--json"], dir);
    assert!(o.status.success());
}

/// The documented cron line names the day's reply file; when the portal has not delivered
/// it, the day's candidates and first SMS still go out, the advance waits (deciding without
/// the file could time out a case whose reply is in it), and the run fails so the scheduler
/// says so. The day run again with the file does the advance.
#[test]
fn a_missing_reply_file_defers_only_the_advance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir)
        .status
        .success());
    let day = ["run", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out", "--replies", "r.parquet"];
    let o = sdu(&day, dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("advance: DEFERRED (reply file r.parquet not found)"), "{}", stdout(&o));
    assert!(stderr(&o).contains("candidates and dispatch ran"), "{}", stderr(&o));
    assert!(dir.join("out/2026-11-10/dispatch/_SUCCESS").is_file(), "the first SMS went out");
    assert!(!dir.join("out/2026-11-10/advance-0900").exists(), "no advance without the file");
    // The file arrives (here: no reply yet); the same day again advances.
    let mut none = polars::df!(
        "message_id" => Vec::<Option<&str>>::new(),
        "phone" => Vec::<&str>::new(),
        "received_at" => Vec::<&str>::new(),
        "text" => Vec::<&str>::new(),
    )
    .unwrap();
    sdu::io::write_parquet(&mut none, &dir.join("r.parquet")).unwrap();
    let o = sdu(&day, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("dispatch: already done by an earlier run of this day"), "{}", stdout(&o));
    assert!(dir.join("out/2026-11-10/advance-0900/_SUCCESS").is_file(), "{}", stdout(&o));
}
