//! The SMS campaign on the portal's side of the files (seed 000, algorithm §9–§15).
//!
//! Every change of a case is an event appended to the case ledger ([`log`]); the current
//! state of every case is a fold over the offers and those events ([`Campaign::load`]).
//! [`Campaign::dispatch`] turns offered cases into first SMS (or `no_mobile`);
//! [`Campaign::advance`] reads replies and the clock: decisions, resends after the reply
//! window, timeouts after the second. Both are pure over in-memory cases (a few thousand a
//! year even at country scale) and return the events to append and the SMS to send.

pub mod files;
pub mod inbox;
pub mod log;
pub mod reply;
pub mod state;

use crate::config::Pilot;
use chrono::{Duration, NaiveDateTime};
use sha2::{Digest, Sha256};
use state::{on_window_closed, transition, Event, Rules, State};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    NoNumber,
    SmsSent,
    ReplyAccept,
    ReplyDecline,
    /// A reply that says neither 1 nor 2: counted, decides nothing.
    ReplyInvalid,
    /// A reply to a case already decided or timed out: recorded, changes nothing.
    ReplyLate,
    /// A reply from a number with no open case.
    ReplyUnmatched,
    TimedOut,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::NoNumber,
        Kind::SmsSent,
        Kind::ReplyAccept,
        Kind::ReplyDecline,
        Kind::ReplyInvalid,
        Kind::ReplyLate,
        Kind::ReplyUnmatched,
        Kind::TimedOut,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::NoNumber => "no_number",
            Kind::SmsSent => "sms_sent",
            Kind::ReplyAccept => "reply_accept",
            Kind::ReplyDecline => "reply_decline",
            Kind::ReplyInvalid => "reply_invalid",
            Kind::ReplyLate => "reply_late",
            Kind::ReplyUnmatched => "reply_unmatched",
            Kind::TimedOut => "timed_out",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One row of the case ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvent {
    /// None for a reply that matched no case.
    pub case_id: Option<String>,
    pub pilot: Option<String>,
    pub kind: Kind,
    /// The case's state after the event (None when it did not change).
    pub state_after: Option<State>,
    /// When it happened (Asia/Almaty wall clock).
    pub at: NaiveDateTime,
    pub send_no: Option<u8>,
    pub message_id: Option<String>,
    pub phone: Option<String>,
    pub due_by: Option<NaiveDateTime>,
    pub reply_id: Option<String>,
    pub reply_text: Option<String>,
}

/// An offered case, as the offers ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub case_id: String,
    pub pilot: String,
    pub event_id: String,
    pub bin: Option<String>,
    pub iin: String,
    pub offered_on: chrono::NaiveDate,
    pub old_name_kk: Option<String>,
    pub old_name_ru: Option<String>,
    pub new_name_kk: Option<String>,
    pub new_name_ru: Option<String>,
    pub permit_ids: Vec<String>,
    /// The service of each permit, in the same order.
    pub permit_services: Vec<String>,
}

/// An SMS put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Sms {
    pub message_id: String,
    pub case_id: String,
    pub pilot: String,
    pub phone: String,
    pub send_no: u8,
    pub sent_at: NaiveDateTime,
    pub due_by: NaiveDateTime,
}

/// A reply from the portal.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub message_id: Option<String>,
    pub phone: String,
    pub received_at: NaiveDateTime,
    pub text: String,
}

impl Reply {
    /// The text as stored (the ledger, the unmatched replies): at most [`MAX_REPLY_TEXT`]
    /// characters, since a reply is a digit or a word.
    pub fn stored_text(&self) -> String {
        self.text.chars().take(MAX_REPLY_TEXT).collect()
    }

    /// Stable id of a reply: the same reply in two files, or in two runs, is one reply.
    pub fn id(&self) -> String {
        short_hash(&format!(
            "{}|{}|{}|{}",
            self.message_id.as_deref().unwrap_or(""),
            self.phone,
            self.received_at.and_utc().timestamp_micros(),
            self.text
        ))
    }
}

/// Why a reply decides nothing for any case (`replies_unmatched.reason`).
pub mod unmatched {
    /// No case's SMS went to this number before the reply.
    pub const NO_CASE: &str = "no_case_texted_this_number";
    /// It quotes the message id of an SMS sent to another number.
    pub const OTHER_NUMBER: &str = "message_id_of_another_number";
    /// It was received before the SMS it quotes was sent.
    pub const BEFORE_THE_SMS: &str = "received_before_the_sms";
}

/// The longest reply text the ledger keeps (characters); a longer one is cut.
pub const MAX_REPLY_TEXT: usize = 500;

