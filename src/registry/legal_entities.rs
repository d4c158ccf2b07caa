//! `legal_entities.parquet` (ЗТ МДҚ, current state): one row per organization.

use super::{ColumnSpec, Id, Interval, Kind, TableSpec};

pub const BIN: &str = "bin";
pub const NAME_KK: &str = "name_kk";
pub const NAME_RU: &str = "name_ru";
pub const LEGAL_FORM: &str = "legal_form";
pub const KATO: &str = "kato";
pub const REGISTERED_ON: &str = "registered_on";
pub const STATUS: &str = "status";
pub const LIQUIDATED_ON: &str = "liquidated_on";

pub const STATUSES: &[&str] = &["active", "liquidated", "reorganizing"];

pub const SPEC: TableSpec = TableSpec {
    name: "legal_entities",
    source: "ЗТ МДҚ",
    columns: &[
        ColumnSpec::new(BIN, Kind::Str, false, "primary key").id(Id::Bin),
        ColumnSpec::new(NAME_KK, Kind::Str, false, "current official name, Kazakh"),
        ColumnSpec::new(NAME_RU, Kind::Str, false, "current official name, Russian"),
        ColumnSpec::new(LEGAL_FORM, Kind::Str, true, "e.g. ЖШС/ТОО, АҚ/АО"),
        ColumnSpec::new(KATO, Kind::Str, true, "9-digit KATO of the registered address"),
        ColumnSpec::new(REGISTERED_ON, Kind::Date, false, "state registration"),
        ColumnSpec::new(STATUS, Kind::Str, false, "state of the entity").one_of(STATUSES),
        ColumnSpec::new(LIQUIDATED_ON, Kind::Date, true, "liquidation date"),
    ],
    key: &[BIN],
    label: BIN,
    intervals: &[Interval { from: REGISTERED_ON, to: LIQUIDATED_ON }],
    references: &[],
};
