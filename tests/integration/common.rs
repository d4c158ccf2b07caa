//! Shared fixtures: a small hand-built snapshot that passes every rule, and helpers to run
//! the `sdu` binary.

use polars::prelude::*;
use sdu::io::write_parquet;
use sdu::registry::{civil_acts as ca, heads as hd, individuals as ind, legal_entities as le};
use sdu::registry::{mobile_base as mb, permits as pm, renames as rn, TableSpec};
use sdu::synth::frame::{almaty_at, date_col, datetime_col, days, opt_str_col, str_col};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

pub fn d(s: &str) -> i32 {
    days(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn o(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|x| x.map(str::to_string)).collect()
}

fn dates(v: &[Option<&str>]) -> Vec<Option<i32>> {
    v.iter().map(|x| x.map(d)).collect()
}

fn frame(cols: Vec<Column>) -> DataFrame {
    DataFrame::new_infer_height(cols).unwrap()
}

/// Valid public test vectors (SCHEMA.md).
pub const P1: &str = "901123300258";
pub const P2: &str = "871008401427";
pub const P3: &str = "830717350867";
pub const P4: &str = "061211600012";
pub const ORG_A: &str = "940140000385";
pub const ORG_B: &str = "950341000052";

/// A snapshot, table by table, that passes every rule.
pub fn valid_snapshot() -> BTreeMap<&'static str, DataFrame> {
    let mut t = BTreeMap::new();
    t.insert(
        le::SPEC.name,
        frame(vec![
            str_col(le::BIN, s(&[ORG_A, ORG_B])),
            str_col(le::NAME_KK, s(&["«Жаңа Дала» ЖШС", "«Береке» ЖШС"])),
            str_col(le::NAME_RU, s(&["ТОО «Жаңа Дала»", "ТОО «Береке»"])),
            opt_str_col(le::LEGAL_FORM, o(&[Some("ЖШС/ТОО"), None])),
            opt_str_col(le::KATO, o(&[Some("751110000"), Some("711210000")])),
            date_col(le::REGISTERED_ON, dates(&[Some("1994-01-12"), Some("1995-03-02")])),
            str_col(le::STATUS, s(&["active", "liquidated"])),
            date_col(le::LIQUIDATED_ON, dates(&[None, Some("2020-05-05")])),
        ]),
    );
    t.insert(
        rn::SPEC.name,
        frame(vec![
            str_col(rn::EVENT_ID, s(&["RN1"])),
            str_col(rn::BIN, s(&[ORG_A])),
            date_col(rn::CHANGED_ON, dates(&[Some("2026-03-01")])),
            datetime_col(rn::RECORDED_AT, vec![almaty_at(d("2026-03-04"), 36_000)]),
            str_col(rn::OLD_NAME_KK, s(&["«Дала» ЖШС"])),
            str_col(rn::OLD_NAME_RU, s(&["ТОО «Дала»"])),
            str_col(rn::NEW_NAME_KK, s(&["«Жаңа Дала» ЖШС"])),
            str_col(rn::NEW_NAME_RU, s(&["ТОО «Жаңа Дала»"])),
        ]),
    );
    t.insert(
        hd::SPEC.name,
        frame(vec![
            str_col(hd::BIN, s(&[ORG_A, ORG_A, ORG_B])),
            str_col(hd::IIN, s(&[P2, P1, P2])),
            str_col(hd::ROLE, s(&["first_head", "first_head", "first_head"])),
            date_col(hd::FROM_DATE, dates(&[Some("2010-01-01"), Some("2020-01-01"), Some("2001-01-01")])),
            date_col(hd::TO_DATE, dates(&[Some("2020-01-01"), None, None])),
        ]),
    );
    t.insert(
        pm::SPEC.name,
        frame(vec![
            str_col(pm::PERMIT_ID, s(&["KZ24SEO0000001", "KZ24SSC0000001"])),
            str_col(pm::SERVICE_CODE, s(&["san-epid-object-concl", "san-specialist-cert"])),
            opt_str_col(pm::HOLDER_BIN, o(&[Some(ORG_A), None])),
            opt_str_col(pm::HOLDER_IIN, o(&[None, Some(P4)])),
            str_col(pm::HOLDER_NAME, s(&["ТОО «Дала»", "Ахметова Әлия Серікқызы"])),
            date_col(pm::ISSUED_ON, dates(&[Some("2024-02-02"), Some("2024-05-05")])),
            date_col(pm::VALID_UNTIL, dates(&[None, Some("2029-05-05")])),
            str_col(pm::STATUS, s(&["active", "active"])),
        ]),
    );
    let none4 = || dates(&[None, None, None, None]);
    t.insert(
        ind::SPEC.name,
        frame(vec![
            str_col(ind::IIN, s(&[P4, P3, P2, P1])),
            str_col(ind::SURNAME, s(&["Омарова", "Қасымов", "Иванова", "Ахметов"])),
            str_col(ind::FIRST_NAME, s(&["Әлия", "Нұрлан", "Елена", "Ерлан"])),
            opt_str_col(ind::PATRONYMIC, o(&[Some("Серікқызы"), None, Some("Сергеевна"), Some("Асқарұлы")])),
            date_col(
                ind::BIRTH_DATE,
                dates(&[Some("2006-12-11"), Some("1983-07-17"), Some("1987-10-08"), Some("1990-11-23")]),
            ),
            str_col(ind::SEX, s(&["f", "m", "f", "m"])),
            opt_str_col(ind::KATO, o(&[Some("751110000"), None, Some("711210000"), Some("791610000")])),
            date_col(ind::DEATH_DATE, dates(&[None, Some("2026-05-20"), None, None])),
            date_col(ind::DECLARED_DEAD_ON, none4()),
            date_col(ind::MISSING_DECLARED_ON, none4()),
            date_col(ind::EMIGRATED_ON, none4()),
            date_col(ind::INCAPABLE_FROM, dates(&[None, None, Some("2019-01-01"), None])),
            date_col(ind::INCAPABLE_UNTIL, dates(&[None, None, Some("2021-01-01"), None])),
            date_col(ind::IMPRISONED_FROM, none4()),
            date_col(ind::IMPRISONED_UNTIL, none4()),
        ]),
    );
    t.insert(
        ca::SPEC.name,
        frame(vec![
            str_col(ca::ACT_ID, s(&["A1", "A2"])),
            str_col(ca::IIN, s(&[P3, P4])),
            str_col(ca::ACT_TYPE, s(&["death", "name_change"])),
            date_col(ca::ACT_DATE, dates(&[Some("2026-05-20"), Some("2026-02-10")])),
            datetime_col(
                ca::REGISTERED_AT,
                vec![almaty_at(d("2026-05-21"), 40_000), almaty_at(d("2026-02-11"), 40_000)],
            ),
            opt_str_col(ca::OLD_FULL_NAME, o(&[None, Some("Ахметова Әлия Серікқызы")])),
            opt_str_col(ca::NEW_FULL_NAME, o(&[None, Some("Омарова Әлия Серікқызы")])),
        ]),
    );
    t.insert(
        mb::SPEC.name,
        frame(vec![
            str_col(mb::IIN, s(&[P1, P1])),
            str_col(mb::PHONE, s(&["+77011234567", "+77771234567"])),
            datetime_col(
                mb::REGISTERED_AT,
                vec![almaty_at(d("2019-01-01"), 0), almaty_at(d("2023-01-01"), 0)],
            ),
            str_col(mb::STATUS, s(&["inactive", "active"])),
        ]),
    );
    t
}

