//! Who sengu logs in to MySQL as: the user and password from a MySQL option file or
//! `MYSQL_PWD`, never from argv, held in a [`Secret`] that does not print; and the flags and
//! `[mysql]` config table, shared by every executable that talks to MySQL, that name the file
//! and the user.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::optfile::{OptionFile, OptionFileError};
use crate::secret::Secret;

/// Option-file groups read for credentials, as the MariaDB client reads them (`[client]` is
/// the one both MySQL and MariaDB clients share).
pub const CLIENT_GROUPS: &[&str] = &["client", "client-server", "client-mariadb"];

/// Who to log in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Option<Secret>,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: Option<Secret>) -> Credentials {
        Credentials { user: user.into(), password }
    }

    /// Reads `user` and `password` from the option file's client groups ([`CLIENT_GROUPS`]),
    /// falling back to `MYSQL_PWD` for the password and to the effective Unix user's name for
    /// the user, as the mysql client does. No default option files (`~/.my.cnf`) are read:
    /// only the one given. `host`, `port` and `socket` in the file are ignored, because the
    /// server to talk to always comes from the caller (a hook's arguments, a check's flags).
    pub fn load(option_file: Option<&Path>) -> Result<Credentials, OptionFileError> {
        let file = option_file.map(OptionFile::load).transpose()?;
        Credentials::resolve(file.as_ref(), std::env::var("MYSQL_PWD").ok(), login_name())
    }

    /// [`Credentials::load`] without the environment: option file first, then `mysql_pwd` for
    /// the password (empty counts as unset), then `login` for the user, then `root`.
    pub fn resolve(file: Option<&OptionFile>, mysql_pwd: Option<String>, login: Option<String>) -> Result<Credentials, OptionFileError> {
        let (mut user, mut password) = (None, None);
        if let Some(file) = file {
            user = file.value(CLIENT_GROUPS, "user")?.map(str::to_string);
            password = file.value(CLIENT_GROUPS, "password")?.map(Secret::new);
        }
        let password = password.or_else(|| mysql_pwd.filter(|p| !p.is_empty()).map(Secret::new));
        let user = user.or(login).unwrap_or_else(|| "root".to_string());
        Ok(Credentials { user, password })
    }
}

/// The flags that say how to log in, flattened into every binary that talks to MySQL. Each
/// also reads a `SENGU_*` variable and has a `[mysql]` key; neither has a clap default, so the
/// file can set it. There is no password flag: the password lives in the option file.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct MysqlArgs {
    /// MySQL option file with the [client] user and password (also [mysql] defaults_file)
    #[arg(long, global = true, env = "SENGU_MYSQL_DEFAULTS_FILE", value_name = "FILE")]
    pub mysql_defaults_file: Option<PathBuf>,
    /// MySQL user, overriding the option file's (also [mysql] user)
    #[arg(long, global = true, env = "SENGU_MYSQL_USER", value_name = "USER")]
    pub mysql_user: Option<String>,
}

impl MysqlArgs {
    /// The credentials to log in with: the option file and the user from these flags (or their
    /// variables), else from the `[mysql]` table; then as [`Credentials::load`] reads them.
    pub fn credentials(&self, file: &MysqlFileSettings) -> Result<Credentials, OptionFileError> {
        let mut credentials = Credentials::load(self.mysql_defaults_file.as_deref().or(file.defaults_file.as_deref()))?;
        if let Some(user) = self.mysql_user.as_ref().or(file.user.as_ref()) {
            credentials.user.clone_from(user);
        }
        Ok(credentials)
    }
}

/// The `[mysql]` table: how sengu logs in to MySQL/MariaDB. It has no password key on purpose:
/// passwords belong in the option file, which the mysql client can use too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlFileSettings {
    /// A MySQL option file; its `[client]` groups give `user` and `password`.
    pub defaults_file: Option<PathBuf>,
    /// The user, overriding the option file's.
    pub user: Option<String>,
}

impl MysqlFileSettings {
    /// The table's name in the config file.
    pub const TABLE: &'static str = "mysql";
}

fn login_name() -> Option<String> {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_is_masked() {
        let c = Credentials::new("sengu", Some(Secret::new("hunter2")));
        assert_eq!(format!("{:?}", c.password), "Some(***)");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn option_file_beats_mysql_pwd_which_beats_nothing() {
        let f = OptionFile::parse("[client]\nuser=sengu\npassword=from-file\n", Path::new("/my.cnf")).unwrap();
        let c = Credentials::resolve(Some(&f), Some("from-env".into()), Some("login".into())).unwrap();
        assert_eq!((c.user.as_str(), c.password.unwrap().expose()), ("sengu", "from-file"));

        let f = OptionFile::parse("[client-mariadb]\nuser=maria\n[mysqld]\npassword=not-ours\n", Path::new("/my.cnf")).unwrap();
        let c = Credentials::resolve(Some(&f), Some("from-env".into()), Some("login".into())).unwrap();
        assert_eq!((c.user.as_str(), c.password.unwrap().expose()), ("maria", "from-env"));

        let c = Credentials::resolve(None, Some(String::new()), Some("login".into())).unwrap();
        assert_eq!((c.user.as_str(), c.password), ("login", None));
        assert_eq!(Credentials::resolve(None, None, None).unwrap().user, "root");
    }

    #[test]
    fn flags_beat_the_table_for_the_option_file_and_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let [flag_cnf, file_cnf] = ["flag.cnf", "file.cnf"].map(|name| dir.path().join(name));
        std::fs::write(&flag_cnf, "[client]\nuser = from-flag-file\npassword = p1\n").unwrap();
        std::fs::write(&file_cnf, "[client]\nuser = from-table-file\npassword = p2\n").unwrap();
        let table = MysqlFileSettings { defaults_file: Some(file_cnf), user: None };
        let c = MysqlArgs::default().credentials(&table).unwrap();
        assert_eq!((c.user.as_str(), c.password.unwrap().expose()), ("from-table-file", "p2"));
        let args = MysqlArgs { mysql_defaults_file: Some(flag_cnf), mysql_user: None };
        let c = args.credentials(&table).unwrap();
        assert_eq!((c.user.as_str(), c.password.unwrap().expose()), ("from-flag-file", "p1"));
        let table = MysqlFileSettings { user: Some("table-user".into()), ..table };
        assert_eq!(args.credentials(&table).unwrap().user, "table-user", "the table's user beats the option file's");
        let args = MysqlArgs { mysql_user: Some("flag-user".into()), ..args };
        assert_eq!(args.credentials(&table).unwrap().user, "flag-user");
        let missing = MysqlArgs { mysql_defaults_file: Some(dir.path().join("nope.cnf")), mysql_user: None };
        assert!(matches!(missing.credentials(&MysqlFileSettings::default()), Err(OptionFileError::Read { .. })));
    }

    #[test]
    fn a_valueless_password_line_is_an_error_not_an_empty_password() {
        let f = OptionFile::parse("[client]\npassword\n", Path::new("/my.cnf")).unwrap();
        assert!(matches!(Credentials::resolve(Some(&f), None, None), Err(OptionFileError::MissingValue { .. })));
    }
}
