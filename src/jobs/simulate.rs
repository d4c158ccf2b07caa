//! A stand-in for the portal's replies, clearly labelled as such (every row's `source` is
//! `simulated-portal`), so the whole loop runs without the portal.
//!
//! The response model (defaults in [`Model`]) is plausible, not measured: Kazakhstan's
//! Digital Family Card proactive SMS offers were accepted by roughly 52–57 % of recipients in
//! 2025; SMS surveys see 20–50 % respond at all; a reminder recovers a minority of the
//! silent; some replies are malformed, some arrive late.

use crate::campaign::short_hash;
use crate::io;
use crate::rng::Rng;
use chrono::{Duration, NaiveDateTime};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// Whether `path` is a reply file this simulator wrote (its rows carry `source`), and so may
/// be replaced by another run of it.
pub fn is_simulated(path: &Path) -> bool {
    let Ok(p) = PlRefPath::try_from_path(path) else { return false };
    LazyFrame::scan_parquet(p, ScanArgsParquet::default())
        .and_then(|mut lf| lf.collect_schema())
        .is_ok_and(|schema| schema.contains("source"))
}

/// The `source` of every simulated reply.
pub const SOURCE: &str = "simulated-portal";

/// Shares of the response model.
pub struct Model {
    pub reply_first: f64,
    pub reply_second: f64,
    pub accept: f64,
    pub decline: f64,
    /// The rest of the answers are malformed; this share of their senders then sends a
    /// valid answer.
    pub retry_after_invalid: f64,
    pub with_message_id: f64,
    /// Median reply latency in hours (log-normal, sigma 1.3).
    pub median_hours: f64,
}

pub const MODEL: Model = Model {
    reply_first: 0.55,
    reply_second: 0.25,
    accept: 0.86,
    decline: 0.09,
    retry_after_invalid: 0.6,
    with_message_id: 0.7,
    median_hours: 2.0,
};

const ACCEPT_TEXTS: &[&str] = &["1", "1", "1", " 1", "1.", "Иә", "иә", "да", "Да", "келісемін", "１", "1!"];
const DECLINE_TEXTS: &[&str] = &["2", "2", "2", "Жоқ", "нет", "келіспеймін", "２", "2."];
const INVALID_TEXTS: &[&str] = &["?", "Кім бұл?", "3", "не понял", "ok?", "1 2", "Бұл не?", "STOP"];

/// The simulated replies to one message: (received_at, text, with message id).
pub fn replies_to(
    seed: u64,
    message_id: &str,
    send_no: i32,
    sent_at: NaiveDateTime,
) -> Vec<(NaiveDateTime, String, bool)> {
    let m = &MODEL;
    let key = u64::from_str_radix(&short_hash(message_id)[..15], 16).unwrap_or(0);
    let mut r = Rng::keyed(seed, 900 + send_no as u64, key);
    let p = if send_no == 1 { m.reply_first } else { m.reply_second };
    if !r.chance(p) {
        return vec![];
    }
    // Log-normal latency via Box–Muller.
    let (u1, u2) = (r.f64().max(1e-12), r.f64());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let hours = m.median_hours * (1.3 * z).exp();
    let at = sent_at + Duration::seconds((hours * 3600.0) as i64 + 30);
    let with_id = r.chance(m.with_message_id);
    let x = r.f64();
    if x < m.accept {
        vec![(at, r.pick(ACCEPT_TEXTS).to_string(), with_id)]
    } else if x < m.accept + m.decline {
        vec![(at, r.pick(DECLINE_TEXTS).to_string(), with_id)]
    } else {
        let mut out = vec![(at, r.pick(INVALID_TEXTS).to_string(), with_id)];
        if r.chance(m.retry_after_invalid) {
            let text = if r.chance(0.85) { r.pick(ACCEPT_TEXTS) } else { r.pick(DECLINE_TEXTS) };
            out.push((at + Duration::minutes(r.range(2, 40)), text.to_string(), with_id));
        }
        out
    }
}

/// Writes the simulated replies to every message of the outboxes received by `as_of`.
pub fn simulate(outboxes: &[PathBuf], as_of: NaiveDateTime, seed: u64, out: &Path) -> anyhow::Result<usize> {
    let (mut ids, mut phones, mut times, mut texts) = (vec![], vec![], vec![], vec![]);
    for f in outboxes {
        let not_an_outbox = |e: PolarsError| {
            tracing::debug!("{}: {e}", f.display());
            anyhow::anyhow!(
                "{}: not an sms_outbox file (expected message_id, phone, send_no and sent_at)",
                f.display()
            )
        };
        let df = LazyFrame::scan_parquet(
            PlRefPath::try_from_path(f).map_err(not_an_outbox)?,
            ScanArgsParquet::default(),
        )
        .and_then(|lf| {
            lf.select([col("message_id"), col("phone"), col("send_no"), col("sent_at").cast(DataType::Int64)])
                .collect()
        })
        .map_err(not_an_outbox)?;
        let (m, p, n, s) = (
            df.column("message_id")?.str()?,
            df.column("phone")?.str()?,
            df.column("send_no")?.i32()?,
            df.column("sent_at")?.i64()?,
        );
        for i in 0..df.height() {
            let (Some(mid), Some(phone), Some(no), Some(sent)) = (m.get(i), p.get(i), n.get(i), s.get(i))
            else {
                continue;
            };
            let sent = crate::time::from_micros(sent).unwrap_or_default();
            for (at, text, with_id) in replies_to(seed, mid, no, sent) {
                if at <= as_of {
                    ids.push(with_id.then(|| mid.to_string()));
                    phones.push(phone.to_string());
                    times.push(crate::time::almaty_micros(at));
                    texts.push(text);
                }
            }
        }
    }
    let n = ids.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("message_id".into(), ids),
            Column::new("phone".into(), phones),
            crate::frames::almaty_datetimes("received_at", times),
            Column::new("text".into(), texts),
            Column::new("source".into(), vec![SOURCE; n]),
        ],
    )?;
    df.sort_in_place(["received_at", "phone"], SortMultipleOptions::default())?;
    io::write_parquet_atomic(&mut df, out)?;
    // The simulator knows every reply up to `as_of`: its files say so.
    write_complete_until(out, as_of)?;
    Ok(n)
}

/// Writes a reply file's sidecar with its watermark (the simulator's files state theirs).
pub fn write_complete_until(file: &Path, until: chrono::NaiveDateTime) -> Result<(), crate::io::IoError> {
    let zoned = chrono::TimeZone::from_local_datetime(&chrono_tz::Asia::Almaty, &until)
        .earliest()
        .expect("Asia/Almaty has no gaps");
    let json = serde_json::json!({ "complete_until": zoned.to_rfc3339() });
    crate::io::write_json_atomic(&json, &crate::campaign::inbox::manifest_path(file))
}
