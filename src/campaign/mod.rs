//! The SMS campaign on the portal's side of the files (seed 000, algorithm §9–§15).
//!
//! Every change of a case is an event appended to the case ledger ([`log`]); the current
//! state of every case is a fold over the offers and those events ([`Campaign::load`]).
//! [`Campaign::dispatch`] turns offered cases into first SMS (or `no_mobile`, or `queued`
//! behind another question to the same phone); [`Campaign::advance`] reads replies and the
//! clock: decisions, the re-check, re-issue requests, resends after the reply window,
//! timeouts after the second, and the next queued question. Both are pure over in-memory
//! cases (a few thousand a year even at country scale) and return the events to append and
//! the SMS to send.
//!
//! Two rules hold across cases (issue 12):
//! - **One permit, one request.** A permit is in at most one open case: a newer case of the
//!   same permits (the organization renamed again, or a new first head) supersedes an older
//!   one not yet requested ([`closed::RENAMED_AGAIN`], [`closed::HEAD_REPLACED`]); "newer"
//!   is the later change, then the later offer ([`Offer::order`]). A permit gets at most one
//!   re-issue request over the whole campaign ([`closed::ALREADY_REQUESTED`]).
//! - **One phone, one question.** The SMS texts do not name the case they ask about, so a
//!   phone has at most one question open; other cases for it wait as `queued`, oldest change
//!   first, and get their first SMS (their own 72 hours) when the open one is decided.
//!
//! Before a request goes out, and at every advance for every open case, the case is
//! re-checked against the latest published candidates ([`Checks`]): the same rules as step
//! 6, on the run date's registries. A case that fails is `voided` with the reason.

pub mod files;
pub mod inbox;
pub mod log;
pub mod reply;
pub mod state;

use crate::config::Pilot;
use chrono::{Duration, NaiveDate, NaiveDateTime};
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
    /// Waits for another case's question to the same phone.
    Queued,
    /// A newer case of the same permits took over (`reason`, `other_case_id`).
    Superseded,
    /// The re-check failed (`reason`), or every permit was already requested.
    Voided,
    /// The e-license re-issue request of an accepted case (`permit_ids`).
    ReissueRequested,
    /// The portal reported an SMS delivered (`message_id`).
    SmsDelivered,
    /// The portal reported an SMS not delivered (`reason`: `failed` or `expired`).
    SmsFailed,
    /// No SMS of the case reached the recipient and no other number is left (`reason`).
    Undeliverable,
    /// e-license re-issued a requested permit (`permit_ids`: the old one, `new_permit_id`).
    PermitReissued,
    /// e-license refused a requested permit (`permit_ids`, `reason`).
    ReissueRefused,
}

impl Kind {
    pub const ALL: [Kind; 17] = [
        Kind::NoNumber,
        Kind::SmsSent,
        Kind::ReplyAccept,
        Kind::ReplyDecline,
        Kind::ReplyInvalid,
        Kind::ReplyLate,
        Kind::ReplyUnmatched,
        Kind::TimedOut,
        Kind::Queued,
        Kind::Superseded,
        Kind::Voided,
        Kind::ReissueRequested,
        Kind::SmsDelivered,
        Kind::SmsFailed,
        Kind::Undeliverable,
        Kind::PermitReissued,
        Kind::ReissueRefused,
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
            Kind::Queued => "queued",
            Kind::Superseded => "superseded",
            Kind::Voided => "voided",
            Kind::ReissueRequested => "reissue_requested",
            Kind::SmsDelivered => "sms_delivered",
            Kind::SmsFailed => "sms_failed",
            Kind::Undeliverable => "undeliverable",
            Kind::PermitReissued => "permit_reissued",
            Kind::ReissueRefused => "reissue_refused",
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
    /// Why a case was superseded or voided ([`closed`]).
    pub reason: Option<String>,
    /// The case that superseded this one, that it waits behind, or that holds the request.
    pub other_case_id: Option<String>,
    /// The permits a re-issue request names (or the one permit e-license answered for).
    pub permit_ids: Vec<String>,
    /// On `sms_sent` and `queued`: the recipient's other active МАБ numbers, in order, to
    /// try if this SMS is not delivered.
    pub next_phones: Vec<String>,
    /// On `permit_reissued`: the number of the permit e-license issued in its place.
    pub new_permit_id: Option<String>,
    /// On rows from an input (a reply, a delivery report, an answer): the input's `source`
    /// when it states one (`simulated-portal`, `simulated-elicense`); null from the portal.
    pub source: Option<String>,
}

impl CaseEvent {
    /// A row of `kind` on no case yet, at `at`, every other field empty.
    pub fn new(kind: Kind, at: NaiveDateTime) -> CaseEvent {
        CaseEvent {
            case_id: None,
            pilot: None,
            kind,
            state_after: None,
            at,
            send_no: None,
            message_id: None,
            phone: None,
            due_by: None,
            reply_id: None,
            reply_text: None,
            reason: None,
            other_case_id: None,
            permit_ids: vec![],
            next_phones: vec![],
            new_permit_id: None,
            source: None,
        }
    }
}

/// An offered case, as the offers ledger holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub case_id: String,
    pub pilot: String,
    pub event_id: String,
    pub bin: Option<String>,
    pub iin: String,
    pub offered_on: NaiveDate,
    /// When the organization (or the person) changed the name; None in offers recorded
    /// before it was kept.
    pub changed_on: Option<NaiveDate>,
    pub old_name_kk: Option<String>,
    pub old_name_ru: Option<String>,
    pub new_name_kk: Option<String>,
    pub new_name_ru: Option<String>,
    pub permit_ids: Vec<String>,
    /// The service of each permit, in the same order.
    pub permit_services: Vec<String>,
}

impl Offer {
    /// The order of cases: the earlier change first, then the earlier offer, then the case
    /// id. The queue of a phone follows it; the later of two cases of the same permits is
    /// the newer.
    pub fn order(&self) -> (NaiveDate, NaiveDate, &str) {
        (self.changed_on.unwrap_or(self.offered_on), self.offered_on, &self.case_id)
    }

    /// Whether the campaign knew of the case at `at`: from its offer day's send time (09:00),
    /// when the day's dispatch takes it.
    pub fn known_by(&self, at: NaiveDateTime) -> bool {
        self.offered_on.and_time(crate::time::SEND_TIME) <= at
    }

    fn shares_permits(&self, other: &Offer) -> bool {
        self.permit_ids.iter().any(|p| other.permit_ids.contains(p))
    }
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
    /// The file's `source` column, if any (the simulator's label).
    pub source: Option<String>,
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

/// What the portal reports of an SMS (`sms_delivery.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryStatus {
    Delivered,
    /// The operator rejected it (number unknown, blocked, switched off for good).
    Failed,
    /// Not delivered within the gateway's validity period (the phone stayed off).
    Expired,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] =
        [DeliveryStatus::Delivered, DeliveryStatus::Failed, DeliveryStatus::Expired];

    pub fn code(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Expired => "expired",
        }
    }

    pub fn parse(code: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|s| s.code() == code.trim().to_lowercase())
    }
}

/// A delivery report from the portal: what became of one SMS, and when it was known.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub message_id: String,
    pub status: DeliveryStatus,
    pub reported_at: NaiveDateTime,
    /// The file's `source` column, if any (the simulator's label).
    pub source: Option<String>,
}

