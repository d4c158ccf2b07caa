//! The SMS case state machine (seed 000, algorithm §9–§15): a pure function from a state and
//! an event to the next state, tested as a table and by properties over random sequences.
//!
//! ```text
//! offered ──no number──▶ no_mobile | standard_procedure (pilot's routing, seed 003 §12)
//!    │  └──phone busy with another case's question──▶ queued ──its turn: SMS 1──┐
//!    └─SMS 1─▶ awaiting_reply ◀──────────────────────────────────────────────────┘
//!                  │  ├──1──▶ accepted ──before its request: re-check fails / newer case──▶ voided / superseded
//!                  │  └──2──▶ declined | standard_procedure (seed 003 §17)
//!                  └─3 days─▶ SMS 2 ─▶ awaiting_second_reply ──1/2──▶ accepted | declined
//!                                          └─3 more days─▶ timed_out (§14)
//! awaiting_(second_)reply ──its SMS not delivered──▶ SMS again to the next МАБ number (same
//!                           window step, a fresh 72 hours) | undeliverable (no other number)
//! any open state ──a newer case of the same permits──▶ superseded
//! any open state ──the re-check against the run date's registries fails──▶ voided
//! ```

use crate::config::Routing;
use serde::Serialize;

/// Where a case stands. Terminal states never change again, but for an accepted case whose
/// request has not gone out yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Offered,
    /// Waiting for its first SMS: the same phone has another case's question open.
    Queued,
    AwaitingReply,
    AwaitingSecondReply,
    NoMobile,
    StandardProcedure,
    Accepted,
    Declined,
    TimedOut,
    /// The portal reported its SMS not delivered (failed or expired) and МАБ holds no other
    /// active number to try: nobody was asked (seed 000 §10 by analogy: the process ends).
    Undeliverable,
    /// A newer case of the same permits (the organization renamed again, or a new first
    /// head) took over before this one was decided.
    Superseded,
    /// The re-check against the run date's registries failed (the recipient is no longer the
    /// first head or meets a criterion; no permit still counts; every permit is already
    /// requested): no re-issue request.
    Voided,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Offered,
        State::Queued,
        State::AwaitingReply,
        State::AwaitingSecondReply,
        State::NoMobile,
        State::StandardProcedure,
        State::Accepted,
        State::Declined,
        State::TimedOut,
        State::Undeliverable,
        State::Superseded,
        State::Voided,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Offered => "offered",
            State::Queued => "queued",
            State::AwaitingReply => "awaiting_reply",
            State::AwaitingSecondReply => "awaiting_second_reply",
            State::NoMobile => "no_mobile",
            State::StandardProcedure => "standard_procedure",
            State::Accepted => "accepted",
            State::Declined => "declined",
            State::TimedOut => "timed_out",
            State::Undeliverable => "undeliverable",
            State::Superseded => "superseded",
            State::Voided => "voided",
        }
    }

    pub fn parse(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Decided: no reply or clock changes it. Only an accepted case whose request has not
    /// gone out yet can still be voided by its re-check or superseded by a newer case.
    pub fn is_terminal(self) -> bool {
        !self.is_open()
    }

    /// Not decided yet: offered, queued or waiting for a reply.
    pub fn is_open(self) -> bool {
        matches!(self, State::Offered | State::Queued | State::AwaitingReply | State::AwaitingSecondReply)
    }

    /// Waiting for a reply to an SMS: the phone's open question.
    pub fn is_asking(self) -> bool {
        matches!(self, State::AwaitingReply | State::AwaitingSecondReply)
    }
}

/// What happens to a case. `Reply` carries an understood answer; invalid and late replies
/// are recorded in the ledger but are not transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// МАБ has no active number for the recipient (§10).
    NoNumber,
    /// An SMS was put in the portal's outbox (§11, §13).
    SmsSent,
    /// The recipient agreed (reply 1, §12).
    Accept,
    /// The recipient declined (reply 2, §15).
    Decline,
    /// The reply window closed without a decision (§13, §14).
    Deadline,
    /// The recipient's phone has another case's question open: wait for it.
    Queue,
    /// A newer case of the same permits took over.
    Supersede,
    /// The re-check failed.
    Void,
    /// The SMS asking the question was not delivered: it goes again, to the recipient's
    /// next active number, in the same window step.
    Retry,
    /// The SMS was not delivered and no other number is left.
    Undelivered,
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::NoNumber,
        Event::SmsSent,
        Event::Accept,
        Event::Decline,
        Event::Deadline,
        Event::Queue,
        Event::Supersede,
        Event::Void,
        Event::Retry,
        Event::Undelivered,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Event::NoNumber => "no_number",
            Event::SmsSent => "sms_sent",
            Event::Accept => "accept",
            Event::Decline => "decline",
            Event::Deadline => "deadline",
            Event::Queue => "queue",
            Event::Supersede => "supersede",
            Event::Void => "void",
            Event::Retry => "retry",
            Event::Undelivered => "undelivered",
        }
    }
}

