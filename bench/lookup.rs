//! Looking people up by key in `individuals`: a semi join against the key frame vs a filter
//! on a literal key set, for keys spread over the whole file and keys from one stretch of it
//! (which a file sorted by IIN with row-group statistics lets the scan skip to), beside a
//! full scan of the same columns. Medians of RUNS (default 5) in one process.
//!
//!     cargo run --release --example lookup -- ~/.cache/sdu-bench/country [keys]

use polars::prelude::*;
use sdu::frames::collect_streaming;
use sdu::registry::{individuals as ind, Snapshot};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir =
        args.next().unwrap_or_else(|| format!("{}/.cache/sdu-bench/country", std::env::var("HOME").unwrap()));
    let keys: usize = args.next().map(|k| k.parse()).transpose()?.unwrap_or(3000);
    let runs: usize = std::env::var("RUNS").ok().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let snap = Snapshot::open(std::path::Path::new(&dir))?;
    let columns = [
        ind::IIN,
        ind::SURNAME,
        ind::FIRST_NAME,
        ind::PATRONYMIC,
        ind::KATO,
        ind::DEATH_DATE,
        ind::DECLARED_DEAD_ON,
        ind::MISSING_DECLARED_ON,
        ind::EMIGRATED_ON,
        ind::INCAPABLE_FROM,
        ind::INCAPABLE_UNTIL,
        ind::IMPRISONED_FROM,
        ind::IMPRISONED_UNTIL,
    ];
    let people = || -> anyhow::Result<LazyFrame> {
        Ok(snap.scan(&ind::SPEC)?.select(columns.iter().map(|c| col(*c)).collect::<Vec<_>>()))
    };
    let rows = people()?.select([len()]).collect()?.column("len")?.u32()?.get(0).unwrap_or(0) as usize;
    let all_iins = collect_streaming(people()?.select([col(ind::IIN)]))?;
    let step = (rows / keys.max(1)).max(1);
    let every: Vec<IdxSize> = (0..rows).step_by(step).map(|i| i as IdxSize).collect();
    let spread = all_iins.take(&IdxCa::from_vec("i".into(), every))?;
    let clustered = all_iins.slice((rows / 2) as i64, spread.height());
    drop(all_iins);
    println!("individuals: {rows} rows; {} keys per lookup; {runs} runs, medians (s)", spread.height());
    println!(
        "{:<10} {:>10} {:>14} {:>10} {:>14}",
        "keys", "semi join", "is_in filter", "full scan", "semi / is_in"
    );
    let full = people()?.select(columns.iter().map(|c| col(*c).null_count()).collect::<Vec<_>>());
    for (name, set) in [("spread", &spread), ("clustered", &clustered)] {
        let frame = set.clone().lazy();
        let list = lit(set.column(ind::IIN)?.as_materialized_series().clone()).implode(false);
        let semi = people()?.join(frame, [col(ind::IIN)], [col(ind::IIN)], JoinArgs::new(JoinType::Semi));
        let filter = people()?.filter(col(ind::IIN).is_in(list, false));
        let (mut a, mut b, mut c) = (vec![], vec![], vec![]);
        for _ in 0..runs {
            for (plan, times) in [(&semi, &mut a), (&filter, &mut b), (&full, &mut c)] {
                let t = Instant::now();
                let found = collect_streaming(plan.clone())?;
                times.push(t.elapsed().as_secs_f64());
                assert!(found.height() > 0);
            }
        }
        let (a, b, c) = (median(a), median(b), median(c));
        println!("{name:<10} {a:>10.3} {b:>14.3} {c:>10.3} {:>14.2}", a / b);
    }
    Ok(())
}
