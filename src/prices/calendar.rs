//! Civil dates, UTC instants and times of day, without a time-zone database: price dates are UTC days, and
//! time-of-day windows carry a fixed UTC offset (DeepSeek's off-peak hours are Beijing time, which has no DST).
//!
//! Also compiled into `build.rs`; it uses nothing outside `std`.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date (year, month, day) of a day number (Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses `YYYY-MM-DD` into a day number.
pub fn parse_date(s: &str) -> Result<i64, String> {
    date_bytes(s.as_bytes()).ok_or_else(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

/// The day number of `YYYY-MM-DD` (ten bytes, digits where digits go), read in place.
fn date_bytes(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = digits(&b[..4])?;
    let (m, d) = (digits(&b[5..7])? as u32, digits(&b[8..10])? as u32);
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The value of a run of ASCII digits (all digits, none other).
fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |v, c| c.is_ascii_digit().then(|| v * 10 + i64::from(c - b'0')))
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `HH:MM` into minutes after midnight (`24:00` allowed as the end of a window).
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not a time of day (HH:MM)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses a fixed UTC offset: `UTC`, `Z`, `+08:00`, `-05:30`; returns minutes east of UTC.
pub fn parse_utc_offset(s: &str) -> Result<i32, String> {
    if s == "UTC" || s == "Z" || s == "+00:00" {
        return Ok(0);
    }
    let bad = || format!("{s:?} is not a UTC offset (UTC, +08:00, -05:30)");
    let sign = match s.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(bad()),
    };
    let minutes = parse_time_of_day(&s[1..]).map_err(|_| bad())? as i32;
    if minutes > 14 * 60 {
        return Err(bad());
    }
    Ok(sign * minutes)
}

pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The first and last instants a price can be asked about: 0001-01-01 to 9999-12-31 (what Python's `datetime`
/// and every date format hold); outside them a time is an error, never a clamped or wrapped date.
pub const FIRST_INSTANT: i64 = -62_135_596_800_000_000;
pub const LAST_INSTANT: i64 = 253_402_300_799_999_999;

/// `micros` if it lies within [`FIRST_INSTANT`, `LAST_INSTANT`], else why not.
#[inline]
pub fn instant_in_range(micros: i64) -> Result<i64, String> {
    if (FIRST_INSTANT..=LAST_INSTANT).contains(&micros) {
        Ok(micros)
    } else {
        Err(format!("{micros} µs since 1970 is outside the years 1 to 9999"))
    }
}

/// Now, in microseconds since the epoch (UTC): the instant of a price asked about without a time (a clock
/// before 1970 reads as the epoch).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// An instant from epoch seconds (an int or a float): finite and within the years 1 to 9999.
pub fn instant_of_epoch_seconds(secs: f64) -> Result<i64, String> {
    if !secs.is_finite() {
        return Err(format!("{secs} is not a time (epoch seconds must be a finite number)"));
    }
    let micros = (secs * 1e6).round();
    if !(FIRST_INSTANT as f64..=LAST_INSTANT as f64).contains(&micros) {
        return Err(format!("{secs} epoch seconds is outside the years 1 to 9999"));
    }
    Ok(micros as i64)
}

/// The UTC day number of an instant given in microseconds since the epoch.
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// Minutes after local midnight of an instant, at a fixed offset (minutes east of UTC).
pub fn minute_of_day(micros: i64, offset_minutes: i32) -> u32 {
    let local = micros + offset_minutes as i64 * 60_000_000;
    (local.rem_euclid(MICROS_PER_DAY) / 60_000_000) as u32
}

/// Whether `minute` (after midnight) is in the daily window `[start, end)`, which may cross midnight.
pub fn in_window(minute: u32, start: u32, end: u32) -> bool {
    if start <= end {
        start <= minute && minute < end
    } else {
        minute >= start || minute < end
    }
}

/// Parses an ISO 8601 date or date-time into microseconds since the epoch (UTC): `2025-03-01`,
/// `2025-03-01T12:30:00`, `2025-03-01 12:30:00.123456Z`, `2025-03-01T20:30:00+08:00`. No offset means UTC.
pub fn parse_instant(s: &str) -> Result<i64, String> {
    let micros = match instant_fast(s.as_bytes()) {
        Some(micros) => micros,
        None => parse_instant_general(s)?,
    };
    instant_in_range(micros).map_err(|_| format!("{s:?} is outside the years 1 to 9999"))
}

/// The common shape of a logged time, `YYYY-MM-DDTHH:MM:SS[.f…]Z` (up to nine fraction digits), read at fixed
/// places; `None` for any other text, which [`parse_instant_general`] reads (it gives the same for this shape).
fn instant_fast(b: &[u8]) -> Option<i64> {
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[b.len() - 1] != b'Z' {
        return None;
    }
    let day = date_bytes(&b[..10])?;
    let (h, m, sec) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let us = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            let six = digits(&frac[..frac.len().min(6)])?;
            digits(frac)?; // every one a digit
            six * 10i64.pow(6 - frac.len().min(6) as u32)
        }
        _ => return None,
    };
    Some(day * MICROS_PER_DAY + ((h * 60 + m) * 60 + sec) * 1_000_000 + us)
}

