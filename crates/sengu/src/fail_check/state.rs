//! What one run of `mysql-fail-check` leaves for the next: the dead streak, the master's server
//! id and replicas learned while it was reachable, and each replica's last progress. One small
//! JSON file per master address, replaced atomically (temp file + rename) and guarded by an
//! exclusive lock on a sibling `.lock` file for the whole run, so two concurrent runs never count
//! the same death twice.
//!
//! A missing, unreadable or corrupt file is not fatal: the run starts from a fresh state and
//! says so (a fresh state can only delay a failover, never cause one).

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::addr::HostPort;

/// Where state files live unless `--state-dir` or `[mysql-fail-check] state_dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/sengu/mysql-fail-check";

/// The remembered state for one master address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// The master this file is about (`host:port` as mysqlfailover passes it).
    pub master: String,
    #[serde(with = "opt_time")]
    pub last_run: Option<SystemTime>,
    /// Consecutive runs that found the master dead (0 after a run found it alive).
    pub dead_runs: u32,
    /// The first run of the current dead streak.
    #[serde(with = "opt_time")]
    pub dead_since: Option<SystemTime>,
    /// The master's `@@server_id`, recorded whenever this monitor reached it.
    pub master_server_id: Option<u32>,
    /// The master's replicas as `SHOW SLAVE HOSTS` last listed them.
    #[serde(with = "host_ports")]
    pub topology: Vec<HostPort>,
    #[serde(with = "opt_time")]
    pub topology_learned: Option<SystemTime>,
    /// Per replica (`host:port`): its progress marker and since when it has not changed.
    pub progress: BTreeMap<String, Seen>,
}

/// A replica's progress marker (heartbeats received, read position) and when it was first seen
/// with this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub progress: String,
    #[serde(with = "time")]
    pub since: SystemTime,
}

/// Why the state could not be kept. The run goes on with a fresh state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot create state directory {}: {source}", .path.display())]
    Dir { path: PathBuf, source: io::Error },
    #[error("cannot open lock file {}: {source}", .path.display())]
    LockFile { path: PathBuf, source: io::Error },
    #[error("another run holds {} (waited {})", .path.display(), crate::human::duration(*.waited))]
    Busy { path: PathBuf, waited: Duration },
    #[error("cannot write state file {}: {source}", .path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// The state file of one master, locked for this run until dropped.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    master: HostPort,
    _lock: Flock<File>,
}

/// `10.0.0.11_3306`: the master's address, safe as a file name (IPv6 colons become `_`).
pub fn file_stem(master: &HostPort) -> String {
    let host: String = master.host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    format!("{host}_{}", master.port)
}

impl StateFile {
    /// Creates `dir` if needed and takes the master's lock, waiting up to `wait` for a
    /// concurrent run to finish.
    pub fn lock(dir: &Path, master: &HostPort, wait: Duration) -> Result<StateFile, StateError> {
        DirBuilder::new().recursive(true).mode(0o750).create(dir).map_err(|source| StateError::Dir { path: dir.to_owned(), source })?;
        let stem = file_stem(master);
        let lock_path = dir.join(format!("{stem}.lock"));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o640)
            .open(&lock_path)
            .map_err(|source| StateError::LockFile { path: lock_path.clone(), source })?;
        let started = Instant::now();
        let deadline = started + wait;
        let lock = loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => break lock,
                Err((f, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    file = f;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err((_, Errno::EWOULDBLOCK)) => return Err(StateError::Busy { path: lock_path, waited: started.elapsed() }),
                Err((_, errno)) => return Err(StateError::LockFile { path: lock_path, source: errno.into() }),
            }
        };
        Ok(StateFile { path: dir.join(format!("{stem}.json")), master: master.clone(), _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored state; a fresh one when there is none. `Err` says why a file that exists
    /// could not be used (the caller then starts fresh and logs it).
    pub fn load(&self) -> Result<State, String> {
        let fresh = State { master: self.master.to_string(), ..State::default() };
        let text = match crate::files::read_to_string(&self.path, crate::files::CONFIG_LIMIT) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(fresh),
            Err(e) => return Err(format!("cannot read state file {}: {e}", self.path.display())),
        };
        let state: State = serde_json::from_str(&text).map_err(|e| format!("state file {} is corrupt ({e})", self.path.display()))?;
        if state.master != fresh.master {
            return Err(format!("state file {} is about {:?}, not {}", self.path.display(), state.master, fresh.master));
        }
        Ok(state)
    }

    /// Replaces the file atomically: a reader sees the old or the new state, never half of one.
    pub fn save(&self, state: &State) -> Result<(), StateError> {
        let tmp = self.path.with_extension("json.tmp");
        let error = |source| StateError::Write { path: self.path.clone(), source };
        let mut text = serde_json::to_string_pretty(state).map_err(|e| error(io::Error::other(e)))?;
        text.push('\n');
        let mut file = OpenOptions::new().create(true).write(true).truncate(true).mode(0o640).open(&tmp).map_err(error)?;
        file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(error)?;
        fs::rename(&tmp, &self.path).map_err(error)
    }
}

/// `SystemTime` as RFC 3339 text, so the file reads well.
mod time {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(*t))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)
    }
}