/// e-license's answer to one re-issue request (one permit).
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub request_id: String,
    /// The new permit's number when re-issued, or why it was refused.
    pub result: Result<String, String>,
    pub answered_at: NaiveDateTime,
    /// The file's `source` column, if any (the simulator's label).
    pub source: Option<String>,
}

/// The id of the re-issue request of one permit of a case (`elicense_requests.request_id`).
pub fn request_id(case_id: &str, permit_id: &str) -> String {
    short_hash(&format!("{case_id}|{permit_id}"))
}

/// Why a delivery report or an e-license answer applies to nothing (their quarantine's
/// `reason`).
pub mod unknown {
    /// No SMS of ours has this message id.
    pub const MESSAGE: &str = "unknown_message_id";
    /// The report is timed before the SMS was sent.
    pub const BEFORE_THE_SMS: &str = "reported_before_the_sms";
    /// No re-issue request of ours has this id.
    pub const REQUEST: &str = "unknown_request_id";
    /// The answer is timed before the request was made.
    pub const BEFORE_THE_REQUEST: &str = "answered_before_the_request";
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

/// Why a case was closed without a decision of its recipient (`reason` of `superseded` and
/// `voided`). A failed re-check gives the outcome code of the day's candidates
/// (`recipient_dead_or_missing`, `no_pilot_permit`, …, SCHEMA.md) or one of these.
pub mod closed {
    /// Superseded: a later rename of the same organization (or a later name change of the
    /// same holder) took the permits over.
    pub const RENAMED_AGAIN: &str = "renamed_again";
    /// Superseded (a newer case of the same event went to the new first head), or voided
    /// (the day's candidates name another recipient for the event).
    pub const HEAD_REPLACED: &str = "head_replaced";
    /// Voided: the day's candidates no longer hold the event (the snapshot dropped it).
    pub const EVENT_NOT_IN_SCOPE: &str = "event_not_in_scope";
    /// Voided: every permit of the case was already requested by another case.
    pub const ALREADY_REQUESTED: &str = "already_requested";
    /// On an `sms_sent` row: the SMS was due while no advance ran, and its reply window had
    /// closed by the advance that decided it: it was never published.
    pub const WINDOW_OVER: &str = "window_over_before_publication";
}

/// What the latest published candidates say about one event: the re-check's evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCheck {
    pub outcome: String,
    /// The case the day offers (its recipient), if the event is offered.
    pub case_id: Option<String>,
    /// The recipient the day evaluated, if one was found.
    pub iin: Option<String>,
    /// The permits that count on the day.
    pub permit_ids: Vec<String>,
}

/// The re-check of one case: the permits that still count, or why it fails (a reason code).
pub type Verdict = Result<Vec<String>, String>;

/// The re-check's evidence: per pilot, the day of its latest published candidates and what
/// they say about each event. A pilot without any is not re-checked.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub pilots: HashMap<String, (NaiveDate, HashMap<String, EventCheck>)>,
}

impl Checks {
    /// None when the pilot has no candidates to check against; else the permits that still
    /// count for the case, or why it fails.
    pub fn verdict(&self, offer: &Offer) -> Option<Verdict> {
        use crate::pipeline::outcome as o;
        let (day, events) = self.pilots.get(&offer.pilot)?;
        if *day < offer.offered_on {
            // Candidates older than the offer know nothing of it (never the case when every
            // day's candidates are published; `load_checks` refuses a gap).
            return None;
        }
        let Some(e) = events.get(&offer.event_id) else {
            return Some(Err(closed::EVENT_NOT_IN_SCOPE.into()));
        };
        let same_recipient = e.iin.as_deref().is_none_or(|i| i == offer.iin);
        let about_the_organization =
            [o::ORG_LIQUIDATED, o::NO_PILOT_PERMIT, o::NO_HEAD].contains(&e.outcome.as_str());
        Some(if e.outcome == o::OFFERED {
            if e.case_id.as_deref() != Some(offer.case_id.as_str()) {
                Err(closed::HEAD_REPLACED.into())
            } else {
                let still: Vec<String> =
                    offer.permit_ids.iter().filter(|p| e.permit_ids.contains(p)).cloned().collect();
                if still.is_empty() {
                    Err(o::NO_PILOT_PERMIT.into())
                } else {
                    Ok(still)
                }
            }
        } else if about_the_organization || same_recipient {
            Err(e.outcome.clone())
        } else {
            Err(closed::HEAD_REPLACED.into())
        })
    }
}

/// The longest reply text the ledger keeps (characters); a longer one is cut.
pub const MAX_REPLY_TEXT: usize = 500;

/// The first send time ([`crate::time::SEND_TIME`], 09:00) at or after `t`: when a case
/// that waited in a phone's queue gets its first SMS.
pub fn next_send_slot(t: NaiveDateTime) -> NaiveDateTime {
    let slot = t.date().and_time(crate::time::SEND_TIME);
    if slot >= t {
        slot
    } else {
        (t.date() + Duration::days(1)).and_time(crate::time::SEND_TIME)
    }
}

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
    /// The permits its re-issue request named, once it went out.
    pub requested: Option<Vec<String>>,
    /// The phone a queued case waits to text.
    pub queued_phone: Option<String>,
    /// The recipient's other active numbers still to try if an SMS is not delivered.
    pub fallback: Vec<String>,
    /// Some SMS of the case was reported delivered: the recipient was reached.
    pub reached: bool,
}

impl Case {
    pub fn last_sms(&self) -> Option<&Sms> {
        self.sms.last()
    }

    /// Still to be acted on: open, or accepted with its request not yet out (a newer case
    /// or a failed re-check can still close it).
    pub fn pending(&self) -> bool {
        self.state.is_open() || (self.state == State::Accepted && self.requested.is_none())
    }

    /// The phone of its open question, if it is waiting for a reply.
    fn asking(&self) -> Option<&str> {
        self.state.is_asking().then(|| self.last_sms().map(|s| s.phone.as_str())).flatten()
    }

    /// Whether it asks its question on `phone`, texted first by `at` (a late advance knows of
    /// later dispatches, which did not block anything at `at`).
    fn asks_on(&self, phone: &str, at: NaiveDateTime) -> bool {
        self.asking() == Some(phone) && self.sms.first().is_some_and(|s| s.sent_at <= at)
    }
}

/// Counts of what one `advance` did with the delivery reports it was given.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DeliveryCounts {
    pub received: u64,
    /// A report on an SMS whose report is already recorded (the first one counts).
    pub already_recorded: u64,
    pub not_yet_received: u64,
    pub waiting: u64,
    pub delivered: u64,
    pub failed: u64,
    pub expired: u64,
    /// About no SMS of ours, or timed before it: quarantined.
    pub unknown: u64,
    /// SMS sent again to the recipient's next number after a failure.
    pub retried: u64,
    /// Cases closed `undeliverable`.
    pub undeliverable: u64,
}

/// Counts of what one `advance` did with e-license's answers.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ConfirmationCounts {
    pub received: u64,
    pub already_recorded: u64,
    /// Answered after the advance's time: taken by a later advance.
    pub not_yet_received: u64,
    pub reissued: u64,
    pub refused: u64,
    /// About no request of ours, or timed before it: quarantined.
    pub unknown: u64,
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
    /// Received after the time the inputs are known complete to: decided by a later advance.
    pub waiting: u64,
}

