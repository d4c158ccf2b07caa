//! Steps 3–8 of the seeds' algorithm (seed 000, §3–§7; identical in seeds 002 and 003):
//! rename events in scope → permits that still carry the old name → current first head →
//! the four criteria → recipients. In `sanitary` also the individual permit holders who
//! changed their full name (seed 000, annex: "ұйымның атауы немесе жеке тұлғаның тегі, аты,
//! әкесінің аты өзгеруіне").
//!
//! The plan starts from the small side and looks the large registries up by key, in three
//! steps that the caller collects in turn (`sdu::jobs::candidates::evaluate` does it): [`events`] (a few thousand
//! rows); [`with_organizations`] (their organizations, permits and heads, looked up by the
//! events' BINs and holders); [`judged`] (the recipients, looked up by their IINs, and the
//! outcome). Each step takes the previous one's rows and filters the registries on their keys
//! as literals, which the Parquet scan applies as it reads: polars pushes no join keys into a
//! scan by itself, and the literal filter measured faster than a semi join (bench/RESULTS.md),
//! besides reading every registry once instead of once per branch of one large plan.

use super::columns as c;
use super::{day, end_of_day, event_kind, holds_on, outcome};
use crate::config::Pilot;
use crate::registry::slices::{self, Slice};
use crate::registry::{civil_acts as ca, heads as hd, individuals as ind, legal_entities as le};
use crate::registry::{permits as pm, renames as rn};
use chrono::NaiveDate;
use polars::prelude::*;
use sha2::{Digest, Sha256};

/// The staged registries the candidates need (rows that passed validation).
#[derive(Clone)]
pub struct Registries {
    pub legal_entities: LazyFrame,
    pub renames: LazyFrame,
    pub heads: LazyFrame,
    pub permits: LazyFrame,
    pub individuals: LazyFrame,
    pub civil_acts: LazyFrame,
    /// When the snapshot was staged through a store, the slices of the keys the events can
    /// ask about ([`crate::registry::slices`]): lookups read them instead of the files.
    pub slices: Option<Slices>,
}

/// The slices of the registries the candidates look keys up in, of one domain.
#[derive(Clone)]
pub struct Slices {
    pub legal_entities: Slice,
    pub heads: Slice,
    pub permits: Slice,
    pub individuals: Slice,
    pub civil_acts: Slice,
}

/// A registry looked up by key.
#[derive(Clone, Copy)]
pub enum Reg {
    LegalEntities,
    Heads,
    Permits,
    Individuals,
    CivilActs,
}

impl Slices {
    /// The five slices, if all five were made, of the same domain.
    pub fn of(
        legal_entities: Option<Slice>,
        heads: Option<Slice>,
        permits: Option<Slice>,
        individuals: Option<Slice>,
        civil_acts: Option<Slice>,
    ) -> Option<Slices> {
        let s = Slices {
            legal_entities: legal_entities?,
            heads: heads?,
            permits: permits?,
            individuals: individuals?,
            civil_acts: civil_acts?,
        };
        let id = &s.legal_entities.domain_id;
        [&s.heads, &s.permits, &s.individuals, &s.civil_acts].iter().all(|x| x.domain_id == *id).then_some(s)
    }

    fn get(&self, reg: Reg) -> &Slice {
        match reg {
            Reg::LegalEntities => &self.legal_entities,
            Reg::Heads => &self.heads,
            Reg::Permits => &self.permits,
            Reg::Individuals => &self.individuals,
            Reg::CivilActs => &self.civil_acts,
        }
    }
}

impl Registries {
    fn file(&self, reg: Reg) -> &LazyFrame {
        match reg {
            Reg::LegalEntities => &self.legal_entities,
            Reg::Heads => &self.heads,
            Reg::Permits => &self.permits,
            Reg::Individuals => &self.individuals,
            Reg::CivilActs => &self.civil_acts,
        }
    }