/// Writes tables as a snapshot folder.
pub fn write_snapshot(dir: &Path, tables: &BTreeMap<&'static str, DataFrame>) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, df) in tables {
        let mut df = df.clone();
        write_parquet(&mut df, &dir.join(format!("{name}.parquet"))).unwrap();
    }
}

pub fn table(name: &str) -> &'static TableSpec {
    sdu::registry::TABLES.iter().find(|t| t.name == name).copied().unwrap()
}

/// Runs the `sdu` binary with arguments; returns its output.
pub fn sdu(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args(args)
        .current_dir(cwd)
        .env("SDU_LOG", "warn")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `root` (manifests aside: their run fields differ) with its digest.
/// The paths whose content differs (or that exist on one side only).
pub fn diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
}

/// Every file below `root`, sorted.
pub fn files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// Every file under `root` (manifests and the lock aside: their run fields differ; and the
/// ledger's caches, `.compact/`, derived and rewritten whenever a run reads enough new files;
/// and the staged store, `staged/`, a cache of the registries tested in `store`) with its
/// digest.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    let skip = |p: &Path| {
        p.file_name().is_some_and(|n| n == "manifest.json" || n == ".sdu.lock")
            || p.components().any(|c| c.as_os_str() == ".compact" || c.as_os_str() == "staged")
    };
    files(root)
        .into_iter()
        .filter(|p| !skip(p))
        .map(|p| {
            let digest: String =
                Sha256::digest(std::fs::read(&p).unwrap()).iter().map(|b| format!("{b:02x}")).collect();
            (p.strip_prefix(root).unwrap().display().to_string(), digest)
        })
        .collect()
}
