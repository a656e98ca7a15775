//! The appliance image under qemu: [`appliance_image`] builds it (or reuses the last build of
//! the same inputs) with `cargo xtask image`, and [`Vm`] boots a disk under OVMF with boot
//! credentials as SMBIOS strings, the serial console in a file, and qemu's user network inside
//! a namespace of the test, where the guest reaches that namespace's loopback as `10.0.2.2`.
//! The guest's LAN status page (port 8080) is forwarded to [`STATUS_PAGE`] on that namespace's
//! loopback, where [`Vm::status_page`] reads it as a browser on the embassy LAN would.
//!
//! The emulator is TCG unless `LEGATURA_QEMU_ACCEL=kvm` says otherwise: a `/dev/kvm` that opens
//! is no proof that it runs guests (nested, paravirtual KVM does not).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Where the guest's status page (`legatura-lan-status` on port 8080) is forwarded to, on the
/// loopback of the namespace qemu runs in: a port nothing else in a test's namespace uses.
pub const STATUS_PAGE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 18080);
/// The guest's port for the page.
const STATUS_PAGE_GUEST_PORT: u16 = 8080;
/// Under TCG the guest is slow, and qemu accepts a forwarded connection before the guest does.
const STATUS_PAGE_TIMEOUT: Duration = Duration::from_secs(15);

/// The id of the guest's one network card and its user-mode network, for `set_link`.
const LINK: &str = "lan";

/// One emulated machine at a time: two TCG guests on a 2-core machine would each take twice as
/// long, and the build of the image must not run twice at once either.
static MACHINE: Mutex<()> = Mutex::new(());

