//! Credentials taken out of text before it is recorded: command lines that failover managers
//! and operators hand us (mysqlrpladmin's `--master=user:password@host`, MHA's
//! `--new_master_password=…`, `mysql -pSECRET`) and the output of commands we run. What is
//! recorded goes to the action log, syslog and Consul KV, none of which may hold a secret.
//!
//! Three shapes are recognised, and the secret part alone becomes `***`:
//! - user info before a host: `user:secret@host` → `user:***@host`;
//! - a password-like key with a value: `--password=x`, `*_password=x`, `password: x`,
//!   `MYSQL_PWD=x`, `auth-pass=x`, `token=x`;
//! - MySQL's short form glued to its value: `-px` → `-p***`.
//!
//! In an argument list, a password-like option standing alone (`--password`, `--auth-pass`)
//! also hides the argument after it. Over-redaction is accepted; a leak is not.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret.
pub const MASK: &str = "***";

struct Rule {
    pattern: Regex,
    replacement: &'static str,
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    let rule = |pattern: &str, replacement| Rule { pattern: Regex::new(pattern).expect("valid redaction pattern"), replacement };
    vec![
        // The last `@` before a space or a comma (mysqlrpladmin's `--slaves` lists) ends the
        // user info, so a password holding `@` is hidden whole.
        rule(r"(?P<user>(?:[A-Za-z][A-Za-z0-9+.-]*://)?[A-Za-z0-9._%+-]+):[^\s@,]*(?:@[^\s@,]*)*@", "${user}:***@"),
        rule(r"(?i)(?P<key>[a-z0-9_.-]*(?:password|passwd|pwd|pass|secret|token))(?P<sep>\s*[=:]\s*)(?P<value>'[^']*'|\x22[^\x22]*\x22|\S+)", "${key}${sep}***"),
        rule(r"(?P<pre>^|\s)-p(?P<value>\S+)", "${pre}-p***"),
    ]
});

/// A password-like option with its value in the next argument.
static LONE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^--?[a-z0-9_.-]*(?:password|passwd|pass|secret|token)$").expect("valid redaction pattern"));

/// `text` with every credential it holds replaced by [`MASK`].
pub fn text(text: &str) -> String {
    let mut out = text.to_string();
    for rule in RULES.iter() {
        if rule.pattern.is_match(&out) {
            out = rule.pattern.replace_all(&out, rule.replacement).into_owned();
        }
    }
    out
}

/// A command line for the record: each argument redacted, an argument after a lone
/// password-like option masked whole, joined with spaces.
pub fn command_line<S: AsRef<str>>(argv: &[S]) -> String {
    let mut out = Vec::with_capacity(argv.len());
    let mut hide_next = false;
    for arg in argv {
        let arg = arg.as_ref();
        out.push(if hide_next { MASK.to_string() } else { text(arg) });
        hide_next = LONE_KEY.is_match(arg);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_loses_its_password() {
        assert_eq!(text("--master=root:s3cret@10.0.0.11:3306"), "--master=root:***@10.0.0.11:3306");
        assert_eq!(text("--slave=repl:p@ss@db2:3306,repl:x@db3"), "--slave=repl:***@db2:3306,repl:***@db3");
        assert_eq!(text("http://u:pw@h:8500/v1"), "http://u:***@h:8500/v1");
        assert_eq!(text("no credentials at 10.0.0.11:3306"), "no credentials at 10.0.0.11:3306");
    }

    #[test]
    fn password_like_keys_lose_their_values() {
        assert_eq!(text("--password=hunter2"), "--password=***");
        assert_eq!(text("--new_master_password=x --orig_master_password='a b'"), "--new_master_password=*** --orig_master_password=***");
        assert_eq!(text("MYSQL_PWD=x mysql"), "MYSQL_PWD=*** mysql");
        assert_eq!(text("error: Password: top"), "error: Password: ***");
        assert_eq!(text("sentinel auth-pass mymaster x"), "sentinel auth-pass mymaster x", "no separator, no value");
    }

    #[test]
    fn glued_short_passwords_are_masked_and_other_short_flags_kept() {
        assert_eq!(text("mysql -uroot -psecret -h db1"), "mysql -uroot -p*** -h db1");
        assert_eq!(text("mysql -P3306 -p"), "mysql -P3306 -p");
    }

    #[test]
    fn a_lone_password_option_hides_the_next_argument() {
        assert_eq!(command_line(&["tool", "--password", "hunter2", "--host", "db1"]), "tool --password *** --host db1");
        assert_eq!(command_line(&["mysqlrpladmin", "--master=root:pw@db1:3306", "switchover"]), "mysqlrpladmin --master=root:***@db1:3306 switchover");
    }
}
