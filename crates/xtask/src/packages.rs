//! The Debian packages whose programs the tests start (and the package check uses), found by
//! their binaries and installed with apt-get when any is missing.
//!
//! Installing must not leave a system Redis, Sentinel or MariaDB running (it could hold ports
//! and would outlive the tests), so a `policy-rc.d` that denies every service start is in place
//! while apt-get runs; it also keeps a failed service start from failing the install.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{run_checked, DynError};

/// A program the tests need, the package that ships it, and the variable that lets the testbed
/// use another copy instead.
struct Needed {
    binary: &'static str,
    package: &'static str,
    override_var: Option<&'static str>,
}

const NEEDED: &[Needed] = &[
    Needed { binary: "redis-server", package: "redis-server", override_var: Some("SENGU_REDIS_SERVER") },
    Needed { binary: "redis-sentinel", package: "redis-sentinel", override_var: Some("SENGU_REDIS_SENTINEL") },
    Needed { binary: "redis-cli", package: "redis-tools", override_var: None },
    Needed { binary: "mariadbd", package: "mariadb-server", override_var: Some("SENGU_MARIADBD") },
    Needed { binary: "mariadb-install-db", package: "mariadb-server", override_var: Some("SENGU_MARIADB_INSTALL_DB") },
    Needed { binary: "mariadb", package: "mariadb-client", override_var: None },
    Needed { binary: "dnsmasq", package: "dnsmasq-base", override_var: Some("SENGU_DNSMASQ") },
    // consul-hosts-fallback's namespace tests bring up the loopback of their network namespace.
    Needed { binary: "ip", package: "iproute2", override_var: None },
    // The partition lab (testbed::netlab) cuts and heals links between its host namespaces.
    Needed { binary: "nft", package: "nftables", override_var: None },
    // MHA 0.58, driving mysql-mha-script in the e2e tests; the node package holds the tools
    // the manager runs on each server.
    Needed { binary: "masterha_master_switch", package: "mha4mysql-manager", override_var: Some("SENGU_MHA_SWITCH") },
    Needed { binary: "apply_diff_relay_logs", package: "mha4mysql-node", override_var: None },
    // The package check (`dist::check`): Depends from the executables' libraries, and `man -w`.
    Needed { binary: "dpkg-shlibdeps", package: "dpkg-dev", override_var: None },
    Needed { binary: "man", package: "man-db", override_var: None },
];

/// The services the packages would start, by package; stopped if they run after an install.
const SERVICES: &[(&str, &str)] = &[("redis-server", "redis-server"), ("redis-sentinel", "redis-sentinel"), ("mariadb-server", "mariadb")];

/// Daemons are often in sbin, which a non-root `PATH` may lack.
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// Makes sure every needed program is there: installs the missing packages when running as
/// root, else fails with the exact command to run.
pub fn ensure() -> Result<(), DynError> {
    let missing = missing_packages(&is_present);
    if missing.is_empty() {
        return Ok(());
    }
    let install = install_args(&missing);
    if !is_root() {
        return Err(format!(
            "missing test packages: {}\nrun as root:\n  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get {}",
            missing.join(" "),
            install.join(" ")
        )
        .into());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    {
        let _deny = DenyServiceStarts::install()?;
        run_checked(apt_get().arg("update"))?;
        run_checked(apt_get().args(&install))?;
    }
    stop_services(&missing);
    let still_missing = missing_packages(&is_present);
    if !still_missing.is_empty() {
        return Err(format!("still missing after apt-get install: {}", still_missing.join(" ")).into());
    }
    Ok(())
}

/// The packages (each once, in [`NEEDED`] order) whose programs `present` does not find.
fn missing_packages(present: &dyn Fn(&Needed) -> bool) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for needed in NEEDED.iter().filter(|n| !present(n)) {
        if !packages.contains(&needed.package) {
            packages.push(needed.package);
        }
    }
    packages
}

