//! The floating sentinel as a process: its config written fresh from the current master, the
//! configured argv commands that start and stop it here, the `SHUTDOWN` that stops it on the
//! peer, and the waits that prove it answers (with its myid) or is gone (port refused).
//!
//! The config is fresh every time because the copy left behind by an earlier run names an old
//! master and old epochs; a fresh one with the same myid makes the other sentinels record an
//! address switch, not a fourth sentinel.
//!
//! The config may hold `auth-pass` (and `requirepass` from `floating_config_lines`). sengu
//! writes it 0600, but Sentinel rewrites it on every state change with mode `0644 & ~umask` of
//! the sentinel process (Redis's `rewriteConfigOverwriteFile`): under the usual umask 022 the
//! password would end world-readable. Two guards, because the start command may be
//! `systemctl start …` (the unit's `UMask=` applies, not ours): the file must sit below a
//! directory other users cannot enter ([`check_private`], refused otherwise), which protects it
//! whatever mode Sentinel gives it; and the start and stop commands run with umask 077, so a
//! sentinel started directly keeps the file 0600 through every rewrite.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ::redis::Value;

use super::observe::{probe_port, PortState};
use super::settings::Settings;
use crate::addr::HostPort;
use crate::redis::{ConnectOptions, RedisConn, SentinelMaster, ServerKind};

/// Polling interval of the waits below.
const POLL: Duration = Duration::from_millis(100);

/// Why the floating sentinel could not be started or stopped. Each message names the address
/// or the command; none carries a password.
#[derive(Debug, thiserror::Error)]
pub enum FloatingError {
    #[error("cannot write the floating sentinel's config {}: {source}", .path.display())]
    Config { path: PathBuf, source: std::io::Error },
    #[error("other users can reach the floating sentinel's config {}: Sentinel rewrites it readable by all under umask 022 and it may hold auth-pass; put it in a directory closed to others (e.g. mode 0750)", .path.display())]
    Exposed { path: PathBuf },
    #[error("cannot run {argv:?}: {source}")]
    Spawn { argv: Vec<String>, source: std::io::Error },
    #[error("{argv:?} failed ({status}){}", tail(.output))]
    CommandFailed { argv: Vec<String>, status: String, output: String },
    #[error("{argv:?} did not finish within {} (it must start the sentinel in the background, as `systemctl start` does)", crate::human::duration(*.after))]
    CommandHung { argv: Vec<String>, after: Duration },
    #[error("the floating sentinel did not answer on {addr} with myid {myid} within {}: {last}", crate::human::duration(*.after))]
    NotAnswering { addr: HostPort, myid: String, after: Duration, last: String },
    #[error("the floating sentinel on {addr} still accepts connections {} after it was told to stop", crate::human::duration(*.after))]
    StillRunning { addr: HostPort, after: Duration },
    #[error("{addr} answers with myid {found}, not the floating sentinel's {myid}: not stopping it")]
    NotOurs { addr: HostPort, myid: String, found: String },
    #[error(transparent)]
    Redis(#[from] crate::redis::Error),
}

fn tail(output: &str) -> String {
    let text = output.trim();
    if text.is_empty() {
        return String::new();
    }
    let start = text.char_indices().rev().nth(300).map_or(0, |(i, _)| i);
    format!(": {}", text[start..].replace('\n', " "))
}

/// The monitor settings the floating sentinel gets: the settings' values, else what the fixed
/// sentinels use, else Sentinel's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorParams {
    pub quorum: u32,
    pub down_after: Duration,
    pub failover_timeout: Duration,
}

impl MonitorParams {
    pub fn pick(s: &Settings, learned: Option<&SentinelMaster>) -> MonitorParams {
        let field = |key: &str| learned.and_then(|m| m.fields.get(key)).and_then(|v| v.parse::<u64>().ok()).map(Duration::from_millis);
        MonitorParams {
            quorum: s.quorum.or(learned.map(|m| m.quorum)).unwrap_or(2),
            down_after: s.down_after.or(field("down-after-milliseconds")).unwrap_or(Duration::from_secs(30)),
            failover_timeout: s.failover_timeout.or(field("failover-timeout")).unwrap_or(Duration::from_secs(180)),
        }
    }
}

