//! `sdu campaign status`: where every case stands, derived from the ledger.

use crate::campaign::{log, state::State, Campaign};
use crate::config::load_pilots;
use crate::ids::mask;
use crate::ledger;
use std::path::PathBuf;

/// The SMS campaign's cases.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    Status(StatusArgs),
}

/// Cases per pilot and state, or one case's history.
///
/// Example:
///   sdu campaign status --out out --pilot sanitary
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// Where the run folders and the case ledger live.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub pilot: Option<String>,
    /// Show one case's history.
    #[arg(long)]
    pub case: Option<String>,
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE")]
    pub pilots: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Sub::Status(a) = args.command;
    let pilots = load_pilots(a.pilots.as_deref()).map_err(|e| super::UsageError(format!("{e:#}")))?;
    let offers = ledger::to_offers(&ledger::offers_until(&a.out, chrono::NaiveDate::MAX)?)?;
    let campaign = Campaign::load(offers, log::read_all(&a.out)?, &pilots)?;
    if let Some(id) = &a.case {
        let case = campaign
            .cases
            .get(id)
            .ok_or_else(|| super::UsageError(format!("no case {id} in {}", a.out.display())))?;
        let o = &case.offer;
        println!(
            "case {id}: pilot {}, event {}, offered on {}, now {}",
            o.pilot,
            o.event_id,
            o.offered_on,
            case.state.code()
        );
        println!(
            "  recipient {}{}",
            mask(&o.iin),
            o.bin.as_ref().map(|b| format!(", organization {b}")).unwrap_or_default()
        );
        for e in &case.history {
            let mut line = format!("  {}  {:<15}", e.at, e.kind.code());
            if let Some(n) = e.send_no {
                line.push_str(&format!(" SMS {n} to {}", mask(e.phone.as_deref().unwrap_or(""))));
            }
            if let Some(d) = e.due_by {
                line.push_str(&format!(", reply due by {d}"));
            }
            if let Some(t) = &e.reply_text {
                line.push_str(&format!(" reply {:?}", t.chars().take(40).collect::<String>()));
            }
            if let Some(s) = e.state_after {
                line.push_str(&format!(" → {}", s.code()));
            }
            println!("{line}");
        }
        return Ok(());
    }
    for line in status_lines(&a.out, &pilots)? {
        if a.pilot.as_ref().is_none_or(|p| {
            line.starts_with("pilot") || line.starts_with(p.as_str()) || line.contains("matched no case")
        }) {
            println!("{line}");
        }
    }
    Ok(())
}

/// The status table: a header, a line per pilot, and the unmatched replies.
pub fn status_lines(out: &std::path::Path, pilots: &[crate::config::Pilot]) -> anyhow::Result<Vec<String>> {
    let offers = ledger::to_offers(&ledger::offers_until(out, chrono::NaiveDate::MAX)?)?;
    let campaign = Campaign::load(offers, log::read_all(out)?, pilots)?;
    let mut lines = Vec::new();
    let mut head = format!("{:<18}", "pilot");
    for s in State::ALL {
        head.push_str(&format!(" {:>10}", s.code().chars().take(10).collect::<String>()));
    }
    head.push_str(&format!(" {:>8}", "cases"));
    lines.push(head);
    for (pilot, per) in &campaign.tally() {
        let mut line = format!("{pilot:<18}");
        for s in State::ALL {
            line.push_str(&format!(" {:>10}", per.get(&s).copied().unwrap_or(0)));
        }
        line.push_str(&format!(" {:>8}", per.values().sum::<u64>()));
        lines.push(line);
    }
    if !campaign.unmatched.is_empty() {
        lines.push(format!("{} replies matched no case", campaign.unmatched.len()));
    }
    Ok(lines)
}
