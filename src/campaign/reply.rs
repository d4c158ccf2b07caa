//! Reading a recipient's SMS reply (seed 000, annex: "келісім берген жағдайда 1 санын, ал бас
//! тартқан жағдайда 2 санын"). Understood: `1`/`2` with any spaces and punctuation, full-width
//! digits, and the words people send in Kazakh and Russian, in any case. Anything else is an
//! invalid reply: counted, and it decides nothing.

/// What a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    Accept,
    Decline,
    Invalid,
}

const ACCEPT: &[&str] = &[
    "1",
    "иә",
    "ия",
    "иа",
    "ие",
    "йә",
    "келісемін",
    "келісем",
    "келісімін",
    "келісім",
    "да",
    "согласен",
    "согласна",
    "согласны",
    "ok",
    "ок",
    "yes",
];
const DECLINE: &[&str] =
    &["2", "жоқ", "жок", "келіспеймін", "келіспейм", "нет", "отказ", "отказываюсь", "no"];
/// Phrases that decline although one of their words would accept.
const DECLINE_PHRASES: &[&str] = &["не согласен", "не согласна", "не согласны"];

/// Folds full-width digits and letters to ASCII and lower-cases.
fn fold(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')).unwrap_or(c),
        '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Words of the reply: letters and digits, lower-case, everything else a separator.
fn words(text: &str) -> Vec<String> {
    let folded: String = text.chars().map(fold).flat_map(char::to_lowercase).collect();
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(String::from).collect()
}

/// Reads a reply.
pub fn parse(text: &str) -> Answer {
    let words = words(text);
    if words.is_empty() {
        return Answer::Invalid;
    }
    let phrase = words.join(" ");
    if DECLINE_PHRASES.contains(&phrase.as_str()) {
        return Answer::Decline;
    }
    let mut answer = None;
    for w in &words {
        let this = if ACCEPT.contains(&w.as_str()) {
            Answer::Accept
        } else if DECLINE.contains(&w.as_str()) {
            Answer::Decline
        } else {
            return Answer::Invalid;
        };
        match answer {
            None => answer = Some(this),
            Some(a) if a == this => {}
            Some(_) => return Answer::Invalid,
        }
    }
    answer.unwrap_or(Answer::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forms_people_send() {
        let cases = [
            ("1", Answer::Accept),
            (" 1 ", Answer::Accept),
            ("1.", Answer::Accept),
            ("'1'", Answer::Accept),
            ("１", Answer::Accept),
            ("２", Answer::Decline),
            ("2", Answer::Decline),
            ("Иә", Answer::Accept),
            ("ИӘ!", Answer::Accept),
            ("Келісемін", Answer::Accept),
            ("келіспеймін", Answer::Decline),
            ("жоқ", Answer::Decline),
            ("Да", Answer::Accept),
            ("да, 1", Answer::Accept),
            ("НЕТ", Answer::Decline),
            ("Не согласен", Answer::Decline),
            ("согласна", Answer::Accept),
            ("1 2", Answer::Invalid),
            ("12", Answer::Invalid),
            ("3", Answer::Invalid),
            ("", Answer::Invalid),
            ("?!", Answer::Invalid),
            ("кто это?", Answer::Invalid),
            ("да нет", Answer::Invalid),
            ("11", Answer::Invalid),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), expected, "{text:?}");
        }
    }

    fn decoration() -> impl Strategy<Value = String> {
        "[ .,!?'\"\\-\\t()]{0,4}"
    }

    proptest! {
        /// An understood answer stays understood with any punctuation, spacing and case.
        #[test]
        fn decoration_and_case_do_not_matter(
            word in prop::sample::select([ACCEPT, DECLINE].concat()),
            pre in decoration(),
            post in decoration(),
            upper in any::<bool>(),
        ) {
            let expected = if ACCEPT.contains(&word) { Answer::Accept } else { Answer::Decline };
            let word = if upper { word.to_uppercase() } else { word.to_string() };
            prop_assert_eq!(parse(&format!("{pre}{word}{post}")), expected);
        }

        /// Digits other than a lone 1 or 2 never decide.
        #[test]
        fn other_numbers_are_invalid(n in 3u32..100_000) {
            prop_assert_eq!(parse(&n.to_string()), Answer::Invalid);
        }

        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = parse(&s);
        }
    }
}
