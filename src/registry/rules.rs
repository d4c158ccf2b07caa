//! Row rules of the registry contract, each with a severity.
//!
//! Every rule is a boolean expression over one staged table that is true where a row fails
//! it. [`failing`] adds one such column per rule to a scan (plus the row's position) and
//! keeps the rows failing any, so the same definitions drive `sdu validate` (counts, examples, quarantine) and the staging of
//! later stages, which keep only rows that pass every error-severity rule
//! ([`super::Snapshot::stage`]). Rules derived from the contract (nulls, enums, identifiers,
//! keys, intervals, references) come from each table's [`TableSpec`]; the few that are
//! specific to one registry are listed in `custom`.

use super::{
    civil_acts, legal_entities, mobile_base, permits, renames, Id, Reference, RegistryError, Severity,
    Snapshot, TableSpec,
};
use crate::ids::{check_bin, check_iin, IdError};
use polars::prelude::*;

/// Position of the row in its file (0-based), carried into the quarantine.
pub const ROW_INDEX: &str = "row_index";

#[derive(Clone, Debug)]
enum Check {
    /// True where the row fails.
    Row(Expr),
    /// The column is set. Read as the file has it: staging keeps nulls null, so a column
    /// converted for the rows a pass keeps only ([`Snapshot::scan_for_pass`]) is not
    /// converted for this.
    NotNull(&'static str),
    /// The column's value (when set) must exist in another table's key.
    Reference(Reference),
    /// An identifier column's first failing check has this code (see [`id_code`]); the code
    /// is computed once per column however many rules read it.
    IdCode(&'static str, Id, i32),
    /// No two rows share these key columns. Evaluated as a join against the duplicated keys
    /// (a group-by), which streams, rather than a window over the whole column.
    Unique(&'static [&'static str]),
}

/// One row rule of one table.
#[derive(Clone)]
pub struct Rule {
    /// Stable identifier: `table.column.check`.
    pub id: String,
    pub table: &'static TableSpec,
    pub column: &'static str,
    pub severity: Severity,
    pub description: String,
    check: Check,
}

impl Rule {
    fn row(
        table: &'static TableSpec,
        column: &'static str,
        check: &str,
        severity: Severity,
        description: String,
        fails: Expr,
    ) -> Rule {
        Rule {
            id: format!("{}.{}.{}", table.name, column, check),
            table,
            column,
            severity,
            description,
            check: Check::Row(fails),
        }
    }
}

/// What decides how a table is staged, as text: its contract and every rule with its check.
/// The staged store keys its entries by it, so a changed rule stages the table again.
pub fn fingerprint(table: &'static TableSpec) -> String {
    // The source of the contract and the rules, too: a closure's code (a check digit, a phone
    // prefix) does not show in an expression's `Debug`. Any change there stages again.
    const SOURCES: &[&str] = &[
        include_str!("mod.rs"),
        include_str!("rules.rs"),
        include_str!("validation.rs"),
        include_str!("civil_acts.rs"),
        include_str!("heads.rs"),
        include_str!("individuals.rs"),
        include_str!("legal_entities.rs"),
        include_str!("mobile_base.rs"),
        include_str!("permits.rs"),
        include_str!("renames.rs"),
        include_str!("../ids.rs"),
    ];
    let mut text = format!("{table:?}\n");
    for source in SOURCES {
        text.push_str(source);
    }
    for r in rules(table) {
        text.push_str(&format!("{} {:?} {} {:?}\n", r.id, r.severity, r.description, r.check));
    }
    text
}

/// Codes an identifier column: 0 valid (or null), else the first failing [`IdError`].
fn id_code(kind: Id, column: &str) -> Expr {
    col(column).map(
        move |c: Column| {
            let ca = c.str()?;
            let codes: Int32Chunked = ca
                .iter()
                .map(|v| {
                    let result = match (v, kind) {
                        (None, _) => return Some(0i32),
                        (Some(s), Id::Iin) => check_iin(s).map(|_| ()),
                        (Some(s), Id::Bin) => check_bin(s).map(|_| ()),
                    };
                    Some(match result {
                        Ok(()) => 0,
                        Err(IdError::Format) => 1,
                        Err(IdError::CheckDigit) => 2,
                        Err(IdError::DatePart) => 3,
                        Err(IdError::KindDigit) => 4,
                    })
                })
                .collect();
            Ok(codes.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Int32)),
    )
}

/// A 12-digit identifier as a number, for grouping and joining; anything else (a malformed
/// value the format rule reports) as a hash with the top bit set, so it never meets a number.
fn id_number(column: &str) -> Expr {
    col(column).map(
        |c: Column| {
            let ca = c.str()?;
            let out: UInt64Chunked =
                ca.iter().map(|v| v.map(|s| digits12(s).unwrap_or_else(|| malformed_key(s)))).collect();
            Ok(out.with_name(c.name().clone()).into_column())
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::UInt64)),
    )
}

