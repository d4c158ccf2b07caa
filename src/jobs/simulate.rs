//! Stand-ins for the portal (replies and delivery reports) and for e-license (answers to
//! re-issue requests), clearly labelled as such (every row's `source` is
//! `simulated-portal` or `simulated-elicense`), so the whole loop runs without them.
//!
//! The response model (defaults in [`Model`]) is plausible, not measured: Kazakhstan's
//! Digital Family Card proactive SMS offers were accepted by roughly 52–57 % of recipients in
//! 2025; SMS surveys see 20–50 % respond at all; a reminder recovers a minority of the
//! silent; some replies are malformed, some arrive late. Delivery ([`DELIVERY`]): SMS
//! gateways report most messages delivered within seconds, a few percent failed (numbers
//! out of service) and a few expired after the validity period (phones switched off); a
//! message that was not delivered gets no reply. e-license ([`ELICENSE`]) answers a request
//! within one to three working days, re-issuing nearly all.

use crate::campaign::{short_hash, DeliveryStatus};
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

/// The delivery model.
pub struct DeliveryModel {
    pub delivered: f64,
    /// Of the rest, this share failed; the others expired.
    pub failed_of_rest: f64,
    /// Hours a gateway keeps trying before it reports a message expired.
    pub validity_hours: i64,
}

pub const DELIVERY: DeliveryModel =
    DeliveryModel { delivered: 0.93, failed_of_rest: 0.6, validity_hours: 24 };

/// What the portal reports of one message, and when.
pub fn delivery_of(seed: u64, message_id: &str, sent_at: NaiveDateTime) -> (DeliveryStatus, NaiveDateTime) {
    let key = u64::from_str_radix(&short_hash(message_id)[..15], 16).unwrap_or(0);
    let mut r = Rng::keyed(seed, 800, key);
    if r.chance(DELIVERY.delivered) {
        (DeliveryStatus::Delivered, sent_at + Duration::seconds(r.range(3, 90)))
    } else if r.chance(DELIVERY.failed_of_rest) {
        (DeliveryStatus::Failed, sent_at + Duration::seconds(r.range(5, 180)))
    } else {
        (DeliveryStatus::Expired, sent_at + Duration::hours(DELIVERY.validity_hours))
    }
}