    /// The registry to look `keys` up in: its slice when the slices' domain holds every one
    /// of them, else the file.
    pub fn find(&self, reg: Reg, keys: &Column) -> LazyFrame {
        slices::frame_for(self.file(reg), self.slices.as_ref().map(|s| s.get(reg)), keys)
    }

    /// Keeps only the `civil_acts` rows that pass `keep`, in the slice as in the file.
    pub fn filter_civil_acts(&mut self, keep: Expr) {
        self.civil_acts = self.civil_acts.clone().filter(keep.clone());
        if let Some(s) = &mut self.slices {
            s.civil_acts.frame = s.civil_acts.frame.clone().filter(keep);
        }
    }

    /// A registry joined with the events themselves (no keys at hand to check): its slice,
    /// which holds every row the events can name by construction (the domain holds every
    /// rename's BIN and every name-change act's IIN), where there is one; else the file.
    fn for_events(&self, reg: Reg) -> LazyFrame {
        match &self.slices {
            Some(s) => s.get(reg).frame.clone(),
            None => self.file(reg).clone(),
        }
    }
}

/// One pilot on one run date.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub pilot: &'a Pilot,
    pub as_of: NaiveDate,
}

impl Scope<'_> {
    fn services(&self) -> Expr {
        let s = Series::new("services".into(), self.pilot.services.clone());
        lit(s).implode(false)
    }
}

fn str_null() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// The distinct set values of the previous step's keys, as a literal for `is_in`.
fn key_set(keys: &Column) -> PolarsResult<Expr> {
    Ok(lit(keys.as_materialized_series().drop_nulls().unique()?).implode(false))
}

/// Rows of `lf` whose `column` is one of `keys` (a [`key_set`]).
fn lookup(lf: LazyFrame, column: &str, keys: &Expr) -> LazyFrame {
    lf.filter(col(column).is_in(keys.clone(), false))
}

/// Renames in scope whose organization's row was left out by validation (e.g. a duplicated
/// BIN): they cannot be evaluated, and are counted instead.
pub fn renames_of_quarantined_organizations(r: &Registries, s: Scope) -> LazyFrame {
    renames_in_window(r, s).join(
        r.for_events(Reg::LegalEntities).select([col(le::BIN)]),
        [col(rn::BIN)],
        [col(le::BIN)],
        JoinArgs::new(JoinType::Anti),
    )
}

/// Why a rename is or is not in a pilot's scope (SCHEMA.md, "Scope"), as the `scope`
/// column of [`rename_scope`] says it.
pub mod scope {
    pub const COLUMN: &str = "scope";
    pub const IN_SCOPE: &str = "in_scope";
    /// Changed before the pilot's first day.
    pub const BEFORE_START: &str = "changed_before_start";
    /// Changed after the run date.
    pub const AFTER_AS_OF: &str = "changed_after_as_of";
    /// Changed in the window, but recorded by ЗТ МДҚ after the run date.
    pub const RECORDED_LATE: &str = "recorded_after_as_of";
}

fn changed_from_start(s: Scope) -> Expr {
    col(rn::CHANGED_ON).gt_eq(day(s.pilot.in_force_from))
}

fn changed_by(s: Scope) -> Expr {
    col(rn::CHANGED_ON).lt_eq(day(s.as_of))
}

fn recorded_by(s: Scope) -> Expr {
    col(rn::RECORDED_AT).lt(end_of_day(s.as_of))
}

/// The scope rule: changed on or after the pilot's start and on or before D, recorded by
/// the end of D.
fn in_window(s: Scope) -> Expr {
    changed_from_start(s).and(changed_by(s)).and(recorded_by(s))
}

fn renames_in_window(r: &Registries, s: Scope) -> LazyFrame {
    r.renames.clone().filter(in_window(s))
}

/// Renames (rows of the `renames` registry) with the `scope` verdict of the scope rule: the
/// evidence `explain` shows.
pub fn rename_scope(renames: LazyFrame, s: Scope) -> LazyFrame {
    renames.with_column(
        when(changed_from_start(s).not())
            .then(lit(scope::BEFORE_START))
            .when(changed_by(s).not())
            .then(lit(scope::AFTER_AS_OF))
            .when(recorded_by(s).not())
            .then(lit(scope::RECORDED_LATE))
            .otherwise(lit(scope::IN_SCOPE))
            .alias(scope::COLUMN),
    )
}

