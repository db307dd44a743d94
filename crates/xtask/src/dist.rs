//! `cargo xtask dist [--profile release|dev]`: the Debian package an operator installs,
//! `target/debian/sengu_<version>_<arch>.deb`; and [`check`], which `cargo xtask test` runs
//! after the workspace tests (`cargo xtask dist --check` alone): install that package with
//! `dpkg -i`, ask each executable for `--help` and `man -w` for each page, verify the systemd
//! units, remove the package and find nothing of it left.
//!
//! The package is staged under `target/debian/` and built with `dpkg-deb --root-owner-group`,
//! so no cargo plugin is needed; `dpkg-shlibdeps` (dpkg-dev) computes `Depends` from the
//! libraries the executables link, as Debian's own packages do. What goes where is
//! [`contents`]. Nothing goes to `/etc` (no conffiles) and there are no maintainer scripts:
//! installing the package enables and starts nothing.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::demo::target_dir;
use crate::{cargo, man, packages, project_root, run_checked, DynError};

const PACKAGE: &str = "sengu";
const MAINTAINER: &str = "sengu maintainers <maintainers@users.noreply.r-seed-ea3693e0.example>";
const SYNOPSIS: &str = "failover checks and hooks for Redis and MySQL behind Consul";
/// The long description, as text; [`control`] indents it and marks the empty lines.
const DESCRIPTION: &str = "\
Small single-purpose executables that plug into Consul health checks and into
the hooks of failover managers (Sentinel, mysqlfailover, MHA, orchestrator):

  redis-master-check   Consul check: pass only on the one true Redis master
  sentinel-rebalance   Sentinel script: move the spare sentinel after failovers
  mysql-before-exec    mysqlfailover hook: take the old master out of Consul
  mysql-after-exec     mysqlfailover hook: verify and publish the new master
  mysql-fail-check     mysqlfailover check: confirm the master is really down
  mysql-mha-script     MHA script: unpublish, fence, verify and publish masters
  mysql-master-check   Consul check: the published MySQL master and replicas
  sengu-drill          planned switchovers that measure what clients felt
  consul-hosts-fallback  hosts-file fallback while the Consul agent is down

With man pages, shell completions, systemd timers for sentinel-rebalance and a
weekly Redis drill (installed, not enabled), and the example configurations in
/usr/share/doc/sengu/examples.";

/// The repository's systemd units, installed as they are in `lib/systemd/system`.
const UNITS_DIR: &str = "packaging/systemd";
const COPYRIGHT: &str = "packaging/debian/copyright";
const DOC_DIR: &str = "usr/share/doc/sengu";
const MAN1_DIR: &str = "usr/share/man/man1";
/// How long an installed executable may take to print its `--help`.
const HELP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which cargo profile the executables come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Profile {
    Release,
    Dev,
}

impl Profile {
    fn parse(args: &[OsString]) -> Result<Profile, DynError> {
        let args: Vec<&str> = args.iter().map(|a| a.to_str().ok_or("non-UTF-8 argument")).collect::<Result<_, _>>()?;
        let value = match args.as_slice() {
            [] => return Ok(Profile::Release),
            ["--profile", value] => *value,
            [one] if one.starts_with("--profile=") => &one["--profile=".len()..],
            _ => return Err(format!("usage: cargo xtask dist [--profile release|dev | --check], not {}", args.join(" ")).into()),
        };
        match value {
            "release" => Ok(Profile::Release),
            "dev" => Ok(Profile::Dev),
            other => Err(format!("unknown profile {other:?}: release or dev").into()),
        }
    }

    /// The name cargo's `--profile` takes.
    fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dev => "dev",
        }
    }

    /// The directory under `target/` the profile builds into.
    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Dev => "debug",
        }
    }
}

/// Builds the shipped executables with cargo, then the package, and prints its path; with
/// `--check`, builds the dev executables and runs the package check alone.
pub fn run(args: Vec<OsString>) -> Result<(), DynError> {
    let check_only = args.len() == 1 && args[0] == "--check";
    let profile = if check_only { Profile::Dev } else { Profile::parse(&args)? };
    if check_only {
        may_check()?;
    }
    let mut build = cargo(["build", "--quiet", "--profile", profile.name(), "--bins"]);
    for exe in executables() {
        build.args(["-p", &exe]);
    }
    eprintln!("xtask: building the executables (cargo build --profile {} --bins -p …)", profile.name());
    run_checked(&mut build)?;
    if check_only {
        return check();
    }
    let package = build_package(profile)?;
    println!("{}", package.deb.display());
    Ok(())
}

