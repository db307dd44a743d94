//! The hold record: manual mode (automatic failover off, a person's switch) and the block after
//! a failover (no further automatic failover for a while, orchestrator's
//! `RecoveryPeriodBlockSeconds`), both kept in one Consul KV key per name,
//! `sengu/hold/<name>`, where the name is the Redis service or the MySQL master node as the
//! other executables call it.
//!
//! The value is JSON, each part optional:
//!
//! ```json
//! {"manual": {"who": "alice@db3", "why": "migrating", "since": "2025-05-01T10:00:00Z", "until": null},
//!  "block":  {"who": "root@mon1", "why": "after the failover 10.0.0.11:3306 -> 10.0.0.12:3306",
//!             "since": "2025-05-01T11:00:00Z", "until": "2025-05-01T12:00:00Z"}}
//! ```
//!
//! A part whose `until` has passed counts as off and is shown as expired. A value that is not
//! this JSON counts as manual mode on (someone wrote something there; refusing to guess is the
//! safe side) until `sengu-drill manual off` clears it. Every write is compare-and-set against
//! the index read, re-read and decided again when another writer got there first; a lost reply
//! is settled by reading again. Who obeys what is the business of each executable; this module
//! only reads, describes and writes the record. [`manual`] is `sengu-drill manual`.

pub mod manual;

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::consul::{self, Client, KvWrite};

/// Where every hold lives.
pub const PREFIX: &str = "sengu/hold/";

/// How often a write reads and decides again after another writer changed the key.
const MAX_ATTEMPTS: u32 = 5;

/// The longest name accepted: well inside a KV key and a DNS label set.
const MAX_NAME: usize = 128;

/// The KV key of `name`'s hold.
pub fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// A hold's name as the other executables take a Consul node or service name: letters, digits,
/// `-`, `_` and `.` (also the characters every Consul version accepts in a KV key).
pub fn validate_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid { Ok(()) } else { Err(format!("invalid name {name:?}: expected up to {MAX_NAME} letters, digits, '-', '_' or '.'")) }
}

/// One part of the record: who set it, why, since when and until when (`None`: until a person
/// turns it off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// `user@host`.
    pub who: String,
    pub why: String,
    #[serde(with = "rfc3339")]
    pub since: SystemTime,
    #[serde(with = "rfc3339_opt", default)]
    pub until: Option<SystemTime>,
}

impl Hold {
    /// A hold set now by whoever runs this process, for `lasts` (`None`: until turned off).
    pub fn now(why: impl Into<String>, lasts: Option<Duration>) -> Hold {
        Hold::at(SystemTime::now(), who(), why, lasts)
    }

    /// A hold set at `since` by `who`.
    pub fn at(since: SystemTime, who: String, why: impl Into<String>, lasts: Option<Duration>) -> Hold {
        // Whole seconds, as stored: what was written reads back equal.
        let since = whole_seconds(since);
        Hold { who, why: why.into(), since, until: lasts.map(|d| since + Duration::from_secs(d.as_secs().max(1))) }
    }

    /// Still in force at `now`.
    pub fn is_active(&self, now: SystemTime) -> bool {
        self.until.is_none_or(|until| now < until)
    }

    fn until_text(&self) -> Option<String> {
        self.until.map(time_text)
    }
}

/// The stored JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    manual: Option<Hold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    block: Option<Hold>,
}

/// A name's hold record as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holds {
    pub name: String,
    pub key: String,
    /// Manual mode as stored, active or expired.
    pub manual: Option<Hold>,
    /// The post-failover block as stored, active or expired.
    pub block: Option<Hold>,
    /// The key holds something that is not a hold record: why it could not be read. Counts
    /// as manual mode on.
    pub unreadable: Option<String>,
    /// The key's ModifyIndex (0: absent), for compare-and-set.
    #[serde(skip)]
    pub modify_index: u64,
}

/// Reads `name`'s hold record (one KV read). An absent key is no hold.
pub fn read(client: &Client, name: &str) -> Result<Holds, consul::Error> {
    let key = key(name);
    let pair = client.kv_get(&key)?;
    let mut holds = Holds { name: name.to_string(), key, manual: None, block: None, unreadable: None, modify_index: 0 };
    if let Some(pair) = pair {
        holds.modify_index = pair.modify_index;
        match serde_json::from_slice::<Record>(&pair.value) {
            Ok(record) => {
                holds.manual = record.manual;
                holds.block = record.block;
            }
            Err(e) => holds.unreadable = Some(format!("not a hold record ({e})")),
        }
    }
    Ok(holds)
}

