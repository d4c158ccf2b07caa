//! The staged snapshot store: a snapshot is validated once per content and every command
//! reads what it kept; a changed file stages its registry again, a copied snapshot does not;
//! an entry that is corrupt, or left half-written by a killed run, is never trusted; and the
//! outputs are the same whether the store was staged beforehand or by the run itself.

use crate::common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Damage done to an entry's folder.
type Harm = Box<dyn Fn(&Path)>;

fn world(dir: &Path, name: &str) {
    let o = sdu(&["synth", "--out", name, "--scale", "tiny", "--seed", "5", "--as-of", "2026-11-23"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn run(dir: &Path, args: &[&str]) -> String {
    let o = sdu(args, dir);
    assert!(o.status.success(), "sdu {args:?}: {}{}", stdout(&o), stderr(&o));
    stderr(&o)
}

fn candidates(dir: &Path, snapshot: &str, out: &str, extra: &[&str]) -> String {
    let mut args = vec!["candidates", "--snapshot", snapshot, "--as-of", "2026-11-23", "--out", out];
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// Each registry's entries in a store: registry → (entry folder, inode of its rows).
fn entries(store: &Path) -> BTreeMap<String, Vec<(String, u64)>> {
    listing(store, "left_out.parquet", |name| name != "slices")
}

/// Each registry's slices in a store: registry → (slice folder, inode of its rows).
fn slices(store: &Path) -> BTreeMap<String, Vec<(String, u64)>> {
    listing(&store.join("slices"), "rows.parquet", |_| true)
}

fn listing(root: &Path, file: &str, keep: impl Fn(&str) -> bool) -> BTreeMap<String, Vec<(String, u64)>> {
    let mut found = BTreeMap::new();
    let folders = std::fs::read_dir(root).into_iter().flatten().flatten();
    for t in folders.filter(|e| e.path().is_dir() && keep(&e.file_name().to_string_lossy())) {
        let mut list: Vec<(String, u64)> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| {
                let ino = std::fs::metadata(e.path().join(file)).map(|m| m.ino()).unwrap_or(0);
                (e.file_name().to_string_lossy().into_owned(), ino)
            })
            .collect();
        list.sort();
        found.insert(t.file_name().to_string_lossy().into_owned(), list);
    }
    found
}

fn entry_dir(store: &Path, table: &str) -> PathBuf {
    let list = &entries(store)[table];
    assert_eq!(list.len(), 1, "{table}: {list:?}");
    store.join(table).join(&list[0].0)
}

/// Rewrites a registry file with its rows in another order: the same rows, other bytes.
fn reorder(file: &Path) {
    let mut df = sdu::io::read_parquet(file).unwrap();
    df = df.reverse();
    sdu::io::write_parquet(&mut df, file).unwrap();
}

#[test]
fn a_snapshot_is_staged_once_and_a_changed_file_stages_its_registry_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir, "w");
    candidates(dir, "w", "out", &[]);
    let store = dir.join("out/staged");
    let first = entries(&store);
    let read: Vec<&str> = sdu::registry::TABLES
        .iter()
        .map(|t| t.name)
        .filter(|n| *n != sdu::registry::mobile_base::SPEC.name)
        .collect();
    assert_eq!(first.keys().map(String::as_str).collect::<Vec<_>>().len(), read.len(), "{first:?}");
    for t in &read {
        assert_eq!(first[*t].len(), 1, "{t}: one entry");
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry_dir(&store, t).join("entry.json")).unwrap()).unwrap();
        assert_eq!(meta["table"], *t);
        assert_eq!(
            meta["input"]["bytes"],
            std::fs::metadata(dir.join(format!("w/{t}.parquet"))).unwrap().len()
        );
    }
    // The same snapshot again (the day re-run, explain): nothing is staged again.
    candidates(dir, "w", "out", &[]);
    let renames = sdu::io::read_parquet(&dir.join("w/legal_entity_renames.parquet")).unwrap();
    let bin = renames.column("bin").unwrap().str().unwrap().get(0).unwrap().to_string();
    run(dir, &["explain", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out", "--bin", &bin]);
    assert_eq!(entries(&store), first, "the same snapshot reuses every entry");

    // A copy elsewhere, with new times: the same content, the same entries.
    std::fs::create_dir(dir.join("copy")).unwrap();
    for f in std::fs::read_dir(dir.join("w")).unwrap().flatten() {
        std::fs::copy(f.path(), dir.join("copy").join(f.file_name())).unwrap();
    }
    candidates(dir, "copy", "out", &[]);
    assert_eq!(entries(&store), first, "keyed by content, not by path or time");

    // civil_acts changes (no reference rule reads it): only civil_acts is staged again.
    reorder(&dir.join("copy/civil_acts.parquet"));
    candidates(dir, "copy", "out", &[]);
    let second = entries(&store);
    for t in &read {
        if *t == "civil_acts" {
            assert_eq!(second[*t].len(), 2, "a new entry beside the old one");
        } else {
            assert_eq!(second[*t], first[*t], "{t} is not staged again");
        }
    }
    // individuals changes: it and the registries whose reference rules read its keys.
    reorder(&dir.join("copy/individuals.parquet"));
    candidates(dir, "copy", "out", &[]);
    let third = entries(&store);
    for t in &read {
        let again = ["individuals", "legal_entity_heads", "permits", "civil_acts"].contains(t);
        assert_eq!(third[*t].len() > second[*t].len(), again, "{t}: {:?} → {:?}", second[*t], third[*t]);
    }
    // More snapshots than the store keeps: entries used in the last ten minutes stay (another
    // command may be reading them); of the others, the three used last.
    reorder(&dir.join("copy/civil_acts.parquet"));
    reorder(&dir.join("copy/individuals.parquet"));
    let mut df = sdu::io::read_parquet(&dir.join("copy/civil_acts.parquet")).unwrap();
    let half = df.height() / 2;
    df = df.slice(0, half);
    sdu::io::write_parquet(&mut df, &dir.join("copy/civil_acts.parquet")).unwrap();
    candidates(dir, "copy", "out", &["--accept-drop"]);
    assert_eq!(
        entries(&store)["civil_acts"].len(),
        4,
        "all used just now: {:?}",
        entries(&store)["civil_acts"]
    );
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for (n, (key, _)) in entries(&store)["civil_acts"].iter().enumerate() {
        let f = std::fs::File::options()
            .write(true)
            .open(store.join("civil_acts").join(key).join("entry.json"))
            .unwrap();
        f.set_modified(hour_ago + std::time::Duration::from_secs(n as u64)).unwrap();
    }
    // A folder sdu did not make, named like an entry, in the registry's folder: never removed.
    std::fs::create_dir(store.join("civil_acts/0123456789abcdef0123456789abcdef")).unwrap();
    reorder(&dir.join("copy/civil_acts.parquet"));
    candidates(dir, "copy", "out", &["--accept-drop"]);
    let kept = entries(&store)["civil_acts"].clone();
    assert_eq!(kept.len(), 4, "three entries and the foreign folder: {kept:?}");
    assert!(kept.iter().any(|(k, _)| k == "0123456789abcdef0123456789abcdef"));
}

#[test]
fn outcomes_are_the_same_with_a_store_staged_beforehand_or_by_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir, "w");
    // A: the run stages its own store.
    candidates(dir, "w", "a", &[]);
    run(dir, &["dispatch", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "a"]);
    // B: `validate` stages a shared store first; the run only reads it.
    // The tiny world is dirty on purpose: validate exits 1, and stages all the same.
    let validate = |out: &str, store: Option<&str>| {
        let mut args = vec!["validate", "--snapshot", "w", "--out", out];
        args.extend(store.map(|s| ["--store", s]).into_iter().flatten());
        let o = sdu(&args, dir);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    };
    validate("v-store", Some("shared"));
    let before = entries(&dir.join("shared"));
    assert_eq!(before.len(), sdu::registry::TABLES.len(), "validate stages every registry");
    candidates(dir, "w", "b", &["--store", "shared"]);
    run(dir, &["dispatch", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "b", "--store", "shared"]);
    assert_eq!(entries(&dir.join("shared")), before, "the runs staged nothing");
    assert!(!dir.join("b/staged").exists(), "a named store is the only one");
    let (a, b) = (tree(&dir.join("a")), tree(&dir.join("b")));
    assert!(a.len() > 10);
    assert_eq!(diff(&a, &b), Vec::<String>::new(), "the same outputs");
    // validate reads the same findings from the store as it computes without one.
    validate("v-memory", None);
    validate("v-store", Some("shared"));
    let read = |p: &str| std::fs::read_to_string(dir.join(p).join("validation.json")).unwrap();
    assert_eq!(read("v-memory"), read("v-store"));
    let quarantine =
        |p: &str| sdu::io::read_parquet(&dir.join(p).join("quarantine/individuals.parquet")).unwrap();
    assert!(quarantine("v-memory").equals_missing(&quarantine("v-store")));
    // The manifests name the raw inputs, with the same hashes and left-out counts.
    let inputs = |p: &str| {
        let m: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(p).join("2026-11-23/sanitary/manifest.json")).unwrap(),
        )
        .unwrap();
        m["inputs"].clone()
    };
    assert_eq!(inputs("a"), inputs("b"));
    assert!(inputs("a").to_string().contains("individuals.parquet"));
}