/// The shipped executables, by name: the commands `cargo xtask man` documents, each the one
/// binary of the package of the same name. consul-standin and the programs of the `sengu-e2e`
/// package are test tools and never shipped.
fn executables() -> Vec<String> {
    man::executables().iter().map(|c| c.get_name().to_string()).collect()
}

/// A package written to disk.
#[derive(Debug)]
struct Package {
    deb: PathBuf,
    version: String,
    /// Every file in it, as [`contents`] lists them.
    files: Vec<Entry>,
}

/// One file of the package: where it goes (relative to `/`), what it holds, its mode.
/// A destination ending in `.gz` is compressed with `gzip -9n` when staged.
#[derive(Debug)]
struct Entry {
    dest: String,
    source: Source,
    mode: u32,
}

#[derive(Debug)]
enum Source {
    /// An executable from the target directory, stripped when staged (as dh_strip does).
    Executable(PathBuf),
    /// A file from the repository.
    File(PathBuf),
    /// Rendered here: man pages, completions, the changelog.
    Bytes(Vec<u8>),
}

/// Stages the package from the executables already built in `target/<profile>` and writes it
/// with `dpkg-deb` to `target/debian/` (the dev package to `target/debian/dev/`). Builds no
/// executable.
fn build_package(profile: Profile) -> Result<Package, DynError> {
    for tool in ["dpkg-deb", "dpkg-shlibdeps", "strip"] {
        if !on_path(tool) {
            return Err(format!("{tool} is missing: the package is built with dpkg-dev's tools (apt-get install dpkg-dev)").into());
        }
    }
    let version = debian_version(env!("CARGO_PKG_VERSION"));
    let arch = stdout_of(Command::new("dpkg").arg("--print-architecture"))?.trim().to_string();
    let bins = target_dir(profile.dir());
    for exe in executables() {
        if !bins.join(&exe).is_file() {
            return Err(format!("{} is missing: build it first (cargo build --profile {} --bins)", bins.join(&exe).display(), profile.name()).into());
        }
    }
    // The check's dev package must not replace a release package built earlier.
    let out = match profile {
        Profile::Release => target_dir("debian"),
        Profile::Dev => target_dir("debian").join("dev"),
    };
    // dpkg-shlibdeps wants a source tree: debian/control, and the package's files in debian/<package>.
    let work = out.join("stage");
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| format!("cannot remove {}: {e}", work.display()))?;
    }
    let root = work.join("debian").join(PACKAGE);
    let files = contents(&project_root(), &bins, &man::generated()?, changelog(&version, &release_time()).into_bytes())?;
    for entry in &files {
        stage(entry, &root)?;
    }
    std::fs::write(work.join("debian/control"), format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"))?;
    let depends = shlib_depends(&work, &files)?;
    let installed_size = directory_kib(&root)?;
    let debian = root.join("DEBIAN");
    std::fs::create_dir(&debian)?;
    let control = control(&ControlFields { version: &version, arch: &arch, depends: &depends, installed_size_kib: installed_size });
    write_file(&debian.join("control"), control.as_bytes(), 0o644)?;
    write_file(&debian.join("md5sums"), &md5sums(&root, &files)?, 0o644)?;
    set_directory_modes(&root)?;
    let deb = out.join(format!("{PACKAGE}_{version}_{arch}.deb"));
    // The dev package only lives for the check: fast compression rather than small.
    let compression: &[&str] = match profile {
        Profile::Release => &["-Zxz"],
        Profile::Dev => &["-Zgzip", "-z1"],
    };
    quiet(Command::new("dpkg-deb").arg("--root-owner-group").args(compression).arg("--build").arg(&root).arg(&deb))?;
    std::fs::remove_dir_all(&work).map_err(|e| format!("cannot remove {}: {e}", work.display()))?;
    Ok(Package { deb, version, files })
}