/// The number [`id_number`] gives a malformed identifier: a hash with the top bit set.
fn malformed_key(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish() | (1 << 63)
}

fn id_rules(table: &'static TableSpec, column: &'static str, kind: Id) -> Vec<Rule> {
    let what = match kind {
        Id::Iin => "IIN",
        Id::Bin => "BIN",
    };
    let parts = match kind {
        Id::Iin => "YYMMDD is a real birth date",
        Id::Bin => "YYMM has a month 01–12",
    };
    let kind_digit = match kind {
        Id::Iin => "century/sex digit is 1–6",
        Id::Bin => "entity type digit is 4–6 and division digit 0–3",
    };
    [
        (IdError::Format, 1i32, format!("{what} is exactly 12 ASCII digits")),
        (IdError::CheckDigit, 2, format!("{what} check digit matches (two-pass mod 11)")),
        (IdError::DatePart, 3, format!("{what} date part is plausible: {parts}")),
        (IdError::KindDigit, 4, format!("{what} {kind_digit}")),
    ]
    .into_iter()
    .map(|(e, code, d)| Rule {
        id: format!("{}.{}.{}", table.name, column, e.code()),
        table,
        column,
        severity: Severity::Error,
        description: d,
        check: Check::IdCode(column, kind, code),
    })
    .collect()
}

/// Every rule of a table, contract-derived first, then the table's own.
pub fn rules(table: &'static TableSpec) -> Vec<Rule> {
    let mut out = Vec::new();
    for c in table.columns {
        if !c.nullable {
            out.push(Rule {
                id: format!("{}.{}.not_null", table.name, c.name),
                table,
                column: c.name,
                severity: Severity::Error,
                description: format!("`{}` is set", c.name),
                check: Check::NotNull(c.name),
            });
        }
        if let Some(values) = c.values {
            let allowed = Series::new("allowed".into(), values.to_vec());
            out.push(Rule::row(
                table,
                c.name,
                "enum",
                Severity::Error,
                format!("`{}` is one of {}", c.name, values.join(", ")),
                col(c.name).is_not_null().and(col(c.name).is_in(lit(allowed).implode(false), false).not()),
            ));
        }
        if let Some(kind) = c.id {
            out.extend(id_rules(table, c.name, kind));
        }
    }
    if !table.key.is_empty() {
        out.push(Rule {
            id: format!("{}.{}.unique", table.name, table.key[0]),
            table,
            column: table.key[0],
            severity: Severity::Error,
            description: format!(
                "primary key ({}) is unique; every row sharing a key is quarantined",
                table.key.join(", ")
            ),
            check: Check::Unique(table.key),
        });
    }
    for i in table.intervals {
        out.push(Rule {
            id: format!("{}.{}.order", table.name, i.to),
            table,
            column: i.to,
            severity: Severity::Error,
            description: format!("`{}` <= `{}` when both are set", i.from, i.to),
            check: Check::Row(col(i.from).gt(col(i.to)).fill_null(lit(false))),
        });
    }
    for r in table.references {
        out.push(Rule {
            id: format!("{}.{}.reference", table.name, r.column),
            table,
            column: r.column,
            severity: r.severity,
            description: format!("`{}` exists in {}.{}", r.column, r.target.name, r.target_column),
            check: Check::Reference(*r),
        });
    }
    out.extend(custom(table));
    out
}