/// What an advance does with an input row (a reply, a delivery report) given its time.
enum Arrival {
    /// An earlier run (or an earlier row) recorded it.
    Recorded,
    /// Timed after the advance's time.
    NotYet,
    /// Timed after what the inputs are known complete to: a later advance decides it.
    Waiting,
    /// Decided now, at its time.
    Now,
}

fn arrival(recorded: bool, at: NaiveDateTime, now: NaiveDateTime, until: NaiveDateTime) -> Arrival {
    if recorded {
        Arrival::Recorded
    } else if at > now {
        Arrival::NotYet
    } else if at > until {
        Arrival::Waiting
    } else {
        Arrival::Now
    }
}

/// Each recipient's active mobile numbers (IIN → numbers, the one to text first first).
pub type Numbers = HashMap<String, Vec<String>>;

/// The permits that still count for each re-checked case, by case id.
type StillCounting = HashMap<String, Vec<String>>;

/// When an advance runs and what it knows: its time, how far the replies are known
/// complete, the previous advance (its send times were decided then), and the candidates of
/// each day to re-check against.
#[derive(Debug, Clone)]
pub struct Clock {
    pub now: NaiveDateTime,
    pub until: NaiveDateTime,
    pub since: Option<NaiveDateTime>,
    /// Per day, the checks of the latest candidates on or before it.
    pub checks: BTreeMap<NaiveDate, Checks>,
}

impl Clock {
    /// An advance at `now` with complete inputs, no candidates, and no earlier advance.
    pub fn at(now: NaiveDateTime) -> Clock {
        Clock { now, until: now, since: None, checks: BTreeMap::new() }
    }

    /// The checks of `day`: those of the latest day on or before it (none: no re-check).
    pub fn on(&self, day: NaiveDate) -> &Checks {
        static NONE: std::sync::OnceLock<Checks> = std::sync::OnceLock::new();
        self.checks
            .range(..=day)
            .next_back()
            .map(|(_, c)| c)
            .unwrap_or_else(|| NONE.get_or_init(Checks::default))
    }
}

/// What one advance did: the events to record, the SMS to send, and their counts.
#[derive(Debug, Clone)]
pub struct Advanced {
    pub events: Vec<CaseEvent>,
    pub outbox: Vec<Sms>,
    /// SMS due while no advance ran whose windows had closed by this one: not published.
    pub unpublished: u64,
    pub replies: ReplyCounts,
    pub deliveries: DeliveryCounts,
    pub confirmations: ConfirmationCounts,
    pub cases: CaseCounts,
}

/// What the portal and e-license sent an advance: replies, delivery reports, answers to
/// re-issue requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inbox<'a> {
    pub replies: &'a [Reply],
    pub deliveries: &'a [Delivery],
    pub confirmations: &'a [Confirmation],
}

/// What one `dispatch` or `advance` did to cases besides replies and the clock.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CaseCounts {
    /// Put behind another question to the same phone.
    pub queued: u64,
    /// First SMS of cases that waited in the queue.
    pub dequeued: u64,
    pub superseded: u64,
    pub voided: u64,
    /// Cases whose re-issue request went out.
    pub requested: u64,
}

/// Every case with its state, and the replies already recorded.
pub struct Campaign {
    pub cases: BTreeMap<String, Case>,
    pub seen_replies: HashSet<String>,
    pub unmatched: Vec<CaseEvent>,
    /// Replies that matched no case in this run, whole, with why (for the run's quarantine).
    pub unmatched_now: Vec<(Reply, &'static str)>,
    /// Every permit a re-issue request named, and the case whose request it was.
    pub requested: HashMap<String, String>,
    /// The SMS (message ids) whose delivery report is recorded.
    pub reported: HashSet<String>,
    /// The requests (ids) e-license's answer is recorded for: whether it re-issued.
    pub answered: HashMap<String, bool>,
    /// Delivery reports and e-license answers of this run that apply to nothing, with why.
    pub unknown_now: Vec<(String, NaiveDateTime, &'static str)>,
    rules: HashMap<String, (Rules, u32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("case {case}")]
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
                Case {
                    offer,
                    state: State::Offered,
                    sms: vec![],
                    history: vec![],
                    requested: None,
                    queued_phone: None,
                    fallback: vec![],
                    reached: false,
                },
            );
        }
        let mut campaign = Campaign {
            cases,
            seen_replies: HashSet::new(),
            unmatched: vec![],
            unmatched_now: vec![],
            requested: HashMap::new(),
            reported: HashSet::new(),
            answered: HashMap::new(),
            unknown_now: vec![],
            rules,
        };
        for e in events {
            campaign.apply(e)?;
        }
        // Ledgers written before requests were recorded: an accepted case's request went out
        // with its acceptance, for every permit of the offer.
        let legacy: Vec<String> = campaign
            .cases
            .values()
            .filter(|c| c.state == State::Accepted && c.requested.is_none())
            .map(|c| c.offer.case_id.clone())
            .collect();
        for case_id in legacy {
            let case = campaign.cases.get_mut(&case_id).expect("listed above");
            case.requested = Some(case.offer.permit_ids.clone());
            for p in &case.offer.permit_ids {
                campaign.requested.entry(p.clone()).or_insert_with(|| case_id.clone());
            }
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
        match e.kind {
            Kind::Queued => {
                case.queued_phone = e.phone.clone();
                case.fallback = e.next_phones.clone();
            }
            Kind::SmsSent => case.fallback = e.next_phones.clone(),
            Kind::SmsDelivered | Kind::SmsFailed => {
                case.reached |= e.kind == Kind::SmsDelivered;
                self.reported.extend(e.message_id.clone());
            }
            Kind::PermitReissued | Kind::ReissueRefused => {
                for p in &e.permit_ids {
                    let reissued = self.answered.entry(request_id(&case_id, p)).or_default();
                    *reissued |= e.kind == Kind::PermitReissued;
                }
            }
            Kind::ReissueRequested => {
                case.requested = Some(e.permit_ids.clone());
                for p in &e.permit_ids {
                    self.requested.entry(p.clone()).or_insert_with(|| case_id.clone());
                }
            }
            _ => {}
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
            ..CaseEvent::new(kind, at)
        }
    }

    /// Closes a case as superseded or voided, with the reason and the other case involved.
    fn close(
        &mut self,
        case_id: &str,
        event: Event,
        reason: &str,
        other: Option<String>,
        at: NaiveDateTime,
    ) -> Result<CaseEvent, CampaignError> {
        let kind = if event == Event::Supersede { Kind::Superseded } else { Kind::Voided };
        let mut row = self.row(case_id, kind, at);
        row.reason = Some(reason.to_string());
        row.other_case_id = other;
        self.step(case_id, event, row)
    }

    /// Case ids in [`Offer::order`], of the cases `keep` selects.
    fn ordered(&self, keep: impl Fn(&Case) -> bool) -> Vec<String> {
        let mut ids: Vec<&Case> = self.cases.values().filter(|c| keep(c)).collect();
        ids.sort_by(|a, b| a.offer.order().cmp(&b.offer.order()));
        ids.into_iter().map(|c| c.offer.case_id.clone()).collect()
    }

