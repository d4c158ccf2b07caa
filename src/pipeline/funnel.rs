//! Exclusion statistics: the evaluated events counted by outcome, by reason (every criterion
//! met, and the first one, which is the outcome), by service and by region, in one long
//! table (`dimension`, `key`, `outcome`, `events`) that `funnel.json` and the reports read.

use super::columns as c;
use super::outcome;
use polars::prelude::*;
use std::collections::BTreeMap;

pub const DIMENSION: &str = "dimension";
pub const KEY: &str = "key";
pub const EVENTS: &str = "events";

/// Dimensions of the funnel.
pub mod dimension {
    pub const OUTCOME: &str = "outcome";
    pub const REASON: &str = "reason";
    pub const FIRST_REASON: &str = "first_reason";
    pub const SERVICE: &str = "service";
    pub const REGION: &str = "region";
}

fn count_by(lf: LazyFrame, dim: &str, key: Expr) -> LazyFrame {
    lf.group_by([key.alias(KEY), col(c::OUTCOME)]).agg([len().alias(EVENTS)]).select([
        lit(dim).alias(DIMENSION),
        col(KEY).cast(DataType::String).fill_null(lit("unknown")),
        col(c::OUTCOME),
        col(EVENTS),
    ])
}

/// The long table of counts for one pilot's evaluated events.
pub fn counts(evaluated: LazyFrame) -> PolarsResult<LazyFrame> {
    let criteria = Series::new("criteria".into(), outcome::CRITERIA.to_vec());
    let by_outcome = count_by(evaluated.clone(), dimension::OUTCOME, col(c::OUTCOME));
    let by_first = count_by(
        evaluated.clone().filter(col(c::OUTCOME).is_in(lit(criteria).implode(false), false)),
        dimension::FIRST_REASON,
        col(c::OUTCOME),
    );
    let criteria_only = evaluated
        .clone()
        .select([col(c::OUTCOME), col(c::REASONS)])
        .explode(cols([c::REASONS]), ExplodeOptions { empty_as_null: false, keep_nulls: false })
        .filter(col(c::REASONS).is_not_null());
    let stops = Series::new("stops".into(), outcome::CRITERIA.to_vec());
    let by_reason = count_by(
        criteria_only.filter(col(c::REASONS).is_in(lit(stops).implode(false), false)),
        dimension::REASON,
        col(c::REASONS),
    );
    let by_service = count_by(
        evaluated
            .clone()
            .select([col(c::OUTCOME), col(c::SERVICES)])
            .explode(cols([c::SERVICES]), ExplodeOptions { empty_as_null: false, keep_nulls: false })
            .filter(col(c::SERVICES).is_not_null()),
        dimension::SERVICE,
        col(c::SERVICES),
    );
    let by_region = count_by(evaluated, dimension::REGION, col(c::REGION));
    Ok(concat([by_outcome, by_first, by_reason, by_service, by_region], UnionArgs::default())?
        .sort([DIMENSION, KEY, c::OUTCOME], SortMultipleOptions::default()))
}

/// Counts of one dimension's key: its events, those offered, and each outcome.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Breakdown {
    pub events: u64,
    pub offered: u64,
    pub by_outcome: BTreeMap<String, u64>,
}

/// Offers of the run: offered today, of which new and already offered on an earlier date.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Offers {
    pub offered: u64,
    pub new: u64,
    pub previously_offered: u64,
}

/// `funnel.json`: one pilot's run counted every way (docs/outputs.md). Written with its keys
/// in alphabetical order, as published since schema version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Funnel {
    pub pilot: String,
    pub as_of: String,
    pub events_in_scope: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub by_reason: BTreeMap<String, u64>,
    pub by_first_reason: BTreeMap<String, u64>,
    pub by_service: BTreeMap<String, Breakdown>,
    pub by_region: BTreeMap<String, Breakdown>,
    pub offers: Offers,
    pub left_out_by_validation: BTreeMap<String, u64>,
    pub renames_of_quarantined_organizations: u64,
}

/// What a funnel is made of, besides the [`counts`] table.
pub struct FunnelInputs<'a> {
    pub pilot: &'a str,
    pub services: &'a [String],
    pub as_of: chrono::NaiveDate,
    pub events_in_scope: u64,
    /// Offered today and already offered on an earlier date.
    pub previously_offered: u64,
    pub left_out: &'a BTreeMap<String, u64>,
    pub renames_of_quarantined_organizations: u64,
}

impl Funnel {
    /// The funnel from the long [`counts`] table (collected).
    pub fn new(counts: &DataFrame, f: FunnelInputs) -> PolarsResult<Funnel> {
        let dims = counts.column(DIMENSION)?.str()?;
        let keys = counts.column(KEY)?.str()?;
        let outs = counts.column(c::OUTCOME)?.str()?;
        let ns = counts.column(EVENTS)?.cast(&DataType::UInt64)?;
        let ns = ns.u64()?;
        let mut by: BTreeMap<&str, BTreeMap<String, BTreeMap<String, u64>>> = BTreeMap::new();
        for i in 0..counts.height() {
            let (d, k, o) = (dims.get(i).unwrap_or(""), keys.get(i).unwrap_or(""), outs.get(i).unwrap_or(""));
            let n = ns.get(i).unwrap_or(0);
            *by.entry(d).or_default().entry(k.to_string()).or_default().entry(o.to_string()).or_default() +=
                n;
        }
        let total =
            |d: &str, k: &str| by.get(d).and_then(|m| m.get(k)).map(|m| m.values().sum()).unwrap_or(0);
        let flat = |d: &str, keys: &[&str]| keys.iter().map(|k| (k.to_string(), total(d, k))).collect();
        let nested = |d: &str| -> BTreeMap<String, Breakdown> {
            let per_key = by.get(d).into_iter().flatten();
            per_key
                .map(|(k, per)| {
                    let offered = per.get(outcome::OFFERED).copied().unwrap_or(0);
                    (k.clone(), Breakdown { events: per.values().sum(), offered, by_outcome: per.clone() })
                })
                .collect()
        };
        let mut by_service = nested(dimension::SERVICE);
        for s in f.services {
            by_service.entry(s.clone()).or_default();
        }
        let offered = total(dimension::OUTCOME, outcome::OFFERED);
        Ok(Funnel {
            pilot: f.pilot.to_string(),
            as_of: f.as_of.to_string(),
            events_in_scope: f.events_in_scope,
            by_outcome: flat(dimension::OUTCOME, &outcome::ALL),
            by_reason: flat(dimension::REASON, &outcome::CRITERIA),
            by_first_reason: flat(dimension::FIRST_REASON, &outcome::CRITERIA),
            by_service,
            by_region: nested(dimension::REGION),
            offers: Offers {
                offered,
                new: offered - f.previously_offered,
                previously_offered: f.previously_offered,
            },
            left_out_by_validation: f.left_out.clone(),
            renames_of_quarantined_organizations: f.renames_of_quarantined_organizations,
        })
    }

    /// Events in scope that were not offered.
    pub fn excluded(&self) -> u64 {
        self.events_in_scope - self.offers.offered
    }
}
