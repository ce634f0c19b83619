//! One writer per space: an OS file lock in the git directory, held for one operation.
//!
//! The OS releases it when the process dies, so a `kill -9` never leaves a space locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::StoreError;

/// A held write lock; released on drop.
pub struct WriteLock {
    file: Arc<File>,
    /// When the previous holder took the lock, if it died holding it (killed, crashed).
    pub died_holding: Option<std::time::SystemTime>,
}

impl WriteLock {
    /// Opens (creating) the lock file at `path`; a store keeps it open for all its writes.
    pub fn open(path: &Path) -> Result<Arc<File>, StoreError> {
        let io = |source: std::io::Error| match source.kind() {
            // The first write of a space that cannot be written: say so, not "permission denied".
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                let repo = path.ancestors().find(|p| p.file_name().is_some_and(|n| n == ".git"));
                let root = repo.and_then(Path::parent).unwrap_or(path);
                StoreError::ReadOnly(root.to_path_buf())
            }
            _ => StoreError::Io { path: path.to_path_buf(), source },
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        Ok(Arc::new(file))
    }

    /// Waits up to `timeout` for the lock on `file` (opened by [`WriteLock::open`] from `path`).
    pub fn acquire(file: Arc<File>, path: &Path, timeout: Duration) -> Result<WriteLock, StoreError> {
        let io = |source| StoreError::Io { path: path.to_path_buf(), source };
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let mut holder = String::new();
                        let _ = (&*file).seek(SeekFrom::Start(0));
                        let _ = (&*file).read_to_string(&mut holder);
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
        let died_holding = match file.metadata() {
            Ok(meta) if meta.len() > 0 => {
                let _ = file.set_len(0);
                Some(meta.modified().unwrap_or_else(|_| std::time::SystemTime::now()))
            }
            _ => None,
        };
        write_at_start(&file, format!("pid {}", pid()).as_bytes());
        Ok(WriteLock { file, died_holding })
    }

    /// Where a repository's lock lives.
    pub fn path_in(git_dir: &Path) -> PathBuf {
        git_dir.join("confluence-do").join("write.lock")
    }
}

/// This process's id, asked of the OS once.
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

#[cfg(unix)]
fn write_at_start(file: &File, bytes: &[u8]) {
    use std::os::unix::fs::FileExt as _;
    let _ = file.write_all_at(bytes, 0);
}

#[cfg(not(unix))]
fn write_at_start(mut file: &File, bytes: &[u8]) {
    use std::io::Write as _;
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.write_all(bytes);
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