/// Step 3: the rename events in scope (SCHEMA.md, "Scope"): changed on or after the pilot's
/// start and on or before D, and recorded by the end of D; of organizations that passed
/// validation.
pub fn rename_events(r: &Registries, s: Scope) -> LazyFrame {
    renames_in_window(r, s)
        .join(
            r.for_events(Reg::LegalEntities).select([col(le::BIN)]),
            [col(rn::BIN)],
            [col(le::BIN)],
            JoinArgs::new(JoinType::Semi),
        )
        .filter(in_window(s))
        .select([
            col(rn::EVENT_ID).alias(c::EVENT_ID),
            lit(event_kind::RENAME).alias(c::EVENT_KIND),
            col(rn::BIN).alias(c::BIN),
            str_null().alias("holder_iin"),
            col(rn::CHANGED_ON).alias(c::CHANGED_ON),
            col(rn::OLD_NAME_KK).alias(c::OLD_NAME_KK),
            col(rn::OLD_NAME_RU).alias(c::OLD_NAME_RU),
            col(rn::NEW_NAME_KK).alias(c::NEW_NAME_KK),
            col(rn::NEW_NAME_RU).alias(c::NEW_NAME_RU),
        ])
}

/// `sanitary`: the name changes (АХАЖ) of people who hold a permit, in any status, for one
/// of the pilot's services, by `act_date` and `registered_at` alike. The acts in the window
/// are few: the permit holders are matched against them (a join built on the acts' side).
pub fn name_change_events(r: &Registries, s: Scope) -> LazyFrame {
    let acts = r.for_events(Reg::CivilActs).filter(
        col(ca::ACT_TYPE)
            .eq(lit(ca::NAME_CHANGE))
            .and(col(ca::ACT_DATE).gt_eq(day(s.pilot.in_force_from)))
            .and(col(ca::ACT_DATE).lt_eq(day(s.as_of)))
            .and(col(ca::REGISTERED_AT).lt(end_of_day(s.as_of))),
    );
    let holders = r
        .for_events(Reg::Permits)
        .filter(col(pm::SERVICE_CODE).is_in(s.services(), false).and(col(pm::HOLDER_IIN).is_not_null()))
        .select([col(pm::HOLDER_IIN).alias(ca::IIN)])
        .join(
            acts.clone().select([col(ca::IIN)]),
            [col(ca::IIN)],
            [col(ca::IIN)],
            JoinArgs::new(JoinType::Semi),
        )
        .unique(None, UniqueKeepStrategy::Any);
    acts.join(holders, [col(ca::IIN)], [col(ca::IIN)], JoinArgs::new(JoinType::Semi)).select([
        col(ca::ACT_ID).alias(c::EVENT_ID),
        lit(event_kind::NAME_CHANGE).alias(c::EVENT_KIND),
        str_null().alias(c::BIN),
        col(ca::IIN).alias("holder_iin"),
        col(ca::ACT_DATE).alias(c::CHANGED_ON),
        col(ca::OLD_FULL_NAME).alias(c::OLD_NAME_KK),
        col(ca::OLD_FULL_NAME).alias(c::OLD_NAME_RU),
        col(ca::NEW_FULL_NAME).alias(c::NEW_NAME_KK),
        col(ca::NEW_FULL_NAME).alias(c::NEW_NAME_RU),
    ])
}

/// Every event in scope: renames, and in pilots with individual holders their name changes.
pub fn events(r: &Registries, s: Scope) -> PolarsResult<LazyFrame> {
    let renames = rename_events(r, s);
    if s.pilot.individual_holders {
        concat([renames, name_change_events(r, s)], UnionArgs::default())
    } else {
        Ok(renames)
    }
}

