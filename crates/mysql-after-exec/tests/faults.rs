//! The MySQL hooks when Consul misbehaves or someone else writes: Consul refusing connections
//! or hanging (exit 1, nothing changed, a rerun completes), an ACL token missing (exit 4,
//! nothing changed), another writable master in the KV value (exit 5, left alone), and
//! concurrent writers racing a hook's transaction (re-read and decided, never overwritten
//! blindly). The new master is a real, writable MariaDB.

#[path = "../../redis-master-check/tests/support/mod.rs"]
mod support;

mod hooks;

use std::cell::Cell;

use hooks::{after, before, hook_args, Dc, AGENT, KV_KEY, MASTER_NODE};
use sengu::actionlog::ActionLog;
use sengu::consul::KvWrite;
use sengu::mysql::MysqlArgs;
use sengu::mysql_hooks::{self, HookArgs, HookExit, HookFlags, HookSettings, Masters};
use sengu::settings::{CommonArgs, ConfigFile, ConsulArgs};
use testbed::mariadb::{Mariadb, MariadbOpts};
use testbed::{host, reserve};

fn writable_master(n: u8) -> Mariadb {
    Mariadb::start(MariadbOpts::new(host(n)).read_only(false))
}

/// An old master that is gone: nothing listens on its port.
fn dead_old_master() -> (testbed::PortLease, [String; 2]) {
    let lease = reserve(host(11));
    let port = lease.port().to_string();
    (lease, [host(11).to_string(), port])
}

#[test]
fn consul_refusing_or_hanging_exits_one_changes_nothing_and_a_rerun_completes() {
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let [new_host, new_port] = hook_args(&new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];
    let dc = Dc::new();
    dc.seed(host(11), None);

    dc.standin.refuse_agent(AGENT).unwrap();
    before(&dc, &four, &[])
        .exits(1)
        .stdout_starts_with(&format!("mysql-before-exec: old master {old_host}:{old_port} not taken out of consul: consul at 127.0.0.1:"))
        .stdout_contains("is unreachable")
        .stdout_contains("this run changed nothing in consul; what it holds could not be read (retry is safe)");
    dc.standin.resume_agent(AGENT).unwrap();
    assert_eq!(dc.master_node(), Some(old_host.clone()), "nothing changed");
    before(&dc, &four, &[]).exits(0);

    dc.standin.refuse_agent(AGENT).unwrap();
    after(&dc, &four, &[])
        .exits(1)
        .stdout_starts_with(&format!("mysql-after-exec: {new_host}:{new_port} not published: consul at 127.0.0.1:"))
        .stdout_contains("(retry is safe)");
    // A hung agent: the run's budget bounds the wait.
    dc.standin.resume_agent(AGENT).unwrap();
    dc.standin.pause_agent(AGENT).unwrap();
    let started = std::time::Instant::now();
    after(&dc, &four, &[("SENGU_TIMEOUT", "1s")]).exits(1).stdout_contains("did not answer");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    dc.standin.resume_agent(AGENT).unwrap();
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None), "still as before left it");

    after(&dc, &four, &[]).exits(0).stdout_contains(&format!("consul's master record names {new_host}"));
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host)));
    assert!(dc.log_lines().iter().filter(|l| l.contains(" action=failed ")).count() >= 3, "{:#?}", dc.log_lines());
}

#[test]
fn a_missing_acl_token_exits_four_changes_nothing_and_the_token_fixes_it() {
    const TOKEN: &str = "d7c1b2a0-secret-token";
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let [new_host, new_port] = hook_args(&new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];
    let dc = Dc::with_acl(TOKEN);
    dc.seed(host(11), None);
    let snapshot = dc.snapshot();

    for run in [before(&dc, &four, &[]), after(&dc, &four, &[])] {
        run.exits(4).stdout_contains("(acl): Permission denied").stdout_contains("this run changed nothing in consul");
        assert!(!run.stdout().contains("retry is safe"), "{run}");
    }
    assert_eq!(dc.snapshot(), snapshot);

    let token_file = dc.token_file();
    let with_token = [("CONSUL_HTTP_TOKEN_FILE", token_file.as_str())];
    before(&dc, &four, &with_token).exits(0);
    after(&dc, &four, &with_token).exits(0);
    assert_eq!(dc.master_node(), Some(new_host));
    let log = std::fs::read_to_string(dc.log_path()).unwrap();
    assert!(!log.contains(TOKEN), "the token must never reach the log");
}