/// Rules that belong to one registry only.
fn custom(table: &'static TableSpec) -> Vec<Rule> {
    match table.name {
        n if n == permits::SPEC.name => vec![Rule::row(
            table,
            "holder",
            "exactly_one",
            Severity::Error,
            "exactly one of `holder_bin` / `holder_iin` is set".into(),
            col(permits::HOLDER_BIN).is_null().eq(col(permits::HOLDER_IIN).is_null()),
        )],
        n if n == mobile_base::SPEC.name => vec![Rule::row(
            table,
            mobile_base::PHONE,
            "mobile",
            Severity::Warning,
            "`phone` is a Kazakhstan mobile number in E.164 (+7 and a mobile code); others cannot receive SMS".into(),
            col(mobile_base::PHONE)
                .map(
                    |c: Column| {
                        let ca = c.str()?;
                        let fails = ca.iter().map(|v| v.is_some_and(|p| !mobile_base::is_mobile(p)));
                        Ok(crate::frames::bool_column(c.name().clone(), fails))
                    },
                    |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
                ),
        )],
        n if n == renames::SPEC.name => vec![Rule::row(
            table,
            renames::RECORDED_AT,
            "after_change",
            Severity::Warning,
            "`recorded_at` is not before `changed_on`".into(),
            col(renames::RECORDED_AT).cast(DataType::Date).lt(col(renames::CHANGED_ON)).fill_null(lit(false)),
        )],
        n if n == legal_entities::SPEC.name => vec![Rule::row(
            table,
            legal_entities::LIQUIDATED_ON,
            "status",
            Severity::Warning,
            "`liquidated_on` is set exactly when `status` is liquidated".into(),
            col(legal_entities::STATUS)
                .eq(lit("liquidated"))
                .neq(col(legal_entities::LIQUIDATED_ON).is_not_null())
                .fill_null(lit(false)),
        )],
        n if n == civil_acts::SPEC.name => vec![Rule::row(
            table,
            civil_acts::NEW_FULL_NAME,
            "name_change",
            Severity::Warning,
            "a `name_change` act has both the old and the new full name".into(),
            col(civil_acts::ACT_TYPE)
                .eq(lit(civil_acts::NAME_CHANGE))
                .and(col(civil_acts::OLD_FULL_NAME).is_null().or(col(civil_acts::NEW_FULL_NAME).is_null()))
                .fill_null(lit(false)),
        )],
        _ => vec![],
    }
}

/// The rows of a table failing any of `by`: its staged columns, a row index and one boolean
/// column per rule of `rules`, named by the rule's id. Reference rules join the target's key
/// set. Columns no rule reads are converted to their staged type for these rows only
/// ([`Snapshot::scan_for_pass`]).
pub fn failing(
    snapshot: &Snapshot,
    table: &'static TableSpec,
    rules: &[Rule],
    by: &[&Rule],
) -> Result<LazyFrame, RegistryError> {
    let (scan, after) = snapshot.scan_for_pass(table)?;
    let converted: Vec<&str> = after.iter().map(|(c, _)| *c).collect();
    let found: Vec<String> = converted.iter().map(|c| format!("__found_{c}")).collect();
    Ok(flags(scan, snapshot, table, rules, &after)?
        .filter(any_failed(by))
        .drop(cols(converted))
        .with_columns(after.into_iter().map(|(_, e)| e).collect::<Vec<_>>())
        .drop(cols(found)))
}

/// `scan` (a table's staged columns, and `__found_<column>` for the columns `converted`
/// stages after the pass) with a row index and one boolean column per rule.
fn flags(
    scan: LazyFrame,
    snapshot: &Snapshot,
    table: &'static TableSpec,
    rules: &[Rule],
    converted: &[super::StagedAfter],
) -> Result<LazyFrame, RegistryError> {
    let mut lf = scan.with_row_index(ROW_INDEX, None);
    let mut row_flags = Vec::new();
    let mut coded: Vec<&str> = Vec::new();
    for rule in rules {
        if let Check::IdCode(column, kind, _) = rule.check {
            if !coded.contains(&column) {
                coded.push(column);
                lf = lf.with_column(id_code(kind, column).alias(format!("__id_{column}").as_str()));
            }
        }
    }
    for (n, rule) in rules.iter().enumerate() {
        match &rule.check {
            Check::IdCode(column, _, code) => {
                row_flags.push(col(format!("__id_{column}").as_str()).eq(lit(*code)).alias(rule.id.as_str()))
            }
            Check::Row(e) => row_flags.push(e.clone().alias(rule.id.as_str())),
            Check::NotNull(column) => row_flags.push(
                match converted.iter().find(|(c, _)| c == column) {
                    Some((_, staging)) => staged_is_null(&format!("__found_{column}"), staging.clone()),
                    None => col(*column).is_null(),
                }
                .alias(rule.id.as_str()),
            ),
            Check::Unique(keys) => {
                // The duplicated keys are few: find them once (grouping a 12-digit
                // identifier as a number, several times faster than grouping strings),
                // then flag rows by membership instead of a join over the whole table.
                let is_id = |k: &str| table.column(k).and_then(|c| c.id).is_some();
                let key_expr = |k: &str| if is_id(k) { id_number(k) } else { col(k) };
                let packed = if keys.len() == 1 {
                    key_expr(keys[0]).alias("__key")
                } else {
                    concat_str(
                        keys.iter().map(|k| key_expr(k).cast(DataType::String)).collect::<Vec<_>>(),
                        "\u{1f}",
                        false,
                    )
                    .alias("__key")
                };
                let dups = match keys {
                    // An identifier key: the identifiers seen twice come with the table's set
                    // of them, which other tables' reference rules read too.
                    [key] if is_id(key) => {
                        Series::new("__key".into(), IdSet::shared(snapshot, table, key)?.repeated_keys())
                    }
                    _ => duplicated_keys(snapshot, table, packed.clone())?,
                };
                row_flags.push(if dups.is_empty() {
                    lit(false).alias(rule.id.as_str())
                } else {
                    packed.is_in(lit(dups).implode(false), false).alias(rule.id.as_str())
                });
            }
            Check::Reference(r) if r.target.column(r.target_column).is_some_and(|c| c.id.is_some()) => {
                // Identifiers: the target's keys as sorted numbers, looked up by binary
                // search (a hash join would first build a table of all 20 M IINs).
                let keys = IdSet::shared(snapshot, r.target, r.target_column)?;
                row_flags.push(
                    col(r.column)
                        .map(
                            move |c: Column| {
                                let ca = c.str()?;
                                let found = keys.contains_each(ca);
                                let missing = ca.iter().zip(found).map(|(v, found)| v.is_some() && !found);
                                Ok(crate::frames::bool_column(c.name().clone(), missing))
                            },
                            |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
                        )
                        .alias(rule.id.as_str()),
                );
            }
            Check::Reference(r) => {
                let key = format!("__ref_key_{n}");
                let found = format!("__ref_found_{n}");
                let targets = snapshot
                    .scan(r.target)?
                    .select([col(r.target_column).alias(key.as_str())])
                    .unique(None, UniqueKeepStrategy::Any)
                    .with_column(lit(true).alias(found.as_str()));
                lf = lf
                    .left_join(targets, col(r.column), col(key.as_str()))
                    .with_column(
                        col(r.column)
                            .is_not_null()
                            .and(col(found.as_str()).is_null())
                            .alias(rule.id.as_str()),
                    )
                    .drop(cols([found.as_str()]));
            }
        }
    }
    let helpers: Vec<String> = coded.iter().map(|c| format!("__id_{c}")).collect();
    Ok(lf.with_columns(row_flags).drop(cols(helpers)))
}

