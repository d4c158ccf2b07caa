//! Staging layer: one module per registry of SCHEMA.md.
//!
//! Each registry module states its file, its column names as constants and its contract
//! ([`TableSpec`]): types, nullability, enum values, keys and references. This module owns
//! what they share: opening a snapshot, checking a file's schema against the contract
//! (naming file, column, expected and found type), and casting to the types the pipeline
//! works with. It never joins or aggregates; row rules live in [`rules`].

pub mod civil_acts;
pub mod heads;
pub mod individuals;
pub mod legal_entities;
pub mod mobile_base;
pub mod permits;
pub mod renames;
pub mod rules;
pub mod slices;
pub mod store;
pub mod validation;

use polars::prelude::*;
use std::path::{Path, PathBuf};

/// The column types the contract knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Date,
    /// `Datetime` in µs or ms, either tz-aware or naive local time in Asia/Almaty. Staged as
    /// naive Asia/Almaty wall-clock time in µs.
    Datetime,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "str",
            Kind::Date => "date",
            Kind::Datetime => "datetime",
        }
    }

    /// The staged dtype every valid input is cast to.
    pub fn dtype(self) -> DataType {
        match self {
            Kind::Str => DataType::String,
            Kind::Date => DataType::Date,
            Kind::Datetime => DataType::Datetime(TimeUnit::Microseconds, None),
        }
    }

    fn accepts(self, found: &DataType) -> bool {
        matches!(
            (self, found),
            (Kind::Str, DataType::String)
                | (Kind::Date, DataType::Date)
                | (Kind::Datetime, DataType::Datetime(_, _))
        )
    }
}

/// Which identifier rules a column follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    Iin,
    Bin,
}

#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    /// Allowed values of a string enum.
    pub values: Option<&'static [&'static str]>,
    pub id: Option<Id>,
    pub meaning: &'static str,
}

impl ColumnSpec {
    pub const fn new(name: &'static str, kind: Kind, nullable: bool, meaning: &'static str) -> Self {
        ColumnSpec { name, kind, nullable, values: None, id: None, meaning }
    }

    pub const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.values = Some(values);
        self
    }

    pub const fn id(mut self, id: Id) -> Self {
        self.id = Some(id);
        self
    }
}

/// A reference from a column of this table to the key of another.
#[derive(Debug, Clone, Copy)]
pub struct Reference {
    pub column: &'static str,
    pub target: &'static TableSpec,
    pub target_column: &'static str,
    /// An error removes the row from later stages; a warning keeps it (the funnel then says
    /// what became of it, e.g. `recipient_not_found`).
    pub severity: Severity,
}

/// A `from <= to` pair (both set).
#[derive(Debug, Clone, Copy)]
pub struct Interval {
    pub from: &'static str,
    pub to: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// Table name, also the file stem.
    pub name: &'static str,
    /// The registry it comes from (for docs and messages).
    pub source: &'static str,
    pub columns: &'static [ColumnSpec],
    /// Primary key columns (empty: none).
    pub key: &'static [&'static str],
    /// Column shown (masked) as the example of a failing row.
    pub label: &'static str,
    pub intervals: &'static [Interval],
    pub references: &'static [Reference],
}

impl TableSpec {
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.name)
    }

    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Every registry of a snapshot, in the order the contract lists them.
pub const TABLES: &[&TableSpec] = &[
    &legal_entities::SPEC,
    &renames::SPEC,
    &heads::SPEC,
    &permits::SPEC,
    &individuals::SPEC,
    &civil_acts::SPEC,
    &mobile_base::SPEC,
];

