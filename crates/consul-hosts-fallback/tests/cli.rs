//! The executable as a timer, a service and Consul run it, outside any namespace: an
//! in-process consul-standin (HTTP and DNS) on 127.13.0.1, files in a temp dir passed as
//! `--hosts-file`/`--state-file`. Bad input, an unreadable or unwritable file change nothing;
//! Consul unreachable keeps the last good file; the check's three states and its JSON form.

use std::fs::{self, File};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use consul_standin::Standin;
use sengu::consul::{CatalogDeregistration, CatalogRegistration, Client, ClientConfig, Service};

use crate::lab::{MASTER, OWN_HOSTS, Run, SERVICE, command};

const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 13, 0, 1));
const A: &str = "10.0.0.21";
const B: &str = "10.0.0.22";

/// A Consul, a DNS server that never answers, and the two files.
struct Setup {
    consul: Standin,
    /// A port nothing listens on: a DNS server that is down.
    dead: testbed::PortLease,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let consul = Standin::builder().agent("client", HOST).dns_at(SocketAddr::new(HOST, 0)).start().unwrap();
        let dead = testbed::reserve(HOST);
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("hosts"), OWN_HOSTS).unwrap();
        Setup { consul, dead, dir }
    }

    fn hosts(&self) -> PathBuf {
        self.dir.path().join("hosts")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("fallback")
    }

    fn client(&self) -> Client {
        Client::new(&ClientConfig::from_env().unwrap().with_address(&self.consul.http_addr("client").unwrap().to_string()).unwrap()).unwrap()
    }

    fn publish(&self, node: &str, ip: &str) {
        let service = Service { id: SERVICE.into(), service: SERVICE.into(), tags: vec!["master".into()], port: 6379, ..Service::default() };
        let r = CatalogRegistration { node: node.into(), address: ip.into(), service: Some(service), ..CatalogRegistration::default() };
        self.client().catalog_register(&r).unwrap();
    }

    fn unpublish(&self, node: &str) {
        let d = CatalogDeregistration { node: node.into(), service_id: SERVICE.into(), ..CatalogDeregistration::default() };
        self.client().catalog_deregister(&d).unwrap();
    }

    /// argv for `task`, asking the standin's DNS when `dns_up`, else a port nobody serves.
    fn args(&self, task: &str, dns_up: bool, extra: &[&str]) -> Vec<String> {
        let dns = if dns_up { self.consul.dns_addr().unwrap() } else { SocketAddr::new(HOST, self.dead.port()) };
        let mut args: Vec<String> = [task, "--service", SERVICE, "--config", "/dev/null", "--timeout", "1s"].map(String::from).to_vec();
        args.extend(["--consul-addr".into(), self.consul.http_addr("client").unwrap().to_string()]);
        args.extend(["--dns-server".into(), dns.to_string()]);
        args.extend(["--hosts-file".into(), self.hosts().display().to_string()]);
        args.extend(["--state-file".into(), self.state().display().to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, args: &[String]) -> Run {
        let start = std::time::Instant::now();
        let out = command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: start.elapsed(),
        }
    }

    /// Every file in the temp dir with its contents, to show that nothing changed.
    fn snapshot(&self) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read_to_string(&p).unwrap_or_default()))
            .collect();
        files.sort();
        files
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn help_names_the_callers_and_the_exit_codes() {
    let run = Setup::new().run(&["--help".to_string()]);
    run.exits(0);
    for want in ["Called by: systemd", "consul.d/hosts-fallback.json", "Exit codes:", "CONSUL_HTTP_TOKEN_FILE"] {
        assert!(run.stdout.contains(want), "{want}: {}", run.stdout);
    }
}

#[test]
fn a_missing_service_is_bad_input_and_changes_nothing() {
    let s = Setup::new();
    let before = s.snapshot();
    let args: Vec<String> = s.args("sync", false, &[]).into_iter().filter(|a| a != "--service" && a != SERVICE).collect();
    let run = s.run(&args);
    run.exits(2);
    assert!(run.stderr.contains("--service <NAME>"), "{run:#?}");
    assert_eq!(s.snapshot(), before);
}

#[test]
fn an_unwritable_state_file_changes_nothing() {
    let s = Setup::new();
    s.publish("db-a", A);
    let before = s.snapshot();
    let mut args = s.args("sync", false, &[]);
    let missing = s.dir.path().join("no-such-dir/fallback").display().to_string();
    let at = args.iter().position(|a| a == "--state-file").unwrap();
    args[at + 1] = missing.clone();
    let run = s.run(&args);
    run.exits(2);
    assert!(run.stdout.starts_with(&format!("consul-hosts-fallback: cannot write {missing}: ")), "{run:#?}");
    assert!(run.stdout.trim_end().ends_with("(nothing was changed)"), "{run:#?}");
    assert_eq!(s.snapshot(), before, "the hosts file's new block was not renamed in, its temporary file is gone");
}

