//! Settings: flags beat environment variables beat the config file beat defaults.
//!
//! Failover managers give a hook only positional arguments, so everything else comes from the
//! environment or from one TOML file shared by all executables (`--config`, `SENGU_CONFIG`, else
//! `/etc/sengu/sengu.toml` when it exists), with one table per concern ([`SECTIONS`]). An unknown
//! table or key is an error that names the key and the file, so a typo never silently falls back
//! to a default.
//!
//! The pattern every executable follows:
//!
//! - its clap struct takes each setting the file may also set as an `Option<T>` with `env =
//!   "SENGU_…"` and no `default_value` (clap then yields flag-or-environment);
//! - its library module defines the file table as a struct with `#[serde(default,
//!   deny_unknown_fields)]`, `Default` and `Option` fields, read with [`ConfigFile::section`];
//! - it merges with plain `Option` chaining: `cli.x.or(file.x).unwrap_or(DEFAULT_X)`.
//!
//! ```
//! # use std::time::Duration;
//! #[derive(Debug, Default, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct FileSettings {
//!     #[serde(with = "sengu::settings::optional_duration")]
//!     timeout: Option<Duration>,
//! }
//! let config = sengu::settings::ConfigFile::parse("/etc/sengu/sengu.toml".into(),
//!     "[redis-master-check]\ntimeout = \"3s\"\n").unwrap();
//! let file: FileSettings = config.section("redis-master-check").unwrap();
//! let from_flag_or_env: Option<Duration> = None;
//! let timeout = from_flag_or_env.or(file.timeout).unwrap_or(Duration::from_secs(2));
//! assert_eq!(timeout, Duration::from_secs(3));
//! ```
//!
//! Secrets are never flags (clap's `env` would also accept them on argv and show them in
//! `--help`): the Redis password comes from `REDISCLI_AUTH` or `[redis] password_file` into a
//! [`Secret`]; Consul tokens are read by the consul module from `CONSUL_HTTP_TOKEN[_FILE]`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::actionlog;
use crate::addr::HostPort;
use crate::check::Format;
use crate::files;

/// Every table the config file may have, one per concern. A table not listed here is an error.
pub const SECTIONS: &[&str] = &[
    "consul",
    "log",
    "redis",
    "redis-master-check",
    "sentinel-rebalance",
    "mysql",
    "mysql-hooks",
    "mysql-master-check",
    "mysql-fail-check",
    "drill",
    "consul-hosts-fallback",
];

/// The config file read when neither `--config` nor `SENGU_CONFIG` names one; may be absent.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/sengu/sengu.toml";

/// The environment variable that holds the Redis password, as for `redis-cli`.
pub const REDIS_PASSWORD_ENV: &str = "REDISCLI_AUTH";

