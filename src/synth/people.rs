//! People: `individuals` (ЖТ МДҚ), `civil_acts` (АХАЖ) and `mobile_base` (МАБ).
//!
//! Birth dates follow Kazakhstan's age pyramid; IINs are minted in the order their strings
//! sort, so the files come out sorted by key without a sort. Each person's fate (death,
//! court declarations, emigration, incapacity, imprisonment, a change of name) is a pure
//! function of the seed and the person's position, so the organization generator can ask
//! for any person's fate when it picks heads and permit holders.

use super::frame::{almaty_at, date, date_col, datetime_col, days, frame, opt_str_col, str_col};
use super::names::{self, PersonName};
use super::{acts_from, world_start, SynthConfig, SynthError, SynthSummary};
use crate::ids::{check_digit, Iin, Sex};
use crate::io::{ParquetSink, ROW_GROUP_ROWS};
use crate::registry::{civil_acts as ca, individuals as ind, mobile_base as mb};
use crate::rng::{stream, Rng};
use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;
use std::path::Path;

/// Oldest birth year in the registry.
const FIRST_BIRTH_YEAR: i32 = 1925;
/// People are generated and written in chunks of this many rows.
const CHUNK: usize = 8 * ROW_GROUP_ROWS;
const SECONDS_PER_DAY: u32 = 86_400;

/// What every other generator needs to know about the people: the compact base arrays,
/// and the settings that decide each person's fate.
pub struct World {
    pub iin: Vec<u64>,
    pub birth: Vec<i32>,
    pub female: Vec<bool>,
    pub seed: u64,
    pub as_of: i32,
    pub dirty_rate: f64,
    /// People with a `name_change` act, by position.
    pub name_changed: Vec<u32>,
}

/// Defects planted on a person's row (none on clean worlds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonDirt {
    None,
    /// The IIN's check digit is wrong; nothing else refers to the person.
    CheckDigit,
    /// The IIN's month is 13 (with a matching check digit); nothing else refers to them.
    DatePart,
    /// The row appears twice.
    Duplicate,
    /// An interval's end is before its start.
    ReversedInterval,
}

/// A person's dated statuses. Dates are days since 1970-01-01.
#[derive(Debug, Clone)]
pub struct Fate {
    pub death: Option<i32>,
    /// ЖТ МДҚ knows the death (else only АХАЖ does).
    pub death_in_registry: bool,
    /// When АХАЖ registered the death act (µs, UTC), if it did by the as-of date.
    pub death_act: Option<(i32, i64)>,
    pub declared_dead: Option<i32>,
    pub missing: Option<i32>,
    pub emigrated: Option<i32>,
    pub incapable: Option<(i32, Option<i32>)>,
    pub imprisoned: Option<(i32, Option<i32>)>,
    /// Date of a change of full name, and when АХАЖ registered it.
    pub name_change: Option<(i32, i64)>,
    pub dirt: PersonDirt,
}

impl Fate {
    /// Whether other registries may refer to this person.
    pub fn referable(&self) -> bool {
        !matches!(self.dirt, PersonDirt::CheckDigit | PersonDirt::DatePart)
    }

    /// Alive and reachable on `day` by every criterion: used to keep most heads ordinary.
    pub fn gone_by(&self, day: i32) -> bool {
        self.death.is_some_and(|d| d <= day)
            || self.declared_dead.is_some_and(|d| d <= day)
            || self.missing.is_some_and(|d| d <= day)
    }
}

/// Annual death hazard by age (a Gompertz curve with infant mortality), tuned so the crude
/// rate is about 7 per 1000 a year.
fn hazard(age: i32) -> f64 {
    match age {
        i32::MIN..=0 => 0.008,
        1..=14 => 0.0003,
        _ => 0.0002 * (0.08 * f64::from(age - 15)).exp(),
    }
}

/// Relative number of people born in each year still in the registry: the 1990s dip and
/// the 2010s boom of Kazakhstan's pyramid.
fn birth_weight(year: i32) -> f64 {
    match year {
        ..=1944 => 0.1 + 0.02 * f64::from(year - FIRST_BIRTH_YEAR),
        1945..=1969 => 0.75,
        1970..=1989 => 1.0,
        1990..=1999 => 0.8,
        2000..=2009 => 1.05,
        _ => 1.35,
    }
}

impl World {
    pub fn len(&self) -> usize {
        self.iin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.iin.is_empty()
    }

