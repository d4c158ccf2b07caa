//! Step 9 (seed 000, §9): the recipient's mobile number in МАБ: the latest `active` number
//! registered by the time of sending, that is a Kazakhstan mobile number (and the others,
//! to try in turn when an SMS is not delivered).

use crate::registry::mobile_base as mb;
use chrono::NaiveDateTime;
use polars::prelude::*;

/// For the given recipients (`iin` column), their active mobile numbers registered by `at`,
/// latest first (`phone`: a list; the first is the one to text, the others are tried in turn
/// when an SMS is not delivered).
pub fn active_numbers(mobile: LazyFrame, iins: &[String], at: NaiveDateTime) -> LazyFrame {
    // A filter on the literal IINs, which the Parquet scan applies as it reads (a join
    // would read every number first).
    let iins = lit(Series::new(mb::IIN.into(), iins)).implode(false);
    let at = lit(Scalar::new_datetime(at.and_utc().timestamp_micros(), TimeUnit::Microseconds, None));
    let usable = col(mb::PHONE).map(
        |c: Column| {
            let ca = c.str()?;
            Ok(crate::frames::bool_column(c.name().clone(), ca.iter().map(|p| p.is_some_and(mb::is_mobile))))
        },
        |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)),
    );
    mobile
        .filter(col(mb::IIN).is_in(iins, false))
        .filter(col(mb::STATUS).eq(lit(mb::ACTIVE)).and(col(mb::REGISTERED_AT).lt_eq(at)).and(usable))
        .group_by([col(mb::IIN)])
        .agg([col(mb::PHONE)
            .sort_by(
                [col(mb::REGISTERED_AT), col(mb::PHONE)],
                SortMultipleOptions::default().with_order_descending(true),
            )
            .unique_stable()])
}
