//! The per-host lock that serialises runs: Sentinel runs the script once per sentinel process,
//! so a host with two sentinels gets two calls for one failover, and a timer may run at the
//! same moment. Whoever holds the lock looks, decides and acts; the next one looks again
//! afterwards and finds the work done. The lock is an `flock` on a file, released by the kernel
//! when the process ends, so a run killed by Sentinel's 60 s limit cannot leave it held.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file {}: {source}", .path.display())]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {}: {errno}", .path.display())]
    Lock { path: PathBuf, errno: Errno },
    #[error("another sentinel-rebalance run held {} for longer than {}", .path.display(), crate::human::duration(*.waited))]
    Busy { path: PathBuf, waited: Duration },
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct RunLock {
    _lock: Flock<File>,
}

/// Takes the lock at `path`, waiting for another run until `deadline`.
pub fn acquire(path: &Path, deadline: Instant) -> Result<RunLock, LockError> {
    let started = Instant::now();
    // 0666 (minus umask): the lock is shared by every user that may run the script.
    let mut file =
        OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o666).open(path).map_err(|source| LockError::Open {
            path: path.to_owned(),
            source,
        })?;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(RunLock { _lock: lock }),
            Err((back, Errno::EWOULDBLOCK | Errno::EINTR)) if Instant::now() < deadline => {
                file = back;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((_, Errno::EWOULDBLOCK)) => return Err(LockError::Busy { path: path.to_owned(), waited: started.elapsed() }),
            Err((_, errno)) => return Err(LockError::Lock { path: path.to_owned(), errno }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_gives_up_at_its_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rebalance.lock");
        let first = acquire(&path, Instant::now()).unwrap();
        let e = acquire(&path, Instant::now() + Duration::from_millis(150)).unwrap_err();
        assert!(matches!(e, LockError::Busy { .. }), "{e}");
        drop(first);
        acquire(&path, Instant::now()).unwrap();
    }

    #[test]
    fn the_lock_passes_to_a_waiting_run_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rebalance.lock");
        let first = acquire(&path, Instant::now()).unwrap();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || acquire(&path, Instant::now() + Duration::from_secs(10)).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(100));
        drop(first);
        waiter.join().unwrap().unwrap();
    }
}
