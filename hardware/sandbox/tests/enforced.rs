#![allow(clippy::unwrap_used, clippy::expect_used)]
// The probe makes the forbidden calls itself, through libc.
#![allow(unsafe_code, clippy::print_stdout, clippy::print_stderr)]

//! The sandbox as the kernel enforces it. This test binary has its own `main`: run plainly, it
//! starts itself again as a probe (`SANDBOX_PROBE=…`) that builds a multi-threaded tokio
//! runtime like a daemon's, applies gatewayd's confinement from the main thread, and then,
//! from a runtime worker and from a thread started afterwards, tries what a compromised daemon
//! would: read `/etc/shadow`, execute `/bin/sh`, make a forbidden call. The parent checks the
//! probe's answers, and every thread's `/proc/<pid>/task/<tid>/status` while it waits.
//!
//! Needs a kernel with landlock (the appliance's and CI's have it); as root it also checks that
//! the bounding set is emptied.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use sandbox::{Profile, Sandbox};

const PROBE: &str = "SANDBOX_PROBE";

fn main() {
    if let Ok(mode) = std::env::var(PROBE) {
        probe(&mode);
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let scenarios: [(&str, fn()); 4] = [
        (
            "daemon_cannot_read_shadow_or_exec_and_every_thread_is_confined",
            confined_everywhere,
        ),
        (
            "landlock_alone_refuses_exec_with_eacces",
            landlock_alone_refuses_exec,
        ),
        (
            "forbidden_call_stops_the_daemon_naming_it",
            forbidden_call_is_named,
        ),
        (
            "names_resolve_only_with_the_resolver_granted",
            names_resolve_with_the_resolver,
        ),
    ];
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    for (name, scenario) in scenarios {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(scenario) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(101);
    }
}

/// A probe started in `mode`, with a read-only and a read-write directory of its own.
struct Probe {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    _dir: tempfile::TempDir,
}

impl Probe {
    fn start(mode: &str) -> Probe {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("ro")).expect("mkdir");
        std::fs::create_dir(dir.path().join("rw")).expect("mkdir");
        std::fs::write(dir.path().join("ro/config"), "kept").expect("write");
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(PROBE, mode)
            .env("SANDBOX_PROBE_DIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the probe");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        Probe {
            child,
            lines,
            _dir: dir,
        }
    }

    /// The next line the probe prints (its answers are `what: result`).
    fn line(&mut self) -> String {
        match self.lines.next() {
            Some(Ok(line)) => line,
            _ => {
                let out = self.child.wait_with_output_ref();
                panic!("the probe stopped early: {out}");
            }
        }
    }

    fn answer(&mut self, what: &str) -> String {
        let line = self.line();
        line.strip_prefix(&format!("{what}: "))
            .unwrap_or_else(|| panic!("expected `{what}: …`, got {line:?}"))
            .to_owned()
    }

    fn go_on(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("tell the probe to go on");
    }
}

trait WaitOutput {
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitOutput for std::process::Child {
    fn wait_with_output_ref(&mut self) -> String {
        let status = self.wait().expect("wait");
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        format!("{status}; stderr: {err}")
    }
}

fn confined_everywhere() {
    let mut p = Probe::start("full");
    let report = p.answer("report");
    assert!(report.contains("landlock ABI"), "{report}");
    assert!(
        report.contains("enforced") && !report.contains("NOT"),
        "{report}"
    );
    assert!(report.contains("seccomp gatewayd allow-list"), "{report}");
    assert_eq!(p.line(), "ready");

    // Every thread the kernel knows, runtime workers and blocking-pool threads alike.
    let pid = p.child.id();
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc")
        .map(|e| e.expect("entry").path())
        .collect();
    assert!(
        tasks.len() >= 5,
        "a daemon-like probe has threads: {}",
        tasks.len()
    );
    let root = nix_is_root();
    for task in &tasks {
        let status = std::fs::read_to_string(task.join("status")).expect("status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{name} in {}", task.display()))
                .to_owned()
        };
        assert_eq!(field("NoNewPrivs"), "1", "{}", task.display());
        assert_eq!(field("Seccomp"), "2", "{}", task.display());
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
            assert_eq!(
                field(set),
                "0000000000000000",
                "{set} of {}",
                task.display()
            );
        }
        if root {
            assert_eq!(field("CapBnd"), "0000000000000000", "{}", task.display());
        }
    }
    p.go_on();

    // Refused by landlock: EACCES, although the probe runs as root (the owner may read it).
    assert_eq!(p.answer("read /etc/shadow"), "EACCES");
    // Refused by seccomp before landlock is asked.
    assert_eq!(p.answer("exec /bin/sh"), "EPERM");
    assert_eq!(p.answer("read granted file"), "ok");
    assert_eq!(p.answer("write in read-only dir"), "EACCES");
    assert_eq!(p.answer("write, rename, remove in read-write dir"), "ok");
    assert_eq!(p.answer("new thread reads /etc/shadow"), "EACCES");
    assert_eq!(p.answer("spawn_blocking"), "ok");
    assert_eq!(p.answer("list /"), "EACCES");
    let out = p.child.wait_with_output_ref();
    assert!(out.starts_with("exit status: 0"), "{out}");
}

