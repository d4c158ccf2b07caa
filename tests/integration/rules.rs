//! Every row rule, with a passing example (the valid fixture) and a failing one (a mutation
//! of one row that the rule must catch, with the exact count).

use crate::common::*;
use polars::prelude::*;
use sdu::ids::{check_digit, Iin, Sex};
use sdu::registry::rules::rules;
use sdu::registry::validation::validate_table;
use sdu::registry::{Snapshot, TABLES};
use std::collections::{BTreeMap, BTreeSet};

/// Sets `column` to `value` on row `row`.
fn set(df: &DataFrame, column: &str, row: u32, value: Expr) -> DataFrame {
    let dtype = df.column(column).unwrap().dtype().clone();
    df.clone()
        .lazy()
        .with_row_index("__i", None)
        .with_column(
            when(col("__i").eq(lit(row))).then(value.cast(dtype)).otherwise(col(column)).alias(column),
        )
        .drop(cols(["__i"]))
        .collect()
        .unwrap()
}

fn date(s: &str) -> Expr {
    lit(d(s)).cast(DataType::Date)
}

fn null() -> Expr {
    lit(NULL)
}

/// A 12-digit string with the given first 11 digits and its check digit.
fn with_check(first: &str) -> String {
    let digits: Vec<u8> = first.bytes().map(|c| c - b'0').collect();
    let c = check_digit(&digits.clone().try_into().unwrap()).expect("prefix has a check digit");
    format!("{first}{c}")
}

/// A valid IIN of nobody in the fixture.
fn absent_iin() -> String {
    Iin::new(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(), Sex::Male, 123).unwrap().to_string()
}

/// How each rule is made to fail: (rule id, table, mutation, expected failing rows).
type Case = (&'static str, &'static str, Box<dyn Fn(&DataFrame) -> DataFrame>, u64);