impl MonitorParams {
    /// How long after a master change no sentinel is moved: `settle_time` if set, else the
    /// failover-timeout (after which Sentinel considers a failover over or abandoned).
    pub fn settle(&self, s: &Settings) -> Duration {
        s.settle_time.unwrap_or(self.failover_timeout)
    }
}

/// Quotes a config argument the way Redis's `sdssplitargs` reads it back, so passwords and
/// paths with spaces or quotes survive.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// The floating sentinel's config, monitoring `master` as it is now.
pub fn config_text(s: &Settings, master: &HostPort, params: &MonitorParams, script: &Path) -> String {
    let name = &s.master_name;
    let at = &s.here.floating;
    let mut c = String::new();
    let _ = writeln!(c, "# Written by sentinel-rebalance before each start; Sentinel rewrites it while it runs.");
    let _ = writeln!(c, "port {}", at.port);
    // Hellos must carry this host's address whatever the socket's source address is, so the
    // other sentinels see the same identity at the new address (an address switch). Both lines
    // need an IP address; with a host name, set them in `floating_config_lines`.
    if at.ip().is_some() {
        let _ = writeln!(c, "bind {}", at.host);
        let _ = writeln!(c, "sentinel announce-ip {}", at.host);
    }
    let _ = writeln!(c, "sentinel myid {}", s.floating_myid);
    let _ = writeln!(c, "sentinel monitor {name} {} {} {}", master.host, master.port, params.quorum);
    let _ = writeln!(c, "sentinel down-after-milliseconds {name} {}", params.down_after.as_millis());
    let _ = writeln!(c, "sentinel failover-timeout {name} {}", params.failover_timeout.as_millis());
    if let Some(password) = &s.connect.auth.password {
        if let Some(user) = &s.connect.auth.user {
            let _ = writeln!(c, "sentinel auth-user {name} {}", quote(user));
        }
        let _ = writeln!(c, "sentinel auth-pass {name} {}", quote(password.expose()));
    }
    let _ = writeln!(c, "sentinel client-reconfig-script {name} {}", quote(&script.to_string_lossy()));
    for line in &s.floating_config_lines {
        let _ = writeln!(c, "{line}");
    }
    c
}

/// Checks that other users cannot reach `path`: some directory on the way to it (symbolic
/// links resolved) denies them search (`x`) permission, so the file's own mode, which Sentinel
/// sets on each rewrite, cannot expose it. Directories that do not exist yet are skipped.
pub fn check_private(path: &Path) -> Result<(), FloatingError> {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if let Ok(real) = fs::canonicalize(d) {
            let closed = real.ancestors().any(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 == 0));
            return if closed { Ok(()) } else { Err(FloatingError::Exposed { path: path.to_owned() }) };
        }
        dir = d.parent();
    }
    Err(FloatingError::Exposed { path: path.to_owned() })
}

/// Writes the config atomically (temp file + rename) with mode 0600: it may hold the Redis
/// password, and Sentinel must own a complete file from its first read. Refuses a path other
/// users can reach ([`check_private`]).
pub fn write_config(path: &Path, text: &str) -> Result<(), FloatingError> {
    check_private(path)?;
    let err = |source| FloatingError::Config { path: path.to_owned(), source };
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(err)?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(err)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err(e)
    })
}

/// Runs an argv (never through a shell) and waits up to `limit` for it to finish; its output
/// goes to `<log>` so a failure can quote it.
pub fn run_command(argv: &[String], limit: Duration, log: &Path) -> Result<(), FloatingError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(FloatingError::CommandFailed { argv: argv.to_vec(), status: "empty command".into(), output: String::new() });
    };
    let spawn_err = |source| FloatingError::Spawn { argv: argv.to_vec(), source };
    let out = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(log).map_err(spawn_err)?;
    let err_out = out.try_clone().map_err(spawn_err)?;
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(out).stderr(err_out);
    let mut child = spawn_private(&mut command).map_err(spawn_err)?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let output = crate::files::read_to_string(log, crate::files::CONFIG_LIMIT).unwrap_or_default();
                return Err(FloatingError::CommandFailed { argv: argv.to_vec(), status: status.to_string(), output });
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(FloatingError::CommandHung { argv: argv.to_vec(), after: limit });
            }
            Err(e) => return Err(spawn_err(e)),
        }
    }
}

