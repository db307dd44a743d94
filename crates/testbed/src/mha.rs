//! MHA 0.58's `masterha_master_switch`, run for real against testbed MariaDB servers: an
//! application config in a temp dir naming the servers and one script for both
//! `master_ip_failover_script` and `master_ip_online_change_script`, and the two switch modes
//! (`--master_state=alive`, an online switch; `--master_state=dead`, a failover).
//!
//! MHA 0.58 dies on Perl 5.36 with "Redundant argument in sprintf" unless warnings are off, so
//! it runs as `perl -X masterha_master_switch`. A run has a deadline: past it the whole process
//! group (MHA and the script it runs) is killed, so a hung switch fails the test, not CI.

use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::mariadb::{Mariadb, REPL_PASSWORD, REPL_USER};

/// MHA's own MySQL user: [`create_user`] makes it on a master (replication copies it).
pub const MHA_USER: &str = "mha";
/// Its password: MHA puts it on the script's command line, so tests look for it in output.
pub const MHA_PASSWORD: &str = "mha-s3cret-on-argv";

/// Creates [`MHA_USER`] with every privilege on `master`; replicas get it by replication.
pub fn create_user(master: &Mariadb) {
    master.exec(&format!("CREATE USER IF NOT EXISTS '{MHA_USER}'@'%' IDENTIFIED BY '{MHA_PASSWORD}'"));
    master.exec(&format!("GRANT ALL PRIVILEGES ON *.* TO '{MHA_USER}'@'%'"));
}

/// `masterha_master_switch`'s path; `SENGU_MHA_SWITCH` overrides it.
pub fn switch_bin() -> String {
    std::env::var("SENGU_MHA_SWITCH").unwrap_or_else(|_| "/usr/bin/masterha_master_switch".into())
}

/// How long one switch may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(90);

/// A server as MHA's config names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub host: IpAddr,
    pub port: u16,
}

impl From<&Mariadb> for Node {
    fn from(db: &Mariadb) -> Node {
        Node { host: db.host(), port: db.port() }
    }
}

/// An MHA application: its config file and work dirs. MHA connects as [`MHA_USER`] (see
/// [`create_user`]) and sets up replication as the testbed's replication user.
#[derive(Debug)]
pub struct Mha {
    dir: TempDir,
    env: Vec<(String, String)>,
}

/// What one `masterha_master_switch` run did.
#[derive(Debug)]
pub struct SwitchRun {
    pub status: ExitStatus,
    /// stdout and stderr (online switch logs there).
    pub output: String,
    /// The manager log (the failover mode logs there).
    pub log: String,
    pub elapsed: Duration,
}

impl SwitchRun {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl std::fmt::Display for SwitchRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "masterha_master_switch: {} after {:?}\n--- output\n{}\n--- manager log\n{}", self.status, self.elapsed, self.output, self.log)
    }
}

impl Mha {
    /// An application over `servers` (every one a candidate master) whose failover and online
    /// change script is `script` (a command line MHA runs through `sh -c`, its options
    /// appended). `env` is passed to MHA and so to the script.
    pub fn new(servers: &[Node], script: &str, env: &[(&str, &str)]) -> Mha {
        let dir = tempfile::Builder::new().prefix("sengu-mha-").tempdir().expect("create mha temp dir");
        for sub in ["work", "remote"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create mha work dir");
        }
        let mut conf = format!(
            "[server default]\nuser={MHA_USER}\npassword={MHA_PASSWORD}\nrepl_user={REPL_USER}\nrepl_password={REPL_PASSWORD}\n\
             manager_workdir={work}\nmanager_log={log}\nremote_workdir={remote}\nssh_user=root\n\
             master_ip_failover_script={script}\nmaster_ip_online_change_script={script}\n",
            work = dir.path().join("work").display(),
            log = dir.path().join("manager.log").display(),
            remote = dir.path().join("remote").display(),
        );
        for (i, node) in servers.iter().enumerate() {
            conf.push_str(&format!("\n[server{}]\nhostname={}\nport={}\ncandidate_master=1\n", i + 1, node.host, node.port));
        }
        std::fs::write(dir.path().join("app.cnf"), conf).expect("write mha config");
        Mha { dir, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("app.cnf")
    }

    /// `--master_state=alive`: moves the master from the current one to `new`, the old one
    /// becoming its replica. `extra` options go last (e.g. `--skip_lock_all_tables`).
    pub fn online_switch(&self, new: Node, extra: &[&str]) -> SwitchRun {
        let mut args = online_args(new);
        args.extend(extra.iter().map(|a| a.to_string()));
        self.switch(&args)
    }

    /// The whole online switch to `new` as one command line (program first), for a caller
    /// that runs it itself (`sengu-drill mysql --switchover-cmd`). The environment the
    /// script needs must then come from that caller.
    pub fn online_switch_command(&self, new: Node) -> Vec<String> {
        let mut command = vec!["perl".to_string(), "-X".into(), switch_bin(), format!("--conf={}", self.conf().display())];
        command.extend(online_args(new));
        command.push("--interactive=0".into());
        command
    }

    /// `--master_state=dead`: fails over from `dead` to `new`.
    pub fn failover(&self, dead: Node, new: Node) -> SwitchRun {
        self.switch(&[
            "--master_state=dead".into(),
            format!("--dead_master_host={}", dead.host),
            format!("--dead_master_ip={}", dead.host),
            format!("--dead_master_port={}", dead.port),
            format!("--new_master_host={}", new.host),
            format!("--new_master_port={}", new.port),
            "--ignore_last_failover".into(),
        ])
    }

    fn switch(&self, args: &[String]) -> SwitchRun {
        // The manager log only grows; each run's report shows its own part.
        let _ = std::fs::remove_file(self.dir.path().join("manager.log"));
        let started = Instant::now();
        let out = self.dir.path().join("switch.out");
        let file = std::fs::File::create(&out).expect("create mha output file");
        let mut cmd = Command::new("perl");
        cmd.arg("-X")
            .arg(switch_bin())
            .arg(format!("--conf={}", self.conf().display()))
            .args(args)
            .arg("--interactive=0")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup mha output file"))
            .stderr(file)
            .process_group(0);
        let mut child = cmd.spawn().expect("start masterha_master_switch (is mha4mysql-manager installed?)");
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for masterha_master_switch") {
                break status;
            }
            if started.elapsed() > DEADLINE {
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                panic!("masterha_master_switch still running after {DEADLINE:?}: killed\n{}", read(&out));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The script MHA ran may have left children in the group; none may outlive the run.
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        SwitchRun { status, output: read(&out), log: read(&self.dir.path().join("manager.log")), elapsed: started.elapsed() }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn online_args(new: Node) -> Vec<String> {
    vec![
        "--master_state=alive".into(),
        format!("--new_master_host={}", new.host),
        format!("--new_master_port={}", new.port),
        "--orig_master_is_new_slave".into(),
        "--running_updates_limit=10000".into(),
    ]
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
