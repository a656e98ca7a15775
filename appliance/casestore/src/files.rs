//! Attachment files, kept outside the database and named by the SHA-256 of their bytes:
//! `<root>/ab/cdef…` for digest `abcdef…`.
//!
//! A file is written to `<root>/tmp/`, hashed as it is written, `fsync`ed, renamed into place,
//! and its directory `fsync`ed, so after [`AttachmentStore::put`] returns the file is complete
//! and durable under its name; a crash before that leaves only a temporary file, which
//! [`AttachmentStore::open`] removes. Identical bytes are stored once. Whether a file may be
//! served (its scan verdict) is the database's business, not the file's.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::FileError;
use crate::model::Sha256;

/// A directory of content-addressed files.
#[derive(Debug)]
pub struct AttachmentStore {
    root: PathBuf,
}

/// Numbers temporary files, so that two stores on one directory in one process never collide.
static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);

/// A file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: Sha256,
    pub size: u64,
    /// `false` when identical bytes were already stored.
    pub new: bool,
}

fn io_error<'p>(op: &'static str, path: &'p Path) -> impl FnOnce(io::Error) -> FileError + 'p {
    move |source| FileError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

impl AttachmentStore {
    /// Opens (creating) the store at `root` and clears temporary files left by a crash. One
    /// process owns a directory: another's uploads in progress would be cleared too.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, FileError> {
        let root = root.into();
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp).map_err(io_error("creating", &tmp))?;
        for entry in fs::read_dir(&tmp).map_err(io_error("listing", &tmp))? {
            let path = entry.map_err(io_error("listing", &tmp))?.path();
            fs::remove_file(&path).map_err(io_error("removing", &path))?;
        }
        Ok(Self { root })
    }

    /// Where the file with digest `sha256` lives (whether or not it exists).
    pub fn path(&self, sha256: &Sha256) -> PathBuf {
        let hex = sha256.to_hex();
        let (dir, name) = hex.split_at(2);
        self.root.join(dir).join(name)
    }

    pub fn contains(&self, sha256: &Sha256) -> bool {
        self.path(sha256).is_file()
    }

    /// Stores `bytes`.
    pub fn put(&self, bytes: &[u8]) -> Result<StoredFile, FileError> {
        self.put_reader(bytes, u64::MAX)
    }

    /// Stores what `reader` yields, refusing (and keeping nothing of) more than `limit` bytes.
    pub fn put_reader(&self, mut reader: impl Read, limit: u64) -> Result<StoredFile, FileError> {
        let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{n}", std::process::id()));
        let result = self.write_temp(&mut reader, limit, &tmp);
        let (sha256, size) = match result {
            Ok(done) => done,
            Err(error) => {
                let _ = fs::remove_file(&tmp);
                return Err(error);
            }
        };
        let dest = self.path(&sha256);
        if dest.is_file() {
            fs::remove_file(&tmp).map_err(io_error("removing", &tmp))?;
            return Ok(StoredFile {
                sha256,
                size,
                new: false,
            });
        }
        let dir = dest.parent().unwrap_or(&self.root).to_owned();
        let created_dir = !dir.is_dir();
        fs::create_dir_all(&dir).map_err(io_error("creating", &dir))?;
        fs::rename(&tmp, &dest).map_err(io_error("renaming into", &dest))?;
        sync_dir(&dir)?;
        if created_dir {
            sync_dir(&self.root)?;
        }
        Ok(StoredFile {
            sha256,
            size,
            new: true,
        })
    }

    fn write_temp(
        &self,
        reader: &mut impl Read,
        limit: u64,
        tmp: &Path,
    ) -> Result<(Sha256, u64), FileError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)
            .map_err(io_error("creating", tmp))?;
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(FileError::Io {
                        op: "reading the upload for",
                        path: tmp.to_owned(),
                        source: e,
                    });
                }
            };
            size += n as u64;
            if size > limit {
                return Err(FileError::TooLarge { limit });
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(io_error("writing", tmp))?;
        }
        file.sync_all().map_err(io_error("syncing", tmp))?;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(hasher.finish().as_ref());
        Ok((Sha256(digest), size))
    }

    /// Opens a stored file for reading.
    pub fn open_file(&self, sha256: &Sha256) -> Result<File, FileError> {
        let path = self.path(sha256);
        File::open(&path).map_err(io_error("opening", &path))
    }

    /// Deletes a stored file (e.g. an infected upload, or one no attachment row names any
    /// more: see [`Store::attachment_refs`](crate::Store::attachment_refs)). Deleting a file
    /// that is not there succeeds.
    pub fn remove(&self, sha256: &Sha256) -> Result<(), FileError> {
        let path = self.path(sha256);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(path.parent().unwrap_or(&self.root)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(FileError::Io {
                op: "removing",
                path,
                source: e,
            }),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing directory", dir))
}

#[cfg(test)]
mod tests;