/// Holds the machine lock for as long as a test boots guests.
pub fn machine_lock() -> MutexGuard<'static, ()> {
    MACHINE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The workspace root.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/image/gateway/disk.raw`: [`image`] of the embassy gateway.
pub fn appliance_image() -> Result<PathBuf> {
    image("gateway")
}

/// `target/image/<role>/disk.raw`, built by `cargo xtask image` unless its inputs are
/// unchanged since the last build. Needs root and the Debian archive for a build.
pub fn image(role: &str) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["xtask", "image", "--role", role])
        .current_dir(workspace())
        .status()
        .context("running `cargo xtask image`")?;
    if !status.success() {
        bail!("`cargo xtask image --role {role}` failed ({status}); its output is above");
    }
    let disk = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), |d| workspace().join(d))
        .join("image")
        .join(role)
        .join("disk.raw");
    if !disk.is_file() {
        bail!("`cargo xtask image` left no {}", disk.display());
    }
    Ok(disk)
}

/// The first line of `console` that contains `text`, or `""` when none does.
pub fn line_with<'a>(console: &'a str, text: &str) -> &'a str {
    console
        .lines()
        .find(|l| l.contains(text))
        .unwrap_or_default()
}

/// A port of the guest that qemu's user network forwards from the loopback of the namespace
/// qemu runs in.
#[derive(Debug, Clone, Copy)]
pub struct Forward {
    pub udp: bool,
    pub host: SocketAddr,
    pub guest: u16,
}

impl Forward {
    pub fn tcp(host: SocketAddr, guest: u16) -> Forward {
        Forward {
            udp: false,
            host,
            guest,
        }
    }

    pub fn udp(host: SocketAddr, guest: u16) -> Forward {
        Forward {
            udp: true,
            host,
            guest,
        }
    }

    /// qemu's `hostfwd=` rule.
    fn rule(&self) -> String {
        format!(
            "hostfwd={}:{}:{}-:{}",
            if self.udp { "udp" } else { "tcp" },
            self.host.ip(),
            self.host.port(),
            self.guest
        )
    }
}

/// A boot credential: a systemd credential handed to the guest as an SMBIOS type 11 string.
#[derive(Debug, Clone)]
pub struct Credential {
    pub name: String,
    pub value: String,
    /// `value` is base64 (`io.systemd.credential.binary:`), for values with line breaks.
    pub binary: bool,
}

impl Credential {
    pub fn new(name: &str, value: impl Into<String>) -> Credential {
        Credential {
            name: name.to_owned(),
            value: value.into(),
            binary: false,
        }
    }

    /// A credential whose `base64` value systemd decodes.
    pub fn binary(name: &str, base64: impl Into<String>) -> Credential {
        Credential {
            binary: true,
            ..Credential::new(name, base64)
        }
    }
}

/// A running qemu; killed by PID when dropped.
#[derive(Debug)]
pub struct Vm {
    child: Child,
    /// The namespace qemu runs in.
    ns: String,
    serial: PathBuf,
    /// qemu's human monitor, a Unix socket: [`Vm::set_link`] speaks to it.
    monitor: PathBuf,
    started: Instant,
    /// Whether the guest runs under KVM (else TCG).
    pub kvm: bool,
}

impl Vm {
    /// Boots `disk` (never written: qemu keeps the guest's writes in a temporary overlay) in
    /// namespace `ns`, with `credentials`, the serial console to `<dir>/<label>.serial`.
    pub fn boot(
        ns: &str,
        disk: &Path,
        dir: &Path,
        label: &str,
        credentials: &[Credential],
    ) -> Result<Vm> {
        Vm::boot_forwarding(ns, disk, dir, label, credentials, &[])
    }

    /// [`Vm::boot`], with `forwards` besides the status page's.
    pub fn boot_forwarding(
        ns: &str,
        disk: &Path,
        dir: &Path,
        label: &str,
        credentials: &[Credential],
        forwards: &[Forward],
    ) -> Result<Vm> {
        Vm::start(ns, disk, dir, label, credentials, forwards, true)
    }

    /// [`Vm::boot`], but the guest writes to `disk` itself, as a real box to its own disk: a
    /// later boot of `disk` finds what this one left.
    pub fn boot_persistent(
        ns: &str,
        disk: &Path,
        dir: &Path,
        label: &str,
        credentials: &[Credential],
    ) -> Result<Vm> {
        Vm::start(ns, disk, dir, label, credentials, &[], false)
    }

    fn start(
        ns: &str,
        disk: &Path,
        dir: &Path,
        label: &str,
        credentials: &[Credential],
        forwards: &[Forward],
        snapshot: bool,
    ) -> Result<Vm> {
        let kvm = std::env::var("LEGATURA_QEMU_ACCEL").is_ok_and(|a| a == "kvm");
        let vars = dir.join(format!("{label}.OVMF_VARS.fd"));
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
            .context("OVMF firmware missing: `cargo xtask deps` installs ovmf")?;
        let serial = dir.join(format!("{label}.serial"));
        let monitor = dir.join(format!("{label}.monitor"));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "qemu-system-x86_64"])
            .arg("-machine")
            .arg(if kvm {
                "q35,accel=kvm"
            } else {
                "q35,accel=tcg"
            })
            .args(["-cpu", "max", "-smp", "2", "-m", "1024"])
            .args(["-display", "none", "-no-reboot", "-nodefaults"])
            .arg("-drive")
            .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()))
            .arg("-drive")
            .arg(format!(
                "if=virtio,format=raw,snapshot={},file={}",
                if snapshot { "on" } else { "off" },
                disk.display()
            ))
            .arg("-nic")
            .arg(
                std::iter::once(format!("user,id={LINK},model=virtio-net-pci"))
                    .chain(
                        std::iter::once(Forward::tcp(STATUS_PAGE, STATUS_PAGE_GUEST_PORT))
                            .chain(forwards.iter().copied())
                            .map(|f| f.rule()),
                    )
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()));
        for (i, credential) in credentials.iter().enumerate() {
            // A file holds the string, so PEM newlines and commas need no escaping.
            let file = dir.join(format!("{label}.cred{i}"));
            std::fs::write(
                &file,
                format!(
                    "io.systemd.credential{}:{}={}",
                    if credential.binary { ".binary" } else { "" },
                    credential.name,
                    credential.value
                ),
            )?;
            cmd.arg("-smbios")
                .arg(format!("type=11,path={}", file.display()));
        }
        let stderr = std::fs::File::create(dir.join(format!("{label}.qemu.stderr")))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("starting qemu-system-x86_64 (`cargo xtask deps` installs it)")?;
        Ok(Vm {
            child,
            ns: ns.to_owned(),
            serial,
            monitor,
            started: Instant::now(),
            kvm,
        })
    }

    /// Plugs (`true`) or unplugs the guest's LAN cable: the guest's card loses or regains its
    /// carrier, as with a real cable.
    pub fn set_link(&self, plugged: bool) -> Result<()> {
        let said = self.monitor(&format!(
            "set_link {LINK} {}",
            if plugged { "on" } else { "off" }
        ))?;
        if said.contains("not found") || said.contains("rror") {
            bail!("qemu refused set_link: {said}");
        }
        Ok(())
    }

    /// Presses the power button (ACPI) and waits up to `timeout` for the guest to shut down
    /// cleanly and qemu to exit, as a person powering a box off would.
    pub fn power_off(&mut self, timeout: Duration) -> Result<()> {
        self.monitor("system_powerdown")?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        bail!(
            "the guest did not power off within {timeout:?}; console:\n{}",
            self.tail(30)
        )
    }

    /// Sends one command to qemu's human monitor and returns what it answered, once it has
    /// carried it out.
    fn monitor(&self, command: &str) -> Result<String> {
        use std::io::{Read, Write};
        use std::os::unix::net::UnixStream;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut stream = loop {
            match UnixStream::connect(&self.monitor) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() > deadline => {
                    bail!("qemu's monitor {}: {e}", self.monitor.display())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        // The banner's prompt, then the prompt after the command: it has been carried out.
        let mut said = String::new();
        let mut buf = [0u8; 512];
        while said.matches("(qemu)").count() < 2 {
            let n = stream
                .read(&mut buf)
                .with_context(|| format!("reading qemu's monitor after {command}"))?;
            if n == 0 {
                bail!("qemu's monitor closed after {command}: {said}");
            }
            said.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        Ok(said)
    }

    /// Time since qemu started (power-on).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The serial console so far, escape sequences and carriage returns removed.
    pub fn console(&self) -> String {
        let raw = std::fs::read(&self.serial).unwrap_or_default();
        let text = String::from_utf8_lossy(&raw);
        let mut clean = String::with_capacity(text.len());
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\u{1b}' => {
                    // CSI: ESC [ parameters final-byte
                    if chars.peek() == Some(&'[') {
                        chars.next();
                        for f in chars.by_ref() {
                            if f.is_ascii_alphabetic() {
                                break;
                            }
                        }
                    }
                }
                '\r' => {}
                c => clean.push(c),
            }
        }
        clean
    }

    /// Fails if qemu has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("qemu exited ({status}); console:\n{}", self.tail(40));
        }
        Ok(())
    }

    /// Waits until `check` holds on the console, qemu exits, or `timeout` passes.
    pub fn wait_console(
        &mut self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&str) -> bool,
    ) -> Result<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if check(&self.console()) {
                return Ok(self.uptime());
            }
            self.check_running()?;
            if Instant::now() >= deadline {
                bail!(
                    "no {what} on the console within {timeout:?}; its end:\n{}",
                    self.tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `GET path` on the appliance's LAN status page (through qemu's forward): the status code
    /// and the body.
    pub fn status_page(&self, path: &str) -> Result<(u16, String)> {
        crate::probe::http_get_within(&self.ns, STATUS_PAGE, path, STATUS_PAGE_TIMEOUT)
    }

    /// Reads the status page's `/status.json` until `check` holds on it, qemu exits, or
    /// `timeout` passes; the document that held.
    pub fn wait_status_page(
        &mut self,
        timeout: Duration,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.status_page("/status.json") {
                Ok((200, body)) => match serde_json::from_str::<serde_json::Value>(&body) {
                    Ok(json) if check(&json) => return Ok(json),
                    Ok(json) => json.to_string(),
                    Err(error) => format!("not JSON ({error}): {body}"),
                },
                Ok((code, body)) => format!("{code} {body}"),
                Err(error) => format!("{error:#}"),
            };
            self.check_running()?;
            if Instant::now() >= deadline {
                bail!("the status page never showed {what} within {timeout:?}; last: {last}");
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// The last `n` lines of the console.
    pub fn tail(&self, n: usize) -> String {
        let text = self.console();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // `ip netns exec` execs qemu, so the child's PID is qemu's.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
