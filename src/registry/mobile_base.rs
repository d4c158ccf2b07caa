//! `mobile_base.parquet` (МАБ): registered mobile numbers of e-gov users (seed 000, §9).

use super::{individuals, ColumnSpec, Id, Kind, Reference, Severity, TableSpec};

pub const IIN: &str = "iin";
pub const PHONE: &str = "phone";
pub const REGISTERED_AT: &str = "registered_at";
pub const STATUS: &str = "status";

pub const ACTIVE: &str = "active";
pub const STATUSES: &[&str] = &[ACTIVE, "inactive"];

/// Kazakhstan's mobile codes after +7 (libphonenumber); 751 is not mobile.
pub const MOBILE_CODES: &[&str] = &[
    "700", "701", "702", "705", "706", "707", "708", "747", "760", "761", "762", "763", "764", "771", "775",
    "776", "777", "778", "785",
];

pub const SPEC: TableSpec = TableSpec {
    name: "mobile_base",
    source: "МАБ",
    columns: &[
        ColumnSpec::new(IIN, Kind::Str, false, "the number's owner").id(Id::Iin),
        ColumnSpec::new(PHONE, Kind::Str, false, "E.164, +77XXXXXXXXX"),
        ColumnSpec::new(REGISTERED_AT, Kind::Datetime, false, "registration of the number"),
        ColumnSpec::new(STATUS, Kind::Str, false, "the latest active number is used").one_of(STATUSES),
    ],
    key: &[],
    label: IIN,
    intervals: &[],
    references: &[Reference {
        column: IIN,
        target: &individuals::SPEC,
        target_column: individuals::IIN,
        severity: Severity::Warning,
    }],
};

/// Whether a phone is a Kazakhstan mobile number in E.164 form.
pub fn is_mobile(phone: &str) -> bool {
    let b = phone.as_bytes();
    b.len() == 12
        && phone.starts_with("+7")
        && b[2..].iter().all(u8::is_ascii_digit)
        && MOBILE_CODES.contains(&&phone[2..5])
}

#[cfg(test)]
mod tests {
    #[test]
    fn mobile_numbers() {
        assert!(super::is_mobile("+77011234567"));
        assert!(super::is_mobile("+77851234567"));
        assert!(!super::is_mobile("+77511234567"), "751 is not mobile");
        assert!(!super::is_mobile("+7701123456"));
        assert!(!super::is_mobile("87011234567"));
        assert!(!super::is_mobile("+7701123456a"));
    }
}
