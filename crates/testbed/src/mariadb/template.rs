//! The bootstrapped template datadir every test instance is copied from: built once per
//! machine and MariaDB binary (keyed by the binaries' size and mtime and by the template SQL),
//! by whichever test process first takes the file lock; the others wait and reuse it. A marker
//! file written last tells a complete template from one whose bootstrap died half-way.

use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{mariadbd_bin, tail, APP_PASSWORD, APP_USER, INNODB_FLAGS, MONITOR_GRANTS, MONITOR_PASSWORD, MONITOR_USER, REPL_PASSWORD, REPL_USER, ROOT_USER, TEST_TABLE};

/// Bumped whenever the template's contents change, so a stale template is never reused.
const TEMPLATE_FORMAT: u32 = 1;
fn install_db_bin() -> String {
    std::env::var("SENGU_MARIADB_INSTALL_DB").unwrap_or_else(|_| "mariadb-install-db".into())
}

/// SQL run by `mariadb-install-db --extra-file` after the system tables exist. Bootstrap mode
/// runs without grant tables; `FLUSH PRIVILEGES` loads them so `CREATE USER` works.
fn template_sql() -> String {
    format!(
        "FLUSH PRIVILEGES;\n\
         CREATE USER '{ROOT_USER}'@'%' IDENTIFIED BY '';\n\
         GRANT ALL PRIVILEGES ON *.* TO '{ROOT_USER}'@'%' WITH GRANT OPTION;\n\
         CREATE USER '{REPL_USER}'@'%' IDENTIFIED BY '{REPL_PASSWORD}';\n\
         GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%';\n\
         CREATE USER '{APP_USER}'@'%' IDENTIFIED BY '{APP_PASSWORD}';\n\
         GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER ON *.* TO '{APP_USER}'@'%';\n\
         CREATE USER '{MONITOR_USER}'@'%' IDENTIFIED BY '{MONITOR_PASSWORD}';\n\
         GRANT {MONITOR_GRANTS} ON *.* TO '{MONITOR_USER}'@'%';\n\
         CREATE DATABASE sengu_test;\n\
         CREATE TABLE {TEST_TABLE} (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100)) ENGINE=InnoDB;\n"
    )
}

/// The template datadir, bootstrapped on first use by whichever test process gets the lock.
pub(super) fn template_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(build_template)
}

fn build_template() -> PathBuf {
    let root = std::env::temp_dir().join(format!("sengu-testbed-mariadb-{}", template_key()));
    let data = root.join("data");
    let marker = root.join("complete");
    fs::create_dir_all(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join("lock"))
        .unwrap_or_else(|e| panic!("open template lock in {}: {e}", root.display()));
    // Blocks while another test process is bootstrapping; released when `lock` is dropped.
    lock.lock().unwrap_or_else(|e| panic!("lock template {}: {e}", root.display()));
    if marker.exists() {
        return data;
    }
    if data.exists() {
        // A bootstrap that died half-way; start over.
        fs::remove_dir_all(&data).unwrap_or_else(|e| panic!("remove stale {}: {e}", data.display()));
    }
    let sql = root.join("extra.sql");
    fs::write(&sql, template_sql()).unwrap_or_else(|e| panic!("write {}: {e}", sql.display()));
    let log = root.join("install-db.log");
    let out = File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
    let err = out.try_clone().unwrap_or_else(|e| panic!("dup {}: {e}", log.display()));
    let status = Command::new(install_db_bin())
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(format!("--extra-file={}", sql.display()))
        .args(INNODB_FLAGS)
        .current_dir(&root)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", install_db_bin()));
    if !status.success() {
        panic!("{} failed ({status}) for {}\n{}", install_db_bin(), data.display(), tail(&log));
    }
    // Written last: its presence means the template is complete.
    fs::write(&marker, b"ok\n").unwrap_or_else(|e| panic!("write {}: {e}", marker.display()));
    data
}

/// Distinguishes templates by binary (path, size, mtime) and by [`TEMPLATE_FORMAT`], so an
/// upgraded MariaDB or changed template SQL gets a fresh template.
fn template_key() -> String {
    let mut h = DefaultHasher::new();
    TEMPLATE_FORMAT.hash(&mut h);
    template_sql().hash(&mut h);
    for bin in [mariadbd_bin(), install_db_bin()] {
        bin.hash(&mut h);
        if let Some(meta) = which(&bin).and_then(|p| fs::metadata(p).ok()) {
            meta.len().hash(&mut h);
            meta.modified().ok().hash(&mut h);
        }
    }
    format!("v{TEMPLATE_FORMAT}-{:016x}", h.finish())
}

fn which(bin: &str) -> Option<PathBuf> {
    if bin.contains('/') {
        return Some(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(bin)).find(|p| p.is_file())
}

pub(super) fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