    /// The newest case offered by `at` that takes this one's permits over: a newer case of
    /// any of the same permits that was not itself superseded or voided.
    fn newer(&self, case: &Case, at: NaiveDateTime) -> Option<&Case> {
        self.cases
            .values()
            .filter(|c| c.offer.case_id != case.offer.case_id && c.offer.known_by(at))
            .filter(|c| !matches!(c.state, State::Superseded | State::Voided))
            .filter(|c| c.offer.shares_permits(&case.offer) && c.offer.order() > case.offer.order())
            .max_by(|a, b| a.offer.order().cmp(&b.offer.order()))
    }

    /// Supersedes every pending case that a newer case of the same permits took over; with
    /// `new_only` (a dispatch), only the cases offered that day and not dispatched yet: the
    /// older ones are left to the advance's send times, which know the replies.
    fn supersede(&mut self, at: NaiveDateTime, new_only: bool) -> Result<Vec<CaseEvent>, CampaignError> {
        let mut events = Vec::new();
        let known = |c: &Case| c.offer.known_by(at);
        let new = |c: &Case| c.state == State::Offered && c.offer.offered_on == at.date();
        let selected = |c: &Case| known(c) && c.pending() && (!new_only || new(c));
        // First the cases not texted yet whose every permit is already requested: voided, as
        // their first SMS would be (and so they take nothing over).
        for case_id in self.ordered(|c| selected(c) && c.requested.is_none() && c.sms.is_empty()) {
            if let Err(holder) = self.unrequested(&self.cases[&case_id].offer.permit_ids) {
                events.push(self.close(
                    &case_id,
                    Event::Void,
                    closed::ALREADY_REQUESTED,
                    Some(holder),
                    at,
                )?);
            }
        }
        for case_id in self.ordered(selected) {
            let case = &self.cases[&case_id];
            let Some(newer) = self.newer(case, at) else { continue };
            let older_case_shares = || {
                self.cases.values().any(|c| {
                    c.offer.case_id != case.offer.case_id
                        && c.offer.known_by(at)
                        && !new(c)
                        && c.offer.shares_permits(&case.offer)
                })
            };
            if new_only && (!new(newer) || older_case_shares()) {
                // A case from before shares the permits: the advance's send time decides (it
                // knows the replies, hence whether that case still stands or was requested).
                continue;
            }
            let reason = if newer.offer.event_id == case.offer.event_id {
                closed::HEAD_REPLACED
            } else {
                closed::RENAMED_AGAIN
            };
            let other = Some(newer.offer.case_id.clone());
            events.push(self.close(&case_id, Event::Supersede, reason, other, at)?);
        }
        Ok(events)
    }

    /// The re-check of every pending case against the day's candidates: a case that fails is
    /// voided with the reason. A case whose event the day offers to a new first head is left
    /// to [`Campaign::supersede`] when that head's case is there (it names it), and voided
    /// otherwise. Returns the events, and the permits that still count for each case that
    /// passed (a pilot without candidates keeps the offer's permits).
    fn recheck(
        &mut self,
        checks: &Checks,
        at: NaiveDateTime,
    ) -> Result<(Vec<CaseEvent>, StillCounting), CampaignError> {
        let (mut events, mut still) = (Vec::new(), HashMap::new());
        let mut replaced = Vec::new();
        for case_id in self.ordered(|c| c.pending() && c.offer.known_by(at)) {
            let offer = &self.cases[&case_id].offer;
            match checks.verdict(offer) {
                None => {
                    still.insert(case_id, offer.permit_ids.clone());
                }
                Some(Ok(permits)) => {
                    still.insert(case_id, permits);
                }
                Some(Err(reason)) if reason == closed::HEAD_REPLACED => replaced.push(case_id),
                Some(Err(reason)) => events.push(self.close(&case_id, Event::Void, &reason, None, at)?),
            }
        }
        // After the other voids, so that a voided newer case takes nothing over.
        for case_id in replaced {
            if self.newer(&self.cases[&case_id], at).is_none() {
                events.push(self.close(&case_id, Event::Void, closed::HEAD_REPLACED, None, at)?);
            }
        }
        Ok((events, still))
    }

    /// The permits of `permits` not requested yet, or the case whose request holds them all.
    fn unrequested(&self, permits: &[String]) -> Result<Vec<String>, String> {
        let free: Vec<String> =
            permits.iter().filter(|p| !self.requested.contains_key(*p)).cloned().collect();
        match permits.first() {
            Some(p) if free.is_empty() => Err(self.requested[p].clone()),
            _ => Ok(free),
        }
    }

    /// Seed 000 §12: the re-issue request of every case accepted and not yet requested, for
    /// its permits that still count and that no other case requested.
    fn request(&mut self, still: &StillCounting, at: NaiveDateTime) -> Result<Vec<CaseEvent>, CampaignError> {
        let mut events = Vec::new();
        let due = |c: &Case| c.state == State::Accepted && c.requested.is_none() && c.offer.known_by(at);
        for case_id in self.ordered(due) {
            let permits =
                still.get(&case_id).cloned().unwrap_or_else(|| self.cases[&case_id].offer.permit_ids.clone());
            match self.unrequested(&permits) {
                Ok(free) => {
                    let mut row = self.row(&case_id, Kind::ReissueRequested, at);
                    row.permit_ids = free;
                    self.apply(row.clone())?;
                    events.push(row);
                }
                Err(holder) => events.push(self.close(
                    &case_id,
                    Event::Void,
                    closed::ALREADY_REQUESTED,
                    Some(holder),
                    at,
                )?),
            }
        }
        Ok(events)
    }

    /// The case a case must wait for at `at` before its first SMS to `phone`: a question
    /// open on the same phone, a case queued for it earlier, an open question about the same
    /// permits, or an accepted case of the same permits whose request is not made yet. Only
    /// what was so by `at` counts (a late advance knows of later dispatches).
    fn blocker(&self, case: &Case, phone: &str, at: NaiveDateTime) -> Option<String> {
        let before = |c: &Case| c.offer.order() < case.offer.order();
        let asked_by = |c: &Case| c.sms.first().is_some_and(|s| s.sent_at <= at);
        let queued_by = |c: &Case| c.history.iter().any(|e| e.kind == Kind::Queued && e.at <= at);
        self.cases
            .values()
            .filter(|c| c.offer.case_id != case.offer.case_id)
            .find(|c| {
                c.asks_on(phone, at)
                    || (c.state == State::Queued
                        && c.queued_phone.as_deref() == Some(phone)
                        && before(c)
                        && queued_by(c))
                    || (c.state.is_asking() && asked_by(c) && c.offer.shares_permits(&case.offer))
                    || (c.state == State::Accepted
                        && c.requested.is_none()
                        && c.offer.shares_permits(&case.offer))
                    // A new case waits behind every case already queued for its phone or
                    // permits: the advance decides their order, at their send times.
                    || (case.state == State::Offered
                        && c.state == State::Queued
                        && queued_by(c)
                        && (c.queued_phone.as_deref() == Some(phone) || c.offer.shares_permits(&case.offer)))
            })
            .map(|c| c.offer.case_id.clone())
    }

