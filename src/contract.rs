//! The published tables' columns, defined once: name, type, format and meaning. The writers
//! check every frame against its table here before a byte is written
//! ([`crate::publish::RunFolder::table`]), each folder's `datapackage.json` (a Frictionless
//! Data Package describing its CSV files) is generated from it, `sdu schema` prints it whole,
//! and tests hold `docs/outputs.md` and `docs/datapackage.json` to it: the files, the schema
//! the portal tests against and the docs cannot drift apart.

use polars::prelude::*;
use serde_json::{json, Value};

/// A column's type as readers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Text.
    Str,
    /// An IIN or BIN: 12 digits, always text (leading zeros are significant).
    Id,
    /// 16 lowercase hex digits (case, message and request ids).
    Hex16,
    /// A keyed pseudonym: 32 lowercase hex digits.
    Pseudonym,
    /// A KATO region: 2 digits, text.
    Region,
    /// A phone number as E.164 (`+7` and 10 digits).
    Phone,
    /// A whole number.
    Int,
    /// A real number.
    Number,
    Bool,
    /// A calendar date, Asia/Almaty.
    Date,
    /// An instant: Parquet `Datetime(µs, "Asia/Almaty")`, CSV and JSON ISO 8601 with its
    /// offset (`2025-09-02T09:00:00+05:00`).
    Time,
    /// A list of texts: Parquet `list<string>`, CSV joined by `;`.
    List,
}

impl Type {
    /// Whether a polars column type is what this type is written as.
    pub fn admits(self, dtype: &DataType) -> bool {
        match self {
            Type::Str | Type::Id | Type::Hex16 | Type::Pseudonym | Type::Region | Type::Phone => {
                dtype == &DataType::String
            }
            Type::Int => dtype.is_integer(),
            Type::Number => dtype.is_float(),
            Type::Bool => dtype == &DataType::Boolean,
            Type::Date => dtype == &DataType::Date,
            Type::Time => matches!(
                dtype,
                DataType::Datetime(TimeUnit::Microseconds, Some(tz)) if tz.as_str() == crate::frames::ZONE
            ),
            Type::List => dtype == &DataType::List(Box::new(DataType::String)),
        }
    }

    /// The expected polars type, for messages.
    fn expected(self) -> &'static str {
        match self {
            Type::Str | Type::Id | Type::Hex16 | Type::Pseudonym | Type::Region | Type::Phone => "str",
            Type::Int => "an integer",
            Type::Number => "f64",
            Type::Bool => "bool",
            Type::Date => "date",
            Type::Time => "datetime[μs, Asia/Almaty]",
            Type::List => "list[str]",
        }
    }

    /// The Table Schema field descriptor's type part.
    fn table_schema(self) -> Value {
        let pattern = |type_: &str, p: &str| json!({ "type": type_, "constraints": { "pattern": p } });
        match self {
            Type::Str => json!({ "type": "string" }),
            Type::Id => pattern("string", "[0-9]{12}"),
            Type::Hex16 => pattern("string", "[0-9a-f]{16}"),
            Type::Pseudonym => pattern("string", "[0-9a-f]{32}"),
            Type::Region => pattern("string", "[0-9]{2}"),
            Type::Phone => pattern("string", "\\+7[0-9]{10}"),
            Type::Int => json!({ "type": "integer" }),
            Type::Number => json!({ "type": "number" }),
            Type::Bool => json!({ "type": "boolean", "trueValues": ["true"], "falseValues": ["false"] }),
            Type::Date => json!({ "type": "date" }),
            Type::Time => json!({ "type": "datetime", "format": "any" }),
            Type::List => json!({ "type": "list", "delimiter": ";", "itemType": "string" }),
        }
    }
}

/// One column.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Type,
    /// Never null.
    pub required: bool,
    pub doc: &'static str,
}

const fn f(name: &'static str, ty: Type, doc: &'static str) -> Field {
    Field { name, ty, required: false, doc }
}

/// A column that is never null.
const fn r(name: &'static str, ty: Type, doc: &'static str) -> Field {
    Field { name, ty, required: true, doc }
}

/// A published table.
#[derive(Debug)]
pub struct Table {
    /// The file stem: `<name>.parquet`, `<name>.csv`, `<name>.xlsx`.
    pub name: &'static str,
    pub title: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// Also published as `.xlsx`, for people who open the list by hand (every table has its
    /// Parquet and its CSV).
    pub xlsx: bool,
    /// Which command writes it, where (for the docs and the whole schema).
    pub written_by: &'static str,
}