/// Why settings could not be read. Every variant names the file; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {}: {source}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("invalid TOML in {}{}: {message}", .path.display(), at_line(*.line))]
    Syntax { path: PathBuf, line: Option<usize>, message: String },
    #[error("unknown table [{table}] in {}{} (known tables: {})", .path.display(), at_line(*.line), SECTIONS.join(", "))]
    UnknownTable { table: String, path: PathBuf, line: Option<usize> },
    #[error("{key:?} at the top level of {}{} must be inside a table such as [redis]", .path.display(), at_line(*.line))]
    TopLevelKey { key: String, path: PathBuf, line: Option<usize> },
    #[error("unknown key {key:?} in [{section}] of {}{}", .path.display(), at_line(*.line))]
    UnknownKey { key: String, section: String, path: PathBuf, line: Option<usize> },
    #[error("invalid value for {key:?} in [{section}] of {}{}: {message}", .path.display(), at_line(*.line))]
    BadValue { key: String, section: String, path: PathBuf, line: Option<usize>, message: String },
    #[error("cannot read the {what} file {}: {source}", .path.display())]
    SecretFile { what: &'static str, path: PathBuf, source: io::Error },
    #[error("the {what} file {} is empty", .path.display())]
    EmptySecret { what: &'static str, path: PathBuf },
    /// A programming error: a table's fields do not survive their own serde form.
    #[error("cannot merge the flags with [{table}] (a bug): {message}")]
    Layering { table: &'static str, message: String },
    /// A programming error: code asked for a table that is not in [`SECTIONS`].
    #[error("[{0}] is not one of sengu's config tables (a bug)")]
    UndeclaredSection(String),
}

/// Why an executable cannot start its run, whatever the executable: every settings step
/// returns this. Nothing has been asked or changed yet; [`crate::entry`] prints a
/// [`SetupError::Usage`] like clap's own usage errors, the rest as one line, and exits 2 (or,
/// for `mysql-fail-check`, 0 with its bad-input line).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A flag, variable or key that is missing or has a value the executable cannot use.
    #[error("{}", .0.to_string().trim_start_matches("error: ").trim_end())]
    Usage(clap::Error),
    #[error(transparent)]
    Settings(#[from] Error),
    #[error("{0}")]
    Consul(#[from] crate::consul::Error),
    #[error("mysql credentials: {0}")]
    Credentials(#[from] crate::mysql::OptionFileError),
    #[error("invalid {what} {value:?}: {reason}")]
    BadValue { what: &'static str, value: String, reason: String },
}

impl SetupError {
    /// A usage error: `message` as clap would print it for a refused value.
    pub fn usage(message: impl fmt::Display) -> SetupError {
        SetupError::Usage(clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{message}\n")))
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|n| format!(", line {n}")).unwrap_or_default()
}

pub use crate::secret::Secret;

/// Reads a secret from a file, trimming surrounding whitespace (a trailing newline, as editors
/// and `echo` leave it). `what` names the secret in errors, e.g. "redis password".
pub fn read_secret_file(what: &'static str, path: &Path) -> Result<Secret, Error> {
    let text = files::read_to_string(path, files::SECRET_LIMIT).map_err(|source| Error::SecretFile { what, path: path.to_owned(), source })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(Error::EmptySecret { what, path: path.to_owned() });
    }
    Ok(Secret::new(value))
}

/// The config file as read, or an empty one when there is none. Tables are checked against
/// [`SECTIONS`] on load; each table's keys are checked when its owner reads it with
/// [`ConfigFile::section`].
#[derive(Clone, Default)]
pub struct ConfigFile {
    /// `None` for the empty config (no file).
    path: Option<PathBuf>,
    text: String,
}

/// Only the path: the text could hold something that must not reach a log.
impl fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl ConfigFile {
    /// No file: every section reads as its `Default`.
    pub fn empty() -> Self {
        ConfigFile::default()
    }

    /// Reads and checks `path`. A missing file is an error: whoever named it expects it read.
    /// Only a regular file of at most [`files::CONFIG_LIMIT`] is read (a FIFO would block, a
    /// device would never end).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = files::read_to_string(path, files::CONFIG_LIMIT).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::parse(path.to_owned(), &text)
    }

    /// Finds the config file: the explicit path (from `--config` or `SENGU_CONFIG`) if given,
    /// else [`DEFAULT_CONFIG_PATH`] if it exists, else the empty config.
    pub fn discover(explicit: Option<&Path>) -> Result<Self, Error> {
        Self::discover_in(explicit, Path::new(DEFAULT_CONFIG_PATH))
    }

    fn discover_in(explicit: Option<&Path>, default: &Path) -> Result<Self, Error> {
        if let Some(path) = explicit {
            return Self::load(path);
        }
        match files::read_to_string(default, files::CONFIG_LIMIT) {
            Ok(text) => Self::parse(default.to_owned(), &text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::empty()),
            Err(source) => Err(Error::Read { path: default.to_owned(), source }),
        }
    }

    /// Checks `text` as the contents of `path`: valid TOML whose top level holds only tables
    /// named in [`SECTIONS`].
    pub fn parse(path: PathBuf, text: &str) -> Result<Self, Error> {
        let config = ConfigFile { path: Some(path), text: text.to_owned() };
        let doc = config.document()?;
        for (key, value) in doc.get_ref() {
            let line = config.line_of(key.span().start);
            let name = key.get_ref().to_string();
            if !matches!(value.get_ref(), toml::de::DeValue::Table(_)) {
                return Err(Error::TopLevelKey { key: name, path: config.path_buf(), line });
            }
            if !SECTIONS.contains(&name.as_str()) {
                return Err(Error::UnknownTable { table: name, path: config.path_buf(), line });
            }
        }
        Ok(config)
    }

    /// The file this config came from; `None` when there is no file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Reads table `[name]` into `T`, or `T::default()` when the table (or the file) is absent.
    /// `T` should be `#[serde(default, deny_unknown_fields)]` so that an unknown key is an
    /// [`Error::UnknownKey`] naming the key, the table, the file and the line.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, Error> {
        match self.table(name)? {
            Some(value) => self.deserialize(name, value),
            None => Ok(T::default()),
        }
    }

    /// Table `[name]` as parsed, with its spans; `None` when it (or the file) is absent.
    fn table(&self, name: &str) -> Result<Option<toml::Spanned<toml::de::DeValue<'_>>>, Error> {
        if !SECTIONS.contains(&name) {
            return Err(Error::UndeclaredSection(name.to_owned()));
        }
        if self.path.is_none() {
            return Ok(None);
        }
        Ok(self.document()?.get_ref().get(name).cloned())
    }

    /// Reads from table `[name]` only the keys `T` declares, for a table that several flag
    /// groups share (`[mysql-hooks]`: what both hooks take, and each hook's own flags). A key
    /// that is not in `known` (every group's keys) is an [`Error::UnknownKey`], as in
    /// [`ConfigFile::section`].
    pub fn section_part<T: Serialize + DeserializeOwned + Default>(&self, name: &str, known: &[String]) -> Result<T, Error> {
        let Some(mut value) = self.table(name)? else {
            return Ok(T::default());
        };
        if let toml::de::DeValue::Table(table) = value.get_mut() {
            if let Some(key) = table.keys().find(|k| !known.iter().any(|n| n == k.get_ref().as_ref())) {
                let line = self.line_of(key.span().start);
                return Err(Error::UnknownKey { key: key.get_ref().to_string(), section: name.to_owned(), path: self.path_buf(), line });
            }
            let own = keys::<T>();
            let others: Vec<String> = table.keys().map(|k| k.get_ref().to_string()).filter(|k| !own.contains(k)).collect();
            for key in others {
                table.remove(key.as_str());
            }
        }
        self.deserialize(name, value)
    }

    fn deserialize<T: DeserializeOwned>(&self, name: &str, value: toml::Spanned<toml::de::DeValue<'_>>) -> Result<T, Error> {
        let deserializer = toml::de::ValueDeserializer::from(value);
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let e = e.into_inner();
            let line = e.span().and_then(|span| self.line_of(span.start));
            let (section, path) = (name.to_owned(), self.path_buf());
            // The path already ends in the unknown key; it is "." only if the error had none.
            match unknown_field(e.message()) {
                Some(field) if key == "." => Error::UnknownKey { key: field.to_owned(), section, path, line },
                Some(_) => Error::UnknownKey { key, section, path, line },
                None => Error::BadValue { key, section, path, line, message: e.message().to_owned() },
            }
        })
    }

    fn document(&self) -> Result<toml::Spanned<toml::de::DeTable<'_>>, Error> {
        toml::de::DeTable::parse(&self.text).map_err(|e| Error::Syntax {
            path: self.path_buf(),
            line: e.span().and_then(|span| self.line_of(span.start)),
            message: e.message().trim().to_owned(),
        })
    }

    fn path_buf(&self) -> PathBuf {
        self.path.clone().unwrap_or_default()
    }

    /// The 1-based line of byte offset `at`.
    fn line_of(&self, at: usize) -> Option<usize> {
        let before = self.text.get(..at.min(self.text.len()))?;
        Some(before.bytes().filter(|&b| b == b'\n').count() + 1)
    }
}