#[test]
fn a_corrupt_or_half_written_entry_is_never_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir, "w");
    candidates(dir, "w", "clean", &[]);
    let expected = tree(&dir.join("clean"));

    // Killed (SIGKILL) while staging individuals, after its rows were written and before
    // its entry.json: nothing in place is trusted, and the next run stages it again.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args(["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out"])
        .current_dir(dir)
        .env("SDU_LOG", "warn")
        .env("SDU_FAIL_AT", "store:before-entry")
        .env("SDU_FAIL_SKIP", "4")
        .env("SDU_FAIL_HOW", "hang")
        .stderr(std::fs::File::create(dir.join("killed.log")).unwrap())
        .spawn()
        .unwrap();
    let store = dir.join("out/staged");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(dir.join("killed.log")).unwrap().contains("hanging at") {
        assert!(std::time::Instant::now() < deadline, "the run never reached the fail point");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let hidden = loop {
        let found: Vec<PathBuf> = std::fs::read_dir(&store)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|t| std::fs::read_dir(t.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().unwrap().to_string_lossy().starts_with(".tmp-") && p.join("rules.json").exists()
            })
            .collect();
        if let Some(p) = found.first() {
            break p.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the run never reached the fail point");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(hidden.exists(), "the killed run left its half-built entry");
    let table = hidden.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
    let stderr = run(dir, &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out"]);
    assert!(!hidden.exists(), "a later build removes what a killed one left: {stderr}");
    assert_eq!(entries(&store)[&table].len(), 1);
    assert_eq!(diff(&expected, &tree(&dir.join("out"))), Vec::<String>::new());

    // A truncated rows file, a changed byte in the quarantine, a missing entry.json: each is
    // found on the next use, named, and staged again, with the same outputs.
    let damage: [(&str, Harm); 3] = [
        (
            "individuals",
            Box::new(|e: &Path| {
                let f = e.join("left_out.parquet");
                let len = std::fs::metadata(&f).unwrap().len();
                std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(len / 2).unwrap();
            }),
        ),
        (
            "legal_entity_heads",
            Box::new(|e: &Path| {
                let f = e.join("quarantine.parquet");
                let mut bytes = std::fs::read(&f).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0x55;
                std::fs::write(&f, bytes).unwrap();
            }),
        ),
        ("permits", Box::new(|e: &Path| std::fs::remove_file(e.join("entry.json")).unwrap())),
    ];
    for (table, harm) in &damage {
        let entry = entry_dir(&store, table);
        harm(&entry);
        let stderr = run(dir, &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out"]);
        assert!(
            stderr.contains("not usable")
                && stderr.contains(&entry.strip_prefix(dir).unwrap().display().to_string()),
            "{table}: the damage is named: {stderr}"
        );
        assert!(entry.join("entry.json").exists(), "{table}: staged again in the same place");
        assert_eq!(diff(&expected, &tree(&dir.join("out"))), Vec::<String>::new(), "{table}");
    }
}

#[test]
fn a_store_holding_other_data_or_inside_the_snapshot_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir, "w");
    std::fs::create_dir_all(dir.join("mine/individuals")).unwrap();
    std::fs::write(dir.join("mine/individuals/notes.txt"), "mine").unwrap();
    let o = sdu(
        &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out", "--store", "mine"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("mine"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(dir.join("mine/individuals/notes.txt")).unwrap(), "mine");
    let o = sdu(
        &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out", "--store", "w/staged"],
        dir,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.join("w/staged").exists());
    // The output folder itself, a file, a path under a file: refused up front.
    std::fs::write(dir.join("afile"), "x").unwrap();
    for store in ["out", "afile", "afile/sub"] {
        let o = sdu(
            &["candidates", "--snapshot", "w", "--as-of", "2026-11-23", "--out", "out", "--store", store],
            dir,
        );
        assert_eq!(o.status.code(), Some(2), "{store}: {}", stderr(&o));
        assert!(stderr(&o).contains("--store"), "{}", stderr(&o));
    }
    // A store a killed command left empty, or with its marker half-written, is taken; the
    // half-written marker is cleared once old (a fresh one is another command's, writing).
    std::fs::create_dir_all(dir.join("half")).unwrap();
    std::fs::write(dir.join("half/.sdu-store.tmp-99"), "").unwrap();
    std::fs::File::options()
        .write(true)
        .open(dir.join("half/.sdu-store.tmp-99"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
        .unwrap();
    std::fs::write(dir.join("half/.sdu-store.tmp-98"), "").unwrap();
    candidates(dir, "w", "out2", &["--store", "half"]);
    assert!(dir.join("half/.sdu-store").is_file());
    assert!(!dir.join("half/.sdu-store.tmp-99").exists(), "the old half-written marker is cleared");
    assert!(dir.join("half/.sdu-store.tmp-98").exists(), "another command's, being written, is not");
    // A store staged beforehand inside a new output folder: the folder is sdu's.
    let o = sdu(&["validate", "--snapshot", "w", "--out", "v", "--store", "pre/staged"], dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    candidates(dir, "w", "pre", &[]);
}

/// `explain` for each of `whom` (`--bin X` or `--iin X`), its text with the output folder's
/// name taken out.
fn explained(dir: &Path, out: &str, whom: &[(&str, String)]) -> Vec<String> {
    whom.iter()
        .map(|(flag, id)| {
            let args = ["explain", "--snapshot", "w", "--as-of", "2026-11-23", "--out", out, flag, id];
            let o = sdu(&args, dir);
            assert!(o.status.success(), "{args:?}: {}", stderr(&o));
            stdout(&o).replace(&format!(" {out} "), " OUT ")
        })
        .collect()
}

fn column(file: &Path, name: &str) -> Vec<String> {
    let df = sdu::io::read_parquet(file).unwrap();
    df.column(name).unwrap().str().unwrap().iter().flatten().map(String::from).collect()
}

#[test]
fn lookups_read_the_slices_and_find_what_the_files_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir, "w");
    let day = |out: &str| {
        candidates(dir, "w", out, &[]);
        run(dir, &["dispatch", "--snapshot", "w", "--as-of", "2026-11-23", "--out", out])
    };
    // A: through slices.
    day("a");
    let store = dir.join("a/staged");
    let made = slices(&store);
    let sliced =
        ["civil_acts", "individuals", "legal_entities", "legal_entity_heads", "mobile_base", "permits"];
    assert_eq!(made.keys().map(String::as_str).collect::<Vec<_>>(), sliced, "{made:?}");
    // The domain: every renamed organization, the heads of those, everyone with a name change.
    let domain_file = |t: &str| store.join("slices").join(t).join(&made[t][0].0).join("domain.parquet");
    let domain: std::collections::BTreeSet<String> =
        column(&domain_file("individuals"), "key").into_iter().collect();
    let renamed = column(&dir.join("w/legal_entity_renames.parquet"), "bin");
    assert!(renamed.iter().all(|b| domain.contains(b)));
    let heads = sdu::io::read_parquet(&dir.join("w/legal_entity_heads.parquet")).unwrap();
    let (hb, hi) = (heads.column("bin").unwrap().str().unwrap(), heads.column("iin").unwrap().str().unwrap());
    let mut outside = None;
    for (b, i) in hb.iter().zip(hi.iter()) {
        let (Some(b), Some(i)) = (b, i) else { continue };
        if renamed.iter().any(|r| r == b) {
            assert!(domain.contains(i), "the head {i} of renamed {b}");
        } else if !domain.contains(i) && !domain.contains(b) {
            outside = Some((b.to_string(), i.to_string()));
        }
    }
    let (other_bin, other_iin) = outside.expect("the tiny world has organizations that were not renamed");
    for t in sliced {
        assert_eq!(column(&domain_file(t), "key").len(), domain.len(), "{t}: one domain for all");
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(store.join("slices").join(t).join(&made[t][0].0).join("entry.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["table"], t);
        assert_eq!(meta["domain"], domain.len());
    }
    // The same snapshot again: every slice reused.
    candidates(dir, "w", "a", &[]);
    assert_eq!(slices(&store), made);

    // B: no slices (their folder is a file: they can't be made): lookups read the files.
    std::fs::create_dir_all(dir.join("b/staged")).unwrap();
    std::fs::write(dir.join("b/staged/.sdu-store"), "sdu staged snapshot store\n").unwrap();
    std::fs::write(dir.join("b/staged/slices"), "not a folder").unwrap();
    let stderr = day("b");
    assert!(stderr.contains("no slice"), "{stderr}");
    let (a, b) = (tree(&dir.join("a")), tree(&dir.join("b")));
    assert!(a.len() > 10);
    assert_eq!(diff(&a, &b), Vec::<String>::new(), "the same outputs with slices and without");
    // explain: a renamed organization and its head (in the domain), an organization and a
    // person outside it (the files are read): the same text either way.
    let head_of_renamed = hi
        .iter()
        .zip(hb.iter())
        .find(|(_, b)| b.is_some_and(|b| renamed.iter().any(|r| r == b)))
        .and_then(|(i, _)| i.map(String::from))
        .unwrap();
    let whom = [
        ("--bin", renamed[0].clone()),
        ("--iin", head_of_renamed),
        ("--bin", other_bin),
        ("--iin", other_iin),
    ];
    assert_eq!(explained(dir, "a", &whom), explained(dir, "b", &whom));

    // Recipients outside the domain: dispatch on a later snapshot whose renames name none of
    // today's organizations finds their numbers in the whole МАБ, as without slices.
    std::fs::create_dir(dir.join("w2")).unwrap();
    for f in std::fs::read_dir(dir.join("w")).unwrap().flatten() {
        std::fs::copy(f.path(), dir.join("w2").join(f.file_name())).unwrap();
    }
    let mut renames = sdu::io::read_parquet(&dir.join("w2/legal_entity_renames.parquet")).unwrap();
    renames = renames.slice(0, 0);
    sdu::io::write_parquet(&mut renames, &dir.join("w2/legal_entity_renames.parquet")).unwrap();
    for out in ["c", "d"] {
        candidates(dir, "w", out, &[]);
    }
    std::fs::remove_dir_all(dir.join("d/staged")).unwrap();
    std::fs::create_dir_all(dir.join("d/staged")).unwrap();
    std::fs::write(dir.join("d/staged/.sdu-store"), "sdu staged snapshot store\n").unwrap();
    std::fs::write(dir.join("d/staged/slices"), "not a folder").unwrap();
    let later = ["dispatch", "--snapshot", "w2", "--as-of", "2026-11-24", "--accept-drop"];
    for out in ["c", "d"] {
        run(dir, &[&later[..], &["--out", out]].concat());
    }
    let outbox = |out: &str| {
        std::fs::read_to_string(dir.join(out).join("2026-11-24/dispatch/sms_outbox.csv")).unwrap()
    };
    assert!(outbox("c").lines().count() > 1, "{}", outbox("c"));
    assert_eq!(outbox("c"), outbox("d"));
    std::fs::remove_dir_all(dir.join("c")).unwrap();

    // A damaged slice is named and made again; the outputs stay the same.
    let rows = store.join("slices/individuals").join(&made["individuals"][0].0).join("rows.parquet");
    let mut bytes = std::fs::read(&rows).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&rows, bytes).unwrap();
    let stderr = candidates(dir, "w", "a", &[]);
    assert!(stderr.contains("slice is not usable") && stderr.contains("rows.parquet"), "{stderr}");
    assert_eq!(diff(&a, &tree(&dir.join("a"))), Vec::<String>::new());

    // A new renames file changes the domain: every slice is made again, no registry is
    // validated again but the renames.
    let before = entries(&store);
    reorder(&dir.join("w/legal_entity_renames.parquet"));
    candidates(dir, "w", "c", &["--store", "a/staged"]);
    let after = slices(&store);
    for t in sliced.iter().filter(|t| **t != "mobile_base") {
        assert_eq!(after[*t].len(), 2, "{t}: {:?}", after[*t]);
    }
    let entries_after = entries(&store);
    for (t, list) in &before {
        assert_eq!(entries_after[t].len() > list.len(), t == "legal_entity_renames", "{t}");
    }
}

/// Commands started together on a store nobody made yet: each claims, stages or reads it
/// without taking another's marker, build or entry for foreign data, and without falling
/// back to staging in memory; the outputs are those of one command alone.
#[test]
fn commands_started_together_share_a_new_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    world(dir, "w");
    candidates(dir, "w", "alone", &["--store", "alone-store"]);
    let expected = tree(&dir.join("alone"));
    for round in 0..3 {
        let store = format!("shared-{round}");
        let children: Vec<_> = (0..3)
            .map(|i| {
                let out = format!("r{round}-{i}");
                Command::new(env!("CARGO_BIN_EXE_sdu"))
                    .args([
                        "candidates",
                        "--snapshot",
                        "w",
                        "--as-of",
                        "2026-11-23",
                        "--out",
                        &out,
                        "--store",
                        &store,
                    ])
                    .current_dir(dir)
                    .env("SDU_LOG", "warn")
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let o = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(o.status.success(), "round {round}, command {i}: {err}");
            assert!(
                !err.contains("in memory") && !err.contains("no slice"),
                "round {round}, command {i}: {err}"
            );
            assert_eq!(diff(&expected, &tree(&dir.join(format!("r{round}-{i}")))), Vec::<String>::new());
        }
    }
}