/// Someone else published a server that is itself a writable master: after refuses to
/// overwrite it (two writable masters need a person); once it is read-only, after replaces it.
#[test]
fn after_leaves_another_writable_master_alone_and_replaces_one_that_is_not() {
    let new = writable_master(12);
    let other = writable_master(13);
    let [new_host, new_port] = hook_args(&new);
    let dc = Dc::new();
    dc.register(MASTER_NODE, &other.host().to_string(), None);
    // HOST:PORT, as orchestrator writes it: the hooks read every format.
    dc.client.kv_put(KV_KEY, other.host_port().as_bytes(), KvWrite::default()).unwrap();
    let snapshot = dc.snapshot();

    after(&dc, &[&new_host, &new_port], &[])
        .exits(5)
        .stdout_contains(&format!("{}:{} is a writable master too; left as is", other.host(), other.port()));
    assert_eq!(dc.snapshot(), snapshot, "not overwritten");

    other.set_read_only(true);
    after(&dc, &[&new_host, &new_port], &[])
        .exits(0)
        .stdout_contains(&format!("replacing {} in consul: it is not a writable master", other.host_port()))
        .stdout_contains(&format!("kv foo-db-master -> {new_host} (was {})", other.host_port()));
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host)));
}

fn settings(dc: &Dc) -> HookSettings {
    let mysql = MysqlArgs { mysql_defaults_file: Some(dc.dir().join("sengu.cnf")), ..MysqlArgs::default() };
    let args = HookArgs { mysql, ..HookArgs::default() };
    let consul = ConsulArgs { consul_addr: Some(dc.url()) };
    HookSettings::resolve(&args, &HookFlags::default(), &CommonArgs::default(), &consul, &ConfigFile::empty()).unwrap()
}

/// A writer changes the KV key between the hook's read and its transaction. The transaction's
/// guard rolls it back, the hook reads again and decides on what it finds.
#[test]
fn a_concurrent_writer_is_re_read_and_decided_never_overwritten_blindly() {
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let masters = Masters { old: Some(format!("{old_host}:{old_port}").parse().unwrap()), new: new.host_port().parse().unwrap() };
    let dc = Dc::new();
    let settings = settings(&dc);
    let mut log = ActionLog::disabled("test");
    let new_host = new.host().to_string();
    let put = |value: &str| dc.client.kv_put(KV_KEY, value.as_bytes(), KvWrite::default()).unwrap();
    let calls = Cell::new(0);

    // before: the key reappears under it; the second attempt removes what is there now.
    dc.seed(host(11), None);
    let report = mysql_hooks::before_with(&settings, &masters, &mut log, &mut |attempt| {
        calls.set(attempt);
        if attempt == 1 {
            put("127.0.0.99:3306");
        }
    });
    assert_eq!((report.exit, calls.get()), (HookExit::Done, 2), "{report:?}");
    assert!(report.details.contains(&"deleted kv foo-db-master (127.0.0.99:3306)".to_string()), "{report:?}");
    assert_eq!(dc.master_kv(), None);

    // after: someone moves the key to a server that is no master; it is probed and replaced.
    let report = mysql_hooks::after_with(&settings, &masters, &mut log, &mut |attempt| {
        calls.set(attempt);
        if attempt == 1 {
            put("127.0.0.99:3306");
        }
    });
    assert_eq!((report.exit, calls.get()), (HookExit::Done, 2), "{report:?}");
    assert!(report.details.contains(&"replacing 127.0.0.99:3306 in consul: it is not a writable master".to_string()), "{report:?}");
    assert_eq!(dc.master_kv(), Some(new_host.clone()));

    // after: someone else published the same new master first; that is the end state wanted.
    dc.client.kv_delete(KV_KEY, None).unwrap();
    let report = mysql_hooks::after_with(&settings, &masters, &mut log, &mut |attempt| {
        if attempt == 1 {
            put(&new_host);
        }
    });
    assert_eq!(report.exit, HookExit::Done, "{report:?}");
    assert!(report.summary.contains("is already published"), "{report:?}");

    // A writer that wins every race: the hook gives up, leaving the writer's value.
    dc.client.kv_delete(KV_KEY, None).unwrap();
    let report = mysql_hooks::after_with(&settings, &masters, &mut log, &mut |attempt| {
        calls.set(attempt);
        put(if attempt == 1 { "127.0.0.98:3306" } else { "127.0.0.99:3306" });
    });
    assert_eq!((report.exit, calls.get()), (HookExit::ConsulNotUpdated, mysql_hooks::MAX_ATTEMPTS), "{report:?}");
    assert!(report.summary.ends_with("the records changed under every one of 5 attempts; this run changed nothing in consul (retry is safe)"), "{report:?}");
    assert_eq!(dc.master_kv().as_deref(), Some("127.0.0.99:3306"));
    assert_eq!(dc.master_node(), Some(new_host), "published by an earlier run, and the failed transactions changed nothing");
}