/// The field name in serde's `unknown field `x`, expected …` message, whose wording serde has
/// kept since 1.0 (a unit test pins it).
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field)
}

/// Parses a duration as typed on a command line or in the environment: `2s`, `500ms`, `1m 30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("invalid duration {text:?} ({e}); examples: 2s, 500ms, 1m30s"))
}

/// Parses a time budget: a duration greater than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("invalid timeout {text:?}: must be more than zero")),
        d => Ok(d),
    }
}

/// Serde helper for an `Option<Duration>` written as a string in the config file (`"2s"`):
/// `#[serde(with = "sengu::settings::optional_duration")]` on a field of a
/// `#[serde(default)]` struct.
pub mod optional_duration {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom)).transpose()
    }

    /// Exact (`1s 500ms`), so that a value survives layering and `--print-config` unchanged.
    pub fn serialize<S: serde::Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => crate::human::exact(d, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// `--print-config`, flattened into every executable: print what a run would use, after flags,
/// environment, config file and defaults, and exit without running.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct PrintArgs {
    /// Print the settings a run would use (flags > environment > config file > defaults; secrets as <set>) and exit without running
    #[arg(long, global = true)]
    pub print_config: bool,
}

/// The resolved `settings` as TOML, for `--print-config`.
pub fn render<T: Serialize>(settings: &T) -> Result<String, Error> {
    toml::to_string(settings).map_err(|e| Error::Layering { table: "print-config", message: e.to_string() })
}

