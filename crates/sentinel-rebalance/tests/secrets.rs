//! The floating sentinel's config may hold `auth-pass`. sengu writes it 0600, but Sentinel
//! rewrites it on every state change with mode `0644 & ~umask`: under umask 022 the secret
//! ended world-readable. Against a real sentinel and a real rewrite (`SENTINEL SET`), the file
//! stays private; and a config in a directory other users can enter is refused before anything
//! is stopped or started.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::pair::{self, Pair, H};

#[test]
fn the_floating_config_stays_private_through_sentinels_rewrites() {
    // The umask most systems run with; this file's only test, so no other test shares it.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let p = Pair::start(pair::Options { script: false, ..Default::default() });

    // A config below directories every user may enter: refused, nothing stopped or started.
    let open = tempfile::Builder::new().prefix("sengu-open-").tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exposed = open.path().join("floating.conf");
    if open.path().ancestors().all(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 != 0)) {
        p.run_env(H::B, &["reconcile"], &[("SENGU_FLOATING_CONFIG", exposed.to_str().unwrap())])
            .exits(2)
            .stdout_starts_with(&format!("sentinel-rebalance: other users can reach the floating sentinel's config {}", exposed.display()));
        assert!(!exposed.exists(), "nothing written");
        assert!(p.floating_port_closed(H::A) && p.floating_port_closed(H::B), "{}", p.report());
        assert_eq!(p.count(H::B, "start-floating"), 0, "{}", p.log(H::B));
    }

    // The configured place (a private directory): started, and private after a rewrite.
    p.run(H::B, &["reconcile"]).exits(0).stdout_starts_with("sentinel-rebalance: started the floating sentinel");
    let conf = &p.files(H::B).floating_conf;
    let mode = || std::fs::metadata(conf).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(), 0o600, "as written");
    let addr = p.floating_addr(H::B);
    let info = redis::ConnectionInfo { addr: redis::ConnectionAddr::Tcp(addr.ip().to_string(), addr.port()), redis: Default::default() };
    let mut con = testbed::redis::connect(&info, Duration::from_secs(2)).unwrap();
    let ok: String = redis::cmd("SENTINEL").arg("SET").arg("mymaster").arg("down-after-milliseconds").arg("2345").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    p.wait("sentinel to rewrite its config", Duration::from_secs(10), || {
        std::fs::read_to_string(conf).is_ok_and(|t| t.contains("down-after-milliseconds mymaster 2345"))
    });
    assert_eq!(mode() & 0o077, 0, "after sentinel's rewrite the config is mode {:o}", mode());
}