/// First 16 hex digits of SHA-256.
pub fn short_hash(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The id of a case's n-th SMS: the same in every run.
pub fn message_id(case_id: &str, send_no: u8) -> String {
    short_hash(&format!("{case_id}|sms|{send_no}"))
}

/// A case as the fold leaves it.
#[derive(Debug, Clone)]
pub struct Case {
    pub offer: Offer,
    pub state: State,
    pub sms: Vec<Sms>,
    pub history: Vec<CaseEvent>,
}

impl Case {
    pub fn last_sms(&self) -> Option<&Sms> {
        self.sms.last()
    }
}

/// Counts of what one `advance` did with the replies it was given.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplyCounts {
    pub received: u64,
    pub already_recorded: u64,
    pub not_yet_received: u64,
    pub accept: u64,
    pub decline: u64,
    pub invalid: u64,
    pub late: u64,
    pub unmatched: u64,
}

/// Every case with its state, and the replies already recorded.
pub struct Campaign {
    pub cases: BTreeMap<String, Case>,
    pub seen_replies: HashSet<String>,
    pub unmatched: Vec<CaseEvent>,
    /// Replies that matched no case in this run, whole, with why (for the run's quarantine).
    pub unmatched_now: Vec<(Reply, &'static str)>,
    rules: HashMap<String, (Rules, u32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("case {case}: {source}")]
    Transition {
        case: String,
        #[source]
        source: state::TransitionError,
    },
    #[error("the ledger names case {0}, which no offer holds")]
    UnknownCase(String),
    #[error("case {case} belongs to pilot `{pilot}`, which the pilots file does not describe")]
    UnknownPilot { case: String, pilot: String },
}

/// Digits of a phone as the portal may write it: `+7 701 123-45-67`, `87011234567`.
pub fn normalize_phone(phone: &str) -> String {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.len() {
        11 if digits.starts_with('8') => format!("+7{}", &digits[1..]),
        11 => format!("+{digits}"),
        10 => format!("+7{digits}"),
        _ => phone.to_string(),
    }
}

impl Campaign {
    /// Folds offers and the ledger's events (in order) into cases.
    pub fn load(
        offers: Vec<Offer>,
        events: Vec<CaseEvent>,
        pilots: &[Pilot],
    ) -> Result<Campaign, CampaignError> {
        let rules: HashMap<String, (Rules, u32)> = pilots
            .iter()
            .map(|p| {
                let r =
                    Rules { on_no_mobile: p.on_no_mobile, on_decline: p.on_decline, sends: p.sends as u8 };
                (p.id.clone(), (r, p.reply_window_days))
            })
            .collect();
        let mut cases = BTreeMap::new();
        for offer in offers {
            if !rules.contains_key(&offer.pilot) {
                return Err(CampaignError::UnknownPilot {
                    case: offer.case_id.clone(),
                    pilot: offer.pilot.clone(),
                });
            }
            cases.insert(
                offer.case_id.clone(),
                Case { offer, state: State::Offered, sms: vec![], history: vec![] },
            );
        }
        let mut campaign =
            Campaign { cases, seen_replies: HashSet::new(), unmatched: vec![], unmatched_now: vec![], rules };
        for e in events {
            campaign.apply(e)?;
        }
        Ok(campaign)
    }

    fn rules(&self, pilot: &str) -> (Rules, u32) {
        self.rules[pilot]
    }

    /// Applies a recorded event: checks the transition it claims.
    fn apply(&mut self, e: CaseEvent) -> Result<(), CampaignError> {
        if let Some(r) = &e.reply_id {
            self.seen_replies.insert(r.clone());
        }
        let Some(case_id) = e.case_id.clone() else {
            self.unmatched.push(e);
            return Ok(());
        };
        let case = self.cases.get_mut(&case_id).ok_or_else(|| CampaignError::UnknownCase(case_id.clone()))?;
        if let Some(next) = e.state_after {
            case.state = next;
        }
        if e.kind == Kind::SmsSent {
            case.sms.push(Sms {
                message_id: e.message_id.clone().unwrap_or_default(),
                case_id: case_id.clone(),
                pilot: case.offer.pilot.clone(),
                phone: e.phone.clone().unwrap_or_default(),
                send_no: e.send_no.unwrap_or(1),
                sent_at: e.at,
                due_by: e.due_by.unwrap_or(e.at),
            });
        }
        case.history.push(e);
        Ok(())
    }

