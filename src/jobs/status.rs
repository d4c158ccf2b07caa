//! Where every case stands, derived from the ledger: cases per pilot and state, the replies
//! that matched no case, and one case's history with personal data masked.

use crate::campaign::state::State;
use crate::campaign::{Campaign, Case};
use crate::config::Pilot;
use crate::ids::mask;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Cases per pilot and state.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub cases: BTreeMap<String, BTreeMap<&'static str, u64>>,
    pub unmatched_replies: usize,
}

/// The status of every case in the output folder.
pub fn status(out: &Path, pilots: &[Pilot]) -> anyhow::Result<Status> {
    let campaign = super::load_all(out, pilots)?;
    let cases = campaign
        .tally()
        .into_iter()
        .map(|(pilot, per)| {
            (pilot, State::ALL.iter().map(|s| (s.code(), per.get(s).copied().unwrap_or(0))).collect())
        })
        .collect();
    Ok(Status { cases, unmatched_replies: campaign.unmatched.len() })
}

impl Status {
    /// Only one pilot's counts: its column, all zeros when it has no case yet.
    pub fn only(mut self, pilot: &str) -> Status {
        let per =
            self.cases.remove(pilot).unwrap_or_else(|| State::ALL.iter().map(|s| (s.code(), 0)).collect());
        self.cases = BTreeMap::from([(pilot.to_string(), per)]);
        self
    }

    /// The status table: a line per state and a column per pilot (only `pilot` when given),
    /// the total, and the unmatched replies.
    pub fn lines(&self, pilot: Option<&str>) -> Vec<String> {
        let shown: Vec<(&String, &BTreeMap<&str, u64>)> =
            self.cases.iter().filter(|(id, _)| pilot.is_none_or(|p| id.as_str() == p)).collect();
        let width = State::ALL.iter().map(|s| s.code().len()).max().unwrap_or(5);
        let columns: Vec<usize> = shown.iter().map(|(id, _)| id.len().max(6)).collect();
        let mut head = format!("{:<width$}", "state");
        for ((id, _), w) in shown.iter().zip(&columns) {
            head.push_str(&format!("  {id:>w$}"));
        }
        let mut lines = vec![head];
        let row = |label: &str, count: &dyn Fn(&BTreeMap<&str, u64>) -> u64| {
            let mut line = format!("{label:<width$}");
            for ((_, per), w) in shown.iter().zip(&columns) {
                line.push_str(&format!("  {:>w$}", count(per)));
            }
            line
        };
        for s in State::ALL {
            lines.push(row(s.code(), &|per| per.get(s.code()).copied().unwrap_or(0)));
        }
        lines.push(row("cases", &|per| per.values().sum::<u64>()));
        if self.unmatched_replies > 0 {
            lines.push(format!("{} replies matched no case", self.unmatched_replies));
        }
        lines
    }
}

/// One case of the output folder.
pub fn case(out: &Path, pilots: &[Pilot], id: &str) -> anyhow::Result<Case> {
    let campaign: Campaign = super::load_all(out, pilots)?;
    let case = campaign.cases.get(id).cloned();
    case.ok_or_else(|| super::UsageError::NoCase { case: id.to_string(), out: out.to_path_buf() }.into())
}

/// One case's history for a script (`campaign status --case --json`): the typed fields the
/// lines show, times with their offset, the IIN and phones masked.
#[derive(Debug, Clone, Serialize)]
pub struct CaseHistory {
    pub case_id: String,
    pub pilot: String,
    pub event_id: String,
    pub offered_on: chrono::NaiveDate,
    pub state: &'static str,
    pub recipient: String,
    pub bin: Option<String>,
    pub permit_ids: Vec<String>,
    pub events: Vec<HistoryEvent>,
}

/// One event of a case's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEvent {
    pub at: String,
    pub kind: &'static str,
    pub state_after: Option<&'static str>,
    pub send_no: Option<u8>,
    pub phone: Option<String>,
    pub due_by: Option<String>,
    pub reply_text: Option<String>,
    pub permit_ids: Vec<String>,
    pub reason: Option<String>,
    pub other_case_id: Option<String>,
    pub new_permit_id: Option<String>,
    pub source: Option<String>,
}

/// The history of a case as [`CaseHistory`].
pub fn history(id: &str, case: &Case) -> CaseHistory {
    let o = &case.offer;
    CaseHistory {
        case_id: id.to_string(),
        pilot: o.pilot.clone(),
        event_id: o.event_id.clone(),
        offered_on: o.offered_on,
        state: case.state.code(),
        recipient: mask(&o.iin),
        bin: o.bin.clone(),
        permit_ids: o.permit_ids.clone(),
        events: case
            .history
            .iter()
            .map(|e| HistoryEvent {
                at: crate::time::zoned(e.at),
                kind: e.kind.code(),
                state_after: e.state_after.map(|s| s.code()),
                send_no: e.send_no,
                phone: e.phone.as_deref().map(mask),
                due_by: e.due_by.map(crate::time::zoned),
                reply_text: e.reply_text.clone(),
                permit_ids: e.permit_ids.clone(),
                reason: e.reason.clone(),
                other_case_id: e.other_case_id.clone(),
                new_permit_id: e.new_permit_id.clone(),
                source: e.source.clone(),
            })
            .collect(),
    }
}

/// A case's history as people read it, IINs and phones masked.
pub fn history_lines(id: &str, case: &Case) -> Vec<String> {
    let o = &case.offer;
    let mut lines = vec![
        format!(
            "case {id}: pilot {}, event {}, offered on {}, now {}",
            o.pilot,
            o.event_id,
            o.offered_on,
            case.state.code()
        ),
        format!(
            "  recipient {}{}",
            mask(&o.iin),
            o.bin.as_ref().map(|b| format!(", organization {b}")).unwrap_or_default()
        ),
    ];
    for e in &case.history {
        let mut line = format!("  {}  {:<17}", e.at, e.kind.code());
        if let Some(n) = e.send_no {
            line.push_str(&format!(" SMS {n} to {}", mask(e.phone.as_deref().unwrap_or(""))));
        }
        if let Some(d) = e.due_by {
            line.push_str(&format!(", reply due by {d}"));
        }
        if let Some(t) = &e.reply_text {
            line.push_str(&format!(" reply {:?}", t.chars().take(40).collect::<String>()));
        }
        if !e.permit_ids.is_empty() {
            line.push_str(&format!(" permits {}", e.permit_ids.join(", ")));
        }
        if let Some(r) = &e.reason {
            line.push_str(&format!(" ({r})"));
        }
        if let Some(other) = &e.other_case_id {
            let how = match e.kind {
                crate::campaign::Kind::Superseded => "by case",
                crate::campaign::Kind::Queued => "behind case",
                _ => "requested by case",
            };
            line.push_str(&format!(" {how} {other}"));
        }
        if let Some(s) = e.state_after {
            line.push_str(&format!(" → {}", s.code()));
        }
        lines.push(line);
    }
    lines
}
