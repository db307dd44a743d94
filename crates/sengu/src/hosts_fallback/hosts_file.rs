//! The one block of the hosts file (`/etc/hosts`) this program owns, between a `# BEGIN` and
//! an `# END consul-hosts-fallback` line. Every other line is kept byte for byte; an empty
//! block is removed entirely, so the file is then exactly what its owner wrote.
//!
//! A file with a `BEGIN` and no `END`, an `END` alone, or two blocks is refused: the program
//! cannot tell which lines are its own, so it changes nothing.

use std::net::IpAddr;

use super::entries::{self, Entries};

/// The marker lines. The words after the program's name are for a person reading the file.
pub const BEGIN: &str =
    "# BEGIN consul-hosts-fallback: entries here exist only while the local DNS cannot answer for them; do not edit";
pub const END: &str = "# END consul-hosts-fallback";

/// A hosts file split around its managed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsFile {
    /// Everything before the block (or the whole file when there is none), as it was.
    before: String,
    /// The block's entries (empty when there is no block).
    pub active: Entries,
    /// Everything after the block, as it was.
    after: String,
}

impl HostsFile {
    /// Splits `text`; see the module doc for what is refused.
    pub fn parse(text: &str) -> Result<HostsFile, String> {
        let is = |line: &str, marker: &str| line.trim_end() == marker || (marker == BEGIN && line.starts_with("# BEGIN consul-hosts-fallback"));
        let mut begin = None;
        let mut end = None;
        let mut offset = 0;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if is(line, BEGIN) {
                if begin.is_some() {
                    return Err(format!("line {}: a second managed block", i + 1));
                }
                begin = Some((i, offset, offset + line.len()));
            } else if is(line, END) {
                if begin.is_none() || end.is_some() {
                    return Err(format!("line {}: {END:?} without a matching BEGIN line", i + 1));
                }
                end = Some((offset, offset + line.len()));
            }
            offset += line.len();
        }
        match (begin, end) {
            (None, None) => Ok(HostsFile { before: text.to_string(), active: Entries::new(), after: String::new() }),
            (Some((i, ..)), None) => Err(format!("line {}: a BEGIN line without its {END:?} line", i + 1)),
            (Some((i, start, inner)), Some((inner_end, stop))) => {
                let active = entries::parse_lines(&text[inner..inner_end]).map_err(|(n, why)| format!("line {}: {why}", i + 1 + n))?;
                Ok(HostsFile { before: text[..start].to_string(), active, after: text[stop..].to_string() })
            }
            (None, Some(_)) => unreachable!("an END before any BEGIN is refused in the loop"),
        }
    }

    /// The file with the block holding `active` (no block when it is empty).
    pub fn render(&self, active: &Entries) -> String {
        let mut text = self.before.clone();
        if !active.is_empty() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(BEGIN);
            text.push('\n');
            text.push_str(&entries::render_lines(active));
            text.push_str(END);
            text.push('\n');
        }
        text.push_str(&self.after);
        text
    }

    /// Lines outside the block that give an address to one of `names`: in `hosts: files dns`
    /// they win over DNS for good (the "first hit" problem), so the check reports them.
    pub fn unmanaged(&self, names: &[String]) -> Vec<(String, IpAddr)> {
        let outside = format!("{}{}", self.before, self.after);
        let Ok(found) = entries::parse_lines(&strip_bad_lines(&outside)) else { return Vec::new() };
        let mut hits = Vec::new();
        for name in names {
            for addr in found.get(name).into_iter().flatten() {
                hits.push((name.clone(), *addr));
            }
        }
        hits
    }
}

/// The lines of a hosts file a resolver would use (glibc skips lines it cannot parse).
fn strip_bad_lines(text: &str) -> String {
    text.lines().filter(|l| entries::parse_lines(l).is_ok()).map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "127.0.0.1\tlocalhost\n127.0.1.1 db-client.example db-client\n\n# IPv6\n::1 localhost ip6-localhost\n";

    fn active(name: &str, last: u8) -> Entries {
        [(name.to_string(), vec![IpAddr::from([10, 0, 0, last])])].into_iter().collect()
    }

    #[test]
    fn a_file_without_a_block_is_kept_as_it_is() {
        let f = HostsFile::parse(OWN).unwrap();
        assert!(f.active.is_empty());
        assert_eq!(f.render(&Entries::new()), OWN);
    }

    #[test]
    fn the_block_is_appended_replaced_and_removed_without_touching_other_lines() {
        let f = HostsFile::parse(OWN).unwrap();
        let with = f.render(&active("master.redis.service.consul", 11));
        assert_eq!(with, format!("{OWN}{BEGIN}\n10.0.0.11 master.redis.service.consul\n{END}\n"));
        let f = HostsFile::parse(&with).unwrap();
        assert_eq!(f.active, active("master.redis.service.consul", 11));
        let replaced = f.render(&active("master.redis.service.consul", 12));
        assert_eq!(replaced, format!("{OWN}{BEGIN}\n10.0.0.12 master.redis.service.consul\n{END}\n"));
        assert_eq!(HostsFile::parse(&replaced).unwrap().render(&Entries::new()), OWN);
    }

    #[test]
    fn lines_after_the_block_stay_after_it() {
        let text = format!("127.0.0.1 localhost\n{BEGIN}\n10.0.0.11 m\n{END}\n10.9.9.9 later\n");
        let f = HostsFile::parse(&text).unwrap();
        assert_eq!(f.render(&active("m", 12)), format!("127.0.0.1 localhost\n{BEGIN}\n10.0.0.12 m\n{END}\n10.9.9.9 later\n"));
        assert_eq!(f.render(&Entries::new()), "127.0.0.1 localhost\n10.9.9.9 later\n");
    }

    #[test]
    fn a_missing_final_newline_gets_one_before_the_block() {
        let f = HostsFile::parse("127.0.0.1 localhost").unwrap();
        assert_eq!(f.render(&active("m", 1)), format!("127.0.0.1 localhost\n{BEGIN}\n10.0.0.1 m\n{END}\n"));
    }

    #[test]
    fn broken_blocks_are_refused() {
        assert!(HostsFile::parse(&format!("{BEGIN}\n10.0.0.1 m\n")).unwrap_err().contains("line 1: a BEGIN line without"));
        assert!(HostsFile::parse(&format!("x\n{END}\n")).unwrap_err().contains("line 2"));
        let two = format!("{BEGIN}\n{END}\n{BEGIN}\n{END}\n");
        assert!(HostsFile::parse(&two).unwrap_err().contains("line 3: a second managed block"));
        assert!(HostsFile::parse(&format!("{BEGIN}\nnope m\n{END}\n")).unwrap_err().starts_with("line 2: "));
    }

    #[test]
    fn unmanaged_lines_naming_a_managed_name_are_found() {
        let text = format!("10.0.0.5 master.redis.service.consul\n{BEGIN}\n10.0.0.11 master.redis.service.consul\n{END}\n");
        let f = HostsFile::parse(&text).unwrap();
        let hits = f.unmanaged(&["master.redis.service.consul".to_string(), "other".to_string()]);
        assert_eq!(hits, vec![("master.redis.service.consul".to_string(), IpAddr::from([10, 0, 0, 5]))]);
    }
}