use Type::*;

pub const ORGANIZATIONS: Table = Table {
    name: "organizations",
    title: "Organizations handed to the portal",
    doc: "One row per organization newly offered in this run (seed 000, algorithm §7).",
    written_by: "sdu candidates: <out>/<as-of>/<pilot>/",
    xlsx: true,
    fields: &[
        r("pilot", Str, "pilot id (data/pilots.toml)"),
        r("bin", Id, "the organization"),
        f("new_name_kk", Str, "its name after the rename, Kazakh"),
        f("new_name_ru", Str, "its name after the rename, Russian"),
        r("event_id", Str, "the rename event (legal_entity_renames.event_id)"),
        r("case_id", Hex16, "the case (16 hex digits of SHA-256 over pilot, event and recipient)"),
        f("old_name_kk", Str, "its name before, Kazakh"),
        f("old_name_ru", Str, "its name before, Russian"),
        f("changed_on", Date, "the state re-registration under the new name"),
        f("region", Region, "first two digits of the organization's KATO"),
        f("permit_ids", List, "pilot permits that still carry the old name"),
        f("services", List, "their service codes"),
    ],
};

pub const RECIPIENTS: Table = Table {
    name: "recipients",
    title: "Whom the portal texts",
    doc: "One row per case newly offered in this run: the organization's current first head, or \
          (in sanitary) the individual holder who changed name. Personal data: IIN and full name.",
    written_by: "sdu candidates: <out>/<as-of>/<pilot>/",
    xlsx: true,
    fields: &[
        r("pilot", Str, "pilot id"),
        r("case_id", Hex16, "the case"),
        r("event_id", Str, "the rename event, or the АХАЖ act of an individual holder"),
        r("iin", Id, "the recipient"),
        f("bin", Id, "the organization; null for an individual holder"),
        f(
            "recipient_name",
            Str,
            "surname, first name, patronymic (ЖТ МДҚ); null once `sdu purge` removed it",
        ),
        f("new_name_kk", Str, "the new name (organization, or person), Kazakh; for a person (no BIN), null once `sdu purge` removed it"),
        f("new_name_ru", Str, "the new name, Russian; for a person (no BIN), null once `sdu purge` removed it"),
        f("old_name_kk", Str, "the name before, Kazakh; for a person (no BIN), null once `sdu purge` removed it"),
        f("old_name_ru", Str, "the name before, Russian; for a person (no BIN), null once `sdu purge` removed it"),
        f("region", Region, "KATO region of the organization (or of the person)"),
        f("permit_ids", List, "the permits to re-issue"),
        f("permit_services", List, "the service of each permit, in the same order"),
        f("services", List, "the distinct services"),
        f("message_kk", Str, "the SMS text: the order's annex verbatim"),
        f("message_ru", Str, "the SMS text in Russian"),
    ],
};

pub const OUTCOMES: Table = Table {
    name: "outcomes",
    title: "Every event in scope, with its outcome",
    doc: "One row per event in the pilot's scope on the date (SCHEMA.md, Scope), offered \
          included. Personal data and the criteria's evidence.",
    written_by: "sdu candidates: <out>/<as-of>/<pilot>/",
    xlsx: false,
    fields: &[
        r("pilot", Str, "pilot id"),
        r("event_id", Str, "the event"),
        r("event_kind", Str, "rename (ЗТ МДҚ) or name_change (АХАЖ act of an individual holder)"),
        f("bin", Id, "the organization; null for individuals"),
        f("iin", Id, "the recipient, where one was found"),
        f("case_id", Hex16, "the case, where a recipient was found"),
        r("outcome", Str, "one of SCHEMA.md's outcome codes, by precedence"),
        f("reasons", List, "the stopping code alone, or every criterion met (empty when offered)"),
        f("changed_on", Date, "date of the rename (or of the act)"),
        f("old_name_kk", Str, "name before, Kazakh; for a person (no BIN), null once `sdu purge` removed it"),
        f(
            "old_name_ru",
            Str,
            "name before, Russian; for a person (no BIN), null once `sdu purge` removed it",
        ),
        f("new_name_kk", Str, "name after, Kazakh; for a person (no BIN), null once `sdu purge` removed it"),
        f("new_name_ru", Str, "name after, Russian; for a person (no BIN), null once `sdu purge` removed it"),
        f("region", Region, "KATO region (2 digits)"),
        f("permit_ids", List, "permits still carrying the old name"),
        f("permit_services", List, "the service of each"),
        f("services", List, "their distinct services"),
        f("org_status", Str, "ЗТ МДҚ status (null if the organization's row was quarantined)"),
        f("org_liquidated_on", Date, "liquidation date"),
        f("head_from_date", Date, "the current first head took office"),
        f("death_date", Date, "ЖТ МДҚ death date, if on or before the date"),
        f("death_act_id", Str, "АХАЖ death act registered by the end of the date"),
        f("death_act_date", Date, "its date"),
        f("declared_dead_on", Date, "court declaration of death, if by the date"),
        f("missing_declared_on", Date, "court declaration of missing, if by the date"),
        f("emigrated_on", Date, "emigration, if begun by the date"),
        f("incapable_from", Date, "start of an incapacity that holds on the date"),
        f("imprisoned_from", Date, "start of an imprisonment that holds on the date"),
        f("recipient_name", Str, "the recipient's full name; null once `sdu purge` removed it"),
        f("previously_offered_on", Date, "first date an earlier run offered this case"),
    ],
};

