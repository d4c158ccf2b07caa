//! `sdu dispatch`: the first SMS of every offered case not yet dispatched (seed 000, §9–§11).

use super::campaign_common::load;
use crate::campaign::{files, log, log::Step};
use crate::config::load_pilots;
use crate::io;
use crate::pipeline::numbers::latest_numbers;
use crate::publish::{InputEntry, Manifest, RunFolder};
use crate::registry::{mobile_base as mb, Snapshot, Staged};
use anyhow::Context;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::path::PathBuf;

/// Put the first SMS of every offered case into the portal's outbox.
///
/// Looks up each recipient's latest active number in МАБ; a case without one ends as
/// `no_mobile` (or the pilot's routing). Publishes `<out>/<as-of>/dispatch/` atomically and
/// records every case's step in the ledger.
///
/// Example:
///   sdu dispatch --snapshot data/worlds/small --as-of 2026-11-23 --out out
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The snapshot folder (МАБ numbers are read from it).
    #[arg(long)]
    pub snapshot: PathBuf,
    /// The day to send (YYYY-MM-DD); SMS go out at --send-at, Asia/Almaty.
    #[arg(long, value_parser = super::parse_date)]
    pub as_of: NaiveDate,
    /// Where the run folders and the case ledger live.
    #[arg(long)]
    pub out: PathBuf,
    /// Local time the SMS go out.
    #[arg(long, default_value = "09:00", value_parser = |s: &str| chrono::NaiveTime::parse_from_str(s, "%H:%M").map_err(|e| e.to_string()))]
    pub send_at: chrono::NaiveTime,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let snapshot = Snapshot::open(&args.snapshot).map_err(|e| super::UsageError(e.to_string()))?;
    let pilots = load_pilots(args.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    let summary = execute(&snapshot, &args.out, args.as_of.and_time(args.send_at), &pilots)?;
    println!("{summary}");
    Ok(())
}

/// Dispatches at `at`; returns a one-line summary.
pub fn execute(
    snapshot: &Snapshot,
    out: &std::path::Path,
    at: chrono::NaiveDateTime,
    pilots: &[crate::config::Pilot],
) -> anyhow::Result<String> {
    let mobile = snapshot.stage(&mb::SPEC)?;
    execute_with(snapshot, &mobile, out, at, pilots)
}

/// As [`execute`], with МАБ already staged.
pub fn execute_with(
    snapshot: &Snapshot,
    mobile: &Staged,
    out: &std::path::Path,
    at: chrono::NaiveDateTime,
    pilots: &[crate::config::Pilot],
) -> anyhow::Result<String> {
    let started = chrono::Utc::now();
    let mut campaign = load(out, pilots, at, Step::Dispatch)?;
    let waiting: Vec<String> = campaign
        .cases
        .values()
        .filter(|c| c.state == crate::campaign::state::State::Offered)
        .map(|c| c.offer.iin.clone())
        .collect();
    let numbers = crate::pipeline::collect_streaming(latest_numbers(mobile.frame.clone(), &waiting, at))
        .map_err(anyhow::Error::from)
        .context("looking up МАБ numbers")?;
    let phones: HashMap<String, String> = numbers
        .column(mb::IIN)?
        .str()?
        .iter()
        .zip(numbers.column(mb::PHONE)?.str()?.iter())
        .filter_map(|(i, p)| Some((i?.to_string(), p?.to_string())))
        .collect();
    let (events, sms) = campaign.dispatch(&phones, at)?;
    let mut outbox = files::outbox(&campaign, &sms, pilots)?;

    let target = out.join(at.date().to_string()).join("dispatch");
    let mut folder = RunFolder::new(&target)?;
    folder.parquet("sms_outbox.parquet", &mut outbox)?;
    folder.csv("sms_outbox.csv", &outbox)?;
    let path = snapshot.path(&mb::SPEC);
    let inputs = vec![InputEntry {
        file: mb::SPEC.file_name(),
        sha256: io::sha256_file(&path)?,
        rows: mobile.rows,
        left_out: mobile.left_out,
    }];
    folder.publish(Manifest::new(
        started,
        at.to_string(),
        None,
        snapshot.dir().display().to_string(),
        inputs,
    ))?;
    io::fail_point("dispatch:before-ledger")?;
    // A run that changed nothing leaves no file (and a re-run that now changes nothing
    // removes the one it wrote before).
    io::write_or_remove(&mut log::frame(&events)?, &log::file(out, at, Step::Dispatch))?;
    let no_number = events.iter().filter(|e| e.kind == crate::campaign::Kind::NoNumber).count();
    Ok(format!("dispatched at {at}: {} SMS, {no_number} without a number → {}", sms.len(), target.display()))
}
