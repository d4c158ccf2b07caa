//! `sdu`: the analytics job behind Kazakhstan's proactive re-registration pilots on the
//! Smart Data Ukimet platform. Layers, in the order data flows (see STYLE.md), imports
//! pointing down only:
//!
//! - foundations: [`time`], [`frames`], [`rng`], [`progress`], [`ids`], [`pseudonym`]
//!   (keyed pseudonyms), [`config`] (the pilots), [`layout`] (every path under `--out`),
//!   [`contract`] (every published table's columns), [`io`] and [`publish`] (every write),
//!   [`outdir`] (which folders may be written, the lock);
//! - [`registry`]: staging of the snapshot files, their contract and row rules;
//! - [`pipeline`]: the seeds' algorithm (steps 3–8) as lazy plans;
//! - [`ledger`] and [`campaign`]: the offers ledger, the SMS case state machine and its log;
//! - [`report`]: KPIs, charts and the readable report, from published files only;
//! - [`jobs`]: the workflow (stage, candidates, dispatch, advance, report, a day, a
//!   backfill), each returning a typed summary;
//! - [`cmd`]: the command line, thin.
//!
//! [`synth`] makes synthetic snapshots; only the commands that generate import it.

pub mod campaign;
pub mod cmd;
pub mod compact;
pub mod config;
pub mod contract;
pub mod frames;
pub mod ids;
pub mod io;
pub mod jobs;
pub mod layout;
pub mod ledger;
pub mod outdir;
pub mod pipeline;
pub mod progress;
pub mod pseudonym;
pub mod publish;
pub mod registry;
pub mod report;
pub mod rng;
pub mod synth;
pub mod time;
