//! One writer per space: an OS file lock in the git directory, held for one operation.
//!
//! The OS releases it when the process dies, so a `kill -9` never leaves a space locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// A held write lock; released on drop.
pub struct WriteLock {
    file: File,
    /// When the previous holder took the lock, if it died holding it (killed, crashed).
    pub died_holding: Option<std::time::SystemTime>,
}

impl WriteLock {
    /// Waits up to `timeout` for the lock at `path`.
    pub fn acquire(path: &Path, timeout: Duration) -> Result<WriteLock, StoreError> {
        let io = |source| StoreError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        return Err(StoreError::Busy { path: path.to_path_buf(), holder: holder.trim().to_owned() });
                    }
                    // Back off; the lock holder is another process doing one short operation.
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(25));
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
        }
        // A clean release empties the file; a note left in it means its writer died holding it.
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        let died_holding =
            if previous.trim().is_empty() { None } else { file.metadata().and_then(|m| m.modified()).ok() };
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "pid {}", std::process::id());
        Ok(WriteLock { file, died_holding })
    }

    /// Where a repository's lock lives.
    pub fn path_in(git_dir: &Path) -> PathBuf {
        git_dir.join("confluence-do").join("write.lock")
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