/// The simulated replies to one message: (received_at, text, with message id); none to a
/// message that was not delivered.
pub fn replies_to(
    seed: u64,
    message_id: &str,
    send_no: i32,
    sent_at: NaiveDateTime,
) -> Vec<(NaiveDateTime, String, bool)> {
    let m = &MODEL;
    let (status, delivered_at) = delivery_of(seed, message_id, sent_at);
    if status != DeliveryStatus::Delivered {
        return vec![];
    }
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
    let at = delivered_at + Duration::seconds((hours * 3600.0) as i64 + 30);
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

/// Writes the simulated replies to every message of the outboxes received by `as_of` to
/// `out`, and, given `delivery`, the delivery reports made by then to it; each with its
/// sidecar stating that it is complete up to `as_of`. The numbers of replies and reports.
pub fn simulate(
    outboxes: &[PathBuf],
    as_of: NaiveDateTime,
    seed: u64,
    out: &Path,
    delivery: Option<&Path>,
) -> anyhow::Result<(usize, usize)> {
    let (mut ids, mut phones, mut times, mut texts) = (vec![], vec![], vec![], vec![]);
    let (mut reported, mut statuses, mut report_times) = (vec![], vec![], vec![]);
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
        .and_then(|lf| lf.select([col("message_id"), col("phone"), col("send_no"), col("sent_at")]).collect())
        .map_err(not_an_outbox)?;
        let (m, p, n, s) = (
            df.column("message_id")?.str()?,
            df.column("phone")?.str()?,
            df.column("send_no")?.i32()?,
            crate::frames::wall_clock_times(df.column("sent_at")?)?,
        );
        for (i, sent) in s.into_iter().enumerate() {
            let (Some(mid), Some(phone), Some(no), Some(sent)) = (m.get(i), p.get(i), n.get(i), sent) else {
                continue;
            };
            let (status, at) = delivery_of(seed, mid, sent);
            if at <= as_of {
                reported.push(mid.to_string());
                statuses.push(status.code());
                report_times.push(crate::time::almaty_micros(at));
            }
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
    let reports = reported.len();
    if let Some(file) = delivery {
        let mut df = DataFrame::new(
            reports,
            vec![
                Column::new("message_id".into(), reported),
                Column::new("status".into(), statuses),
                crate::frames::almaty_datetimes("reported_at", report_times),
                Column::new("source".into(), vec![SOURCE; reports]),
            ],
        )?;
        df.sort_in_place(["reported_at", "message_id"], SortMultipleOptions::default())?;
        io::write_parquet_atomic(&mut df, file)?;
        write_complete_until(file, as_of)?;
    }
    Ok((n, reports))
}

/// The `source` of every simulated answer of e-license.
pub const ELICENSE_SOURCE: &str = "simulated-elicense";

/// The e-license model: the share of requests re-issued (the others are refused with one
/// of [`REFUSALS`]), and the working days an answer takes (uniform).
pub struct ElicenseModel {
    pub reissued: f64,
    pub working_days: (i64, i64),
}

pub const ELICENSE: ElicenseModel = ElicenseModel { reissued: 0.97, working_days: (1, 3) };

/// Why the simulated e-license refuses a request.
pub const REFUSALS: &[&str] = &["holder_data_mismatch", "permit_suspended"];

/// `days` working days (Monday to Friday) after `day`.
pub fn add_working_days(day: chrono::NaiveDate, days: i64) -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut d = day;
    let mut left = days;
    while left > 0 {
        d = d.succ_opt().expect("date in range");
        if d.weekday().number_from_monday() <= 5 {
            left -= 1;
        }
    }
    d
}

/// e-license's simulated answer to one request: when, and the new permit's number or the
/// reason of a refusal.
pub fn answer_to(
    seed: u64,
    request_id: &str,
    permit_id: &str,
    requested_at: NaiveDateTime,
) -> (NaiveDateTime, Result<String, String>) {
    let key = u64::from_str_radix(&short_hash(request_id)[..15], 16).unwrap_or(0);
    let mut r = Rng::keyed(seed, 700, key);
    let (lo, hi) = ELICENSE.working_days;
    let day = add_working_days(requested_at.date(), r.range(lo, hi + 1));
    let at = day.and_hms_opt(10, 0, 0).expect("valid time") + Duration::minutes(r.range(0, 8 * 60));
    if r.chance(ELICENSE.reissued) {
        // The same series as the old permit, a new number.
        let keep = permit_id.len().saturating_sub(7);
        (at, Ok(format!("{}{:07}", &permit_id[..keep], r.below(10_000_000))))
    } else {
        (at, Err(r.pick(REFUSALS).to_string()))
    }
}

/// Writes e-license's simulated answers, made by `as_of`, to the requests of these
/// `elicense_requests` files. The number of answers.
pub fn simulate_elicense(
    requests: &[PathBuf],
    as_of: NaiveDateTime,
    seed: u64,
    out: &Path,
) -> anyhow::Result<usize> {
    let (mut ids, mut statuses, mut new, mut reasons, mut times) = (vec![], vec![], vec![], vec![], vec![]);
    for f in requests {
        let not_requests = |e: PolarsError| {
            tracing::debug!("{}: {e}", f.display());
            anyhow::anyhow!(
                "{}: not an elicense_requests file (expected request_id, permit_id and requested_at or accepted_at)",
                f.display()
            )
        };
        let mut lf = LazyFrame::scan_parquet(
            PlRefPath::try_from_path(f).map_err(not_requests)?,
            ScanArgsParquet::default(),
        )
        .map_err(not_requests)?;
        // Requests published before `requested_at` was kept went out at the acceptance.
        let when = if lf.collect_schema().map_err(not_requests)?.contains("requested_at") {
            "requested_at"
        } else {
            "accepted_at"
        };
        let df = lf
            .select([col("request_id"), col("permit_id"), col(when).alias("at")])
            .collect()
            .map_err(not_requests)?;
        let (r, p, t) = (
            df.column("request_id")?.str()?,
            df.column("permit_id")?.str()?,
            crate::frames::wall_clock_times(df.column("at")?)?,
        );
        for (i, requested) in t.into_iter().enumerate() {
            let (Some(id), Some(permit), Some(requested)) = (r.get(i), p.get(i), requested) else { continue };
            let (at, result) = answer_to(seed, id, permit, requested);
            if at > as_of {
                continue;
            }
            ids.push(id.to_string());
            statuses.push(if result.is_ok() { "reissued" } else { "refused" });
            new.push(result.as_ref().ok().cloned());
            reasons.push(result.err());
            times.push(crate::time::almaty_micros(at));
        }
    }
    let n = ids.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("request_id".into(), ids),
            Column::new("status".into(), statuses),
            Column::new("new_permit_id".into(), new),
            Column::new("reason".into(), reasons),
            crate::frames::almaty_datetimes("answered_at", times),
            Column::new("source".into(), vec![ELICENSE_SOURCE; n]),
        ],
    )?;
    df.sort_in_place(["answered_at", "request_id"], SortMultipleOptions::default())?;
    io::write_parquet_atomic(&mut df, out)?;
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