impl Holds {
    /// True while manual mode is on or a block holds (or the record cannot be read): no
    /// automatic failover may start, and drills refuse.
    pub fn blocks_automatic_failover(&self, now: SystemTime) -> bool {
        self.unreadable.is_some() || self.active_manual(now).is_some() || self.active_block(now).is_some()
    }

    /// Manual mode, if on at `now`.
    pub fn active_manual(&self, now: SystemTime) -> Option<&Hold> {
        self.manual.as_ref().filter(|h| h.is_active(now))
    }

    /// The block, if in force at `now`.
    pub fn active_block(&self, now: SystemTime) -> Option<&Hold> {
        self.block.as_ref().filter(|h| h.is_active(now))
    }

    /// One line for a check's or a hook's output, naming what holds; `None` when nothing does.
    pub fn describe(&self, now: SystemTime) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(why) = &self.unreadable {
            parts.push(format!(
                "hold record {} is {why}: treated as manual mode on; `sengu-drill manual off --name {}` clears it",
                self.key, self.name
            ));
        }
        if let Some(m) = self.active_manual(now) {
            parts.push(describe_manual(m));
        }
        if let Some(b) = self.active_block(now) {
            parts.push(describe_block(b));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Both parts, each on its own line, whether on, off or expired: `status` output.
    pub fn status_lines(&self, now: SystemTime) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(why) = &self.unreadable {
            lines.push(format!("hold record {}: {why} (counts as manual mode on)", self.key));
        }
        lines.push(match &self.manual {
            None => "manual mode: off".to_string(),
            Some(m) if m.is_active(now) => format!("manual mode: {}", describe_manual(m)),
            Some(m) => format!("manual mode: off (expired at {}; was {})", m.until_text().unwrap_or_default(), describe_manual(m)),
        });
        lines.push(match &self.block {
            None => "post-failover block: none".to_string(),
            Some(b) if b.is_active(now) => format!("post-failover block: {}", describe_block(b)),
            Some(b) => format!("post-failover block: expired at {} ({}, set by {})", b.until_text().unwrap_or_default(), b.why, b.who),
        });
        lines
    }
}

fn describe_manual(m: &Hold) -> String {
    let until = m.until_text().map(|u| format!(" (until {u})")).unwrap_or_default();
    format!("manual mode on since {} by {}: {:?}{until}", time_text(m.since), m.who, m.why)
}

fn describe_block(b: &Hold) -> String {
    let until = b.until_text().unwrap_or_else(|| "turned off".into());
    format!("automatic failover blocked until {until} {} (set by {})", b.why, b.who)
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// The record was changed; it now holds this.
    Changed(Holds),
    /// Nothing needed changing; the record as read.
    Unchanged(Holds),
}

impl Written {
    pub fn holds(&self) -> &Holds {
        match self {
            Written::Changed(h) | Written::Unchanged(h) => h,
        }
    }
}

/// Turns manual mode on (or replaces the manual part), keeping any block.
pub fn set_manual(client: &Client, name: &str, hold: &Hold) -> Result<Written, consul::Error> {
    update(client, name, |record| {
        record.manual = Some(hold.clone());
        true
    })
}

/// Writes a post-failover block, keeping manual mode. An active block for the same failover
/// (same `why`), or one that lasts at least as long, is kept as it is, so a rerun of the hook
/// changes nothing.
pub fn set_block(client: &Client, name: &str, hold: &Hold) -> Result<Written, consul::Error> {
    let now = SystemTime::now();
    update(client, name, |record| {
        let keep = record.block.as_ref().is_some_and(|b| {
            b.is_active(now) && (b.why == hold.why || b.until.is_none_or(|u| hold.until.is_some_and(|h| u >= h)))
        });
        if keep {
            return false;
        }
        record.block = Some(hold.clone());
        true
    })
}