fn landlock_alone_refuses_exec() {
    let mut p = Probe::start("landlock");
    let report = p.answer("report");
    assert!(report.contains("no seccomp filter"), "{report}");
    assert_eq!(p.line(), "ready");
    p.go_on();
    assert_eq!(p.answer("read /etc/shadow"), "EACCES");
    // Without the filter, landlock's refusal shows: no file may be executed.
    assert_eq!(p.answer("exec /bin/sh"), "EACCES");
}

/// Each forbidden use, by the name the line must give: a call off the list, and listed calls
/// used outside their conditions.
const FORBIDDEN: [(&str, &str); 5] = [
    ("ptrace", "ptrace"),
    ("ioctl-tiocsti", "ioctl"),
    ("prctl-dumpable", "prctl"),
    ("sigaction-sigsys", "rt_sigaction"),
    ("fork", "clone"),
];

fn forbidden_call_is_named() {
    for (what, call) in FORBIDDEN {
        let mut p = Probe::start(&format!("forbidden:{what}"));
        let _report = p.answer("report");
        assert_eq!(p.line(), "ready");
        p.go_on();
        assert_eq!(p.answer("read /etc/shadow"), "EACCES");
        assert_eq!(p.answer("exec /bin/sh"), "EPERM");
        assert_eq!(p.line(), format!("calling {what}"));
        let status = p.child.wait().expect("wait");
        let mut err = String::new();
        std::io::Read::read_to_string(&mut p.child.stderr.take().expect("stderr"), &mut err)
            .expect("stderr");
        assert_eq!(
            status.code(),
            Some(sandbox::EXIT_STATUS),
            "{what}: exit status 159 (128 + SIGSYS); stderr: {err}"
        );
        let prefix = format!("sandbox: forbidden system call {call} (nr ");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.ends_with("); exiting")),
            "{what}: stderr should name {call}:\n{err}"
        );
        // The process died there: the line after the call never came.
        assert!(p.lines.next().is_none(), "{what} returned");
    }
}

