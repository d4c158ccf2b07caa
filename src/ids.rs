//! Kazakhstan's 12-digit identifiers: IIN (individuals) and BIN (legal entities).
//!
//! Owns parsing, validation and generation. The registry layer uses [`check_iin`] and
//! [`check_bin`] to build its row rules; the synthetic world uses [`Iin::new`] and
//! [`Bin::new`] to mint valid numbers. Inside the job an identifier may travel as its
//! `u64` value ([`Iin::value`]); files keep the 12-digit string with its leading zeros.
//!
//! The check digit (SCHEMA.md): weights 1..11 over the first 11 digits, sum mod 11; when
//! that is 10, weights 3,4,...,11,1,2; when that is 10 again the number cannot be issued.

use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// Why a string is not a valid identifier. The variants are ordered: a number is reported
/// with the first problem found (format, then check digit, then its date part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected exactly 12 digits")]
    Format,
    #[error("check digit does not match")]
    CheckDigit,
    #[error("date part is not a plausible date")]
    DatePart,
    #[error("type/sex digit is not allowed")]
    KindDigit,
}

/// Which rule of an identifier failed, as a stable code used in validation reports.
impl IdError {
    pub fn code(self) -> &'static str {
        match self {
            IdError::Format => "format",
            IdError::CheckDigit => "check_digit",
            IdError::DatePart => "date_part",
            IdError::KindDigit => "kind_digit",
        }
    }
}

const FIRST_PASS: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const SECOND_PASS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/// The check digit of the first 11 digits, or `None` when both passes give 10
/// (such a prefix is never issued).
pub fn check_digit(first11: &[u8; 11]) -> Option<u8> {
    let pass = |w: &[u32; 11]| first11.iter().zip(w).map(|(d, w)| u32::from(*d) * w).sum::<u32>() % 11;
    match pass(&FIRST_PASS) {
        10 => match pass(&SECOND_PASS) {
            10 => None,
            c => Some(c as u8),
        },
        c => Some(c as u8),
    }
}

fn digits(s: &str) -> Result<[u8; 12], IdError> {
    let b = s.as_bytes();
    if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
        return Err(IdError::Format);
    }
    let mut d = [0u8; 12];
    for (o, c) in d.iter_mut().zip(b) {
        *o = c - b'0';
    }
    Ok(d)
}

fn verify_check(d: &[u8; 12]) -> Result<(), IdError> {
    let first: [u8; 11] = d[..11].try_into().expect("11 digits");
    match check_digit(&first) {
        Some(c) if c == d[11] => Ok(()),
        _ => Err(IdError::CheckDigit),
    }
}

fn two(d: &[u8; 12], at: usize) -> u32 {
    u32::from(d[at]) * 10 + u32::from(d[at + 1])
}

fn to_number(d: &[u8; 12]) -> u64 {
    d.iter().fold(0u64, |acc, x| acc * 10 + u64::from(*x))
}

fn from_parts(first11: [u8; 11]) -> Option<[u8; 12]> {
    let c = check_digit(&first11)?;
    let mut d = [0u8; 12];
    d[..11].copy_from_slice(&first11);
    d[11] = c;
    Some(d)
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let s = format!("{value:0width$}");
    out.extend(s.bytes().map(|c| c - b'0'));
}

/// Sex as the IIN encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "m",
            Sex::Female => "f",
        }
    }
}

/// A valid individual identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iin(u64);