/// Whether a column's staged value is null, from its value as found (`found`) and the
/// expression that stages it (`staging`, reading `found`), without staging every value: a
/// time stages to null only when it is null or far out of range (milliseconds beyond what
/// microseconds hold overflow), so only values near the ends of the range are staged here
/// to see. A value polars cannot convert at all (it panics, where staging every row used to
/// stop the command) counts as missing. Anything but a time is staged whole.
fn staged_is_null(found: &str, staging: Expr) -> Expr {
    let name = PlSmallStr::from(found);
    col(found).map(
        move |c: Column| {
            let Ok(times) = c.datetime() else {
                let df = DataFrame::new(c.len(), vec![c.clone()])?;
                let staged = df.lazy().select([staging.clone()]).collect()?;
                return Ok(staged.columns()[0].is_null().into_column());
            };
            // Within about 250,000 years of 1970 (in nanoseconds, what the type holds less two
            // days), a time stages to a time: no overflow, and within what the time zone
            // conversion can represent.
            let limit = match times.time_unit() {
                TimeUnit::Milliseconds => 8_000_000_000_000_000,
                TimeUnit::Microseconds => 8_000_000_000_000_000_000,
                TimeUnit::Nanoseconds => i64::MAX - 2 * 86_400 * 1_000_000_000,
            };
            let mut null: Vec<bool> = Vec::with_capacity(c.len());
            let mut edge: Vec<IdxSize> = Vec::new();
            for (at, v) in times.phys.iter().enumerate() {
                null.push(v.is_none());
                if v.is_some_and(|v| v <= -limit || v >= limit) {
                    edge.push(at as IdxSize);
                }
            }
            if !edge.is_empty() {
                let values = c.take(&IdxCa::from_vec("at".into(), edge.clone()))?.with_name(name.clone());
                let df = DataFrame::new(values.len(), vec![values])?;
                // A value polars cannot convert at all (it panics) is as good as missing.
                let staged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    df.lazy().select([staging.clone()]).collect()
                }));
                for (k, at) in edge.iter().enumerate() {
                    null[*at as usize] = match &staged {
                        Ok(Ok(df)) => df.columns()[0].get(k).map_or(true, |v| v.is_null()),
                        _ => true,
                    };
                }
            }
            Ok(crate::frames::bool_column(c.name().clone(), null.into_iter()))
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
    )
}