/// The routing of a pilot's dead ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub on_no_mobile: Routing,
    pub on_decline: Routing,
    /// SMS per case (2 in every seed).
    pub sends: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event `{}` is not allowed in state `{}`", event.code(), state.code())]
pub struct TransitionError {
    pub state: State,
    pub event: Event,
}

fn routed(r: Routing, ended: State) -> State {
    match r {
        Routing::Ended => ended,
        Routing::StandardProcedure => State::StandardProcedure,
    }
}

/// The next state. A deadline in the first window resends (when the pilot sends twice),
/// in the second it times out; a second `SmsSent` is only the resend.
pub fn transition(state: State, event: Event, rules: &Rules) -> Result<State, TransitionError> {
    use Event as E;
    use State as S;
    let next = match (state, event) {
        (S::Offered, E::NoNumber) => routed(rules.on_no_mobile, S::NoMobile),
        (S::Offered | S::Queued, E::SmsSent) => S::AwaitingReply,
        (S::Offered, E::Queue) => S::Queued,
        (s, E::Supersede) if s.is_open() || s == S::Accepted => S::Superseded,
        (s, E::Void) if s.is_open() || s == S::Accepted => S::Voided,
        (S::AwaitingReply | S::AwaitingSecondReply, E::Accept) => S::Accepted,
        (S::AwaitingReply | S::AwaitingSecondReply, E::Decline) => routed(rules.on_decline, S::Declined),
        (S::AwaitingReply, E::SmsSent) if rules.sends >= 2 => S::AwaitingSecondReply,
        (S::AwaitingReply, E::Deadline) if rules.sends < 2 => S::TimedOut,
        (S::AwaitingSecondReply, E::Deadline) => S::TimedOut,
        (s, E::Retry) if s.is_asking() => s,
        (s, E::Undelivered) if s.is_asking() => S::Undeliverable,
        _ => return Err(TransitionError { state, event }),
    };
    Ok(next)
}

