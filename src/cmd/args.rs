//! Argument groups that several commands share, flattened into each, and their resolution
//! into typed values (ripgrep's low-level → high-level arguments): a command's `run` never
//! reads a raw path or string twice.

use crate::config::{load_pilots, Pilot};
use crate::jobs::stage::{InputGuard, DEFAULT_MAX_DROP};
use crate::jobs::{select_pilots, UsageError};
use crate::outdir::{self, OpenError, OutDir};
use crate::registry::Snapshot;
use crate::time::parse_date;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// `--snapshot`: the registry snapshot a command reads.
#[derive(Debug, Clone, clap::Args)]
pub struct SnapshotArg {
    /// The snapshot folder (one Parquet file per registry).
    #[arg(long, env = "SDU_SNAPSHOT")]
    pub snapshot: PathBuf,
    /// The staged snapshot store: each registry file is validated once per content and what
    /// validation keeps is kept here for every later command [default: `<out>/staged`;
    /// `validate` stages in memory without it]. Share one between output folders and
    /// `validate` by naming it.
    #[arg(long, value_name = "DIR", env = "SDU_STORE")]
    pub store: Option<PathBuf>,
}

impl SnapshotArg {
    /// Opens the snapshot (a missing folder is a usage error), staged in memory.
    pub fn open(&self) -> Result<Snapshot, UsageError> {
        Ok(Snapshot::open(&self.snapshot)?)
    }

    /// The store to stage through: `--store`, checked (a folder of its own, not inside the
    /// snapshot, not the output folder `out` itself), else `<out>/staged` (the output
    /// folder's own: one there that cannot be used is passed over with a warning), else none.
    pub fn store(&self, out: Option<&Path>) -> Result<Option<PathBuf>, UsageError> {
        let default = || out.map(|o| o.join(crate::registry::store::DEFAULT_DIR));
        let Some(store) = &self.store else { return Ok(default()) };
        let flag = |e: String| UsageError::Argument(format!("--store (SDU_STORE): {e}"));
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let real = |p: &Path| p.canonicalize().ok();
        if let Some(out) =
            out.filter(|o| abs(o) == abs(store) || real(o).is_some_and(|r| real(store) == Some(r)))
        {
            return Err(flag(format!(
                "{} is the output folder itself; a store is a folder of its own (the default is {})",
                store.display(),
                out.join(crate::registry::store::DEFAULT_DIR).display()
            )));
        }
        outdir::check_outside(store, &self.snapshot).map_err(|e| flag(e.to_string()))?;
        crate::registry::store::check_root(store).map_err(flag)?;
        Ok(Some(store.clone()))
    }

    /// Opens the snapshot staged through [`SnapshotArg::store`] for the output folder `out`.
    pub fn open_staged(&self, out: &Path) -> Result<Snapshot, UsageError> {
        let store = self.store(Some(out))?.expect("an output folder gives a default");
        Ok(self.open()?.with_store(&store))
    }
}

/// `--out`: where the run folders, reports and the case ledger live.
#[derive(Debug, Clone, clap::Args)]
pub struct OutArg {
    /// Where the run folders, reports and the case ledger live.
    #[arg(long, env = "SDU_OUT")]
    pub out: PathBuf,
    /// Give the output folder to this group (name or id), with the setgid bit: everything
    /// written in it belongs to the group, readable by it (0640 files, 0750 folders), never
    /// by others. What earlier runs wrote is given to it the first time. With --portal-group
    /// or --analysts-group, those tiers are theirs and this group keeps the rest: the
    /// restricted audit tier (audit/, ledger/).
    #[arg(long, value_name = "GROUP", env = "SDU_GROUP")]
    pub group: Option<String>,
    /// Give the portal's tier (the day folders: candidate lists, SMS outboxes, e-license
    /// requests) to this group instead; others may then pass through the output folder
    /// (o+x) to reach it, and list nothing.
    #[arg(long, value_name = "GROUP", env = "SDU_PORTAL_GROUP")]
    pub portal_group: Option<String>,
    /// Give the analysts' tier (`analysts/`, pseudonymized) and the reports to this group
    /// instead; as --portal-group.
    #[arg(long, value_name = "GROUP", env = "SDU_ANALYSTS_GROUP")]
    pub analysts_group: Option<String>,
}