    pub fn iin_string(&self, i: usize) -> String {
        format!("{:012}", self.iin[i])
    }

    pub fn sex(&self, i: usize) -> Sex {
        if self.female[i] {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    pub fn age_on(&self, i: usize, day: i32) -> i32 {
        super::age_on(date(self.birth[i]), date(day))
    }

    /// The name a person was born with, and the one a change of name would give: both are
    /// drawn from the same stream, so a person's names never depend on their fate.
    fn names(&self, i: usize) -> (PersonName, PersonName) {
        let mut rng = Rng::keyed(self.seed, stream::PERSON_NAME, i as u64);
        let born = names::person_name(&mut rng, self.sex(i));
        let changed = names::changed_surname(&mut rng, &born, self.sex(i));
        (born, changed)
    }

    /// The current name as ЖТ МДҚ holds it, and the name before a change (if there was one).
    pub fn current_name(&self, i: usize, fate: &Fate) -> (PersonName, Option<PersonName>) {
        let (born, changed) = self.names(i);
        match fate.name_change {
            Some(_) => (changed, Some(born)),
            None => (born, None),
        }
    }

    /// The person's fate: a pure function of seed, position and birth date.
    pub fn fate(&self, i: usize) -> Fate {
        let mut r = Rng::keyed(self.seed, stream::PERSON_FATE, i as u64);
        let birth = self.birth[i];
        let as_of = self.as_of;
        let start = days(world_start());
        let female = self.female[i];
        let adult_from = days(date(birth).with_year(date(birth).year() + 18).unwrap_or(date(birth)));

        // Death: year by year from the start of the world's history.
        let mut death = None;
        let born = date(birth);
        for year in world_start().year()..=date(as_of).year() {
            let y0 = days(NaiveDate::from_ymd_opt(year, 1, 1).unwrap()).max(birth);
            let y1 = days(NaiveDate::from_ymd_opt(year, 12, 31).unwrap()).min(as_of);
            if y1 < y0 {
                continue;
            }
            let frac = f64::from(y1 - y0 + 1) / 365.25;
            let p = 1.0 - (-hazard(year - born.year()) * frac).exp();
            if r.chance(p) {
                death = Some(r.range(i64::from(y0), i64::from(y1)) as i32);
                break;
            }
        }
        // АХАЖ registers a death within days; ЖТ МДҚ learns of it later, and of a few never.
        let mut death_act = None;
        let mut death_in_registry = true;
        if let Some(d) = death {
            let reg_day = d + r.range(0, 5) as i32;
            if d >= days(acts_from()) && reg_day <= as_of {
                death_act = Some((d, almaty_at(reg_day, r.below(u64::from(SECONDS_PER_DAY)) as u32)));
                let recent = as_of - d < 21;
                death_in_registry = !(recent && r.chance(0.6) || r.chance(0.02));
            }
        }
        let alive_at = |day: i32| death.is_none_or(|d| d > day);
        let in_window = |r: &mut Rng, from: i32| r.range(i64::from(from.max(start)), i64::from(as_of)) as i32;

        let mut declared_dead = None;
        let mut missing = None;
        if death.is_none() && birth < adult_from && adult_from <= as_of {
            if r.chance(0.0001) {
                declared_dead = Some(in_window(&mut r, adult_from));
            } else if r.chance(0.0002) {
                missing = Some(in_window(&mut r, adult_from));
            }
        }
        let mut emigrated = None;
        if r.chance(0.012) {
            let d = in_window(&mut r, birth);
            if alive_at(d) && d >= birth {
                emigrated = Some(d);
            }
        }
        let mut incapable = None;
        if adult_from <= as_of && r.chance(0.003) {
            let from = r.range(
                i64::from(adult_from.max(days(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()))),
                i64::from(as_of),
            ) as i32;
            if alive_at(from) {
                let until = if r.chance(0.12) { Some(from + 30 + r.exp(900.0) as i32) } else { None };
                incapable = Some((from, until.filter(|u| *u <= as_of)));
            }
        }
        let mut imprisoned = None;
        let p_prison = if female { 0.002 } else { 0.02 };
        if adult_from <= as_of && r.chance(p_prison) {
            let from = r.range(
                i64::from(adult_from.max(days(NaiveDate::from_ymd_opt(2012, 1, 1).unwrap()))),
                i64::from(as_of),
            ) as i32;
            if alive_at(from) && self.age_on(i, from) <= 70 {
                let until = from + 180 + r.exp(900.0) as i32;
                imprisoned = Some((from, Some(until).filter(|u| *u <= as_of && alive_at(*u))));
            }
        }
        let mut name_change = None;
        let sixteen = days(date(birth).with_year(date(birth).year() + 16).unwrap_or(date(birth)));
        let changes_from = sixteen.max(days(acts_from()));
        if changes_from <= as_of && r.chance(0.006) {
            let d = r.range(i64::from(changes_from), i64::from(as_of)) as i32;
            let reg = (d + r.range(0, 3) as i32).min(as_of);
            if alive_at(d) {
                name_change = Some((d, almaty_at(reg, 9 * 3600 + r.below(9 * 3600) as u32)));
            }
        }

        let mut dirt = PersonDirt::None;
        if self.dirty_rate > 0.0 {
            let mut d = Rng::keyed(self.seed, stream::DIRT, i as u64);
            let u = d.f64();
            let q = self.dirty_rate;
            dirt = if u < q {
                PersonDirt::CheckDigit
            } else if u < 2.0 * q {
                PersonDirt::DatePart
            } else if u < 3.0 * q {
                PersonDirt::Duplicate
            } else if u < 23.0 * q && incapable.is_some_and(|(_, u)| u.is_some()) {
                // Few people have a closed interval, so this class is drawn among more rows.
                PersonDirt::ReversedInterval
            } else {
                PersonDirt::None
            };
        }
        Fate {
            death,
            death_in_registry,
            death_act,
            declared_dead,
            missing,
            emigrated,
            incapable,
            imprisoned,
            name_change,
            dirt,
        }
    }

    /// The 12-digit IIN string the registry shows for a person, with planted defects.
    fn shown_iin(&self, i: usize, dirt: PersonDirt) -> String {
        let s = self.iin_string(i);
        match dirt {
            PersonDirt::CheckDigit => {
                let mut b = s.into_bytes();
                b[11] = b'0' + (b[11] - b'0' + 1) % 10;
                String::from_utf8(b).expect("ascii")
            }
            PersonDirt::DatePart => month_13(&s).unwrap_or(s),
            _ => s,
        }
    }

    /// Draws a person who is `min_age..=max_age` on `day`, alive and referable then.
    pub fn pick_adult(&self, rng: &mut Rng, day: i32, min_age: i32, max_age: i32) -> usize {
        for _ in 0..10_000 {
            let i = rng.below(self.len() as u64) as usize;
            let age = self.age_on(i, day);
            if age < min_age || age > max_age {
                continue;
            }
            let fate = self.fate(i);
            if fate.referable() && !fate.gone_by(day) && fate.emigrated.is_none_or(|e| e > day) {
                return i;
            }
        }
        panic!("no eligible person among {} after 10,000 draws", self.len())
    }
}

/// The same IIN with month 13 and a recomputed check digit (a date-part defect).
fn month_13(s: &str) -> Option<String> {
    let mut d: Vec<u8> = s.bytes().map(|c| c - b'0').collect();
    d[2] = 1;
    d[3] = 3;
    let first: [u8; 11] = d[..11].try_into().ok()?;
    d[11] = check_digit(&first)?;
    Some(d.iter().map(|x| char::from(b'0' + x)).collect())
}

/// Births per (day, sex) in IIN string order: (yymmdd, century/sex digit) ascending.
fn birth_plan(n: usize, seed: u64, as_of: NaiveDate) -> Vec<(NaiveDate, Sex, u32)> {
    let first = NaiveDate::from_ymd_opt(FIRST_BIRTH_YEAR, 1, 1).unwrap();
    let all: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= as_of).collect();
    let weights: Vec<f64> = all.iter().map(|d| birth_weight(d.year())).collect();
    let total: f64 = weights.iter().sum();
    let mut plan = Vec::with_capacity(all.len() * 2);
    let mut cum = 0.0;
    let mut assigned = 0usize;
    for (d, w) in all.iter().zip(&weights) {
        cum += w;
        let upto = ((cum / total) * n as f64).round() as usize;
        let count = upto - assigned;
        assigned = upto;
        let mut r = Rng::keyed(seed, stream::DAY_SPLIT, days(*d) as u64);
        let males = (0..count).filter(|_| r.chance(0.49)).count() as u32;
        plan.push((*d, Sex::Male, males));
        plan.push((*d, Sex::Female, count as u32 - males));
    }
    let digit = |d: &NaiveDate, s: Sex| {
        let base = if d.year() < 2000 { 3 } else { 5 };
        base + u32::from(s == Sex::Female)
    };
    plan.sort_by_key(|(d, s, _)| ((d.year() % 100) as u32, d.month(), d.day(), digit(d, *s)));
    plan
}

/// Mints the people in IIN order.
fn base(cfg: &SynthConfig, n: usize) -> World {
    let mut iin = Vec::with_capacity(n);
    let mut birth = Vec::with_capacity(n);
    let mut female = Vec::with_capacity(n);
    for (d, sex, count) in birth_plan(n, cfg.seed, cfg.as_of) {
        let mut r =
            Rng::keyed(cfg.seed, stream::DAY_SPLIT, (days(d) as u64) << 1 | u64::from(sex == Sex::Female));
        let mut serial = r.range(0, 20) as u32;
        let mut made = 0;
        while made < count {
            // Serials 9000–9999 are never issued here: planted dangling references use them.
            assert!(serial < 9000, "too many births on {d} for 4-digit serials");
            if let Some(x) = Iin::new(d, sex, serial) {
                iin.push(x.value());
                birth.push(days(d));
                female.push(sex == Sex::Female);
                made += 1;
            }
            serial += 1 + r.below(3) as u32;
        }
    }
    World {
        iin,
        birth,
        female,
        seed: cfg.seed,
        as_of: days(cfg.as_of),
        dirty_rate: cfg.dirty_rate,
        name_changed: Vec::new(),
    }
}

/// A civil-status act before it gets its id.
#[derive(Debug, Clone)]
pub struct Act {
    pub registered_at: i64,
    pub person: u32,
    pub kind: &'static str,
    pub act_date: i32,
    pub names: Option<(String, String)>,
}

/// One chunk of people turned into rows.
struct Chunk {
    individuals: DataFrame,
    mobile: DataFrame,
    acts: Vec<Act>,
    name_changed: Vec<u32>,
    planted: Vec<(&'static str, u64)>,
    deaths_last_year: u64,
    imprisoned_now: u64,
    alive_now: u64,
}

/// Mobile codes and the size of the number space they span.
const PHONE_SPACE: u64 = 19 * 10_000_000;
/// Multiplier of the affine permutation that spreads numbers over the space (coprime to it).
const PHONE_STEP: u64 = 48_271;

/// The `k`-th number of person `i`: a permutation of the number space, so no two rows share
/// a number.
fn phone(seed: u64, i: usize, k: usize) -> String {
    let c = (i as u64) * 4 + k as u64;
    let x = (c * PHONE_STEP + seed % PHONE_SPACE) % PHONE_SPACE;
    let code = mb::MOBILE_CODES[(x / 10_000_000) as usize];
    format!("+7{code}{:07}", x % 10_000_000)
}

fn chunk(w: &World, range: std::ops::Range<usize>) -> Chunk {
    let n = range.len();
    let mut c_iin = Vec::with_capacity(n);
    let mut c_surname = Vec::with_capacity(n);
    let mut c_first = Vec::with_capacity(n);
    let mut c_patr = Vec::with_capacity(n);
    let mut c_birth = Vec::with_capacity(n);
    let mut c_sex = Vec::with_capacity(n);
    let mut c_kato = Vec::with_capacity(n);
    let mut c_death = Vec::with_capacity(n);
    let mut c_dd = Vec::with_capacity(n);
    let mut c_missing = Vec::with_capacity(n);
    let mut c_emig = Vec::with_capacity(n);
    let (mut c_if, mut c_iu, mut c_pf, mut c_pu) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut m_iin, mut m_phone, mut m_reg, mut m_status) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut acts = Vec::new();
    let mut name_changed = Vec::new();
    let mut planted: Vec<(&'static str, u64)> = Vec::new();
    let (mut deaths_last_year, mut imprisoned_now, mut alive_now) = (0, 0, 0);
    let regions = names::region_weights();
    let as_of = w.as_of;
    let holds =
        |iv: Option<(i32, Option<i32>)>| iv.is_some_and(|(f, u)| f <= as_of && u.is_none_or(|u| u > as_of));

    for i in range {
        let fate = w.fate(i);
        let (name, old_name) = w.current_name(i, &fate);
        let mut r = Rng::keyed(w.seed, stream::PERSON_ACTS, i as u64);
        let shown = w.shown_iin(i, fate.dirt);
        let copies = if fate.dirt == PersonDirt::Duplicate { 2 } else { 1 };
        match fate.dirt {
            PersonDirt::CheckDigit => planted.push(("individuals.iin.check_digit", 1)),
            // Some prefixes with month 13 have no check digit: then nothing was planted.
            PersonDirt::DatePart if shown != w.iin_string(i) => {
                planted.push(("individuals.iin.date_part", 1))
            }
            PersonDirt::DatePart => {}
            PersonDirt::Duplicate => planted.push(("individuals.iin.unique", 2)),
            PersonDirt::ReversedInterval => planted.push(("individuals.incapable_until.order", 1)),
            PersonDirt::None => {}
        }
        let kato = if r.chance(0.97) { Some(names::kato(&mut r, &regions)) } else { None };
        let (inc_from, inc_until) = match (fate.incapable, fate.dirt) {
            (Some((f, Some(u))), PersonDirt::ReversedInterval) => (Some(u), Some(f)),
            (Some((f, u)), _) => (Some(f), u),
            (None, _) => (None, None),
        };
        for _ in 0..copies {
            c_iin.push(shown.clone());
            c_surname.push(name.surname.clone());
            c_first.push(name.first_name.clone());
            c_patr.push(name.patronymic.clone());
            c_birth.push(Some(w.birth[i]));
            c_sex.push(w.sex(i).code().to_string());
            c_kato.push(kato.clone());
            c_death.push(fate.death.filter(|_| fate.death_in_registry));
            c_dd.push(fate.declared_dead);
            c_missing.push(fate.missing);
            c_emig.push(fate.emigrated);
            c_if.push(inc_from);
            c_iu.push(inc_until);
            c_pf.push(fate.imprisoned.map(|p| p.0));
            c_pu.push(fate.imprisoned.and_then(|p| p.1));
        }
        if fate.death.is_some_and(|d| d > as_of - 365) {
            deaths_last_year += 1;
        }
        if fate.death.is_none() {
            alive_now += 1;
            imprisoned_now += u64::from(holds(fate.imprisoned));
        }
        if !fate.referable() {
            continue;
        }

        // АХАЖ acts about this person.
        let birth = w.birth[i];
        if birth >= days(acts_from()) {
            let reg = birth + r.range(1, 20) as i32;
            if reg <= as_of {
                acts.push(Act {
                    registered_at: almaty_at(reg, 36_000 + r.below(25_000) as u32),
                    person: i as u32,
                    kind: "birth",
                    act_date: birth,
                    names: None,
                });
            }
            if r.chance(0.03) {
                let d = birth + r.range(30, 900) as i32;
                if d <= as_of {
                    acts.push(Act {
                        registered_at: almaty_at(d, 36_000),
                        person: i as u32,
                        kind: "paternity",
                        act_date: d,
                        names: None,
                    });
                }
            }
            if r.chance(0.002) {
                let d = birth + r.range(60, 1500) as i32;
                if d <= as_of {
                    acts.push(Act {
                        registered_at: almaty_at(d, 40_000),
                        person: i as u32,
                        kind: "adoption",
                        act_date: d,
                        names: None,
                    });
                }
            }
        }
        if let Some((d, reg)) = fate.death_act {
            acts.push(Act {
                registered_at: reg,
                person: i as u32,
                kind: ca::DEATH,
                act_date: d,
                names: None,
            });
        }
        if let (Some((d, reg)), Some(old)) = (fate.name_change, &old_name) {
            acts.push(Act {
                registered_at: reg,
                person: i as u32,
                kind: ca::NAME_CHANGE,
                act_date: d,
                names: Some((old.full(), name.full())),
            });
            name_changed.push(i as u32);
        }
        let adult = birth + 18 * 365;
        let until = fate.death.unwrap_or(as_of).min(as_of);
        let from = adult.max(days(acts_from()));
        if from < until && r.chance(0.06) {
            let m = r.range(i64::from(from), i64::from(until)) as i32;
            acts.push(Act {
                registered_at: almaty_at(m, 39_600 + r.below(20_000) as u32),
                person: i as u32,
                kind: "marriage",
                act_date: m,
                names: None,
            });
            if m + 200 < until && r.chance(0.35) {
                let dv = r.range(i64::from(m + 200), i64::from(until)) as i32;
                acts.push(Act {
                    registered_at: almaty_at(dv, 39_600 + r.below(20_000) as u32),
                    person: i as u32,
                    kind: "divorce",
                    act_date: dv,
                    names: None,
                });
            }
        }

        // МАБ numbers: most adults, several for some, inactive ones, none for others.
        if w.age_on(i, as_of) < 16 {
            continue;
        }
        let mut r = Rng::keyed(w.seed, stream::PERSON_PHONE, i as u64);
        let reg_from = days(world_start()).max(birth + 16 * 365);
        let mut numbers: Vec<(i64, bool)> = Vec::new();
        let gone = fate.death.is_some() || fate.emigrated.is_some();
        let draw = |r: &mut Rng, active: bool, numbers: &mut Vec<(i64, bool)>| {
            let end = fate.death.unwrap_or(as_of).min(as_of);
            if reg_from < end {
                let d = r.range(i64::from(reg_from), i64::from(end)) as i32;
                numbers.push((almaty_at(d, r.below(u64::from(SECONDS_PER_DAY)) as u32), active));
            }
        };
        if r.chance(if gone { 0.55 } else { 0.9 }) {
            let active = !gone || (fate.death.is_none() && r.chance(0.4));
            draw(&mut r, active, &mut numbers);
        }
        if r.chance(0.18) {
            draw(&mut r, false, &mut numbers);
        }
        if !gone && r.chance(0.06) {
            draw(&mut r, true, &mut numbers);
        }
        numbers.sort_unstable();
        let iin = w.iin_string(i);
        for (k, (reg, active)) in numbers.into_iter().enumerate() {
            m_iin.push(iin.clone());
            m_phone.push(phone(w.seed, i, k));
            m_reg.push(reg);
            m_status.push(if active { mb::ACTIVE } else { "inactive" }.to_string());
        }
    }
    let individuals = frame(vec![
        str_col(ind::IIN, c_iin),
        str_col(ind::SURNAME, c_surname),
        str_col(ind::FIRST_NAME, c_first),
        opt_str_col(ind::PATRONYMIC, c_patr),
        date_col(ind::BIRTH_DATE, c_birth),
        str_col(ind::SEX, c_sex),
        opt_str_col(ind::KATO, c_kato),
        date_col(ind::DEATH_DATE, c_death),
        date_col(ind::DECLARED_DEAD_ON, c_dd),
        date_col(ind::MISSING_DECLARED_ON, c_missing),
        date_col(ind::EMIGRATED_ON, c_emig),
        date_col(ind::INCAPABLE_FROM, c_if),
        date_col(ind::INCAPABLE_UNTIL, c_iu),
        date_col(ind::IMPRISONED_FROM, c_pf),
        date_col(ind::IMPRISONED_UNTIL, c_pu),
    ]);
    let mobile = frame(vec![
        str_col(mb::IIN, m_iin),
        str_col(mb::PHONE, m_phone),
        datetime_col(mb::REGISTERED_AT, m_reg),
        str_col(mb::STATUS, m_status),
    ]);
    Chunk { individuals, mobile, acts, name_changed, planted, deaths_last_year, imprisoned_now, alive_now }
}

/// Writes `individuals`, `mobile_base` and `civil_acts`, and returns the people for the
/// organization generator.
pub fn generate(cfg: &SynthConfig, dir: &Path, summary: &mut SynthSummary) -> Result<World, SynthError> {
    let n = cfg.sizes().individuals;
    let mut world = base(cfg, n);
    let bar = crate::progress::bar(n as u64, "individuals");
    let ind_schema = chunk(&world, 0..0).individuals.schema().as_ref().clone();
    let mob_schema = chunk(&world, 0..0).mobile.schema().as_ref().clone();
    let mut ind_sink = ParquetSink::create(&dir.join(ind::SPEC.file_name()), &ind_schema)?;
    let mut mob_sink = ParquetSink::create(&dir.join(mb::SPEC.file_name()), &mob_schema)?;
    let mut acts = Vec::new();
    let (mut deaths, mut prisoners, mut alive) = (0u64, 0u64, 0u64);
    let ranges: Vec<_> = (0..n).step_by(CHUNK).map(|s| s..(s + CHUNK).min(n)).collect();
    // Two chunks at a time: both cores busy, memory bounded, files written in order.
    for group in ranges.chunks(rayon::current_num_threads().max(1)) {
        let built: Vec<Chunk> = group.par_iter().map(|r| chunk(&world, r.clone())).collect();
        for c in built {
            bar.inc(c.individuals.height() as u64);
            ind_sink.write(c.individuals)?;
            mob_sink.write(c.mobile)?;
            acts.extend(c.acts);
            world.name_changed.extend(c.name_changed);
            for (rule, k) in c.planted {
                summary.plant(rule, k);
            }
            deaths += c.deaths_last_year;
            prisoners += c.imprisoned_now;
            alive += c.alive_now;
        }
    }
    summary.rows.insert(ind::SPEC.name.into(), ind_sink.finish()?);
    summary.rows.insert(mb::SPEC.name.into(), mob_sink.finish()?);
    bar.finish_and_clear();
    summary.facts.insert("deaths_per_1000_last_year".into(), 1000.0 * deaths as f64 / alive.max(1) as f64);
    summary.facts.insert("imprisoned_share_pct".into(), 100.0 * prisoners as f64 / alive.max(1) as f64);

    // АХАЖ acts get their ids in order of registration, so the file is sorted by `act_id`.
    acts.par_sort_unstable_by_key(|a| (a.registered_at, a.person, a.kind));
    let rows = write_acts(&world, &acts, dir)?;
    summary.rows.insert(ca::SPEC.name.into(), rows);
    Ok(world)
}

fn write_acts(w: &World, acts: &[Act], dir: &Path) -> Result<u64, SynthError> {
    let mut sink = None;
    for (k, part) in acts.chunks(CHUNK).enumerate() {
        let base = k * CHUNK;
        let df = frame(vec![
            str_col(ca::ACT_ID, (0..part.len()).map(|j| format!("A{:011}", base + j + 1)).collect()),
            str_col(ca::IIN, part.iter().map(|a| w.iin_string(a.person as usize)).collect()),
            str_col(ca::ACT_TYPE, part.iter().map(|a| a.kind.to_string()).collect()),
            date_col(ca::ACT_DATE, part.iter().map(|a| Some(a.act_date)).collect()),
            datetime_col(ca::REGISTERED_AT, part.iter().map(|a| a.registered_at).collect()),
            opt_str_col(
                ca::OLD_FULL_NAME,
                part.iter().map(|a| a.names.as_ref().map(|n| n.0.clone())).collect(),
            ),
            opt_str_col(
                ca::NEW_FULL_NAME,
                part.iter().map(|a| a.names.as_ref().map(|n| n.1.clone())).collect(),
            ),
        ]);
        let s = match &mut sink {
            Some(s) => s,
            None => sink.insert(ParquetSink::create(&dir.join(ca::SPEC.file_name()), df.schema())?),
        };
        s.write(df)?;
    }
    match sink {
        Some(s) => Ok(s.finish()?),
        None => {
            let mut empty = frame(vec![
                str_col(ca::ACT_ID, vec![]),
                str_col(ca::IIN, vec![]),
                str_col(ca::ACT_TYPE, vec![]),
                date_col(ca::ACT_DATE, vec![]),
                datetime_col(ca::REGISTERED_AT, vec![]),
                opt_str_col(ca::OLD_FULL_NAME, vec![]),
                opt_str_col(ca::NEW_FULL_NAME, vec![]),
            ]);
            crate::io::write_parquet(&mut empty, &dir.join(ca::SPEC.file_name()))?;
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_13_keeps_a_valid_check_digit() {
        let s = month_13("901123300258");
        if let Some(s) = s {
            assert_eq!(&s[2..4], "13");
            assert_eq!(crate::ids::check_iin(&s), Err(crate::ids::IdError::DatePart));
        }
    }

    #[test]
    fn phones_are_distinct_mobile_numbers() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            for k in 0..4 {
                let p = phone(42, i, k);
                assert!(mb::is_mobile(&p), "{p}");
                assert!(seen.insert(p));
            }
        }
    }

    #[test]
    fn births_come_in_iin_order() {
        let cfg = SynthConfig::new(
            super::super::Scale::Tiny,
            1,
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            0.0,
        );
        let w = base(&cfg, 5_000);
        assert_eq!(w.len(), 5_000);
        let strings: Vec<String> = (0..w.len()).map(|i| w.iin_string(i)).collect();
        assert!(strings.windows(2).all(|p| p[0] < p[1]));
        for (i, s) in strings.iter().enumerate() {
            let iin: Iin = s.parse().unwrap();
            assert_eq!(days(iin.birth_date()), w.birth[i]);
        }
    }
}
