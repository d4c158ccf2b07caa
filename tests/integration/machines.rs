//! What schedulers and scripts rely on: every command's `--json` is one JSON document on
//! stdout (a failure too), every option can come from the environment, and the published
//! files carry their contract (`datapackage.json`, zoned times, `.xlsx` with text ids).

use crate::common::{sdu, stderr, stdout};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `sdu … --json`; returns the exit code and the one JSON document stdout holds.
fn json(args: &[&str], dir: &Path) -> (i32, Value) {
    let mut with = args.to_vec();
    with.push("--json");
    let o = sdu(&with, dir);
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{args:?}: stdout is not one JSON document ({e}):\n{}{}", stdout(&o), stderr(&o))
    });
    (o.status.code().unwrap(), doc)
}

fn ok(args: &[&str], dir: &Path) -> Value {
    let (code, doc) = json(args, dir);
    assert_eq!(code, 0, "{args:?}: {doc}");
    assert!(doc.get("error").is_none(), "{args:?}: {doc}");
    doc
}

fn sdu_env(args: &[&str], env: &[(&str, &str)], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdu"))
        .args(args)
        .envs(env.iter().copied())
        .env("SDU_LOG", "warn")
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn every_command_speaks_json_and_every_failure_too() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let synth = ok(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--as-of", "2026-11-23"], dir);
    assert_eq!(synth["sizes"]["legal_entities"], 200, "{synth}");
    assert_eq!(synth["rows"].as_object().unwrap().len(), 7, "{synth}");
    assert!(synth["planted"].as_object().unwrap().values().any(|v| v.as_u64() > Some(0)));
    assert!(ok(&["synth", "--out", "c", "--scale", "tiny", "--clean"], dir)["planted"]
        .as_object()
        .unwrap()
        .is_empty());

    // A validation that finds errors fails (exit 1) and still gives its rules, in one object.
    let (code, v) = json(&["validate", "--snapshot", "w"], dir);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["exit_code"], 1);
    assert!(v["error"].as_str().unwrap().contains("rows fail error-severity rules"), "{v}");
    assert!(v["summary"]["error_rows"].as_u64().unwrap() > 0, "{v}");
    assert!(v["summary"]["results"].as_array().unwrap().len() > 20, "{v}");
    assert_eq!(ok(&["validate", "--snapshot", "c"], dir)["error_rows"], 0);

    let c = ok(&["candidates", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"], dir);
    assert_eq!(c["as_of"], "2026-11-10", "{c}");
    let d = ok(&["dispatch", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"], dir);
    assert_eq!(d["at"], "2026-11-10T09:00:00+05:00", "dispatch's time carries its offset: {d}");
    let outbox = "out/2026-11-10/dispatch/sms_outbox.parquet";
    let s = ok(
        &[
            "simulate-portal",
            "--outbox",
            outbox,
            "--as-of",
            "2026-11-16T09:00",
            "--out",
            "r.parquet",
            "--delivery-out",
            "d.parquet",
        ],
        dir,
    );
    assert_eq!((s["simulated"].as_bool(), s["of"].as_str()), (Some(true), Some("portal")), "{s}");
    assert_eq!(s["as_of"], "2026-11-16T09:00:00+05:00");
    assert!(s["replies"]["rows"].as_u64().unwrap() > 0, "{s}");
    let a = ok(
        &[
            "advance",
            "--out",
            "out",
            "--as-of",
            "2026-11-13T09:00",
            "--replies",
            "r.parquet",
            "--delivery",
            "d.parquet",
        ],
        dir,
    );
    assert_eq!(a["as_of"], "2026-11-13T09:00:00+05:00", "{a}");
    assert_eq!(a["decided_until"], "2026-11-13T09:00:00+05:00", "{a}");
    let requests = "out/2026-11-13/advance-0900/elicense_requests.parquet";
    let e = ok(
        &["simulate-elicense", "--requests", requests, "--as-of", "2026-11-16T09:00", "--out", "c.parquet"],
        dir,
    );
    assert_eq!(e["of"], "elicense", "{e}");
    let st = ok(&["campaign", "status", "--out", "out"], dir);
    assert!(st["cases"]["sanitary"].is_object(), "{st}");
    // One case's history, typed: times with their offset, the recipient and phones masked.
    let recipients = std::fs::read_to_string(dir.join("out/2026-11-10/sanitary/recipients.csv")).unwrap();
    let case_id = recipients.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
    let h = ok(&["campaign", "status", "--out", "out", "--case", &case_id], dir);
    assert_eq!(h["case_id"], case_id.as_str(), "{h}");
    assert!(h["recipient"].as_str().unwrap().contains("******"), "{h}");
    let events = h["events"].as_array().unwrap();
    assert!(
        !events.is_empty() && events.iter().all(|e| e["at"].as_str().unwrap().ends_with("+05:00")),
        "{h}"
    );
    let o = sdu(&["campaign", "status", "--out", "out", "--csv", "--pilot", "sanitary"], dir);
    let csv = stdout(&o);
    assert_eq!(csv.lines().next(), Some("pilot,state,cases"), "{csv}");
    let accepted = st["cases"]["sanitary"]["accepted"].as_u64().unwrap();
    assert!(csv.lines().any(|l| l == format!("sanitary,accepted,{accepted}")), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.starts_with("sanitary,")), "{csv}");
    let r = ok(&["report", "--out", "out", "--as-of", "2026-11-13"], dir);
    assert!(r.is_object(), "{r}");
    // A BIN of the day's outcomes (the CSV's 2nd field after pilot, event_id, event_kind).
    let outcomes = std::fs::read_to_string(dir.join("out/audit/2026-11-10/sanitary/outcomes.csv")).unwrap();
    let bin = outcomes.lines().skip(1).map(|l| l.split(',').nth(3).unwrap()).find(|b| b.len() == 12).unwrap();
    let ex = ok(&["explain", "--snapshot", "w", "--as-of", "2026-11-10", "--bin", bin, "--out", "out"], dir);
    assert!(ex.is_array() && !ex.as_array().unwrap().is_empty(), "{ex}");
    let run = ok(&["run", "--snapshot", "w", "--as-of", "2026-11-14", "--out", "out", "--no-report"], dir);
    assert_eq!(run["as_of"], "2026-11-14", "{run}");
    let schema = ok(&["schema", "--table", "recipients"], dir);
    assert_eq!(schema["path"], "recipients.csv");

    // backfill: one JSON line per day, then the totals; each line parses.
    let o = sdu(
        &[
            "backfill",
            "--snapshot",
            "c",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-03",
            "--out",
            "bf",
            "--simulate-portal",
            "--json",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    assert_eq!(lines.len(), 4, "{}", stdout(&o));
    assert_eq!(lines[0]["as_of"], "2026-11-01");
    assert_eq!(lines[3]["to"], "2026-11-03");

    let demo = ok(
        &[
            "demo",
            "--dir",
            "demo",
            "--reports",
            "rep",
            "--scale",
            "tiny",
            "--from",
            "2026-11-20",
            "--to",
            "2026-11-23",
        ],
        dir,
    );
    assert_eq!(demo["simulated"], true, "{demo}");
    assert!(demo["cases"]["cases"].is_object(), "{demo}");

    // Usage errors: the arguments do not parse, or a value is wrong; both exit 2 as JSON.
    let (code, bad) = json(&["candidates", "--snapshot", "w", "--as-of", "yesterday", "--out", "out"], dir);
    assert_eq!((code, bad["exit_code"].as_i64()), (2, Some(2)), "{bad}");
    let (code, bad) =
        json(&["demo", "--dir", "d2", "--scale", "tiny", "--from", "2026-11-23", "--to", "2026-11-20"], dir);
    assert_eq!(code, 2, "{bad}");
    assert!(!dir.join("d2/world").exists(), "nothing generated for a wrong range");
    let (code, bad) = json(&["candidates", "--snapshot", "w", "--as-of", "2026-11-1", "--out", "out"], dir);
    assert_eq!(code, 2, "a date not in YYYY-MM-DD form: {bad}");
    let (code, bad) = json(&["report", "--out", "out", "--as-of", "2026-11-13", "--from", "2026-11-20"], dir);
    assert_eq!(code, 2, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("is after --as-of"), "{bad}");
    let (code, bad) = json(&["schema", "--table", "nosuch"], dir);
    assert_eq!(code, 2, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("no such table"), "{bad}");
}

#[test]
fn every_option_can_come_from_the_environment_and_the_flag_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let synth = [
        ("SDU_SYNTH_OUT", "w"),
        ("SDU_SYNTH_SCALE", "tiny"),
        ("SDU_SYNTH_SEED", "3"),
        ("SDU_SYNTH_CLEAN", "yes"),
        ("SDU_JSON", "1"),
    ];
    let o = sdu_env(&["synth"], &synth, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["seed"].as_u64(), v["dirty_rate"].as_f64()), (Some(3), Some(0.0)), "{v}");
    assert!(v["planted"].as_object().unwrap().is_empty(), "SDU_SYNTH_CLEAN=yes: {v}");
    let env =
        [("SDU_SNAPSHOT", "w"), ("SDU_OUT", "out"), ("SDU_AS_OF", "2026-11-10"), ("SDU_PILOT", "sanitary")];
    let o = sdu_env(&["candidates"], &env, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("out/2026-11-10/sanitary/_SUCCESS").is_file());
    // The flag wins over the variable.
    let o = sdu_env(&["candidates", "--as-of", "2026-11-11"], &env, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.join("out/2026-11-11/sanitary/_SUCCESS").is_file());
    // A variable with a bad value is a usage error that names it.
    let o =
        sdu_env(&["candidates"], &[("SDU_AS_OF", "soon"), ("SDU_SNAPSHOT", "w"), ("SDU_OUT", "out")], dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("environment variable SDU_AS_OF"), "{}", stderr(&o));
    let o = sdu_env(&["synth", "--json"], &[("SDU_SYNTH_SEED", "abc"), ("SDU_SYNTH_OUT", "z")], dir);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("SDU_SYNTH_SEED"), "{v}");
    // Typed on the command line, the flag is named, not a variable.
    let o = sdu_env(&["synth", "--seed", "abc", "--out", "z"], &[("SDU_SYNTH_SEED", "abc")], dir);
    assert!(!stderr(&o).contains("environment variable"), "{}", stderr(&o));
    // A variable set to nothing is unset: no JSON, and the command runs.
    let o = sdu_env(&["campaign", "status", "--out", "out"], &[("SDU_JSON", ""), ("SDU_PILOT", "")], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("state"), "{}", stdout(&o));
    // An exported SDU_JSON does not stop --csv.
    let o = sdu_env(&["campaign", "status", "--out", "out", "--csv"], &[("SDU_JSON", "1")], dir);
    assert!(stdout(&o).starts_with("pilot,state,cases"), "{}{}", stdout(&o), stderr(&o));
    // Several files from one variable, comma-separated.
    let o = sdu(&["dispatch", "--snapshot", "w", "--as-of", "2026-11-10", "--out", "out"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let outbox = "out/2026-11-10/dispatch/sms_outbox.parquet";
    let env = [
        ("SDU_SIMULATE_OUTBOX", format!("{outbox},{outbox}")),
        ("SDU_SIMULATE_AS_OF", "2026-11-12T09:00".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = sdu_env(&["simulate-portal", "--out", "r.parquet"], &env, dir);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The published folders carry their data package, CSV for every table, `.xlsx` for the
/// lists, and zoned times; the manifest lists them all.
#[test]
fn every_table_is_published_in_every_form_with_its_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(sdu(&["synth", "--out", "w", "--scale", "tiny", "--seed", "3", "--clean"], dir).status.success());
    let o = sdu(
        &[
            "backfill",
            "--snapshot",
            "w",
            "--from",
            "2026-11-05",
            "--to",
            "2026-11-12",
            "--out",
            "out",
            "--simulate-portal",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pilot = dir.join("out/2026-11-10/sanitary");
    for f in ["organizations", "recipients"] {
        for ext in ["parquet", "csv", "xlsx"] {
            assert!(pilot.join(format!("{f}.{ext}")).is_file(), "{f}.{ext}");
        }
    }
    let audit = dir.join("out/audit/2026-11-10/sanitary");
    assert!(audit.join("outcomes.csv").is_file() && !pilot.join("outcomes.csv").exists());
    let package: Value =
        serde_json::from_slice(&std::fs::read(pilot.join("datapackage.json")).unwrap()).unwrap();
    let paths: Vec<&str> =
        package["resources"].as_array().unwrap().iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["organizations.csv", "recipients.csv"]);
    let audit_package: Value =
        serde_json::from_slice(&std::fs::read(audit.join("datapackage.json")).unwrap()).unwrap();
    assert_eq!(audit_package["resources"][0]["path"], "outcomes.csv");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(pilot.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&str> =
        manifest["outputs"].as_array().unwrap().iter().map(|o| o["file"].as_str().unwrap()).collect();
    for f in ["organizations.xlsx", "recipients.csv", "datapackage.json"] {
        assert!(listed.contains(&f), "{f} not in the manifest: {listed:?}");
    }
    // Each CSV's recorded hash is its bytes' (the package and the manifest agree).
    let recipients = &package["resources"][1];
    let sha = sdu::io::sha256_file(&pilot.join("recipients.csv")).unwrap();
    assert_eq!(recipients["hash"], format!("sha256:{sha}"));
    assert!(manifest["run"]["started_at"].as_str().unwrap().ends_with("+05:00"), "{manifest}");

    // Every advance folder: each table as Parquet and CSV; times zoned in both.
    let advance = dir.join("out/2026-11-12/advance-0900");
    for t in [
        "sms_outbox",
        "elicense_requests",
        "sdu_writeback",
        "replies_quarantine",
        "replies_unmatched",
        "reports_unmatched",
    ] {
        assert!(advance.join(format!("{t}.csv")).is_file(), "{t}.csv");
    }
    use polars::prelude::SerReader;
    let file = std::fs::File::open(advance.join("sms_outbox.parquet")).unwrap();
    let df = polars::prelude::ParquetReader::new(file).finish().unwrap();
    assert_eq!(df.column("sent_at").unwrap().dtype().to_string(), "datetime[μs, Asia/Almaty]");
    let csv = std::fs::read_to_string(dir.join("out/2026-11-10/dispatch/sms_outbox.csv")).unwrap();
    assert!(csv.contains(",2026-11-10T09:00:00+05:00,2026-11-13T09:00:00+05:00"), "{csv}");
    let summary = std::fs::read_to_string(advance.join("advance.json")).unwrap();
    assert!(summary.contains("\"as_of\": \"2026-11-12T09:00:00+05:00\""), "{summary}");
}
