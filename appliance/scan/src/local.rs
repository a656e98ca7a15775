//! A private clamd: its own signature database, configuration and sockets in a directory,
//! started as a child process and killed by PID on drop. For tests, and for `legatura up` on a
//! machine with no system clamd.
//!
//! Signature downloads are not reachable from the build machines, so the database holds only
//! signatures generated here for the EICAR test file: an `.hsb` SHA-256 hash signature of the
//! exact file and an `.ndb` body signature that finds it inside any file. clamd reports them
//! with `.UNOFFICIAL` appended. A production hub uses the system clamd and its real database.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Clamd;

/// Name of the hash signature of the exact EICAR file.
pub const HASH_SIGNATURE: &str = "Legatura.Test.EICAR";
/// Name of the body signature that finds EICAR anywhere in a file.
pub const BODY_SIGNATURE: &str = "Legatura.Test.EICAR-Body";

/// How long clamd may take to load the tiny database and open its sockets.
const STARTUP: Duration = Duration::from_secs(60);

/// The EICAR anti-virus test file, assembled at run time so that no source or binary holds it
/// in one piece (and no scanner quarantines them).
pub fn eicar() -> Vec<u8> {
    [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
        "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat()
    .into_bytes()
}

/// Why a private clamd could not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalClamdError {
    #[error("clamd not found (looked in PATH, /usr/sbin, /usr/local/sbin): install clamav-daemon")]
    NotInstalled,
    #[error("cannot prepare {path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("clamd exited during start-up ({status}); see {log}")]
    Exited {
        status: std::process::ExitStatus,
        log: PathBuf,
    },
    #[error("clamd not ready after {STARTUP:?}; see {log}")]
    Timeout { log: PathBuf },
}

/// A running private clamd.
#[derive(Debug)]
pub struct LocalClamd {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
    tcp: SocketAddr,
}

impl LocalClamd {
    /// Starts clamd with its files in `dir` and waits until it answers on both sockets.
    pub fn start(dir: &Path, stream_max_mib: u64) -> Result<Self, LocalClamdError> {
        let binary = find_clamd().ok_or(LocalClamdError::NotInstalled)?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| LocalClamdError::Io { path, source }
        };
        let db = dir.join("db");
        std::fs::create_dir_all(&db).map_err(io(&db))?;
        write_signatures(&db).map_err(io(&db))?;
        let socket = dir.join("clamd.sock");
        let tcp = free_loopback_port().map_err(io(dir))?;
        let conf = dir.join("clamd.conf");
        std::fs::write(&conf, config(dir, &db, &socket, tcp, stream_max_mib)).map_err(io(&conf))?;
        let out_path = dir.join("clamd.out");
        let output = std::fs::File::create(&out_path).map_err(io(&out_path))?;
        let child = Command::new(&binary)
            .arg("-c")
            .arg(&conf)
            // clamd would take over sockets that systemd passed to its parent.
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null())
            .stdout(output.try_clone().map_err(io(&out_path))?)
            .stderr(output)
            .spawn()
            .map_err(io(&binary))?;
        let mut clamd = Self {
            child,
            dir: dir.to_owned(),
            socket,
            tcp,
        };
        clamd.wait_ready()?;
        Ok(clamd)
    }

    /// Polls with blocking sockets, so `start` works inside and outside an async runtime.
    fn wait_ready(&mut self) -> Result<(), LocalClamdError> {
        let deadline = Instant::now() + STARTUP;
        let log = self.dir.join("clamd.out");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(LocalClamdError::Exited { status, log });
            }
            let unix = UnixStream::connect(&self.socket).ok().is_some_and(pong);
            let tcp = TcpStream::connect(self.tcp).ok().is_some_and(pong);
            if unix && tcp {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(LocalClamdError::Timeout { log });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A client for the Unix socket.
    pub fn client(&self) -> Clamd {
        Clamd::unix(&self.socket)
    }

    /// A client for the loopback TCP socket.
    pub fn tcp_client(&self) -> Clamd {
        Clamd::tcp(self.tcp)
    }

    /// The Unix socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Kills clamd with SIGKILL, as a crash would, leaving its socket file behind.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// clamd's log and output, for failure messages.
    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "--- clamd.log\n{}--- output\n{}",
            read("clamd.log"),
            read("clamd.out")
        )
    }
}

impl Drop for LocalClamd {
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

fn write_signatures(db: &Path) -> std::io::Result<()> {
    let eicar = eicar();
    let sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, &eicar).as_ref());
    // .hsb: SHA-256:size:name.
    std::fs::write(
        db.join("legatura-test.hsb"),
        format!("{sha256}:{}:{HASH_SIGNATURE}\n", eicar.len()),
    )?;
    // .ndb: name:target type (0 = any file):offset (* = anywhere):hex body.
    std::fs::write(
        db.join("legatura-test.ndb"),
        format!("{BODY_SIGNATURE}:0:*:{}\n", hex::encode(&eicar)),
    )
}

fn config(dir: &Path, db: &Path, socket: &Path, tcp: SocketAddr, stream_max_mib: u64) -> String {
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
        format!("StreamMaxLength {stream_max_mib}M"),
        "MaxThreads 4".to_owned(),
        "SelfCheck 3600".to_owned(),
        "Bytecode no".to_owned(),
    ];
    lines.iter().fold(String::new(), |mut out, line| {
        let _ = writeln!(out, "{line}");
        out
    })
}

/// A loopback port that was free a moment ago (clamd binds it right after).
fn free_loopback_port() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}
