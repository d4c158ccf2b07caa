//! Intermediate layer: the seeds' algorithm (steps 3–8) as lazy plans over staged registries.
//!
//! Every function takes and returns `LazyFrame`s; nothing here collects or touches the
//! filesystem. The plans of [`candidates`], collected in turn by the workflow layer
//! (`jobs::candidates::evaluate`), give every event in a pilot's scope exactly one outcome
//! with its reasons and the evidence behind it; [`funnel::counts`] aggregates it.
//! Column names of what this layer produces are the constants of [`columns`].

pub mod candidates;
pub mod funnel;
pub mod numbers;

use chrono::NaiveDate;
use polars::prelude::*;

/// Names of the columns the pipeline produces (inputs use the registry modules' constants).
pub mod columns {
    pub const PILOT: &str = "pilot";
    pub const CASE_ID: &str = "case_id";
    pub const EVENT_ID: &str = "event_id";
    /// `rename` (ЗТ МДҚ event) or `name_change` (АХАЖ act of an individual holder).
    pub const EVENT_KIND: &str = "event_kind";
    pub const BIN: &str = "bin";
    /// The recipient: the current first head, or the individual holder.
    pub const IIN: &str = "iin";
    pub const CHANGED_ON: &str = "changed_on";
    pub const OLD_NAME_KK: &str = "old_name_kk";
    pub const OLD_NAME_RU: &str = "old_name_ru";
    pub const NEW_NAME_KK: &str = "new_name_kk";
    pub const NEW_NAME_RU: &str = "new_name_ru";
    pub const REGION: &str = "region";
    pub const OUTCOME: &str = "outcome";
    pub const REASONS: &str = "reasons";
    pub const PERMIT_IDS: &str = "permit_ids";
    pub const SERVICES: &str = "services";
    /// The service of each permit in `permit_ids`, in the same order.
    pub const PERMIT_SERVICES: &str = "permit_services";
    pub const ORG_STATUS: &str = "org_status";
    pub const ORG_LIQUIDATED_ON: &str = "org_liquidated_on";
    pub const HEAD_FROM: &str = "head_from_date";
    pub const DEATH_DATE: &str = "death_date";
    pub const DEATH_ACT_ID: &str = "death_act_id";
    pub const DEATH_ACT_DATE: &str = "death_act_date";
    pub const DECLARED_DEAD_ON: &str = "declared_dead_on";
    pub const MISSING_DECLARED_ON: &str = "missing_declared_on";
    pub const EMIGRATED_ON: &str = "emigrated_on";
    pub const INCAPABLE_FROM: &str = "incapable_from";
    pub const IMPRISONED_FROM: &str = "imprisoned_from";
    pub const RECIPIENT_NAME: &str = "recipient_name";
    pub const PREVIOUSLY_OFFERED_ON: &str = "previously_offered_on";
}

/// Outcome codes (SCHEMA.md), in order of precedence.
pub mod outcome {
    pub const ORG_LIQUIDATED: &str = "org_liquidated";
    pub const NO_PILOT_PERMIT: &str = "no_pilot_permit";
    pub const NO_HEAD: &str = "no_head";
    pub const RECIPIENT_NOT_FOUND: &str = "recipient_not_found";
    pub const DEAD_OR_MISSING: &str = "recipient_dead_or_missing";
    pub const ABROAD: &str = "recipient_abroad";
    pub const INCAPABLE: &str = "recipient_incapable";
    pub const IMPRISONED: &str = "recipient_imprisoned";
    pub const OFFERED: &str = "offered";

    /// Every funnel outcome, in precedence order.
    pub const ALL: [&str; 9] = [
        ORG_LIQUIDATED,
        NO_PILOT_PERMIT,
        NO_HEAD,
        RECIPIENT_NOT_FOUND,
        DEAD_OR_MISSING,
        ABROAD,
        INCAPABLE,
        IMPRISONED,
        OFFERED,
    ];
    /// The four criteria of seed 000, algorithm §6, in the order that picks the outcome.
    pub const CRITERIA: [&str; 4] = [DEAD_OR_MISSING, ABROAD, INCAPABLE, IMPRISONED];
}

/// The event kinds.
pub mod event_kind {
    pub const RENAME: &str = "rename";
    pub const NAME_CHANGE: &str = "name_change";
}

/// A date literal of polars' `Date` type.
pub fn day(d: NaiveDate) -> Expr {
    lit(Scalar::new_date(crate::time::days(d)))
}

/// The first instant after day `d` (Asia/Almaty wall clock, as the staged timestamps are).
pub fn end_of_day(d: NaiveDate) -> Expr {
    let next = crate::time::end_of_day(d);
    lit(Scalar::new_datetime(next.and_utc().timestamp_micros(), TimeUnit::Microseconds, None))
}

/// True when a dated status holds on day `d`: started on or before it, not ended by it
/// (SCHEMA.md: "its end (if any) is after D").
pub fn holds_on(from: &str, until: Option<&str>, d: NaiveDate) -> Expr {
    let started = col(from).lt_eq(day(d)).fill_null(lit(false));
    match until {
        Some(u) => started.and(col(u).is_null().or(col(u).gt(day(d)))),
        None => started,
    }
}
