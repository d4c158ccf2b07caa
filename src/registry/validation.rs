//! `sdu validate`: evaluates every row rule of every registry of a snapshot and gathers,
//! per rule, the failing rows with masked examples, and per table, the quarantined rows
//! (every row that fails any rule, with the ids of the rules it fails).

use super::rules::{failing, rules, Rule, ROW_INDEX};
use super::{RegistryError, Severity, Snapshot, TableSpec, TABLES};
use crate::ids::mask;
use polars::prelude::*;
use serde::Serialize;

/// How many masked examples a rule shows.
const EXAMPLES: usize = 3;
/// Column of the quarantine files: the rules a row fails.
pub const FAILED_RULES: &str = "failed_rules";

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{table}: evaluating the row rules failed")]
    Evaluate {
        table: &'static str,
        #[source]
        source: PolarsError,
    },
}

/// The outcome of one rule.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RuleResult {
    pub rule: String,
    pub table: String,
    pub column: String,
    pub severity: Severity,
    pub description: String,
    pub rows_checked: u64,
    pub failing_rows: u64,
    /// Keys of the first failing rows, identifiers masked.
    pub examples: Vec<String>,
}

/// The whole report plus the rows to quarantine.
pub struct Validation {
    pub results: Vec<RuleResult>,
    /// Per table: failing rows with `row_index` and `failed_rules`.
    pub quarantine: Vec<(&'static TableSpec, DataFrame)>,
}

impl Validation {
    pub fn errors(&self) -> u64 {
        self.results.iter().filter(|r| r.severity == Severity::Error).map(|r| r.failing_rows).sum()
    }

    pub fn warnings(&self) -> u64 {
        self.results.iter().filter(|r| r.severity == Severity::Warning).map(|r| r.failing_rows).sum()
    }
}

/// Validates every registry of the snapshot.
pub fn validate(snapshot: &Snapshot) -> Result<Validation, ValidationError> {
    let mut results = Vec::new();
    let mut quarantine = Vec::new();
    for table in TABLES {
        let found = snapshot
            .store()
            .map(|s| s.entry(snapshot, table).and_then(|entry| Ok((entry.rules()?, entry.quarantine()?))));
        let (r, q) = match found {
            // What staging found when it validated this content, once.
            Some(Ok(found)) => found,
            Some(Err(RegistryError::Store { path, source })) => {
                tracing::warn!("{}: {source}; {} is validated in memory", path.display(), table.file_name());
                validate_table(snapshot, table)?
            }
            Some(Err(e)) => return Err(e.into()),
            None => validate_table(snapshot, table)?,
        };
        results.extend(r);
        quarantine.push((*table, q));
    }
    // Staging through a store makes the slices later lookups read, too.
    if let Some(store) = snapshot.store() {
        for (table, _) in super::slices::TABLES {
            if let Err(e) = store.slice(snapshot, table) {
                tracing::warn!(
                    "{}: no slice ({}); lookups will read the whole file",
                    table.file_name(),
                    super::store::cause(&e)
                );
            }
        }
    }
    Ok(Validation { results, quarantine })
}

fn evaluate(table: &'static TableSpec) -> impl Fn(PolarsError) -> ValidationError {
    move |source| ValidationError::Evaluate { table: table.name, source }
}

/// Validates one registry: one pass that keeps only failing rows.
pub fn validate_table(
    snapshot: &Snapshot,
    table: &'static TableSpec,
) -> Result<(Vec<RuleResult>, DataFrame), ValidationError> {
    let rules = rules(table);
    let all: Vec<&Rule> = rules.iter().collect();
    let rows_checked = snapshot.rows(table)?;
    let failed_list = concat_str(
        rules
            .iter()
            .map(|r| {
                when(col(r.id.as_str())).then(lit(r.id.clone())).otherwise(lit(NULL).cast(DataType::String))
            })
            .collect::<Vec<_>>(),
        ",",
        true,
    )
    .str()
    .split(lit(","))
    .alias(FAILED_RULES);
    let clock = std::time::Instant::now();
    let failing = crate::frames::collect_streaming(
        failing(snapshot, table, &rules, &all)?.sort([ROW_INDEX], SortMultipleOptions::default()),
    )
    .map_err(evaluate(table))?;
    tracing::debug!("{}: rules evaluated in {:.2} s", table.file_name(), clock.elapsed().as_secs_f64());

    let mut results = Vec::with_capacity(rules.len());
    let is_iin = table.column(table.label).is_some_and(|c| c.id == Some(super::Id::Iin));
    for rule in &rules {
        let mask_col =
            failing.column(rule.id.as_str()).and_then(|c| c.bool().cloned()).map_err(evaluate(table))?;
        let failing_rows = mask_col.sum().unwrap_or(0) as u64;
        let examples = failing
            .filter(&mask_col)
            .and_then(|df| df.column(table.label).and_then(|c| c.str().cloned()))
            .map_err(evaluate(table))?
            .iter()
            .take(EXAMPLES)
            .map(|v| match v {
                Some(s) if is_iin => mask(s),
                Some(s) => s.to_string(),
                None => "(null)".to_string(),
            })
            .collect();
        results.push(RuleResult {
            rule: rule.id.clone(),
            table: table.name.to_string(),
            column: rule.column.to_string(),
            severity: rule.severity,
            description: rule.description.clone(),
            rows_checked,
            failing_rows,
            examples,
        });
    }
    let mut keep: Vec<Expr> = vec![col(ROW_INDEX)];
    keep.extend(table.columns.iter().map(|c| col(c.name)));
    keep.push(failed_list);
    let quarantine = failing.lazy().select(keep).collect().map_err(evaluate(table))?;
    Ok((results, quarantine))
}

/// The report as a table (one row per rule), for Parquet.
pub fn results_frame(results: &[RuleResult]) -> PolarsResult<DataFrame> {
    let examples: Vec<String> = results.iter().map(|r| r.examples.join(", ")).collect();
    DataFrame::new_infer_height(vec![
        Column::new("rule".into(), results.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>()),
        Column::new("table".into(), results.iter().map(|r| r.table.as_str()).collect::<Vec<_>>()),
        Column::new("column".into(), results.iter().map(|r| r.column.as_str()).collect::<Vec<_>>()),
        Column::new("severity".into(), results.iter().map(|r| r.severity.name()).collect::<Vec<_>>()),
        Column::new("description".into(), results.iter().map(|r| r.description.as_str()).collect::<Vec<_>>()),
        Column::new("rows_checked".into(), results.iter().map(|r| r.rows_checked).collect::<Vec<_>>()),
        Column::new("failing_rows".into(), results.iter().map(|r| r.failing_rows).collect::<Vec<_>>()),
        Column::new("examples".into(), examples),
    ])
}
