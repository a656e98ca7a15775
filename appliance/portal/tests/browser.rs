//! The portal end to end in real headless Chromium: a citizen picks English, chooses "lost or
//! stolen passport", leaves a required field empty and is told so next to it, corrects it,
//! uploads a PDF police report, gets a receipt and tracks the request with it. And a citizen
//! whose live chat nobody picks up sees the case number at once and, after the wait, that the
//! answer comes by e-mail (`tests/browser/chat_wait.mjs`).
//!
//! The browser side is `tests/browser/e2e.mjs`, Playwright (`playwright-core`, pinned in
//! `tests/browser/package-lock.json`) driving Debian's `/usr/bin/chromium`; this side starts the
//! portal in-process, runs the script with `node`, and checks its answer against the store.
//! Needs `chromium`, `node` and the script's `node_modules`: `cargo xtask deps` installs them.
//! Screenshots go to the test's temporary directory, kept (and named on stderr) when the test
//! fails or `PORTAL_E2E_KEEP=1` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test
#![allow(clippy::print_stderr)] // where the screenshots are, for whoever reads the test log

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(dead_code)] // each test crate uses a part of the shared set-up
#[path = "support/site.rs"]
mod site;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The whole visit, Chromium's start included; past this the script and its browser are killed.
const NODE_TIMEOUT: Duration = Duration::from_secs(90);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// A small but complete PDF: one A4 page with a line of text, and a correct xref table.
fn police_report_pdf() -> Vec<u8> {
    let text = b"BT /F1 14 Tf 72 760 Td (Police report: lost passport, Lyon) Tj ET";
    let objects: [Vec<u8>; 5] = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
          /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_vec(),
        [
            format!("<< /Length {} >>\nstream\n", text.len()).as_bytes(),
            text,
            b"\nendstream",
        ]
        .concat(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Fails with what to run when the browser or the script's packages are missing.
fn require_tools() {
    let hint = "run `cargo xtask deps` (it installs Debian's chromium and runs `npm ci` in \
                appliance/portal/tests/browser)";
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: {hint}"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "{}/node_modules is missing: {hint}",
        browser_dir().display()
    );
    assert!(
        Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "`node` is not on PATH: install Node.js 20 or later, then {hint}"
    );
}

/// The processes whose command line names `profile`: Chromium and its helpers for this run.
fn processes_using(profile: &Path) -> Vec<i32> {
    let needle = profile.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

/// Kills `node` and every Chromium process of this run, by PID (and Chromium's own process
/// group, which Playwright gives it), however the test ends.
struct Browser {
    node: Child,
    profile: PathBuf,
}

impl Browser {
    fn kill_chromium(&self) -> usize {
        use nix::sys::signal::{Signal, kill, killpg};
        use nix::unistd::{Pid, getpgid, getpgrp};
        let pids = processes_using(&self.profile);
        for &pid in &pids {
            let pid = Pid::from_raw(pid);
            // Chromium's main process leads its own group; never signal the test's group.
            if getpgid(Some(pid)).is_ok_and(|group| group == pid && group != getpgrp()) {
                let _ = killpg(pid, Signal::SIGKILL);
            }
            let _ = kill(pid, Signal::SIGKILL);
        }
        pids.len()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.node.kill();
        let _ = self.node.wait();
        self.kill_chromium();
    }
}

/// Runs the script to its end, or kills it and its browser after [`NODE_TIMEOUT`]. Returns
/// (succeeded, stdout, stderr).
fn run_script(work: &Path, script: &str, portal_url: &str, pdf: &Path) -> (bool, String, String) {
    let profile = work.join("chromium-profile");
    let (out, err) = (work.join("node.out"), work.join("node.err"));
    let node = Command::new("node")
        .arg(browser_dir().join(script))
        .current_dir(browser_dir())
        .env("PORTAL_URL", portal_url)
        .env("PDF_PATH", pdf)
        .env("OUT_DIR", work)
        .env("PROFILE_DIR", &profile)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("start node");
    let mut browser = Browser { node, profile };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = browser.node.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > NODE_TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.is_none() {
        let _ = browser.node.kill();
    } else {
        // Playwright closes Chromium as the script ends; give it a moment, then make sure.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !processes_using(&browser.profile).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let leftover = browser.kill_chromium();
    drop(browser);
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    let mut stderr = std::fs::read_to_string(&err).unwrap_or_default();
    if leftover > 0 {
        stderr.push_str(&format!(
            "\n(test: killed {leftover} Chromium processes left running)\n"
        ));
    }
    match status {
        Some(status) => (status.success(), stdout, stderr),
        None => {
            stderr.push_str(&format!(
                "\n(test: node killed after {}s)\n",
                NODE_TIMEOUT.as_secs()
            ));
            (false, stdout, stderr)
        }
    }
}

fn is_case_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 16
        && s.starts_with("CSC-")
        && b[8] == b'-'
        && b[4..8].iter().all(u8::is_ascii_digit)
        && b[9..].iter().all(u8::is_ascii_digit)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_citizen_reports_a_lost_passport_in_chromium_and_tracks_it() {
    require_tools();
    let s = site::site().await;
    let work = tempfile::Builder::new()
        .prefix("portal-e2e-")
        .tempdir()
        .unwrap();
    let pdf = police_report_pdf();
    let pdf_path = work.path().join("police-report.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();

    let url = format!("http://{}", s.addr);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let (work, pdf_path) = (work.path().to_owned(), pdf_path.clone());
        move || run_script(&work, "e2e.mjs", &url, &pdf_path)
    })
    .await
    .unwrap();
    // From here on a failed assertion keeps the directory, screenshots included.
    let keep = std::env::var_os("PORTAL_E2E_KEEP").is_some();
    let work = work.keep();
    let _kept = KeepOnFailure {
        dir: work.clone(),
        keep,
    };
    eprintln!("--- the browser script's log\n{stderr}");
    assert!(
        ok,
        "the browser script failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from the script\n{stdout}\n{stderr}"));
    let answer: serde_json::Value = serde_json::from_str(line).unwrap();
    let text = |key: &str| {
        answer[key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing in {line}"))
            .to_owned()
    };
    let (case_no, code, status) = (text("case_no"), text("tracking_code"), text("status"));

    assert!(is_case_number(&case_no), "case number {case_no:?}");
    assert_eq!(status, "Received, waiting to be assigned");
    assert_eq!(
        answer["error_shown"],
        serde_json::Value::Bool(true),
        "the empty surname was not flagged next to its field\n{stderr}"
    );

    // The case is in the store, the tracking code opens it, and it holds exactly the PDF sent.
    let no: casestore::CaseNumber = case_no.parse().unwrap();
    let id = s
        .store
        .case_id(no)
        .unwrap()
        .expect("the case is in the store");
    assert_eq!(s.store.verify_tracking(no, &code).unwrap(), Some(id));
    let attachments = s.store.attachments(id).unwrap();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &pdf).as_ref());
    assert_eq!(attachments[0].sha256.to_hex(), sha);
    assert_eq!(attachments[0].size, pdf.len() as u64);
    assert_eq!(
        std::fs::read(s.files.path(&attachments[0].sha256)).unwrap(),
        pdf
    );

    let shot = std::fs::read(work.join("receipt.png")).expect("receipt screenshot");
    assert!(
        shot.starts_with(b"\x89PNG\r\n\x1a\n"),
        "receipt.png is a PNG"
    );
}