/// What the package holds, and where. `generated` is what `cargo xtask man` renders (man pages
/// and completions, keyed by their path in the repository); `root` is the repository.
fn contents(root: &Path, bins: &Path, generated: &BTreeMap<PathBuf, Vec<u8>>, changelog: Vec<u8>) -> Result<Vec<Entry>, DynError> {
    let mut files = Vec::new();
    for exe in executables() {
        files.push(Entry { dest: format!("usr/bin/{exe}"), source: Source::Executable(bins.join(&exe)), mode: 0o755 });
    }
    for (path, text) in generated {
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("bad generated path {}", path.display()))?;
        let dest = if path.starts_with(man::MAN_DIR) {
            format!("{MAN1_DIR}/{name}.gz")
        } else {
            completion_dest(name).ok_or_else(|| format!("no place for the generated file {}", path.display()))?
        };
        files.push(Entry { dest, source: Source::Bytes(text.clone()), mode: 0o644 });
    }
    for unit in files_under(&root.join(UNITS_DIR))? {
        let name = unit.file_name().unwrap_or_default().to_string_lossy().to_string();
        files.push(Entry { dest: format!("lib/systemd/system/{name}"), source: Source::File(unit), mode: 0o644 });
    }
    for (dir, under) in [("consul.d", "examples/consul.d"), ("examples", "examples")] {
        let base = root.join(dir);
        for file in files_under(&base)? {
            let relative = file.strip_prefix(&base)?.to_string_lossy().to_string();
            let executable = file.metadata()?.permissions().mode() & 0o111 != 0;
            files.push(Entry { dest: format!("{DOC_DIR}/{under}/{relative}"), source: Source::File(file), mode: if executable { 0o755 } else { 0o644 } });
        }
    }
    files.push(Entry { dest: format!("{DOC_DIR}/README.md.gz"), source: Source::File(root.join("README.md")), mode: 0o644 });
    files.push(Entry { dest: format!("{DOC_DIR}/copyright"), source: Source::File(root.join(COPYRIGHT)), mode: 0o644 });
    files.push(Entry { dest: format!("{DOC_DIR}/changelog.gz"), source: Source::Bytes(changelog), mode: 0o644 });
    Ok(files)
}

/// Where Debian's shells look for a completion file clap_complete names `name`.
fn completion_dest(name: &str) -> Option<String> {
    if let Some(command) = name.strip_suffix(".bash") {
        Some(format!("usr/share/bash-completion/completions/{command}"))
    } else if name.ends_with(".fish") {
        Some(format!("usr/share/fish/vendor_completions.d/{name}"))
    } else if name.starts_with('_') {
        Some(format!("usr/share/zsh/vendor-completions/{name}"))
    } else {
        None
    }
}

/// A cargo version as a Debian version: a pre-release (`1.0.0-rc.1`) sorts before its release
/// only with `~` (`1.0.0~rc.1`), and a `-` would read as a Debian revision.
fn debian_version(cargo_version: &str) -> String {
    cargo_version.replacen('-', "~", 1)
}

#[derive(Debug)]
struct ControlFields<'a> {
    version: &'a str,
    arch: &'a str,
    depends: &'a str,
    installed_size_kib: u64,
}

