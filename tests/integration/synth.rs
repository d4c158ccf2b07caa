//! The synthetic world through the binary: determinism, sorted keys, and validation finding
//! exactly the defects that were planted.

use crate::common::*;
use polars::prelude::*;
use sdu::registry::{Snapshot, TABLES};
use std::collections::BTreeMap;
use std::path::Path;

fn synth(dir: &Path, out: &str, extra: &[&str]) {
    let mut args = vec!["synth", "--out", out, "--scale", "tiny", "--seed", "11", "--as-of", "2026-11-23"];
    args.extend_from_slice(extra);
    let o = sdu(&args, dir);
    assert!(o.status.success(), "synth failed: {}", stderr(&o));
}

fn planted(dir: &Path) -> BTreeMap<String, u64> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("_synth.json")).unwrap()).unwrap();
    v["planted"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
}

fn reported(path: &Path) -> BTreeMap<String, u64> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap().to_string(), r["failing_rows"].as_u64().unwrap()))
        .collect()
}

#[test]
fn validate_finds_exactly_the_planted_defects() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), "dirty", &["--dirty-rate", "0.01"]);
    let planted = planted(&tmp.path().join("dirty"));
    let classes: Vec<&str> = planted.keys().map(|k| k.as_str()).collect();
    for must in [
        "individuals.iin.check_digit",
        "individuals.iin.unique",
        "permits.permit_id.unique",
        "legal_entity_heads.iin.reference",
    ] {
        assert!(classes.contains(&must), "the dirty tiny world plants {must}: {classes:?}");
    }
    let o = sdu(&["validate", "--snapshot", "dirty"], tmp.path());
    assert_eq!(o.status.code(), Some(1), "errors were planted: {}", stderr(&o));
    let got = reported(&tmp.path().join("dirty.validation/validation.json"));
    for (rule, n) in &got {
        assert_eq!(*n, planted.get(rule).copied().unwrap_or(0), "rule {rule}");
    }
    for rule in planted.keys() {
        assert!(got.contains_key(rule), "planted {rule} is not a rule");
    }
    // The table names each failing rule and masks identifiers.
    let out = stdout(&o);
    assert!(out.contains("individuals.iin.check_digit"), "{out}");
    assert!(out.contains("******"), "examples are masked: {out}");
    let quarantine = LazyFrame::scan_parquet(
        PlRefPath::try_from_path(&tmp.path().join("dirty.validation/quarantine/individuals.parquet"))
            .unwrap(),
        Default::default(),
    )
    .unwrap()
    .collect()
    .unwrap();
    let expected: u64 = planted.iter().filter(|(k, _)| k.starts_with("individuals.")).map(|(_, v)| v).sum();
    assert_eq!(quarantine.height() as u64, expected);
}

#[test]
fn a_clean_world_passes_every_rule() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), "clean", &["--clean"]);
    assert!(planted(&tmp.path().join("clean")).is_empty());
    let o = sdu(&["validate", "--snapshot", "clean"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let got = reported(&tmp.path().join("clean.validation/validation.json"));
    assert!(got.values().all(|n| *n == 0), "{got:?}");
}

#[test]
fn the_same_seed_gives_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), "a", &[]);
    synth(tmp.path(), "b", &[]);
    for t in TABLES {
        let a = std::fs::read(tmp.path().join("a").join(t.file_name())).unwrap();
        let b = std::fs::read(tmp.path().join("b").join(t.file_name())).unwrap();
        assert!(a == b, "{} differs between two runs with one seed", t.name);
    }
    let o =
        sdu(&["synth", "--out", "c", "--scale", "tiny", "--seed", "12", "--as-of", "2026-11-23"], tmp.path());
    assert!(o.status.success());
    let a = std::fs::read(tmp.path().join("a/individuals.parquet")).unwrap();
    let c = std::fs::read(tmp.path().join("c/individuals.parquet")).unwrap();
    assert!(a != c, "another seed gives another world");
}

#[test]
fn files_follow_the_contract_and_are_sorted_by_key() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), "w", &["--clean"]);
    let snapshot = Snapshot::open(&tmp.path().join("w")).unwrap();
    let keys = [
        ("legal_entities", "bin"),
        ("legal_entity_renames", "event_id"),
        ("legal_entity_heads", "bin"),
        ("permits", "permit_id"),
        ("individuals", "iin"),
        ("civil_acts", "act_id"),
        ("mobile_base", "iin"),
    ];
    for (name, key) in keys {
        let df = snapshot.scan(table(name)).unwrap().collect().unwrap();
        assert!(df.height() > 0, "{name} is empty");
        let v: Vec<&str> = df.column(key).unwrap().str().unwrap().no_null_iter().collect();
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "{name} is not sorted by {key}");
    }
}

#[test]
fn the_tiny_world_has_every_case_the_pilots_need() {
    let tmp = tempfile::tempdir().unwrap();
    synth(tmp.path(), "w", &["--clean"]);
    let snapshot = Snapshot::open(&tmp.path().join("w")).unwrap();
    let count = |name: &str, filter: Expr| -> usize {
        snapshot.scan(table(name)).unwrap().filter(filter).collect().unwrap().height()
    };
    assert!(count("legal_entity_renames", lit(true)) >= 20);
    assert!(count("permits", col("service_code").eq(lit("san-specialist-cert"))) > 0);
    assert!(count("permits", col("service_code").eq(lit("eco-permit-cat2"))) > 0);
    assert!(count("permits", col("service_code").eq(lit("trusted-sw-register"))) > 0);
    assert!(count("civil_acts", col("act_type").eq(lit("name_change"))) > 0);
    assert!(count("civil_acts", col("act_type").eq(lit("death"))) > 0);
    assert!(count("individuals", col("death_date").is_not_null()) > 0);
    assert!(count("individuals", col("emigrated_on").is_not_null()) > 0);
    assert!(count("individuals", col("imprisoned_from").is_not_null()) > 0);
    assert!(count("individuals", col("incapable_from").is_not_null()) > 0);
    assert!(count("legal_entity_heads", col("to_date").is_not_null()) > 0);
    assert!(count("mobile_base", col("status").eq(lit("inactive"))) > 0);
}