impl OutArg {
    /// Opens the folder for writing, under its lock (created if need be; a folder holding
    /// other data is a usage error; a lock held by another run is a failure).
    pub fn open(&self) -> anyhow::Result<OutDir> {
        #[cfg(unix)]
        let groups = {
            let gid = |option: &'static str, group: &Option<String>| match group {
                Some(g) => {
                    outdir::group_id(option, g).map(Some).map_err(|e| UsageError::Argument(e.to_string()))
                }
                None => Ok(None),
            };
            outdir::Groups {
                all: gid("--group (SDU_GROUP)", &self.group)?,
                portal: gid("--portal-group (SDU_PORTAL_GROUP)", &self.portal_group)?,
                analysts: gid("--analysts-group (SDU_ANALYSTS_GROUP)", &self.analysts_group)?,
            }
        };
        #[allow(unused_mut)]
        let mut out = OutDir::open(&self.out).map_err(|e| match e {
            OpenError::Refused(r) => anyhow::Error::from(UsageError::Output(r)),
            OpenError::Lock(l) => l.into(),
        })?;
        #[cfg(unix)]
        if !groups.is_empty() {
            // The groups read what this run writes, whatever umask it started with.
            // SAFETY: umask(2) only swaps the process's file mode creation mask.
            unsafe { libc::umask(0o027) };
            out.grant(groups).map_err(|e| UsageError::Argument(e.to_string()))?;
        }
        Ok(out)
    }

    /// As [`OutArg::open`], for a command that reads `snapshot`: the folder must not be
    /// inside it.
    pub fn open_beside(&self, snapshot: &SnapshotArg) -> anyhow::Result<OutDir> {
        outdir::check_outside(&self.out, &snapshot.snapshot).map_err(UsageError::Output)?;
        self.open()
    }

    /// As [`OutArg::open`], for a folder that must already hold a ledger.
    pub fn open_existing(&self) -> anyhow::Result<OutDir> {
        outdir::existing(&self.out).map_err(UsageError::Output)?;
        self.open()
    }
}

/// `--pilots`: the pilots file.
#[derive(Debug, Clone, clap::Args)]
pub struct PilotsArg {
    /// Pilots file [default: the embedded data/pilots.toml].
    #[arg(long, value_name = "FILE", env = "SDU_PILOTS")]
    pub pilots: Option<PathBuf>,
}

impl PilotsArg {
    /// Every pilot of the file.
    pub fn load(&self) -> Result<Vec<Pilot>, UsageError> {
        Ok(load_pilots(self.pilots.as_deref())?)
    }
}

/// The run date and the pilots to run on it.
#[derive(Debug, Clone, clap::Args)]
pub struct PilotSelection {
    /// The run date (YYYY-MM-DD), Asia/Almaty.
    #[arg(long, value_parser = parse_date, env = "SDU_AS_OF")]
    pub as_of: NaiveDate,
    /// Run only these pilots (repeatable) [default: every pilot in force on the date].
    #[arg(long = "pilot", value_name = "ID", env = "SDU_PILOT", value_delimiter = ',')]
    pub pilot: Vec<String>,
    /// Allow a named pilot that is not in force on the date.
    #[arg(long, env = "SDU_ALLOW_EXPIRED", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_expired: bool,
    #[command(flatten)]
    pub file: PilotsArg,
}

impl PilotSelection {
    /// The pilots to run: those named, or every pilot in force on the date.
    pub fn resolve(&self) -> Result<Vec<Pilot>, UsageError> {
        select_pilots(&self.file.load()?, &self.pilot, self.as_of, self.allow_expired)
    }
}

/// `--replies`, `--delivery`, `--confirmations`: what the portal and e-license sent back;
/// each file must exist.
#[derive(Debug, Clone, clap::Args)]
pub struct RepliesArg {
    /// Reply files from the portal (sms_replies, docs/outputs.md "Inbound: sms_replies").
    #[arg(long = "replies", value_name = "FILE", num_args = 0.., env = "SDU_REPLIES", value_delimiter = ',')]
    pub replies: Vec<PathBuf>,
    /// Delivery report files from the portal (sms_delivery: message_id, status delivered |
    /// failed | expired, reported_at). Without any, every SMS counts as delivered.
    #[arg(long = "delivery", value_name = "FILE", num_args = 0.., env = "SDU_DELIVERY", value_delimiter = ',')]
    pub delivery: Vec<PathBuf>,
    /// e-license's answers to the re-issue requests (reissue_confirmations: request_id,
    /// status reissued | refused, new_permit_id, reason, answered_at). The SDU write-back of
    /// a permit is published when e-license re-issued it.
    #[arg(long = "confirmations", value_name = "FILE", num_args = 0.., env = "SDU_CONFIRMATIONS", value_delimiter = ',')]
    pub confirmations: Vec<PathBuf>,
    /// Take reply files however many rows they hold (by default more than 10 new replies
    /// per SMS ever sent, plus 1,000, stop the run: such a file is not the portal's replies).
    #[arg(long, env = "SDU_ACCEPT_MANY_REPLIES", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub accept_many_replies: bool,
    /// Without a `complete_until` watermark beside the reply files (docs/outputs.md),
    /// replies may still arrive this many hours after they were received: windows close,
    /// and replies are decided, only up to the run's time less these hours.
    #[arg(long, value_name = "HOURS", default_value_t = crate::jobs::advance::DEFAULT_GRACE_HOURS, env = "SDU_REPLY_GRACE")]
    pub reply_grace: u32,
}

