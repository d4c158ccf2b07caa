//! Pilots as data: `data/pilots.toml` (embedded in the binary, overridable with
//! `--pilots FILE`) parsed into typed [`Pilot`]s. A bad file is an error naming the pilot
//! and the key.

use chrono::NaiveDate;
use serde::Deserialize;
use std::path::Path;

/// The file shipped with the binary.
pub const DEFAULT_PILOTS: &str = include_str!("../data/pilots.toml");

/// What a decline or a missing number leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    /// The process ends (the recipient may still apply the ordinary way).
    Ended,
    /// The service is rendered the ordinary way (seed 003, §12 and §17).
    StandardProcedure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPilot {
    id: String,
    seed: String,
    order_kk: String,
    order_ru: String,
    order_numbers: Vec<String>,
    signed_on: Vec<String>,
    title_kk: String,
    title_ru: String,
    services: Vec<String>,
    in_force_from: String,
    in_force_from_basis: String,
    #[serde(default)]
    in_force_from_assumed: bool,
    /// The last day, or else `term` (and `term_from`).
    in_force_until: Option<String>,
    term: Option<String>,
    term_from: Option<String>,
    in_force_until_basis: String,
    individual_holders: bool,
    reply_window_days: u32,
    sends: u32,
    on_decline: Routing,
    on_no_mobile: Routing,
    sms_kk: String,
    sms_ru: String,
    #[serde(default = "default_retention_days")]
    retention_days: u32,
}

/// Days a closed case keeps its phones, names and reply texts when the pilots file does not
/// say (`sdu purge`): a year, our assumption; the seeds set no term (law 94-V: no longer than
/// the purpose needs).
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    schema_version: u32,
    pilot: Vec<RawPilot>,
}

/// One pilot of the seeds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pilot {
    pub id: String,
    pub seed: String,
    pub order_kk: String,
    pub order_ru: String,
    pub order_numbers: Vec<String>,
    pub signed_on: Vec<NaiveDate>,
    pub title_kk: String,
    pub title_ru: String,
    pub services: Vec<String>,
    /// The first day the order applies (inclusive).
    pub in_force_from: NaiveDate,
    /// How the first day was read from the order (clause, and the article that counts it).
    pub in_force_from_basis: String,
    /// The order gives no date for the first day: it is our assumption.
    pub in_force_from_assumed: bool,
    /// The last day the order applies (inclusive).
    pub in_force_until: NaiveDate,
    /// How the last day was read from the order.
    pub in_force_until_basis: String,
    /// The term as the order states it, when it is a duration ("12 months", "1 year").
    pub term: Option<String>,
    /// Whether individual permit holders who changed their full name are cases too.
    pub individual_holders: bool,
    pub reply_window_days: u32,
    pub sends: u32,
    pub on_decline: Routing,
    pub on_no_mobile: Routing,
    pub sms_kk: String,
    pub sms_ru: String,
    /// Days after a case closed that `sdu purge` keeps its phones, names and reply texts.
    pub retention_days: u32,
}

impl Pilot {
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        self.in_force_from <= day && day <= self.in_force_until
    }

    /// The SMS texts for a case. Placeholders `{bin}`, `{new_name_kk}`, `{new_name_ru}` are
    /// filled in; the seeds' texts have none and are sent verbatim.
    pub fn render(&self, text: &str, bin: Option<&str>, new_name_kk: &str, new_name_ru: &str) -> String {
        text.replace("{bin}", bin.unwrap_or(""))
            .replace("{new_name_kk}", new_name_kk)
            .replace("{new_name_ru}", new_name_ru)
    }
}

/// A term given in whole months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub months: u32,
}

impl Term {
    /// Parses "12 months", "1 month", "1 year", "2 years".
    pub fn parse(s: &str) -> Result<Term, String> {
        let bad = || format!("`{s}` is not a term such as \"12 months\" or \"1 year\"");
        let (n, unit) = s.trim().split_once(char::is_whitespace).ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        let months = match unit.trim() {
            "month" | "months" => n,
            "year" | "years" => n * 12,
            _ => return Err(bad()),
        };
        if months == 0 {
            return Err(bad());
        }
        Ok(Term { months })
    }

