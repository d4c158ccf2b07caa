//! The `sdu` binary: parse, set up logs, dispatch, map errors to exit codes
//! (0 ok, 1 runtime failure, 2 usage or configuration error).

use clap::Parser;
use sdu::cmd::{self, Cli, LogFormat};
use sdu::jobs::{FailedWith, UsageError};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// What sdu writes holds personal data (IINs, names, phones, the criteria's evidence): no
/// file or folder it creates is readable by others on the machine, whatever the caller's
/// umask. The mask only tightens: group write and everything for others are cleared, so
/// files are created 0640 and folders 0750 from the start (temporaries included, never
/// widened later); a stricter umask (077) stays.
#[cfg(unix)]
fn restrict_umask() {
    // SAFETY: umask(2) only swaps the process's file mode creation mask; it cannot fail.
    unsafe {
        let old = libc::umask(0o027);
        libc::umask(old | 0o027);
    }
}

/// A reader that stops early (`sdu … | head`) ends sdu quietly, as it does any Unix tool,
/// instead of a panic on the closed pipe.
#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: restores the default disposition of one signal; no handler runs Rust code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Whether the command line or the environment asks for JSON, for errors found before the
/// arguments parse.
fn asked_for_json() -> bool {
    let env = std::env::var("SDU_JSON").map(|v| v.to_ascii_lowercase());
    std::env::args().any(|a| a == "--json")
        || env.is_ok_and(|v| ["1", "true", "yes", "on", "y", "t"].contains(&v.as_str()))
}

/// An `SDU_*` variable set to nothing is unset (`SDU_JSON=` in a unit file means no JSON,
/// not a bad value).
fn drop_empty_variables() {
    for (name, value) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SDU_") && value.is_empty() {
            // Before any thread starts: nothing else reads the environment yet.
            std::env::remove_var(&name);
        }
    }
}

/// The variable a rejected value came from, when its option is not on the command line.
fn rejected_variable(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else { return None };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let args: Vec<String> = std::env::args().collect();
    let flag = format!("--{long}");
    if args.iter().any(|a| a == &flag || a.starts_with(&format!("{flag}="))) {
        return None;
    }
    let mut command = <Cli as clap::CommandFactory>::command();
    for a in args.iter().skip(1) {
        if let Some(sub) = command.find_subcommand(a).cloned() {
            command = sub;
        }
    }
    let env = command.get_arguments().find(|x| x.get_long() == Some(long))?.get_env()?;
    Some(env.to_string_lossy().into_owned())
}

fn main() -> ExitCode {
    #[cfg(unix)]
    {
        restrict_umask();
        default_sigpipe();
    }
    drop_empty_variables();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are not failures.
            if !e.use_stderr() {
                e.exit();
            }
            let variable =
                rejected_variable(&e).map(|v| format!(" (the value is the environment variable {v}'s)"));
            if asked_for_json() {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                let message = first.strip_prefix("error: ").unwrap_or(first);
                let message = format!("{message}{}", variable.as_deref().unwrap_or(""));
                println!("{}", serde_json::json!({ "error": message, "exit_code": 2 }));
            }
            let _ = e.print();
            if let Some(v) = variable {
                eprintln!("note:{v}");
            }
            return ExitCode::from(2);
        }
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("SDU_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let logs =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match cli.log_format {
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().with_ansi(false).init(),
    }
    // A script that asked for JSON gets its failure as JSON on stdout too.
    let json = cli.wants_json();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A usage error anywhere in the chain (under the context added on the way up).
            let code: u8 = if e.chain().any(|c| c.is::<UsageError>()) { 2 } else { 1 };
            if json {
                let mut object = serde_json::json!({ "error": format!("{e:#}"), "exit_code": code });
                if let Some(f) = e.chain().find_map(|c| c.downcast_ref::<FailedWith>()) {
                    object["summary"] = f.summary.clone();
                }
                println!("{object}");
            }
            ExitCode::from(code)
        }
    }
}