fn names_resolve_with_the_resolver() {
    for (mode, expected) in [("resolver", "ok"), ("no-resolver", "refused")] {
        let mut p = Probe::start(mode);
        let _report = p.answer("report");
        assert_eq!(p.line(), "ready");
        p.go_on();
        assert_eq!(p.answer("read /etc/shadow"), "EACCES", "{mode}");
        assert_eq!(p.answer("exec /bin/sh"), "EPERM", "{mode}");
        assert_eq!(p.answer("resolve localhost"), expected, "{mode}");
        let out = p.child.wait_with_output_ref();
        assert!(out.starts_with("exit status: 0"), "{mode}: {out}");
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

// ---- the probe ----

fn probe(mode: &str) {
    let dir = std::path::PathBuf::from(std::env::var("SANDBOX_PROBE_DIR").expect("dir"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    // Blocking-pool threads, as a daemon's start-up leaves behind.
    runtime.block_on(async {
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                tokio::task::spawn_blocking(|| {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("blocking task");
        }
    });

    let mut builder = Sandbox::builder()
        .read_only([dir.join("ro")])
        .read_write([dir.join("rw")])
        .allow_exec(false);
    if mode != "landlock" {
        builder = builder.syscalls(Profile::Gateway);
    }
    if mode == "resolver" {
        builder = builder.resolver(true);
    }
    let report = builder.apply().expect("apply the sandbox");
    say(&format!("report: {report}"));
    say("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");

    // The checks run on a runtime worker, not on the thread that applied the sandbox.
    runtime.block_on(async move {
        let mode = mode.to_owned();
        tokio::spawn(async move { checks(&mode, &dir).await })
            .await
            .expect("checks");
    });
}

async fn checks(mode: &str, dir: &Path) {
    say(&format!(
        "read /etc/shadow: {}",
        outcome(std::fs::read("/etc/shadow").map(drop))
    ));
    say(&format!("exec /bin/sh: {}", exec_sh()));
    if mode == "landlock" {
        return;
    }
    if mode.ends_with("resolver") {
        // glibc's getaddrinfo on a blocking thread, as tokio's lookup_host does it.
        let resolved = tokio::task::spawn_blocking(|| {
            use std::net::ToSocketAddrs as _;
            match ("localhost", 4433).to_socket_addrs().map(|a| a.count()) {
                Ok(0) => "no address".to_owned(),
                Ok(_) => "ok".to_owned(),
                Err(_) => "refused".to_owned(),
            }
        })
        .await
        .expect("resolver thread");
        say(&format!("resolve localhost: {resolved}"));
        return;
    }
    if let Some(what) = mode.strip_prefix("forbidden:") {
        say(&format!("calling {what}"));
        forbidden(what);
        say(&format!("{what} returned"));
        return;
    }
    say(&format!(
        "read granted file: {}",
        outcome(std::fs::read(dir.join("ro/config")).map(drop))
    ));
    say(&format!(
        "write in read-only dir: {}",
        outcome(std::fs::write(dir.join("ro/new"), "x"))
    ));
    let rw = dir.join("rw");
    let written = std::fs::write(rw.join("a.tmp"), "state")
        .and_then(|()| std::fs::rename(rw.join("a.tmp"), rw.join("a")))
        .and_then(|()| std::fs::remove_file(rw.join("a")));
    say(&format!(
        "write, rename, remove in read-write dir: {}",
        outcome(written)
    ));
    let thread = std::thread::spawn(|| outcome(std::fs::read("/etc/shadow").map(drop)))
        .join()
        .expect("thread");
    say(&format!("new thread reads /etc/shadow: {thread}"));
    let blocking = tokio::task::spawn_blocking(|| "ok")
        .await
        .expect("blocking");
    say(&format!("spawn_blocking: {blocking}"));
    say(&format!(
        "list /: {}",
        outcome(std::fs::read_dir("/").map(drop))
    ));
}

/// Makes the forbidden call `what`.
fn forbidden(what: &str) {
    // SAFETY: each call takes integers or pointers to locals that outlive it; they are here
    // to be refused, and fork's child (if there were one) would only exit.
    unsafe {
        match what {
            "ptrace" => {
                libc::syscall(libc::SYS_ptrace, libc::PTRACE_TRACEME, 0, 0, 0);
            }
            "ioctl-tiocsti" => {
                let c: libc::c_char = 0;
                libc::ioctl(0, libc::TIOCSTI, &c);
            }
            "prctl-dumpable" => {
                libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
            }
            "sigaction-sigsys" => {
                libc::signal(libc::SIGSYS, libc::SIG_IGN);
            }
            "fork" => {
                if libc::fork() == 0 {
                    libc::_exit(0);
                }
            }
            other => panic!("no forbidden call {other}"),
        }
    }
}

fn exec_sh() -> String {
    let path = c"/bin/sh";
    let args = [
        c"sh".as_ptr(),
        c"-c".as_ptr(),
        c"exit 0".as_ptr(),
        std::ptr::null(),
    ];
    // SAFETY: execv(3) with NUL-terminated strings and a null-terminated argument vector that
    // outlive the call; if it succeeded the probe would be replaced, which the test detects.
    unsafe { libc::execv(path.as_ptr(), args.as_ptr()) };
    errno_name(std::io::Error::last_os_error())
}

fn outcome(result: std::io::Result<()>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(e) => errno_name(e),
    }
}

fn errno_name(e: std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::ENOENT) => "ENOENT".into(),
        _ => e.to_string(),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