/// `DEBIAN/control`.
fn control(fields: &ControlFields) -> String {
    let mut text = format!(
        "Package: {PACKAGE}\nVersion: {}\nArchitecture: {}\nMaintainer: {MAINTAINER}\nInstalled-Size: {}\n",
        fields.version, fields.arch, fields.installed_size_kib
    );
    if !fields.depends.is_empty() {
        text.push_str(&format!("Depends: {}\n", fields.depends));
    }
    text.push_str(&format!("Section: admin\nPriority: optional\nDescription: {SYNOPSIS}\n"));
    for line in DESCRIPTION.lines() {
        text.push_str(if line.is_empty() { " ." } else { " " });
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The changelog: one entry for the version, dated `date` (RFC 2822). The package is native
/// (built from the upstream repository, no Debian revision), so it is `changelog.gz`, not
/// `changelog.Debian.gz`.
fn changelog(version: &str, date: &str) -> String {
    format!(
        "{PACKAGE} ({version}) unstable; urgency=medium\n\n  * Built by `cargo xtask dist` from the sengu repository; its history is the\n    changelog.\n\n -- {MAINTAINER}  {date}\n"
    )
}

/// The changelog's date: `SOURCE_DATE_EPOCH`, else the last commit's time, else now, so that the
/// same commit gives the same package.
fn release_time() -> String {
    let from_env = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse().ok());
    let from_git = || {
        let out = Command::new("git").args(["log", "-1", "--format=%ct"]).current_dir(project_root()).stderr(Stdio::null()).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    rfc2822(from_env.or_else(from_git).unwrap_or_else(now))
}

/// `Tue, 01 Dec 2026 23:08:01 +0000` for seconds since the epoch (UTC).
fn rfc2822(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Writes `entry` under `root`.
fn stage(entry: &Entry, root: &Path) -> Result<(), DynError> {
    let gzip = entry.dest.ends_with(".gz");
    let path = root.join(entry.dest.strip_suffix(".gz").unwrap_or(&entry.dest));
    std::fs::create_dir_all(path.parent().unwrap_or(root))?;
    match &entry.source {
        Source::Executable(binary) => {
            let mut strip = Command::new("strip");
            strip.args(["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", "-o"]).arg(&path).arg(binary);
            quiet(&mut strip)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(entry.mode))?;
        }
        Source::File(file) => {
            let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            write_file(&path, &text, entry.mode)?;
        }
        Source::Bytes(text) => write_file(&path, text, entry.mode)?,
    }
    if gzip {
        quiet(Command::new("gzip").arg("-9n").arg(&path))?;
    }
    Ok(())
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), DynError> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `Depends` from `dpkg-shlibdeps` over the staged executables (e.g. `libc6 (>= 2.34),
/// libgcc-s1 (>= 4.2)`), run in `work`, which holds `debian/control` and `debian/sengu/`.
fn shlib_depends(work: &Path, files: &[Entry]) -> Result<String, DynError> {
    let mut cmd = Command::new("dpkg-shlibdeps");
    cmd.current_dir(work).arg("-O");
    for entry in files.iter().filter(|e| matches!(e.source, Source::Executable(_))) {
        cmd.arg(format!("-edebian/{PACKAGE}/{}", entry.dest));
    }
    let out = stdout_of(&mut cmd)?;
    let depends = out.lines().find_map(|l| l.strip_prefix("shlibs:Depends=")).unwrap_or_default();
    Ok(depends.trim().to_string())
}

/// `DEBIAN/md5sums`: `md5sum` over every file, by its path relative to `root`.
fn md5sums(root: &Path, files: &[Entry]) -> Result<Vec<u8>, DynError> {
    let mut cmd = Command::new("md5sum");
    cmd.current_dir(root).arg("--");
    cmd.args(files.iter().map(|e| &e.dest));
    Ok(stdout_of(&mut cmd)?.into_bytes())
}

/// `Installed-Size` as dpkg-gencontrol counts it: each file's size in KiB, rounded up, plus
/// one per directory.
fn directory_kib(dir: &Path) -> Result<u64, DynError> {
    let mut kib = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        kib += if meta.is_dir() { 1 + directory_kib(&entry.path())? } else { meta.len().div_ceil(1024) };
    }
    Ok(kib)
}

/// Every directory 0755, whatever the umask made of them.
fn set_directory_modes(dir: &Path) -> Result<(), DynError> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            set_directory_modes(&entry.path())?;
        }
    }
    Ok(())
}

