//! One pass of consul-hosts-fallback ([`sync`]), the loop that repeats it ([`watch`]) and the
//! Consul check that compares the fallback with Consul ([`check`]). The rules are in
//! [`super::entries`]; this module asks Consul and the DNS, and writes the two files.
//!
//! The order of a pass: read and parse both files (a file that cannot be understood ends the
//! pass with nothing changed), ask Consul, ask the DNS, then write each changed file beside its
//! target and rename it over the target, the hosts file first. A state file whose entries did
//! not change only gets its modification time set, which the check reads as "confirmed".

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use super::entries::{self, Entries, Kind, Observed};
use super::hosts_file::HostsFile;
use super::{Error, PROGRAM, Settings};
use crate::actionlog::ActionLog;
use crate::check::{Outcome, SubResult};
use crate::consul::{self, CheckStatus};
use crate::dns::{self, DnsError, Family, Options, Source, Transport};
use crate::files;

/// The largest state or hosts file read: 1 MiB, as a config file.
const FILE_LIMIT: u64 = files::CONFIG_LIMIT;
/// Share of a pass's budget by which Consul must have answered.
const CONSUL_SHARE: f64 = 0.8;
/// Share of the budget by which the DNS probes must have answered.
const PROBE_SHARE: f64 = 0.8;
/// The longest one DNS probe waits. With the agent down, dnsmasq forwards to a closed port and
/// never replies, so this wait is most of a pass then; a local dnsmasq with a live agent
/// answers in well under a millisecond.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// What one pass did, for its one line of output and its exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The entries now in the state file.
    pub entries: Entries,
    /// The entries now in the managed block of the hosts file.
    pub active: Entries,
    /// Names the DNS could not answer, with why.
    pub unanswered: BTreeMap<String, String>,
    /// One line per name whose last good entry was kept instead of Consul's answer.
    pub kept: Vec<String>,
    pub state_file: PathBuf,
    pub hosts_file: PathBuf,
}

impl Report {
    /// Line 1: what the files hold now. Then one line per kept entry and per unanswered name.
    pub fn text(&self) -> String {
        let mut text = format!("{PROGRAM}: {} in {}; ", count(self.entries.len()), self.state_file.display());
        if self.active.is_empty() {
            text.push_str(&format!("no fallback entry in {}", self.hosts_file.display()));
        } else {
            let names: Vec<&str> = self.active.keys().map(String::as_str).collect();
            text.push_str(&format!("fallback active in {} for {}", self.hosts_file.display(), names.join(", ")));
        }
        text.push('\n');
        for line in &self.kept {
            text.push_str(&format!("  {line}\n"));
        }
        for (name, why) in &self.unanswered {
            let entry = if self.active.contains_key(name) { "fallback entry active" } else { "no last good entry to fall back to" };
            text.push_str(&format!("  {name}: the local DNS does not answer ({why}): {entry}\n"));
        }
        text
    }

    /// 0 when every name follows Consul, 1 when one kept its last good entry (two masters,
    /// Consul unreachable), so a timer's unit shows it.
    pub fn exit_code(&self) -> ExitCode {
        if self.kept.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
    }

    /// Prints [`Report::text`] and returns [`Report::exit_code`].
    pub fn print(&self) -> ExitCode {
        let mut out = io::stdout().lock();
        let _ = out.write_all(self.text().as_bytes()).and_then(|()| out.flush());
        self.exit_code()
    }
}

fn count(n: usize) -> String {
    if n == 1 { "1 entry".to_string() } else { format!("{n} entries") }
}

