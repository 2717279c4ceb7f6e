//! Calendar arithmetic in UTC: civil dates ↔ days since the Unix epoch (Howard Hinnant's
//! algorithms), RFC 5322 `Date` values, and the dates Gmail's search operators take.

use crate::wire::unix_now;

/// Milliseconds in a day.
pub(super) const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = i64::from((month + 9) % 12);
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `(year, month, day)` of a day number from [`days_from_civil`].
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// An RFC 5322 date in UTC, e.g. `Mon, 31 Mar 2025 09:30:00 +0000`.
pub(super) fn rfc5322(ms: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = ms.div_euclid(DAY_MS);
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    let (year, month, day) = civil_from_days(days);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(month as usize + 11) % 12];
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{weekday}, {day:02} {month} {year} {h:02}:{m:02}:{s:02} +0000")
}

/// Midnight UTC, in ms, of `YYYY/MM/DD` (or `YYYY-MM-DD`), or of a bare count of Unix seconds
/// (Gmail accepts both after `after:` and `before:`).
pub(super) fn parse_search_date(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok()?.checked_mul(1000);
    }
    let mut fields = text.split(['/', '-']);
    let year: i64 = fields.next()?.parse().ok()?;
    let month: u32 = fields.next()?.parse().ok()?;
    let day: u32 = fields.next()?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    let valid = fields.next().is_none() && civil_from_days(days) == (year, month, day);
    valid.then_some(days * DAY_MS)
}

/// The length of `newer_than:`/`older_than:` periods in ms: `3d`, `2m` (30-day months), `1y`.
pub(super) fn parse_period(text: &str) -> Option<i64> {
    let unit = match text.chars().last()? {
        'd' | 'D' => DAY_MS,
        'm' | 'M' => 30 * DAY_MS,
        'y' | 'Y' => 365 * DAY_MS,
        _ => return None,
    };
    let count: i64 = text.get(..text.len() - 1)?.parse().ok()?;
    count.checked_mul(unit)
}

/// Now, in ms since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX / 1000) * 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip_and_format() {
        for days in [-800_000, -1, 0, 1, 19_000, 20_178, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        let ms = days_from_civil(2025, 3, 31) * DAY_MS + 34_200_000;
        assert_eq!(rfc5322(ms), "Mon, 31 Mar 2025 09:30:00 +0000");
    }

    #[test]
    fn search_dates_and_periods_parse() {
        let day = days_from_civil(2025, 3, 29) * DAY_MS;
        assert_eq!(parse_search_date("2025/03/29"), Some(day));
        assert_eq!(parse_search_date("2025-3-29"), Some(day));
        assert_eq!(parse_search_date("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_search_date("2025/02/30"), None);
        assert_eq!(parse_search_date("yesterday"), None);
        assert_eq!(parse_period("2d"), Some(2 * DAY_MS));
        assert_eq!(parse_period("1y"), Some(365 * DAY_MS));
        assert_eq!(parse_period("d"), None);
    }
}
