//! `mysql-after-exec` when someone else writes or its new master cannot be trusted: another
//! writable master in the KV value (exit 5, left alone), concurrent writers racing a hook's
//! transaction (re-read and decided, never overwritten blindly), `--make-writable` beside another
//! writable master, and a rerun that cannot verify the published master. The new master is a
//! real, writable MariaDB. The faults that need both hooks (Consul refusing or hanging, a missing
//! ACL token, a lost reply) are in the `sengu-e2e` package (`tests/tests/hooks_faults.rs`).

use std::cell::Cell;

use sengu::actionlog::ActionLog;
use sengu::consul::KvWrite;
use sengu::mysql::MysqlArgs;
use sengu::mysql_hooks::{self, HookArgs, HookExit, HookFlags, HookSettings, Masters};
use sengu::settings::{CommonArgs, ConfigFile, ConsulArgs};
use sengu_testsupport::hooks::{dead_old_master, hook_args, writable_master, Dc, KV_KEY, MASTER_NODE};
use testbed::host;
use testbed::mariadb::{Mariadb, MariadbOpts};

use crate::after;

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
    let mysql = MysqlArgs { defaults_file: Some(dc.dir().join("sengu.cnf")), ..MysqlArgs::default() };
    let args = HookArgs { mysql, ..HookArgs::default() };
    let consul = ConsulArgs { addr: Some(dc.url()) };
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
    let report = mysql_hooks::before_with(&settings, masters.old.as_ref(), Some(&masters.new), &mut log, &mut |attempt| {
        calls.set(attempt);
        if attempt == 1 {
            put("127.0.0.99:3306");
        }
    });
    assert_eq!((report.exit, calls.get()), (HookExit::Done, 2), "{report:?}");
    assert!(report.details.contains(&"deleted kv foo-db-master (127.0.0.99:3306)".to_string()), "{report:?}");
    assert_eq!(dc.master_kv(), None);

    // after: someone moves the key to a server that is no master; it is probed and replaced.
    let report = mysql_hooks::after_with(&settings, &masters, None, &mut log, &mut |attempt| {
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
    let report = mysql_hooks::after_with(&settings, &masters, None, &mut log, &mut |attempt| {
        if attempt == 1 {
            put(&new_host);
        }
    });
    assert_eq!(report.exit, HookExit::Done, "{report:?}");
    assert!(report.summary.contains("is already published"), "{report:?}");

    // A writer that wins every race: the hook gives up, leaving the writer's value.
    dc.client.kv_delete(KV_KEY, None).unwrap();
    let report = mysql_hooks::after_with(&settings, &masters, None, &mut log, &mut |attempt| {
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