/// The regular files under `dir`, recursively, sorted; hidden ones skipped.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, DynError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            files.extend(files_under(&entry.path())?);
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The packaging test, run by `cargo xtask test` after `cargo test --workspace`: builds the
/// package from the dev executables that run left in `target/debug`, installs it, runs each
/// executable's `--help` from `/usr/bin` and `man -w` for each page, verifies the systemd units
/// (when `systemd-analyze` is there), removes the package and fails if any of its files is
/// left. Needs root; refuses to touch a `sengu` package it did not install; removes its own
/// also when a step fails.
pub fn check() -> Result<(), DynError> {
    let started = Instant::now();
    may_check()?;
    let package = build_package(Profile::Dev)?;
    let mut installed = Installed { armed: true };
    quiet(Command::new("dpkg").arg("-i").arg(&package.deb))?;
    let listed: Vec<String> = stdout_of(Command::new("dpkg-query").args(["-L", PACKAGE]))?.lines().map(str::to_string).filter(|l| l.starts_with('/')).collect();
    let missing: Vec<String> = package.files.iter().map(|e| format!("/{}", e.dest)).filter(|d| !listed.contains(d) || !Path::new(d).is_file()).collect();
    if !missing.is_empty() {
        return Err(format!("installed, but these files are not where the package put them (a dpkg path-exclude in /etc/dpkg/dpkg.cfg.d?):\n  {}", missing.join("\n  ")).into());
    }

    let executables = executables();
    for exe in &executables {
        let path = format!("/usr/bin/{exe}");
        let out = output_within(Command::new(&path).arg("--help").env_clear().env("PATH", "/usr/bin:/bin"), HELP_TIMEOUT)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains("Usage:") {
            return Err(format!("{path} --help: {}, no usage text:\n{text}{}", out.status, String::from_utf8_lossy(&out.stderr)).into());
        }
    }
    let pages: Vec<&str> = package.files.iter().filter_map(|e| e.dest.strip_prefix(MAN1_DIR)?.strip_prefix('/')?.strip_suffix(".1.gz")).collect();
    for page in &pages {
        let out = Command::new("man").args(["-w", page]).env_remove("MANPATH").output().map_err(|e| format!("cannot run man: {e}"))?;
        let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let expected = format!("/{MAN1_DIR}/{page}.1.gz");
        if !out.status.success() || found != expected {
            return Err(format!("man -w {page}: {} {found:?}, expected {expected}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()).into());
        }
    }
    let units: Vec<&String> = listed.iter().filter(|p| p.starts_with("/lib/systemd/system/") && (p.ends_with(".service") || p.ends_with(".timer"))).collect();
    let verified = if on_path("systemd-analyze") {
        quiet(Command::new("systemd-analyze").arg("verify").args(&units))?;
        format!("{} systemd units verified", units.len())
    } else {
        format!("{} systemd units (not verified: no systemd-analyze)", units.len())
    };

    installed.purge()?;
    let left: Vec<&String> = listed.iter().filter(|p| is_left_over(Path::new(p))).collect();
    if !left.is_empty() {
        return Err(format!("dpkg --purge {PACKAGE} left these behind:\n  {}", left.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")).into());
    }
    println!(
        "dist check: installed {PACKAGE} {} ({} files), {} executables answered --help, {} man pages found, {verified}, removed cleanly ({:.1} s)",
        package.version,
        package.files.len(),
        executables.len(),
        pages.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fails unless the check may install the package here: as root, and with no package of that
/// name known to dpkg, which would be someone else's.
fn may_check() -> Result<(), DynError> {
    if !packages::is_root() {
        return Err("the package check installs the sengu package with dpkg -i and needs root (CI runs as root); `cargo test --workspace` runs the tests alone".into());
    }
    if let Some(status) = dpkg_status()? {
        return Err(format!("a package named {PACKAGE} is already known to dpkg ({status}); the check installs and removes its own and leaves that one alone: remove it first (dpkg --purge {PACKAGE})").into());
    }
    Ok(())
}

/// The package as dpkg knows it, as its `Status` (`install ok installed`), or `None` when dpkg
/// has never heard of it or keeps only a not-installed record.
fn dpkg_status() -> Result<Option<String>, DynError> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]).output().map_err(|e| format!("cannot run dpkg-query: {e}"))?;
    let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success() && !status.is_empty() && !status.ends_with("not-installed")).then_some(status))
}

/// The package this check installed; purged on drop unless [`Installed::purge`] already did,
/// so a failing step does not leave it on the machine.
#[derive(Debug)]
struct Installed {
    armed: bool,
}

impl Installed {
    fn purge(&mut self) -> Result<(), DynError> {
        self.armed = false;
        quiet(Command::new("dpkg").args(["--purge", PACKAGE]))
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if self.armed {
            eprintln!("xtask: the package check failed; removing the {PACKAGE} package it installed");
            if let Err(e) = quiet(Command::new("dpkg").args(["--purge", PACKAGE])) {
                eprintln!("xtask: {e}");
            }
        }
    }
}

/// After the purge: a file of the package still there, or a directory it listed that is
/// still there, empty, and owned by no other package (dpkg removes such a directory).
fn is_left_over(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Err(_) => false,
        Ok(meta) if meta.is_dir() => {
            let empty = std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none());
            empty && !Command::new("dpkg-query").arg("-S").arg(path).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
        }
        Ok(_) => true,
    }
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

/// Runs `cmd` with its output captured; fails with the command and its output unless it exits 0.
fn quiet(cmd: &mut Command) -> Result<(), DynError> {
    checked_output(cmd).map(|_| ())
}

