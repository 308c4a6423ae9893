//! Time values as pyftpsync writes them into metadata and output.

use chrono::{DateTime, Local, Offset, TimeZone, Utc};

/// Python's `datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")` (local time).
pub fn local_stamp(t: f64) -> String {
    match to_datetime(t) {
        Some(dt) => dt.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S").to_string(),
        None => "n.a.".to_string(),
    }
}

/// Python's `time.mktime(time.gmtime(t))`: the UTC wall-clock time read back as local time,
/// an integral value shifted by the local UTC offset (a pyftpsync quirk kept for identical bytes).
pub fn mktime_of_gmtime(t: f64) -> f64 {
    let secs = t.floor() as i64;
    let offset = Local.timestamp_opt(secs, 0).single().map_or(0, |dt| dt.offset().fix().local_minus_utc());
    (secs - i64::from(offset)) as f64
}

/// ISO 8601 UTC, for plans and reports.
pub fn iso_utc(t: f64) -> String {
    match to_datetime(t) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "n.a.".to_string(),
    }
}

fn to_datetime(t: f64) -> Option<DateTime<Utc>> {
    // Python rounds to microseconds before formatting; whole seconds are then truncated.
    let micros = (t * 1e6).round() as i64;
    DateTime::from_timestamp_micros(micros)
}