    /// Records a new event on a case: runs the state machine and keeps the result.
    fn step(&mut self, case_id: &str, event: Event, mut row: CaseEvent) -> Result<CaseEvent, CampaignError> {
        let case = &self.cases[case_id];
        let (rules, _) = self.rules(&case.offer.pilot);
        let next = transition(case.state, event, &rules)
            .map_err(|source| CampaignError::Transition { case: case_id.to_string(), source })?;
        row.state_after = Some(next);
        self.apply(row.clone())?;
        Ok(row)
    }

    fn row(&self, case_id: &str, kind: Kind, at: NaiveDateTime) -> CaseEvent {
        CaseEvent {
            case_id: Some(case_id.to_string()),
            pilot: Some(self.cases[case_id].offer.pilot.clone()),
            kind,
            state_after: None,
            at,
            send_no: None,
            message_id: None,
            phone: None,
            due_by: None,
            reply_id: None,
            reply_text: None,
        }
    }

    fn send(
        &mut self,
        case_id: &str,
        phone: &str,
        send_no: u8,
        at: NaiveDateTime,
    ) -> Result<(CaseEvent, Sms), CampaignError> {
        let (_, window) = self.rules(&self.cases[case_id].offer.pilot);
        let due = at + Duration::hours(24 * i64::from(window));
        let mut row = self.row(case_id, Kind::SmsSent, at);
        row.send_no = Some(send_no);
        row.message_id = Some(message_id(case_id, send_no));
        row.phone = Some(phone.to_string());
        row.due_by = Some(due);
        let row = self.step(case_id, Event::SmsSent, row)?;
        let sms = self.cases[case_id].last_sms().expect("just sent").clone();
        Ok((row, sms))
    }

    /// Steps 9–11: every case still `offered` gets its first SMS at `at`, to the number
    /// `phones` holds for the recipient, or `no_mobile` (or the pilot's routing) without one.
    pub fn dispatch(
        &mut self,
        phones: &HashMap<String, String>,
        at: NaiveDateTime,
    ) -> Result<(Vec<CaseEvent>, Vec<Sms>), CampaignError> {
        let waiting: Vec<String> = self
            .cases
            .values()
            .filter(|c| c.state == State::Offered && c.offer.offered_on <= at.date())
            .map(|c| c.offer.case_id.clone())
            .collect();
        let (mut events, mut outbox) = (Vec::new(), Vec::new());
        for case_id in waiting {
            let iin = self.cases[&case_id].offer.iin.clone();
            match phones.get(&iin) {
                // seed 000 §10: no number in МАБ, the process ends (seed 003 §12: ordinary way).
                None => {
                    let row = self.row(&case_id, Kind::NoNumber, at);
                    events.push(self.step(&case_id, Event::NoNumber, row)?);
                }
                Some(phone) => {
                    let (row, sms) = self.send(&case_id, phone, 1, at)?;
                    events.push(row);
                    outbox.push(sms);
                }
            }
        }
        Ok((events, outbox))
    }

    /// Steps 12–15 up to `now`: replies received by then, in order, then the clock.
    pub fn advance(
        &mut self,
        replies: &[Reply],
        now: NaiveDateTime,
    ) -> Result<(Vec<CaseEvent>, Vec<Sms>, ReplyCounts), CampaignError> {
        let mut counts = ReplyCounts::default();
        let (mut events, mut outbox) = (Vec::new(), Vec::new());
        let mut todo: Vec<&Reply> = Vec::new();
        let mut seen_now = HashSet::new();
        for r in replies {
            counts.received += 1;
            let id = r.id();
            if self.seen_replies.contains(&id) || !seen_now.insert(id) {
                counts.already_recorded += 1;
            } else if r.received_at > now {
                counts.not_yet_received += 1;
            } else {
                todo.push(r);
            }
        }
        todo.sort_by_key(|r| (r.received_at, r.id()));
        for r in todo {
            let row = self.reply(r, &mut counts)?;
            events.push(row);
        }
        // seed 000 §13–§14: a window closed without a decision: resend, then time out.
        let closed: Vec<String> = self
            .cases
            .values()
            .filter(|c| !c.state.is_terminal() && c.last_sms().is_some_and(|s| s.due_by <= now))
            .map(|c| c.offer.case_id.clone())
            .collect();
        for case_id in closed {
            let (rules, _) = self.rules(&self.cases[&case_id].offer.pilot);
            match on_window_closed(self.cases[&case_id].state, &rules) {
                Some(Event::SmsSent) => {
                    let phone =
                        self.cases[&case_id].last_sms().expect("waiting cases have an SMS").phone.clone();
                    let (row, sms) = self.send(&case_id, &phone, 2, now)?;
                    events.push(row);
                    outbox.push(sms);
                }
                Some(Event::Deadline) => {
                    let row = self.row(&case_id, Kind::TimedOut, now);
                    events.push(self.step(&case_id, Event::Deadline, row)?);
                }
                _ => {}
            }
        }
        Ok((events, outbox, counts))
    }

