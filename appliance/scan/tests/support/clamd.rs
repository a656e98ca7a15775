//! A real clamd for one test: its own signature database, configuration and socket in a
//! temporary directory, started as a child process and killed by PID on drop.
//!
//! Signature downloads are not reachable from the build machines, and the system database may
//! be absent, so the database holds only signatures generated here for the EICAR test string:
//! an `.hsb` SHA-256 hash signature of the exact file, and an `.ndb` body signature that finds it
//! inside any file. clamd reports them with `.UNOFFICIAL` appended.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scan::Clamd;

/// Name of the hash signature of the exact EICAR file.
pub(crate) const HASH_SIGNATURE: &str = "Legatura.Test.EICAR";
/// Name of the body signature that finds EICAR anywhere in a file.
pub(crate) const BODY_SIGNATURE: &str = "Legatura.Test.EICAR-Body";
/// clamd's `StreamMaxLength` in these tests.
pub(crate) const STREAM_MAX_LEN: u64 = 2 * 1024 * 1024;

/// How long clamd may take to load the tiny database and open its sockets.
const STARTUP: Duration = Duration::from_secs(60);

/// The EICAR anti-virus test string, assembled at run time so that neither this source file nor
/// the test binary holds it in one piece (and no scanner quarantines them).
pub(crate) fn eicar() -> Vec<u8> {
    let halves = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
        "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ];
    halves.concat().into_bytes()
}

pub(crate) struct TestClamd {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
    tcp: SocketAddr,
}

impl TestClamd {
    /// Starts clamd and waits until it answers PING on both sockets.
    pub(crate) fn start() -> Self {
        let binary = find_clamd().unwrap_or_else(|| {
            panic!(
                "clamd not found (looked in PATH, /usr/sbin, /usr/local/sbin): install \
                 clamav-daemon (cargo xtask deps)"
            )
        });
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = dir.path().join("db");
        fs::create_dir(&db).expect("database directory");
        write_signatures(&db);
        let socket = dir.path().join("clamd.sock");
        let tcp = free_loopback_port();
        let conf = dir.path().join("clamd.conf");
        fs::write(&conf, config(dir.path(), &db, &socket, tcp)).expect("clamd.conf");
        let output = fs::File::create(dir.path().join("clamd.out")).expect("clamd.out");
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&conf)
            // clamd would take over sockets that systemd passed to the test runner.
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clamd.out"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut clamd = Self {
            child,
            dir,
            socket,
            tcp,
        };
        clamd.wait_ready();
        clamd
    }

    /// Polls with blocking sockets, so `start` works inside and outside an async runtime.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait().expect("clamd status") {
                panic!("clamd exited during start-up ({status}):\n{}", self.logs());
            }
            let unix = UnixStream::connect(&self.socket).ok().is_some_and(pong);
            let tcp = TcpStream::connect(self.tcp).ok().is_some_and(pong);
            if unix && tcp {
                return;
            }
            if Instant::now() > deadline {
                panic!("clamd not ready after {STARTUP:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A client for the Unix socket.
    pub(crate) fn client(&self) -> Clamd {
        Clamd::unix(&self.socket)
    }

    /// A client for the loopback TCP socket.
    pub(crate) fn tcp_client(&self) -> Clamd {
        Clamd::tcp(self.tcp)
    }

    /// Kills clamd with SIGKILL, as a crash would, leaving its socket file behind.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// clamd's log and output, for failure messages.
    pub(crate) fn logs(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- clamd.log\n{}--- output\n{}",
            read("clamd.log"),
            read("clamd.out")
        )
    }
}

impl Drop for TestClamd {
    fn drop(&mut self) {
        // `Child::kill` signals this child's PID only.
        self.kill();
    }
}

/// Sends `zPING` on a fresh connection; true when clamd answers `PONG`.
fn pong<S: Read + Write>(mut conn: S) -> bool {
    let mut reply = [0u8; 5];
    conn.write_all(b"zPING\0").is_ok() && conn.read_exact(&mut reply).is_ok() && &reply == b"PONG\0"
}

fn find_clamd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("clamd"))
        .find(|candidate| candidate.is_file())
}

fn write_signatures(db: &Path) {
    let eicar = eicar();
    let sha256 = hex(ring::digest::digest(&ring::digest::SHA256, &eicar).as_ref());
    // .hsb: SHA-256:size:name.
    let hsb = format!("{sha256}:{}:{HASH_SIGNATURE}\n", eicar.len());
    fs::write(db.join("legatura-test.hsb"), hsb).expect("hsb");
    // .ndb: name:target type (0 = any file):offset (* = anywhere):hex body.
    let ndb = format!("{BODY_SIGNATURE}:0:*:{}\n", hex(&eicar));
    fs::write(db.join("legatura-test.ndb"), ndb).expect("ndb");
}

fn config(dir: &Path, db: &Path, socket: &Path, tcp: SocketAddr) -> String {
    let mut conf = Vec::new();
    let lines = [
        format!("LocalSocket {}", socket.display()),
        "LocalSocketMode 600".to_owned(),
        format!("TCPSocket {}", tcp.port()),
        format!("TCPAddr {}", tcp.ip()),
        format!("DatabaseDirectory {}", db.display()),
        format!("TemporaryDirectory {}", dir.display()),
        format!("PidFile {}", dir.join("clamd.pid").display()),
        format!("LogFile {}", dir.join("clamd.log").display()),
        "LogSyslog no".to_owned(),
        "LogTime yes".to_owned(),
        "Foreground yes".to_owned(),
        format!("StreamMaxLength {}M", STREAM_MAX_LEN / (1024 * 1024)),
        "MaxThreads 4".to_owned(),
        "SelfCheck 3600".to_owned(),
        "Bytecode no".to_owned(),
    ];
    for line in lines {
        writeln!(conf, "{line}").expect("write to Vec");
    }
    String::from_utf8(conf).expect("ASCII")
}

/// A loopback port that was free a moment ago (clamd binds it right after).
fn free_loopback_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