/// `install -y --no-install-recommends …` with the packages; conffile questions take the
/// default so nothing waits for a terminal.
fn install_args(packages: &[&str]) -> Vec<String> {
    let fixed = ["install", "-y", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"];
    fixed.iter().chain(packages).map(|s| s.to_string()).collect()
}

fn apt_get() -> Command {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

/// True when the testbed's override variable names a program, or the binary is on `PATH`
/// or in an sbin directory.
fn is_present(needed: &Needed) -> bool {
    if needed.override_var.and_then(std::env::var_os).is_some() {
        return true;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(EXTRA_DIRS.iter().map(PathBuf::from));
    is_in(needed.binary, dirs)
}

/// True when one of `dirs` holds an executable file named `binary`.
fn is_in(binary: &str, dirs: impl IntoIterator<Item = PathBuf>) -> bool {
    dirs.into_iter().any(|dir| {
        dir.join(binary).metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| effective_uid(&status) == Some(0))
}

/// The effective uid from `/proc/self/status` (`Uid: real effective saved fs`).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A `policy-rc.d` that answers "denied" (101) to every service start while it exists; removed
/// on drop. An existing one is the administrator's and is left alone.
struct DenyServiceStarts {
    created: bool,
}

impl DenyServiceStarts {
    fn install() -> Result<Self, DynError> {
        let path = Path::new(POLICY_RC_D);
        if path.exists() {
            return Ok(DenyServiceStarts { created: false });
        }
        let script = "#!/bin/sh\n# Written by `cargo xtask` while it installs test packages: start no services.\nexit 101\n";
        std::fs::write(path, script).map_err(|e| format!("cannot write {POLICY_RC_D}: {e}"))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
        Ok(DenyServiceStarts { created: true })
    }
}

impl Drop for DenyServiceStarts {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(POLICY_RC_D);
        }
    }
}

/// Stops the services of packages just installed, in case an administrator's own policy-rc.d
/// let them start (or systemd socket-activated them), and keeps them from starting at boot.
fn stop_services(installed: &[&str]) {
    let systemd = Path::new("/run/systemd/system").exists();
    for (_, unit) in SERVICES.iter().filter(|(package, _)| installed.contains(package)) {
        let _ = if systemd {
            Command::new("systemctl").args(["disable", "--now", "--quiet", unit]).status()
        } else {
            Command::new("invoke-rc.d").args(["--quiet", unit, "stop"]).status()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_missing_when_every_binary_is_found() {
        assert!(missing_packages(&|_| true).is_empty());
    }

    #[test]
    fn a_package_is_listed_once_for_all_its_missing_binaries() {
        let missing = missing_packages(&|n| !n.binary.starts_with("mariadb"));
        assert_eq!(missing, ["mariadb-server", "mariadb-client"]);
        assert_eq!(missing_packages(&|_| false), ["redis-server", "redis-sentinel", "redis-tools", "mariadb-server", "mariadb-client", "dnsmasq-base", "iproute2", "nftables", "mha4mysql-manager", "mha4mysql-node", "dpkg-dev", "man-db"]);
    }

    #[test]
    fn the_install_line_is_non_interactive_and_minimal() {
        assert_eq!(
            install_args(&["redis-tools", "dnsmasq-base"]).join(" "),
            "install -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold redis-tools dnsmasq-base"
        );
    }

    #[test]
    fn the_effective_uid_is_the_second_field() {
        assert_eq!(effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t0\n"), Some(0));
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn a_binary_is_found_only_as_an_executable_file() {
        let empty = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        for (name, mode) in [("prog", 0o755), ("data", 0o644)] {
            let path = bin.path().join(name);
            std::fs::write(&path, "").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::fs::create_dir(bin.path().join("subdir")).unwrap();
        let dirs = || [empty.path().to_path_buf(), bin.path().to_path_buf()];
        assert!(is_in("prog", dirs()));
        assert!(!is_in("data", dirs()));
        assert!(!is_in("subdir", dirs()));
        assert!(!is_in("prog", [empty.path().to_path_buf()]));
    }
}