/// One pass; see the module doc. `Err` means nothing was changed.
pub fn sync(settings: &Settings, log: &mut ActionLog) -> Result<Report, Error> {
    let start = Instant::now();
    let (state, state_mtime) = read_state(&settings.state_file)?;
    let previous = state.unwrap_or_default();
    let hosts = read_hosts(&settings.hosts_file)?;
    let names: Vec<String> = settings.names.iter().map(|n| n.name.clone()).collect();
    // Consul and the DNS are asked at the same time: a pass with the agent down then takes
    // about one probe timeout, not the two waits one after the other.
    let (observed, unanswered) = std::thread::scope(|scope| {
        let consul = scope.spawn(|| observe(settings, start + settings.timeout.mul_f64(CONSUL_SHARE)));
        let unanswered = probe(settings, &names, start + settings.timeout.mul_f64(PROBE_SHARE));
        let failed = |_| names.iter().map(|n| Observed { name: n.clone(), kind: Kind::Master, answer: Err("the Consul read panicked".into()) }).collect();
        (consul.join().unwrap_or_else(failed), unanswered)
    });
    let plan = entries::plan(&previous, &observed);
    let active: Entries = plan.entries.iter().filter(|(name, _)| unanswered.contains_key(*name)).map(|(n, a)| (n.clone(), a.clone())).collect();

    let hosts_text = hosts.render(&active);
    let state_text = entries::render_state(&plan.entries);
    let hosts_write = (hosts.active != active).then(|| Pending::prepare(&settings.hosts_file, &hosts_text)).transpose()?;
    let state_write = (state_mtime.is_none() || plan.entries != previous).then(|| Pending::prepare(&settings.state_file, &state_text)).transpose()?;
    if let Some(write) = hosts_write {
        write.commit()?;
        let names: Vec<&str> = active.keys().map(String::as_str).collect();
        let (action, which) = if active.is_empty() { ("fallback-off", "none".to_string()) } else { ("fallback-on", names.join(",")) };
        log.record(action, &[("file", &settings.hosts_file.display()), ("names", &which)]);
    }
    match state_write {
        Some(write) => {
            write.commit()?;
            log.record("state-written", &[("file", &settings.state_file.display()), ("entries", &plan.entries.len())]);
        }
        // Unchanged: only "confirmed now", for the check's age.
        None => {
            let touched = File::options().write(true).open(&settings.state_file).and_then(|f| f.set_modified(SystemTime::now()));
            touched.map_err(|error| Error::Write { path: settings.state_file.clone(), error })?;
        }
    }
    for line in &plan.kept {
        log.record("kept-last-good", &[("detail", line)]);
    }
    Ok(Report {
        entries: plan.entries,
        active,
        unanswered,
        kept: plan.kept,
        state_file: settings.state_file.clone(),
        hosts_file: settings.hosts_file.clone(),
    })
}

/// Runs [`sync`] every `interval` until the process is stopped, printing a pass's lines only
/// when they differ from the previous pass's. A failed pass is printed and retried; the
/// settings were validated before.
pub fn watch(settings: &Settings, log: &mut ActionLog) -> ! {
    let mut last = String::new();
    loop {
        let start = Instant::now();
        let text = match sync(settings, log) {
            Ok(report) => report.text(),
            Err(e) => format!("{PROGRAM}: {e}\n"),
        };
        if text != last {
            let mut out = io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            last = text;
        }
        std::thread::sleep(settings.interval.saturating_sub(start.elapsed()));
    }
}

