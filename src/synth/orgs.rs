//! Organizations: `legal_entities`, `legal_entity_renames`, `legal_entity_heads` (ЗТ МДҚ)
//! and `permits` (e-license), with heads and individual holders drawn from the people.
//!
//! BINs are minted in the order their strings sort; renames get ids in order of the change;
//! permits get ids `KZ<yy><service><serial>` assigned after sorting, so every file is sorted
//! by its key.

use super::frame::{almaty_at, date, date_col, datetime_col, days, frame, opt_str_col, str_col};
use super::names::{self, OrgName, LEGAL_FORMS};
use super::people::World;
use super::{renames_from, write_table, years_between, SynthConfig, SynthError, SynthSummary};
use crate::ids::{Bin, Division, EntityType, Iin, Sex};
use crate::registry::{heads as hd, legal_entities as le, permits as pm, renames as rn};
use crate::rng::{stream, Rng};
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use std::path::Path;

/// A service in e-license: code, the 3-letter part of permit numbers, who holds it, validity
/// in years (None = indefinite), and the share of organizations (or people) holding one.
struct Service {
    code: &'static str,
    prefix: &'static str,
    by_person: bool,
    years: Option<i32>,
    share: f64,
    pilot: bool,
}

const SERVICES: &[Service] = &[
    Service {
        code: "san-specialist-cert",
        prefix: "SSC",
        by_person: true,
        years: Some(5),
        share: 0.4,
        pilot: true,
    },
    Service {
        code: "san-epid-object-concl",
        prefix: "SEO",
        by_person: false,
        years: None,
        share: 0.08,
        pilot: true,
    },
    Service {
        code: "san-normative-concl",
        prefix: "SNC",
        by_person: false,
        years: None,
        share: 0.015,
        pilot: true,
    },
    Service {
        code: "san-pathogen-permit",
        prefix: "SPP",
        by_person: false,
        years: Some(5),
        share: 0.004,
        pilot: true,
    },
    Service {
        code: "eco-permit-cat1",
        prefix: "EC1",
        by_person: false,
        years: Some(10),
        share: 0.006,
        pilot: true,
    },
    Service {
        code: "eco-permit-cat2",
        prefix: "EC2",
        by_person: false,
        years: Some(10),
        share: 0.03,
        pilot: true,
    },
    Service {
        code: "trusted-sw-register",
        prefix: "TSW",
        by_person: false,
        years: Some(3),
        share: 0.008,
        pilot: true,
    },
    // Services outside the pilots: most of e-license.
    Service {
        code: "lic-construction",
        prefix: "LCN",
        by_person: false,
        years: None,
        share: 0.22,
        pilot: false,
    },
    Service { code: "lic-pharma", prefix: "LPH", by_person: false, years: None, share: 0.08, pilot: false },
    Service { code: "lic-medical", prefix: "LMD", by_person: false, years: None, share: 0.1, pilot: false },
    Service {
        code: "lic-transport-cargo",
        prefix: "LTR",
        by_person: false,
        years: Some(5),
        share: 0.15,
        pilot: false,
    },
    Service {
        code: "lic-alcohol-retail",
        prefix: "LAL",
        by_person: false,
        years: Some(1),
        share: 0.1,
        pilot: false,
    },
    Service {
        code: "lic-education",
        prefix: "LED",
        by_person: false,
        years: None,
        share: 0.08,
        pilot: false,
    },
    Service { code: "lic-security", prefix: "LSC", by_person: false, years: None, share: 0.04, pilot: false },
    Service {
        code: "notif-food-retail",
        prefix: "NFR",
        by_person: false,
        years: None,
        share: 0.2,
        pilot: false,
    },
    Service {
        code: "lic-waste",
        prefix: "LWS",
        by_person: false,
        years: Some(10),
        share: 0.03,
        pilot: false,
    },
    Service { code: "cert-auditor", prefix: "CAU", by_person: true, years: None, share: 0.2, pilot: false },
    Service { code: "lic-notary", prefix: "LNT", by_person: true, years: None, share: 0.1, pilot: false },
    Service { code: "lic-advocate", prefix: "LAD", by_person: true, years: None, share: 0.15, pilot: false },
    Service {
        code: "cert-appraiser",
        prefix: "CAP",
        by_person: true,
        years: Some(3),
        share: 0.15,
        pilot: false,
    },
];