/// Clears manual mode and the block: deletes the record (compare-and-set).
pub fn clear(client: &Client, name: &str) -> Result<Written, consul::Error> {
    let key = key(name);
    let mut last = None;
    for _ in 0..MAX_ATTEMPTS {
        let before = read(client, name)?;
        if before.modify_index == 0 {
            return Ok(Written::Unchanged(before));
        }
        match client.kv_delete(&key, Some(before.modify_index)) {
            Ok(()) => return Ok(Written::Changed(before)),
            Err(e @ consul::Error::CasConflict { .. }) => last = Some(e),
            Err(e) if e.may_have_applied() => {
                // Gone now means the delete (or someone's) went through.
                return match read(client, name) {
                    Ok(after) if after.modify_index == 0 => Ok(Written::Changed(before)),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| consul::Error::CasConflict { addr: client.address().to_string(), key, index: 0 }))
}

/// Reads, lets `change` edit the record (it returns false for "nothing to do"), writes it back
/// with compare-and-set; again on a conflict.
fn update(client: &Client, name: &str, mut change: impl FnMut(&mut Record) -> bool) -> Result<Written, consul::Error> {
    let key = key(name);
    let mut last = None;
    for _ in 0..MAX_ATTEMPTS {
        let before = read(client, name)?;
        // An unreadable value is replaced by a record of our own: the caller is a person's
        // switch or a hook that just failed over, and either says more than the garbage did.
        let mut record = Record { manual: before.manual.clone(), block: before.block.clone() };
        if !change(&mut record) && before.unreadable.is_none() {
            return Ok(Written::Unchanged(before));
        }
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        let after = Holds { manual: record.manual.clone(), block: record.block.clone(), unreadable: None, ..before.clone() };
        match client.kv_put(&key, &bytes, KvWrite::cas(before.modify_index)) {
            Ok(()) => return Ok(Written::Changed(read(client, name).unwrap_or(after))),
            Err(e @ consul::Error::CasConflict { .. }) => last = Some(e),
            Err(e) if e.may_have_applied() => {
                return match read(client, name) {
                    Ok(now) if now.manual == record.manual && now.block == record.block => Ok(Written::Changed(now)),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| consul::Error::CasConflict { addr: client.address().to_string(), key, index: 0 }))
}

/// `user@host` of whoever runs this process: the person behind `sudo` (`SUDO_USER`), else
/// `USER`, else `LOGNAME`, else the numeric uid; the kernel's host name.
pub fn who() -> String {
    who_from(|name| std::env::var(name).ok(), &hostname())
}

fn who_from(var: impl Fn(&str) -> Option<String>, host: &str) -> String {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .into_iter()
        .filter_map(&var)
        .map(|u| u.trim().to_string())
        .find(|u| !u.is_empty() && !u.chars().any(char::is_control))
        .unwrap_or_else(|| format!("uid{}", nix::unistd::getuid()));
    format!("{user}@{host}")
}

/// The host name, from the kernel (no dependency on a resolver).
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| crate::files::read_to_string(std::path::Path::new(p), 256).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// RFC 3339 in UTC, whole seconds: how every time in the record is written.
pub fn time_text(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => t,
    }
}

impl fmt::Display for Holds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(SystemTime::now()).unwrap_or_else(|| format!("automatic failover on for {}", self.name)))
    }
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&super::time_text(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

mod rfc3339_opt {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&super::time_text(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Option::<String>::deserialize(d)?.map(|text| humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).unwrap()
    }

    fn holds(manual: Option<Hold>, block: Option<Hold>) -> Holds {
        Holds { name: "foo-db-master".into(), key: key("foo-db-master"), manual, block, unreadable: None, modify_index: 7 }
    }

    fn manual(until: Option<&str>) -> Hold {
        Hold { who: "alice@db3".into(), why: "migrating".into(), since: t("2025-05-01T10:00:00Z"), until: until.map(t) }
    }

    fn block() -> Hold {
        Hold::at(t("2025-05-01T11:00:00Z"), "root@mon1".into(), "after the failover 10.0.0.11:3306 -> 10.0.0.12:3306", Some(Duration::from_secs(3600)))
    }

    #[test]
    fn names_are_node_and_service_names() {
        for ok in ["foo-db-master", "redis", "db_1.main"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "..", ".x", "a:b", &"x".repeat(129)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(key("redis"), "sengu/hold/redis");
    }

    #[test]
    fn the_record_round_trips_as_documented() {
        let record = Record { manual: Some(manual(None)), block: Some(block()) };
        let json: serde_json::Value = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "manual": {"who": "alice@db3", "why": "migrating", "since": "2025-05-01T10:00:00Z", "until": null},
                "block": {"who": "root@mon1", "why": "after the failover 10.0.0.11:3306 -> 10.0.0.12:3306",
                          "since": "2025-05-01T11:00:00Z", "until": "2025-05-01T12:00:00Z"}
            })
        );
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), record);
        assert_eq!(serde_json::from_str::<Record>("{}").unwrap(), Record::default());
        assert_eq!(serde_json::to_string(&Record::default()).unwrap(), "{}");
    }

    #[test]
    fn nothing_held_blocks_nothing_and_describes_as_none() {
        let now = t("2025-05-01T10:30:00Z");
        let h = holds(None, None);
        assert!(!h.blocks_automatic_failover(now));
        assert_eq!(h.describe(now), None);
        assert_eq!(h.status_lines(now), ["manual mode: off", "post-failover block: none"]);
    }

    #[test]
    fn manual_mode_holds_until_its_end_and_then_shows_expired() {
        let h = holds(Some(manual(Some("2025-05-01T12:00:00Z"))), None);
        let during = t("2025-05-01T11:59:59Z");
        assert!(h.blocks_automatic_failover(during));
        assert_eq!(
            h.describe(during).unwrap(),
            "manual mode on since 2025-05-01T10:00:00Z by alice@db3: \"migrating\" (until 2025-05-01T12:00:00Z)"
        );
        let after = t("2025-05-01T12:00:00Z");
        assert!(!h.blocks_automatic_failover(after), "an expired hold counts as off");
        assert_eq!(h.describe(after), None);
        assert!(h.status_lines(after)[0].starts_with("manual mode: off (expired at 2025-05-01T12:00:00Z; was manual mode on since"), "{:?}", h.status_lines(after));
        let forever = holds(Some(manual(None)), None);
        assert!(forever.blocks_automatic_failover(t("2099-01-01T00:00:00Z")));
    }

    #[test]
    fn a_block_holds_for_its_period_and_both_parts_are_described() {
        let h = holds(Some(manual(None)), Some(block()));
        let during = t("2025-05-01T11:30:00Z");
        assert!(h.blocks_automatic_failover(during));
        let line = h.describe(during).unwrap();
        assert_eq!(
            line,
            "manual mode on since 2025-05-01T10:00:00Z by alice@db3: \"migrating\"; automatic failover blocked until \
             2025-05-01T12:00:00Z after the failover 10.0.0.11:3306 -> 10.0.0.12:3306 (set by root@mon1)"
        );
        let only_block = holds(None, Some(block()));
        assert!(only_block.blocks_automatic_failover(during));
        assert!(!only_block.blocks_automatic_failover(t("2025-05-01T12:00:01Z")));
        assert_eq!(only_block.status_lines(t("2025-05-01T12:00:01Z"))[1], "post-failover block: expired at 2025-05-01T12:00:00Z (after the failover 10.0.0.11:3306 -> 10.0.0.12:3306, set by root@mon1)");
    }

    #[test]
    fn an_unreadable_record_counts_as_manual_mode() {
        let mut h = holds(None, None);
        h.unreadable = Some("not a hold record (expected value at line 1 column 1)".into());
        let now = SystemTime::now();
        assert!(h.blocks_automatic_failover(now));
        assert!(h.describe(now).unwrap().contains("treated as manual mode on; `sengu-drill manual off --name foo-db-master` clears it"));
    }

    #[test]
    fn who_prefers_the_person_behind_sudo() {
        let env = |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        assert_eq!(who_from(env(&[("SUDO_USER", "alice"), ("USER", "root")]), "db3"), "alice@db3");
        assert_eq!(who_from(env(&[("USER", "bob"), ("LOGNAME", "x")]), "db3"), "bob@db3");
        assert_eq!(who_from(env(&[("USER", ""), ("LOGNAME", "carol")]), "db3"), "carol@db3");
        assert!(who_from(env(&[]), "db3").starts_with("uid"));
    }
}