    /// The case a reply answers, or why none.
    ///
    /// By message id: the case of that SMS, if it went to the number that replies and before
    /// the reply was received. Else by phone: the open case texted last at that number before
    /// the reply; else the case, now decided or timed out, texted there last (the reply is
    /// then late, not unmatched).
    fn match_reply(&self, r: &Reply) -> Result<String, &'static str> {
        let phone = normalize_phone(&r.phone);
        if let Some(m) = &r.message_id {
            let quoted =
                self.cases.values().find_map(|c| c.sms.iter().find(|s| &s.message_id == m).map(|s| (c, s)));
            if let Some((c, sms)) = quoted {
                if sms.phone != phone {
                    return Err(unmatched::OTHER_NUMBER);
                }
                if sms.sent_at > r.received_at {
                    return Err(unmatched::BEFORE_THE_SMS);
                }
                return Ok(c.offer.case_id.clone());
            }
        }

        // The latest SMS to this number before the reply, among open cases, else among
        // decided ones (the reply is then late).
        let texted = |open: bool| {
            self.cases
                .values()
                .filter(|c| c.state.is_terminal() != open)
                .filter_map(|c| {
                    let sms = c.sms.iter().rev().find(|s| s.phone == phone && s.sent_at <= r.received_at);
                    sms.map(|s| (s.sent_at, c.offer.case_id.clone()))
                })
                .max()
                .map(|(_, case_id)| case_id)
        };
        texted(true).or_else(|| texted(false)).ok_or(unmatched::NO_CASE)
    }

    /// A reply attributed to no case: recorded once (by its id, so it is never counted twice)
    /// without its phone or text, which go to the run's quarantine of unmatched replies with
    /// the reason.
    fn unmatched_reply(
        &mut self,
        r: &Reply,
        why: &'static str,
        counts: &mut ReplyCounts,
    ) -> Result<CaseEvent, CampaignError> {
        counts.unmatched += 1;
        let row = CaseEvent {
            case_id: None,
            pilot: None,
            kind: Kind::ReplyUnmatched,
            state_after: None,
            at: r.received_at,
            send_no: None,
            message_id: None,
            phone: None,
            due_by: None,
            reply_id: Some(r.id()),
            reply_text: None,
        };
        self.apply(row.clone())?;
        self.unmatched_now.push((r.clone(), why));
        Ok(row)
    }

    fn reply(&mut self, r: &Reply, counts: &mut ReplyCounts) -> Result<CaseEvent, CampaignError> {
        let fill = |mut row: CaseEvent| {
            row.reply_id = Some(r.id());
            row.reply_text = Some(r.stored_text());
            row.phone = Some(normalize_phone(&r.phone));
            row.message_id = r.message_id.clone();
            row
        };
        let case_id = match self.match_reply(r) {
            Ok(case_id) => case_id,
            Err(why) => return self.unmatched_reply(r, why, counts),
        };
        let case = &self.cases[&case_id];
        if case.state.is_terminal() {
            // The first valid reply decided, or the case timed out: recorded, nothing changes.
            counts.late += 1;
            let row = fill(self.row(&case_id, Kind::ReplyLate, r.received_at));
            self.apply(row.clone())?;
            return Ok(row);
        }
        let row = match reply::parse(&r.text) {
            reply::Answer::Accept => {
                counts.accept += 1;
                self.step(
                    &case_id,
                    Event::Accept,
                    fill(self.row(&case_id, Kind::ReplyAccept, r.received_at)),
                )?
            }
            reply::Answer::Decline => {
                counts.decline += 1;
                self.step(
                    &case_id,
                    Event::Decline,
                    fill(self.row(&case_id, Kind::ReplyDecline, r.received_at)),
                )?
            }
            reply::Answer::Invalid => {
                counts.invalid += 1;
                let row = fill(self.row(&case_id, Kind::ReplyInvalid, r.received_at));
                self.apply(row.clone())?;
                row
            }
        };
        Ok(row)
    }

    /// Cases per pilot and state.
    pub fn tally(&self) -> BTreeMap<String, BTreeMap<State, u64>> {
        let mut out: BTreeMap<String, BTreeMap<State, u64>> = BTreeMap::new();
        for c in self.cases.values() {
            *out.entry(c.offer.pilot.clone()).or_default().entry(c.state).or_default() += 1;
        }
        out
    }
}