pub const ANALYST_OUTCOMES: Table = Table {
    name: "analyst_outcomes",
    title: "Every event in scope, with its outcome, for analysts",
    doc: "outcomes without identifiers: the organization, the recipient, the case and a \
          person's name-change act as keyed pseudonyms (HMAC-SHA256 under the operator's key); \
          no names, no permit numbers, no dates of death, court declarations, emigration, \
          incapacity, imprisonment or of the head's term; the outcome and its reasons stay.",
    written_by: "sdu candidates with a pseudonym key: <out>/analysts/<as-of>/<pilot>/",
    xlsx: false,
    fields: &[
        r("pilot", Str, "pilot id"),
        r("event", Pseudonym, "the rename event or the name-change act"),
        r("event_kind", Str, "rename or name_change"),
        f("organization", Pseudonym, "the organization; null for individuals"),
        f("person", Pseudonym, "the recipient, where one was found"),
        f("case", Pseudonym, "the case, where a recipient was found"),
        r("outcome", Str, "one of SCHEMA.md's outcome codes, by precedence"),
        f("reasons", List, "the stopping code alone, or every criterion met (empty when offered)"),
        f("changed_on", Date, "date of the rename (or of the act)"),
        f("region", Region, "KATO region (2 digits)"),
        f("permit_services", List, "the service of each permit still carrying the old name"),
        f("services", List, "their distinct services"),
        f("org_status", Str, "ЗТ МДҚ status"),
        f("previously_offered_on", Date, "first date an earlier run offered this case"),
    ],
};

pub const SMS_OUTBOX: Table = Table {
    name: "sms_outbox",
    title: "What the portal sends",
    doc: "dispatch: the first SMS of every case still offered; advance: second SMS, queued \
          cases' first SMS, and SMS sent again to another number after a failed delivery.",
    written_by: "sdu dispatch: <out>/<date>/dispatch/; sdu advance: <out>/<date>/advance-<HHMM>/",
    xlsx: false,
    fields: &[
        r("message_id", Hex16, "the same in every run; the portal echoes it in replies and delivery reports"),
        r("case_id", Hex16, "the case"),
        r("pilot", Str, "pilot id"),
        f(
            "phone",
            Phone,
            "the latest active mobile number in МАБ (or the next one, for an SMS sent again); null once `sdu purge` removed it",
        ),
        r("send_no", Int, "1 or 2"),
        r("text_kk", Str, "the SMS text of the pilot's order, Kazakh"),
        r("text_ru", Str, "the SMS text, Russian"),
        r("sent_at", Time, "when it is due to go out"),
        r("reply_due_by", Time, "sent_at + the pilot's reply window (72 hours)"),
    ],
};

pub const ELICENSE_REQUESTS: Table = Table {
    name: "elicense_requests",
    title: "Re-issue requests to e-license",
    doc: "One row per permit of each request made in this run; a permit appears in at most one \
          request over the whole campaign.",
    written_by: "sdu advance: <out>/<date>/advance-<HHMM>/",
    xlsx: false,
    fields: &[
        r("request_id", Hex16, "16 hex digits of case and permit; e-license answers by it"),
        r("case_id", Hex16, "the case"),
        r("pilot", Str, "pilot id"),
        r("permit_id", Str, "the permit to re-issue"),
        f("service_code", Str, "its service"),
        f("holder_bin", Id, "the organization; null for a person"),
        f("holder_iin", Id, "the person; null for an organization"),
        f("old_name_kk", Str, "name before, Kazakh; for a person (no BIN), null once `sdu purge` removed it"),
        f(
            "old_name_ru",
            Str,
            "name before, Russian; for a person (no BIN), null once `sdu purge` removed it",
        ),
        f("new_name_kk", Str, "name after, Kazakh; for a person (no BIN), null once `sdu purge` removed it"),
        f("new_name_ru", Str, "name after, Russian; for a person (no BIN), null once `sdu purge` removed it"),
        r("accepted_at", Time, "the accepting reply's receipt"),
        r("requested_at", Time, "the send time that made the request"),
    ],
};