#[test]
fn a_broken_managed_block_changes_nothing() {
    let s = Setup::new();
    s.publish("db-a", A);
    fs::write(s.hosts(), format!("{OWN_HOSTS}# BEGIN consul-hosts-fallback\n10.0.0.9 {MASTER}\n")).unwrap();
    let before = s.snapshot();
    let run = s.run(&s.args("sync", true, &[]));
    run.exits(2);
    assert!(run.stdout.contains("a BEGIN line without its"), "{run:#?}");
    assert!(run.stdout.contains("fix or remove it (nothing was changed)"), "{run:#?}");
    assert_eq!(s.snapshot(), before);
    fs::write(s.state(), "10.0.0.21 master.redis.service.consul\nnot-an-address x\n").unwrap();
    fs::write(s.hosts(), OWN_HOSTS).unwrap();
    let before = s.snapshot();
    let run = s.run(&s.args("sync", false, &[]));
    run.exits(2);
    assert!(run.stdout.contains("line 2: \"not-an-address\" is not an IP address"), "{run:#?}");
    assert_eq!(s.snapshot(), before);
}

#[test]
fn consul_unreachable_keeps_the_last_good_file() {
    let s = Setup::new();
    s.publish("db-a", A);
    s.run(&s.args("sync", true, &[])).exits(0);
    let state = read(&s.state());
    assert!(state.ends_with(&format!("{A} {MASTER}\n")), "{state}");
    assert_eq!(read(&s.hosts()), OWN_HOSTS, "DNS answers: no block");

    let mut args = s.args("sync", false, &[]);
    let at = args.iter().position(|a| a == "--consul-addr").unwrap();
    args[at + 1] = SocketAddr::new(HOST, s.dead.port()).to_string();
    let run = s.run(&args);
    run.exits(1);
    assert!(run.stdout.contains(&format!("{MASTER}: not read from Consul")), "{run:#?}");
    assert_eq!(read(&s.state()), state, "never emptied");
    let hosts = read(&s.hosts());
    assert!(hosts.starts_with(OWN_HOSTS), "the host's own lines untouched: {hosts}");
    assert!(hosts.contains(&format!("\n{A} {MASTER}\n# END consul-hosts-fallback\n")), "{hosts}");
    // Both agents back: the block goes, the file is the owner's again.
    s.run(&s.args("sync", true, &[])).exits(0);
    assert_eq!(read(&s.hosts()), OWN_HOSTS);
}

#[test]
fn check_passes_warns_and_fails() {
    let s = Setup::new();
    let run = s.run(&s.args("check", true, &[]));
    run.exits(1);
    assert!(run.stdout.starts_with("WARNING: no fallback yet: "), "{run:#?}");

    s.publish("db-a", A);
    s.run(&s.args("sync", true, &[])).exits(0);
    let run = s.run(&s.args("check", true, &[]));
    run.exits(0);
    assert!(run.stdout.starts_with("PASSING: "), "{run:#?}");

    s.unpublish("db-a");
    s.publish("db-b", B);
    let run = s.run(&s.args("check", true, &[]));
    run.exits(1);
    assert!(run.stdout.starts_with(&format!("WARNING: the fallback disagrees with Consul: {MASTER}: {B} in Consul, {A} in the fallback\n")), "{run:#?}");
    s.run(&s.args("sync", true, &[])).exits(0);

    File::options().write(true).open(s.state()).unwrap().set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
    let run = s.run(&s.args("check", true, &["--max-age", "10m"]));
    run.exits(1);
    assert!(run.stdout.starts_with(&format!("WARNING: fallback {} not confirmed for more than 10m", s.state().display())), "{run:#?}");
    s.run(&s.args("sync", true, &[])).exits(0);

    fs::write(s.hosts(), format!("{OWN_HOSTS}# BEGIN consul-hosts-fallback\n{A} {MASTER}\n# END consul-hosts-fallback\n")).unwrap();
    let run = s.run(&s.args("check", true, &["--format", "json"]));
    run.exits(2);
    assert!(run.stdout.starts_with("{\"status\":\"critical\",\"exit_code\":2,"), "{run:#?}");
    assert!(run.stdout.contains("is in the fallback block"), "{run:#?}");

    fs::write(s.hosts(), format!("{OWN_HOSTS}{A} {MASTER}\n")).unwrap();
    let run = s.run(&s.args("check", true, &[]));
    run.exits(1);
    assert!(run.stdout.contains(&format!("gives {MASTER} the address {A} outside the managed block")), "{run:#?}");
}

#[test]
fn print_config_shows_the_names_and_changes_nothing() {
    let s = Setup::new();
    let before = s.snapshot();
    let run = s.run(&s.args("sync", true, &["--replicas", "--print-config"]));
    run.exits(0);
    assert!(run.stdout.contains("names = [\"master.redis.service.consul\", \"replica.redis.service.consul\"]"), "{run:#?}");
    assert_eq!(s.snapshot(), before);
}
