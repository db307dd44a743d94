//! The durable log hooks write: one line per action, so an operator can reconstruct afterwards
//! what a failover changed, even when the failover manager threw the hook's output away.
//!
//! Lines are logfmt (`time=… program=… pid=… action=… key=value …`, values quoted when needed)
//! and go to a file opened with `O_APPEND` (one `write` per line, so concurrent hooks don't
//! interleave within a line) and/or the local syslog. Values are taken as `Display`, which
//! [`crate::secret::Secret`] deliberately lacks, so a secret cannot be logged. Logging never
//! changes a hook's outcome: a failure to write is reported on stderr and the hook goes on.

use std::fmt::{self, Write as _};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

/// Where action lines go, after flags, environment and the `[log]` table are merged (see
/// [`crate::settings::CommonArgs::log_target`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub file: Option<PathBuf>,
    pub syslog: bool,
}

/// An open action log. Create it once per run with [`ActionLog::open`]; each
/// [`ActionLog::record`] writes one line to every target.
pub struct ActionLog {
    program: String,
    pid: u32,
    file: Option<(PathBuf, File)>,
    syslog: Option<Logger<LoggerBackend, Formatter3164>>,
    /// Write failures so far; they are reported on stderr as they happen.
    failures: usize,
}

impl fmt::Debug for ActionLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionLog")
            .field("program", &self.program)
            .field("file", &self.file.as_ref().map(|(path, _)| path))
            .field("syslog", &self.syslog.is_some())
            .finish()
    }
}

impl ActionLog {
    /// Opens the targets. A target that cannot be opened is reported on stderr and skipped.
    pub fn open(program: &str, target: &Target) -> ActionLog {
        let mut log = ActionLog::disabled(program);
        if let Some(path) = &target.file {
            log.open_file(path);
        }
        if target.syslog {
            let connected = syslog::unix(log.syslog_formatter());
            log.attach_syslog(connected);
        }
        log
    }

    /// A log that writes nothing, for runs without a target.
    pub fn disabled(program: &str) -> ActionLog {
        ActionLog { program: program.to_owned(), pid: std::process::id(), file: None, syslog: None, failures: 0 }
    }

    /// Writes one line: `action` and the fields, in order. Never fails; see the module doc.
    pub fn record(&mut self, action: &str, fields: &[(&str, &dyn fmt::Display)]) {
        if let Some((path, file)) = &mut self.file {
            let line = format_line(SystemTime::now(), &self.program, self.pid, action, fields);
            // One write_all of the whole line: with O_APPEND the kernel places it atomically.
            if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                eprintln!("{}: cannot write action log {}: {e}", self.program, path.display());
                self.failures += 1;
            }
        }
        if let Some(logger) = &mut self.syslog {
            // Syslog adds the time, program and pid itself.
            if let Err(e) = logger.notice(format_fields(action, fields)) {
                eprintln!("{}: cannot write to syslog: {e}", self.program);
                self.failures += 1;
            }
        }
    }

    fn open_file(&mut self, path: &Path) {
        // 0640: the log names hosts and services, which not every local user needs to see.
        // Non-blocking: a FIFO with no reader fails at once (ENXIO) instead of hanging the hook.
        match OpenOptions::new().append(true).create(true).mode(0o640).custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits()).open(path) {
            Ok(file) => self.file = Some((path.to_owned(), file)),
            Err(e) => {
                eprintln!("{}: cannot open action log {}: {e}", self.program, path.display());
                self.failures += 1;
            }
        }
    }

    fn syslog_formatter(&self) -> Formatter3164 {
        Formatter3164 { facility: Facility::LOG_DAEMON, hostname: None, process: self.program.clone(), pid: self.pid }
    }

    fn attach_syslog(&mut self, connected: syslog::Result<Logger<LoggerBackend, Formatter3164>>) {
        match connected {
            Ok(logger) => self.syslog = Some(logger),
            Err(e) => {
                eprintln!("{}: cannot reach syslog: {e}", self.program);
                self.failures += 1;
            }
        }
    }
}

/// `time=<RFC 3339 UTC> program=… pid=… action=… key=value …` and a newline.
fn format_line(time: SystemTime, program: &str, pid: u32, action: &str, fields: &[(&str, &dyn fmt::Display)]) -> String {
    let mut line = String::new();
    push_field(&mut line, "time", &humantime::format_rfc3339_millis(time));
    push_field(&mut line, "program", &program);
    push_field(&mut line, "pid", &pid);
    line.push(' ');
    line.push_str(&format_fields(action, fields));
    line.push('\n');
    line
}

/// `action=… key=value …`.
fn format_fields(action: &str, fields: &[(&str, &dyn fmt::Display)]) -> String {
    let mut text = String::new();
    push_field(&mut text, "action", &action);
    for (key, value) in fields {
        push_field(&mut text, key, *value);
    }
    text
}

