//! `permits.parquet` (e-license): permits and licences, held by an organization or a person.

use super::{individuals, legal_entities, ColumnSpec, Id, Interval, Kind, Reference, Severity, TableSpec};

pub const PERMIT_ID: &str = "permit_id";
pub const SERVICE_CODE: &str = "service_code";
pub const HOLDER_BIN: &str = "holder_bin";
pub const HOLDER_IIN: &str = "holder_iin";
pub const HOLDER_NAME: &str = "holder_name";
pub const ISSUED_ON: &str = "issued_on";
pub const VALID_UNTIL: &str = "valid_until";
pub const STATUS: &str = "status";

pub const ACTIVE: &str = "active";
pub const STATUSES: &[&str] = &[ACTIVE, "suspended", "revoked", "expired"];

pub const SPEC: TableSpec = TableSpec {
    name: "permits",
    source: "e-license",
    columns: &[
        ColumnSpec::new(PERMIT_ID, Kind::Str, false, "primary key"),
        ColumnSpec::new(SERVICE_CODE, Kind::Str, false, "service; pilots use the codes of SCHEMA.md"),
        ColumnSpec::new(HOLDER_BIN, Kind::Str, true, "holder organization").id(Id::Bin),
        ColumnSpec::new(HOLDER_IIN, Kind::Str, true, "holder person").id(Id::Iin),
        ColumnSpec::new(HOLDER_NAME, Kind::Str, false, "name as printed on the permit"),
        ColumnSpec::new(ISSUED_ON, Kind::Date, false, "date of issue"),
        ColumnSpec::new(VALID_UNTIL, Kind::Date, true, "null = indefinite"),
        ColumnSpec::new(STATUS, Kind::Str, false, "state of the permit").one_of(STATUSES),
    ],
    key: &[PERMIT_ID],
    label: PERMIT_ID,
    intervals: &[Interval { from: ISSUED_ON, to: VALID_UNTIL }],
    references: &[
        Reference {
            column: HOLDER_BIN,
            target: &legal_entities::SPEC,
            target_column: legal_entities::BIN,
            severity: Severity::Warning,
        },
        Reference {
            column: HOLDER_IIN,
            target: &individuals::SPEC,
            target_column: individuals::IIN,
            severity: Severity::Warning,
        },
    ],
};