fn cases() -> Vec<Case> {
    let mut c: Vec<Case> = Vec::new();
    // Contract-derived rules, generated from the specs.
    for t in TABLES {
        for col_spec in t.columns {
            let name = col_spec.name;
            if !col_spec.nullable {
                let id: &'static str = Box::leak(format!("{}.{}.not_null", t.name, name).into_boxed_str());
                c.push((id, t.name, Box::new(move |df| set(df, name, 0, null())), 1));
            }
            if col_spec.values.is_some() {
                let id: &'static str = Box::leak(format!("{}.{}.enum", t.name, name).into_boxed_str());
                c.push((id, t.name, Box::new(move |df| set(df, name, 0, lit("Bogus"))), 1));
            }
            if let Some(kind) = col_spec.id {
                let (valid, date_bad, kind_bad) = match kind {
                    sdu::registry::Id::Iin => {
                        (P1.to_string(), with_check("90132330025"), with_check("90112370025"))
                    }
                    sdu::registry::Id::Bin => {
                        (ORG_A.to_string(), with_check("94134000038"), with_check("94017000038"))
                    }
                };
                let mut check_bad = valid.clone().into_bytes();
                check_bad[11] = b'0' + (check_bad[11] - b'0' + 1) % 10;
                let check_bad = String::from_utf8(check_bad).unwrap();
                for (suffix, value) in [
                    ("format", "9011233002".to_string()),
                    ("check_digit", check_bad),
                    ("date_part", date_bad),
                    ("kind_digit", kind_bad),
                ] {
                    let id: &'static str =
                        Box::leak(format!("{}.{}.{}", t.name, name, suffix).into_boxed_str());
                    // Row 0 may hold null (an optional holder): pick the first row that has a value.
                    c.push((
                        id,
                        t.name,
                        Box::new(move |df| {
                            let row = df
                                .column(name)
                                .unwrap()
                                .str()
                                .unwrap()
                                .iter()
                                .position(|v| v.is_some())
                                .unwrap();
                            set(df, name, row as u32, lit(value.clone()))
                        }),
                        1,
                    ));
                }
            }
        }
        if !t.key.is_empty() {
            let id: &'static str = Box::leak(format!("{}.{}.unique", t.name, t.key[0]).into_boxed_str());
            c.push((id, t.name, Box::new(|df| df.vstack(&df.slice(0, 1)).unwrap()), 2));
        }
        for i in t.intervals {
            let id: &'static str = Box::leak(format!("{}.{}.order", t.name, i.to).into_boxed_str());
            let (from, to) = (i.from, i.to);
            c.push((
                id,
                t.name,
                Box::new(move |df| set(&set(df, from, 0, date("2020-01-02")), to, 0, date("2020-01-01"))),
                1,
            ));
        }
        for r in t.references {
            let id: &'static str = Box::leak(format!("{}.{}.reference", t.name, r.column).into_boxed_str());
            let column = r.column;
            let absent = match r.target.name {
                "individuals" => absent_iin(),
                _ => with_check("94010000999"),
            };
            c.push((
                id,
                t.name,
                Box::new(move |df| {
                    let row =
                        df.column(column).unwrap().str().unwrap().iter().position(|v| v.is_some()).unwrap();
                    set(df, column, row as u32, lit(absent.clone()))
                }),
                1,
            ));
        }
    }
    // Rules of one registry.
    c.push(("permits.holder.exactly_one", "permits", Box::new(|df| set(df, "holder_iin", 0, lit(P1))), 1));
    c.push(("permits.holder.exactly_one", "permits", Box::new(|df| set(df, "holder_bin", 0, null())), 1));
    c.push((
        "mobile_base.phone.mobile",
        "mobile_base",
        Box::new(|df| set(df, "phone", 1, lit("+77511234567"))),
        1,
    ));
    c.push((
        "mobile_base.phone.mobile",
        "mobile_base",
        Box::new(|df| set(df, "phone", 1, lit("87011234567"))),
        1,
    ));
    c.push((
        "legal_entity_renames.recorded_at.after_change",
        "legal_entity_renames",
        Box::new(|df| set(df, "changed_on", 0, date("2026-03-10"))),
        1,
    ));
    c.push((
        "legal_entities.liquidated_on.status",
        "legal_entities",
        Box::new(|df| set(df, "status", 0, lit("liquidated"))),
        1,
    ));
    c.push((
        "legal_entities.liquidated_on.status",
        "legal_entities",
        Box::new(|df| set(df, "liquidated_on", 0, date("2021-01-01"))),
        1,
    ));
    c.push((
        "civil_acts.new_full_name.name_change",
        "civil_acts",
        Box::new(|df| set(df, "old_full_name", 1, null())),
        1,
    ));
    c
}

fn counts(dir: &std::path::Path, table: &str) -> BTreeMap<String, u64> {
    let snapshot = Snapshot::open(dir).unwrap();
    let (results, _) = validate_table(&snapshot, table_spec(table)).unwrap();
    results.into_iter().map(|r| (r.rule, r.failing_rows)).collect()
}

fn table_spec(name: &str) -> &'static sdu::registry::TableSpec {
    table(name)
}

#[test]
fn the_valid_fixture_passes_every_rule() {
    let tmp = tempfile::tempdir().unwrap();
    write_snapshot(tmp.path(), &valid_snapshot());
    for t in TABLES {
        for (rule, n) in counts(tmp.path(), t.name) {
            assert_eq!(n, 0, "{rule} fails on the valid fixture");
        }
    }
}

#[test]
fn every_rule_catches_its_defect() {
    for (rule, table_name, mutate, expected) in cases() {
        let tmp = tempfile::tempdir().unwrap();
        let mut tables = valid_snapshot();
        let df = mutate(&tables[table_name]);
        tables.insert(table_spec(table_name).name, df);
        write_snapshot(tmp.path(), &tables);
        let got = counts(tmp.path(), table_name);
        assert_eq!(got.get(rule).copied(), Some(expected), "rule {rule}: {got:?}");
    }
}

#[test]
fn every_rule_has_a_case() {
    let covered: BTreeSet<&str> = cases().iter().map(|c| c.0).collect();
    for t in TABLES {
        for r in rules(t) {
            assert!(covered.contains(r.id.as_str()), "no failing example for rule {}", r.id);
        }
    }
}

