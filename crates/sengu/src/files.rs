//! Reading the files an operator names (the config file, secret files such as the Consul token
//! or the Redis password, MySQL option files, certificates) with a bound, through one helper
//! that every reader uses: only a regular file is read, and at most a cap of bytes.
//!
//! Without it a FIFO given as `--config` blocks a hook forever, and `/dev/zero` is read until
//! the OOM killer ends the process; for `mysql-fail-check` a death by signal reads as "fail
//! over now". The file type is checked on the opened descriptor (`fstat`), never by a `stat`
//! before the open, so the path cannot be swapped in between; the open itself is non-blocking,
//! so opening a FIFO without a writer returns at once. `/dev/null` is accepted as the usual
//! way to say "an empty file".

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::OFlag;

/// The most read from a config file (TOML, MySQL option file, certificate bundle): 1 MiB.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The most read from a file holding one secret (a token, a password): 64 KiB.
pub const SECRET_LIMIT: u64 = 64 << 10;

/// Reads the whole file at `path`, which must be a regular file (or `/dev/null`) of at most
/// `limit` bytes. A missing file keeps its [`io::ErrorKind::NotFound`]; a file of another type
/// or too large is an [`io::ErrorKind::InvalidInput`] error whose text says which (`not a
/// regular file (a fifo)`, `larger than 1 MiB`), for a message such as `cannot read config
/// file /x: …`.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = OpenOptions::new().read(true).custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits()).open(path)?;
    check_type(&file)?;
    let mut bytes = Vec::new();
    // One byte more than allowed tells "exactly the limit" from "more than the limit".
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("larger than {}", size(limit))));
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read(path, limit)?).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8"))
}

/// Accepts a regular file and `/dev/null` (character device 1:3 on Linux), nothing else.
fn check_type(file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    let kind = meta.file_type();
    let dev_null = kind.is_char_device() && meta.rdev() == nix::sys::stat::makedev(1, 3);
    let what = if kind.is_file() || dev_null {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a fifo"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "of an unknown type"
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, format!("not a regular file (it is {what})")))
}

/// `1 MiB`, `64 KiB`, `100 bytes`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_regular_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "12345").unwrap();
        assert_eq!(read(&path, 5).unwrap(), b"12345");
        assert_eq!(read_to_string(&path, CONFIG_LIMIT).unwrap(), "12345");
        let e = read(&path, 4).unwrap_err();
        assert_eq!((e.kind(), e.to_string()), (io::ErrorKind::InvalidInput, "larger than 4 bytes".to_string()));
    }

    #[test]
    fn a_missing_file_keeps_not_found() {
        let e = read(Path::new("/nonexistent/sengu-file"), SECRET_LIMIT).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn dev_null_is_an_empty_file() {
        assert_eq!(read(Path::new("/dev/null"), SECRET_LIMIT).unwrap(), b"");
    }

    #[test]
    fn dev_zero_is_refused_at_once() {
        let started = Instant::now();
        let e = read(Path::new("/dev/zero"), CONFIG_LIMIT).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (it is a character device)");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_fifo_without_a_writer_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let started = Instant::now();
        let e = read_to_string(&fifo, SECRET_LIMIT).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (it is a fifo)");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path(), CONFIG_LIMIT).unwrap_err().to_string(), "not a regular file (it is a directory)");
    }

    #[test]
    fn limits_read_in_binary_units() {
        assert_eq!(size(CONFIG_LIMIT), "1 MiB");
        assert_eq!(size(SECRET_LIMIT), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(read_to_string(&path, 10).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
