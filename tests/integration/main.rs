//! One integration binary (each extra binary links polars again); topics are modules.

mod campaign;
mod candidates;
mod candidates_run;
mod common;
mod contract;
mod daily;
mod edges;
mod machines;
mod report;
mod rules;
mod safety;
mod store;
mod synth;
mod tiers;