/// The values of a table's packed key (`__key`) that occur on more than one row.
///
/// Reads the key column alone and sorts it, unless it is sorted already (snapshots should be
/// sorted by key: SCHEMA.md advises it and `sdu synth` writes them so, and then one
/// comparison per row suffices); equal keys are then neighbours. Sorting 20 M identifiers as
/// numbers takes a fraction of the time of a hash group-by over them.
fn duplicated_keys(snapshot: &Snapshot, table: &TableSpec, packed: Expr) -> Result<Series, RegistryError> {
    let unreadable = |source| RegistryError::Unreadable { file: snapshot.path(table), source };
    let keys = crate::frames::collect_streaming(snapshot.scan(table)?.select([packed]))
        .map_err(unreadable)?
        .column("__key")
        .expect("selected")
        .as_materialized_series()
        .rechunk();
    // Missing keys are not duplicates: the not-null rule reports them.
    Ok(match keys.dtype() {
        DataType::UInt64 => {
            let ca = keys.u64().map_err(unreadable)?;
            Series::new("__key".into(), repeated(ca.iter().flatten().collect()))
        }
        // Any other key (a date, say) is compared as its text.
        _ => {
            let text = keys.cast(&DataType::String).map_err(unreadable)?;
            let ca = text.str().map_err(unreadable)?;
            Series::new("__key".into(), repeated(ca.iter().flatten().collect()))
                .cast(keys.dtype())
                .map_err(unreadable)?
        }
    })
}

/// The values of an identifier column, for membership tests: 12-digit values as sorted
/// numbers, anything else (malformed values, few) as strings.
pub struct IdSet {
    numbers: Vec<u64>,
    /// `numbers[index[b]..index[b + 1]]` are the numbers whose top bits (`n >> shift`) are
    /// `b`: a lookup reads one bucket (a few hundred numbers of one birth date at most)
    /// instead of binary-searching 20 M, which misses the cache at every step.
    index: Vec<u32>,
    shift: u32,
    others: std::collections::HashSet<String>,
    /// The values seen more than once ([`IdSet::repeated`]).
    repeated_numbers: Vec<u64>,
    repeated_others: std::collections::HashSet<String>,
}

/// Buckets of an [`IdSet`]'s index: at most 2^22 (16 MB of offsets).
const ID_BUCKET_BITS: u32 = 22;

/// The identifier sets read last, by file, column and the file's size and time: staging
/// reads `individuals.iin` and `legal_entities.bin` for several registries' reference rules,
/// and 20 M keys take seconds to read. A few are kept (the latest first), so a backfill over
/// many snapshots holds a few.
type IdSetKey = (std::path::PathBuf, String, u64, Option<std::time::SystemTime>);
static ID_SETS: std::sync::Mutex<Vec<(IdSetKey, std::sync::Arc<IdSet>)>> = std::sync::Mutex::new(Vec::new());
const ID_SETS_KEPT: usize = 2;

impl std::fmt::Debug for IdSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdSet({} values)", self.len())
    }
}

impl IdSet {
    /// [`IdSet::read`], shared with the rules read before from the same file and column.
    fn shared(
        snapshot: &Snapshot,
        table: &TableSpec,
        column: &str,
    ) -> Result<std::sync::Arc<IdSet>, RegistryError> {
        let path = snapshot.path(table);
        let meta = std::fs::metadata(&path).ok();
        let id = (
            path,
            column.to_string(),
            meta.as_ref().map_or(0, |m| m.len()),
            meta.and_then(|m| m.modified().ok()),
        );
        let mut sets = ID_SETS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = sets.iter().position(|(key, _)| *key == id) {
            let found = sets.remove(n);
            let set = found.1.clone();
            sets.insert(0, found);
            return Ok(set);
        }
        sets.truncate(ID_SETS_KEPT - 1);
        let set = std::sync::Arc::new(IdSet::read(snapshot, table, column)?);
        sets.insert(0, (id, set.clone()));
        Ok(set)
    }

    fn read(snapshot: &Snapshot, table: &TableSpec, column: &str) -> Result<IdSet, RegistryError> {
        let unreadable = |source| RegistryError::Unreadable { file: snapshot.path(table), source };
        let df = crate::frames::collect_streaming(snapshot.scan(table)?.select([col(column)]))
            .map_err(unreadable)?;
        Ok(IdSet::of(df.column(column).expect("selected").str().map_err(unreadable)?))
    }