/// The Consul check: is the fallback recent, does it agree with Consul, and is no fallback
/// entry shadowing a live answer. Never writes anything.
pub fn check(settings: &Settings) -> Outcome {
    let start = Instant::now();
    let mut outcome = Outcome::new();
    let path = settings.state_file.display();
    let previous = match read_state(&settings.state_file) {
        Ok((None, _)) => {
            outcome.push(SubResult::warning("state", format!("no fallback yet: {path} does not exist (is {PROGRAM} running?)")));
            Entries::new()
        }
        Ok((Some(entries), mtime)) => {
            let age = mtime.and_then(|t| t.elapsed().ok()).unwrap_or_default();
            let limit = crate::human::duration(settings.max_age);
            let details = format!("last confirmed {} ago", crate::human::duration(age));
            outcome.push(if age > settings.max_age {
                SubResult::warning("state", format!("fallback {path} not confirmed for more than {limit} (is {PROGRAM} running?)")).with_details(details)
            } else {
                SubResult::passing("state", format!("fallback {path} confirmed within {limit}")).with_details(details)
            });
            entries
        }
        Err(e) => {
            outcome.push(SubResult::critical("state", e.to_string()));
            Entries::new()
        }
    };

    let observed = observe(settings, start + settings.timeout.mul_f64(CONSUL_SHARE));
    let unreadable: Vec<String> = observed.iter().filter_map(|o| o.answer.as_ref().err().map(|e| format!("{}: {e}", o.name))).collect();
    if let Some(first) = unreadable.first() {
        outcome.push(SubResult::critical("consul", format!("could not check: Consul's health API did not answer for {first}")));
    } else {
        let plan = entries::plan(&previous, &observed);
        let mut wrong: Vec<String> = plan.kept.clone();
        for o in &observed {
            let consul = o.answer.as_deref().unwrap_or_default();
            let ours = previous.get(&o.name).map(Vec::as_slice).unwrap_or_default();
            if consul != ours && !(o.kind == Kind::Master && consul.len() > 1) {
                wrong.push(format!("{}: {} in Consul, {} in the fallback", o.name, list(consul), list(ours)));
            }
        }
        outcome.push(match wrong.first() {
            None => SubResult::passing("consul", format!("the fallback matches Consul for {}", count_names(observed.len()))),
            Some(first) => SubResult::warning("consul", format!("the fallback disagrees with Consul: {first}")).with_details(wrong[1..].join("\n")),
        });
    }

    match read_hosts(&settings.hosts_file) {
        Err(e) => {
            outcome.push(SubResult::critical("hosts", e.to_string()));
        }
        Ok(hosts) => {
            let names: Vec<String> = settings.names.iter().map(|n| n.name.clone()).collect();
            let hosts_path = settings.hosts_file.display();
            for (name, addr) in hosts.unmanaged(&names) {
                outcome.push(SubResult::warning(
                    "hosts",
                    format!("{hosts_path} gives {name} the address {addr} outside the managed block: it hides Consul's answer from every client"),
                ));
            }
            let active: Vec<String> = hosts.active.keys().cloned().collect();
            let unanswered = probe(settings, &active, start + settings.timeout.mul_f64(PROBE_SHARE));
            let shadowing: Vec<&String> = active.iter().filter(|n| !unanswered.contains_key(*n)).collect();
            if let Some(name) = shadowing.first() {
                outcome.push(SubResult::critical(
                    "hosts",
                    format!("{name} is in the fallback block of {hosts_path} while the local DNS answers for it: run {PROGRAM} (is it stopped?)"),
                ));
            } else if !active.is_empty() {
                outcome.push(SubResult::warning("hosts", format!("fallback active in {hosts_path}: the local DNS does not answer for {}", active.join(", "))));
            } else {
                outcome.push(SubResult::passing("hosts", format!("no fallback entry in {hosts_path}")));
            }
        }
    }
    outcome
}

fn list(addrs: &[IpAddr]) -> String {
    if addrs.is_empty() { "none".to_string() } else { addrs.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ") }
}

fn count_names(n: usize) -> String {
    if n == 1 { "1 name".to_string() } else { format!("{n} names") }
}

/// The state file's entries (`None` when it does not exist yet) and its modification time.
fn read_state(path: &Path) -> Result<(Option<Entries>, Option<SystemTime>), Error> {
    let text = match files::read_to_string(path, FILE_LIMIT) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((None, None)),
        Err(error) => return Err(Error::Read { path: path.to_owned(), error }),
    };
    let entries = entries::parse_lines(&text).map_err(|(line, why)| Error::Malformed { path: path.to_owned(), reason: format!("line {line}: {why}") })?;
    let mtime = fs::metadata(path).and_then(|m| m.modified()).ok();
    Ok((Some(entries), mtime))
}

fn read_hosts(path: &Path) -> Result<HostsFile, Error> {
    let text = files::read_to_string(path, FILE_LIMIT).map_err(|error| Error::Read { path: path.to_owned(), error })?;
    HostsFile::parse(&text).map_err(|reason| Error::Malformed { path: path.to_owned(), reason })
}

/// Asks Consul's health API (passing instances only) for every name, within `deadline`.
fn observe(settings: &Settings, deadline: Instant) -> Vec<Observed> {
    let window = deadline.saturating_duration_since(Instant::now());
    let mut config = settings.consul.clone().with_deadline(deadline);
    config.timeout = config.timeout.min(window.max(Duration::from_millis(1)));
    let client = consul::Client::new(&config);
    settings
        .names
        .iter()
        .map(|n| {
            let answer = match &client {
                Err(e) => Err(e.to_string()),
                Ok(client) => client.health_service(&n.service, Some(&n.tag), true).map_err(|e| e.to_string()).map(|found| {
                    // `?passing` already filtered; the aggregate is asked again in case an
                    // agent or proxy ignored the parameter.
                    let mut addrs: Vec<IpAddr> =
                        found.iter().filter(|e| e.status() == CheckStatus::Passing).filter_map(|e| e.address().parse().ok()).collect();
                    addrs.sort();
                    addrs.dedup();
                    addrs
                }),
            };
            Observed { name: n.name.clone(), kind: n.kind, answer }
        })
        .collect()
}