/// A table of the config file that is also a group of flags: each setting is declared once, as
/// an `Option` (or `Vec`) field carrying its flag and environment variable
/// (`#[arg(long, env = "SENGU_…")]`, no clap default) and, by its field name, its key in
/// `[NAME]`. [`layer`] merges the two; the executable fills what is still unset with its
/// defaults and validates in one place.
///
/// ```
/// # use std::time::Duration;
/// #[derive(Debug, Default, clap::Args, serde::Serialize, serde::Deserialize)]
/// #[serde(default, deny_unknown_fields)]
/// struct Check {
///     /// Time budget
///     #[arg(long, env = "SENGU_TIMEOUT", value_parser = sengu::settings::parse_timeout)]
///     #[serde(with = "sengu::settings::optional_duration")]
///     timeout: Option<Duration>,
/// }
/// impl sengu::settings::Table for Check {
///     const NAME: &'static str = "redis-master-check";
/// }
/// let config = sengu::settings::ConfigFile::parse("/etc/sengu/sengu.toml".into(),
///     "[redis-master-check]\ntimeout = \"3s\"\n").unwrap();
/// let from_flags = Check::default();
/// let merged = sengu::settings::layer(&from_flags, &config).unwrap();
/// assert_eq!(merged.timeout.unwrap_or(Duration::from_secs(2)), Duration::from_secs(3));
/// ```
pub trait Table: Serialize + DeserializeOwned + Default {
    /// The table's name in the config file, one of [`SECTIONS`].
    const NAME: &'static str;
}

impl Table for crate::mysql::MysqlArgs {
    const NAME: &'static str = "mysql";
}

/// `flags` (what clap read from the command line, else the environment) layered over the
/// table `[T::NAME]` of `config`: a field the flags left unset (`None`, or an empty list) takes
/// the file's value; what both left unset stays unset for the executable's default.
pub fn layer<T: Table>(flags: &T, config: &ConfigFile) -> Result<T, Error> {
    let file: T = config.section(T::NAME)?;
    overlay(flags, &file).map_err(|e| Error::Layering { table: T::NAME, message: e.to_string() })
}

/// [`layer`] for a table that several flag groups share: `T` takes its own keys from
/// `[T::NAME]`, and a key no group in `known` declares is an unknown key.
pub fn layer_part<T: Table>(flags: &T, config: &ConfigFile, known: &[String]) -> Result<T, Error> {
    let file: T = config.section_part(T::NAME, known)?;
    overlay(flags, &file).map_err(|e| Error::Layering { table: T::NAME, message: e.to_string() })
}

/// The config keys a table declares: its fields' names, in order.
pub fn keys<T: Serialize + Default>() -> Vec<String> {
    match serde_json::to_value(T::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// `top` with its unset fields taken from `bottom`, field by field through their serde form.
fn overlay<T: Serialize + DeserializeOwned>(top: &T, bottom: &T) -> Result<T, serde_json::Error> {
    use serde_json::Value;
    let unset = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    };
    let (mut merged, bottom) = (serde_json::to_value(top)?, serde_json::to_value(bottom)?);
    if let (Value::Object(merged), Value::Object(bottom)) = (&mut merged, bottom) {
        for (key, value) in bottom {
            if unset(merged.get(&key)) {
                merged.insert(key, value);
            }
        }
    }
    serde_json::from_value(merged)
}

/// Reads a host and a port given as two positional arguments (as failover managers pass them)
/// into an endpoint. On error it returns a usage error of `command` naming both arguments,
/// which [`crate::entry::run`] prints like clap's own (exit 2).
pub fn positional_endpoint(command: &mut clap::Command, names: [&str; 2], host: &str, port: &str) -> Result<HostPort, clap::Error> {
    HostPort::from_parts(host, port).map_err(|e| {
        command.error(clap::error::ErrorKind::ValueValidation, format!("invalid <{}> <{}>: {e}", names[0], names[1]))
    })
}

/// Flags every executable takes, flattened into each binary's clap struct.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CommonArgs {
    /// Config file (TOML) [default: /etc/sengu/sengu.toml if it exists]
    #[arg(long, global = true, env = "SENGU_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Time budget for the whole run, e.g. 2s or 500ms
    #[arg(long, global = true, env = "SENGU_TIMEOUT", value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Output format [default: text]
    #[arg(long, global = true, env = "SENGU_FORMAT", value_name = "FORMAT", value_enum)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Where the action log goes: flags every executable takes, and the `[log]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogArgs {
    /// Append one line per action to this file (also [log] file)
    #[arg(long = "log-file", id = "log_file", global = true, env = "SENGU_LOG_FILE", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Also send each action to the local syslog (also [log] syslog)
    #[arg(long, global = true, env = "SENGU_SYSLOG", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub syslog: Option<bool>,
}