/// [`parse_instant`] for every shape it reads.
fn parse_instant_general(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not an ISO 8601 date or date-time (e.g. 2025-03-01T12:30:00Z)");
    // The date is ten ASCII characters; anything else (a multi-byte character among them) is not a date.
    let (Some(date), Some(rest)) = (s.get(..10), s.get(10..)) else {
        return Err(bad());
    };
    let day = parse_date(date).map_err(|_| bad())?;
    let mut micros = day * MICROS_PER_DAY;
    if rest.is_empty() {
        return Ok(micros);
    }
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' ')).ok_or_else(bad)?;
    // Split off the offset: Z, +HH:MM, -HH:MM (a '-' after the time part).
    let (time, offset) = if let Some(t) = rest.strip_suffix('Z').or_else(|| rest.strip_suffix('z')) {
        (t, 0)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        (&rest[..i], parse_utc_offset(&rest[i..]).map_err(|_| bad())?)
    } else {
        (rest, 0)
    };
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    // HH:MM or HH:MM:SS, two digits each.
    let hb = hms.as_bytes();
    let two = |i: usize| -> Result<i64, String> {
        match (hb[i], hb[i + 1]) {
            (a @ b'0'..=b'9', b @ b'0'..=b'9') => Ok(((a - b'0') * 10 + (b - b'0')) as i64),
            _ => Err(bad()),
        }
    };
    let (h, m, sec) = match hb.len() {
        5 if hb[2] == b':' => (two(0)?, two(3)?, 0),
        8 if hb[2] == b':' && hb[5] == b':' => (two(0)?, two(3)?, two(6)?),
        _ => return Err(bad()),
    };
    if h > 23 || m > 59 || sec > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(bad());
    }
    let mut us: i64 = 0;
    for (i, b) in frac.bytes().take(6).enumerate() {
        us += (b - b'0') as i64 * 10i64.pow(5 - i as u32);
    }
    micros += ((h * 60 + m) * 60 + sec) * 1_000_000 + us - offset as i64 * 60_000_000;
    Ok(micros)
}

/// A price date as people write it: `2025-06-10`, or `2025-09-05 16:00 UTC` when it is not midnight.
pub fn format_moment(micros: i64) -> String {
    if micros.rem_euclid(MICROS_PER_DAY) == 0 {
        format_date(micros.div_euclid(MICROS_PER_DAY))
    } else {
        let rem = micros.rem_euclid(MICROS_PER_DAY) / 1_000_000;
        format!("{} {:02}:{:02} UTC", format_date(micros.div_euclid(MICROS_PER_DAY)), rem / 3600, rem / 60 % 60)
    }
}

