//! Exclusion statistics: the evaluated events counted by outcome, by reason (every criterion
//! met, and the first one, which is the outcome), by service and by region, in one long
//! table (`dimension`, `key`, `outcome`, `events`) that `funnel.json` and the reports read.

use super::columns as c;
use super::outcome;
use polars::prelude::*;

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