pub const SDU_WRITEBACK: Table = Table {
    name: "sdu_writeback",
    title: "Updated holder data SDU records (seed 000, §12)",
    doc: "One row per permit e-license re-issued, in the advance that read its answer.",
    written_by: "sdu advance: <out>/<date>/advance-<HHMM>/",
    xlsx: false,
    fields: &[
        r("permit_id", Str, "the old permit"),
        r("new_permit_id", Str, "the permit issued in its place"),
        f("service_code", Str, "its service"),
        f("holder_bin", Id, "the organization; null for a person"),
        f("holder_iin", Id, "the person; null for an organization"),
        f(
            "holder_name_kk",
            Str,
            "the new name, Kazakh; for a person (no BIN), null once `sdu purge` removed it",
        ),
        f(
            "holder_name_ru",
            Str,
            "the new name, Russian; for a person (no BIN), null once `sdu purge` removed it",
        ),
        r("updated_at", Time, "e-license's answer"),
        r("request_id", Hex16, "the request answered"),
        r("case_id", Hex16, "the case"),
        r("pilot", Str, "pilot id"),
    ],
};

pub const REPLIES_QUARANTINE: Table = Table {
    name: "replies_quarantine",
    title: "Inbound rows that could not be read",
    doc: "Each row of a reply, delivery or confirmation file that could not be read; the reason \
          describes a bad cell, never repeats it.",
    written_by: "sdu advance: <out>/<date>/advance-<HHMM>/",
    xlsx: false,
    fields: &[
        r("file", Str, "the inbound file"),
        r("row_index", Int, "0-based row in that file"),
        r("reason", Str, "what was wrong"),
    ],
};

pub const REPLIES_UNMATCHED: Table = Table {
    name: "replies_unmatched",
    title: "Replies that matched no case",
    doc: "The replies of this advance that matched no case, kept once and only here.",
    written_by: "sdu advance: <out>/<date>/advance-<HHMM>/",
    xlsx: false,
    fields: &[
        r(
            "reason",
            Str,
            "no_case_texted_this_number, message_id_of_another_number or received_before_the_sms",
        ),
        r("reply_id", Hex16, "16 hex digits of the reply's content"),
        f("message_id", Str, "the message id it quotes, if any (as sent: not checked)"),
        r(
            "phone",
            Str,
            "the sender as the portal wrote it (10 or 11 digits, with +, spaces, dashes or brackets); null once `sdu purge` removed it",
        ),
        r("received_at", Time, "its receipt"),
        f("text", Str, "at most 500 characters; null once `sdu purge` removed it"),
    ],
};

pub const REPORTS_UNMATCHED: Table = Table {
    name: "reports_unmatched",
    title: "Delivery reports and e-license answers that applied to nothing",
    doc: "Not recorded in the ledger: a later file that holds them again counts them again.",
    written_by: "sdu advance: <out>/<date>/advance-<HHMM>/",
    xlsx: false,
    fields: &[
        r(
            "reason",
            Str,
            "unknown_message_id, reported_before_the_sms, unknown_request_id or answered_before_the_request",
        ),
        r("id", Str, "the message or request id"),
        r("at", Time, "when it was reported or answered"),
    ],
};

pub const KPI: Table = Table {
    name: "kpi",
    title: "KPIs by pilot, period and region",
    doc: "One row per metric and cell; a null pilot, period or region is the total over it \
          (docs/kpi.md).",
    written_by: "sdu report: <reports>/<as-of>/",
    xlsx: false,
    fields: &[
        f("pilot", Str, "pilot id; null: all pilots"),
        f("period", Str, "ISO week (YYYY-Www) of the offer; null: the whole span"),
        f("region", Region, "KATO region; null: all regions"),
        r("metric", Str, "docs/kpi.md"),
        f("numerator", Int, "count; null when withheld"),
        f("denominator", Int, "count; null when withheld"),
        f("value", Number, "the estimate; null when withheld"),
        f("ci_low", Number, "95 % interval, low"),
        f("ci_high", Number, "95 % interval, high"),
        r("suppressed", Bool, "withheld (small cell or its complement)"),
        r("provisional", Bool, "rests on cases still open"),
        r("simulated", Bool, "rests on simulated replies"),
    ],
};