    /// The last day of a term counted from `from`, as Kazakh law counts it: the term runs
    /// from the next day (Civil Code art. 172) and a term in months or years expires on the
    /// corresponding day of its last month, or that month's last day when it has no such
    /// day (art. 173). The day it expires is the last day the order applies.
    pub fn last_day(self, from: NaiveDate) -> Option<NaiveDate> {
        from.checked_add_months(chrono::Months::new(self.months))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid pilots file")]
    Parse {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: schema_version {found} is not supported (expected 1)")]
    Version { path: String, found: u32 },
    #[error("{path}: pilot `{pilot}`, key `{key}`: {problem}")]
    Invalid { path: String, pilot: String, key: &'static str, problem: String },
    #[error("{path}: pilot id `{0}` appears twice", path = .1)]
    Duplicate(String, String),
}

/// Parses a pilots file.
pub fn parse_pilots(text: &str, path: &str) -> Result<Vec<Pilot>, ConfigError> {
    let raw: RawFile =
        toml::from_str(text).map_err(|source| ConfigError::Parse { path: path.to_string(), source })?;
    if raw.schema_version != 1 {
        return Err(ConfigError::Version { path: path.to_string(), found: raw.schema_version });
    }
    let mut out: Vec<Pilot> = Vec::new();
    for p in raw.pilot {
        let bad = |key: &'static str, problem: String| ConfigError::Invalid {
            path: path.to_string(),
            pilot: p.id.clone(),
            key,
            problem,
        };
        let date = |key: &'static str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|e| bad(key, format!("`{s}` is not a date YYYY-MM-DD ({e})")))
        };
        if p.id.is_empty() || !p.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad("id", "must be lower-case ASCII letters, digits and dashes".into()));
        }
        if out.iter().any(|o| o.id == p.id) {
            return Err(ConfigError::Duplicate(p.id.clone(), path.to_string()));
        }
        let from = date("in_force_from", &p.in_force_from)?;
        let until = match (&p.in_force_until, &p.term) {
            (Some(u), None) => date("in_force_until", u)?,
            (None, Some(t)) => {
                let counted_from = match &p.term_from {
                    Some(f) => date("term_from", f)?,
                    None => from,
                };
                let term = Term::parse(t).map_err(|e| bad("term", e))?;
                term.last_day(counted_from)
                    .ok_or_else(|| bad("term", format!("`{t}` ends beyond the calendar")))?
            }
            _ => {
                return Err(bad(
                    "in_force_until",
                    "give either in_force_until or term, not both or neither".into(),
                ))
            }
        };
        for (key, basis) in [
            ("in_force_from_basis", &p.in_force_from_basis),
            ("in_force_until_basis", &p.in_force_until_basis),
        ] {
            if basis.trim().is_empty() {
                return Err(bad(key, "must say how the bound was read from the order".into()));
            }
        }
        if until < from {
            return Err(bad("in_force_until", format!("{until} is before in_force_from {from}")));
        }
        let signed_on = p.signed_on.iter().map(|s| date("signed_on", s)).collect::<Result<Vec<_>, _>>()?;
        if p.services.is_empty() {
            return Err(bad("services", "lists no service code".into()));
        }
        if p.reply_window_days == 0 {
            return Err(bad("reply_window_days", "must be at least 1".into()));
        }
        if !(1..=2).contains(&p.sends) {
            return Err(bad("sends", format!("must be 1 or 2, got {}", p.sends)));
        }
        if p.retention_days == 0 {
            return Err(bad("retention_days", "must be at least 1".into()));
        }
        for (key, text) in [("sms_kk", &p.sms_kk), ("sms_ru", &p.sms_ru)] {
            if text.trim().is_empty() {
                return Err(bad(key, "is empty".into()));
            }
        }
        out.push(Pilot {
            id: p.id,
            seed: p.seed,
            order_kk: p.order_kk,
            order_ru: p.order_ru,
            order_numbers: p.order_numbers,
            signed_on,
            title_kk: p.title_kk,
            title_ru: p.title_ru,
            services: p.services,
            in_force_from: from,
            in_force_from_basis: p.in_force_from_basis,
            in_force_from_assumed: p.in_force_from_assumed,
            in_force_until: until,
            in_force_until_basis: p.in_force_until_basis,
            term: p.term,
            individual_holders: p.individual_holders,
            reply_window_days: p.reply_window_days,
            sends: p.sends,
            on_decline: p.on_decline,
            on_no_mobile: p.on_no_mobile,
            sms_kk: p.sms_kk,
            sms_ru: p.sms_ru,
            retention_days: p.retention_days,
        });
    }
    Ok(out)
}

