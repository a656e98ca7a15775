//! What every benchmark program (`cargo xtask bench NAME`) shares: the workspace root, the
//! target directory cargo uses, and `target/bench/NAME.json`, where a run's flat object of
//! numbers and booleans goes.

mod figures;

pub use figures::{Figures, Value, percentile};

use std::io;
use std::path::{Path, PathBuf};

/// The workspace root: the directory holding `Cargo.lock`, above this crate.
pub fn workspace_root() -> io::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("Cargo.lock").exists())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no Cargo.lock above the benchmark crates",
            )
        })
}

/// `CARGO_TARGET_DIR` if set (relative to the working directory, as cargo takes it), else
/// `target/` beside `Cargo.lock`.
pub fn target_dir() -> io::Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => Ok(std::env::current_dir()?.join(dir)),
        _ => Ok(workspace_root()?.join("target")),
    }
}

/// Writes `json` to `target/bench/NAME.json`, creating the directory; returns the path.
pub fn write_result(name: &str, json: &str) -> io::Result<PathBuf> {
    let dir = target_dir()?.join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_root_is_where_the_lock_file_is() {
        let root = workspace_root().expect("inside the workspace");
        assert!(root.join("Cargo.lock").is_file() && root.join("tests/benchkit").is_dir());
    }
}
