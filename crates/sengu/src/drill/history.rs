//! Drill reports kept in Consul KV under `sengu/drills/<service>/<time>`, one JSON report per
//! drill, and `sengu-drill history` to list them. Keeping them in Consul puts the record next
//! to the services it is about, readable by any operator with the Consul CLI.
//!
//! The time in the key is the drill's start in UTC, written `20250501T100000.123Z`: RFC 3339
//! without its `-` and `:`, because Consul's safe key alphabet (reference §3) has no `:`, and
//! this form still sorts by time. The report inside carries the full RFC 3339 time.

use std::fmt::Write as _;

use super::report::{Report, Stat};
use crate::consul::{self, Client, KvWrite};

/// Where every report lives.
pub const PREFIX: &str = "sengu/drills/";

/// The key for a report of `service` started at `started_at` (RFC 3339).
pub fn key(service: &str, started_at: &str) -> String {
    let compact: String = started_at.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{PREFIX}{service}/{compact}")
}

/// Stores `report` under a new key (never overwriting one) and returns the key.
pub fn store(consul: &Client, report: &Report) -> Result<String, consul::Error> {
    let key = key(&report.service, &report.started_at);
    consul.kv_put(&key, report.render_json().as_bytes(), KvWrite::cas(0))?;
    Ok(key)
}

/// One stored drill: its key and the report, or why it could not be read.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub report: Result<Report, String>,
}

/// The stored reports of `service` (or of every service), oldest first, at most the last
/// `limit`.
pub fn list(consul: &Client, service: Option<&str>, limit: usize) -> Result<Vec<Entry>, consul::Error> {
    let prefix = match service {
        Some(s) => format!("{PREFIX}{s}/"),
        None => PREFIX.to_string(),
    };
    let mut pairs = consul.kv_list(&prefix)?;
    pairs.sort_by(|a, b| time_part(&a.key).cmp(time_part(&b.key)).then_with(|| a.key.cmp(&b.key)));
    let skip = pairs.len().saturating_sub(limit);
    Ok(pairs
        .into_iter()
        .skip(skip)
        .map(|p| Entry { report: serde_json::from_slice(&p.value).map_err(|e| format!("not a drill report: {e}")), key: p.key })
        .collect())
}

fn time_part(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The history in `format`.
pub fn render(entries: &[Entry], format: crate::check::Format) -> String {
    match format {
        crate::check::Format::Text => render_text(entries),
        crate::check::Format::Json => render_json(entries),
    }
}

/// The history as a table, one drill per line.
pub fn render_text(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no drills recorded\n".to_string();
    }
    let width = entries.iter().filter_map(|e| e.report.as_ref().ok()).map(|r| r.service.len()).max().unwrap_or(0).max(7);
    let mut out = format!(
        "{:<24}  {:<width$}  {:<5}  {:>6}  {:<8}  {:>21}  {:>20}  {:>4}  {:>9}\n",
        "started (UTC)", "service", "kind", "rounds", "result", "write-unavail med/max", "DNS converge med/max", "lost", "2 masters"
    );
    for e in entries {
        match &e.report {
            Err(why) => {
                let _ = writeln!(out, "{}: {why}", e.key);
            }
            Ok(r) => {
                let s = &r.summary;
                let result = if r.passed { "passed" } else if r.refused { "refused" } else { "FAILED" };
                let _ = writeln!(
                    out,
                    "{:<24}  {:<width$}  {:<5}  {:>6}  {:<8}  {:>21}  {:>20}  {:>4}  {:>9}",
                    r.started_at,
                    r.service,
                    r.kind.as_str(),
                    format!("{}/{}", s.rounds_passed, s.rounds),
                    result,
                    pair(&s.write_unavailable_ms),
                    pair(&s.dns_convergence_ms),
                    s.writes_lost,
                    s.two_masters_in_dns
                );
            }
        }
    }
    out
}

/// `123.4/150.0 ms`.
fn pair(s: &Stat) -> String {
    match (s.median, s.max) {
        (Some(m), Some(x)) => format!("{m:.1}/{x:.1} ms"),
        _ => "n/a".to_string(),
    }
}

/// The history as a JSON array of `{key, report…}`.
pub fn render_json(entries: &[Entry]) -> String {
    let values: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| match &e.report {
            Ok(r) => serde_json::json!({ "key": e.key, "report": r }),
            Err(why) => serde_json::json!({ "key": e.key, "error": why }),
        })
        .collect();
    serde_json::Value::Array(values).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::report::{DrillKind, Report};

    #[test]
    fn keys_drop_colons_and_still_sort_by_time() {
        assert_eq!(key("redis", "2025-05-01T10:00:00.123Z"), "sengu/drills/redis/20250501T100000.123Z");
        assert!(key("r", "2025-05-01T10:00:00.123Z") < key("r", "2025-05-01T10:00:01.000Z"));
    }

    #[test]
    fn the_table_shows_each_drill_on_one_line() {
        let mut r = Report::new(DrillKind::Redis, "redis", "2025-05-01T10:00:00.123Z".into());
        r.finish();
        let entries = vec![
            Entry { key: key("redis", &r.started_at), report: Ok(r) },
            Entry { key: "sengu/drills/x/y".into(), report: Err("not a drill report: eof".into()) },
        ];
        let text = render_text(&entries);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.lines().nth(1).unwrap().starts_with("2025-05-01T10:00:00.123Z  redis"), "{text}");
        assert!(text.contains("sengu/drills/x/y: not a drill report"));
        let json: serde_json::Value = serde_json::from_str(&render_json(&entries)).unwrap();
        assert_eq!(json[0]["report"]["service"], "redis");
        assert!(json[1]["error"].is_string());
    }
}
