//! Who sengu logs in to MySQL as: the user and password from a MySQL option file or
//! `MYSQL_PWD`, never from argv, held in a [`Secret`] that does not print; and the flags and
//! `[mysql]` config table, shared by every executable that talks to MySQL, that name the file
//! and the user.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::optfile::{OptionFile, OptionFileError};
use crate::secret::Secret;

/// Option-file groups read for credentials, as the MariaDB client reads them (`[client]` is
/// the one both MySQL and MariaDB clients share).
pub const CLIENT_GROUPS: &[&str] = &["client", "client-server", "client-mariadb"];

/// Who to log in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// How to log in, flattened into every binary that talks to MySQL, and the `[mysql]` table of
/// the config file (keys `defaults_file`, `user`): each setting declared once, layered by
/// [`crate::settings::layer`]. There is no password flag or key on purpose: the password lives
/// in the option file, which the mysql client can use too.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlArgs {
    /// MySQL option file with the [client] user and password (also [mysql] defaults_file)
    #[arg(long = "mysql-defaults-file", id = "mysql_defaults_file", global = true, env = "SENGU_MYSQL_DEFAULTS_FILE", value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,
    /// MySQL user, overriding the option file's (also [mysql] user)
    #[arg(long = "mysql-user", id = "mysql_user", global = true, env = "SENGU_MYSQL_USER", value_name = "USER")]
    pub user: Option<String>,
}

impl MysqlArgs {
    /// The credentials to log in with, from these (already layered) settings: the option
    /// file, as [`Credentials::load`] reads it, with `user` overriding its user.
    pub fn credentials(&self) -> Result<Credentials, OptionFileError> {
        let mut credentials = Credentials::load(self.defaults_file.as_deref())?;
        if let Some(user) = &self.user {
            credentials.user.clone_from(user);
        }
        Ok(credentials)
    }
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
    fn the_user_setting_beats_the_option_files_user() {
        let dir = tempfile::tempdir().unwrap();
        let cnf = dir.path().join("sengu.cnf");
        std::fs::write(&cnf, "[client]\nuser = from-file\npassword = p1\n").unwrap();
        let args = MysqlArgs { defaults_file: Some(cnf), user: None };
        let c = args.credentials().unwrap();
        assert_eq!((c.user.as_str(), c.password.unwrap().expose()), ("from-file", "p1"));
        let args = MysqlArgs { user: Some("flag-user".into()), ..args };
        assert_eq!(args.credentials().unwrap().user, "flag-user");
        let missing = MysqlArgs { defaults_file: Some(dir.path().join("nope.cnf")), user: None };
        assert!(matches!(missing.credentials(), Err(OptionFileError::Read { .. })));
    }

    #[test]
    fn a_valueless_password_line_is_an_error_not_an_empty_password() {
        let f = OptionFile::parse("[client]\npassword\n", Path::new("/my.cnf")).unwrap();
        assert!(matches!(Credentials::resolve(Some(&f), None, None), Err(OptionFileError::MissingValue { .. })));
    }
}
