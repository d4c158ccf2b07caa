//! `sdu`: the analytics job behind Kazakhstan's proactive re-registration pilots on the
//! Smart Data Ukimet platform. Layers, in the order data flows (see STYLE.md):
//! [`registry`] (staging of the snapshot files) → pipeline → campaign → report, with every
//! write in [`io`] and the command line in [`cmd`]. [`synth`] makes synthetic snapshots and
//! [`ids`] owns the IIN/BIN rules.

pub mod campaign;
pub mod cmd;
pub mod config;
pub mod ids;
pub mod io;
pub mod ledger;
pub mod pipeline;
pub mod publish;
pub mod registry;
pub mod report;
pub mod synth;
