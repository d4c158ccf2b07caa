//! The SMS case state machine (seed 000, algorithm §9–§15): a pure function from a state and
//! an event to the next state, tested as a table and by properties over random sequences.
//!
//! ```text
//! offered ──no number──▶ no_mobile | standard_procedure (pilot's routing, seed 003 §12)
//!    │
//!    └─SMS 1─▶ awaiting_reply ──1──▶ accepted
//!                  │  └──────2──▶ declined | standard_procedure (seed 003 §17)
//!                  └─3 days─▶ SMS 2 ─▶ awaiting_second_reply ──1/2──▶ accepted | declined
//!                                          └─3 more days─▶ timed_out (§14)
//! ```

use crate::config::Routing;
use serde::Serialize;

/// Where a case stands. Terminal states never change again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Offered,
    AwaitingReply,
    AwaitingSecondReply,
    NoMobile,
    StandardProcedure,
    Accepted,
    Declined,
    TimedOut,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Offered,
        State::AwaitingReply,
        State::AwaitingSecondReply,
        State::NoMobile,
        State::StandardProcedure,
        State::Accepted,
        State::Declined,
        State::TimedOut,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Offered => "offered",
            State::AwaitingReply => "awaiting_reply",
            State::AwaitingSecondReply => "awaiting_second_reply",
            State::NoMobile => "no_mobile",
            State::StandardProcedure => "standard_procedure",
            State::Accepted => "accepted",
            State::Declined => "declined",
            State::TimedOut => "timed_out",
        }
    }

    pub fn parse(code: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, State::Offered | State::AwaitingReply | State::AwaitingSecondReply)
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
}

impl Event {
    pub const ALL: [Event; 5] =
        [Event::NoNumber, Event::SmsSent, Event::Accept, Event::Decline, Event::Deadline];

    pub fn code(self) -> &'static str {
        match self {
            Event::NoNumber => "no_number",
            Event::SmsSent => "sms_sent",
            Event::Accept => "accept",
            Event::Decline => "decline",
            Event::Deadline => "deadline",
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
        (S::Offered, E::SmsSent) => S::AwaitingReply,
        (S::AwaitingReply | S::AwaitingSecondReply, E::Accept) => S::Accepted,
        (S::AwaitingReply | S::AwaitingSecondReply, E::Decline) => routed(rules.on_decline, S::Declined),
        (S::AwaitingReply, E::SmsSent) if rules.sends >= 2 => S::AwaitingSecondReply,
        (S::AwaitingReply, E::Deadline) if rules.sends < 2 => S::TimedOut,
        (S::AwaitingSecondReply, E::Deadline) => S::TimedOut,
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
            (S::AwaitingReply, E::NoNumber, None, None),
            (S::AwaitingReply, E::SmsSent, Some(S::AwaitingSecondReply), Some(S::AwaitingSecondReply)),
            (S::AwaitingReply, E::Accept, Some(S::Accepted), Some(S::Accepted)),
            (S::AwaitingReply, E::Decline, Some(S::Declined), Some(S::StandardProcedure)),
            (S::AwaitingReply, E::Deadline, None, None),
            (S::AwaitingSecondReply, E::NoNumber, None, None),
            (S::AwaitingSecondReply, E::SmsSent, None, None),
            (S::AwaitingSecondReply, E::Accept, Some(S::Accepted), Some(S::Accepted)),
            (S::AwaitingSecondReply, E::Decline, Some(S::Declined), Some(S::StandardProcedure)),
            (S::AwaitingSecondReply, E::Deadline, Some(S::TimedOut), Some(S::TimedOut)),
        ];
        for (state, event, ended, routed) in table {
            assert_eq!(transition(*state, *event, &ENDED).ok(), *ended, "{state:?} + {event:?} (ended)");
            assert_eq!(transition(*state, *event, &ROUTED).ok(), *routed, "{state:?} + {event:?} (routed)");
        }
        for state in State::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in Event::ALL {
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
        /// never change, no case gets more than two SMS, and a decision needs an SMS first.
        #[test]
        fn random_sequences_keep_the_invariants(events in prop::collection::vec(any_event(), 0..40), routed in any::<bool>()) {
            let rules = if routed { ROUTED } else { ENDED };
            let mut state = S::Offered;
            let mut sms = 0;
            let mut terminal_at: Option<State> = None;
            for e in events {
                match transition(state, e, &rules) {
                    Ok(next) => {
                        prop_assert!(terminal_at.is_none(), "left terminal {:?}", terminal_at);
                        if e == E::SmsSent { sms += 1; }
                        if matches!(next, S::Accepted | S::Declined | S::TimedOut) { prop_assert!(sms >= 1); }
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