impl Iin {
    /// Mints the IIN of a person born on `birth` with the given sex and 4-digit serial.
    /// `None` when the serial is out of range or the prefix has no check digit.
    pub fn new(birth: NaiveDate, sex: Sex, serial: u32) -> Option<Iin> {
        let year = birth.year();
        let century = match year {
            1800..=1899 => 1,
            1900..=1999 => 3,
            2000..=2099 => 5,
            _ => return None,
        };
        if serial > 9999 {
            return None;
        }
        let sex_digit = century + u32::from(sex == Sex::Female);
        let mut v = Vec::with_capacity(11);
        push_digits(&mut v, (year % 100) as u32, 2);
        push_digits(&mut v, birth.month(), 2);
        push_digits(&mut v, birth.day(), 2);
        push_digits(&mut v, sex_digit, 1);
        push_digits(&mut v, serial, 4);
        let d = from_parts(v.try_into().expect("11 digits"))?;
        Some(Iin(to_number(&d)))
    }

    /// The identifier as a number (leading zeros are lost; use `Display` for files).
    pub fn value(self) -> u64 {
        self.0
    }

    fn digits(self) -> [u8; 12] {
        digits(&self.to_string()).expect("an Iin always formats as 12 digits")
    }

    pub fn birth_date(self) -> NaiveDate {
        let d = self.digits();
        let century = match d[6] {
            1 | 2 => 1800,
            3 | 4 => 1900,
            _ => 2000,
        };
        NaiveDate::from_ymd_opt(century + two(&d, 0) as i32, two(&d, 2), two(&d, 4))
            .expect("an Iin always has a valid date part")
    }

    pub fn sex(self) -> Sex {
        if self.digits()[6] % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    pub fn serial(self) -> u32 {
        let d = self.digits();
        d[7..11].iter().fold(0, |a, x| a * 10 + u32::from(*x))
    }
}

impl FromStr for Iin {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_iin(s).map(|d| Iin(to_number(&d)))
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

/// Checks an IIN string: 12 digits, check digit, century/sex digit 1–6 and a real birth date.
pub fn check_iin(s: &str) -> Result<[u8; 12], IdError> {
    let d = digits(s)?;
    verify_check(&d)?;
    if !(1..=6).contains(&d[6]) {
        return Err(IdError::KindDigit);
    }
    let century = [1800, 1800, 1900, 1900, 2000, 2000][usize::from(d[6] - 1)];
    NaiveDate::from_ymd_opt(century + two(&d, 0) as i32, two(&d, 2), two(&d, 4)).ok_or(IdError::DatePart)?;
    Ok(d)
}

/// Entity type digit of a BIN (SCHEMA.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityType {
    Resident = 4,
    NonResident = 5,
    JointEntrepreneurship = 6,
}

/// Division digit of a BIN (SCHEMA.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Division {
    HeadUnit = 0,
    Branch = 1,
    Representative = 2,
    PeasantFarm = 3,
}

/// A valid business identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bin(u64);

impl Bin {
    /// Mints the BIN of an entity registered in `year`/`month` with a 5-digit serial.
    pub fn new(year: i32, month: u32, kind: EntityType, division: Division, serial: u32) -> Option<Bin> {
        if !(1..=12).contains(&month) || serial > 99_999 || !(1900..2100).contains(&year) {
            return None;
        }
        let mut v = Vec::with_capacity(11);
        push_digits(&mut v, (year % 100) as u32, 2);
        push_digits(&mut v, month, 2);
        push_digits(&mut v, kind as u32, 1);
        push_digits(&mut v, division as u32, 1);
        push_digits(&mut v, serial, 5);
        let d = from_parts(v.try_into().expect("11 digits"))?;
        Some(Bin(to_number(&d)))
    }

    pub fn value(self) -> u64 {
        self.0
    }

    /// Registration month as (two-digit year, month).
    pub fn registration(self) -> (u32, u32) {
        let d = digits(&self.to_string()).expect("a Bin always formats as 12 digits");
        (two(&d, 0), two(&d, 2))
    }
}

impl FromStr for Bin {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_bin(s).map(|d| Bin(to_number(&d)))
    }
}

impl fmt::Display for Bin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:012}", self.0)
    }
}