/// Why a permit does or does not count for an event (step 4), as the `verdict` column of
/// [`permit_verdicts`] says it.
pub mod permit_verdict {
    pub const COLUMN: &str = "verdict";
    /// Active, valid on D, issued before the change: it still carries the old name.
    pub const COUNTS: &str = "counts";
    pub const NOT_ACTIVE: &str = "not_active";
    pub const EXPIRED: &str = "expired";
    pub const ISSUED_AFTER_CHANGE: &str = "issued_after_change";
}

fn permit_active() -> Expr {
    col(pm::STATUS).eq(lit(pm::ACTIVE))
}

fn permit_valid_on(s: Scope) -> Expr {
    col(pm::VALID_UNTIL).is_null().or(col(pm::VALID_UNTIL).gt_eq(day(s.as_of)))
}

/// Issued before the change (the column `changed_on` beside the permit's `issued_on`).
fn issued_before_change() -> Expr {
    col(pm::ISSUED_ON).lt(col(c::CHANGED_ON))
}

/// Every permit of the pilot's services held by `holder` (a BIN or an individual's IIN),
/// with the step-4 verdict for a change on `changed_on`: the evidence `explain` shows.
pub fn permit_verdicts(r: &Registries, s: Scope, holder: &str, changed_on: NaiveDate) -> LazyFrame {
    let held =
        col(pm::HOLDER_BIN).eq(lit(holder)).or(col(pm::HOLDER_IIN).eq(lit(holder))).fill_null(lit(false));
    r.find(Reg::Permits, &Column::new("holder".into(), [holder]))
        .filter(held.and(col(pm::SERVICE_CODE).is_in(s.services(), false)))
        .with_column(day(changed_on).alias(c::CHANGED_ON))
        .with_column(
            when(permit_active().not())
                .then(lit(permit_verdict::NOT_ACTIVE))
                .when(permit_valid_on(s).not())
                .then(lit(permit_verdict::EXPIRED))
                .when(issued_before_change().not())
                .then(lit(permit_verdict::ISSUED_AFTER_CHANGE))
                .otherwise(lit(permit_verdict::COUNTS))
                .alias(permit_verdict::COLUMN),
        )
        .sort([pm::PERMIT_ID], SortMultipleOptions::default())
}