impl Table for LogArgs {
    const NAME: &'static str = "log";
}

impl LogArgs {
    /// The target these (layered) settings name.
    pub fn target(&self) -> actionlog::Target {
        actionlog::Target { file: self.file.clone(), syslog: self.syslog.unwrap_or(false) }
    }
}

impl CommonArgs {
    /// The config file named by `--config`/`SENGU_CONFIG`, else the default one if present.
    pub fn config_file(&self) -> Result<ConfigFile, Error> {
        ConfigFile::discover(self.config.as_deref())
    }

    /// The output format; text unless `--format`/`SENGU_FORMAT` says otherwise.
    pub fn format(&self) -> Format {
        self.format.unwrap_or_default()
    }

    /// The run's time budget: flag or environment, else the executable's table, else `default`.
    pub fn timeout(&self, from_file: Option<Duration>, default: Duration) -> Duration {
        self.timeout.or(from_file).unwrap_or(default)
    }

    /// Where the action log goes: `--log-file`/`SENGU_LOG_FILE` else `[log] file`; syslog when
    /// `--syslog`/`SENGU_SYSLOG` or `[log] syslog` says so.
    pub fn log_target(&self, config: &ConfigFile) -> Result<actionlog::Target, Error> {
        Ok(layer(&self.log, config)?.target())
    }
}

/// How to reach the Consul agent, flattened into the binaries that talk to Consul, and the
/// `[consul]` table (key `addr`). The token is deliberately not here: the consul module reads
/// `CONSUL_HTTP_TOKEN[_FILE]` itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsulArgs {
    /// Consul agent: HOST:PORT, http(s)://HOST:PORT[/prefix] (also [consul] addr) [default: 127.0.0.1:8500]
    // `hide_env_values`: `--help` must not show the variable's value, which may carry user info.
    #[arg(long = "consul-addr", id = "consul_addr", global = true, env = "CONSUL_HTTP_ADDR", value_name = "ADDR", hide_env_values = true)]
    pub addr: Option<String>,
}

impl Table for ConsulArgs {
    const NAME: &'static str = "consul";
}

impl ConsulArgs {
    /// The agent address from the flag, `CONSUL_HTTP_ADDR` or `[consul] addr`; `None` leaves
    /// the consul module's default.
    pub fn addr(&self, config: &ConfigFile) -> Result<Option<String>, Error> {
        Ok(layer(self, config)?.addr)
    }

    /// The Consul client configuration: `CONSUL_*` from the environment, with the agent address
    /// of [`ConsulArgs::addr`] where one is given. Generic over the caller's setup error, which
    /// takes both the config file's and the consul module's errors.
    pub fn client_config<E: From<Error> + From<crate::consul::Error>>(&self, config: &ConfigFile) -> Result<crate::consul::ClientConfig, E> {
        let client = crate::consul::ClientConfig::from_env()?;
        Ok(match self.addr(config)? {
            Some(addr) => client.with_address(&addr)?,
            None => client,
        })
    }
}

/// The `[redis]` table: how to authenticate to Redis and Sentinel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisFileSettings {
    /// ACL user name (Redis 6+); the default user when absent.
    pub username: Option<String>,
    /// A file holding the password, used when `REDISCLI_AUTH` is unset or empty.
    pub password_file: Option<PathBuf>,
}

/// Reads the Redis credentials: `REDISCLI_AUTH` beats `[redis] password_file`.
pub fn redis_auth(config: &ConfigFile) -> Result<crate::redis::RedisAuth, Error> {
    redis_auth_from(std::env::var(REDIS_PASSWORD_ENV).ok(), config)
}

