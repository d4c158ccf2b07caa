//! What people read instead of codes: Kazakh and Russian labels, colours and definitions from
//! `data/labels.toml` (embedded), for the report, its tables and its charts.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The labels file, embedded.
pub const DEFAULT_LABELS: &str = include_str!("../../data/labels.toml");

/// One code's label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub kk: String,
    pub ru: String,
    pub en: String,
    /// `#rrggbb`, the same in every chart.
    #[serde(default)]
    pub colour: Option<String>,
    /// For metrics: what it counts, written for readers.
    #[serde(default)]
    pub definition: Option<String>,
}

impl Label {
    /// "kk / ru", once when both read the same.
    pub fn both(&self) -> String {
        if self.kk == self.ru {
            self.kk.clone()
        } else {
            format!("{} / {}", self.kk, self.ru)
        }
    }

    pub fn rgb(&self) -> Option<(u8, u8, u8)> {
        let hex = self.colour.as_deref()?.strip_prefix('#')?;
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some((byte(0)?, byte(2)?, byte(4)?))
    }
}

/// Every table of labels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    pub schema_version: u32,
    pub pilot: BTreeMap<String, Label>,
    pub outcome: BTreeMap<String, Label>,
    /// Where a dispatched case stands: accepted, declined, timed_out, undeliverable, open.
    pub case: BTreeMap<String, Label>,
    pub region: BTreeMap<String, Label>,
    pub metric: BTreeMap<String, Label>,
}

/// The embedded labels (checked by the tests below; a broken file cannot be built into a
/// release that passes them).
pub fn labels() -> &'static Labels {
    static LABELS: OnceLock<Labels> = OnceLock::new();
    LABELS.get_or_init(|| toml::from_str(DEFAULT_LABELS).expect("data/labels.toml parses (tested)"))
}

/// The families of metrics named `<family>.<code>`, labelled by the code's outcome.
const FAMILIES: [&str; 3] = ["outcome", "first_reason", "reason"];

impl Labels {
    /// A metric's own label, or its family's (`outcome.*`).
    pub fn metric_label(&self, metric: &str) -> Option<&Label> {
        self.metric.get(metric).or_else(|| {
            let (family, _) = metric.split_once('.')?;
            self.metric.get(&format!("{family}.*"))
        })
    }

    /// A metric as readers see it: "Келісті / Согласились"; `reason.recipient_abroad` as
    /// "Барлық себептер: Шетелге кеткен / Все причины: Выехал за рубеж".
    pub fn metric_name(&self, metric: &str) -> String {
        if let Some((family, code)) = metric.split_once('.') {
            if let (true, Some(o), Some(f)) =
                (FAMILIES.contains(&family), self.outcome.get(code), self.metric.get(&format!("{family}.*")))
            {
                return if family == "outcome" {
                    o.both()
                } else {
                    format!("{}: {} / {}: {}", f.kk, o.kk, f.ru, o.ru)
                };
            }
        }
        self.metric.get(metric).map_or_else(|| metric.to_string(), Label::both)
    }

    pub fn definition(&self, metric: &str) -> Option<&str> {
        self.metric_label(metric).and_then(|l| l.definition.as_deref())
    }

    /// An outcome code's label (the code itself if the file has none).
    pub fn outcome_name(&self, code: &str) -> String {
        self.outcome.get(code).map_or_else(|| code.to_string(), Label::both)
    }

    /// A KATO region: "Алматы қаласы / город Алматы".
    pub fn region_name(&self, code: &str) -> String {
        self.region.get(code).map_or_else(|| format!("KATO {code}"), Label::both)
    }

    /// A pilot's short name (its id for a pilot the file does not know).
    pub fn pilot_name(&self, id: &str) -> String {
        self.pilot.get(id).map_or_else(|| id.to_string(), Label::both)
    }

    /// The colour of a pilot in every chart: its own, or one of a fixed set by its position.
    pub fn pilot_rgb(&self, id: &str, position: usize) -> (u8, u8, u8) {
        const SPARE: [(u8, u8, u8); 6] = [
            (0x31, 0x82, 0xbd),
            (0xe6, 0x55, 0x0d),
            (0x31, 0xa3, 0x54),
            (0x75, 0x6b, 0xb1),
            (0x63, 0x63, 0x63),
            (0xd6, 0x61, 0x6b),
        ];
        self.pilot.get(id).and_then(Label::rgb).unwrap_or(SPARE[position % SPARE.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::labels;
    use crate::pipeline::outcome;

    /// Every outcome, case standing and region the report can show has a label in both
    /// languages and a colour where charts need one.
    #[test]
    fn every_code_has_its_label() {
        let l = labels();
        assert_eq!(l.schema_version, 1);
        for o in outcome::ALL {
            let label = l.outcome.get(o).unwrap_or_else(|| panic!("outcome {o}"));
            assert!(label.rgb().is_some(), "{o}");
        }
        for s in ["accepted", "declined", "timed_out", "undeliverable", "open"] {
            assert!(l.case.get(s).and_then(|c| c.rgb()).is_some(), "{s}");
        }
        let regions = [
            "10", "11", "15", "19", "23", "27", "31", "33", "35", "39", "43", "47", "55", "59", "61", "62",
            "63", "71", "75", "79",
        ];
        assert_eq!(l.region.keys().map(String::as_str).collect::<Vec<_>>(), regions);
        for label in
            l.pilot.values().chain(l.outcome.values()).chain(l.metric.values()).chain(l.region.values())
        {
            assert!(!label.kk.is_empty() && !label.ru.is_empty() && !label.en.is_empty(), "{label:?}");
        }
        assert_eq!(l.region_name("75"), "Алматы қаласы / город Алматы");
        assert_eq!(l.metric_name("outcome.offered"), "Ұсынылды / Предложено");
        assert_eq!(
            l.metric_name("reason.recipient_abroad"),
            "Барлық себептер: Шетелге кеткен / Все причины: Выехал за рубеж"
        );
        assert_eq!(l.metric_name("no_such_metric"), "no_such_metric");
        assert!(l.definition("first_reason.recipient_imprisoned").is_some());
    }

    /// Every pilot of the embedded pilots file has a name and a colour of its own.
    #[test]
    fn every_pilot_has_a_name_and_colour() {
        let l = labels();
        for p in crate::config::load_pilots(None).unwrap() {
            assert!(l.pilot.get(&p.id).and_then(|x| x.rgb()).is_some(), "{}", p.id);
        }
    }
}