/// Defects planted on an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrgDirt {
    None,
    CheckDigit,
    Duplicate,
    ReversedInterval,
}

struct Org {
    bin: String,
    registered: i32,
    form: usize,
    kato: Option<String>,
    liquidated: Option<i32>,
    reorganizing: bool,
    /// Names with the day each took effect; the first is the name at registration.
    names: Vec<(i32, OrgName)>,
    /// Renames as (changed_on, recorded_at µs), one per name after the first.
    renames: Vec<(i32, i64)>,
    dirt: OrgDirt,
}

impl Org {
    fn name_on(&self, day: i32) -> &OrgName {
        &self.names.iter().rev().find(|(from, _)| *from <= day).unwrap_or(&self.names[0]).1
    }

    fn end(&self, as_of: i32) -> i32 {
        self.liquidated.unwrap_or(as_of).min(as_of)
    }
}

/// BIN prefixes in string order: (registration month, type, division, count).
fn bin_plan(n: usize, seed: u64, as_of: NaiveDate) -> Vec<(i32, u32, EntityType, Division, u32)> {
    let mut months = Vec::new();
    let (mut y, mut m) = (1995, 1);
    while (y, m) <= (as_of.year(), as_of.month()) {
        months.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    let weight = |y: i32| 1.0 + 0.08 * f64::from(y - 1995);
    let total: f64 = months.iter().map(|(y, _)| weight(*y)).sum();
    let kinds = [
        (EntityType::Resident, Division::HeadUnit, 0.80),
        (EntityType::Resident, Division::Branch, 0.09),
        (EntityType::Resident, Division::Representative, 0.02),
        (EntityType::Resident, Division::PeasantFarm, 0.04),
        (EntityType::NonResident, Division::Branch, 0.02),
        (EntityType::NonResident, Division::Representative, 0.02),
        (EntityType::JointEntrepreneurship, Division::HeadUnit, 0.01),
    ];
    let weights: Vec<f64> = kinds.iter().map(|k| k.2).collect();
    let mut plan = Vec::new();
    let (mut cum, mut assigned) = (0.0, 0usize);
    for (k, (y, m)) in months.iter().enumerate() {
        cum += weight(*y);
        let upto = ((cum / total) * n as f64).round() as usize;
        let count = upto - assigned;
        assigned = upto;
        let mut r = Rng::keyed(seed, stream::ORG, 1_000_000 + k as u64);
        let mut tally = vec![0u32; kinds.len()];
        for _ in 0..count {
            tally[r.weighted(&weights)] += 1;
        }
        for (t, c) in tally.into_iter().enumerate() {
            if c > 0 {
                plan.push((*y, *m, kinds[t].0, kinds[t].1, c));
            }
        }
    }
    plan.sort_by_key(|(y, m, t, d, _)| ((y % 100) as u32, *m, *t as u32, *d as u32));
    plan
}

fn make_orgs(cfg: &SynthConfig, n: usize) -> Vec<Org> {
    let as_of = days(cfg.as_of);
    let sizes = cfg.sizes();
    let regions = names::region_weights();
    let form_weights: Vec<f64> = LEGAL_FORMS.iter().map(|f| f.2).collect();
    let mut bins = Vec::with_capacity(n);
    for (k, (y, m, t, d, count)) in bin_plan(n, cfg.seed, cfg.as_of).into_iter().enumerate() {
        let mut r = Rng::keyed(cfg.seed, stream::ORG, 2_000_000 + k as u64);
        let mut serial = r.range(0, 50) as u32;
        let mut made = 0;
        while made < count {
            // Serials 90000–99999 are never issued here: planted dangling references use them.
            assert!(serial < 90_000, "too many registrations in {y}-{m}");
            if let Some(bin) = Bin::new(y, m, t, d, serial) {
                let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap();
                let last_day = first.with_day(28).unwrap();
                let reg = r.range(i64::from(days(first)), i64::from(days(last_day).min(as_of))) as i32;
                bins.push((bin, reg));
                made += 1;
            }
            serial += 1 + r.below(4) as u32;
        }
    }
    let window = years_between(renames_from(), cfg.as_of);
    bins.into_par_iter()
        .enumerate()
        .map(|(j, (bin, registered))| {
            let mut r = Rng::keyed(cfg.seed, stream::ORG, j as u64);
            let form = r.weighted(&form_weights);
            let first_name = names::org_name(&mut r, form);
            let kato = if r.chance(0.98) { Some(names::kato(&mut r, &regions)) } else { None };
            let liquidated = if r.chance(0.12) {
                Some(r.range(i64::from(registered + 30), i64::from(as_of.max(registered + 30))) as i32)
                    .filter(|d| *d <= as_of)
            } else {
                None
            };
            let reorganizing = liquidated.is_none() && r.chance(0.02);
            let mut names = vec![(registered, first_name)];
            let mut renames = Vec::new();
            let mut rr = Rng::keyed(cfg.seed, stream::ORG_RENAME, j as u64);
            let start = days(renames_from()).max(registered + 1);
            let end = liquidated.unwrap_or(as_of).min(as_of);
            if start < end && rr.chance(sizes.rename_rate * window) {
                let times = if rr.chance(0.05) { 2 } else { 1 };
                let mut from = start;
                for _ in 0..times {
                    if from >= end {
                        break;
                    }
                    let changed = rr.range(i64::from(from), i64::from(end)) as i32;
                    // ЗТ МДҚ records the change 0–10 days after it; later than the snapshot
                    // it is not in the snapshot yet.
                    let rec_day = changed + rr.range(0, 10) as i32;
                    if rec_day > as_of {
                        break;
                    }
                    let recorded = almaty_at(rec_day, 32_400 + rr.below(32_400) as u32);
                    let new = names::org_rename(&mut rr, &names.last().unwrap().1, form);
                    names.push((changed, new));
                    renames.push((changed, recorded));
                    from = changed + 30;
                }
            }
            let mut dirt = OrgDirt::None;
            if cfg.dirty_rate > 0.0 {
                let u = Rng::keyed(cfg.seed, stream::DIRT, 3_000_000_000 + j as u64).f64();
                let q = cfg.dirty_rate;
                dirt = if u < q && renames.is_empty() {
                    OrgDirt::CheckDigit
                } else if u < 2.0 * q {
                    OrgDirt::Duplicate
                } else if u < 12.0 * q && liquidated.is_some() {
                    OrgDirt::ReversedInterval
                } else {
                    OrgDirt::None
                };
            }
            let bin = match dirt {
                OrgDirt::CheckDigit => {
                    let mut b = bin.to_string().into_bytes();
                    b[11] = b'0' + (b[11] - b'0' + 1) % 10;
                    String::from_utf8(b).expect("ascii")
                }
                _ => bin.to_string(),
            };
            Org { bin, registered, form, kato, liquidated, reorganizing, names, renames, dirt }
        })
        .collect()
}

fn write_entities(orgs: &[Org], dir: &Path, summary: &mut SynthSummary) -> Result<(), SynthError> {
    let (mut bin, mut nkk, mut nru, mut form, mut kato, mut reg, mut status, mut liq) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for o in orgs {
        let copies = match o.dirt {
            OrgDirt::Duplicate => {
                summary.plant("legal_entities.bin.unique", 2);
                2
            }
            OrgDirt::CheckDigit => {
                summary.plant("legal_entities.bin.check_digit", 1);
                1
            }
            OrgDirt::ReversedInterval => {
                summary.plant("legal_entities.liquidated_on.order", 1);
                1
            }
            OrgDirt::None => 1,
        };
        let current = &o.names.last().unwrap().1;
        let (r, l) = match (o.dirt, o.liquidated) {
            (OrgDirt::ReversedInterval, Some(l)) => (l, Some(o.registered)),
            _ => (o.registered, o.liquidated),
        };
        for _ in 0..copies {
            bin.push(o.bin.clone());
            nkk.push(current.kk.clone());
            nru.push(current.ru.clone());
            form.push(Some(format!("{}/{}", LEGAL_FORMS[o.form].0, LEGAL_FORMS[o.form].1)));
            kato.push(o.kato.clone());
            reg.push(Some(r));
            status.push(
                match (o.liquidated, o.reorganizing) {
                    (Some(_), _) => "liquidated",
                    (None, true) => "reorganizing",
                    _ => "active",
                }
                .to_string(),
            );
            liq.push(l);
        }
    }
    let df = frame(vec![
        str_col(le::BIN, bin),
        str_col(le::NAME_KK, nkk),
        str_col(le::NAME_RU, nru),
        opt_str_col(le::LEGAL_FORM, form),
        opt_str_col(le::KATO, kato),
        date_col(le::REGISTERED_ON, reg),
        str_col(le::STATUS, status),
        date_col(le::LIQUIDATED_ON, liq),
    ]);
    write_table(dir, &le::SPEC, df, summary)
}

fn write_renames(orgs: &[Org], dir: &Path, summary: &mut SynthSummary) -> Result<(), SynthError> {
    let mut events: Vec<(i32, i64, usize, usize)> = orgs
        .iter()
        .enumerate()
        .flat_map(|(j, o)| o.renames.iter().enumerate().map(move |(k, (c, r))| (*c, *r, j, k)))
        .collect();
    events.sort_unstable();
    let df = frame(vec![
        str_col(rn::EVENT_ID, (1..=events.len()).map(|s| format!("RN{s:08}")).collect()),
        str_col(rn::BIN, events.iter().map(|e| orgs[e.2].bin.clone()).collect()),
        date_col(rn::CHANGED_ON, events.iter().map(|e| Some(e.0)).collect()),
        datetime_col(rn::RECORDED_AT, events.iter().map(|e| e.1).collect()),
        str_col(rn::OLD_NAME_KK, events.iter().map(|e| orgs[e.2].names[e.3].1.kk.clone()).collect()),
        str_col(rn::OLD_NAME_RU, events.iter().map(|e| orgs[e.2].names[e.3].1.ru.clone()).collect()),
        str_col(rn::NEW_NAME_KK, events.iter().map(|e| orgs[e.2].names[e.3 + 1].1.kk.clone()).collect()),
        str_col(rn::NEW_NAME_RU, events.iter().map(|e| orgs[e.2].names[e.3 + 1].1.ru.clone()).collect()),
    ]);
    write_table(dir, &rn::SPEC, df, summary)
}

/// An IIN that no person in the world has (serials 9000–9999 are never issued).
fn absent_iin(r: &mut Rng) -> String {
    loop {
        let birth =
            NaiveDate::from_ymd_opt(r.range(1950, 2000) as i32, r.range(1, 12) as u32, r.range(1, 28) as u32)
                .unwrap();
        let sex = if r.chance(0.5) { Sex::Male } else { Sex::Female };
        if let Some(iin) = Iin::new(birth, sex, 9000 + r.below(1000) as u32) {
            return iin.to_string();
        }
    }
}

/// A BIN that no organization has (serials 90000–99999 are never issued).
fn absent_bin(r: &mut Rng) -> String {
    loop {
        if let Some(bin) = Bin::new(
            r.range(2000, 2020) as i32,
            r.range(1, 12) as u32,
            EntityType::Resident,
            Division::HeadUnit,
            90_000 + r.below(10_000) as u32,
        ) {
            return bin.to_string();
        }
    }
}

/// One head row: (iin, role, from, to).
type HeadRow = (String, &'static str, i32, Option<i32>);

fn heads_of(
    cfg: &SynthConfig,
    world: &World,
    j: usize,
    o: &Org,
    planted: &mut Vec<&'static str>,
) -> Vec<HeadRow> {
    let as_of = days(cfg.as_of);
    let mut r = Rng::keyed(cfg.seed, stream::ORG_HEADS, j as u64);
    let start = o.registered;
    let end = o.end(as_of);
    let mut rows = Vec::new();
    let n_first = 1 + usize::from(r.chance(0.35)) + usize::from(r.chance(0.12));
    let mut points: Vec<i32> =
        (1..n_first).map(|_| r.range(i64::from(start), i64::from(end.max(start))) as i32).collect();
    points.sort_unstable();
    points.insert(0, start);
    // About one organization in 70 has no first head in office (resigned, no successor).
    let vacant = r.chance(0.015);
    for (k, from) in points.iter().enumerate() {
        let mut to = points.get(k + 1).copied();
        if to.is_none() && vacant && *from < end {
            to = Some(r.range(i64::from(*from + 1), i64::from(end)) as i32);
        }
        let who = world.pick_adult(&mut r, *from, 21, 70);
        rows.push((world.iin_string(who), hd::FIRST_HEAD, *from, to));
    }
    for (role, p) in [("deputy", 0.3), ("chief_accountant", 0.5)] {
        if r.chance(p) {
            let from = r.range(i64::from(start), i64::from(end.max(start))) as i32;
            let to = if r.chance(0.3) && from < end {
                Some(r.range(i64::from(from + 1), i64::from(end)) as i32)
            } else {
                None
            };
            let who = world.pick_adult(&mut r, from, 21, 70);
            rows.push((world.iin_string(who), role, from, to));
        }
    }
    if cfg.dirty_rate > 0.0 {
        let mut d = Rng::keyed(cfg.seed, stream::DIRT, 4_000_000_000 + j as u64);
        let u = d.f64();
        if u < cfg.dirty_rate {
            rows.push((absent_iin(&mut d), "deputy", start, None));
            planted.push("legal_entity_heads.iin.reference");
        } else if u < 4.0 * cfg.dirty_rate {
            if let Some(row) = rows.iter_mut().find(|h| h.3.is_some_and(|t| t > h.2)) {
                let to = row.3.unwrap();
                row.3 = Some(row.2);
                row.2 = to;
                planted.push("legal_entity_heads.to_date.order");
            }
        }
    }
    rows
}

fn write_heads(
    cfg: &SynthConfig,
    world: &World,
    orgs: &[Org],
    dir: &Path,
    summary: &mut SynthSummary,
) -> Result<(), SynthError> {
    let bar = crate::progress::bar(orgs.len() as u64, "heads");
    let per_org: Vec<(Vec<HeadRow>, Vec<&'static str>)> = orgs
        .par_iter()
        .enumerate()
        .map(|(j, o)| {
            let mut planted = Vec::new();
            let rows =
                if o.dirt == OrgDirt::CheckDigit { vec![] } else { heads_of(cfg, world, j, o, &mut planted) };
            bar.inc(1);
            (rows, planted)
        })
        .collect();
    bar.finish_and_clear();
    let (mut bin, mut iin, mut role, mut from, mut to) = (vec![], vec![], vec![], vec![], vec![]);
    for (o, (rows, planted)) in orgs.iter().zip(per_org) {
        for p in planted {
            summary.plant(p, 1);
        }
        for (i, r, f, t) in rows {
            bin.push(o.bin.clone());
            iin.push(i);
            role.push(r.to_string());
            from.push(Some(f));
            to.push(t);
        }
    }
    let df = frame(vec![
        str_col(hd::BIN, bin),
        str_col(hd::IIN, iin),
        str_col(hd::ROLE, role),
        date_col(hd::FROM_DATE, from),
        date_col(hd::TO_DATE, to),
    ]);
    write_table(dir, &hd::SPEC, df, summary)
}

/// A permit before it gets its number.
struct Permit {
    service: usize,
    holder_bin: Option<String>,
    holder_iin: Option<String>,
    holder_name: String,
    issued: i32,
    valid_until: Option<i32>,
    status: &'static str,
    /// Position among permits of the same holder, to break ties.
    tie: u64,
}

fn validity(s: &Service, issued: i32, r: &mut Rng) -> Option<i32> {
    match s.years {
        Some(y) => Some(issued + y * 365),
        None if s.pilot => None,
        None if r.chance(0.5) => None,
        None => Some(issued + r.range(1, 5) as i32 * 365),
    }
}

fn status(valid_until: Option<i32>, as_of: i32, ended: bool, r: &mut Rng) -> &'static str {
    if ended {
        return if r.chance(0.8) { "revoked" } else { "expired" };
    }
    if valid_until.is_some_and(|v| v < as_of) {
        // A few expired permits are still marked active: the pipeline must check the date.
        return if r.chance(0.95) { "expired" } else { pm::ACTIVE };
    }
    match r.f64() {
        x if x < 0.92 => pm::ACTIVE,
        x if x < 0.95 => "suspended",
        _ => "revoked",
    }
}

fn org_permits(cfg: &SynthConfig, j: usize, o: &Org, mean_other: f64) -> Vec<Permit> {
    let as_of = days(cfg.as_of);
    let boost = cfg.sizes().pilot_boost;
    let mut r = Rng::keyed(cfg.seed, stream::ORG_PERMITS, j as u64);
    let end = o.end(as_of);
    let mut out = Vec::new();
    let org_services: Vec<usize> = (0..SERVICES.len()).filter(|s| !SERVICES[*s].by_person).collect();
    let other_weights: Vec<f64> =
        org_services.iter().map(|s| if SERVICES[*s].pilot { 0.0 } else { SERVICES[*s].share }).collect();
    let mut wanted: Vec<usize> = org_services
        .iter()
        .copied()
        .filter(|s| SERVICES[*s].pilot && r.chance(SERVICES[*s].share * boost))
        .collect();
    let trials = (mean_other * 2.0).ceil().max(1.0) as usize;
    let p = (mean_other / trials as f64).min(1.0);
    for _ in 0..trials {
        if r.chance(p) {
            wanted.push(org_services[r.weighted(&other_weights)]);
        }
    }
    let name = |day: i32, r: &mut Rng| {
        let n = o.name_on(day);
        if r.chance(0.5) {
            n.ru.clone()
        } else {
            n.kk.clone()
        }
    };
    for s in wanted {
        let svc = &SERVICES[s];
        let issued = r.range(i64::from(o.registered), i64::from(end.max(o.registered))) as i32;
        let valid_until = validity(svc, issued, &mut r);
        let mut st = status(valid_until, as_of, o.liquidated.is_some(), &mut r);
        // Some renamed holders re-registered the ordinary way: the old permit is revoked and
        // a new one issued under the new name after the change.
        let reissue = o
            .renames
            .iter()
            .find(|(c, _)| *c > issued)
            .filter(|_| svc.pilot && st == pm::ACTIVE && r.chance(0.15));
        if let Some((changed, _)) = reissue {
            let new_day = changed + r.range(3, 40) as i32;
            if new_day <= end {
                st = "revoked";
                out.push(Permit {
                    service: s,
                    holder_bin: Some(o.bin.clone()),
                    holder_iin: None,
                    holder_name: name(new_day, &mut r),
                    issued: new_day,
                    valid_until: validity(svc, new_day, &mut r),
                    status: pm::ACTIVE,
                    tie: j as u64 * 64 + out.len() as u64,
                });
            }
        }
        out.push(Permit {
            service: s,
            holder_bin: Some(o.bin.clone()),
            holder_iin: None,
            holder_name: name(issued, &mut r),
            issued,
            valid_until,
            status: st,
            tie: j as u64 * 64 + out.len() as u64,
        });
    }
    out
}

fn person_permit(cfg: &SynthConfig, world: &World, k: usize) -> Permit {
    let as_of = days(cfg.as_of);
    let mut r = Rng::keyed(cfg.seed, stream::HOLDER, k as u64);
    let services: Vec<usize> = (0..SERVICES.len()).filter(|s| SERVICES[*s].by_person).collect();
    let weights: Vec<f64> = services.iter().map(|s| SERVICES[*s].share).collect();
    let s = services[r.weighted(&weights)];
    let svc = &SERVICES[s];
    let bias = cfg.sizes().holder_name_change_bias;
    let start = days(NaiveDate::from_ymd_opt(2005, 1, 1).unwrap());
    let (person, issued) = match world.name_changed.is_empty() {
        false if svc.pilot && r.chance(bias) => {
            let i = world.name_changed[r.below(world.name_changed.len() as u64) as usize] as usize;
            let changed = world.fate(i).name_change.map(|c| c.0).unwrap_or(as_of);
            let adult = world.birth[i] + 20 * 365;
            // Mostly issued before the change, so the permit still carries the old name.
            let issued = if r.chance(0.75) && adult < changed {
                r.range(i64::from(adult.max(changed - 4 * 365)), i64::from(changed - 1)) as i32
            } else {
                r.range(i64::from(adult.max(start).min(as_of)), i64::from(as_of)) as i32
            };
            (i, issued)
        }
        _ => {
            let issued = r.range(i64::from(start), i64::from(as_of)) as i32;
            (world.pick_adult(&mut r, issued, 22, 65), issued)
        }
    };
    let fate = world.fate(person);
    let (now, before) = world.current_name(person, &fate);
    let shown = match (fate.name_change, before) {
        (Some((d, _)), Some(old)) if d > issued => old,
        _ => now,
    };
    let valid_until = validity(svc, issued, &mut r);
    let ended = fate.death.is_some_and(|d| d <= as_of);
    Permit {
        service: s,
        holder_bin: None,
        holder_iin: Some(world.iin_string(person)),
        holder_name: shown.full(),
        issued,
        valid_until,
        status: status(valid_until, as_of, ended, &mut r),
        tie: u64::MAX / 2 + k as u64,
    }
}

fn write_permits(
    cfg: &SynthConfig,
    world: &World,
    orgs: &[Org],
    dir: &Path,
    summary: &mut SynthSummary,
) -> Result<(), SynthError> {
    let sizes = cfg.sizes();
    let by_person = sizes.permits / 10;
    let pilot_mean: f64 =
        SERVICES.iter().filter(|s| s.pilot && !s.by_person).map(|s| s.share * sizes.pilot_boost).sum();
    let mean_other = ((sizes.permits - by_person) as f64 / orgs.len().max(1) as f64 - pilot_mean).max(0.5);
    let mut permits: Vec<Permit> = orgs
        .par_iter()
        .enumerate()
        .filter(|(_, o)| o.dirt != OrgDirt::CheckDigit)
        .flat_map_iter(|(j, o)| org_permits(cfg, j, o, mean_other))
        .collect();
    permits.par_extend((0..by_person).into_par_iter().map(|k| person_permit(cfg, world, k)));
    let yy = |p: &Permit| (date(p.issued).year() % 100) as u32;
    permits.par_sort_unstable_by_key(|p| (yy(p), SERVICES[p.service].prefix, p.issued, p.tie));

    let (mut id, mut svc, mut hbin, mut hiin, mut hname, mut issued, mut valid, mut st) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut seq = 0u32;
    let mut last: Option<(u32, &str)> = None;
    for (n, p) in permits.iter().enumerate() {
        let key = (yy(p), SERVICES[p.service].prefix);
        seq = if last == Some(key) { seq + 1 } else { 1 };
        last = Some(key);
        let mut holder_bin = p.holder_bin.clone();
        let mut holder_iin = p.holder_iin.clone();
        let mut status = p.status.to_string();
        let mut copies = 1;
        if cfg.dirty_rate > 0.0 {
            let mut d = Rng::keyed(cfg.seed, stream::DIRT, 5_000_000_000 + n as u64);
            let u = d.f64();
            let q = cfg.dirty_rate;
            if u < q {
                copies = 2;
                summary.plant("permits.permit_id.unique", 2);
            } else if u < 2.0 * q {
                holder_bin = None;
                holder_iin = None;
                summary.plant("permits.holder.exactly_one", 1);
            } else if u < 3.0 * q {
                status = "annulled".into();
                summary.plant("permits.status.enum", 1);
            } else if u < 4.0 * q && holder_bin.is_some() {
                holder_bin = Some(absent_bin(&mut d));
                summary.plant("permits.holder_bin.reference", 1);
            }
        }
        for _ in 0..copies {
            id.push(format!("KZ{:02}{}{:07}", key.0, key.1, seq));
            svc.push(SERVICES[p.service].code.to_string());
            hbin.push(holder_bin.clone());
            hiin.push(holder_iin.clone());
            hname.push(p.holder_name.clone());
            issued.push(Some(p.issued));
            valid.push(p.valid_until);
            st.push(status.clone());
        }
    }
    let df = frame(vec![
        str_col(pm::PERMIT_ID, id),
        str_col(pm::SERVICE_CODE, svc),
        opt_str_col(pm::HOLDER_BIN, hbin),
        opt_str_col(pm::HOLDER_IIN, hiin),
        str_col(pm::HOLDER_NAME, hname),
        date_col(pm::ISSUED_ON, issued),
        date_col(pm::VALID_UNTIL, valid),
        str_col(pm::STATUS, st),
    ]);
    write_table(dir, &pm::SPEC, df, summary)
}

/// Writes the four ЗТ МДҚ / e-license files.
pub fn generate(
    cfg: &SynthConfig,
    world: &World,
    dir: &Path,
    summary: &mut SynthSummary,
) -> Result<(), SynthError> {
    let orgs = make_orgs(cfg, cfg.sizes().legal_entities);
    write_entities(&orgs, dir, summary)?;
    write_renames(&orgs, dir, summary)?;
    write_heads(cfg, world, &orgs, dir, summary)?;
    write_permits(cfg, world, &orgs, dir, summary)?;
    Ok(())
}
