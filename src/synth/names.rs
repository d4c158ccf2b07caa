//! Names and places for the synthetic world: Kazakh and Russian personal names with the
//! forms each sex takes (-ұлы/-қызы, -ов/-ова, -ович/-овна), organization names in Kazakh
//! and Russian, legal forms, and KATO regions weighted by population.

use crate::ids::Sex;
use crate::rng::Rng;

/// (Kazakh) first names.
const KK_MALE: &[&str] = &[
    "Нұрлан",
    "Ерлан",
    "Асқар",
    "Дәурен",
    "Бауыржан",
    "Айдос",
    "Ерболат",
    "Мұхтар",
    "Серік",
    "Қайрат",
    "Нұрсұлтан",
    "Әлихан",
    "Санжар",
    "Ержан",
    "Арман",
    "Дархан",
    "Жандос",
    "Талғат",
    "Ғалым",
    "Бекзат",
    "Өмірзақ",
    "Ақжол",
    "Тимур",
    "Қуаныш",
    "Мейірбек",
    "Ілияс",
    "Нұрасыл",
];
const KK_FEMALE: &[&str] = &[
    "Айгүл",
    "Гүлнар",
    "Әлия",
    "Дана",
    "Жанар",
    "Аружан",
    "Ақбота",
    "Салтанат",
    "Мөлдір",
    "Динара",
    "Айжан",
    "Гүлмира",
    "Назерке",
    "Жұлдыз",
    "Әйгерім",
    "Меруерт",
    "Сәуле",
    "Құралай",
    "Ботагөз",
    "Інжу",
    "Ләззат",
    "Нұргүл",
    "Шынар",
    "Ұлжан",
    "Фариза",
    "Һәдия",
];
/// Kazakh surname roots: old-style forms add -ов/-ев (-ова/-ева), new-style -ұлы/-қызы.
const KK_ROOTS: &[(&str, &str)] = &[
    ("Ахмет", "Ахметов"),
    ("Жұмабай", "Жұмабаев"),
    ("Сәрсенбай", "Сәрсенбаев"),
    ("Омар", "Омаров"),
    ("Нұрпейіс", "Нұрпейісов"),
    ("Қасым", "Қасымов"),
    ("Әбдірахман", "Әбдірахманов"),
    ("Бекболат", "Бекболатов"),
    ("Исабек", "Исабеков"),
    ("Мұқан", "Мұқанов"),
    ("Тұрсын", "Тұрсынов"),
    ("Оспан", "Оспанов"),
    ("Байжан", "Байжанов"),
    ("Есен", "Есенов"),
    ("Қуаныш", "Қуанышев"),
    ("Сейіт", "Сейітов"),
    ("Төлеген", "Төлегенов"),
    ("Жақсылық", "Жақсылықов"),
    ("Әбіл", "Әбілов"),
    ("Құдайберген", "Құдайбергенов"),
    ("Ғабдулла", "Ғабдуллин"),
    ("Ибрай", "Ибраев"),
    ("Мұрат", "Мұратов"),
    ("Сұлтан", "Сұлтанов"),
];
const RU_MALE: &[&str] = &[
    "Александр",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Алексей",
    "Владимир",
    "Николай",
    "Игорь",
    "Евгений",
    "Михаил",
    "Виктор",
    "Павел",
    "Олег",
    "Юрий",
    "Константин",
];
const RU_FEMALE: &[&str] = &[
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Анна",
    "Мария",
    "Людмила",
    "Екатерина",
    "Юлия",
    "Галина",
    "Валентина",
    "Оксана",
];
const RU_SURNAMES: &[&str] = &[
    "Иванов",
    "Петров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Морозов",
    "Новиков",
    "Фёдоров",
    "Волков",
    "Лебедев",
    "Козлов",
    "Степанов",
    "Никитин",
    "Орлов",
];
/// Russian patronymics by father's name: (male, female).
const RU_PATRONYMICS: &[(&str, &str)] = &[
    ("Александрович", "Александровна"),
    ("Сергеевич", "Сергеевна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Андреевич", "Андреевна"),
    ("Алексеевич", "Алексеевна"),
    ("Владимирович", "Владимировна"),
    ("Николаевич", "Николаевна"),
    ("Игоревич", "Игоревна"),
    ("Викторович", "Викторовна"),
    ("Павлович", "Павловна"),
    ("Юрьевич", "Юрьевна"),
    ("Михайлович", "Михайловна"),
];