/// Errors of the staging layer: the snapshot breaks the contract.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("snapshot folder {0} does not exist")]
    NoSnapshot(PathBuf),
    #[error("{file}: registry file is missing")]
    MissingFile { file: PathBuf },
    #[error("{file}: cannot read the Parquet file")]
    Unreadable {
        file: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{file}: evaluating the row rules failed")]
    Evaluate {
        file: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{file}: column `{column}` is missing (expected {expected})")]
    MissingColumn { file: PathBuf, column: &'static str, expected: &'static str },
    #[error("{file}: column `{column}` has type {found}, expected {expected}")]
    WrongType { file: PathBuf, column: &'static str, expected: &'static str, found: String },
    #[error("{path}: cannot use the staged store")]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub const ZONE: &str = "Asia/Almaty";

/// A snapshot folder: one Parquet file per registry, taken on one date.
#[derive(Debug, Clone)]
pub struct Snapshot {
    dir: PathBuf,
    store: Option<store::Store>,
}

impl Snapshot {
    pub fn open(dir: &Path) -> Result<Snapshot, RegistryError> {
        if !dir.is_dir() {
            return Err(RegistryError::NoSnapshot(dir.to_path_buf()));
        }
        Ok(Snapshot { dir: dir.to_path_buf(), store: None })
    }

    /// The snapshot staged through the store at `root` ([`store`]): each registry is
    /// validated once per content, and later commands read what it kept.
    pub fn with_store(mut self, root: &Path) -> Snapshot {
        self.store = Some(store::Store::at(root));
        self
    }

    /// The store it is staged through, if any.
    pub fn store(&self) -> Option<&store::Store> {
        self.store.as_ref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, table: &TableSpec) -> PathBuf {
        self.dir.join(table.file_name())
    }

    /// Scans a registry file, checks it against the contract and returns a lazy frame of
    /// exactly the contract's columns, cast to their staged types. Reads only metadata.
    pub fn scan(&self, table: &TableSpec) -> Result<LazyFrame, RegistryError> {
        let (lf, found) = self.scan_checked(table)?;
        Ok(lf.select(
            table
                .columns
                .iter()
                .zip(&found)
                .map(|(spec, f)| stage_column(col(spec.name), spec, f))
                .collect::<Vec<_>>(),
        ))
    }

    /// [`Snapshot::scan`] for a pass that keeps few rows (validation's): columns whose
    /// staging converts every value (a zoned time to Asia/Almaty) come also as found, named
    /// `__found_<column>`, with the expressions (by column) that stage those after the
    /// pass's filter. A column no rule reads is then converted for the rows
    /// kept only, since polars computes no projection nothing reads.
    pub fn scan_for_pass(&self, table: &TableSpec) -> Result<(LazyFrame, Vec<StagedAfter>), RegistryError> {
        let (lf, found) = self.scan_checked(table)?;
        let mut exprs = Vec::new();
        let mut after = Vec::new();
        for (spec, f) in table.columns.iter().zip(&found) {
            exprs.push(stage_column(col(spec.name), spec, f));
            if *f != spec.kind.dtype() {
                let raw = format!("__found_{}", spec.name);
                exprs.push(col(spec.name).alias(raw.as_str()));
                after.push((spec.name, stage_column(col(raw.as_str()), spec, f).alias(spec.name)));
            }
        }
        Ok((lf.select(exprs), after))
    }

    /// The registry file's scan, its columns checked against the contract, and the type the
    /// file has each contract column in. Reads only metadata.
    fn scan_checked(&self, table: &TableSpec) -> Result<(LazyFrame, Vec<DataType>), RegistryError> {
        let file = self.path(table);
        if !file.is_file() {
            return Err(RegistryError::MissingFile { file });
        }
        let unreadable = |source| RegistryError::Unreadable { file: file.clone(), source };
        let mut lf = LazyFrame::scan_parquet(
            PlRefPath::try_from_path(&file).map_err(unreadable)?,
            ScanArgsParquet::default(),
        )
        .map_err(unreadable)?;
        let schema = lf.collect_schema().map_err(unreadable)?;
        let mut types = Vec::with_capacity(table.columns.len());
        for spec in table.columns {
            let found = schema.get(spec.name).ok_or_else(|| RegistryError::MissingColumn {
                file: file.clone(),
                column: spec.name,
                expected: spec.kind.name(),
            })?;
            if !spec.kind.accepts(found) {
                return Err(RegistryError::WrongType {
                    file: file.clone(),
                    column: spec.name,
                    expected: spec.kind.name(),
                    found: found.to_string(),
                });
            }
            types.push(found.clone());
        }
        Ok((lf, types))
    }
}

/// A column of [`Snapshot::scan_for_pass`] staged after the pass's filter: its name and the
/// expression that stages it.
pub type StagedAfter = (&'static str, Expr);

/// A registry ready for the pipeline: the rows that pass every error-severity rule, how
/// many rows the file has and how many were left out.
#[derive(Clone)]
pub struct Staged {
    pub table: &'static TableSpec,
    pub frame: LazyFrame,
    pub rows: u64,
    pub left_out: u64,
    /// The file's SHA-256 when the staged store knows it already.
    pub sha256: Option<String>,
    /// Staged through a store, the rows of the keys the events can ask about ([`slices`]).
    pub slice: Option<slices::Slice>,
}

impl Snapshot {
    /// Stages a registry for later stages: rows failing an error-severity rule are left out
    /// (and counted in [`Staged::left_out`]); warnings keep the row.
    ///
    /// The rules are evaluated here, in one streaming pass that keeps only the failing rows;
    /// the staged frame is then a plain scan that skips them, so however often later plans
    /// read it, no rule is evaluated twice. A table with a key skips them by key: every row
    /// sharing a duplicated key fails, so the failing keys name exactly the failing rows. A
    /// table without a key skips them by all their values. Either way later filters on
    /// columns (unlike one on the row position) are pushed into the Parquet scan.
    ///
    /// Through a store, the registry's entry is read when its content was staged before, and
    /// staged into it otherwise; a store that cannot be written (a reader of the audit tier)
    /// is passed over with a warning, and the registry is staged in memory as without one.
    pub fn stage(&self, table: &'static TableSpec) -> Result<Staged, RegistryError> {
        if let Some(store) = &self.store {
            match store.stage(self, table) {
                Ok(staged) => return Ok(staged),
                Err(RegistryError::Store { path, source }) if self.scan(table).is_ok() => {
                    tracing::warn!(
                        "{}: {source}; {} is staged in memory for this run",
                        path.display(),
                        table.file_name()
                    );
                }
                Err(e) => return Err(e),
            }
        }
        self.stage_in_memory(table)
    }

    /// [`Snapshot::stage`] without a store.
    fn stage_in_memory(&self, table: &'static TableSpec) -> Result<Staged, RegistryError> {
        let errors: Vec<rules::Rule> =
            rules::rules(table).into_iter().filter(|r| r.severity == Severity::Error).collect();
        let refs: Vec<&rules::Rule> = errors.iter().collect();
        let file = self.path(table);
        let failing = crate::frames::collect_streaming(
            rules::failing(self, table, &errors, &refs)?
                .select(row_names(table).iter().map(|c| col(*c)).collect::<Vec<_>>()),
        )
        .map_err(|source| RegistryError::Evaluate { file, source })?;
        let left_out = failing.height() as u64;
        let rows = self.rows(table)?;
        Ok(Staged { table, frame: self.skipping(table, failing)?, rows, left_out, sha256: None, slice: None })
    }

    /// The registry's rows but those `failing` names (by [`row_names`]): the staged frame.
    pub fn skipping(
        &self,
        table: &'static TableSpec,
        failing: DataFrame,
    ) -> Result<LazyFrame, RegistryError> {
        Ok(skip(self.scan(table)?, table, failing))
    }
}

/// The rows of `rows` (a registry's staged columns: its file, or a slice of it) but those
/// `failing` names (by [`row_names`]).
pub fn skip(rows: LazyFrame, table: &'static TableSpec, failing: DataFrame) -> LazyFrame {
    if failing.height() == 0 {
        return rows;
    }
    let skipped = failing.lazy().unique(None, UniqueKeepStrategy::Any);
    let on: Vec<Expr> = row_names(table).iter().map(|c| col(*c)).collect();
    // An anti join rather than a filter: a later filter (a lookup by key) is pushed below
    // it into the scan, and the join then probes only the rows found.
    match table.key {
        // A missing key fails `not_null`; it is skipped explicitly.
        [key] => {
            rows.filter(col(*key).is_not_null()).join(skipped, on.clone(), on, JoinArgs::new(JoinType::Anti))
        }
        _ => rows.join(
            skipped,
            on.clone(),
            on,
            JoinArgs { nulls_equal: true, ..JoinArgs::new(JoinType::Anti) },
        ),
    }
}

impl Snapshot {
    /// The number of rows of a registry file (from its metadata).
    pub fn rows(&self, table: &TableSpec) -> Result<u64, RegistryError> {
        let unreadable = |source| RegistryError::Unreadable { file: self.path(table), source };
        let n = self.scan(table)?.select([len().alias("rows")]).collect().map_err(unreadable)?;
        Ok(n.column("rows")
            .and_then(|c| c.cast(&DataType::UInt64))
            .map_err(unreadable)?
            .u64()
            .map_err(unreadable)?
            .get(0)
            .unwrap_or(0))
    }
}

/// The columns that name a row failing a rule: its key; for a table without a single-column
/// key, all its columns (equal rows fail the same rules). Every row sharing a failing key
/// fails too (the key is unique, or all of them fail uniqueness), so the names of the
/// failing rows name exactly the rows to leave out.
pub fn row_names(table: &TableSpec) -> Vec<&'static str> {
    match table.key {
        [key] => vec![*key],
        _ => table.column_names(),
    }
}

/// The cast that brings a valid input column to its staged type. Timestamps with a zone are
/// converted to Asia/Almaty wall-clock time; naive ones are taken as Asia/Almaty already. A
/// column that has its staged type already is taken as it is: a plain projection lets
/// polars push later filters into the Parquet scan (which then decodes the other columns
/// only for the rows that pass), where a cast, even a no-op one, stops them.
fn stage_column(c: Expr, spec: &ColumnSpec, found: &DataType) -> Expr {
    if *found == spec.kind.dtype() {
        return c;
    }
    match (spec.kind, found) {
        (Kind::Datetime, DataType::Datetime(_, Some(_))) => c
            .dt()
            .convert_time_zone(TimeZone::from_chrono(&chrono_tz::Asia::Almaty))
            .dt()
            .replace_time_zone(None, lit("raise"), NonExistent::Raise)
            .cast(spec.kind.dtype()),
        _ => c.cast(spec.kind.dtype()),
    }
}