    /// The first SMS of a case not texted yet (offered, or queued with its phone): sent,
    /// queued behind another question (a queued case stays so: None), or voided when
    /// another case already requested all its permits.
    fn first_sms(
        &mut self,
        case_id: &str,
        numbers: &[String],
        at: NaiveDateTime,
        counts: &mut CaseCounts,
    ) -> Result<Option<(CaseEvent, Option<Sms>)>, CampaignError> {
        let case = &self.cases[case_id];
        let (phone, next) = numbers.split_first().expect("a case is texted with a number");
        if let Err(holder) = self.unrequested(&case.offer.permit_ids) {
            counts.voided += 1;
            let row = self.close(case_id, Event::Void, closed::ALREADY_REQUESTED, Some(holder), at)?;
            return Ok(Some((row, None)));
        }
        // A new case with a newer case of its permits waits: the advance's send time supersedes it.
        let newer = || {
            (case.state == State::Offered)
                .then(|| self.newer(case, at).map(|c| c.offer.case_id.clone()))
                .flatten()
        };
        match (self.blocker(case, phone, at).or_else(newer), case.state) {
            (Some(_), State::Queued) => Ok(None),
            (Some(other), _) => {
                counts.queued += 1;
                let mut row = self.row(case_id, Kind::Queued, at);
                row.phone = Some(phone.to_string());
                row.next_phones = next.to_vec();
                row.other_case_id = Some(other);
                Ok(Some((self.step(case_id, Event::Queue, row)?, None)))
            }
            (None, state) => {
                if state == State::Queued {
                    counts.dequeued += 1;
                }
                let (row, sms) = self.send(case_id, Event::SmsSent, (phone, next), 1, at)?;
                Ok(Some((row, Some(sms))))
            }
        }
    }

    /// An SMS of the case to `phone` (the other numbers after it kept to try), its window
    /// counted from `at`: the first or second of the case (`SmsSent`), or the same one again
    /// to another number after a failed delivery (`Retry`, its own message id).
    fn send(
        &mut self,
        case_id: &str,
        event: Event,
        (phone, next): (&str, &[String]),
        send_no: u8,
        at: NaiveDateTime,
    ) -> Result<(CaseEvent, Sms), CampaignError> {
        let (_, window) = self.rules(&self.cases[case_id].offer.pilot);
        let due = at + Duration::hours(24 * i64::from(window));
        let mut row = self.row(case_id, Kind::SmsSent, at);
        row.send_no = Some(send_no);
        row.message_id = Some(if event == Event::Retry {
            short_hash(&format!("{case_id}|sms|{send_no}|{phone}"))
        } else {
            message_id(case_id, send_no)
        });
        row.phone = Some(phone.to_string());
        row.next_phones = next.to_vec();
        row.due_by = Some(due);
        let row = self.step(case_id, event, row)?;
        let sms = self.cases[case_id].last_sms().expect("just sent").clone();
        Ok((row, sms))
    }

    /// Steps 9–11: every case still `offered` at `at` (in [`Offer::order`]) gets its first
    /// SMS at `at`, to the number `phones` holds for the recipient, or `no_mobile` (or the
    /// pilot's routing) without one. First, a case not texted yet that a newer case of the
    /// same permits took over is superseded; a case whose phone (or permits) has a question
    /// open is queued behind it.
    pub fn dispatch(
        &mut self,
        phones: &Numbers,
        at: NaiveDateTime,
    ) -> Result<(Vec<CaseEvent>, Vec<Sms>, CaseCounts), CampaignError> {
        let mut counts = CaseCounts::default();
        let mut events = self.supersede(at, true)?;
        counts.superseded = events.len() as u64;
        let mut outbox = Vec::new();
        for case_id in self.ordered(|c| c.state == State::Offered && c.offer.offered_on <= at.date()) {
            let iin = self.cases[&case_id].offer.iin.clone();
            match phones.get(&iin).filter(|n| !n.is_empty()) {
                // seed 000 §10: no number in МАБ, the process ends (seed 003 §12: ordinary way).
                None => {
                    let row = self.row(&case_id, Kind::NoNumber, at);
                    events.push(self.step(&case_id, Event::NoNumber, row)?);
                }
                Some(numbers) => {
                    if let Some((row, sms)) = self.first_sms(&case_id, numbers, at, &mut counts)? {
                        events.push(row);
                        outbox.extend(sms);
                    }
                }
            }
        }
        Ok((events, outbox, counts))
    }

    /// Steps 12–15 by event time. `clock.until` (at most `clock.now`) is how far the inputs
    /// are known complete: replies received up to it are decided in order of receipt,
    /// interleaved with what happens at its own time — each day's send time (09:00, a
    /// [`next_send_slot`]) re-checks the pending cases against that day's candidates,
    /// supersedes older cases by newer ones and makes the requests of the cases accepted
    /// before it; a closing window resends (the second SMS stamped at the deadline) or times
    /// out at its deadline; a phone freed by a decision texts its next queued case at the
    /// next send time. Replies and send times after `until` wait for a later advance: the
    /// same inputs give the same decisions whatever the schedule of the advances.
    pub fn advance(&mut self, replies: &[Reply], clock: &Clock) -> Result<Advanced, CampaignError> {
        self.advance_with(Inbox { replies, ..Inbox::default() }, clock)
    }

    /// [`Campaign::advance`] with the portal's delivery reports and e-license's answers too.
    /// A delivery report is an event at its time like a reply (at one instant it comes
    /// first): a failed or expired SMS still asking its question goes again at the next send
    /// time to the recipient's next active number (a fresh window), or, when none is left
    /// and no SMS of the case was delivered, the case is closed `undeliverable`. e-license's answers record
    /// the re-issued (or refused) permits of requests made by `now`.
    pub fn advance_with(&mut self, inbox: Inbox<'_>, clock: &Clock) -> Result<Advanced, CampaignError> {
        let (now, until) = (clock.now, clock.until.min(clock.now));
        let mut counts = ReplyCounts::default();
        let mut todo: Vec<&Reply> = Vec::new();
        let mut seen_now = HashSet::new();
        let mut deliveries = DeliveryCounts::default();
        let mut reports: Vec<&Delivery> = Vec::new();
        for d in inbox.deliveries {
            deliveries.received += 1;
            match arrival(self.reported.contains(&d.message_id), d.reported_at, now, until) {
                Arrival::Recorded => deliveries.already_recorded += 1,
                Arrival::NotYet => deliveries.not_yet_received += 1,
                Arrival::Waiting => deliveries.waiting += 1,
                Arrival::Now => reports.push(d),
            }
        }
        reports.sort_by_key(|d| (d.reported_at, d.status, &d.message_id));
        for r in inbox.replies {
            counts.received += 1;
            let id = r.id();
            let recorded = self.seen_replies.contains(&id) || !seen_now.insert(id);
            match arrival(recorded, r.received_at, now, until) {
                Arrival::Recorded => counts.already_recorded += 1,
                Arrival::NotYet => counts.not_yet_received += 1,
                Arrival::Waiting => counts.waiting += 1,
                Arrival::Now => todo.push(r),
            }
        }
        todo.sort_by_key(|r| (r.received_at, r.id()));
        // The send times since the previous advance (or since the first offer).
        let first = clock.since.unwrap_or_else(|| {
            let start = self.cases.values().map(|c| c.offer.offered_on).min().unwrap_or(now.date());
            start.and_time(crate::time::SEND_TIME) - Duration::seconds(1)
        });
        let mut ticks = Vec::new();
        let mut tick = next_send_slot(first + Duration::seconds(1));
        while tick <= until {
            ticks.push(tick);
            tick += Duration::days(1);
        }
        let mut done = Advanced {
            events: vec![],
            outbox: vec![],
            unpublished: 0,
            replies: counts,
            deliveries,
            confirmations: ConfirmationCounts::default(),
            cases: CaseCounts::default(),
        };
        self.settle((&reports, &todo), &ticks, until, clock, &mut done)?;
        let mut answers: Vec<&Confirmation> = inbox.confirmations.iter().collect();
        // At one instant a re-issue comes before a refusal, whatever the files' order.
        answers.sort_by_key(|c| (c.answered_at, &c.request_id, c.result.is_err()));
        for c in answers {
            done.confirmations.received += 1;
            if c.answered_at > now {
                done.confirmations.not_yet_received += 1;
            } else {
                self.confirm(c, &mut done)?;
            }
        }
        // An SMS whose window closed before this run is not sent now; the ledger says so.
        let over: HashSet<String> =
            done.outbox.iter().filter(|s| s.due_by <= now).map(|s| s.message_id.clone()).collect();
        if !over.is_empty() {
            let unsent = |e: &CaseEvent| {
                e.kind == Kind::SmsSent && e.message_id.as_ref().is_some_and(|m| over.contains(m))
            };
            for e in done.events.iter_mut().filter(|e| unsent(e)) {
                e.reason = Some(closed::WINDOW_OVER.into());
            }
            for case in self.cases.values_mut() {
                for e in case.history.iter_mut().filter(|e| unsent(e)) {
                    e.reason = Some(closed::WINDOW_OVER.into());
                }
            }
            done.outbox.retain(|s| !over.contains(&s.message_id));
            done.unpublished = over.len() as u64;
        }
        Ok(done)
    }

