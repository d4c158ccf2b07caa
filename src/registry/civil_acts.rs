//! `civil_acts.parquet` (АХАЖ): civil-status acts. Deaths feed criterion 1 (seed 000, §6.1);
//! `name_change` acts bring individual permit holders into the `sanitary` pilot.

use super::{individuals, ColumnSpec, Id, Kind, Reference, Severity, TableSpec};

pub const ACT_ID: &str = "act_id";
pub const IIN: &str = "iin";
pub const ACT_TYPE: &str = "act_type";
pub const ACT_DATE: &str = "act_date";
pub const REGISTERED_AT: &str = "registered_at";
pub const OLD_FULL_NAME: &str = "old_full_name";
pub const NEW_FULL_NAME: &str = "new_full_name";

pub const DEATH: &str = "death";
pub const NAME_CHANGE: &str = "name_change";
pub const ACT_TYPES: &[&str] = &["birth", DEATH, "marriage", "divorce", "adoption", "paternity", NAME_CHANGE];

pub const SPEC: TableSpec = TableSpec {
    name: "civil_acts",
    source: "АХАЖ",
    columns: &[
        ColumnSpec::new(ACT_ID, Kind::Str, false, "primary key"),
        ColumnSpec::new(IIN, Kind::Str, false, "the person the act is about").id(Id::Iin),
        ColumnSpec::new(ACT_TYPE, Kind::Str, false, "kind of act").one_of(ACT_TYPES),
        ColumnSpec::new(ACT_DATE, Kind::Date, false, "date of the event"),
        ColumnSpec::new(REGISTERED_AT, Kind::Datetime, false, "when АХАЖ registered it"),
        ColumnSpec::new(OLD_FULL_NAME, Kind::Str, true, "set for name_change"),
        ColumnSpec::new(NEW_FULL_NAME, Kind::Str, true, "set for name_change"),
    ],
    key: &[ACT_ID],
    label: ACT_ID,
    intervals: &[],
    references: &[Reference {
        column: IIN,
        target: &individuals::SPEC,
        target_column: individuals::IIN,
        severity: Severity::Warning,
    }],
};
