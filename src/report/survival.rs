//! Time to decision: the share of dispatched cases accepted within N hours of their first SMS,
//! with open cases used for as long as they were open instead of dropped. Acceptance competes
//! with a decline, a timeout and an undeliverable end, so the estimate is the Aalen–Johansen
//! cumulative incidence of acceptance (with no competing end it is 1 − Kaplan–Meier); its 95 %
//! interval is a percentile bootstrap over cases with a fixed seed, so a report made again
//! gives the same interval.

use crate::campaign::{Campaign, Case, CaseEvent, Kind};
use chrono::NaiveDateTime;

/// How a case's follow-up from its first SMS ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Accepted,
    /// Declined, timed out or undeliverable: the case can no longer be accepted.
    Other,
    /// Still open at the cut-off, or taken out of the campaign (superseded, voided): known
    /// not accepted up to then only.
    Censored,
}

/// One dispatched case: hours from its first SMS to its end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spell {
    pub hours: f64,
    pub end: End,
}

/// The spell of a case as of `cutoff` (None for a case never sent an SMS by then).
pub fn spell(case: &Case, cutoff: NaiveDateTime) -> Option<Spell> {
    let history: Vec<&CaseEvent> = case.history.iter().filter(|e| e.at <= cutoff).collect();
    let first = history.iter().filter(|e| e.kind == Kind::SmsSent).map(|e| e.at).min()?;
    let hours = |at: NaiveDateTime| ((at - first).num_seconds() as f64 / 3600.0).max(0.0);
    let ended = |at| Spell { hours: hours(at), end: End::Other };
    match super::metrics::standing(&history) {
        Some(super::metrics::Standing::Accepted) => {
            let reply = history.iter().find(|e| e.kind == Kind::ReplyAccept)?;
            Some(Spell { hours: hours(reply.at), end: End::Accepted })
        }
        Some(
            super::metrics::Standing::Declined
            | super::metrics::Standing::TimedOut
            | super::metrics::Standing::Undeliverable,
        ) => history.iter().rev().find(|e| e.state_after.is_some()).map(|e| ended(e.at)),
        Some(super::metrics::Standing::Superseded | super::metrics::Standing::Voided) => {
            let at = history.iter().rev().find(|e| e.state_after.is_some()).map_or(cutoff, |e| e.at);
            Some(Spell { hours: hours(at), end: End::Censored })
        }
        _ => Some(Spell { hours: hours(cutoff), end: End::Censored }),
    }
}

/// The spells of a pilot's dispatched cases (every pilot's with `None`).
pub fn spells(campaign: &Campaign, pilot: Option<&str>, cutoff: NaiveDateTime) -> Vec<Spell> {
    campaign
        .cases
        .values()
        .filter(|c| pilot.is_none_or(|p| c.offer.pilot == p))
        .filter_map(|c| spell(c, cutoff))
        .collect()
}

/// The cumulative incidence of acceptance at each of `horizons` (hours), from spells sorted by
/// time, each weighted (a bootstrap draw's multiplicity; 1 for the estimate). At one time,
/// ends come before censoring.
fn incidence(sorted: &[Spell], weights: &[f64], horizons: &[f64]) -> Vec<f64> {
    let mut at_risk: f64 = weights.iter().sum();
    let (mut surv, mut cif) = (1.0_f64, 0.0_f64);
    let mut out: Vec<Option<f64>> = vec![None; horizons.len()];
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].hours;
        for (k, h) in horizons.iter().enumerate() {
            if t > *h && out[k].is_none() {
                out[k] = Some(cif);
            }
        }
        let (mut accepted, mut other, mut censored) = (0.0, 0.0, 0.0);
        while i < sorted.len() && sorted[i].hours == t {
            match sorted[i].end {
                End::Accepted => accepted += weights[i],
                End::Other => other += weights[i],
                End::Censored => censored += weights[i],
            }
            i += 1;
        }
        if at_risk > 0.0 {
            cif += surv * accepted / at_risk;
            surv *= 1.0 - (accepted + other) / at_risk;
        }
        at_risk -= accepted + other + censored;
    }
    out.into_iter().map(|v| v.unwrap_or(cif)).collect()
}

/// The share accepted within each horizon, with its 95 % bootstrap interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Within {
    pub hours: f64,
    pub estimate: f64,
    pub ci: (f64, f64),
}

/// Bootstrap draws behind each interval.
const DRAWS: usize = 400;