    /// What a send time (or the run) decides with the candidates of its day: the re-check
    /// first (a newer case that fails it takes nothing over), then newer cases supersede
    /// older ones not yet requested, then the requests of accepted cases.
    fn tick(&mut self, at: NaiveDateTime, checks: &Checks, done: &mut Advanced) -> Result<(), CampaignError> {
        let (voided, still) = self.recheck(checks, at)?;
        done.cases.voided += voided.len() as u64;
        done.events.extend(voided);
        let superseded = self.supersede(at, false)?;
        done.cases.superseded += superseded.len() as u64;
        done.events.extend(superseded);
        for row in self.request(&still, at)? {
            match row.kind {
                Kind::ReissueRequested => done.cases.requested += 1,
                _ => done.cases.voided += 1,
            }
            done.events.push(row);
        }
        Ok(())
    }

    /// Delivery reports, replies, send times, window deadlines, failed SMS sent again and
    /// queued first SMS up to `until`, in time order (at one instant: the delivery report,
    /// the reply, the send time, the deadline, the SMS again, then the queue: a reply exactly
    /// at the deadline still counts).
    fn settle(
        &mut self,
        (reports, replies): (&[&Delivery], &[&Reply]),
        ticks: &[NaiveDateTime],
        until: NaiveDateTime,
        clock: &Clock,
        done: &mut Advanced,
    ) -> Result<(), CampaignError> {
        let (mut next, mut next_tick, mut next_report) = (0, 0, 0);
        // Queued cases that could not be texted at their turn (never, as `next_queued` and
        // `first_sms` ask the same question; kept so that the loop ends whatever happens).
        let mut stuck: HashSet<String> = HashSet::new();
        loop {
            let report = reports.get(next_report).map(|d| (d.reported_at, 0u8));
            let reply = replies.get(next).map(|r| (r.received_at, 1u8));
            let tick = ticks.get(next_tick).map(|t| (*t, 2u8));
            let deadline = self.next_deadline(until).map(|(t, _)| (t, 3u8));
            let retry = self.next_retry(until, clock.since, &stuck).map(|(t, _)| (t, 4u8));
            let queued = self.next_queued(until, &stuck).map(|(t, _)| (t, 5u8));
            let Some(first) = [report, reply, tick, deadline, retry, queued].into_iter().flatten().min()
            else {
                break;
            };
            match first.1 {
                0 => {
                    self.deliver(reports[next_report], done)?;
                    next_report += 1;
                }
                1 => {
                    let row = self.reply(replies[next], &mut done.replies)?;
                    done.events.push(row);
                    next += 1;
                }
                2 => {
                    self.tick(first.0, clock.on(first.0.date()), done)?;
                    next_tick += 1;
                }
                3 => {
                    let (at, case_id) = self.next_deadline(until).expect("chosen");
                    self.close_window(&case_id, at, done)?;
                }
                4 => {
                    let (at, case_id) = self.next_retry(until, clock.since, &stuck).expect("chosen");
                    if !self.retry(&case_id, at, done)? {
                        stuck.insert(case_id);
                    }
                }
                _ => {
                    let (at, case_id) = self.next_queued(until, &stuck).expect("chosen");
                    let case = &self.cases[&case_id];
                    match clock.on(at.date()).verdict(&case.offer) {
                        // The new first head's case is there: it takes this one over.
                        Some(Err(reason))
                            if reason == closed::HEAD_REPLACED && self.newer(case, at).is_some() =>
                        {
                            let other = self.newer(case, at).map(|c| c.offer.case_id.clone());
                            done.cases.superseded += 1;
                            done.events.push(self.close(&case_id, Event::Supersede, &reason, other, at)?);
                            continue;
                        }
                        // Re-checked before its SMS: the day's candidates no longer offer it.
                        Some(Err(reason)) => {
                            done.cases.voided += 1;
                            done.events.push(self.close(&case_id, Event::Void, &reason, None, at)?);
                            continue;
                        }
                        _ => {}
                    }
                    let case = &self.cases[&case_id];
                    let numbers: Vec<String> =
                        case.queued_phone.iter().chain(case.fallback.iter()).cloned().collect();
                    if numbers.is_empty() {
                        stuck.insert(case_id);
                        continue;
                    }
                    match self.first_sms(&case_id, &numbers, at, &mut done.cases)? {
                        Some((row, sms)) => {
                            done.events.push(row);
                            done.outbox.extend(sms);
                        }
                        None => {
                            stuck.insert(case_id);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A delivery report at its time: recorded on its SMS (once: the first report of an SMS
    /// counts). A failed or expired SMS that still asks its case's question closes the case
    /// `undeliverable` at once when МАБ gave no other number and no SMS of the case was
    /// delivered; with another number it goes again at the next send time
    /// ([`Campaign::retry`]); a recipient reached before keeps the window to its deadline.
    fn deliver(&mut self, d: &Delivery, done: &mut Advanced) -> Result<(), CampaignError> {
        if self.reported.contains(&d.message_id) {
            done.deliveries.already_recorded += 1;
            return Ok(());
        }
        let found = self.cases.values().find_map(|c| {
            c.sms.iter().find(|s| s.message_id == d.message_id).map(|s| (c.offer.case_id.clone(), s.clone()))
        });
        let why = match &found {
            None => Some(unknown::MESSAGE),
            Some((_, sms)) if d.reported_at < sms.sent_at => Some(unknown::BEFORE_THE_SMS),
            Some(_) => None,
        };
        let (Some((case_id, sms)), None) = (found, why) else {
            done.deliveries.unknown += 1;
            self.unknown_now.push((d.message_id.clone(), d.reported_at, why.expect("set above")));
            return Ok(());
        };
        let at = d.reported_at;
        let delivered = d.status == DeliveryStatus::Delivered;
        let mut row = self.row(&case_id, if delivered { Kind::SmsDelivered } else { Kind::SmsFailed }, at);
        row.message_id = Some(sms.message_id.clone());
        row.send_no = Some(sms.send_no);
        row.phone = Some(sms.phone.clone());
        row.reason = (!delivered).then(|| d.status.code().to_string());
        row.source = d.source.clone();
        self.apply(row.clone())?;
        done.events.push(row);
        match d.status {
            DeliveryStatus::Delivered => done.deliveries.delivered += 1,
            DeliveryStatus::Failed => done.deliveries.failed += 1,
            DeliveryStatus::Expired => done.deliveries.expired += 1,
        }
        let case = &self.cases[&case_id];
        let asking =
            case.state.is_asking() && case.last_sms().is_some_and(|s| s.message_id == sms.message_id);
        if !delivered && asking && case.fallback.is_empty() && !case.reached {
            self.undeliverable(&case_id, &sms.message_id, d.status, at, done)?;
        }
        Ok(())
    }

    fn undeliverable(
        &mut self,
        case_id: &str,
        message_id: &str,
        status: DeliveryStatus,
        at: NaiveDateTime,
        done: &mut Advanced,
    ) -> Result<(), CampaignError> {
        let mut row = self.row(case_id, Kind::Undeliverable, at);
        row.message_id = Some(message_id.to_string());
        row.reason = Some(status.code().to_string());
        done.events.push(self.step(case_id, Event::Undelivered, row)?);
        done.deliveries.undeliverable += 1;
        Ok(())
    }

    /// The failure of a case's asking SMS, if its last SMS was reported not delivered: when,
    /// and how.
    fn failed_last(case: &Case) -> Option<(NaiveDateTime, DeliveryStatus)> {
        let last = case.last_sms()?;
        case.history
            .iter()
            .find(|e| e.kind == Kind::SmsFailed && e.message_id.as_deref() == Some(last.message_id.as_str()))
            .map(|e| {
                let status = e.reason.as_deref().and_then(DeliveryStatus::parse);
                (e.at, status.unwrap_or(DeliveryStatus::Failed))
            })
    }

    /// The case whose failed SMS goes again first up to `until`, and when: the first send
    /// time after the failure was reported, for a case still asking with a number left. A
    /// send time the previous advance decided (`since`) is not tried again: the SMS goes
    /// again once, or the case waits for its deadline.
    fn next_retry(
        &self,
        until: NaiveDateTime,
        since: Option<NaiveDateTime>,
        skip: &HashSet<String>,
    ) -> Option<(NaiveDateTime, String)> {
        self.cases
            .values()
            .filter(|c| c.state.is_asking() && !c.fallback.is_empty() && !skip.contains(&c.offer.case_id))
            .filter_map(|c| Self::failed_last(c).map(|(at, _)| (next_send_slot(at), c)))
            .filter(|(slot, _)| *slot <= until && since.is_none_or(|s| *slot > s))
            .min_by(|a, b| (a.0, a.1.offer.order()).cmp(&(b.0, b.1.offer.order())))
            .map(|(slot, c)| (slot, c.offer.case_id.clone()))
    }

    /// The first of a case's other numbers not asking another case's question at `at`.
    fn free_number(&self, case_id: &str, at: NaiveDateTime) -> Option<usize> {
        let busy =
            |phone: &String| self.cases.values().any(|c| c.offer.case_id != case_id && c.asks_on(phone, at));
        self.cases[case_id].fallback.iter().position(|p| !busy(p))
    }

    /// A failed SMS again at a send time, to the first of the recipient's other numbers that
    /// is not asking another case's question (the busy ones before it are passed over).
    /// Whether it went: with every other number busy, the case waits for its deadline (the
    /// second SMS then goes to a free number).
    fn retry(
        &mut self,
        case_id: &str,
        at: NaiveDateTime,
        done: &mut Advanced,
    ) -> Result<bool, CampaignError> {
        let Some(k) = self.free_number(case_id, at) else { return Ok(false) };
        let case = &self.cases[case_id];
        let send_no = case.last_sms().expect("a retried case has an SMS").send_no;
        let (phone, next) = (case.fallback[k].clone(), case.fallback[k + 1..].to_vec());
        let (row, sms) = self.send(case_id, Event::Retry, (&phone, &next), send_no, at)?;
        done.deliveries.retried += 1;
        done.events.push(row);
        done.outbox.push(sms);
        Ok(true)
    }

    /// e-license's answer to a request: recorded once on the request's case, with the new
    /// permit's number or the reason of the refusal. A re-issue after a refusal is recorded
    /// too (e-license changed its answer; the permit is written back); anything after a
    /// re-issue, or a second refusal, is already recorded.
    fn confirm(&mut self, c: &Confirmation, done: &mut Advanced) -> Result<(), CampaignError> {
        match self.answered.get(&c.request_id) {
            Some(true) => {
                done.confirmations.already_recorded += 1;
                return Ok(());
            }
            Some(false) if c.result.is_err() => {
                done.confirmations.already_recorded += 1;
                return Ok(());
            }
            _ => {}
        }
        let found = self.cases.values().find_map(|case| {
            let permits = case.requested.as_ref()?;
            let permit = permits.iter().find(|p| request_id(&case.offer.case_id, p) == c.request_id)?;
            let made = case.history.iter().find(|e| e.kind == Kind::ReissueRequested);
            let made = made.or_else(|| case.history.iter().find(|e| e.kind == Kind::ReplyAccept));
            Some((case.offer.case_id.clone(), permit.clone(), made.map(|e| e.at)))
        });
        let why = match &found {
            None => Some(unknown::REQUEST),
            Some((_, _, made)) if made.is_some_and(|m| c.answered_at < m) => {
                Some(unknown::BEFORE_THE_REQUEST)
            }
            Some(_) => None,
        };
        let (Some((case_id, permit, _)), None) = (found, why) else {
            done.confirmations.unknown += 1;
            self.unknown_now.push((c.request_id.clone(), c.answered_at, why.expect("set above")));
            return Ok(());
        };
        let kind = if c.result.is_ok() { Kind::PermitReissued } else { Kind::ReissueRefused };
        let mut row = self.row(&case_id, kind, c.answered_at);
        row.permit_ids = vec![permit];
        row.source = c.source.clone();
        match &c.result {
            Ok(new) => {
                row.new_permit_id = Some(new.clone());
                done.confirmations.reissued += 1;
            }
            Err(reason) => {
                row.reason = Some(reason.clone());
                done.confirmations.refused += 1;
            }
        }
        self.apply(row.clone())?;
        done.events.push(row);
        Ok(())
    }

    /// The earliest deadline up to `until` of a case waiting for a reply.
    fn next_deadline(&self, until: NaiveDateTime) -> Option<(NaiveDateTime, String)> {
        self.cases
            .values()
            .filter(|c| c.state.is_asking())
            .filter_map(|c| c.last_sms().map(|s| (s.due_by, c.offer.case_id.clone())))
            .filter(|(due, _)| *due <= until)
            .min()
    }

    /// seed 000 §13–§14: a window closed without a decision at its deadline `at`: the second
    /// SMS (stamped at the deadline), or the time-out.
    fn close_window(
        &mut self,
        case_id: &str,
        at: NaiveDateTime,
        done: &mut Advanced,
    ) -> Result<(), CampaignError> {
        let (rules, _) = self.rules(&self.cases[case_id].offer.pilot);
        match on_window_closed(self.cases[case_id].state, &rules) {
            Some(Event::SmsSent) => {
                let case = &self.cases[case_id];
                let last = case.last_sms().expect("waiting cases have an SMS");
                // Not to a number the portal reported failed: the next free one, if any.
                let (phone, next) = match (Self::failed_last(case), self.free_number(case_id, at)) {
                    (Some(_), Some(k)) => (case.fallback[k].clone(), case.fallback[k + 1..].to_vec()),
                    (Some((_, status)), None) if !case.reached => {
                        let id = last.message_id.clone();
                        return self.undeliverable(case_id, &id, status, at, done);
                    }
                    _ => (last.phone.clone(), case.fallback.clone()),
                };
                let (row, sms) = self.send(case_id, Event::SmsSent, (&phone, &next), 2, at)?;
                done.events.push(row);
                done.outbox.push(sms);
            }
            Some(Event::Deadline) => {
                let row = self.row(case_id, Kind::TimedOut, at);
                done.events.push(self.step(case_id, Event::Deadline, row)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// The queued case whose turn comes first up to `until`, and when: nothing blocks it any
    /// more, and its turn is the first send time after it was queued and after the last case
    /// it waited for (same phone or permits) was decided; the oldest change first.
    fn next_queued(&self, until: NaiveDateTime, skip: &HashSet<String>) -> Option<(NaiveDateTime, String)> {
        self.cases
            .values()
            .filter(|c| c.state == State::Queued && !skip.contains(&c.offer.case_id))
            .filter_map(|q| {
                let phone = q.queued_phone.as_deref().unwrap_or_default();
                let queued_at = q.history.iter().rev().find(|e| e.kind == Kind::Queued).map(|e| e.at)?;
                let freed = self
                    .cases
                    .values()
                    .filter(|c| c.offer.case_id != q.offer.case_id && !c.sms.is_empty())
                    .filter(|c| c.sms.iter().any(|s| s.phone == phone) || c.offer.shares_permits(&q.offer))
                    .filter_map(|c| {
                        let decided =
                            c.history.iter().find(|e| e.state_after.is_some_and(|s| s.is_terminal()));
                        // A question sent again to another number after a failed delivery
                        // frees this phone then.
                        let moved = c
                            .last_sms()
                            .filter(|s| s.phone != phone && !c.offer.shares_permits(&q.offer))
                            .map(|s| s.sent_at);
                        decided.map(|e| e.at).or(moved)
                    })
                    .max();
                let slot = next_send_slot(freed.unwrap_or(queued_at).max(queued_at));
                (slot <= until && self.blocker(q, phone, slot).is_none()).then_some((slot, q))
            })
            .min_by(|a, b| (a.0, a.1.offer.order()).cmp(&(b.0, b.1.offer.order())))
            .map(|(slot, q)| (slot, q.offer.case_id.clone()))
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
            reply_id: Some(r.id()),
            source: r.source.clone(),
            ..CaseEvent::new(Kind::ReplyUnmatched, r.received_at)
        };
        self.apply(row.clone())?;
        self.unmatched_now.push((r.clone(), why));
        Ok(row)
    }

    fn reply(&mut self, r: &Reply, counts: &mut ReplyCounts) -> Result<CaseEvent, CampaignError> {
        let fill = |mut row: CaseEvent| {
            row.reply_id = Some(r.id());
            row.source = r.source.clone();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::outcome as o;

    fn offer() -> Offer {
        Offer {
            case_id: "c".into(),
            pilot: "sanitary".into(),
            event_id: "E".into(),
            bin: Some("b".into()),
            iin: "head".into(),
            offered_on: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            changed_on: None,
            old_name_kk: None,
            old_name_ru: None,
            new_name_kk: None,
            new_name_ru: None,
            permit_ids: vec!["P1".into(), "P2".into()],
            permit_services: vec!["s".into(), "s".into()],
        }
    }

    fn checks(outcome: &str, case: Option<&str>, iin: Option<&str>, permits: &[&str]) -> Checks {
        let e = EventCheck {
            outcome: outcome.into(),
            case_id: case.map(String::from),
            iin: iin.map(String::from),
            permit_ids: permits.iter().map(|p| p.to_string()).collect(),
        };
        let day = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        Checks { pilots: HashMap::from([("sanitary".into(), (day, HashMap::from([("E".into(), e)])))]) }
    }

    /// Every verdict of the re-check: what the day's candidates say → what happens to the case.
    #[test]
    fn the_recheck_reads_the_days_outcome() {
        let ok = |v: &[&str]| Some(Ok(v.iter().map(|p| p.to_string()).collect::<Vec<_>>()));
        let err = |r: &str| Some(Err(r.to_string()));
        let table: Vec<(Checks, Option<Verdict>)> = vec![
            (Checks::default(), None),
            (checks(o::OFFERED, Some("c"), Some("head"), &["P1", "P2"]), ok(&["P1", "P2"])),
            // A permit that no longer counts drops out; none left: no permit.
            (checks(o::OFFERED, Some("c"), Some("head"), &["P2", "P9"]), ok(&["P2"])),
            (checks(o::OFFERED, Some("c"), Some("head"), &["P9"]), err(o::NO_PILOT_PERMIT)),
            // Offered to someone else: a new first head.
            (checks(o::OFFERED, Some("other"), Some("new-head"), &["P1"]), err(closed::HEAD_REPLACED)),
            // The recipient now meets a criterion; a new head who does is still a new head.
            (checks(o::DEAD_OR_MISSING, Some("c"), Some("head"), &["P1"]), err(o::DEAD_OR_MISSING)),
            (checks(o::IMPRISONED, Some("x"), Some("new-head"), &["P1"]), err(closed::HEAD_REPLACED)),
            // About the organization, whoever the head.
            (checks(o::ORG_LIQUIDATED, None, Some("new-head"), &["P1"]), err(o::ORG_LIQUIDATED)),
            (checks(o::NO_PILOT_PERMIT, None, Some("head"), &[]), err(o::NO_PILOT_PERMIT)),
            (checks(o::NO_HEAD, None, None, &["P1"]), err(o::NO_HEAD)),
            (checks(o::RECIPIENT_NOT_FOUND, None, None, &["P1"]), err(o::RECIPIENT_NOT_FOUND)),
        ];
        for (k, (c, expected)) in table.into_iter().enumerate() {
            assert_eq!(c.verdict(&offer()), expected, "row {k}");
        }
        // Candidates older than the offer say nothing about it.
        let mut stale = checks(o::NO_PILOT_PERMIT, None, Some("head"), &[]);
        stale.pilots.get_mut("sanitary").unwrap().0 = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(stale.verdict(&offer()), None);
        let mut gone = checks(o::OFFERED, Some("c"), Some("head"), &["P1"]);
        gone.pilots.get_mut("sanitary").unwrap().1.clear();
        assert_eq!(gone.verdict(&offer()), err(closed::EVENT_NOT_IN_SCOPE));
    }

    #[test]
    fn cases_order_by_change_then_offer() {
        let a = offer();
        let mut b = offer();
        b.case_id = "b".into();
        b.changed_on = Some(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        // Without a recorded change the offer date stands in: b changed earlier.
        assert!(b.order() < a.order());
        b.changed_on = Some(a.offered_on);
        b.offered_on = a.offered_on + Duration::days(1);
        assert!(a.order() < b.order(), "same change day: the later offer is newer");
        assert!(a.shares_permits(&b));
    }
}