/// The embedded pilots, or those of a file.
pub fn load_pilots(path: Option<&Path>) -> Result<Vec<Pilot>, ConfigError> {
    match path {
        None => parse_pilots(DEFAULT_PILOTS, "data/pilots.toml (embedded)"),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|source| ConfigError::Read { path: p.display().to_string(), source })?;
            parse_pilots(&text, &p.display().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pilots_are_the_seeds() {
        let pilots = load_pilots(None).unwrap();
        let ids: Vec<&str> = pilots.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["sanitary", "ecology", "trusted-software"]);
        let san = &pilots[0];
        assert!(san.individual_holders);
        assert_eq!(san.services.len(), 4);
        assert!(
            san.sms_kk.contains("1414") && san.sms_kk.contains("1 санын") && san.sms_kk.contains("2 санын")
        );
        assert!(san.in_force_on(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()));
        assert!(!san.in_force_on(NaiveDate::from_ymd_opt(2026, 1, 29).unwrap()));
        let eco = &pilots[1];
        assert!(eco.sms_kk.contains("келісемін 1, келіспеймін 2"));
        assert!(!eco.in_force_on(NaiveDate::from_ymd_opt(2025, 12, 15).unwrap()));
        assert_eq!(pilots[2].on_decline, Routing::StandardProcedure);
        assert_eq!(pilots[2].on_no_mobile, Routing::StandardProcedure);
        assert_eq!(eco.on_no_mobile, Routing::Ended);
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn terms_end_on_the_corresponding_day() {
        let t = |s: &str| Term::parse(s).unwrap();
        assert_eq!(t("12 months").last_day(day(2026, 1, 30)), Some(day(2027, 1, 30)));
        assert_eq!(t("1 year").last_day(day(2025, 5, 8)), Some(day(2026, 5, 8)));
        assert_eq!(
            t("1 month").last_day(day(2026, 1, 31)),
            Some(day(2026, 2, 28)),
            "no such day: the month's last"
        );
        assert_eq!(t("1 year").last_day(day(2024, 2, 29)), Some(day(2025, 2, 28)));
        assert_eq!(t("2 years"), Term { months: 24 });
        for bad in ["", "12", "months", "0 months", "twelve months", "12 weeks", "-1 year"] {
            assert!(Term::parse(bad).is_err(), "{bad}");
        }
    }

    /// Every bound of every pilot: the day before the first, the first, the last, the day
    /// after (seed 000 §8, seed 002 §7, seed 003 §7).
    #[test]
    fn pilots_are_in_force_exactly_on_their_terms() {
        let pilots = load_pilots(None).unwrap();
        let bounds = [
            ("sanitary", day(2026, 1, 30), day(2027, 1, 30), false),
            ("ecology", day(2025, 1, 23), day(2025, 12, 14), false),
            ("trusted-software", day(2025, 5, 9), day(2026, 5, 8), true),
        ];
        for (id, first, last, assumed) in bounds {
            let p = pilots.iter().find(|p| p.id == id).unwrap();
            assert_eq!(
                (p.in_force_from, p.in_force_until, p.in_force_from_assumed),
                (first, last, assumed),
                "{id}"
            );
            assert!(!p.in_force_on(first.pred_opt().unwrap()), "{id}: the day before the first");
            assert!(p.in_force_on(first) && p.in_force_on(last), "{id}: first and last day");
            assert!(!p.in_force_on(last.succ_opt().unwrap()), "{id}: the day after the last");
            assert!(p.in_force_until_basis.contains('§') && p.in_force_from_basis.contains('§'), "{id}");
        }
    }

    #[test]
    fn bad_config_names_pilot_and_key() {
        let bad =
            DEFAULT_PILOTS.replacen("in_force_until = \"2025-12-14\"", "in_force_until = \"2025-13-01\"", 1);
        let err = parse_pilots(&bad, "p.toml").unwrap_err().to_string();
        assert!(err.contains("pilot `ecology`") && err.contains("in_force_until"), "{err}");
        let bad = DEFAULT_PILOTS.replacen("term = \"12 months\"", "term = \"12 moons\"", 1);
        let err = parse_pilots(&bad, "p.toml").unwrap_err().to_string();
        assert!(
            err.contains("pilot `sanitary`") && err.contains("`term`") && err.contains("12 moons"),
            "{err}"
        );
        let bad = DEFAULT_PILOTS.replacen(
            "term = \"12 months\"",
            "term = \"12 months\"\nin_force_until = \"2027-01-30\"",
            1,
        );
        let err = parse_pilots(&bad, "p.toml").unwrap_err().to_string();
        assert!(err.contains("either in_force_until or term"), "{err}");
        let bad = DEFAULT_PILOTS.replacen("sends = 2", "sends = 3", 1);
        let err = parse_pilots(&bad, "p.toml").unwrap_err().to_string();
        assert!(err.contains("`sends`"), "{err}");
        let bad = DEFAULT_PILOTS.replacen("on_decline = \"ended\"", "on_decline = \"maybe\"", 1);
        let err = format!("{:#}", anyhow::Error::from(parse_pilots(&bad, "p.toml").unwrap_err()));
        assert!(err.contains("p.toml") && err.contains("maybe"), "{err}");
        let bad = DEFAULT_PILOTS.replacen("id = \"ecology\"", "id = \"sanitary\"", 1);
        assert!(parse_pilots(&bad, "p.toml").unwrap_err().to_string().contains("twice"));
    }
}