impl RepliesArg {
    /// How the advance takes the reply files.
    pub fn options(&self) -> crate::jobs::advance::ReplyOptions {
        crate::jobs::advance::ReplyOptions {
            accept_many: self.accept_many_replies,
            grace: chrono::Duration::hours(i64::from(self.reply_grace)),
        }
    }

    /// The files named that do not exist, as "<kind> file <path>".
    pub fn missing(&self) -> Vec<String> {
        let sets = [
            (&self.replies, "reply"),
            (&self.delivery, "delivery report"),
            (&self.confirmations, "confirmation"),
        ];
        sets.iter()
            .flat_map(|(files, what)| {
                files
                    .iter()
                    .filter(|f| !f.is_file())
                    .map(move |f| format!("{what} file {} not found", f.display()))
            })
            .collect()
    }

    pub fn resolve(&self) -> Result<crate::jobs::advance::PortalFiles, UsageError> {
        let sets = [
            (&self.replies, "reply"),
            (&self.delivery, "delivery report"),
            (&self.confirmations, "confirmation"),
        ];
        for (files, what) in sets {
            if let Some(f) = files.iter().find(|f| !f.is_file()) {
                return Err(UsageError::RepliesNotFound(f.clone(), what));
            }
        }
        Ok(crate::jobs::advance::PortalFiles {
            replies: self.replies.clone(),
            deliveries: self.delivery.clone(),
            confirmations: self.confirmations.clone(),
        })
    }
}

/// `--json`: print the summary as JSON instead of a table.
#[derive(Debug, Clone, clap::Args)]
pub struct JsonArg {
    /// Print the summary as JSON (for schedulers and scripts; on failure, a JSON error).
    /// SDU_JSON takes true/false, 1/0, yes/no or on/off.
    #[arg(long, env = "SDU_JSON", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub json: bool,
}

impl JsonArg {
    /// Prints the summary as one JSON line, or as the lines people read.
    pub fn print<T: serde::Serialize>(
        &self,
        summary: &T,
        lines: impl FnOnce(&T) -> Vec<String>,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(summary)?);
        } else {
            lines(summary).iter().for_each(|l| println!("{l}"));
        }
        Ok(())
    }

    /// The command's failure (exit 1) after a summary it still gives: for people, the
    /// summary's lines (the error follows on stderr); under `--json`, nothing yet: the error
    /// object printed on the way out carries the summary.
    pub fn fail<T: serde::Serialize>(
        &self,
        summary: &T,
        lines: impl FnOnce(&T) -> Vec<String>,
        message: String,
    ) -> anyhow::Error {
        if !self.json {
            lines(summary).iter().for_each(|l| println!("{l}"));
        }
        let summary = serde_json::to_value(summary).unwrap_or(serde_json::Value::Null);
        crate::jobs::FailedWith { message, summary }.into()
    }
}

/// `--pseudonym-key`: the key of the analysts' tier's pseudonyms.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArg {
    /// A file holding the key (at least 16 bytes) of the analysts' tier: with it (or the key
    /// itself in SDU_PSEUDONYM_KEY), each pilot's outcomes are also published, pseudonymized
    /// and without the criteria's evidence, to <out>/analysts/ (docs/outputs.md). The key is
    /// never written anywhere.
    #[arg(long, value_name = "FILE", env = "SDU_PSEUDONYM_KEY_FILE", hide_env_values = true)]
    pub pseudonym_key: Option<PathBuf>,
}

impl KeyArg {
    /// The key, if one is configured (an unreadable or short key is a usage error).
    pub fn resolve(&self) -> Result<Option<crate::pseudonym::Pseudonymizer>, UsageError> {
        crate::pseudonym::Pseudonymizer::configured(self.pseudonym_key.as_deref())
            .map_err(|e| UsageError::Argument(e.to_string()))
    }
}

/// The guard against empty or truncated registries.
#[derive(Debug, Clone, clap::Args)]
pub struct GuardArgs {
    /// Stop when a registry has lost more than this share of its rows since the previous run
    /// (its published manifest), before anything is decided.
    #[arg(long, value_name = "SHARE", default_value_t = DEFAULT_MAX_DROP, env = "SDU_MAX_DROP")]
    pub max_drop: f64,
    /// Run even when a registry is empty or lost more than --max-drop of its rows.
    #[arg(long, env = "SDU_ACCEPT_DROP", action = clap::ArgAction::SetTrue, value_parser = clap::builder::BoolishValueParser::new())]
    pub accept_drop: bool,
}

impl GuardArgs {
    pub fn guard(&self, out: &Path) -> Result<InputGuard, UsageError> {
        if !(0.0..=1.0).contains(&self.max_drop) {
            return Err(UsageError::Argument(format!(
                "--max-drop must be between 0 and 1, got {}",
                self.max_drop
            )));
        }
        Ok(InputGuard {
            out: out.to_path_buf(),
            max_drop: self.max_drop,
            accept: self.accept_drop,
            before: None,
        })
    }
}
