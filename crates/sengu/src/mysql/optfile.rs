//! MySQL option files (`my.cnf` syntax), read the way `libmysqlclient` reads them, so a
//! credentials file that works for the `mysql` client works for sengu too.
//!
//! Hand-written on purpose: generic INI crates (rust-ini) differ from MySQL exactly where
//! passwords live — they drop unknown backslash escapes (`C:\W` → `C:W`) where MySQL keeps them,
//! know no `\s`, and reject `!include` lines — and a mangled password is a silent login failure.
//! The rules followed (MySQL manual, "Using Option Files"; `mysys/my_default.cc`):
//! - blank lines and lines starting with `#` or `;` are ignored; an unquoted `#` also ends a line;
//! - `[group]` starts a group; group names compare case-insensitively;
//! - `name` or `name = value`; spaces around both are trimmed; `-` and `_` in names are the same;
//! - a value wrapped in matching `'` or `"` loses the quotes (and may then contain `#`);
//! - escapes `\b \t \n \r \\ \s`(space) `\"` `\'` are decoded; any other backslash stays literal;
//! - `!include FILE` reads another file, `!includedir DIR` every `*.cnf` in DIR in name order;
//!   a relative path is taken relative to the including file's directory.
//!
//! Error messages name the file and line but never quote the line: it may hold a password.

use std::fs;
use std::path::{Path, PathBuf};

/// How deep `!include` may nest, so a file including itself fails instead of looping.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Why an option file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OptionFileError {
    #[error("cannot read mysql option file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("mysql option file {}, line {line}: {reason}", path.display())]
    Syntax { path: PathBuf, line: usize, reason: &'static str },
    #[error("mysql option file {}: !include nested deeper than {MAX_INCLUDE_DEPTH} files", path.display())]
    TooDeep { path: PathBuf },
    #[error("mysql option file {}: {name:?} has no value (the mysql client would prompt; sengu cannot)", path.display())]
    MissingValue { path: PathBuf, name: String },
}

/// One `name[=value]` line and the group it appeared in.
#[derive(Clone, PartialEq, Eq)]
struct Entry {
    group: String,
    name: String,
    value: Option<String>,
}

/// The options of one file (and the files it includes), in the order they appeared.
#[derive(Clone)]
pub struct OptionFile {
    path: PathBuf,
    entries: Vec<Entry>,
}

// Values may be passwords: Debug shows names only.
impl std::fmt::Debug for OptionFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.entries.iter().map(|e| format!("[{}] {}", e.group, e.name)).collect();
        f.debug_struct("OptionFile").field("path", &self.path).field("options", &names).finish()
    }
}

impl OptionFile {
    /// Reads and parses `path`, following `!include` and `!includedir`.
    pub fn load(path: &Path) -> Result<OptionFile, OptionFileError> {
        let mut entries = Vec::new();
        load_into(path, 0, &mut entries)?;
        Ok(OptionFile { path: path.to_path_buf(), entries })
    }

