//! `legal_entity_renames.parquet` (ЗТ МДҚ name-change events): one row per rename.

use super::{legal_entities, ColumnSpec, Id, Kind, Reference, Severity, TableSpec};

pub const EVENT_ID: &str = "event_id";
pub const BIN: &str = "bin";
pub const CHANGED_ON: &str = "changed_on";
pub const RECORDED_AT: &str = "recorded_at";
pub const OLD_NAME_KK: &str = "old_name_kk";
pub const OLD_NAME_RU: &str = "old_name_ru";
pub const NEW_NAME_KK: &str = "new_name_kk";
pub const NEW_NAME_RU: &str = "new_name_ru";

pub const SPEC: TableSpec = TableSpec {
    name: "legal_entity_renames",
    source: "ЗТ МДҚ",
    columns: &[
        ColumnSpec::new(EVENT_ID, Kind::Str, false, "primary key"),
        ColumnSpec::new(BIN, Kind::Str, false, "the organization").id(Id::Bin),
        ColumnSpec::new(CHANGED_ON, Kind::Date, false, "state re-registration under the new name"),
        ColumnSpec::new(RECORDED_AT, Kind::Datetime, false, "when the registry recorded it"),
        ColumnSpec::new(OLD_NAME_KK, Kind::Str, false, "name before, Kazakh"),
        ColumnSpec::new(OLD_NAME_RU, Kind::Str, false, "name before, Russian"),
        ColumnSpec::new(NEW_NAME_KK, Kind::Str, false, "name after, Kazakh"),
        ColumnSpec::new(NEW_NAME_RU, Kind::Str, false, "name after, Russian"),
    ],
    key: &[EVENT_ID],
    label: EVENT_ID,
    intervals: &[],
    // A rename of an organization the registry does not hold cannot be processed at all.
    references: &[Reference {
        column: BIN,
        target: &legal_entities::SPEC,
        target_column: legal_entities::BIN,
        severity: Severity::Error,
    }],
};