/// Asks the local DNS server for each name at once; returns the names it gave no answer for
/// (a negative answer is an answer) and why.
fn probe(settings: &Settings, names: &[String], deadline: Instant) -> BTreeMap<String, String> {
    let timeout = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(50), PROBE_TIMEOUT);
    let options = Options { timeout, attempts: 1, transport: Transport::Udp };
    let source = Source::Server(settings.dns_server);
    std::thread::scope(|scope| {
        let asks: Vec<_> = names
            .iter()
            .map(|name| {
                let (options, source) = (&options, &source);
                (name, scope.spawn(move || dns::lookup(&format!("{name}."), Family::V4, source, options)))
            })
            .collect();
        asks.into_iter()
            .filter_map(|(name, ask)| {
                let answer = ask.join().unwrap_or_else(|_| Err(DnsError::Config("the DNS probe panicked".into())));
                match answer {
                    Ok(_) => None,
                    Err(e) if e.is_negative_answer() => None,
                    Err(e) => Some((name.clone(), e.to_string())),
                }
            })
            .collect()
    })
}

/// A new version of a file, written beside it, waiting to be renamed over it. Dropping it
/// uncommitted removes the temporary file, so a pass that stops half-way changes nothing.
struct Pending {
    tmp: PathBuf,
    path: PathBuf,
    committed: bool,
}

impl Pending {
    /// Writes `text` to a temporary file in `path`'s directory with `path`'s permissions
    /// (0644 for a new file), synced to disk.
    fn prepare(path: &Path, text: &str) -> Result<Pending, Error> {
        let failed = |error| Error::Write { path: path.to_owned(), error };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{PROGRAM}.tmp"));
        let mode = fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
        // A temporary file left by a killed run is ours to replace.
        let _ = fs::remove_file(&tmp);
        let mut file = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(failed)?;
        let pending = Pending { tmp, path: path.to_owned(), committed: false };
        file.write_all(text.as_bytes())
            .and_then(|()| file.set_permissions(fs::Permissions::from_mode(mode)))
            .and_then(|()| file.sync_all())
            .map_err(failed)?;
        Ok(pending)
    }

    /// Renames the new version over the file: readers see the old or the new file, never a part.
    fn commit(mut self) -> Result<(), Error> {
        fs::rename(&self.tmp, &self.path).map_err(|error| Error::Write { path: self.path.clone(), error })?;
        self.committed = true;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_write_replaces_the_file_or_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        drop(Pending::prepare(&path, "new\n").unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        Pending::prepare(&path, "new\n").unwrap().commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640, "mode kept");
    }

    #[test]
    fn a_missing_directory_fails_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let e = Pending::prepare(&dir.path().join("nope/hosts"), "x").err().unwrap();
        assert!(e.to_string().starts_with("cannot write "), "{e}");
        assert!(e.to_string().ends_with("(nothing was changed)"), "{e}");
    }

    #[test]
    fn the_report_says_what_the_files_hold() {
        let ip: IpAddr = "10.0.0.11".parse().unwrap();
        let entries: Entries = [("master.redis.service.consul".to_string(), vec![ip])].into_iter().collect();
        let mut r = Report {
            entries: entries.clone(),
            active: Entries::new(),
            unanswered: BTreeMap::new(),
            kept: vec![],
            state_file: "/var/lib/sengu/hosts-fallback".into(),
            hosts_file: "/etc/hosts".into(),
        };
        assert_eq!(r.text(), "consul-hosts-fallback: 1 entry in /var/lib/sengu/hosts-fallback; no fallback entry in /etc/hosts\n");
        assert_eq!(r.exit_code(), ExitCode::SUCCESS);
        r.active = entries;
        r.unanswered.insert("master.redis.service.consul".into(), "timeout".into());
        r.kept.push("x: kept".into());
        assert_eq!(
            r.text(),
            "consul-hosts-fallback: 1 entry in /var/lib/sengu/hosts-fallback; fallback active in /etc/hosts for master.redis.service.consul\n  x: kept\n  master.redis.service.consul: the local DNS does not answer (timeout): fallback entry active\n"
        );
        assert_eq!(r.exit_code(), ExitCode::from(1));
    }
}
