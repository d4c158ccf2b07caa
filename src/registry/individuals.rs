//! `individuals.parquet` (ЖТ МДҚ): one row per person, with the dated statuses behind the
//! four exclusion criteria (seed 000, algorithm §6).

use super::{ColumnSpec, Id, Interval, Kind, TableSpec};

pub const IIN: &str = "iin";
pub const SURNAME: &str = "surname";
pub const FIRST_NAME: &str = "first_name";
pub const PATRONYMIC: &str = "patronymic";
pub const BIRTH_DATE: &str = "birth_date";
pub const SEX: &str = "sex";
pub const KATO: &str = "kato";
pub const DEATH_DATE: &str = "death_date";
pub const DECLARED_DEAD_ON: &str = "declared_dead_on";
pub const MISSING_DECLARED_ON: &str = "missing_declared_on";
pub const EMIGRATED_ON: &str = "emigrated_on";
pub const INCAPABLE_FROM: &str = "incapable_from";
pub const INCAPABLE_UNTIL: &str = "incapable_until";
pub const IMPRISONED_FROM: &str = "imprisoned_from";
pub const IMPRISONED_UNTIL: &str = "imprisoned_until";

pub const SEXES: &[&str] = &["m", "f"];

pub const SPEC: TableSpec = TableSpec {
    name: "individuals",
    source: "ЖТ МДҚ",
    columns: &[
        ColumnSpec::new(IIN, Kind::Str, false, "primary key").id(Id::Iin),
        ColumnSpec::new(SURNAME, Kind::Str, false, "surname"),
        ColumnSpec::new(FIRST_NAME, Kind::Str, false, "first name"),
        ColumnSpec::new(PATRONYMIC, Kind::Str, true, "patronymic"),
        ColumnSpec::new(BIRTH_DATE, Kind::Date, false, "date of birth"),
        ColumnSpec::new(SEX, Kind::Str, false, "m or f").one_of(SEXES),
        ColumnSpec::new(KATO, Kind::Str, true, "registered address"),
        ColumnSpec::new(DEATH_DATE, Kind::Date, true, "death as known to ЖТ МДҚ"),
        ColumnSpec::new(DECLARED_DEAD_ON, Kind::Date, true, "court declared the person dead"),
        ColumnSpec::new(MISSING_DECLARED_ON, Kind::Date, true, "court declared the person missing"),
        ColumnSpec::new(EMIGRATED_ON, Kind::Date, true, "left for permanent residence abroad"),
        ColumnSpec::new(INCAPABLE_FROM, Kind::Date, true, "court-declared legal incapacity from"),
        ColumnSpec::new(INCAPABLE_UNTIL, Kind::Date, true, "capacity restored on"),
        ColumnSpec::new(IMPRISONED_FROM, Kind::Date, true, "in a place of deprivation of liberty from"),
        ColumnSpec::new(IMPRISONED_UNTIL, Kind::Date, true, "released on"),
    ],
    key: &[IIN],
    label: IIN,
    intervals: &[
        Interval { from: INCAPABLE_FROM, to: INCAPABLE_UNTIL },
        Interval { from: IMPRISONED_FROM, to: IMPRISONED_UNTIL },
        Interval { from: BIRTH_DATE, to: DEATH_DATE },
    ],
    references: &[],
};