/// Issue 11, defect 1: `--make-writable` must not turn `read_only` off before Consul was read.
/// With another writable master published, the hook refuses (exit 5) and the candidate is
/// still read-only afterwards: nothing was made writable.
#[test]
fn make_writable_changes_nothing_when_another_writable_master_is_published() {
    let published = writable_master(12);
    let candidate = Mariadb::start(MariadbOpts::new(host(13)).read_only(true));
    let dc = Dc::new();
    dc.register(MASTER_NODE, &published.host().to_string(), None);
    // HOST:PORT: the testbed's servers do not share one port, as a bare host would assume.
    dc.client.kv_put(KV_KEY, published.host_port().as_bytes(), KvWrite::default()).unwrap();
    let snapshot = dc.snapshot();
    let [host_, port] = hook_args(&candidate);

    after(&dc, &[&host_, &port], &[("SENGU_MAKE_WRITABLE", "true")])
        .exits(5)
        .stdout_contains(&format!("{} is a writable master too; left as is", published.host_port()));
    assert!(candidate.read_only(), "the refused candidate was made writable");
    assert_eq!(dc.snapshot(), snapshot);
    assert!(!dc.log_lines().iter().any(|l| l.contains("make-writable")), "{:#?}", dc.log_lines());

    // Once the published one is read-only too, the candidate is made writable and published.
    published.set_read_only(true);
    after(&dc, &[&host_, &port], &[("SENGU_MAKE_WRITABLE", "true")])
        .exits(0)
        .stdout_contains(&format!("turned read_only off on {host_}:{port} (--make-writable)"));
    assert!(!candidate.read_only());
    assert_eq!(dc.master_node(), Some(host_));
}

/// Issue 11, defect 2: a rerun for a master that is already published, which cannot verify it
/// (wrong password, a stall past the MySQL timeout), leaves the records alone: only the
/// server's own answer (read-only, replicating) may unpublish it.
#[test]
fn an_unverifiable_rerun_leaves_the_published_master_alone() {
    let new = writable_master(12);
    let [new_host, new_port] = hook_args(&new);
    let dc = Dc::new();
    after(&dc, &[&new_host, &new_port], &[]).exits(0);
    let published = dc.snapshot();
    assert_eq!(dc.master_node(), Some(new_host.clone()));

    let wrong = dc.dir().join("wrong.cnf");
    std::fs::write(&wrong, format!("[client]\nuser = {}\npassword = rotated\n", testbed::mariadb::MONITOR_USER)).unwrap();
    let wrong = wrong.display().to_string();
    after(&dc, &[&new_host, &new_port], &[("SENGU_MYSQL_DEFAULTS_FILE", &wrong)])
        .exits(3)
        .stdout_contains("denied access")
        .stdout_contains(&format!("consul's master record names {new_host}, left as is: nothing shows it is wrong"));
    assert_eq!(dc.snapshot(), published, "a run that could not verify changed consul");

    new.freeze();
    let run = after(&dc, &[&new_host, &new_port], &[("SENGU_MYSQL_TIMEOUT", "1s")]);
    new.thaw();
    run.exits(3).stdout_contains("did not answer").stdout_contains("left as is");
    assert_eq!(dc.snapshot(), published, "a stalled server was unpublished");

    // Evidence does unpublish: the server itself says it is read-only.
    new.set_read_only(true);
    after(&dc, &[&new_host, &new_port], &[]).exits(3).stdout_contains("is not writable: read_only");
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));
}

/// Issue 11, defect 5: Consul applies the transaction but the reply is lost. The hooks read
/// again and report what Consul holds; the action log never says the change did not happen.
#[test]
fn a_lost_reply_is_re_read_and_reported_as_applied() {
    use consul_standin::LostReply;
    let new = writable_master(12);
    let (_lease, [old_host, old_port]) = dead_old_master();
    let [new_host, new_port] = hook_args(&new);
    let four = [old_host.as_str(), &old_port, &new_host, &new_port];
    let dc = Dc::new();
    dc.seed(host(11), None);

    dc.standin.lose_next_reply(AGENT, LostReply::Hang).unwrap();
    before(&dc, &four, &[])
        .exits(0)
        .stdout_contains(&format!("old master {old_host}:{old_port} taken out of consul"))
        .stdout_contains("the reply to the transaction was lost (consul at 127.0.0.1:")
        .stdout_contains("a re-read shows it applied");
    assert_eq!((dc.master_node(), dc.master_kv()), (None, None));

    dc.standin.lose_next_reply(AGENT, LostReply::Reset).unwrap();
    after(&dc, &four, &[])
        .exits(0)
        .stdout_contains(&format!("published {new_host}:{new_port} as the master"))
        .stdout_contains("lost the reply to PUT /v1/txn");
    assert_eq!((dc.master_node(), dc.master_kv()), (Some(new_host.clone()), Some(new_host)));
    let log = dc.log_lines();
    assert!(log.iter().all(|l| !l.contains(" action=failed ")), "{log:#?}");
    assert_eq!(log.iter().filter(|l| l.contains(" action=unpublish ") || l.contains(" action=publish ")).count(), 2, "{log:#?}");
}