    /// The set of a string column's values (nulls aside).
    pub fn of(values: &StringChunked) -> IdSet {
        let mut set = IdSet {
            numbers: Vec::with_capacity(values.len()),
            index: Vec::new(),
            shift: 0,
            others: Default::default(),
            repeated_numbers: Vec::new(),
            repeated_others: Default::default(),
        };
        for v in values.iter().flatten() {
            match digits12(v) {
                Some(n) => set.numbers.push(n),
                None => {
                    if !set.others.insert(v.to_string()) {
                        set.repeated_others.insert(v.to_string());
                    }
                }
            }
        }
        sort_nearly_sorted(&mut set.numbers, true);
        for w in set.numbers.windows(2) {
            if w[0] == w[1] && set.repeated_numbers.last() != Some(&w[1]) {
                set.repeated_numbers.push(w[1]);
            }
        }
        set.numbers.dedup();
        set.index_buckets();
        set
    }

    /// The values that occur more than once in the column the set was made of, as
    /// [`id_number`] gives them.
    fn repeated_keys(&self) -> Vec<u64> {
        let mut keys = self.repeated_numbers.clone();
        keys.extend(self.repeated_others.iter().map(|s| malformed_key(s)));
        keys
    }

    /// Builds the bucket index over the sorted numbers.
    fn index_buckets(&mut self) {
        let max = self.numbers.last().copied().unwrap_or(0);
        // About one number per bucket, at most 2^ID_BUCKET_BITS buckets: a small set (the
        // slices' domain) keeps an index that stays in the cache.
        let bits = (usize::BITS - self.numbers.len().leading_zeros()).clamp(4, ID_BUCKET_BITS);
        self.shift = (u64::BITS - max.leading_zeros()).saturating_sub(bits);
        let buckets = (max >> self.shift) as usize + 1;
        self.index = Vec::with_capacity(buckets + 1);
        let mut at = 0usize;
        for b in 0..=buckets {
            while at < self.numbers.len() && ((self.numbers[at] >> self.shift) as usize) < b {
                at += 1;
            }
            self.index.push(u32::try_from(at).unwrap_or(u32::MAX));
        }
    }

    /// The number of distinct values.
    pub fn len(&self) -> usize {
        self.numbers.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, v: &str) -> bool {
        match digits12(v) {
            Some(n) => self.has_number(n),
            None => self.others.contains(v),
        }
    }

    fn has_number(&self, n: u64) -> bool {
        let b = (n >> self.shift) as usize;
        match (self.index.get(b), self.index.get(b + 1)) {
            (Some(&lo), Some(&hi)) => holds(&self.numbers[lo as usize..hi as usize], n),
            _ => false,
        }
    }

    /// [`IdSet::contains`] of every value of a column (false for nulls), in the column's
    /// order. The values are looked up in ascending order, sorting them first unless they
    /// are sorted already: then consecutive lookups read neighbouring memory, where values in
    /// the file's order (civil acts by act, heads by organization) would each miss the cache
    /// two or three times over 20 M numbers.
    pub fn contains_each(&self, values: &StringChunked) -> Vec<bool> {
        if u32::try_from(values.len()).is_err() {
            // Positions are kept as 32 bits: a larger batch (never a streaming morsel) is
            // looked up one value at a time.
            return values.iter().map(|v| v.is_some_and(|v| self.contains(v))).collect();
        }
        let mut found = vec![false; values.len()];
        let mut numbers: Vec<(u64, u32)> = Vec::with_capacity(values.len());
        for (at, v) in values.iter().enumerate() {
            if let Some(v) = v {
                match digits12(v) {
                    Some(n) => numbers.push((n, at as u32)),
                    None => found[at] = self.others.contains(v),
                }
            }
        }
        if !numbers.is_sorted_by_key(|&(n, _)| n) {
            // Sorted, the lookups read ascending memory; the branchless search lets the
            // processor overlap their cache misses. (By number, then position: the order
            // of equal numbers does not matter.)
            sort_nearly_sorted(&mut numbers, false);
            for (n, at) in numbers {
                found[at as usize] = self.has_number(n);
            }
            return found;
        }
        // Sorted as they came (a registry sorted by this key): each lookup gallops forward
        // from where the last one ended (or from its bucket, if that starts later), mostly
        // a step or two.
        let mut pos = 0usize;
        for (n, at) in numbers {
            let b = (n >> self.shift) as usize;
            let (Some(&lo), Some(&hi)) = (self.index.get(b), self.index.get(b + 1)) else {
                continue;
            };
            let (start, hi) = (pos.max(lo as usize), hi as usize);
            if start < hi {
                pos = start + lower_bound(&self.numbers[start..hi], n);
                found[at as usize] = pos < hi && self.numbers[pos] == n;
            }
        }
        found
    }
}