/// A person's name as ЖТ МДҚ holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    pub surname: String,
    pub first_name: String,
    pub patronymic: Option<String>,
}

impl PersonName {
    pub fn full(&self) -> String {
        match &self.patronymic {
            Some(p) => format!("{} {} {}", self.surname, self.first_name, p),
            None => format!("{} {}", self.surname, self.first_name),
        }
    }
}

/// The Russian-style surname of a root for a sex (Ахметов / Ахметова).
fn ov_form(male: &str, sex: Sex) -> String {
    match sex {
        Sex::Male => male.to_string(),
        Sex::Female => format!("{male}а"),
    }
}

/// The new-style Kazakh form (Ахметұлы / Ахметқызы).
fn uly_form(root: &str, sex: Sex) -> String {
    match sex {
        Sex::Male => format!("{root}ұлы"),
        Sex::Female => format!("{root}қызы"),
    }
}

/// Draws a name: about three in four people carry a Kazakh name, the rest a Russian one.
pub fn person_name(rng: &mut Rng, sex: Sex) -> PersonName {
    if rng.chance(0.75) {
        let first = match sex {
            Sex::Male => *rng.pick(KK_MALE),
            Sex::Female => *rng.pick(KK_FEMALE),
        };
        let (root, ov) = *rng.pick(KK_ROOTS);
        let surname = if rng.chance(0.2) { uly_form(root, sex) } else { ov_form(ov, sex) };
        let father = *rng.pick(KK_MALE);
        let patronymic = if rng.chance(0.93) { Some(uly_form(father, sex)) } else { None };
        PersonName { surname, first_name: first.to_string(), patronymic }
    } else {
        let first = match sex {
            Sex::Male => *rng.pick(RU_MALE),
            Sex::Female => *rng.pick(RU_FEMALE),
        };
        let (m, f) = *rng.pick(RU_PATRONYMICS);
        let patronymic = Some(match sex {
            Sex::Male => m.to_string(),
            Sex::Female => f.to_string(),
        });
        PersonName {
            surname: ov_form(rng.pick::<&str>(RU_SURNAMES), sex),
            first_name: first.to_string(),
            patronymic,
        }
    }
}

/// A new surname after a change of name (marriage, return to a Kazakh form, ...).
pub fn changed_surname(rng: &mut Rng, old: &PersonName, sex: Sex) -> PersonName {
    loop {
        let (root, ov) = *rng.pick(KK_ROOTS);
        let surname = if rng.chance(0.4) { uly_form(root, sex) } else { ov_form(ov, sex) };
        if surname != old.surname {
            return PersonName { surname, ..old.clone() };
        }
    }
}

const ORG_WORDS: &[&str] = &[
    "Алтын Дала",
    "Көктем",
    "Жұлдыз",
    "Береке",
    "Ақ Жол",
    "Шаңырақ",
    "Нұр",
    "Самұрық",
    "Тұлпар",
    "Жетісу",
    "Алатау",
    "Сарыарқа",
    "Атамекен",
    "Бәйтерек",
    "Қазына",
    "Болашақ",
    "Ұлытау",
    "Достық",
    "Өркен",
    "Кемел",
    "Таза Су",
    "Ырыс",
    "Мерей",
    "Сұңқар",
    "Арай",
    "Құлагер",
];
/// Line of business: (Kazakh, Russian).
const ORG_SECTORS: &[(&str, &str)] = &[
    ("Құрылыс", "Строй"),
    ("Агро", "Агро"),
    ("Сервис", "Сервис"),
    ("Фарм", "Фарм"),
    ("Тех", "Тех"),
    ("Логистика", "Логистика"),
    ("Азық", "Продукт"),
    ("Мед", "Мед"),
    ("Энерго", "Энерго"),
    ("Софт", "Софт"),
    ("Экология", "Экология"),
    ("Трейд", "Трейд"),
];
/// Legal forms (Kazakh, Russian) with their weights.
pub const LEGAL_FORMS: &[(&str, &str, f64)] = &[
    ("ЖШС", "ТОО", 0.86),
    ("АҚ", "АО", 0.03),
    ("ҚБ", "ОО", 0.04),
    ("МКК", "ГКП", 0.03),
    ("ӨК", "ПК", 0.02),
    ("ШҚ", "КХ", 0.02),
];