/// The estimate at `horizons` from these spells (None with no spell).
pub fn within(spells: &[Spell], horizons: &[f64], seed: u64) -> Option<Vec<Within>> {
    if spells.is_empty() {
        return None;
    }
    let mut sorted = spells.to_vec();
    sorted.sort_by(|a, b| a.hours.total_cmp(&b.hours).then((a.end as u8).cmp(&(b.end as u8))));
    let n = sorted.len();
    let estimate = incidence(&sorted, &vec![1.0; n], horizons);
    let mut rng = crate::rng::Rng::keyed(seed, crate::rng::stream::BOOTSTRAP, n as u64);
    let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(DRAWS); horizons.len()];
    let mut weights = vec![0.0; n];
    for _ in 0..DRAWS {
        weights.iter_mut().for_each(|w| *w = 0.0);
        for _ in 0..n {
            weights[rng.below(n as u64) as usize] += 1.0;
        }
        for (k, v) in incidence(&sorted, &weights, horizons).into_iter().enumerate() {
            draws[k].push(v);
        }
    }
    Some(
        horizons
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let d = &mut draws[k];
                d.sort_by(f64::total_cmp);
                let at = |q: f64| d[((q * (DRAWS - 1) as f64).round() as usize).min(DRAWS - 1)];
                Within { hours: *h, estimate: estimate[k], ci: (at(0.025), at(0.975)) }
            })
            .collect(),
    )
}

/// The estimate as a step curve: (hours, share accepted by then) at every acceptance, from 0
/// to `until` hours.
pub fn curve(spells: &[Spell], until: f64) -> Vec<(f64, f64)> {
    let mut times: Vec<f64> =
        spells.iter().filter(|s| s.end == End::Accepted && s.hours <= until).map(|s| s.hours).collect();
    times.push(0.0);
    times.push(until);
    times.sort_by(f64::total_cmp);
    times.dedup();
    let mut sorted = spells.to_vec();
    sorted.sort_by(|a, b| a.hours.total_cmp(&b.hours).then((a.end as u8).cmp(&(b.end as u8))));
    let values = incidence(&sorted, &vec![1.0; sorted.len()], &times);
    times.into_iter().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::{incidence, within, End, Spell};

    fn s(hours: f64, end: End) -> Spell {
        Spell { hours, end }
    }

    /// Without censoring the estimate is the plain share; censoring redistributes a case's
    /// weight over the cases still at risk after it (Kaplan–Meier), and a competing end lowers
    /// what remains at risk.
    #[test]
    fn cumulative_incidence_by_hand() {
        let ones = |n| vec![1.0; n];
        // 4 cases: accepted at 1 h and 5 h, declined at 2 h, timed out at 100 h.
        let plain = [s(1.0, End::Accepted), s(2.0, End::Other), s(5.0, End::Accepted), s(100.0, End::Other)];
        assert_eq!(
            incidence(&plain, &ones(4), &[0.5, 1.0, 4.0, 24.0, 200.0]),
            vec![0.0, 0.25, 0.25, 0.5, 0.5]
        );
        // Censored at 2 h (open at the cut-off): the other 3 carry it; 1/4 + 3/4 · 1/2 at 5 h.
        let open =
            [s(1.0, End::Accepted), s(2.0, End::Censored), s(5.0, End::Accepted), s(100.0, End::Other)];
        assert_eq!(incidence(&open, &ones(4), &[1.0, 24.0]), vec![0.25, 0.25 + 0.75 * 0.5]);
        // Dropping the open case instead would say 2/3: the open case's time counts.
        // An acceptance and a censoring at the same hour: the acceptance first.
        let tie = [s(3.0, End::Accepted), s(3.0, End::Censored)];
        assert_eq!(incidence(&tie, &ones(2), &[3.0]), vec![0.5]);
    }

    #[test]
    fn the_interval_holds_the_estimate_and_is_reproducible() {
        let spells: Vec<Spell> = (0..60)
            .map(|i| match i % 4 {
                0 | 1 => s(f64::from(i), End::Accepted),
                2 => s(f64::from(i), End::Other),
                _ => s(f64::from(i), End::Censored),
            })
            .collect();
        let a = within(&spells, &[24.0, 72.0], 7).unwrap();
        assert_eq!(a, within(&spells, &[24.0, 72.0], 7).unwrap());
        for w in &a {
            assert!(w.ci.0 <= w.estimate && w.estimate <= w.ci.1, "{w:?}");
            assert!(w.ci.1 - w.ci.0 > 0.05, "{w:?}");
        }
        assert_eq!(within(&[], &[24.0], 7), None);
    }
}