/// Step 4: per event, the pilot permits that still carry the old name: active, not expired
/// on D, issued before the change (SCHEMA.md), held by the organization or the person.
pub fn eligible_permits(r: &Registries, s: Scope, events: &DataFrame) -> PolarsResult<LazyFrame> {
    let holder = || when(col(c::BIN).is_not_null()).then(col(c::BIN)).otherwise(col("holder_iin"));
    // An event has a BIN or a holder IIN: the holders are both columns' values.
    let mut holder_keys = events.column(c::BIN)?.clone();
    holder_keys.append(events.column("holder_iin")?)?;
    let holders = key_set(&holder_keys)?;
    let permits = r
        .find(Reg::Permits, &holder_keys)
        .filter(col(pm::SERVICE_CODE).is_in(s.services(), false).and(permit_active()).and(permit_valid_on(s)))
        .select([
            col(pm::PERMIT_ID),
            col(pm::SERVICE_CODE),
            when(col(pm::HOLDER_BIN).is_not_null())
                .then(col(pm::HOLDER_BIN))
                .otherwise(col(pm::HOLDER_IIN))
                .alias("holder"),
            col(pm::ISSUED_ON),
        ]);
    Ok(events
        .clone()
        .lazy()
        .select([col(c::EVENT_ID), col(c::CHANGED_ON), holder().alias("holder")])
        .join(
            lookup(permits, "holder", &holders),
            [col("holder")],
            [col("holder")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(issued_before_change())
        .group_by([col(c::EVENT_ID)])
        .agg([
            col(pm::PERMIT_ID).sort(SortOptions::default()).alias(c::PERMIT_IDS),
            col(pm::SERVICE_CODE)
                .sort_by([col(pm::PERMIT_ID)], SortMultipleOptions::default())
                .alias(c::PERMIT_SERVICES),
            col(pm::SERVICE_CODE).unique().sort(SortOptions::default()).alias(c::SERVICES),
        ]))
}

/// Step 5: the current first head of each organization on D (from on or before D, not ended
/// by D). Should the registry hold two, the one who took office last.
/// `bins` names the organizations asked about.
pub fn current_first_heads(r: &Registries, s: Scope, bins: &Column) -> PolarsResult<LazyFrame> {
    let latest = SortMultipleOptions::default().with_order_descending_multi([true, false]);
    Ok(lookup(r.find(Reg::Heads, bins), hd::BIN, &key_set(bins)?)
        .filter(col(hd::ROLE).eq(lit(hd::FIRST_HEAD)).and(holds_on(
            hd::FROM_DATE,
            Some(hd::TO_DATE),
            s.as_of,
        )))
        .group_by([col(hd::BIN)])
        .agg([
            col(hd::IIN)
                .sort_by([col(hd::FROM_DATE), col(hd::IIN)], latest.clone())
                .first()
                .alias("head_iin"),
            col(hd::FROM_DATE)
                .sort_by([col(hd::FROM_DATE), col(hd::IIN)], latest)
                .first()
                .alias(c::HEAD_FROM),
        ])
        .rename([hd::BIN], [c::BIN], true))
}

/// Step 6: the four criteria for each recipient on D, from ЖТ МДҚ and, for death, АХАЖ too,
/// with the evidence (dates, the death act), for the people `keys` names.
pub fn recipient_status(r: &Registries, s: Scope, keys: &Column) -> PolarsResult<LazyFrame> {
    let iins = &key_set(keys)?;
    let (individuals, civil_acts) = (r.find(Reg::Individuals, keys), r.find(Reg::CivilActs, keys));
    let death_acts = lookup(civil_acts, ca::IIN, iins)
        .filter(
            col(ca::ACT_TYPE)
                .eq(lit(ca::DEATH))
                .and(col(ca::ACT_DATE).lt_eq(day(s.as_of)))
                .and(col(ca::REGISTERED_AT).lt(end_of_day(s.as_of))),
        )
        .group_by([col(ca::IIN)])
        .agg([
            col(ca::ACT_ID)
                .sort_by([col(ca::ACT_DATE), col(ca::ACT_ID)], SortMultipleOptions::default())
                .first()
                .alias(c::DEATH_ACT_ID),
            col(ca::ACT_DATE).min().alias(c::DEATH_ACT_DATE),
        ]);
    let on = |column: &str| col(column).lt_eq(day(s.as_of)).fill_null(lit(false));
    Ok(lookup(individuals, ind::IIN, iins)
        .join(death_acts, [col(ind::IIN)], [col(ca::IIN)], JoinArgs::new(JoinType::Left))
        .select([
            col(ind::IIN).alias("person_iin"),
            lit(true).alias("person_found"),
            concat_str([col(ind::SURNAME), col(ind::FIRST_NAME), col(ind::PATRONYMIC)], " ", true)
                .alias(c::RECIPIENT_NAME),
            col(ind::KATO).alias("person_kato"),
            // Evidence: only statuses that have begun by D are shown.
            when(on(ind::DEATH_DATE)).then(col(ind::DEATH_DATE)).otherwise(lit(NULL)).alias(c::DEATH_DATE),
            col(c::DEATH_ACT_ID),
            col(c::DEATH_ACT_DATE),
            when(on(ind::DECLARED_DEAD_ON))
                .then(col(ind::DECLARED_DEAD_ON))
                .otherwise(lit(NULL))
                .alias(c::DECLARED_DEAD_ON),
            when(on(ind::MISSING_DECLARED_ON))
                .then(col(ind::MISSING_DECLARED_ON))
                .otherwise(lit(NULL))
                .alias(c::MISSING_DECLARED_ON),
            when(on(ind::EMIGRATED_ON))
                .then(col(ind::EMIGRATED_ON))
                .otherwise(lit(NULL))
                .alias(c::EMIGRATED_ON),
            when(holds_on(ind::INCAPABLE_FROM, Some(ind::INCAPABLE_UNTIL), s.as_of))
                .then(col(ind::INCAPABLE_FROM))
                .otherwise(lit(NULL))
                .alias(c::INCAPABLE_FROM),
            when(holds_on(ind::IMPRISONED_FROM, Some(ind::IMPRISONED_UNTIL), s.as_of))
                .then(col(ind::IMPRISONED_FROM))
                .otherwise(lit(NULL))
                .alias(c::IMPRISONED_FROM),
        ]))
}

/// A stable case id: the first 16 hex digits of SHA-256 over `pilot|event|recipient`. It
/// carries no personal data and is the same in every run.
pub fn case_id(pilot: &str, event_id: &str, iin: &str) -> String {
    let digest = Sha256::digest(format!("{pilot}|{event_id}|{iin}").as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn case_id_expr(pilot: &str) -> Expr {
    let pilot = pilot.to_string();
    as_struct(vec![col(c::EVENT_ID), col(c::IIN)]).map(
        move |column: Column| {
            let fields = column.struct_()?.fields_as_series();
            let (events, iins) = (fields[0].str()?, fields[1].str()?);
            let out: StringChunked = events
                .iter()
                .zip(iins.iter())
                .map(|(e, i)| match (e, i) {
                    (Some(e), Some(i)) => Some(case_id(&pilot, e, i)),
                    _ => None,
                })
                .collect();
            Ok(out.with_name(c::CASE_ID.into()).into_column())
        },
        |_, _| Ok(Field::new(c::CASE_ID.into(), DataType::String)),
    )
}

/// Step 3 to 5 for the events in scope (the rows of [`events`]): each with its organization
/// (status, liquidation, region), its eligible permits and its current first head, and the
/// recipient's IIN (the head, or the individual holder).
pub fn with_organizations(r: &Registries, s: Scope, events: &DataFrame) -> PolarsResult<LazyFrame> {
    let bins = key_set(events.column(c::BIN)?)?;
    let orgs = lookup(r.find(Reg::LegalEntities, events.column(c::BIN)?), le::BIN, &bins).select([
        col(le::BIN),
        col(le::STATUS).alias(c::ORG_STATUS),
        col(le::LIQUIDATED_ON).alias(c::ORG_LIQUIDATED_ON),
        col(le::KATO).alias("org_kato"),
    ]);
    Ok(events
        .clone()
        .lazy()
        .join(orgs, [col(c::BIN)], [col(le::BIN)], JoinArgs::new(JoinType::Left))
        .join(
            eligible_permits(r, s, events)?,
            [col(c::EVENT_ID)],
            [col(c::EVENT_ID)],
            JoinArgs::new(JoinType::Left),
        )
        .join(
            current_first_heads(r, s, events.column(c::BIN)?)?,
            [col(c::BIN)],
            [col(c::BIN)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(col(c::EVENT_KIND).eq(lit(event_kind::RENAME)))
                .then(col("head_iin"))
                .otherwise(col("holder_iin"))
                .alias(c::IIN),
        ))
}

/// Step 6 for the rows of [`with_organizations`]: every event in scope with exactly one
/// outcome, all its reasons, the recipient (where one was found) and the evidence. One row
/// per event, sorted by event id.
pub fn judged(r: &Registries, s: Scope, with_org: &DataFrame) -> PolarsResult<LazyFrame> {
    let evaluated = with_org.clone().lazy().join(
        recipient_status(r, s, with_org.column(c::IIN)?)?,
        [col(c::IIN)],
        [col("person_iin")],
        JoinArgs::new(JoinType::Left),
    );

    // seed 000 §6: a liquidated organization, or one without pilot permits or a head, stops
    // the evaluation; otherwise the four criteria, first one met is the outcome.
    let liquidated = col(c::ORG_STATUS)
        .eq(lit("liquidated"))
        .and(col(c::ORG_LIQUIDATED_ON).is_null().or(col(c::ORG_LIQUIDATED_ON).lt_eq(day(s.as_of))))
        .fill_null(lit(false));
    let no_permit = col(c::PERMIT_IDS).is_null();
    let is_rename = col(c::EVENT_KIND).eq(lit(event_kind::RENAME));
    let no_head = is_rename.clone().and(col("head_iin").is_null());
    let not_found = col("person_found").is_null();
    let dead = col(c::DEATH_DATE)
        .is_not_null()
        .or(col(c::DEATH_ACT_DATE).is_not_null())
        .or(col(c::DECLARED_DEAD_ON).is_not_null())
        .or(col(c::MISSING_DECLARED_ON).is_not_null());
    let criteria = [
        (outcome::DEAD_OR_MISSING, dead),
        (outcome::ABROAD, col(c::EMIGRATED_ON).is_not_null()),
        (outcome::INCAPABLE, col(c::INCAPABLE_FROM).is_not_null()),
        (outcome::IMPRISONED, col(c::IMPRISONED_FROM).is_not_null()),
    ];
    let stops = [
        (outcome::ORG_LIQUIDATED, is_rename.and(liquidated)),
        (outcome::NO_PILOT_PERMIT, no_permit),
        (outcome::NO_HEAD, no_head),
        (outcome::RECIPIENT_NOT_FOUND, not_found),
    ];
    let mut chain =
        when(stops[0].1.clone()).then(lit(stops[0].0)).when(stops[1].1.clone()).then(lit(stops[1].0));
    for (code, cond) in stops.iter().skip(2).chain(criteria.iter()) {
        chain = chain.when(cond.clone()).then(lit(*code));
    }
    let outcome_expr = chain.otherwise(lit(outcome::OFFERED)).alias(c::OUTCOME);
    let stopped = stops.iter().map(|(_, e)| e.clone()).reduce(|a, b| a.or(b)).expect("four stops");
    let met = concat_list(
        criteria
            .iter()
            .map(|(code, cond)| when(cond.clone()).then(lit(*code)).otherwise(str_null()))
            .collect::<Vec<_>>(),
    )?
    .list()
    .eval(element().drop_nulls());
    let reasons = when(stopped).then(concat_list([col(c::OUTCOME)])?).otherwise(met).alias(c::REASONS);
    let region = when(col(c::EVENT_KIND).eq(lit(event_kind::RENAME)))
        .then(col("org_kato"))
        .otherwise(col("person_kato"))
        .str()
        .slice(lit(0), lit(2))
        .alias(c::REGION);

    Ok(evaluated
        .with_columns([outcome_expr, region])
        .with_column(reasons)
        .with_column(
            // A recipient only where one was found; the case id only for a recipient.
            when(col("person_found").is_null()).then(str_null()).otherwise(col(c::IIN)).alias(c::IIN),
        )
        .with_column(case_id_expr(&s.pilot.id).alias(c::CASE_ID))
        .select([
            lit(s.pilot.id.as_str()).alias(c::PILOT),
            col(c::EVENT_ID),
            col(c::EVENT_KIND),
            col(c::BIN),
            col(c::IIN),
            col(c::CASE_ID),
            col(c::OUTCOME),
            col(c::REASONS),
            col(c::CHANGED_ON),
            col(c::OLD_NAME_KK),
            col(c::OLD_NAME_RU),
            col(c::NEW_NAME_KK),
            col(c::NEW_NAME_RU),
            col(c::REGION),
            col(c::PERMIT_IDS),
            col(c::PERMIT_SERVICES),
            col(c::SERVICES),
            col(c::ORG_STATUS),
            col(c::ORG_LIQUIDATED_ON),
            col(c::HEAD_FROM),
            col(c::DEATH_DATE),
            col(c::DEATH_ACT_ID),
            col(c::DEATH_ACT_DATE),
            col(c::DECLARED_DEAD_ON),
            col(c::MISSING_DECLARED_ON),
            col(c::EMIGRATED_ON),
            col(c::INCAPABLE_FROM),
            col(c::IMPRISONED_FROM),
            col(c::RECIPIENT_NAME),
        ])
        .sort([c::EVENT_ID], SortMultipleOptions::default()))
}