/// Sorts `values`, in linear time when few are out of place (a registry sorted by its key
/// but for some rows, as SCHEMA.md advises and real extracts come): the values that break
/// the ascending run are set aside, sorted, and merged back from the end. More than one in
/// eight out of place, and they are sorted in parallel as a whole.
fn sort_nearly_sorted<T: Ord + Copy + Send>(values: &mut [T], parallel: bool) {
    use rayon::slice::ParallelSliceMut;
    if values.is_sorted() {
        return;
    }
    // A value stays in the ascending run unless it is below the run's last value, or above
    // the next value when that one would stay (a lone value too large, say the first).
    let stays = |v: T, last: Option<T>, next: Option<T>| {
        last.is_none_or(|l| l <= v) && !next.is_some_and(|n| n < v && last.is_none_or(|l| l <= n))
    };
    let mut last = None;
    let mut out_of_place = 0;
    for i in 0..values.len() {
        if stays(values[i], last, values.get(i + 1).copied()) {
            last = Some(values[i]);
        } else {
            out_of_place += 1;
        }
    }
    if out_of_place > values.len() / 8 {
        match parallel {
            true => values.par_sort_unstable(),
            false => values.sort_unstable(),
        }
        return;
    }
    let mut aside = Vec::with_capacity(out_of_place);
    let mut kept = 0usize;
    for i in 0..values.len() {
        // `kept <= i`: the values at `i` and after are still the input's.
        let v = values[i];
        if stays(v, kept.checked_sub(1).map(|k| values[k]), values.get(i + 1).copied()) {
            values[kept] = v;
            kept += 1;
        } else {
            aside.push(v);
        }
    }
    // `values[..kept]` ascends; `values[kept..]` holds stale copies, as many as `aside`.
    aside.sort_unstable();
    let (mut i, mut j, mut out) = (kept, aside.len(), values.len());
    while j > 0 {
        out -= 1;
        if i > 0 && values[i - 1] > aside[j - 1] {
            values[out] = values[i - 1];
            i -= 1;
        } else {
            values[out] = aside[j - 1];
            j -= 1;
        }
    }
}

/// The first position of sorted `numbers` holding `n` or more, searched from the front in
/// doubling steps: cheap when it is near, as it is for ascending lookups.
fn lower_bound(numbers: &[u64], n: u64) -> usize {
    let mut end = 1;
    while end <= numbers.len() && numbers[end - 1] < n {
        end *= 2;
    }
    let from = end / 2;
    from + numbers[from..end.min(numbers.len())].partition_point(|&x| x < n)
}

/// Whether sorted `numbers` hold `n`: a binary search without branches on the values (a
/// conditional move per step), so the processor can run the next lookups' memory reads
/// while this one waits for its own.
fn holds(numbers: &[u64], n: u64) -> bool {
    if numbers.is_empty() {
        return false;
    }
    let (mut base, mut size) = (0usize, numbers.len());
    while size > 1 {
        let half = size / 2;
        base = if numbers[base + half] <= n { base + half } else { base };
        size -= half;
    }
    numbers[base] == n
}

