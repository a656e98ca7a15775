//! A real clamd for one test, in its own temporary directory: [`scan::local::LocalClamd`].

use scan::Clamd;
use scan::local::LocalClamd;

pub(crate) use scan::local::{BODY_SIGNATURE, HASH_SIGNATURE, eicar};

/// clamd's `StreamMaxLength` in these tests.
pub(crate) const STREAM_MAX_LEN: u64 = 2 * 1024 * 1024;

pub(crate) struct TestClamd {
    clamd: LocalClamd,
    _dir: tempfile::TempDir,
}

impl TestClamd {
    /// Starts clamd and waits until it answers PING on both sockets.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let clamd = LocalClamd::start(dir.path(), STREAM_MAX_LEN / (1024 * 1024))
            .unwrap_or_else(|e| panic!("{e} (cargo xtask deps)"));
        Self { clamd, _dir: dir }
    }

    pub(crate) fn client(&self) -> Clamd {
        self.clamd.client()
    }

    pub(crate) fn tcp_client(&self) -> Clamd {
        self.clamd.tcp_client()
    }

    pub(crate) fn kill(&mut self) {
        self.clamd.kill();
    }

    pub(crate) fn logs(&self) -> String {
        self.clamd.logs()
    }
}