/// Held while the process's umask is not its own (see [`spawn_private`]).
static UMASK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Spawns `command` with umask 077, so that a sentinel it starts directly creates (and on
/// each rewrite, re-modes) its config 0600. A child inherits the umask at fork; without
/// `unsafe` (a `pre_exec` hook) the only way to give it one is to set the process's own around
/// the spawn and restore it at once. sentinel-rebalance runs one thread here, so no other file
/// is created meanwhile; the lock keeps two such spawns (in tests) from restoring each other's
/// umask.
fn spawn_private(command: &mut Command) -> std::io::Result<std::process::Child> {
    use nix::sys::stat::{umask, Mode};
    let _held = UMASK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = umask(Mode::from_bits_truncate(0o077));
    let child = command.spawn();
    umask(before);
    child
}

/// Asks the sentinel at `addr` to shut down, after checking it is the floating one. The
/// connection closing is the expected answer.
pub fn shutdown(addr: &HostPort, myid: &str, opts: &ConnectOptions) -> Result<(), FloatingError> {
    let mut conn = RedisConn::connect_as(ServerKind::Sentinel, addr, opts)?;
    let found: String = conn.query(::redis::cmd("SENTINEL").arg("MYID"), "SENTINEL MYID")?;
    if !found.eq_ignore_ascii_case(myid) {
        return Err(FloatingError::NotOurs { addr: addr.clone(), myid: myid.to_string(), found });
    }
    match conn.query::<Value>(::redis::cmd("SHUTDOWN").arg("NOSAVE"), "SHUTDOWN") {
        Ok(_) => Ok(()),
        Err(e) if e.is_no_answer() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Waits until `addr` refuses connections: the only proof that the old copy is gone.
pub fn wait_closed(addr: &HostPort, limit: Duration, connect_timeout: Duration) -> Result<(), FloatingError> {
    let deadline = Instant::now() + limit;
    loop {
        if probe_port(addr, connect_timeout) == PortState::Refused {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(FloatingError::StillRunning { addr: addr.clone(), after: limit });
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until the sentinel at `addr` answers `SENTINEL MYID` with `myid`.
pub fn wait_answering(addr: &HostPort, myid: &str, opts: &ConnectOptions, limit: Duration) -> Result<(), FloatingError> {
    let deadline = Instant::now() + limit;
    loop {
        let last = match RedisConn::connect_as(ServerKind::Sentinel, addr, opts)
            .and_then(|mut c| c.query::<String>(::redis::cmd("SENTINEL").arg("MYID"), "SENTINEL MYID"))
        {
            Ok(found) if found.eq_ignore_ascii_case(myid) => return Ok(()),
            Ok(found) => format!("it answers with myid {found}"),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(FloatingError::NotAnswering { addr: addr.clone(), myid: myid.to_string(), after: limit, last });
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebalance::settings::tests::{full, MYID};
    use crate::redis::RedisAuth;
    use crate::settings::Secret;

    #[test]
    fn the_config_monitors_the_current_master_with_the_fixed_identity() {
        let auth = RedisAuth { user: Some("sengu".into()), password: Some(Secret::new("p\"w d")) };
        let mut layer = full();
        layer.floating_config_lines = Some(vec!["logfile /var/log/redis/floating.log".into()]);
        let s = layer.resolve(auth, Default::default()).unwrap();
        let params = MonitorParams { quorum: 2, down_after: Duration::from_secs(5), failover_timeout: Duration::from_secs(60) };
        let text = config_text(&s, &"10.0.0.12:6379".parse().unwrap(), &params, Path::new("/usr/bin/sentinel-rebalance"));
        for line in [
            "port 26380\n",
            "bind 10.0.0.11\n",
            "sentinel announce-ip 10.0.0.11\n",
            &format!("sentinel myid {MYID}\n"),
            "sentinel monitor mymaster 10.0.0.12 6379 2\n",
            "sentinel down-after-milliseconds mymaster 5000\n",
            "sentinel failover-timeout mymaster 60000\n",
            "sentinel auth-user mymaster \"sengu\"\n",
            "sentinel auth-pass mymaster \"p\\\"w d\"\n",
            "sentinel client-reconfig-script mymaster \"/usr/bin/sentinel-rebalance\"\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("logfile /var/log/redis/floating.log\n"), "extra lines come last so they win:\n{text}");
    }

    #[test]
    fn monitor_params_prefer_settings_then_the_fixed_sentinels_then_defaults() {
        let s = full().resolve(RedisAuth::default(), Default::default()).unwrap();
        assert_eq!(MonitorParams::pick(&s, None), MonitorParams { quorum: 2, down_after: Duration::from_secs(30), failover_timeout: Duration::from_secs(180) });
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("down-after-milliseconds".to_string(), "2000".to_string());
        fields.insert("failover-timeout".to_string(), "6000".to_string());
        let learned = SentinelMaster {
            name: "mymaster".into(), ip: "10.0.0.11".into(), port: 6379, flags: vec!["master".into()], num_slaves: 1,
            num_other_sentinels: 2, quorum: 3, failover_state: None, config_epoch: 0, fields,
        };
        let p = MonitorParams::pick(&s, Some(&learned));
        assert_eq!((p.quorum, p.down_after, p.failover_timeout), (3, Duration::from_secs(2), Duration::from_secs(6)));
        let s = crate::rebalance::settings::Args { quorum: Some(2), ..full() }.resolve(RedisAuth::default(), Default::default()).unwrap();
        assert_eq!(MonitorParams::pick(&s, Some(&learned)).quorum, 2);
    }

    #[test]
    fn commands_run_without_a_shell_and_report_failure_with_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cmd.log");
        run_command(&["true".into()], Duration::from_secs(5), &log).unwrap();
        let argv: Vec<String> = ["sh", "-c", "echo 'no such unit' >&2; exit 5"].map(String::from).to_vec();
        let e = run_command(&argv, Duration::from_secs(5), &log).unwrap_err();
        assert!(e.to_string().contains("exit status: 5") && e.to_string().contains("no such unit"), "{e}");
        // A semicolon is an argument, not a command separator.
        let e = run_command(&["echo;false".into()], Duration::from_secs(5), &log).unwrap_err();
        assert!(matches!(e, FloatingError::Spawn { .. }), "{e}");
        let e = run_command(&["sleep".into(), "5".into()], Duration::from_millis(200), &log).unwrap_err();
        assert!(matches!(e, FloatingError::CommandHung { .. }), "{e}");
    }

    /// A temp dir other users cannot enter, as the floating config's directory must be.
    fn private_dir() -> tempfile::TempDir {
        tempfile::Builder::new().permissions(fs::Permissions::from_mode(0o700)).tempdir().unwrap()
    }

    #[test]
    fn a_config_other_users_can_reach_is_refused() {
        let dir = private_dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        // The temp dir (0700) closes the way, also to a directory not made yet.
        check_private(&open.join("floating.conf")).unwrap();
        check_private(&open.join("not-yet/floating.conf")).unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        // Only meaningful where every directory above the temp dir lets others through (/tmp).
        if dir.path().ancestors().all(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)) {
            let e = write_config(&open.join("floating.conf"), "sentinel auth-pass m \"pw\"\n").unwrap_err();
            assert!(matches!(e, FloatingError::Exposed { .. }), "{e}");
            assert!(e.to_string().starts_with("other users can reach the floating sentinel's config "), "{e}");
            assert!(!open.join("floating.conf").exists(), "nothing written");
        }
        fs::set_permissions(&open, fs::Permissions::from_mode(0o750)).unwrap();
        check_private(&open.join("floating.conf")).unwrap();
    }

    #[test]
    fn commands_start_with_umask_077_and_the_process_keeps_its_own() {
        // The process's umask as Linux reports it, read while no spawn has it changed.
        let own_umask = || {
            let _held = UMASK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let status = fs::read_to_string("/proc/self/status").unwrap();
            status.lines().find_map(|l| l.strip_prefix("Umask:")).map(|v| v.trim().to_string())
        };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cmd.log");
        let made = dir.path().join("made");
        let argv: Vec<String> = ["sh", "-c", "umask; : > \"$0\"", made.to_str().unwrap()].map(String::from).to_vec();
        let before = own_umask();
        run_command(&argv, Duration::from_secs(5), &log).unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap().trim(), "0077");
        assert_eq!(fs::metadata(&made).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(own_umask(), before, "the process's umask is restored");
    }

    #[test]
    fn the_config_is_written_private_and_whole() {
        let dir = private_dir();
        let path = dir.path().join("floating.conf");
        fs::write(&path, "old").unwrap();
        write_config(&path, "port 1\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "port 1\n");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
    }
}
