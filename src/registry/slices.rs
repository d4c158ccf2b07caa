//! The slices of the registries that the events can ask about: what a lookup reads instead
//! of the whole registry, so that a command's cost follows the events, not the population.
//!
//! Every key sdu looks up in a registry follows from an event. A rename names an
//! organization (its BIN): its row, its permits and its heads are looked up, then the head's
//! person (IIN) in `individuals`, `civil_acts` (death) and `mobile_base` (the number). A
//! name change (АХАЖ) names a person: their permits, their row, their acts, their number.
//! So the keys that can be asked about are the snapshot's **domain**:
//! - every BIN of `legal_entity_renames` (any date: the window is the run's);
//! - every IIN of `legal_entity_heads` on a row of one of those BINs (any role and time);
//! - every IIN of a `name_change` act of `civil_acts` (any date).
//!
//! At country scale that is about 105 thousand keys, against 20 M people and 600 thousand
//! organizations. Each of six registries keeps, in the staged store, a **slice**: all its
//! rows whose key column holds a domain key (both holder columns for `permits`), in the
//! file's order, in the staged types. A lookup whose keys are all in the domain reads the
//! slice and finds exactly the rows it would find in the file, since the slice holds every
//! row of those keys; a key outside it (a recipient of an older snapshot, an organization an
//! auditor asks about) and the lookup reads the registry file, as without slices. The rows
//! validation leaves out are skipped in a slice as in the file ([`super::skip`]).
//!
//! ```text
//! <store>/slices/<registry>/<key>/domain.parquet  the domain (`key`, sorted)
//! <store>/slices/<registry>/<key>/rows.parquet    the registry's rows of domain keys
//! <store>/slices/<registry>/<key>/entry.json      the slice's identity and checks, written last
//! ```
//!
//! A slice's key is the content of its registry file and of the three files the domain is
//! made of, and the source of this module and of the contract: any change slices again.

use super::rules::IdSet;
use super::{civil_acts, heads, individuals, legal_entities, mobile_base, permits, renames};
use super::{RegistryError, Snapshot, TableSpec};
use polars::prelude::*;
use std::sync::Arc;

/// The registries sliced, each with the columns whose values are looked up.
pub const TABLES: [(&TableSpec, &[&str]); 6] = [
    (&legal_entities::SPEC, &[legal_entities::BIN]),
    (&heads::SPEC, &[heads::BIN]),
    (&permits::SPEC, &[permits::HOLDER_BIN, permits::HOLDER_IIN]),
    (&individuals::SPEC, &[individuals::IIN]),
    (&civil_acts::SPEC, &[civil_acts::IIN]),
    (&mobile_base::SPEC, &[mobile_base::IIN]),
];
/// The registries the domain is made of.
pub const DOMAIN_FROM: [&TableSpec; 3] = [&renames::SPEC, &heads::SPEC, &civil_acts::SPEC];
/// The domain's column.
pub const KEY: &str = "key";
pub const DOMAIN: &str = "domain.parquet";
pub const ROWS: &str = "rows.parquet";
/// The slices' folder in the store.
pub const DIR: &str = "slices";

/// The columns a registry is sliced by, if it is sliced.
pub fn key_columns(table: &TableSpec) -> Option<&'static [&'static str]> {
    TABLES.iter().find(|(t, _)| t.name == table.name).map(|(_, columns)| *columns)
}

/// The source the slices are made by, for their key.
pub fn fingerprint() -> String {
    let mut text = String::from(include_str!("slices.rs"));
    for t in DOMAIN_FROM {
        text.push_str(&super::rules::fingerprint(t));
    }
    text
}

/// The domain of a snapshot (the module's doc), distinct and sorted, from all rows of the
/// files (valid or not: a superset is as good).
pub fn domain(snapshot: &Snapshot) -> Result<DataFrame, RegistryError> {
    let unreadable = |source| RegistryError::Unreadable { file: snapshot.path(&renames::SPEC), source };
    let bins = crate::frames::collect_streaming(
        snapshot
            .scan(&renames::SPEC)?
            .select([col(renames::BIN).alias(KEY)])
            .drop_nulls(None)
            .unique(None, UniqueKeepStrategy::Any),
    )
    .map_err(unreadable)?;
    let renamed = lit(bins.column(KEY).map_err(unreadable)?.as_materialized_series().clone()).implode(false);
    let heads = snapshot
        .scan(&heads::SPEC)?
        .filter(col(heads::BIN).is_in(renamed, false))
        .select([col(heads::IIN).alias(KEY)]);
    let changed = snapshot
        .scan(&civil_acts::SPEC)?
        .filter(col(civil_acts::ACT_TYPE).eq(lit(civil_acts::NAME_CHANGE)))
        .select([col(civil_acts::IIN).alias(KEY)]);
    let all = concat([bins.lazy(), heads, changed], UnionArgs::default()).map_err(unreadable)?;
    crate::frames::collect_streaming(
        all.drop_nulls(None)
            .unique(None, UniqueKeepStrategy::Any)
            .sort([KEY], SortMultipleOptions::default()),
    )
    .map_err(unreadable)
}