    /// Parses option-file text that came from `path` (used in messages and to resolve relative
    /// `!include` paths).
    pub fn parse(text: &str, path: &Path) -> Result<OptionFile, OptionFileError> {
        let mut entries = Vec::new();
        parse_into(text, path, 0, &mut entries)?;
        Ok(OptionFile { path: path.to_path_buf(), entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last setting of `name` in any of `groups`: `None` if absent, `Some(None)` if given
    /// without a value. Later lines override earlier ones, as in the mysql client.
    pub fn get(&self, groups: &[&str], name: &str) -> Option<Option<&str>> {
        let name = normalize_name(name);
        self.entries
            .iter()
            .rev()
            .find(|e| e.name == name && groups.iter().any(|g| g.eq_ignore_ascii_case(&e.group)))
            .map(|e| e.value.as_deref())
    }

    /// Like [`OptionFile::get`], but an option given without a value is an error.
    pub fn value(&self, groups: &[&str], name: &str) -> Result<Option<&str>, OptionFileError> {
        match self.get(groups, name) {
            None => Ok(None),
            Some(Some(v)) => Ok(Some(v)),
            Some(None) => Err(OptionFileError::MissingValue { path: self.path.clone(), name: name.to_string() }),
        }
    }
}

fn load_into(path: &Path, depth: usize, entries: &mut Vec<Entry>) -> Result<(), OptionFileError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(OptionFileError::TooDeep { path: path.to_path_buf() });
    }
    // A regular file of at most 1 MiB: a FIFO or a device named here must not hang or exhaust
    // the hook (the same bound as every config file).
    let text = crate::files::read_to_string(path, crate::files::CONFIG_LIMIT)
        .map_err(|source| OptionFileError::Read { path: path.to_path_buf(), source })?;
    parse_into(&text, path, depth, entries)
}

fn parse_into(text: &str, path: &Path, depth: usize, entries: &mut Vec<Entry>) -> Result<(), OptionFileError> {
    let syntax = |line: usize, reason| OptionFileError::Syntax { path: path.to_path_buf(), line, reason };
    // Options before any [group] belong to no group; MySQL rejects them, and so do we.
    let mut group: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('!') {
            let (word, arg) = directive.split_once(char::is_whitespace).unwrap_or((directive, ""));
            let target = resolve(path, arg.trim());
            match word {
                "include" if !arg.trim().is_empty() => load_into(&target, depth + 1, entries)?,
                "includedir" if !arg.trim().is_empty() => include_dir(&target, depth + 1, entries)?,
                "include" | "includedir" => return Err(syntax(line_no, "!include needs a path")),
                _ => return Err(syntax(line_no, "unknown ! directive (expected !include or !includedir)")),
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split_once(']').map(|(n, _)| n.trim()).ok_or_else(|| syntax(line_no, "group header without ']'"))?;
            if name.is_empty() {
                return Err(syntax(line_no, "empty group name"));
            }
            group = Some(name.to_string());
            continue;
        }
        let Some(group) = &group else {
            return Err(syntax(line_no, "option before the first [group]"));
        };
        let line = strip_end_comment(line);
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n.trim(), Some(unquote_unescape(v.trim()))),
            None => (line.trim(), None),
        };
        if name.is_empty() {
            return Err(syntax(line_no, "option without a name"));
        }
        entries.push(Entry { group: group.clone(), name: normalize_name(name), value });
    }
    Ok(())
}

fn include_dir(dir: &Path, depth: usize, entries: &mut Vec<Entry>) -> Result<(), OptionFileError> {
    let read_err = |source| OptionFileError::Read { path: dir.to_path_buf(), source };
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cnf") && p.is_file())
        .collect();
    files.sort();
    for f in files {
        load_into(&f, depth, entries)?;
    }
    Ok(())
}

fn resolve(including: &Path, target: &str) -> PathBuf {
    let target = Path::new(target);
    match including.parent() {
        Some(dir) if target.is_relative() => dir.join(target),
        _ => target.to_path_buf(),
    }
}

fn normalize_name(name: &str) -> String {
    name.replace('_', "-")
}

/// Cuts the line at the first `#` outside quotes (`remove_end_comment` in my_default.cc).
fn strip_end_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if (c == '\'' || c == '"') && !escaped {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            }
        } else if quote.is_none() && c == '#' {
            return &line[..i];
        }
        escaped = quote.is_some() && c == '\\' && !escaped;
    }
    line
}

