//! `sdu advance`: replies and deadlines up to a time (seed 000, §12–§15).

use super::args::{JsonArg, OutArg, PilotsArg, RepliesArg};
use crate::jobs::advance::advance;
use crate::time::parse_time;
use chrono::NaiveDateTime;

/// Read the portal's replies and the clock: decisions, resends, timeouts.
///
/// Replies are matched by message id (sent to that number, before the reply), or by phone to
/// the open case texted last (else the decided case texted last: the reply is late). The first
/// valid reply decides; invalid ones are counted, late ones recorded. 72 hours (the pilot's
/// window) after the first SMS without a decision the second goes out; 72 hours after it,
/// the case times out. Accepted cases become e-license re-issue requests. A failed or
/// expired SMS (--delivery) goes again to the recipient's next active number at the next
/// 09:00, else the case is undeliverable; e-license's answers (--confirmations) publish the
/// SDU write-back of each re-issued permit.
///
/// Example:
///   sdu advance --out out --as-of 2026-11-26T09:00 --replies replies.parquet \
///     --delivery delivery.parquet --confirmations confirmations.parquet
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub out: OutArg,
    /// The time to advance to: YYYY-MM-DDTHH:MM (Asia/Almaty), an RFC 3339 time with its
    /// offset (2026-11-26T09:00:00+05:00), or a date for 09:00.
    #[arg(long, value_parser = parse_time, env = "SDU_ADVANCE_AS_OF")]
    pub as_of: NaiveDateTime,
    #[command(flatten)]
    pub replies: RepliesArg,
    #[command(flatten)]
    pub pilots: PilotsArg,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let pilots = args.pilots.load()?;
    let replies = args.replies.resolve()?;
    let out = args.out.open_existing()?;
    let summary = advance(&out.path, args.as_of, &replies, &pilots, args.replies.options())?;
    args.json.print(&summary, |s| vec![s.to_string()])
}
