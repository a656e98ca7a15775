//! What the machine has, read from `/proc`, `/sys`, `/dev` and `/run` under a root directory.
//! `None` means "could not be determined here", which the report shows as a warning rather than
//! a guess.

use std::path::{Path, PathBuf};

/// A machine, seen through the files under `root`.
#[derive(Debug, Clone)]
pub struct Machine {
    root: PathBuf,
}

impl Machine {
    /// The machine this process runs on.
    pub fn this() -> Self {
        Self::at("/")
    }

    /// A machine whose `/proc`, `/sys`, `/dev` and `/run` are under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn read(&self, p: &str) -> Option<String> {
        std::fs::read_to_string(self.path(p)).ok()
    }

    fn exists(&self, p: &str) -> bool {
        self.path(p).exists()
    }

    /// Processors the kernel lists.
    pub fn cpus(&self) -> Option<u64> {
        let text = self.read("/proc/cpuinfo")?;
        let n = text
            .lines()
            .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
            .count();
        (n > 0).then_some(n as u64)
    }

    /// `MemTotal`, in MiB.
    pub fn memory_mib(&self) -> Option<u64> {
        let text = self.read("/proc/meminfo")?;
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024)
    }

    /// Size of the file system holding the root, in GiB.
    pub fn storage_gib(&self) -> Option<u64> {
        let stat = nix::sys::statvfs::statvfs(&self.root).ok()?;
        let bytes = stat.blocks().checked_mul(stat.fragment_size())?;
        Some(bytes / (1 << 30))
    }

    /// Network interfaces backed by a device (not loopback, bridges or other virtual ones).
    pub fn nics(&self) -> Option<u64> {
        let dir = std::fs::read_dir(self.path("/sys/class/net")).ok()?;
        let n = dir
            .filter_map(Result::ok)
            .filter(|e| e.path().join("device").exists())
            .count();
        Some(n as u64)
    }

    /// A TPM that says it is version 2.
    pub fn tpm2(&self) -> Option<bool> {
        if !self.exists("/sys/class/tpm") {
            return Some(self.exists("/dev/tpmrm0"));
        }
        let major = self.read("/sys/class/tpm/tpm0/tpm_version_major");
        Some(major.is_some_and(|m| m.trim() == "2") || self.exists("/dev/tpmrm0"))
    }

    pub fn watchdog(&self) -> Option<bool> {
        Some(self.exists("/dev/watchdog0") || self.exists("/sys/class/watchdog/watchdog0"))
    }

    pub fn serial_console(&self) -> Option<bool> {
        Some(self.exists("/sys/class/tty/ttyS0") || self.exists("/dev/ttyS0"))
    }

    /// Landlock among the active security modules (securityfs must be mounted to tell).
    pub fn landlock(&self) -> Option<bool> {
        let lsm = self.read("/sys/kernel/security/lsm")?;
        Some(lsm.trim().split(',').any(|m| m == "landlock"))
    }

    /// erofs built in, loaded, or available as a module of the running kernel.
    pub fn erofs(&self) -> Option<bool> {
        let listed = self.read("/proc/filesystems").is_some_and(|t| {
            t.lines()
                .any(|l| l.split_whitespace().last() == Some("erofs"))
        });
        Some(listed || self.exists("/sys/module/erofs") || self.module("kernel/fs/erofs"))
    }

    /// dm-verity loaded, or available as a module of the running kernel.
    pub fn dm_verity(&self) -> Option<bool> {
        Some(self.exists("/sys/module/dm_verity") || self.module("kernel/drivers/md/dm-verity"))
    }

    /// Whether the running kernel's module tree has `prefix` (a file or a directory).
    fn module(&self, prefix: &str) -> bool {
        let Some(release) = self.read("/proc/sys/kernel/osrelease") else {
            return false;
        };
        let base = self.path(&format!("/lib/modules/{}", release.trim()));
        let wanted = base.join(prefix);
        wanted.exists() || has_module_file(&wanted)
    }

    /// The smaller of the kernel's receive and send buffer maxima.
    pub fn socket_buffers(&self) -> Option<u64> {
        let read = |p| self.read(p)?.trim().parse::<u64>().ok();
        Some(read("/proc/sys/net/core/rmem_max")?.min(read("/proc/sys/net/core/wmem_max")?))
    }

    /// systemd-timesyncd's mark of a synchronised clock; `None` when no time service is known.
    pub fn clock_synced(&self) -> Option<bool> {
        if self.exists("/run/systemd/timesync/synchronized") {
            return Some(true);
        }
        self.exists("/run/systemd/timesync").then_some(false)
    }
}

/// `dm-verity.ko`, `dm-verity.ko.xz`, … beside `stem`.
fn has_module_file(stem: &Path) -> bool {
    let (Some(dir), Some(name)) = (stem.parent(), stem.file_name()) else {
        return false;
    };
    let name = format!("{}.ko", name.to_string_lossy());
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(&name))
    })
}