/// Formats microseconds since the epoch as an ISO 8601 UTC date-time.
pub fn format_instant(micros: i64) -> String {
    let day = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY) / 1_000_000;
    format!("{}T{:02}:{:02}:{:02}Z", format_date(day), rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(parse_date("2025-06-10").unwrap(), days_from_civil(2025, 6, 10));
        for d in [-800_000i64, -1, 0, 1, 10_957, 20_000, 60_000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("2024-13-01").is_err());
        assert!(parse_date("24-01-01").is_err());
    }

    #[test]
    fn instants() {
        let day = parse_date("2025-03-01").unwrap() * MICROS_PER_DAY;
        assert_eq!(parse_instant("2025-03-01").unwrap(), day);
        assert_eq!(parse_instant("2025-03-01T12:30:00Z").unwrap(), day + 45_000_000_000);
        assert_eq!(parse_instant("2025-03-01 12:30").unwrap(), day + 45_000_000_000);
        assert_eq!(parse_instant("2025-03-01T20:30:00.5+08:00").unwrap(), day + 45_000_500_000);
        assert_eq!(parse_instant("2025-03-01T07:30:00-05:00").unwrap(), day + 45_000_000_000);
        assert!(parse_instant("2025-03-01T25:00").is_err());
        assert!(parse_instant("yesterday").is_err());
        assert_eq!(format_instant(day + 45_000_000_000), "2025-03-01T12:30:00Z");
    }

    /// The fixed-place reading of the common shape gives what the general reading gives, and declines the rest:
    /// times built from pieces both right and wrong.
    #[test]
    fn the_common_time_shape_reads_as_the_general_path_does() {
        let dates = ["2025-03-01", "2024-02-29", "2023-02-29", "2025-13-01", "+025-01-01", "2025-1-011", "0000-01-01"];
        let times = ["T12:30:00", "T23:59:60", "T24:00:00", "T12:60:00", " 12:30:00", "T1:30:000", "T12:30"];
        let fracs = ["", ".5", ".123456", ".123456789", ".1234567890", ".", ".12a", ".000001"];
        let ends = ["Z", "z", "+08:00", "", "Z ", "ZZ"];
        let mut fast = 0;
        for d in dates {
            for t in times {
                for f in fracs {
                    for e in ends {
                        let s = format!("{d}{t}{f}{e}");
                        let general = parse_instant_general(&s);
                        if let Some(v) = instant_fast(s.as_bytes()) {
                            assert_eq!(general, Ok(v), "{s}");
                            fast += 1;
                        }
                        // Year 0 reads, then is out of the range a time may have.
                        let in_range = general.clone().and_then(|m| {
                            instant_in_range(m).map_err(|_| format!("{s:?} is outside the years 1 to 9999"))
                        });
                        assert_eq!(parse_instant(&s), in_range, "{s}");
                    }
                }
            }
        }
        assert_eq!(fast, 30); // 3 dates × 2 times × 5 fractions, ending in Z
        assert!(parse_instant("0000-12-31T23:59:59Z").unwrap_err().contains("outside the years 1 to 9999"));
        assert_eq!(parse_instant("0001-01-01"), Ok(FIRST_INSTANT));
        assert_eq!(parse_instant("9999-12-31T23:59:59.999999Z"), Ok(LAST_INSTANT));
        assert!(instant_of_epoch_seconds(f64::NAN).is_err() && instant_of_epoch_seconds(-1e20).is_err());
        assert!(parse_date("+025-01-01").is_err() && parse_date("2025-+1-01").is_err());
    }

    #[test]
    fn windows_and_offsets() {
        assert_eq!(parse_time_of_day("16:30").unwrap(), 990);
        assert_eq!(parse_utc_offset("+08:00").unwrap(), 480);
        assert_eq!(parse_utc_offset("UTC").unwrap(), 0);
        assert!(parse_utc_offset("8").is_err());
        // 2025-03-01 16:45 UTC is 00:45 the next day in Beijing.
        let t = (parse_date("2025-03-01").unwrap() * 86_400 + 16 * 3600 + 45 * 60) * 1_000_000;
        assert_eq!(minute_of_day(t, 480), 45);
        assert!(in_window(minute_of_day(t, 0), 990, 30)); // 16:30–00:30 UTC
        assert!(!in_window(minute_of_day(t, 0), 30, 990));
        assert_eq!(day_of(-1), -1);
    }
}