/// Removes the test's directory when the test passes, unless asked to keep it; names it on
/// stderr whenever it stays.
struct KeepOnFailure {
    dir: PathBuf,
    keep: bool,
}

impl Drop for KeepOnFailure {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("browser test files kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_answers_a_chat_in_chromium_and_the_citizen_is_told_mail_follows() {
    require_tools();
    let s = site::site_with(Some(chat::Settings {
        no_agent_wait: Duration::from_secs(2),
        ..chat::Settings::default()
    }))
    .await;
    let work = tempfile::Builder::new()
        .prefix("portal-chat-")
        .tempdir()
        .unwrap();
    let url = format!("http://{}", s.addr);
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let work = work.path().to_owned();
        move || run_script(&work, "chat_wait.mjs", &url, Path::new("-"))
    })
    .await
    .unwrap();
    let keep = std::env::var_os("PORTAL_E2E_KEEP").is_some();
    let work = work.keep();
    let _kept = KeepOnFailure {
        dir: work.clone(),
        keep,
    };
    eprintln!("--- the browser script's log\n{stderr}");
    assert!(
        ok,
        "the browser script failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from the script\n{stdout}\n{stderr}"));
    let answer: serde_json::Value = serde_json::from_str(line).unwrap();
    let case_no = answer["case_no"].as_str().unwrap();
    let (first, notice) = (
        answer["first"].as_str().unwrap(),
        answer["notice"].as_str().unwrap(),
    );
    assert!(is_case_number(case_no), "case number {case_no:?}");
    assert!(
        first.contains(case_no),
        "the case number is shown at once: {first:?}"
    );
    assert!(
        notice.contains("ana.popescu@example.org"),
        "the window names the address the answer goes to: {notice:?}"
    );

    let id = s
        .store
        .case_id(case_no.parse().unwrap())
        .unwrap()
        .expect("the chat's case");
    let case = s.store.case(id).unwrap().unwrap();
    assert_eq!(case.channel, casestore::Channel::Chat);
    let contacts = s.store.mail_contacts(id).unwrap();
    assert_eq!(contacts[0].address, "ana.popescu@example.org");
    let notes = s
        .store
        .messages(id, Some(casestore::Visibility::Internal))
        .unwrap();
    assert!(
        notes.iter().any(|n| n
            .body
            .as_str()
            .contains("by e-mail to ana.popescu@example.org")),
        "the agents are told the chat goes on by e-mail: {notes:?}"
    );
}
