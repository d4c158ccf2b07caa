//! Steps 3–8 on hand-built registries: one organization (or person) per scenario, every
//! scope rule and every outcome and reason, evaluated by the pipeline's steps and checked exactly.

use polars::prelude::*;
use sdu::config::{load_pilots, Pilot};
use sdu::ids::{Bin, Division, EntityType, Iin, Sex};
use sdu::jobs::candidates::evaluate;
use sdu::pipeline::candidates::{Registries, Scope};
use sdu::pipeline::funnel;
use sdu::synth::frame::{almaty_at, date_col, datetime_col, days, opt_str_col, str_col};
use std::collections::BTreeMap;

const D: &str = "2026-06-01";

pub fn d(s: &str) -> i32 {
    days(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

pub fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn bin(k: u32) -> String {
    (0..)
        .find_map(|j| Bin::new(2010, 1, EntityType::Resident, Division::HeadUnit, k * 10 + j))
        .unwrap()
        .to_string()
}

pub fn iin(k: u32) -> String {
    (0..).find_map(|j| Iin::new(date("1980-05-05"), Sex::Male, k * 10 + j)).unwrap().to_string()
}

#[derive(Default, Clone)]
pub struct Person {
    pub iin: String,
    pub death: Option<&'static str>,
    pub declared_dead: Option<&'static str>,
    pub missing: Option<&'static str>,
    pub emigrated: Option<&'static str>,
    pub incapable: Option<(&'static str, Option<&'static str>)>,
    pub imprisoned: Option<(&'static str, Option<&'static str>)>,
}

/// A permit: id, service, holder BIN, holder IIN, issued on, valid until, status.
pub type PermitRow =
    (String, &'static str, Option<String>, Option<String>, &'static str, Option<&'static str>, &'static str);
/// A civil act: id, IIN, type, act date, registered at (µs), old full name.
pub type ActRow = (String, String, &'static str, &'static str, i64, Option<&'static str>);

/// Registries built row by row.
#[derive(Default, Clone)]
pub struct World {
    pub orgs: Vec<(String, &'static str, Option<&'static str>)>,
    pub renames: Vec<(String, String, &'static str, i64)>,
    pub heads: Vec<(String, String, &'static str, &'static str, Option<&'static str>)>,
    pub permits: Vec<PermitRow>,
    pub people: Vec<Person>,
    pub acts: Vec<ActRow>,
    /// МАБ: (IIN, phone), one active number each.
    pub phones: Vec<(String, String)>,
}

impl World {
    /// An active organization `k`, renamed on `changed` (recorded the next morning), holding
    /// one active sanitary conclusion issued in 2024, headed since 2015 by person `k`.
    pub fn org(&mut self, k: u32, changed: &'static str) -> (String, String) {
        self.org_with(k, changed, "san-epid-object-concl")
    }

    /// As [`World::org`], with one permit of `service`.
    pub fn org_with(&mut self, k: u32, changed: &'static str, service: &'static str) -> (String, String) {
        let (b, p) = (bin(k), iin(k));
        self.orgs.push((b.clone(), "active", None));
        self.renames.push((format!("RN{k:03}"), b.clone(), changed, almaty_at(d(changed) + 1, 9 * 3600)));
        self.heads.push((b.clone(), p.clone(), "first_head", "2015-01-01", None));
        self.permit(k, &b, service, "2024-01-01", None, "active");
        self.people.push(Person { iin: p.clone(), ..Default::default() });
        (b, p)
    }

    pub fn permit(
        &mut self,
        k: u32,
        holder_bin: &str,
        service: &'static str,
        issued: &'static str,
        until: Option<&'static str>,
        status: &'static str,
    ) {
        let id = format!("P{k:03}-{}", self.permits.len());
        self.permits.push((id, service, Some(holder_bin.to_string()), None, issued, until, status));
    }

    pub fn person(&mut self, iin: &str) -> &mut Person {
        self.people.iter_mut().find(|p| p.iin == iin).unwrap()
    }

    /// The registries as snapshot files hold them (Almaty-zoned timestamps).
    pub fn tables(&self) -> BTreeMap<&'static str, DataFrame> {
        let s = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
        let od = |v: Vec<Option<&str>>| v.into_iter().map(|x| x.map(d)).collect::<Vec<_>>();
        let le = DataFrame::new_infer_height(vec![
            str_col("bin", self.orgs.iter().map(|o| o.0.clone()).collect()),
            str_col("name_kk", self.orgs.iter().map(|_| "«Жаңа» ЖШС".to_string()).collect()),
            str_col("name_ru", self.orgs.iter().map(|_| "ТОО «Жаңа»".to_string()).collect()),
            opt_str_col("legal_form", self.orgs.iter().map(|_| None).collect()),
            opt_str_col("kato", self.orgs.iter().map(|_| Some("751110000".to_string())).collect()),
            date_col("registered_on", self.orgs.iter().map(|_| Some(d("2010-01-05"))).collect()),
            str_col("status", s(self.orgs.iter().map(|o| o.1).collect())),
            date_col("liquidated_on", od(self.orgs.iter().map(|o| o.2).collect())),
        ])
        .unwrap();
        let rn = DataFrame::new_infer_height(vec![
            str_col("event_id", self.renames.iter().map(|r| r.0.clone()).collect()),
            str_col("bin", self.renames.iter().map(|r| r.1.clone()).collect()),
            date_col("changed_on", self.renames.iter().map(|r| Some(d(r.2))).collect()),
            datetime_col("recorded_at", self.renames.iter().map(|r| r.3).collect()),
            str_col("old_name_kk", self.renames.iter().map(|_| "«Ескі» ЖШС".to_string()).collect()),
            str_col("old_name_ru", self.renames.iter().map(|_| "ТОО «Ескі»".to_string()).collect()),
            str_col("new_name_kk", self.renames.iter().map(|_| "«Жаңа» ЖШС".to_string()).collect()),
            str_col("new_name_ru", self.renames.iter().map(|_| "ТОО «Жаңа»".to_string()).collect()),
        ])
        .unwrap();
        let hd = DataFrame::new_infer_height(vec![
            str_col("bin", self.heads.iter().map(|h| h.0.clone()).collect()),
            str_col("iin", self.heads.iter().map(|h| h.1.clone()).collect()),
            str_col("role", s(self.heads.iter().map(|h| h.2).collect())),
            date_col("from_date", self.heads.iter().map(|h| Some(d(h.3))).collect()),
            date_col("to_date", od(self.heads.iter().map(|h| h.4).collect())),
        ])
        .unwrap();
        let pm = DataFrame::new_infer_height(vec![
            str_col("permit_id", self.permits.iter().map(|p| p.0.clone()).collect()),
            str_col("service_code", s(self.permits.iter().map(|p| p.1).collect())),
            opt_str_col("holder_bin", self.permits.iter().map(|p| p.2.clone()).collect()),
            opt_str_col("holder_iin", self.permits.iter().map(|p| p.3.clone()).collect()),
            str_col("holder_name", self.permits.iter().map(|_| "x".to_string()).collect()),
            date_col("issued_on", self.permits.iter().map(|p| Some(d(p.4))).collect()),
            date_col("valid_until", od(self.permits.iter().map(|p| p.5).collect())),
            str_col("status", s(self.permits.iter().map(|p| p.6).collect())),
        ])
        .unwrap();
        let pp = &self.people;
        let ind = DataFrame::new_infer_height(vec![
            str_col("iin", pp.iter().map(|p| p.iin.clone()).collect()),
            str_col("surname", pp.iter().map(|_| "Ахметов".to_string()).collect()),
            str_col("first_name", pp.iter().map(|_| "Ерлан".to_string()).collect()),
            opt_str_col("patronymic", pp.iter().map(|_| None).collect()),
            date_col("birth_date", pp.iter().map(|_| Some(d("1980-05-05"))).collect()),
            str_col("sex", pp.iter().map(|_| "m".to_string()).collect()),
            opt_str_col("kato", pp.iter().map(|_| Some("711110000".to_string())).collect()),
            date_col("death_date", od(pp.iter().map(|p| p.death).collect())),
            date_col("declared_dead_on", od(pp.iter().map(|p| p.declared_dead).collect())),
            date_col("missing_declared_on", od(pp.iter().map(|p| p.missing).collect())),
            date_col("emigrated_on", od(pp.iter().map(|p| p.emigrated).collect())),
            date_col("incapable_from", od(pp.iter().map(|p| p.incapable.map(|x| x.0)).collect())),
            date_col("incapable_until", od(pp.iter().map(|p| p.incapable.and_then(|x| x.1)).collect())),
            date_col("imprisoned_from", od(pp.iter().map(|p| p.imprisoned.map(|x| x.0)).collect())),
            date_col("imprisoned_until", od(pp.iter().map(|p| p.imprisoned.and_then(|x| x.1)).collect())),
        ])
        .unwrap();
        let ca = DataFrame::new_infer_height(vec![
            str_col("act_id", self.acts.iter().map(|a| a.0.clone()).collect()),
            str_col("iin", self.acts.iter().map(|a| a.1.clone()).collect()),
            str_col("act_type", s(self.acts.iter().map(|a| a.2).collect())),
            date_col("act_date", self.acts.iter().map(|a| Some(d(a.3))).collect()),
            datetime_col("registered_at", self.acts.iter().map(|a| a.4).collect()),
            opt_str_col("old_full_name", self.acts.iter().map(|a| a.5.map(String::from)).collect()),
            opt_str_col(
                "new_full_name",
                self.acts.iter().map(|a| a.5.map(|_| "Омаров Ерлан".to_string())).collect(),
            ),
        ])
        .unwrap();
        let mb = DataFrame::new_infer_height(vec![
            str_col("iin", self.phones.iter().map(|p| p.0.clone()).collect()),
            str_col("phone", self.phones.iter().map(|p| p.1.clone()).collect()),
            datetime_col(
                "registered_at",
                self.phones.iter().map(|_| almaty_at(d("2020-01-01"), 0)).collect(),
            ),
            str_col("status", self.phones.iter().map(|_| "active".to_string()).collect()),
        ])
        .unwrap();
        use sdu::registry::{civil_acts, heads, individuals, legal_entities, mobile_base, permits, renames};
        BTreeMap::from([
            (legal_entities::SPEC.name, le),
            (renames::SPEC.name, rn),
            (heads::SPEC.name, hd),
            (permits::SPEC.name, pm),
            (individuals::SPEC.name, ind),
            (civil_acts::SPEC.name, ca),
            (mobile_base::SPEC.name, mb),
        ])
    }

    pub fn registries(&self) -> Registries {
        use sdu::registry::{civil_acts, heads, individuals, legal_entities, permits, renames};
        let mut t = self.tables();
        let mut take = |name: &str| t.remove(name).unwrap();
        // Through the staging casts, as files would be: naive Almaty wall-clock timestamps.
        let naive = |df: DataFrame, column: &str| {
            df.lazy().with_column(
                col(column)
                    .dt()
                    .convert_time_zone(TimeZone::from_chrono(&chrono_tz::Asia::Almaty))
                    .dt()
                    .replace_time_zone(None, lit("raise"), NonExistent::Raise)
                    .cast(DataType::Datetime(TimeUnit::Microseconds, None)),
            )
        };
        Registries {
            legal_entities: take(legal_entities::SPEC.name).lazy(),
            renames: naive(take(renames::SPEC.name), "recorded_at"),
            heads: take(heads::SPEC.name).lazy(),
            permits: take(permits::SPEC.name).lazy(),
            individuals: take(individuals::SPEC.name).lazy(),
            civil_acts: naive(take(civil_acts::SPEC.name), "registered_at"),
            slices: None,
        }
    }
}

fn pilot(id: &str) -> Pilot {
    load_pilots(None).unwrap().into_iter().find(|p| p.id == id).unwrap()
}

/// event id → (outcome, reasons, recipient)
type Results = BTreeMap<String, (String, Vec<String>, Option<String>)>;

fn run(world: &World, pilot_id: &str) -> (Results, DataFrame) {
    let p = pilot(pilot_id);
    let regs = world.registries();
    let df = evaluate(&regs, Scope { pilot: &p, as_of: date(D) }).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        let s = |c: &str| df.column(c).unwrap().str().unwrap().get(i).map(String::from);
        let reasons = df.column("reasons").unwrap().list().unwrap().get_as_series(i).unwrap();
        let reasons: Vec<String> = reasons.str().unwrap().iter().map(|r| r.unwrap().to_string()).collect();
        let prev = out.insert(s("event_id").unwrap(), (s("outcome").unwrap(), reasons, s("iin")));
        assert!(prev.is_none(), "an event appears twice");
    }
    (out, df)
}

fn expect(r: &Results, event: &str, outcome: &str, reasons: &[&str]) {
    let (o, rs, _) = r.get(event).unwrap_or_else(|| panic!("{event} is not in scope: {r:?}"));
    assert_eq!(o, outcome, "{event}");
    assert_eq!(rs, &reasons.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{event}");
}

fn scenario() -> World {
    let mut w = World::default();
    // 1: offered.
    w.org(1, "2026-03-01");
    // 2: liquidated before D; 3: liquidation dated after D does not count yet.
    w.org(2, "2026-03-01");
    w.orgs[1] = (bin(2), "liquidated", Some("2026-04-01"));
    w.org(3, "2026-03-01");
    w.orgs[2] = (bin(3), "liquidated", Some("2026-07-01"));
    // 4: only a permit outside the pilot; 5: pilot permit issued after the rename;
    // 6: expired before D; 7: valid until D itself (still valid); 8: revoked.
    for (k, service, issued, until, status) in [
        (4, "lic-construction", "2024-01-01", None, "active"),
        (5, "san-epid-object-concl", "2026-03-05", None, "active"),
        (6, "san-pathogen-permit", "2020-01-01", Some("2026-05-31"), "active"),
        (7, "san-pathogen-permit", "2021-06-01", Some(D), "active"),
        (8, "san-normative-concl", "2024-01-01", None, "revoked"),
    ] {
        let (b, _) = w.org(k, "2026-03-01");
        w.permits.pop();
        w.permit(k, &b, service, issued, until, status);
    }
    // 9: first head left before D, nobody after; 10: head changed: the old head died, the
    // new one took office on the day he left; 11: only a deputy in office.
    w.org(9, "2026-03-01");
    w.heads.last_mut().unwrap().4 = Some("2026-05-01");
    let (b10, p10) = w.org(10, "2026-03-01");
    w.heads.last_mut().unwrap().4 = Some("2026-04-01");
    w.person(&p10).death = Some("2026-04-20");
    w.heads.push((b10, iin(110), "first_head", "2026-04-01", None));
    w.people.push(Person { iin: iin(110), ..Default::default() });
    let (_, _) = w.org(11, "2026-03-01");
    w.heads.last_mut().unwrap().2 = "deputy";
    // 12: the head is not in ЖТ МДҚ.
    let (_, p12) = w.org(12, "2026-03-01");
    w.people.retain(|p| p.iin != p12);
    // 13: dead in ЖТ МДҚ; 14: death known only to АХАЖ; 15: АХАЖ registered it after D;
    // 16: missing; 17: declared dead.
    let (_, p) = w.org(13, "2026-03-01");
    w.person(&p).death = Some("2026-05-01");
    let (_, p) = w.org(14, "2026-03-01");
    w.acts.push(("A014".into(), p, "death", "2026-05-20", almaty_at(d("2026-05-21"), 40_000), None));
    let (_, p) = w.org(15, "2026-03-01");
    w.acts.push(("A015".into(), p, "death", "2026-05-31", almaty_at(d("2026-06-02"), 40_000), None));
    let (_, p) = w.org(16, "2026-03-01");
    w.person(&p).missing = Some("2025-01-01");
    let (_, p) = w.org(17, "2026-03-01");
    w.person(&p).declared_dead = Some("2026-01-01");
    // 18: abroad; 19: emigrates after D.
    let (_, p) = w.org(18, "2026-03-01");
    w.person(&p).emigrated = Some("2026-02-01");
    let (_, p) = w.org(19, "2026-03-01");
    w.person(&p).emigrated = Some("2026-06-02");
    // 20: incapable; 21: capacity restored before D; 22: restored on D itself.
    let (_, p) = w.org(20, "2026-03-01");
    w.person(&p).incapable = Some(("2024-01-01", None));
    let (_, p) = w.org(21, "2026-03-01");
    w.person(&p).incapable = Some(("2024-01-01", Some("2026-02-01")));
    let (_, p) = w.org(22, "2026-03-01");
    w.person(&p).incapable = Some(("2024-01-01", Some(D)));
    // 23: imprisoned, release after D; 24: released before D.
    let (_, p) = w.org(23, "2026-03-01");
    w.person(&p).imprisoned = Some(("2025-01-01", Some("2027-01-01")));
    let (_, p) = w.org(24, "2026-03-01");
    w.person(&p).imprisoned = Some(("2025-01-01", Some("2026-01-01")));
    // 25: dead and imprisoned; 26: abroad and incapable.
    let (_, p) = w.org(25, "2026-03-01");
    w.person(&p).death = Some("2026-05-01");
    w.person(&p).imprisoned = Some(("2025-01-01", None));
    let (_, p) = w.org(26, "2026-03-01");
    w.person(&p).emigrated = Some("2025-05-01");
    w.person(&p).incapable = Some(("2024-01-01", None));
    // Scope: 27 recorded after D; 28 recorded in the last second of D; 29 changed before the
    // pilot started; 30 changed after D.
    w.org(27, "2026-05-31");
    w.renames.last_mut().unwrap().3 = almaty_at(d("2026-06-02"), 8 * 3600);
    w.org(28, "2026-05-31");
    w.renames.last_mut().unwrap().3 = almaty_at(d(D), 86_399);
    w.org(29, "2026-01-29");
    w.org(30, "2026-06-02");
    w.renames.last_mut().unwrap().3 = almaty_at(d("2026-06-02"), 3600);
    // 31: two first heads in office (bad data): the one who took office last.
    let (b31, _) = w.org(31, "2026-03-01");
    w.heads.push((b31, iin(131), "first_head", "2020-01-01", None));
    w.people.push(Person { iin: iin(131), ..Default::default() });

    // Individual holders (sanitary): 40 changed name with an old certificate → offered;
    // 41 got the certificate after the change; 42 holds only a non-pilot permit (not in
    // scope); 43's act was registered after D (not in scope); 44 is dead.
    for k in 40..=44 {
        let p = iin(k);
        w.people.push(Person { iin: p.clone(), ..Default::default() });
        let (service, issued) = match k {
            41 => ("san-specialist-cert", "2026-04-01"),
            42 => ("cert-auditor", "2024-01-01"),
            _ => ("san-specialist-cert", "2023-01-01"),
        };
        w.permits.push((
            format!("I{k}"),
            service,
            None,
            Some(p.clone()),
            issued,
            Some("2028-01-01"),
            "active",
        ));
        let reg = if k == 43 { almaty_at(d("2026-06-02"), 3600) } else { almaty_at(d("2026-03-11"), 3600) };
        w.acts.push((format!("N{k}"), p.clone(), "name_change", "2026-03-10", reg, Some("Ахметов Ерлан")));
        if k == 44 {
            w.person(&p).death = Some("2026-04-01");
        }
    }
    w
}

#[test]
fn every_outcome_and_reason_on_hand_built_registries() {
    let w = scenario();
    let (r, _) = run(&w, "sanitary");
    expect(&r, "RN001", "offered", &[]);
    expect(&r, "RN002", "org_liquidated", &["org_liquidated"]);
    expect(&r, "RN003", "offered", &[]);
    for k in [4, 5, 6, 8] {
        expect(&r, &format!("RN{k:03}"), "no_pilot_permit", &["no_pilot_permit"]);
    }
    expect(&r, "RN007", "offered", &[]);
    expect(&r, "RN009", "no_head", &["no_head"]);
    expect(&r, "RN010", "offered", &[]);
    assert_eq!(r["RN010"].2.as_deref(), Some(iin(110).as_str()), "the new head is the recipient");
    expect(&r, "RN011", "no_head", &["no_head"]);
    expect(&r, "RN012", "recipient_not_found", &["recipient_not_found"]);
    assert_eq!(r["RN012"].2, None, "no recipient where none was found");
    for k in [13, 14, 16, 17] {
        expect(&r, &format!("RN{k:03}"), "recipient_dead_or_missing", &["recipient_dead_or_missing"]);
    }
    expect(&r, "RN015", "offered", &[]);
    expect(&r, "RN018", "recipient_abroad", &["recipient_abroad"]);
    expect(&r, "RN019", "offered", &[]);
    expect(&r, "RN020", "recipient_incapable", &["recipient_incapable"]);
    expect(&r, "RN021", "offered", &[]);
    expect(&r, "RN022", "offered", &[]);
    expect(&r, "RN023", "recipient_imprisoned", &["recipient_imprisoned"]);
    expect(&r, "RN024", "offered", &[]);
    expect(&r, "RN025", "recipient_dead_or_missing", &["recipient_dead_or_missing", "recipient_imprisoned"]);
    expect(&r, "RN026", "recipient_abroad", &["recipient_abroad", "recipient_incapable"]);
    assert!(!r.contains_key("RN027"), "recorded after D");
    expect(&r, "RN028", "offered", &[]);
    assert!(!r.contains_key("RN029"), "changed before the pilot");
    assert!(!r.contains_key("RN030"), "changed after D");
    assert_eq!(r["RN031"].2.as_deref(), Some(iin(131).as_str()), "the head who took office last");

    expect(&r, "N40", "offered", &[]);
    assert_eq!(r["N40"].2.as_deref(), Some(iin(40).as_str()));
    expect(&r, "N41", "no_pilot_permit", &["no_pilot_permit"]);
    assert!(!r.contains_key("N42"), "not a holder of a pilot permit");
    assert!(!r.contains_key("N43"), "registered after D");
    expect(&r, "N44", "recipient_dead_or_missing", &["recipient_dead_or_missing"]);
    assert_eq!(r.len(), 28 + 3, "every event in scope, once");
}

#[test]
fn the_evidence_names_registry_rows_and_dates() {
    let (_, df) = run(&scenario(), "sanitary");
    let row = |event: &str| {
        let i = df.column("event_id").unwrap().str().unwrap().iter().position(|e| e == Some(event)).unwrap();
        df.slice(i as i64, 1)
    };
    let r14 = row("RN014");
    assert_eq!(r14.column("death_act_id").unwrap().str().unwrap().get(0), Some("A014"));
    assert!(r14.column("death_date").unwrap().is_null().get(0).unwrap(), "ЖТ МДҚ does not know");
    let r1 = row("RN001");
    let ids = r1.column("permit_ids").unwrap().list().unwrap().get_as_series(0).unwrap();
    assert_eq!(ids.len(), 1);
    assert!(r1.column("case_id").unwrap().str().unwrap().get(0).unwrap().len() == 16);
    assert_eq!(r1.column("region").unwrap().str().unwrap().get(0), Some("75"));
    assert_eq!(row("N40").column("region").unwrap().str().unwrap().get(0), Some("71"));
}

#[test]
fn pilots_without_individual_holders_see_only_renames() {
    let mut w = scenario();
    for p in w.permits.iter_mut() {
        if p.1 == "san-epid-object-concl" {
            p.1 = "eco-permit-cat2";
        }
    }
    // Ecology was in force in 2025 only: evaluate it as if on D anyway (the scope is by date).
    let (r, _) = run(&w, "ecology");
    assert!(r.keys().all(|k| k.starts_with("RN")), "{r:?}");
    expect(&r, "RN001", "offered", &[]);
}

#[test]
fn funnel_counts_every_reason_and_the_first() {
    let p = pilot("sanitary");
    let regs = scenario().registries();
    let evaluated = evaluate(&regs, Scope { pilot: &p, as_of: date(D) }).unwrap();
    let counts = funnel::counts(evaluated.lazy()).unwrap().collect().unwrap();
    let get = |dim: &str, key: &str| -> u32 {
        let f = counts
            .clone()
            .lazy()
            .filter(col("dimension").eq(lit(dim)).and(col("key").eq(lit(key))))
            .select([col("events").sum()])
            .collect()
            .unwrap();
        f.column("events").unwrap().u32().unwrap().get(0).unwrap_or(0)
    };
    assert_eq!(get("outcome", "offered"), 12);
    assert_eq!(get("outcome", "recipient_dead_or_missing"), 6);
    assert_eq!(get("first_reason", "recipient_dead_or_missing"), 6);
    assert_eq!(get("reason", "recipient_imprisoned"), 2, "the imprisoned head and the dead one in prison");
    assert_eq!(get("reason", "recipient_incapable"), 2);
    assert_eq!(get("first_reason", "recipient_incapable"), 1);
    assert_eq!(get("service", "san-specialist-cert"), 2);
}

/// Writes the scenario as a snapshot folder (with the fixture's МАБ table).
fn write_scenario(dir: &std::path::Path) {
    write_world(&scenario(), dir);
}

#[test]
fn an_offer_whose_recipient_later_meets_a_criterion_is_not_counted_as_offered_again() {
    let tmp = tempfile::tempdir().unwrap();
    write_scenario(&tmp.path().join("w"));
    let run = |day: &str| {
        let o = crate::common::sdu(
            &["candidates", "--snapshot", "w", "--as-of", day, "--out", "out"],
            tmp.path(),
        );
        assert!(o.status.success(), "{}", crate::common::stderr(&o));
        let f: serde_json::Value = serde_json::from_slice(
            &std::fs::read(tmp.path().join(format!("out/{day}/sanitary/funnel.json"))).unwrap(),
        )
        .unwrap();
        f
    };
    // On 5 March organization 13's head is alive: offered. He dies on 1 May.
    let march = run("2026-03-05");
    assert!(march["offers"]["new"].as_u64().unwrap() > 0);
    let june = run(D);
    let offers = &june["offers"];
    assert_eq!(
        offers["offered"].as_u64().unwrap(),
        offers["new"].as_u64().unwrap() + offers["previously_offered"].as_u64().unwrap(),
        "{offers}"
    );
    assert_eq!(june["by_outcome"]["recipient_dead_or_missing"], 6);
}

fn write_world(w: &World, dir: &std::path::Path) {
    let regs = w.registries();
    let mut tables = crate::common::valid_snapshot();
    for (name, lf) in [
        ("legal_entities", regs.legal_entities),
        ("legal_entity_renames", regs.renames),
        ("legal_entity_heads", regs.heads),
        ("permits", regs.permits),
        ("individuals", regs.individuals),
        ("civil_acts", regs.civil_acts),
    ] {
        tables.insert(name, lf.collect().unwrap());
    }
    crate::common::write_snapshot(dir, &tables);
}

/// Every bound of every pilot, through the binary: the day before the first day, the first,
/// the last, the day after. A pilot runs by default only on its days; named, it needs
/// `--allow-expired` outside them; a rename of the day before the first is never in scope,
/// one of the first day always (seed 000 §8, seed 002 §7, seed 003 §7; Civil Code art. 173).
#[test]
fn every_pilot_runs_exactly_on_the_days_of_its_term() {
    let leak = |d: chrono::NaiveDate| -> &'static str { Box::leak(d.to_string().into_boxed_str()) };
    let tmp = tempfile::tempdir().unwrap();
    let mut w = World::default();
    let pilots = load_pilots(None).unwrap();
    for (n, p) in pilots.iter().enumerate() {
        let first = p.in_force_from;
        for (k, changed) in [(10 * n as u32 + 1, first.pred_opt().unwrap()), (10 * n as u32 + 2, first)] {
            let (b, _) = w.org(k, leak(changed));
            // Recorded the same day, so that only the change date decides.
            w.renames.last_mut().unwrap().3 = almaty_at(days(changed), 10 * 3600);
            w.permits.pop();
            w.permit(k, &b, leak_service(&p.services[0]), "2020-01-01", None, "active");
        }
    }
    write_world(&w, &tmp.path().join("w"));
    for p in &pilots {
        let (first, last) = (p.in_force_from, p.in_force_until);
        let days = [
            (first.pred_opt().unwrap(), false, 0),
            (first, true, 1),
            (last, true, 1),
            (last.succ_opt().unwrap(), false, 1),
        ];
        for (day, in_force, events) in days {
            // (the day, whether the pilot is in force, its renames in scope)
            let ds = day.to_string();
            let out = format!("out-{}-{ds}", p.id);
            // The hand-built world has no civil acts: accepted as such.
            let named = [
                "candidates",
                "--snapshot",
                "w",
                "--as-of",
                &ds,
                "--out",
                &out,
                "--accept-drop",
                "--pilot",
                &p.id,
            ];
            let o = crate::common::sdu(&named, tmp.path());
            let err = crate::common::stderr(&o);
            if in_force {
                assert!(o.status.success(), "{} on {ds}: {err}", p.id);
            } else {
                assert_eq!(o.status.code(), Some(2), "{} on {ds}: {err}", p.id);
                assert!(err.contains("--allow-expired") && err.contains("not in force"), "{err}");
                let o = crate::common::sdu(&[&named[..], &["--allow-expired"]].concat(), tmp.path());
                assert!(o.status.success(), "{}", crate::common::stderr(&o));
            }
            let funnel = tmp.path().join(&out).join(&ds).join(&p.id).join("funnel.json");
            let f: serde_json::Value = serde_json::from_slice(&std::fs::read(funnel).unwrap()).unwrap();
            // Only the pilot's own organizations hold its permits: offered is how many of
            // their two renames are in scope.
            assert_eq!(f["by_outcome"]["offered"], events, "{} on {ds}: {f}", p.id);
            // Unnamed, the pilot runs only on its days.
            let all = format!("all-{}-{ds}", p.id);
            let o = crate::common::sdu(
                &["candidates", "--snapshot", "w", "--as-of", &ds, "--out", &all, "--accept-drop"],
                tmp.path(),
            );
            assert!(o.status.success(), "{}", crate::common::stderr(&o));
            let ran = tmp.path().join(&all).join(&ds).join(&p.id).join("_SUCCESS").exists();
            assert_eq!(ran, in_force, "{} on {ds}", p.id);
        }
    }
}

fn leak_service(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}
