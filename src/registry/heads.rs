//! `legal_entity_heads.parquet` (ЗТ МДҚ, with history): who headed which organization when.

use super::{individuals, legal_entities, ColumnSpec, Id, Interval, Kind, Reference, Severity, TableSpec};

pub const BIN: &str = "bin";
pub const IIN: &str = "iin";
pub const ROLE: &str = "role";
pub const FROM_DATE: &str = "from_date";
pub const TO_DATE: &str = "to_date";

pub const FIRST_HEAD: &str = "first_head";
pub const ROLES: &[&str] = &[FIRST_HEAD, "deputy", "chief_accountant"];

pub const SPEC: TableSpec = TableSpec {
    name: "legal_entity_heads",
    source: "ЗТ МДҚ",
    columns: &[
        ColumnSpec::new(BIN, Kind::Str, false, "the organization").id(Id::Bin),
        ColumnSpec::new(IIN, Kind::Str, false, "the head").id(Id::Iin),
        ColumnSpec::new(ROLE, Kind::Str, false, "first_head is the one that matters").one_of(ROLES),
        ColumnSpec::new(FROM_DATE, Kind::Date, false, "in office from"),
        ColumnSpec::new(TO_DATE, Kind::Date, true, "in office until; null = still in office"),
    ],
    key: &[],
    label: BIN,
    intervals: &[Interval { from: FROM_DATE, to: TO_DATE }],
    // Kept as warnings: the funnel reports such heads as `recipient_not_found`.
    references: &[
        Reference {
            column: BIN,
            target: &legal_entities::SPEC,
            target_column: legal_entities::BIN,
            severity: Severity::Warning,
        },
        Reference {
            column: IIN,
            target: &individuals::SPEC,
            target_column: individuals::IIN,
            severity: Severity::Warning,
        },
    ],
};