/// Checks a BIN string: 12 digits, check digit, a month 01–12, type digit 4/5/6 and
/// division digit 0–3.
pub fn check_bin(s: &str) -> Result<[u8; 12], IdError> {
    let d = digits(s)?;
    verify_check(&d)?;
    if !(1..=12).contains(&two(&d, 2)) {
        return Err(IdError::DatePart);
    }
    if !(4..=6).contains(&d[4]) || d[5] > 3 {
        return Err(IdError::KindDigit);
    }
    Ok(d)
}

/// Masks an identifier or phone for logs and reports: the first four and last two
/// characters stay, the rest becomes `*` (`890123456723` → `8901******23`).
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    chars.iter().enumerate().map(|(i, c)| if i < 4 || i >= n - 2 { *c } else { '*' }).collect()
}

/// Masks a personal name: initials only (`Әлия Серікқызы` → `Ә. С.`).
pub fn mask_name(s: &str) -> String {
    s.split_whitespace()
        .filter_map(|w| w.chars().next())
        .map(|c| format!("{c}."))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn public_test_vectors() {
        for ok in ["901123300258", "871008401427", "830717350867", "061211600012"] {
            assert!(check_iin(ok).is_ok(), "{ok} should be a valid IIN");
            assert_eq!(ok.parse::<Iin>().unwrap().to_string(), ok);
        }
        assert_eq!(check_iin("901123300255"), Err(IdError::CheckDigit));
        assert_eq!(check_iin("000813159890"), Err(IdError::CheckDigit));
        for ok in ["940140000385", "950341000052", "961141000023"] {
            assert!(check_bin(ok).is_ok(), "{ok} should be a valid BIN");
        }
        assert_eq!(check_bin("990940003031"), Err(IdError::CheckDigit));
    }

    #[test]
    fn second_pass_vectors_need_it() {
        // 830717350867, 061211600012 and 961141000023 are the vectors whose first pass gives 10.
        for s in ["830717350867", "061211600012", "961141000023"] {
            let d = digits(s).unwrap();
            let sum: u32 = d[..11].iter().zip(FIRST_PASS).map(|(a, w)| u32::from(*a) * w).sum();
            assert_eq!(sum % 11, 10, "{s}");
        }
    }

    #[test]
    fn format_and_parts() {
        assert_eq!(check_iin("90112330025"), Err(IdError::Format));
        assert_eq!(check_iin("9011233002580"), Err(IdError::Format));
        assert_eq!(check_iin("90112330025a"), Err(IdError::Format));
        assert_eq!(check_iin("９01123300258"), Err(IdError::Format));
        let iin: Iin = "901123300258".parse().unwrap();
        assert_eq!(iin.birth_date(), NaiveDate::from_ymd_opt(1990, 11, 23).unwrap());
        assert_eq!(iin.sex(), Sex::Male);
        assert_eq!(iin.serial(), 25);
        let iin: Iin = "061211600012".parse().unwrap();
        assert_eq!(iin.birth_date(), NaiveDate::from_ymd_opt(2006, 12, 11).unwrap());
        assert_eq!(iin.sex(), Sex::Female);
        let bin: Bin = "940140000385".parse().unwrap();
        assert_eq!(bin.registration(), (94, 1));
    }

    #[test]
    fn implausible_dates_and_digits() {
        // 13th month, with a correct check digit, is a date-part error.
        let mut d = [9, 0, 1, 3, 2, 3, 3, 0, 0, 2, 5];
        let c = check_digit(&d).unwrap_or_else(|| {
            d[10] = 6;
            check_digit(&d).unwrap()
        });
        let s: String = d.iter().chain([c].iter()).map(|x| char::from(b'0' + x)).collect();
        assert_eq!(check_iin(&s), Err(IdError::DatePart));
        let first = [9, 0, 0, 1, 0, 1, 7, 0, 0, 0, 1];
        if let Some(c) = check_digit(&first) {
            let s: String = first.iter().chain([c].iter()).map(|x| char::from(b'0' + x)).collect();
            assert_eq!(check_iin(&s), Err(IdError::KindDigit));
        }
    }

    #[test]
    fn masking() {
        assert_eq!(mask("890123456723"), "8901******23");
        assert_eq!(mask("+77011234567"), "+770******67");
        assert_eq!(mask("12"), "**");
        assert_eq!(mask_name("Әлия Серікқызы"), "Ә. С.");
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        (1900i32..2099, 1u32..=366).prop_filter_map("day of year", |(y, doy)| NaiveDate::from_yo_opt(y, doy))
    }

    proptest! {
        #[test]
        fn generated_iins_are_valid_and_round_trip(date in any_date(), female: bool, serial in 0u32..10_000) {
            let sex = if female { Sex::Female } else { Sex::Male };
            if let Some(iin) = Iin::new(date, sex, serial) {
                let s = iin.to_string();
                prop_assert!(check_iin(&s).is_ok());
                prop_assert_eq!(iin.birth_date(), date);
                prop_assert_eq!(iin.sex(), sex);
                prop_assert_eq!(iin.serial(), serial);
                prop_assert_eq!(s.parse::<Iin>().unwrap(), iin);
            }
        }

        #[test]
        fn generated_bins_are_valid(year in 1990i32..2030, month in 1u32..=12, kind in 0usize..3, div in 0usize..4, serial in 0u32..100_000) {
            let kinds = [EntityType::Resident, EntityType::NonResident, EntityType::JointEntrepreneurship];
            let divs = [Division::HeadUnit, Division::Branch, Division::Representative, Division::PeasantFarm];
            if let Some(bin) = Bin::new(year, month, kinds[kind], divs[div], serial) {
                let s = bin.to_string();
                prop_assert!(check_bin(&s).is_ok());
                prop_assert_eq!(bin.registration(), ((year % 100) as u32, month));
            }
        }

        /// Changing one digit of a valid number makes it invalid, or (when the weight of that
        /// position is 0 mod 11, or the change moves the sum onto the second pass) yields a
        /// number that means something else. Changing the check digit alone always fails.
        #[test]
        fn one_digit_changes_are_caught(date in any_date(), female: bool, serial in 0u32..10_000, pos in 0usize..12, delta in 1u8..10) {
            let sex = if female { Sex::Female } else { Sex::Male };
            if let Some(iin) = Iin::new(date, sex, serial) {
                let mut b = iin.to_string().into_bytes();
                b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
                let changed = String::from_utf8(b).unwrap();
                match changed.parse::<Iin>() {
                    Err(_) => {}
                    Ok(other) => {
                        prop_assert!(pos != 11, "a changed check digit must not validate");
                        prop_assert!(
                            other.birth_date() != iin.birth_date() || other.sex() != iin.sex() || other.serial() != iin.serial()
                        );
                    }
                }
            }
        }

        /// Across all single-digit changes of positions 1..10, the check digit catches every
        /// change whose weight is not a multiple of 11, unless the first pass lands on 10.
        #[test]
        fn check_digit_catches_weighted_positions(date in any_date(), serial in 0u32..10_000, pos in 0usize..10, delta in 1u8..10) {
            if let Some(iin) = Iin::new(date, Sex::Male, serial) {
                let s = iin.to_string();
                let d = digits(&s).unwrap();
                let mut m = d;
                m[pos] = (m[pos] + delta) % 10;
                let first: u32 = m[..11].iter().zip(FIRST_PASS).map(|(a, w)| u32::from(*a) * w).sum::<u32>() % 11;
                let orig: u32 = d[..11].iter().zip(FIRST_PASS).map(|(a, w)| u32::from(*a) * w).sum::<u32>() % 11;
                if first != 10 && orig != 10 {
                    prop_assert!(verify_check(&m).is_err());
                }
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,16}") {
            let _ = check_iin(&s);
            let _ = check_bin(&s);
            let _ = mask(&s);
        }
    }
}