/// An organization's official name in both languages, with its legal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgName {
    pub kk: String,
    pub ru: String,
}

pub fn org_name(rng: &mut Rng, form: usize) -> OrgName {
    let word = *rng.pick(ORG_WORDS);
    let (s_kk, s_ru) = *rng.pick(ORG_SECTORS);
    let (f_kk, f_ru, _) = LEGAL_FORMS[form];
    let number = if rng.chance(0.15) { format!("-{}", rng.range(1, 99)) } else { String::new() };
    OrgName {
        kk: format!("«{word} {s_kk}{number}» {f_kk}"), ru: format!("{f_ru} «{word} {s_ru}{number}»")
    }
}

/// A different name for the same organization (its rename).
pub fn org_rename(rng: &mut Rng, old: &OrgName, form: usize) -> OrgName {
    loop {
        let new = org_name(rng, form);
        if new != *old {
            return new;
        }
    }
}

/// KATO regions (first two digits) with population in thousands (2025, rounded).
pub const REGIONS: &[(&str, f64)] = &[
    ("10", 600.0),
    ("11", 790.0),
    ("15", 930.0),
    ("19", 1530.0),
    ("23", 700.0),
    ("27", 690.0),
    ("31", 1220.0),
    ("33", 700.0),
    ("35", 1130.0),
    ("39", 830.0),
    ("43", 830.0),
    ("47", 780.0),
    ("55", 750.0),
    ("59", 530.0),
    ("61", 2150.0),
    ("62", 220.0),
    ("63", 720.0),
    ("71", 1500.0),
    ("75", 2300.0),
    ("79", 1250.0),
];

/// A 9-digit KATO code in a region drawn by population.
pub fn kato(rng: &mut Rng, weights: &[f64]) -> String {
    let region = REGIONS[rng.weighted(weights)].0;
    format!("{region}{:02}{:02}{:03}", rng.range(1, 30), rng.range(0, 40), rng.range(0, 200))
}

pub fn region_weights() -> Vec<f64> {
    REGIONS.iter().map(|(_, w)| *w).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_follow_sex() {
        let mut rng = Rng::keyed(1, 1, 1);
        for _ in 0..2000 {
            let m = person_name(&mut rng, Sex::Male);
            let f = person_name(&mut rng, Sex::Female);
            assert!(!m.surname.ends_with("қызы") && !m.surname.ends_with('а'), "{m:?}");
            assert!(f.surname.ends_with("қызы") || f.surname.ends_with('а'), "{f:?}");
            if let Some(p) = &m.patronymic {
                assert!(p.ends_with("ұлы") || p.ends_with("ич"), "{p}");
            }
            if let Some(p) = &f.patronymic {
                assert!(p.ends_with("қызы") || p.ends_with("на"), "{p}");
            }
        }
    }

    #[test]
    fn org_names_carry_forms_in_both_languages() {
        let mut rng = Rng::keyed(1, 2, 3);
        let n = org_name(&mut rng, 0);
        assert!(n.kk.ends_with("ЖШС") && n.ru.starts_with("ТОО"), "{n:?}");
        assert_ne!(org_rename(&mut rng, &n, 0), n);
    }
}
