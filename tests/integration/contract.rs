//! The snapshot contract: files, columns and types are checked before any row is read, and
//! any snapshot that follows SCHEMA.md is accepted, not only ours.

use crate::common::*;
use polars::prelude::*;
use sdu::registry::{RegistryError, Snapshot};

fn error_of(tables: std::collections::BTreeMap<&'static str, DataFrame>, table_name: &str) -> RegistryError {
    let tmp = tempfile::tempdir().unwrap();
    write_snapshot(tmp.path(), &tables);
    Snapshot::open(tmp.path()).unwrap().scan(table(table_name)).err().expect("the scan must fail")
}

#[test]
fn a_missing_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tables = valid_snapshot();
    tables.remove("permits");
    write_snapshot(tmp.path(), &tables);
    let err = Snapshot::open(tmp.path()).unwrap().scan(table("permits")).err().unwrap();
    assert!(matches!(err, RegistryError::MissingFile { .. }));
    assert!(err.to_string().contains("permits.parquet"), "{err}");
}

#[test]
fn a_missing_column_is_named_with_its_type() {
    let mut tables = valid_snapshot();
    let df = tables["individuals"].drop("birth_date").unwrap();
    tables.insert("individuals", df);
    let err = error_of(tables, "individuals").to_string();
    assert!(
        err.contains("individuals.parquet") && err.contains("`birth_date`") && err.contains("date"),
        "{err}"
    );
}

#[test]
fn a_wrong_type_names_file_column_expected_and_found() {
    let mut tables = valid_snapshot();
    let mut df = tables["legal_entities"].clone();
    df.with_column(Column::new("bin".into(), vec![940140000385i64, 950341000052])).unwrap();
    tables.insert("legal_entities", df);
    let err = error_of(tables, "legal_entities").to_string();
    assert!(err.contains("legal_entities.parquet"), "{err}");
    assert!(err.contains("`bin`") && err.contains("expected str") && err.contains("i64"), "{err}");
}

#[test]
fn a_broken_parquet_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_snapshot(tmp.path(), &valid_snapshot());
    std::fs::write(tmp.path().join("mobile_base.parquet"), b"not parquet at all").unwrap();
    let err = Snapshot::open(tmp.path()).unwrap().scan(table("mobile_base")).err().unwrap();
    assert!(err.to_string().contains("mobile_base.parquet"), "{err}");
}

#[test]
fn extra_columns_are_ignored_and_columns_come_in_contract_order() {
    let mut tables = valid_snapshot();
    let mut df = tables["permits"].clone();
    df.with_column(Column::new("comment".into(), vec!["x", "y"])).unwrap();
    let df = df
        .select([
            "comment",
            "status",
            "permit_id",
            "service_code",
            "holder_bin",
            "holder_iin",
            "holder_name",
            "issued_on",
            "valid_until",
        ])
        .unwrap();
    tables.insert("permits", df);
    let tmp = tempfile::tempdir().unwrap();
    write_snapshot(tmp.path(), &tables);
    let out = Snapshot::open(tmp.path()).unwrap().scan(table("permits")).unwrap().collect().unwrap();
    let names: Vec<&str> = out.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(names, table("permits").column_names());
}