/// Appends ` key=value` (no leading space at the start). Keys are reduced to `[A-Za-z0-9_.-]`;
/// a value is quoted, with `"`, `\` and control characters escaped, when it is empty or holds
/// anything but printable non-space characters other than `=` and `"`.
fn push_field(out: &mut String, key: &str, value: &dyn fmt::Display) {
    if !out.is_empty() {
        out.push(' ');
    }
    let key: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '_' }).collect();
    out.push_str(if key.is_empty() { "_" } else { &key });
    out.push('=');
    // A safety net under the callers' own care: no credential reaches the log or syslog.
    let value = crate::redact::text(&value.to_string());
    let bare = !value.is_empty() && value.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '=' && c != '"' && c != '\\');
    if bare {
        out.push_str(&value);
    } else {
        // Rust's debug quoting escapes exactly what logfmt readers expect: \" \\ \n \t \u{…}.
        let _ = write!(out, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::{Duration, UNIX_EPOCH};

    fn file_target(path: &Path) -> Target {
        Target { file: Some(path.to_owned()), syslog: false }
    }

    #[test]
    fn a_line_is_timestamped_logfmt() {
        let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let line = format_line(time, "mysql-before-exec", 42, "deregister", &[("service", &"mysql"), ("port", &3306)]);
        assert_eq!(line, "time=2023-11-14T22:13:20.123Z program=mysql-before-exec pid=42 action=deregister service=mysql port=3306\n");
    }

    #[test]
    fn values_are_quoted_when_needed() {
        let fields: [(&str, &dyn fmt::Display); 6] = [
            ("plain", &"10.0.0.1:6379"),
            ("space", &"a b"),
            ("quote", &"say \"hi\""),
            ("newline", &"two\nlines"),
            ("empty", &""),
            ("bad key!", &"k=v"),
        ];
        assert_eq!(
            format_fields("x", &fields),
            r#"action=x plain=10.0.0.1:6379 space="a b" quote="say \"hi\"" newline="two\nlines" empty="" bad_key_="k=v""#
        );
    }

    #[test]
    fn record_appends_to_a_file_it_creates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        ActionLog::open("t", &file_target(&path)).record("first", &[]);
        let mut log = ActionLog::open("t", &file_target(&path));
        log.record("second", &[("n", &2)]);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].ends_with(" action=first"), "{text}");
        assert!(lines[1].ends_with(" action=second n=2"), "{text}");
        assert!(lines[1].starts_with("time=") && lines[1].contains(" program=t pid="), "{text}");
        assert_eq!(log.failures, 0);
    }

    #[test]
    fn concurrent_writers_do_not_interleave_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("actions.log");
        let value = "v".repeat(300);
        std::thread::scope(|scope| {
            for writer in 0..4 {
                let (path, value) = (&path, &value);
                scope.spawn(move || {
                    let mut log = ActionLog::open("t", &file_target(path));
                    for n in 0..200 {
                        log.record("write", &[("writer", &writer), ("n", &n), ("pad", value)]);
                    }
                });
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 800);
        for line in text.lines() {
            assert!(line.starts_with("time=") && line.ends_with(&value), "torn line: {line}");
        }
    }

    #[test]
    fn an_unopenable_file_is_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ActionLog::open("t", &file_target(&dir.path().join("no-such-dir").join("x.log")));
        log.record("still-runs", &[]);
        assert_eq!(log.failures, 1);
        assert!(log.file.is_none());
    }

    #[test]
    fn a_failing_write_is_reported_and_the_run_goes_on() {
        let mut log = ActionLog::open("t", &file_target(Path::new("/dev/full")));
        log.record("one", &[]);
        log.record("two", &[]);
        assert_eq!(log.failures, 2);
    }

    #[test]
    fn syslog_gets_the_fields() {
        let dir = tempfile::tempdir().unwrap();
        let socket_path = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&socket_path).unwrap();
        server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut log = ActionLog::disabled("sentinel-rebalance");
        let connected = syslog::unix_custom(log.syslog_formatter(), &socket_path);
        log.attach_syslog(connected);
        log.record("move-sentinel", &[("to", &"127.0.0.12:26379")]);
        let mut buf = [0u8; 1024];
        let n = server.recv(&mut buf).unwrap();
        let message = String::from_utf8_lossy(&buf[..n]);
        // <29> = facility daemon (3) * 8 + severity notice (5).
        assert!(message.starts_with("<29>"), "{message}");
        assert!(message.contains(&format!("sentinel-rebalance[{}]: action=move-sentinel to=127.0.0.12:26379", std::process::id())), "{message}");
    }

    #[test]
    fn an_unreachable_syslog_is_reported_and_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ActionLog::disabled("t");
        let connected = syslog::unix_custom(log.syslog_formatter(), dir.path().join("absent.sock"));
        log.attach_syslog(connected);
        log.record("x", &[]);
        assert_eq!(log.failures, 1);
        assert!(log.syslog.is_none());
    }
}