#[test]
fn staging_leaves_out_error_rows_and_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tables = valid_snapshot();
    // One bad check digit (error) and one unknown head (warning: kept).
    let ind = set(&tables["individuals"], "iin", 0, lit("061211600013"));
    tables.insert("individuals", ind);
    let heads = set(&tables["legal_entity_heads"], "iin", 2, lit(absent_iin()));
    tables.insert("legal_entity_heads", heads);
    write_snapshot(tmp.path(), &tables);
    let snapshot = Snapshot::open(tmp.path()).unwrap();

    let staged = snapshot.stage(table("individuals")).unwrap();
    let kept = staged.frame.collect().unwrap();
    assert_eq!(kept.height(), 3);
    assert!(!kept.column("iin").unwrap().str().unwrap().iter().any(|v| v == Some("061211600013")));
    assert_eq!(staged.left_out, 1);

    let staged = snapshot.stage(table("legal_entity_heads")).unwrap();
    assert_eq!(staged.frame.collect().unwrap().height(), 3, "warnings keep the row");
    assert_eq!(staged.left_out, 0);
}

/// The staged frame skips exactly the rows validation quarantines: by key in a keyed table
/// (every row of a duplicated key, a row with no key), by position in a table without one.
#[test]
fn staged_rows_are_the_rows_outside_the_quarantine() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tables = valid_snapshot();
    let ind = &tables["individuals"];
    // Row 0 duplicated at the end (out of key order), row 1 without an IIN.
    let ind = set(&ind.vstack(&ind.slice(0, 1)).unwrap(), "iin", 1, null());
    tables.insert("individuals", ind.clone());
    // A head whose term ends before it starts (an error in a table without a key).
    let heads = set(
        &set(&tables["legal_entity_heads"], "from_date", 1, date("2020-01-02")),
        "to_date",
        1,
        date("2020-01-01"),
    );
    tables.insert("legal_entity_heads", heads.clone());
    write_snapshot(tmp.path(), &tables);
    let snapshot = Snapshot::open(tmp.path()).unwrap();
    for (name, all) in [("individuals", &ind), ("legal_entity_heads", &heads)] {
        let (_, quarantine) = validate_table(&snapshot, table(name)).unwrap();
        let quarantined: BTreeSet<u32> =
            quarantine.column("row_index").unwrap().u32().unwrap().iter().flatten().collect();
        let expected: Vec<u32> = (0..all.height() as u32).filter(|i| !quarantined.contains(i)).collect();
        let expected = all.take(&IdxCa::from_vec("i".into(), expected)).unwrap();
        let staged = snapshot.stage(table(name)).unwrap();
        assert_eq!(staged.left_out, quarantined.len() as u64, "{name}");
        let kept = staged.frame.collect().unwrap();
        assert!(
            kept.equals_missing(&expected.select(kept.get_column_names().into_iter().cloned()).unwrap()),
            "{name}: {kept}"
        );
    }
    assert_eq!(
        snapshot.stage(table("individuals")).unwrap().left_out,
        3,
        "both rows of the duplicate and the null"
    );
}

#[test]
fn quarantine_keeps_the_row_and_names_its_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tables = valid_snapshot();
    let p = set(&set(&tables["permits"], "holder_bin", 0, null()), "status", 0, lit("annulled"));
    tables.insert("permits", p);
    write_snapshot(tmp.path(), &tables);
    let snapshot = Snapshot::open(tmp.path()).unwrap();
    let (_, q) = validate_table(&snapshot, table("permits")).unwrap();
    assert_eq!(q.height(), 1);
    assert_eq!(q.column("permit_id").unwrap().str().unwrap().get(0), Some("KZ24SEO0000001"));
    assert_eq!(q.column("row_index").unwrap().u32().unwrap().get(0), Some(0));
    let failed = q.column("failed_rules").unwrap().list().unwrap().get_as_series(0).unwrap();
    let failed: Vec<&str> = failed.str().unwrap().no_null_iter().collect();
    assert_eq!(failed, vec!["permits.status.enum", "permits.holder.exactly_one"]);
}