/// What the clock asks of a waiting case once its window has closed: resend, or time out.
pub fn on_window_closed(state: State, rules: &Rules) -> Option<Event> {
    match state {
        State::AwaitingReply if rules.sends >= 2 => Some(Event::SmsSent),
        State::AwaitingReply | State::AwaitingSecondReply => Some(Event::Deadline),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Event as E;
    use State as S;

    const ENDED: Rules = Rules { on_no_mobile: Routing::Ended, on_decline: Routing::Ended, sends: 2 };
    const ROUTED: Rules =
        Rules { on_no_mobile: Routing::StandardProcedure, on_decline: Routing::StandardProcedure, sends: 2 };

    /// Every (state, event) pair and its result, for a pilot that ends and one that routes.
    #[test]
    fn transition_table() {
        let table: &[(State, Event, Option<State>, Option<State>)] = &[
            (S::Offered, E::NoNumber, Some(S::NoMobile), Some(S::StandardProcedure)),
            (S::Offered, E::SmsSent, Some(S::AwaitingReply), Some(S::AwaitingReply)),
            (S::Offered, E::Accept, None, None),
            (S::Offered, E::Decline, None, None),
            (S::Offered, E::Deadline, None, None),
            (S::Offered, E::Queue, Some(S::Queued), Some(S::Queued)),
            (S::Offered, E::Supersede, Some(S::Superseded), Some(S::Superseded)),
            (S::Offered, E::Void, Some(S::Voided), Some(S::Voided)),
            (S::Queued, E::NoNumber, None, None),
            (S::Queued, E::SmsSent, Some(S::AwaitingReply), Some(S::AwaitingReply)),
            (S::Queued, E::Accept, None, None),
            (S::Queued, E::Decline, None, None),
            (S::Queued, E::Deadline, None, None),
            (S::Queued, E::Queue, None, None),
            (S::Queued, E::Supersede, Some(S::Superseded), Some(S::Superseded)),
            (S::Queued, E::Void, Some(S::Voided), Some(S::Voided)),
            (S::AwaitingReply, E::NoNumber, None, None),
            (S::AwaitingReply, E::SmsSent, Some(S::AwaitingSecondReply), Some(S::AwaitingSecondReply)),
            (S::AwaitingReply, E::Accept, Some(S::Accepted), Some(S::Accepted)),
            (S::AwaitingReply, E::Decline, Some(S::Declined), Some(S::StandardProcedure)),
            (S::AwaitingReply, E::Deadline, None, None),
            (S::AwaitingReply, E::Queue, None, None),
            (S::AwaitingReply, E::Supersede, Some(S::Superseded), Some(S::Superseded)),
            (S::AwaitingReply, E::Void, Some(S::Voided), Some(S::Voided)),
            (S::AwaitingReply, E::Retry, Some(S::AwaitingReply), Some(S::AwaitingReply)),
            (S::AwaitingReply, E::Undelivered, Some(S::Undeliverable), Some(S::Undeliverable)),
            (S::AwaitingSecondReply, E::NoNumber, None, None),
            (S::AwaitingSecondReply, E::SmsSent, None, None),
            (S::AwaitingSecondReply, E::Accept, Some(S::Accepted), Some(S::Accepted)),
            (S::AwaitingSecondReply, E::Decline, Some(S::Declined), Some(S::StandardProcedure)),
            (S::AwaitingSecondReply, E::Deadline, Some(S::TimedOut), Some(S::TimedOut)),
            (S::AwaitingSecondReply, E::Queue, None, None),
            (S::AwaitingSecondReply, E::Supersede, Some(S::Superseded), Some(S::Superseded)),
            (S::AwaitingSecondReply, E::Void, Some(S::Voided), Some(S::Voided)),
            (S::AwaitingSecondReply, E::Retry, Some(S::AwaitingSecondReply), Some(S::AwaitingSecondReply)),
            (S::AwaitingSecondReply, E::Undelivered, Some(S::Undeliverable), Some(S::Undeliverable)),
            (S::Offered, E::Retry, None, None),
            (S::Offered, E::Undelivered, None, None),
            (S::Queued, E::Retry, None, None),
            (S::Queued, E::Undelivered, None, None),
            // An accepted case is re-checked, and can be taken over, before its request goes out.
            (S::Accepted, E::Void, Some(S::Voided), Some(S::Voided)),
            (S::Accepted, E::Supersede, Some(S::Superseded), Some(S::Superseded)),
        ];
        for (state, event, ended, routed) in table {
            assert_eq!(transition(*state, *event, &ENDED).ok(), *ended, "{state:?} + {event:?} (ended)");
            assert_eq!(transition(*state, *event, &ROUTED).ok(), *routed, "{state:?} + {event:?} (routed)");
        }
        for state in State::ALL.into_iter().filter(|s| s.is_terminal()) {
            let before_request = |e: Event| state == S::Accepted && matches!(e, E::Void | E::Supersede);
            for event in Event::ALL.into_iter().filter(|e| !before_request(*e)) {
                assert!(transition(state, event, &ENDED).is_err(), "terminal {state:?} accepted {event:?}");
            }
        }
    }

    #[test]
    fn one_send_pilots_time_out_after_the_first_window() {
        let once = Rules { sends: 1, ..ENDED };
        assert_eq!(on_window_closed(S::AwaitingReply, &once), Some(E::Deadline));
        assert_eq!(transition(S::AwaitingReply, E::Deadline, &once), Ok(S::TimedOut));
        assert!(transition(S::AwaitingReply, E::SmsSent, &once).is_err());
        assert_eq!(on_window_closed(S::AwaitingReply, &ENDED), Some(E::SmsSent));
        assert_eq!(on_window_closed(S::AwaitingSecondReply, &ENDED), Some(E::Deadline));
        assert_eq!(on_window_closed(S::Accepted, &ENDED), None);
    }

    #[test]
    fn codes_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.code()), Some(s));
        }
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop::sample::select(Event::ALL.to_vec())
    }

    proptest! {
        /// Over any sequence of events (invalid ones rejected and skipped): terminal states
        /// never change (but for an accepted case voided before its request), no case gets
        /// more than two SMS, and a decision by reply or clock needs an SMS first.
        #[test]
        fn random_sequences_keep_the_invariants(events in prop::collection::vec(any_event(), 0..40), routed in any::<bool>()) {
            let rules = if routed { ROUTED } else { ENDED };
            let mut state = S::Offered;
            let mut sms = 0;
            let mut terminal_at: Option<State> = None;
            for e in events {
                match transition(state, e, &rules) {
                    Ok(next) => {
                        let closed_before_request = terminal_at == Some(S::Accepted)
                            && matches!(next, S::Voided | S::Superseded);
                        prop_assert!(terminal_at.is_none() || closed_before_request, "left terminal {:?}", terminal_at);
                        if e == E::SmsSent { sms += 1; }
                        if matches!(next, S::Accepted | S::Declined | S::TimedOut | S::Undeliverable) { prop_assert!(sms >= 1); }
                        if next == S::TimedOut { prop_assert_eq!(sms, 2); }
                        state = next;
                        if state.is_terminal() { terminal_at = Some(state); }
                    }
                    Err(err) => prop_assert_eq!(err.state, state),
                }
                prop_assert!(sms <= 2);
            }
        }
    }
}