/// Runs `cmd` and returns its stdout; fails with the command and its output unless it exits 0.
fn stdout_of(cmd: &mut Command) -> Result<String, DynError> {
    Ok(String::from_utf8(checked_output(cmd)?.stdout)?)
}

fn checked_output(cmd: &mut Command) -> Result<Output, DynError> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {}\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out)
}

/// Runs `cmd` with its output captured; kills it (by its pid) if it has not finished within
/// `limit`.
fn output_within(cmd: &mut Command, limit: Duration) -> Result<Output, DynError> {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => Ok(out?),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            Err(format!("{cmd:?} did not finish within {limit:?}; killed").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository_contents() -> Vec<Entry> {
        contents(&project_root(), Path::new("/target/release"), &man::generated().unwrap(), b"changelog".to_vec()).unwrap()
    }

    #[test]
    fn the_package_holds_the_shipped_executables_and_no_test_tool() {
        let files = repository_contents();
        let bins: Vec<&str> = files.iter().filter_map(|e| e.dest.strip_prefix("usr/bin/")).collect();
        assert_eq!(bins, ["redis-master-check", "sentinel-rebalance", "mysql-before-exec", "mysql-after-exec", "mysql-fail-check", "mysql-mha-script", "mysql-master-check", "sengu-drill", "consul-hosts-fallback"]);
        for entry in files.iter().filter(|e| e.dest.starts_with("usr/bin/")) {
            assert!(matches!(&entry.source, Source::Executable(p) if p.starts_with("/target/release")), "{entry:?}");
            assert_eq!(entry.mode, 0o755);
        }
        assert!(!files.iter().any(|e| e.dest.contains("consul-standin") || e.dest.contains("sengu-demo") || e.dest.contains("sengu-bench")));
    }

    #[test]
    fn every_executable_has_its_man_page_and_completions_where_debian_looks() {
        let files = repository_contents();
        let dests: Vec<&str> = files.iter().map(|e| e.dest.as_str()).collect();
        for exe in executables() {
            for expected in [
                format!("usr/share/man/man1/{exe}.1.gz"),
                format!("usr/share/bash-completion/completions/{exe}"),
                format!("usr/share/zsh/vendor-completions/_{exe}"),
                format!("usr/share/fish/vendor_completions.d/{exe}.fish"),
            ] {
                assert!(dests.contains(&expected.as_str()), "no {expected}");
            }
        }
        assert!(dests.contains(&"usr/share/man/man1/sengu-drill-redis.1.gz"), "subcommand pages ship too");
    }

    #[test]
    fn the_units_examples_and_debian_docs_are_in_place() {
        let files = repository_contents();
        let dests: Vec<&str> = files.iter().map(|e| e.dest.as_str()).collect();
        for expected in [
            "lib/systemd/system/sentinel-rebalance.service",
            "lib/systemd/system/sentinel-rebalance.timer",
            "lib/systemd/system/sengu-drill-redis.service",
            "lib/systemd/system/sengu-drill-redis.timer",
            "lib/systemd/system/consul-hosts-fallback.service",
            "usr/share/doc/sengu/examples/consul-hosts-fallback/nsswitch.conf",
            "usr/share/doc/sengu/examples/consul.d/redis-role.json",
            "usr/share/doc/sengu/examples/redis-sentinel/rebalance/redis-sentinel-floating.service",
            "usr/share/doc/sengu/examples/mysqlfailover/sengu.toml",
            "usr/share/doc/sengu/copyright",
            "usr/share/doc/sengu/changelog.gz",
        ] {
            assert!(dests.contains(&expected), "no {expected}");
        }
        let script = files.iter().find(|e| e.dest.ends_with("mysqlfailover/run-mysqlfailover.sh")).unwrap();
        assert_eq!(script.mode, 0o755, "an executable example stays executable");
    }

    #[test]
    fn nothing_goes_to_etc_and_every_path_is_once_in_a_packaged_place() {
        let files = repository_contents();
        let mut dests: Vec<&str> = files.iter().map(|e| e.dest.as_str()).collect();
        let allowed = ["usr/bin/", "usr/share/man/man1/", "usr/share/bash-completion/", "usr/share/zsh/", "usr/share/fish/", "usr/share/doc/sengu/", "lib/systemd/system/"];
        for dest in &dests {
            assert!(allowed.iter().any(|a| dest.starts_with(a)), "{dest} is outside the package's places (nothing under etc/: no conffiles)");
            assert!(!dest.starts_with('/') && !dest.contains("//") && !dest.contains(".."), "{dest}");
        }
        let count = dests.len();
        dests.sort();
        dests.dedup();
        assert_eq!(dests.len(), count, "a path is listed twice");
    }

    #[test]
    fn completions_go_where_each_shell_looks() {
        assert_eq!(completion_dest("sengu-drill.bash").as_deref(), Some("usr/share/bash-completion/completions/sengu-drill"));
        assert_eq!(completion_dest("_sengu-drill").as_deref(), Some("usr/share/zsh/vendor-completions/_sengu-drill"));
        assert_eq!(completion_dest("sengu-drill.fish").as_deref(), Some("usr/share/fish/vendor_completions.d/sengu-drill.fish"));
        assert_eq!(completion_dest("sengu-drill.ps1"), None);
    }

    #[test]
    fn the_control_file_has_every_field_and_a_well_formed_description() {
        let text = control(&ControlFields { version: "0.1.0", arch: "amd64", depends: "libc6 (>= 2.34), libgcc-s1 (>= 4.2)", installed_size_kib: 4321 });
        let head: Vec<&str> = text.lines().take(9).collect();
        assert_eq!(
            head,
            [
                "Package: sengu",
                "Version: 0.1.0",
                "Architecture: amd64",
                &format!("Maintainer: {MAINTAINER}"),
                "Installed-Size: 4321",
                "Depends: libc6 (>= 2.34), libgcc-s1 (>= 4.2)",
                "Section: admin",
                "Priority: optional",
                &format!("Description: {SYNOPSIS}"),
            ]
        );
        let description: Vec<&str> = text.lines().skip(9).collect();
        assert!(description.len() > 5);
        for line in &description {
            assert!(line.starts_with(' ') && line.len() <= 80, "{line:?}: continuation lines start with a space, 80 columns at most (lintian)");
            assert!(*line != " " && line.trim() != "", "an empty description line must be \" .\"");
        }
        assert!(description.contains(&" ."));
        assert!(text.ends_with('\n') && !text.contains("\n\n"));
        assert!(SYNOPSIS.len() < 80 && !SYNOPSIS.ends_with('.'));
        let no_depends = control(&ControlFields { version: "1", arch: "all", depends: "", installed_size_kib: 1 });
        assert!(!no_depends.contains("Depends:"));
    }

    #[test]
    fn cargo_versions_become_debian_versions() {
        assert_eq!(debian_version("0.1.0"), "0.1.0");
        assert_eq!(debian_version("1.2.0-rc.1"), "1.2.0~rc.1");
        assert_eq!(debian_version("1.2.0-rc.1+build-5"), "1.2.0~rc.1+build-5");
    }

    #[test]
    fn the_changelog_is_one_dated_entry() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_796_166_481), "Tue, 01 Dec 2026 23:08:01 +0000");
        assert_eq!(rfc2822(951_825_600), "Tue, 29 Feb 2000 12:00:00 +0000");
        let text = changelog("0.1.0", "Thu, 01 Jan 1970 00:00:00 +0000");
        assert!(text.starts_with("sengu (0.1.0) unstable; urgency=medium\n\n  * "));
        assert!(text.ends_with(&format!("\n\n -- {MAINTAINER}  Thu, 01 Jan 1970 00:00:00 +0000\n")));
    }

    #[test]
    fn the_profile_flag() {
        let parse = |args: &[&str]| Profile::parse(&args.iter().map(OsString::from).collect::<Vec<_>>());
        assert_eq!(parse(&[]).unwrap(), Profile::Release);
        assert_eq!(parse(&["--profile", "dev"]).unwrap(), Profile::Dev);
        assert_eq!(parse(&["--profile=release"]).unwrap(), Profile::Release);
        assert!(parse(&["--profile", "test"]).is_err());
        assert!(parse(&["--release"]).is_err());
        assert_eq!((Profile::Dev.name(), Profile::Dev.dir()), ("dev", "debug"));
    }

    #[test]
    fn a_vanished_path_is_not_left_over_and_a_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(is_left_over(&file));
        assert!(!is_left_over(&dir.path().join("gone")));
        assert!(!is_left_over(dir.path()), "a directory with something else in it stays");
    }
}