mod opt_time {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&humantime::format_rfc3339_millis(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Option::<String>::deserialize(d)?.map(|text| humantime::parse_rfc3339_weak(&text).map_err(serde::de::Error::custom)).transpose()
    }
}

mod host_ports {
    use super::*;

    pub fn serialize<S: serde::Serializer>(v: &[HostPort], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(ToString::to_string))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<HostPort>, D::Error> {
        Vec::<String>::deserialize(d)?.iter().map(|s| s.parse().map_err(serde::de::Error::custom)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> HostPort {
        "10.0.0.11:3306".parse().unwrap()
    }

    fn sample() -> State {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        State {
            master: master().to_string(),
            last_run: Some(t),
            dead_runs: 1,
            dead_since: Some(t),
            master_server_id: Some(11),
            topology: vec!["10.0.0.12:3306".parse().unwrap()],
            topology_learned: Some(t),
            progress: [("10.0.0.12:3306".to_string(), Seen { progress: "hb=3".into(), since: t })].into(),
        }
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_stem(&master()), "10.0.0.11_3306");
        assert_eq!(file_stem(&"[fe80::1]:3306".parse().unwrap()), "fe80__1_3306");
    }

    #[test]
    fn state_round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        let file = StateFile::lock(&sub, &master(), Duration::ZERO).unwrap();
        assert_eq!(file.load().unwrap(), State { master: master().to_string(), ..State::default() });
        file.save(&sample()).unwrap();
        assert_eq!(file.load().unwrap(), sample());
        let text = fs::read_to_string(file.path()).unwrap();
        assert!(text.contains("\"last_run\": \"2023-11-14T22:13:20.123Z\""), "{text}");
        assert!(!sub.join("10.0.0.11_3306.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::lock(dir.path(), &master(), Duration::ZERO).unwrap();
        fs::write(file.path(), "{not json").unwrap();
        assert!(file.load().unwrap_err().contains("is corrupt"));
        let foreign = State { master: "10.9.9.9:1".into(), ..State::default() };
        fs::write(file.path(), serde_json::to_string(&foreign).unwrap()).unwrap();
        assert!(file.load().unwrap_err().contains("not 10.0.0.11:3306"));
        // Unknown keys and missing ones are fine: newer and older versions share the file.
        fs::write(file.path(), r#"{"master": "10.0.0.11:3306", "dead_runs": 2, "future": true}"#).unwrap();
        assert_eq!(file.load().unwrap().dead_runs, 2);
    }

    #[test]
    fn a_second_run_waits_for_the_lock_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let held = StateFile::lock(dir.path(), &master(), Duration::ZERO).unwrap();
        let started = Instant::now();
        let e = StateFile::lock(dir.path(), &master(), Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, StateError::Busy { .. }), "{e}");
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(held);
        StateFile::lock(dir.path(), &master(), Duration::ZERO).unwrap();
    }

    #[test]
    fn an_unwritable_directory_is_an_error() {
        let e = StateFile::lock(Path::new("/proc/sengu-no-such-dir"), &master(), Duration::ZERO).unwrap_err();
        assert!(matches!(e, StateError::Dir { .. }), "{e}");
    }
}