#[test]
fn timestamps_in_any_accepted_form_become_almaty_wall_clock() {
    // 2026-03-04 05:00 UTC is 10:00 in Almaty (UTC+5 since 2024-03-01).
    let micros = chrono::NaiveDate::from_ymd_opt(2026, 3, 4)
        .unwrap()
        .and_hms_opt(5, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    let local = chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap().and_hms_opt(10, 0, 0).unwrap();
    let forms: Vec<(Option<TimeZone>, TimeUnit, i64)> = vec![
        (Some(TimeZone::from_chrono(&chrono_tz::Asia::Almaty)), TimeUnit::Microseconds, micros),
        (Some(TimeZone::UTC), TimeUnit::Milliseconds, micros / 1000),
        (None, TimeUnit::Milliseconds, local.and_utc().timestamp_millis()),
    ];
    for (tz, unit, value) in forms {
        let mut tables = valid_snapshot();
        let mut df = tables["legal_entity_renames"].clone();
        let ts = Int64Chunked::from_vec("recorded_at".into(), vec![value])
            .into_datetime(unit, tz.clone())
            .into_column();
        df.with_column(ts).unwrap();
        tables.insert("legal_entity_renames", df);
        let tmp = tempfile::tempdir().unwrap();
        write_snapshot(tmp.path(), &tables);
        let out = Snapshot::open(tmp.path())
            .unwrap()
            .scan(table("legal_entity_renames"))
            .unwrap()
            .collect()
            .unwrap();
        let got = out.column("recorded_at").unwrap().datetime().unwrap().phys.get(0).unwrap();
        assert_eq!(got, local.and_utc().timestamp_micros(), "{tz:?} {unit:?}");
    }
}

/// Validation converts a zoned time only for the rows it keeps, unless a rule reads it: a
/// rule still sees the Almaty wall clock (a time recorded late on 3 March UTC is 4 March in
/// Almaty, not before a change on 4 March), and a quarantined row holds the staged value.
#[test]
fn validation_sees_and_keeps_times_as_almaty_wall_clock() {
    use sdu::registry::validation::validate_table;
    // 2026-03-03 20:00 UTC is 2026-03-04 01:00 in Almaty.
    let utc = chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap().and_hms_opt(20, 0, 0).unwrap();
    let local = chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap().and_hms_opt(1, 0, 0).unwrap();
    let micros = utc.and_utc().timestamp_micros();
    for tz in [TimeZone::UTC, TimeZone::from_chrono(&chrono_tz::Asia::Almaty)] {
        let mut tables = valid_snapshot();
        let utc_times = |name: &str, n: usize| {
            Int64Chunked::from_vec(name.into(), vec![micros; n])
                .into_datetime(TimeUnit::Microseconds, Some(tz.clone()))
                .into_column()
        };
        let mut renames = tables["legal_entity_renames"].clone();
        renames.with_column(utc_times("recorded_at", 1)).unwrap();
        renames
            .with_column(Column::new(
                "changed_on".into(),
                [chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap()],
            ))
            .unwrap();
        tables.insert("legal_entity_renames", renames);
        let mut mab = tables["mobile_base"].clone();
        mab.with_column(utc_times("registered_at", 2)).unwrap();
        // Not a mobile number: a warning, so the row is in the quarantine.
        mab.with_column(Column::new("phone".into(), ["+77511234567", "+77771234567"])).unwrap();
        tables.insert("mobile_base", mab);
        let tmp = tempfile::tempdir().unwrap();
        write_snapshot(tmp.path(), &tables);
        let snap = Snapshot::open(tmp.path()).unwrap();

        let (results, _) = validate_table(&snap, table("legal_entity_renames")).unwrap();
        let late =
            results.iter().find(|r| r.rule == "legal_entity_renames.recorded_at.after_change").unwrap();
        assert_eq!(late.failing_rows, 0, "{tz:?}: 01:00 on 4 March in Almaty is not before 4 March");

        let (results, quarantine) = validate_table(&snap, table("mobile_base")).unwrap();
        let mobile = results.iter().find(|r| r.rule == "mobile_base.phone.mobile").unwrap();
        assert_eq!(mobile.failing_rows, 1);
        assert_eq!(quarantine.height(), 1);
        let kept = quarantine.column("registered_at").unwrap();
        assert_eq!(
            kept.dtype(),
            snap.scan(table("mobile_base"))
                .unwrap()
                .collect()
                .unwrap()
                .column("registered_at")
                .unwrap()
                .dtype()
        );
        let got = kept.datetime().unwrap().phys.get(0).unwrap();
        assert_eq!(got, local.and_utc().timestamp_micros(), "{tz:?}: the quarantine holds the staged time");
    }
}

/// A time that stages to nothing (milliseconds beyond what microseconds hold) is not set:
/// the not-null rule counts it, though it reads the column as the file has it.
#[test]
fn a_time_out_of_range_is_not_set() {
    use sdu::registry::validation::validate_table;
    let mut tables = valid_snapshot();
    let mut mab = tables["mobile_base"].clone();
    let ms = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let times =
        Int64Chunked::from_vec("registered_at".into(), vec![1i64 << 62, ms.and_utc().timestamp_millis()])
            .into_datetime(TimeUnit::Milliseconds, None)
            .into_column();
    mab.with_column(times).unwrap();
    tables.insert("mobile_base", mab);
    let tmp = tempfile::tempdir().unwrap();
    write_snapshot(tmp.path(), &tables);
    let snap = Snapshot::open(tmp.path()).unwrap();
    let (results, quarantine) = validate_table(&snap, table("mobile_base")).unwrap();
    let not_set = results.iter().find(|r| r.rule == "mobile_base.registered_at.not_null").unwrap();
    assert_eq!(not_set.failing_rows, 1);
    assert_eq!(quarantine.height(), 1);
    assert_eq!(quarantine.column("registered_at").unwrap().null_count(), 1, "staged, it is null");
}

#[test]
fn the_binary_reports_a_schema_break_and_a_missing_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join("snap");
    let mut tables = valid_snapshot();
    tables.remove("legal_entity_heads");
    write_snapshot(&snap, &tables);
    let out = sdu(&["validate", "--snapshot", "snap"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("legal_entity_heads.parquet: registry file is missing"),
        "{}",
        stderr(&out)
    );
    assert!(!tmp.path().join("snap.validation").exists(), "nothing is published on failure");

    let out = sdu(&["validate", "--snapshot", "nowhere"], tmp.path());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("nowhere"));
}