/// Drops one pair of matching surrounding quotes, then decodes MySQL's escapes.
fn unquote_unescape(value: &str) -> String {
    let inner = match value.chars().next() {
        Some(q @ ('\'' | '"')) if value.len() >= 2 && value.ends_with(q) => &value[1..value.len() - 1],
        _ => value,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        // A trailing backslash stays as it is.
        let Some(&next) = chars.peek() else {
            out.push('\\');
            break;
        };
        let decoded = match next {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'b' => Some('\u{8}'),
            's' => Some(' '),
            '"' => Some('"'),
            '\'' => Some('\''),
            '\\' => Some('\\'),
            _ => None,
        };
        match decoded {
            Some(d) => {
                out.push(d);
                chars.next();
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &[&str] = &["client"];

    fn parse(text: &str) -> OptionFile {
        OptionFile::parse(text, Path::new("/etc/sengu/my.cnf")).unwrap()
    }

    #[test]
    fn reads_key_value_with_and_without_spaces() {
        let f = parse("[client]\nuser=sengu\npassword = s3cret  \n");
        assert_eq!(f.get(CLIENT, "user"), Some(Some("sengu")));
        assert_eq!(f.get(CLIENT, "password"), Some(Some("s3cret")));
        assert_eq!(f.get(CLIENT, "host"), None);
    }

    #[test]
    fn only_the_asked_groups_count_and_the_last_line_wins() {
        let f = parse("[mysqld]\nuser=mysql\n[client]\nuser=first\n[CLIENT]\nuser=second\n[mysql]\nuser=other\n");
        assert_eq!(f.get(CLIENT, "user"), Some(Some("second")));
        assert_eq!(f.get(&["mysqld"], "user"), Some(Some("mysql")));
    }

    #[test]
    fn comments_are_skipped_and_hash_ends_an_unquoted_value() {
        let f = parse("# top\n; also\n[client]\n  # indented\npassword=ab#cd\nuser='a#b' # trailing\n");
        assert_eq!(f.get(CLIENT, "password"), Some(Some("ab")));
        assert_eq!(f.get(CLIENT, "user"), Some(Some("a#b")));
    }

    #[test]
    fn quotes_are_stripped_once_and_escapes_decoded_like_mysql() {
        let f = parse(
            "[client]\npassword=\"p w\\s\\\"x\"\nuser='it''s'\nhost=C:\\Windows\\n\\q\\\\\nsocket=\"unbalanced\n",
        );
        assert_eq!(f.get(CLIENT, "password"), Some(Some("p w \"x")));
        assert_eq!(f.get(CLIENT, "user"), Some(Some("it''s")));
        // Unknown escapes keep their backslash (unlike generic INI parsers).
        assert_eq!(f.get(CLIENT, "host"), Some(Some("C:\\Windows\n\\q\\")));
        assert_eq!(f.get(CLIENT, "socket"), Some(Some("\"unbalanced")));
    }

    #[test]
    fn dash_and_underscore_are_the_same_in_names() {
        let f = parse("[client]\nssl_ca=/a\nssl-key=/b\n");
        assert_eq!(f.get(CLIENT, "ssl-ca"), Some(Some("/a")));
        assert_eq!(f.get(CLIENT, "ssl_key"), Some(Some("/b")));
    }

    #[test]
    fn an_option_without_value_is_present_but_valueless() {
        let f = parse("[client]\npassword\n");
        assert_eq!(f.get(CLIENT, "password"), Some(None));
        assert!(matches!(f.value(CLIENT, "password"), Err(OptionFileError::MissingValue { .. })));
    }

    #[test]
    fn syntax_errors_name_the_line_but_never_its_text() {
        for (text, line) in [("password=hunter2\n", 1), ("[client]\n[broken\n", 2), ("[client]\n=hunter2\n", 2), ("!bogus x\n", 1)] {
            let err = OptionFile::parse(text, Path::new("/x/my.cnf")).unwrap_err();
            assert!(matches!(err, OptionFileError::Syntax { line: l, .. } if l == line), "{text:?}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
            assert!(err.to_string().contains("/x/my.cnf"), "{err}");
        }
    }

    #[test]
    fn include_and_includedir_are_followed_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("conf.d")).unwrap();
        fs::write(dir.path().join("conf.d/b.cnf"), "[client]\npassword=from-b\n").unwrap();
        fs::write(dir.path().join("conf.d/a.cnf"), "[client]\npassword=from-a\nuser=a\n").unwrap();
        fs::write(dir.path().join("conf.d/ignored.txt"), "[client]\nuser=txt\n").unwrap();
        fs::write(dir.path().join("extra.cnf"), "[client]\nhost=db\n").unwrap();
        fs::write(dir.path().join("my.cnf"), "[client]\nuser=main\n!includedir conf.d\n!include extra.cnf\n").unwrap();
        let f = OptionFile::load(&dir.path().join("my.cnf")).unwrap();
        assert_eq!(f.get(CLIENT, "password"), Some(Some("from-b")), "files in name order, the later wins");
        assert_eq!(f.get(CLIENT, "user"), Some(Some("a")));
        assert_eq!(f.get(CLIENT, "host"), Some(Some("db")));
    }

    #[test]
    fn self_inclusion_fails_instead_of_looping() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("my.cnf"), "!include my.cnf\n").unwrap();
        assert!(matches!(OptionFile::load(&dir.path().join("my.cnf")), Err(OptionFileError::TooDeep { .. })));
    }

    #[test]
    fn missing_file_is_a_read_error_naming_it() {
        let err = OptionFile::load(Path::new("/nonexistent/sengu.cnf")).unwrap_err();
        assert!(matches!(err, OptionFileError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/sengu.cnf"));
    }

    #[test]
    fn a_fifo_or_a_device_is_refused_at_once_even_when_included() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.cnf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        fs::write(dir.path().join("my.cnf"), "[client]\nuser=u\n!include /dev/zero\n").unwrap();
        for path in [fifo.clone(), "/dev/zero".into(), dir.path().join("my.cnf")] {
            let err = OptionFile::load(&path).unwrap_err();
            assert!(matches!(err, OptionFileError::Read { .. }), "{err}");
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let f = parse("[client]\npassword=hunter2\n");
        assert!(!format!("{f:?}").contains("hunter2"));
    }
}
