//! `sdu campaign status`: where every case stands, derived from the ledger.

use super::args::{JsonArg, OutArg, PilotsArg};
use crate::jobs::status::{case, history, history_lines, status};

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
    #[command(flatten)]
    pub out: OutArg,
    /// Only this pilot's column.
    #[arg(long, env = "SDU_CAMPAIGN_PILOT")]
    pub pilot: Option<String>,
    /// Show one case's history.
    #[arg(long, env = "SDU_CAMPAIGN_CASE")]
    pub case: Option<String>,
    /// Print the counts as CSV (`pilot,state,cases`, a row per pilot and state) for a
    /// spreadsheet or a script (instead of JSON, when both are asked for).
    #[arg(long, conflicts_with = "case", env = "SDU_CAMPAIGN_CSV", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub csv: bool,
    #[command(flatten)]
    pub pilots: PilotsArg,
    #[command(flatten)]
    pub json: JsonArg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let Sub::Status(a) = args.command;
    let pilots = a.pilots.load()?;
    crate::outdir::existing(&a.out.out).map_err(crate::jobs::UsageError::Output)?;
    // A pilot the pilots file does not know is a usage error, not an empty table.
    if let Some(id) = a.pilot.as_deref().filter(|id| !pilots.iter().any(|p| &p.id == id)) {
        let known = pilots.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", ");
        return Err(crate::jobs::UsageError::UnknownPilot { id: id.to_string(), known }.into());
    }
    if let Some(id) = &a.case {
        let case = case(&a.out.out, &pilots, id)?;
        return a.json.print(&history(id, &case), |_| history_lines(id, &case));
    }
    let mut summary = status(&a.out.out, &pilots)?;
    if let Some(p) = a.pilot.as_deref() {
        summary = summary.only(p);
    }
    if a.csv {
        println!("pilot,state,cases");
        for (pilot, per) in &summary.cases {
            for (state, n) in per {
                println!("{pilot},{state},{n}");
            }
        }
        return Ok(());
    }
    a.json.print(&summary, |s| s.lines(None))
}