fn redis_auth_from(env_password: Option<String>, config: &ConfigFile) -> Result<crate::redis::RedisAuth, Error> {
    let file: RedisFileSettings = config.section("redis")?;
    let password = match env_password.filter(|p| !p.is_empty()) {
        Some(password) => Some(Secret::new(password)),
        None => file.password_file.as_deref().map(|path| read_secret_file("redis password", path)).transpose()?,
    };
    Ok(crate::redis::RedisAuth { user: file.username, password })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Debug, Parser)]
    #[command(name = "settings-test")]
    struct TestCli {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        consul: ConsulArgs,
    }

    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct CheckSettings {
        #[serde(with = "optional_duration")]
        timeout: Option<Duration>,
        service: Option<String>,
    }

    const PATH: &str = "/etc/sengu/sengu.toml";

    fn config(text: &str) -> Result<ConfigFile, Error> {
        ConfigFile::parse(PATH.into(), text)
    }

    fn cli(args: &[&str]) -> TestCli {
        TestCli::try_parse_from(std::iter::once("settings-test").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn test_cli_is_well_formed() {
        TestCli::command().debug_assert();
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let file: CheckSettings = config("[redis-master-check]\ntimeout = \"3s\"\n").unwrap().section("redis-master-check").unwrap();
        let default = Duration::from_secs(2);
        assert_eq!(cli(&["--timeout", "1s"]).common.timeout(file.timeout, default), Duration::from_secs(1));
        assert_eq!(cli(&[]).common.timeout(file.timeout, default), Duration::from_secs(3));
        assert_eq!(cli(&[]).common.timeout(None, default), default);
    }

    /// Flag-beats-environment is clap's; this pins that each flag really reads its variable.
    /// The whole chain through a real process is in redis-master-check's `tests/cli.rs`.
    #[test]
    fn every_common_flag_has_its_environment_variable() {
        let command = TestCli::command();
        let env = |id: &str| command.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_env()).map(|e| e.to_owned());
        assert_eq!(env("config"), Some("SENGU_CONFIG".into()));
        assert_eq!(env("timeout"), Some("SENGU_TIMEOUT".into()));
        assert_eq!(env("format"), Some("SENGU_FORMAT".into()));
        assert_eq!(env("log_file"), Some("SENGU_LOG_FILE".into()));
        assert_eq!(env("syslog"), Some("SENGU_SYSLOG".into()));
        assert_eq!(env("consul_addr"), Some("CONSUL_HTTP_ADDR".into()));
    }

    #[test]
    fn the_consul_client_config_takes_the_flag_then_the_table() {
        #[derive(Debug, thiserror::Error)]
        enum SetupError {
            #[error(transparent)]
            Settings(#[from] Error),
            #[error(transparent)]
            Consul(#[from] crate::consul::Error),
        }
        use crate::consul::{Endpoint, Scheme};
        let table = config("[consul]\naddr = \"https://10.0.0.1:8501\"\n").unwrap();
        let c = cli(&[]).consul.client_config::<SetupError>(&table).unwrap();
        assert_eq!((c.address.endpoint, c.address.scheme), (Endpoint::Tcp("10.0.0.1:8501".into()), Scheme::Https));
        let c = cli(&["--consul-addr", "10.0.0.2:8500"]).consul.client_config::<SetupError>(&table).unwrap();
        assert_eq!(c.address.endpoint, Endpoint::Tcp("10.0.0.2:8500".into()));
        let e = cli(&["--consul-addr", "xyz://h:1"]).consul.client_config::<SetupError>(&table).unwrap_err();
        assert!(matches!(e, SetupError::Consul(_)), "{e}");
        let e = cli(&[]).consul.client_config::<SetupError>(&config("[consul]\nadr = \"x\"\n").unwrap()).unwrap_err();
        assert!(matches!(e, SetupError::Settings(Error::UnknownKey { .. })), "{e}");
    }

    #[test]
    fn flag_values_parse() {
        let cli = cli(&["--format", "json", "--timeout", "1m 30s", "--syslog", "--consul-addr", "https://c:8501"]);
        assert_eq!(cli.common.format(), Format::Json);
        assert_eq!(cli.common.timeout, Some(Duration::from_secs(90)));
        assert_eq!(cli.common.log.syslog, Some(true), "--syslog alone means true");
        assert_eq!(cli.consul.addr(&ConfigFile::empty()).unwrap().as_deref(), Some("https://c:8501"));
        assert!(TestCli::try_parse_from(["t", "--timeout", "0s"]).is_err());
        assert!(TestCli::try_parse_from(["t", "--timeout", "soon"]).is_err());
    }

    /// The one merge every executable uses: a flag (or its variable) wins, the file fills what
    /// it left unset, and what both left unset stays unset for the default. Lists count as
    /// unset when empty.
    #[test]
    fn layering_takes_the_flag_then_the_file_then_leaves_it_unset() {
        let file = config("[log]\nfile = \"/var/log/sengu/a.log\"\nsyslog = true\n\n[mysql]\nuser = \"table-user\"\n").unwrap();
        let flags = LogArgs { file: Some("/tmp/flag.log".into()), syslog: None };
        assert_eq!(layer(&flags, &file).unwrap(), LogArgs { file: Some("/tmp/flag.log".into()), syslog: Some(true) });
        let off = LogArgs { file: None, syslog: Some(false) };
        assert_eq!(layer(&off, &file).unwrap(), LogArgs { file: Some("/var/log/sengu/a.log".into()), syslog: Some(false) }, "false is a value");
        let mysql = crate::mysql::MysqlArgs::default();
        assert_eq!(layer(&mysql, &file).unwrap().user.as_deref(), Some("table-user"));
        assert_eq!(layer(&mysql, &ConfigFile::empty()).unwrap(), mysql, "nothing set: nothing invented");
        let e = layer(&LogArgs::default(), &config("[log]\nsyslgo = true\n").unwrap()).unwrap_err();
        assert!(matches!(e, Error::UnknownKey { ref key, line: Some(2), .. } if key == "syslgo"), "{e}");
    }

    /// Durations and endpoints survive the merge exactly, whichever side they come from.
    #[test]
    fn layered_values_keep_their_precision() {
        #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        struct T {
            #[serde(with = "optional_duration")]
            wait: Option<Duration>,
            at: Option<HostPort>,
            list: Vec<HostPort>,
        }
        let top = T { wait: Some(Duration::from_millis(1500)), at: None, list: vec![] };
        let bottom = T { wait: Some(Duration::from_secs(9)), at: Some("[::1]:6379".parse().unwrap()), list: vec!["h:1".parse().unwrap()] };
        let merged = overlay(&top, &bottom).unwrap();
        assert_eq!(merged, T { wait: Some(Duration::from_millis(1500)), at: bottom.at.clone(), list: bottom.list.clone() });
    }

    #[test]
    fn a_positional_endpoint_names_its_arguments_on_error() {
        let mut command = TestCli::command();
        let ok = positional_endpoint(&mut command, ["OLD_HOST", "OLD_PORT"], "10.0.0.1", "3306").unwrap();
        assert_eq!(ok.to_string(), "10.0.0.1:3306");
        let e = positional_endpoint(&mut command, ["OLD_HOST", "OLD_PORT"], "10.0.0.1", "UNKNOWN").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("invalid <OLD_HOST> <OLD_PORT>: invalid port \"UNKNOWN\""), "{e}");
    }

    #[test]
    fn an_absent_table_or_file_gives_defaults() {
        let settings: CheckSettings = config("[redis]\n").unwrap().section("redis-master-check").unwrap();
        assert_eq!(settings, CheckSettings::default());
        let settings: CheckSettings = ConfigFile::empty().section("redis-master-check").unwrap();
        assert_eq!(settings, CheckSettings::default());
        assert_eq!(cli(&[]).common.format(), Format::Text);
    }

    #[test]
    fn a_section_reads_its_values() {
        let text = "[redis-master-check]\nservice = \"redis\"\ntimeout = \"500ms\"\n";
        let settings: CheckSettings = config(text).unwrap().section("redis-master-check").unwrap();
        assert_eq!(settings, CheckSettings { timeout: Some(Duration::from_millis(500)), service: Some("redis".into()) });
    }

    #[test]
    fn an_unknown_key_names_key_table_file_and_line() {
        let text = "[redis-master-check]\nservice = \"redis\"\ntimout = \"2s\"\n";
        let e = config(text).unwrap().section::<CheckSettings>("redis-master-check").unwrap_err();
        assert!(matches!(&e, Error::UnknownKey { key, .. } if key == "timout"), "{e:?}");
        assert_eq!(e.to_string(), "unknown key \"timout\" in [redis-master-check] of /etc/sengu/sengu.toml, line 3");
    }

    #[test]
    fn an_unknown_table_is_an_error_on_load() {
        let e = config("[log]\n\n[redis-master]\nservice = \"x\"\n").unwrap_err();
        assert!(matches!(&e, Error::UnknownTable { table, .. } if table == "redis-master"), "{e:?}");
        let message = e.to_string();
        assert!(message.starts_with("unknown table [redis-master] in /etc/sengu/sengu.toml, line 3 (known tables: consul, log,"), "{message}");
    }

    #[test]
    fn a_top_level_key_is_an_error() {
        let e = config("timeout = \"2s\"\n").unwrap_err();
        assert!(matches!(&e, Error::TopLevelKey { key, .. } if key == "timeout"), "{e:?}");
    }

    #[test]
    fn a_bad_value_names_the_table_and_line() {
        let text = "[redis-master-check]\n\ntimeout = \"soon\"\n";
        let e = config(text).unwrap().section::<CheckSettings>("redis-master-check").unwrap_err();
        let message = e.to_string();
        assert!(message.starts_with("invalid value for \"timeout\" in [redis-master-check] of /etc/sengu/sengu.toml, line 3: invalid duration \"soon\""), "{message}");
        let e = config("[redis-master-check]\nservice = 5\n").unwrap().section::<CheckSettings>("redis-master-check").unwrap_err();
        assert!(matches!(e, Error::BadValue { line: Some(2), .. }), "{e:?}");
    }

    #[test]
    fn invalid_toml_names_the_file_and_line() {
        let e = config("[log]\nfile = \"/var/log/x\n").unwrap_err();
        let message = e.to_string();
        assert!(matches!(e, Error::Syntax { line: Some(2), .. }), "{message}");
        assert!(message.starts_with("invalid TOML in /etc/sengu/sengu.toml, line 2: "), "{message}");
    }

    #[test]
    fn an_explicitly_named_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let e = ConfigFile::discover_in(Some(&missing), &dir.path().join("default.toml")).unwrap_err();
        assert!(matches!(e, Error::Read { .. }));
        assert!(e.to_string().starts_with(&format!("cannot read config file {}: ", missing.display())));
    }

    #[test]
    fn the_default_file_is_read_when_present_and_skipped_when_absent() {
        let dir = tempfile::tempdir().unwrap();
        let default = dir.path().join("sengu.toml");
        let config = ConfigFile::discover_in(None, &default).unwrap();
        assert_eq!(config.path(), None);
        std::fs::write(&default, "[consul]\naddr = \"10.0.0.1:8500\"\n").unwrap();
        let config = ConfigFile::discover_in(None, &default).unwrap();
        assert_eq!(config.path(), Some(default.as_path()));
        assert_eq!(cli(&[]).consul.addr(&config).unwrap().as_deref(), Some("10.0.0.1:8500"));
        assert_eq!(cli(&["--consul-addr", "flag:8500"]).consul.addr(&config).unwrap().as_deref(), Some("flag:8500"));
    }

    #[test]
    fn an_undeclared_section_is_refused() {
        let e = config("").unwrap().section::<CheckSettings>("redis-master").unwrap_err();
        assert!(matches!(e, Error::UndeclaredSection(_)));
    }

    #[test]
    fn the_log_target_merges_flags_and_table() {
        let config = config("[log]\nfile = \"/var/log/sengu.log\"\nsyslog = true\n").unwrap();
        let target = cli(&[]).common.log_target(&config).unwrap();
        assert_eq!(target, actionlog::Target { file: Some("/var/log/sengu.log".into()), syslog: true });
        let target = cli(&["--log-file", "/tmp/x.log"]).common.log_target(&ConfigFile::empty()).unwrap();
        assert_eq!(target, actionlog::Target { file: Some("/tmp/x.log".into()), syslog: false });
    }

    #[test]
    fn redis_password_comes_from_env_before_file_and_never_shows() {
        let dir = tempfile::tempdir().unwrap();
        let password_file = dir.path().join("redis.pass");
        std::fs::write(&password_file, "from-file\n").unwrap();
        let text = format!("[redis]\nusername = \"sengu\"\npassword_file = {:?}\n", password_file.display().to_string());
        let config = config(&text).unwrap();

        let auth = redis_auth_from(None, &config).unwrap();
        assert_eq!(auth.password.as_ref().map(Secret::expose), Some("from-file"));
        assert_eq!(auth.user.as_deref(), Some("sengu"));
        let auth = redis_auth_from(Some("from-env".into()), &config).unwrap();
        assert_eq!(auth.password.as_ref().map(Secret::expose), Some("from-env"));
        assert!(!format!("{auth:?}").contains("from-env"), "{auth:?}");
        let auth = redis_auth_from(Some(String::new()), &ConfigFile::empty()).unwrap();
        assert_eq!(auth.password, None);
    }

    #[test]
    fn an_unreadable_or_empty_password_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let e = read_secret_file("redis password", &empty).unwrap_err();
        assert_eq!(e.to_string(), format!("the redis password file {} is empty", empty.display()));
        let e = read_secret_file("redis password", &dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, Error::SecretFile { .. }));
    }

    #[test]
    fn serdes_unknown_field_message_is_still_recognised() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            a: Option<u8>,
        }
        let e = toml::from_str::<S>("b = 1").unwrap_err();
        assert_eq!(unknown_field(e.message()), Some("b"));
    }
}