/// Every published table.
pub const TABLES: &[&Table] = &[
    &ORGANIZATIONS,
    &RECIPIENTS,
    &OUTCOMES,
    &ANALYST_OUTCOMES,
    &SMS_OUTBOX,
    &ELICENSE_REQUESTS,
    &SDU_WRITEBACK,
    &REPLIES_QUARANTINE,
    &REPLIES_UNMATCHED,
    &REPORTS_UNMATCHED,
    &KPI,
];

/// A frame that does not hold what its table says: a bug in sdu, caught before writing.
#[derive(Debug, thiserror::Error)]
#[error("internal error: the {table} frame does not match its contract (src/contract.rs): {problem}")]
pub struct Mismatch {
    pub table: &'static str,
    pub problem: String,
}

impl Table {
    /// The column names, in order.
    pub fn columns(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.name).collect()
    }

    pub fn parquet(&self) -> String {
        format!("{}.parquet", self.name)
    }

    pub fn csv(&self) -> String {
        format!("{}.csv", self.name)
    }

    pub fn xlsx(&self) -> String {
        format!("{}.xlsx", self.name)
    }

    /// Whether `df` has exactly these columns, in this order, with these types, and no null
    /// in a required column.
    pub fn check(&self, df: &DataFrame) -> Result<(), Mismatch> {
        let problem = |p: String| Mismatch { table: self.name, problem: p };
        let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
        if names != self.columns() {
            return Err(problem(format!("columns {names:?}, expected {:?}", self.columns())));
        }
        for (field, c) in self.fields.iter().zip(df.columns()) {
            if !field.ty.admits(c.dtype()) {
                return Err(problem(format!(
                    "`{}` is {}, expected {}",
                    field.name,
                    c.dtype(),
                    field.ty.expected()
                )));
            }
            if field.required && c.null_count() > 0 {
                return Err(problem(format!(
                    "`{}` has {} nulls; it is required",
                    field.name,
                    c.null_count()
                )));
            }
        }
        Ok(())
    }

    /// The Table Schema of its CSV form.
    pub fn table_schema(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|f| {
                let mut v = f.ty.table_schema();
                v["name"] = json!(f.name);
                v["description"] = json!(f.doc);
                if f.required {
                    let constraints = v.get("constraints").cloned().unwrap_or(json!({}));
                    v["constraints"] = constraints;
                    v["constraints"]["required"] = json!(true);
                }
                v
            })
            .collect();
        json!({ "fields": fields, "missingValues": [""] })
    }

    /// The data resource describing `<name>.csv`: its path, format, dialect and schema, and,
    /// when the file is known, its size and SHA-256.
    pub fn resource(&self, file: Option<(u64, &str)>) -> Value {
        let mut v = json!({
            "name": self.name,
            "path": self.csv(),
            "title": self.title,
            "description": format!("{} Parquet twin: {}.", self.doc, self.parquet()),
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8-sig",
            "dialect": { "delimiter": ",", "lineTerminator": "\r\n", "quoteChar": "\"", "doubleQuote": true, "header": true },
            "schema": self.table_schema(),
        });
        if let Some((bytes, sha256)) = file {
            v["bytes"] = json!(bytes);
            v["hash"] = json!(format!("sha256:{sha256}"));
        }
        v
    }
}

/// The data package of a published folder: one resource per CSV file in it, with sizes and
/// hashes.
pub fn package(name: &str, resources: Vec<Value>) -> Value {
    json!({
        "profile": "tabular-data-package",
        "name": name,
        "title": format!("sdu {}", name.replace('-', " ")),
        "description": "Files published by sdu (Smart Data Ukimet re-registration pilots). Times are ISO 8601 with their offset, Asia/Almaty; identifiers are text. Columns: docs/outputs.md.",
        "version": crate::publish::SCHEMA_VERSION.to_string(),
        "resources": resources,
    })
}