/// The rows of a sliced registry with a domain key in one of its key columns, in the file's
/// order.
pub fn rows(snapshot: &Snapshot, table: &TableSpec, domain: Arc<IdSet>) -> Result<DataFrame, RegistryError> {
    let unreadable = |source| RegistryError::Unreadable { file: snapshot.path(table), source };
    crate::frames::collect_streaming(snapshot.scan(table)?.filter(member(table, domain))).map_err(unreadable)
}

/// True on the rows of a sliced registry with a domain key in one of its key columns.
pub fn member(table: &TableSpec, domain: Arc<IdSet>) -> Expr {
    let columns = key_columns(table).unwrap_or_default();
    let member = |column: &str| {
        let domain = domain.clone();
        col(column).map(
            move |c: Column| {
                let ca = c.str()?;
                Ok(crate::frames::bool_column(c.name().clone(), domain.contains_each(ca).into_iter()))
            },
            |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
        )
    };
    columns.iter().map(|c| member(c)).reduce(|a, b| a.or(b)).unwrap_or_else(|| lit(false))
}

/// A staged slice: its domain and its rows (those validation leaves out skipped).
#[derive(Clone)]
pub struct Slice {
    pub domain: Arc<IdSet>,
    /// The domain's identity (the XXH3s of the files it is made of): the slices of one
    /// snapshot share it.
    pub domain_id: String,
    pub frame: LazyFrame,
    /// The registry's rows in the slice (before validation's are skipped).
    pub rows: u64,
}

impl Slice {
    /// Whether every one of `keys` (nulls aside) is in the domain: then the slice answers a
    /// lookup of them exactly as the registry would.
    pub fn covers(&self, keys: &Column) -> bool {
        match keys.as_materialized_series().str() {
            Ok(ca) => ca.iter().flatten().all(|k| self.domain.contains(k)),
            Err(_) => false,
        }
    }
}

/// The frame to look `keys` up in: the slice when it covers them, else the whole registry.
pub fn frame_for(all: &LazyFrame, slice: Option<&Slice>, keys: &Column) -> LazyFrame {
    match slice {
        Some(s) if s.covers(keys) => s.frame.clone(),
        Some(_) => {
            tracing::debug!("a lookup asks about keys outside the slices' domain: the registry file is read");
            all.clone()
        }
        None => all.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(keys: &[&str]) -> Slice {
        let values = StringChunked::from_slice("key".into(), keys);
        let frame = df!("iin" => ["slice"]).unwrap().lazy();
        Slice { domain: Arc::new(IdSet::of(&values)), domain_id: "d".into(), frame, rows: 1 }
    }

    fn keys(v: &[Option<&str>]) -> Column {
        Column::new("k".into(), v)
    }

    /// A lookup reads the slice only when every key it asks about is in the domain (nulls
    /// ask about nothing), malformed identifiers included; otherwise the file.
    #[test]
    fn a_slice_answers_only_for_keys_of_its_domain() {
        let s = slice(&["870101300123", "990840000012", "not-an-iin"]);
        assert!(s.covers(&keys(&[Some("870101300123"), None, Some("990840000012")])));
        assert!(s.covers(&keys(&[Some("not-an-iin")])));
        assert!(s.covers(&keys(&[])));
        assert!(!s.covers(&keys(&[Some("870101300123"), Some("870101300124")])));
        assert!(!s.covers(&Column::new("k".into(), [1i32])), "not identifiers: the file");
        let file = df!("iin" => ["file"]).unwrap().lazy();
        let read = |k: &Column| {
            let df = frame_for(&file, Some(&s), k).collect().unwrap();
            df.column("iin").unwrap().str().unwrap().get(0).unwrap().to_string()
        };
        assert_eq!(read(&keys(&[Some("990840000012")])), "slice");
        assert_eq!(read(&keys(&[Some("990840000012"), Some("000000000000")])), "file");
        assert_eq!(
            frame_for(&file, None, &keys(&[]))
                .collect()
                .unwrap()
                .column("iin")
                .unwrap()
                .str()
                .unwrap()
                .get(0),
            Some("file")
        );
    }
}