/// A value of exactly 12 ASCII digits, as a number.
fn digits12(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    (b.len() == 12 && b.iter().all(u8::is_ascii_digit))
        .then(|| b.iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0')))
}

/// The values that occur more than once, each once, in ascending order.
fn repeated<T: Ord + Copy + Send>(mut values: Vec<T>) -> Vec<T> {
    sort_nearly_sorted(&mut values, true);
    let mut out: Vec<T> = Vec::new();
    for w in values.windows(2) {
        if w[0] == w[1] && out.last() != Some(&w[1]) {
            out.push(w[1]);
        }
    }
    out
}

/// True where a row fails any of the given rules.
pub fn any_failed(rules: &[&Rule]) -> Expr {
    rules.iter().map(|r| col(r.id.as_str())).reduce(|a, b| a.or(b)).unwrap_or_else(|| lit(false))
}

#[cfg(test)]
mod tests {
    use super::repeated;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        /// The bucket index answers as a search of all the numbers would: for values
        /// clustered like IINs (a birth date, then a serial) and spread, present or not,
        /// at the ends of the range and past them.
        fn an_id_set_holds_exactly_its_values(
            days in prop::collection::vec(0u64..40, 1..30),
            serials in prop::collection::vec(0u64..2_000_000, 1..300),
            probes in prop::collection::vec(0u64..1_000_000_000_000, 0..200),
        ) {
            use polars::prelude::*;
            let mut values: Vec<u64> = serials.iter().enumerate()
                .map(|(i, s)| (days[i % days.len()] * 25_000_000_000 + s) % 1_000_000_000_000)
                .collect();
            values.push(999_999_999_999);
            let text: Vec<String> = values.iter().map(|n| format!("{n:012}")).collect();
            let set = super::IdSet::of(&StringChunked::from_iter_values("v".into(), text.iter().map(String::as_str)));
            let truth: std::collections::BTreeSet<u64> = values.iter().copied().collect();
            let mut asked = Vec::new();
            for n in values.iter().chain(probes.iter()).flat_map(|n| [*n, n.saturating_sub(1), n + 1]) {
                let s = format!("{n:012}");
                prop_assert_eq!(set.contains(&s), truth.contains(&n) && s.len() == 12, "{}", s);
                asked.push(Some(s));
            }
            // All at once, in any order and sorted, with nulls and malformed values: the same.
            asked.extend([None, Some("12345".into()), Some("12345678901x".into())]);
            for sorted in [false, true] {
                if sorted {
                    asked.sort();
                }
                let column = StringChunked::from_iter_options("v".into(), asked.iter().map(|v| v.as_deref()));
                let one_by_one: Vec<bool> = asked.iter().map(|v| v.as_deref().is_some_and(|v| set.contains(v))).collect();
                prop_assert_eq!(set.contains_each(&column), one_by_one);
            }
        }

        /// Sorting a nearly sorted vector (some values out of place, anywhere) or any other
        /// gives what a plain sort gives.
        #[test]
        fn nearly_sorted_values_sort_as_any_others(
            len in 0usize..400,
            moved in prop::collection::vec((any::<prop::sample::Index>(), 0u64..500), 0..60),
        ) {
            let mut values: Vec<u64> = (0..len as u64).map(|v| v + v / 3).collect();
            if len % 3 == 0 && !values.is_empty() {
                values[0] = u64::MAX;
            }
            for (at, v) in &moved {
                if !values.is_empty() {
                    let i = at.index(values.len());
                    values[i] = *v;
                }
            }
            let mut expected = values.clone();
            expected.sort();
            super::sort_nearly_sorted(&mut values, len % 2 == 0);
            prop_assert_eq!(values, expected);
        }

        /// An identifier set knows the values its column holds more than once, numbers and
        /// malformed values alike, nulls never.
        #[test]
        fn an_id_set_knows_its_repeated_values(picks in prop::collection::vec(0usize..8, 0..60), sort in any::<bool>()) {
            use polars::prelude::*;
            let pool = [Some("870101300123"), Some("870101300124"), Some("000000000001"), Some("999999999999"),
                Some("8701013001"), Some("87010130012x"), Some(""), None];
            let mut values: Vec<Option<&str>> = picks.iter().map(|&i| pool[i]).collect();
            if sort {
                values.sort();
            }
            let set = super::IdSet::of(&StringChunked::from_iter_options("v".into(), values.iter().copied()));
            let mut twice = set.repeated_keys();
            twice.sort();
            let mut expected = Vec::new();
            for v in pool.iter().flatten() {
                let n = values.iter().filter(|x| **x == Some(*v)).count();
                prop_assert_eq!(set.contains(v), n > 0);
                if n > 1 {
                    // As `id_number` gives it: the key the uniqueness rule compares.
                    expected.push(super::digits12(v).unwrap_or_else(|| super::malformed_key(v)));
                }
            }
            expected.sort();
            prop_assert_eq!(twice, expected);
        }

        /// Sorted or not, `repeated` finds exactly the values that occur more than once.
        #[test]
        fn repeated_is_the_values_seen_twice(mut values in prop::collection::vec(0u64..50, 0..200), sort in any::<bool>()) {
            if sort {
                values.sort();
            }
            let mut counts = BTreeMap::new();
            for v in &values {
                *counts.entry(*v).or_insert(0) += 1;
            }
            let expected: Vec<u64> = counts.into_iter().filter(|&(_, n)| n > 1).map(|(v, _)| v).collect();
            prop_assert_eq!(repeated(values), expected);
        }
    }

    #[test]
    fn id_sets_hold_numbers_and_malformed_values_alike() {
        use polars::prelude::*;
        let values = StringChunked::from_slice("v".into(), &["900101300257", "012345678901", "90010130025"]);
        let set = super::IdSet::of(&values);
        assert!(set.contains("012345678901"), "leading zeros are kept in the number");
        assert!(set.contains("900101300257"));
        assert!(set.contains("90010130025"), "a malformed value matches itself");
        assert!(!set.contains("900101300258"));
        assert!(!set.contains("12345678901"), "not the number without its leading zero");
        assert_eq!(super::digits12("00000000000a"), None);
    }

    #[test]
    fn repeated_strings_in_any_order() {
        assert_eq!(repeated(vec!["b", "a", "c", "a", "b", "b"]), vec!["a", "b"]);
        assert!(repeated(Vec::<&str>::new()).is_empty());
    }
}