/// Every table's schema, for `sdu schema` and `docs/datapackage.json` (no sizes or hashes:
/// the contract, not a folder).
pub fn contract() -> Value {
    let resources = TABLES
        .iter()
        .map(|t| {
            let mut r = t.resource(None);
            r["sdu:written_by"] = json!(t.written_by);
            r["sdu:forms"] =
                json!({ "parquet": t.parquet(), "csv": t.csv(), "xlsx": t.xlsx.then(|| t.xlsx()) });
            r
        })
        .collect();
    package("sdu-outputs", resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_tables_are_listed() {
        let mut names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
        for t in TABLES {
            let mut cols = t.columns();
            cols.sort();
            cols.dedup();
            assert_eq!(cols.len(), t.fields.len(), "{}", t.name);
        }
    }

    #[test]
    fn a_frame_is_checked_by_name_order_type_and_nulls() {
        let t = &REPLIES_QUARANTINE;
        let ok = df!("file" => ["a"], "row_index" => [1u32], "reason" => ["x"]).unwrap();
        t.check(&ok).unwrap();
        let swapped = df!("row_index" => [1u32], "file" => ["a"], "reason" => ["x"]).unwrap();
        assert!(t.check(&swapped).unwrap_err().to_string().contains("columns"));
        let typed = df!("file" => ["a"], "row_index" => ["1"], "reason" => ["x"]).unwrap();
        assert!(t.check(&typed).unwrap_err().to_string().contains("`row_index` is str, expected an integer"));
        let null = df!("file" => [None::<&str>], "row_index" => [1u32], "reason" => ["x"]).unwrap();
        assert!(t.check(&null).unwrap_err().to_string().contains("`file` has 1 nulls"));
    }

    #[test]
    fn identifiers_are_patterned_text_and_times_carry_their_zone() {
        let schema = ORGANIZATIONS.table_schema();
        let bin = &schema["fields"][1];
        assert_eq!(bin["name"], "bin");
        assert_eq!(bin["type"], "string");
        assert_eq!(bin["constraints"]["pattern"], "[0-9]{12}");
        assert_eq!(bin["constraints"]["required"], true);
        let naive = DataType::Datetime(TimeUnit::Microseconds, None);
        assert!(!Type::Time.admits(&naive));
        let zoned =
            DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::from_chrono(&chrono_tz::Asia::Almaty)));
        assert!(Type::Time.admits(&zoned));
    }

    /// The paths the readers use name the contract's files, and the KPI frame's columns are
    /// the contract's.
    #[test]
    fn readers_and_writers_name_the_same_files_and_columns() {
        use crate::layout as l;
        let pairs = [
            (l::OUTCOMES, OUTCOMES.parquet()),
            (l::OUTBOX_PARQUET, SMS_OUTBOX.parquet()),
            (l::REQUESTS, ELICENSE_REQUESTS.parquet()),
            (l::REPLIES_QUARANTINE, REPLIES_QUARANTINE.parquet()),
            (l::REPLIES_UNMATCHED, REPLIES_UNMATCHED.parquet()),
            (l::REPORTS_UNMATCHED, REPORTS_UNMATCHED.parquet()),
        ];
        for (layout, contract) in pairs {
            assert_eq!(layout, contract);
        }
        assert_eq!(crate::report::KPI_COLUMNS.to_vec(), KPI.columns());
    }

    /// `docs/datapackage.json` is the contract as the code defines it (regenerate with
    /// `UPDATE_SNAPSHOTS=1 cargo test --lib contract`).
    #[test]
    fn the_committed_data_package_is_the_code_s() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/datapackage.json");
        let generated = serde_json::to_string_pretty(&contract()).unwrap() + "\n";
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/datapackage.json differs from src/contract.rs; run with UPDATE_SNAPSHOTS=1"
        );
    }

    /// Every column of every table is named in the docs' section of its file.
    #[test]
    fn the_docs_name_every_column() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let outputs = std::fs::read_to_string(root.join("docs/outputs.md")).unwrap();
        let kpi = std::fs::read_to_string(root.join("docs/kpi.md")).unwrap();
        for t in TABLES {
            let doc = if t.name == "kpi" { &kpi } else { &outputs };
            let start = doc
                .find(&format!("`{}.parquet`", t.name))
                .unwrap_or_else(|| panic!("{} not in the docs", t.name));
            // The section runs to the next heading.
            let section = &doc[start..];
            let end = section[1..].find("\n#").map(|e| e + 1).unwrap_or(section.len());
            let section = &section[..end];
            for c in t.columns() {
                assert!(section.contains(&format!("`{c}`")), "docs: `{c}` of {} is not described", t.name);
            }
        }
    }
}
