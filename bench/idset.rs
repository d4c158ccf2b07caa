//! Membership of identifiers in a registry's key set ([`sdu::registry::rules::IdSet`]), one
//! value at a time in the file's order against [`IdSet::contains_each`] (sorted lookups), for
//! the reference rules' probes: civil acts' and heads' IINs (the files' order is not the
//! IINs') and МАБ's (sorted by IIN), against `individuals.iin`. Chunks of `CHUNK` values
//! (default 100,000: the streaming engine's morsel). Medians of RUNS (default 5).
//!
//!     cargo run --release --example idset -- ~/.cache/sdu-bench/country

use polars::prelude::*;
use sdu::frames::collect_streaming;
use sdu::registry::rules::IdSet;
use sdu::registry::{civil_acts, heads, individuals, mobile_base, Snapshot, TableSpec};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn column(snap: &Snapshot, table: &TableSpec, name: &str) -> anyhow::Result<StringChunked> {
    let df = collect_streaming(snap.scan(table)?.select([col(name)]))?;
    Ok(df.column(name)?.str()?.rechunk().into_owned())
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("{}/.cache/sdu-bench/country", std::env::var("HOME").unwrap()));
    let runs: usize = std::env::var("RUNS").ok().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let chunk: usize = std::env::var("CHUNK").ok().map(|r| r.parse()).transpose()?.unwrap_or(100_000);
    let snap = Snapshot::open(std::path::Path::new(&dir))?;
    let clock = Instant::now();
    let set = IdSet::of(&column(&snap, &individuals::SPEC, individuals::IIN)?);
    println!(
        "individuals.iin: {} values, read and indexed in {:.2} s",
        set.len(),
        clock.elapsed().as_secs_f64()
    );
    println!("{:<18} {:>10} {:>12} {:>14} {:>8}", "probes", "values", "one by one", "contains_each", "ratio");
    for (table, name) in [
        (&civil_acts::SPEC, civil_acts::IIN),
        (&heads::SPEC, heads::IIN),
        (&mobile_base::SPEC, mobile_base::IIN),
    ] {
        let probes = column(&snap, table, name)?;
        let chunks: Vec<StringChunked> =
            (0..probes.len()).step_by(chunk).map(|at| probes.slice(at as i64, chunk)).collect();
        let (mut one, mut each) = (Vec::new(), Vec::new());
        let (mut hits_one, mut hits_each) = (0, 0);
        for _ in 0..runs {
            let clock = Instant::now();
            hits_one = chunks
                .iter()
                .flat_map(|c| c.iter().map(|v| v.is_some_and(|v| set.contains(v))))
                .filter(|b| *b)
                .count();
            one.push(clock.elapsed().as_secs_f64());
            let clock = Instant::now();
            hits_each = chunks.iter().flat_map(|c| set.contains_each(c)).filter(|b| *b).count();
            each.push(clock.elapsed().as_secs_f64());
        }
        assert_eq!(hits_one, hits_each, "both ways find the same values");
        let (one, each) = (median(one), median(each));
        println!(
            "{:<18} {:>10} {:>10.3} s {:>12.3} s {:>8.2}",
            format!("{}.{}", table.name, name),
            probes.len(),
            one,
            each,
            each / one
        );
    }
    Ok(())
}
