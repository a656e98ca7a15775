//! The SIGSYS handler: a call outside the allow-list traps (`SECCOMP_RET_TRAP`), and this
//! handler writes one line naming it to stderr, then exits the process.
//!
//! Why a trap and not `SECCOMP_RET_KILL_PROCESS`: a killed process says nothing, and on an
//! appliance without auditd the kernel's record of the call goes nowhere; the NOC would see
//! "status=31/SYS" and have to guess. The trap runs no more of the call than a kill would (the
//! kernel skips it either way), and the filter forbids replacing this handler
//! (`rt_sigaction(SIGSYS, …)`), so the process cannot carry on after a forbidden call. The exit
//! is `_exit(159)` (128 + SIGSYS, as a shell reports a death by that signal) rather than a
//! re-raised signal, so no core file holding key material is written.
//!
//! Everything in the handler is async-signal-safe: a stack buffer, `write(2)` and `_exit(2)`,
//! both on the allow-list; the call's name comes from a `const` table.

#![allow(unsafe_code)]

use std::io;

/// The exit status after a forbidden call: 128 + SIGSYS.
pub const EXIT_STATUS: i32 = 128 + libc::SIGSYS;

/// The start of the line the handler writes.
pub const LINE_PREFIX: &str = "sandbox: forbidden system call ";

/// The `_sigsys` member of the kernel's `siginfo_t`: after `si_signo`, `si_errno` and
/// `si_code`, aligned as the union is (`repr(C)` adds the padding on 64-bit targets).
#[repr(C)]
struct SigsysInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    call_addr: *mut libc::c_void,
    syscall: libc::c_int,
    arch: libc::c_uint,
}

/// Installs the handler for SIGSYS. Call before loading a filter that traps.
pub(crate) fn install() -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid value (no handler, empty mask, no flags); every
    // field that matters is set below before it is used.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_sigsys as extern "C" fn(_, _, _) as usize;
    action.sa_flags = libc::SA_SIGINFO;
    // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame.
    unsafe { libc::sigfillset(&mut action.sa_mask) };
    // SAFETY: `action` is initialised and outlives the call; the old action is not wanted.
    let rc = unsafe { libc::sigaction(libc::SIGSYS, &action, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

extern "C" fn on_sigsys(_signal: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let nr = if info.is_null() {
        -1
    } else {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo, and for a seccomp trap it
        // fills the `_sigsys` member that `SigsysInfo` lays out.
        unsafe { (*info.cast::<SigsysInfo>()).syscall }
    };
    let mut line = Line::default();
    line.push(LINE_PREFIX.as_bytes());
    line.push(name(nr).as_bytes());
    line.push(b" (nr ");
    line.push_number(nr);
    line.push(b"); exiting\n");
    // SAFETY: write(2) on fd 2 with a buffer and length from this frame, then _exit(2): both
    // async-signal-safe and on the allow-list. Nothing else runs in the handler.
    unsafe {
        libc::write(2, line.buf.as_ptr().cast(), line.len);
        libc::_exit(EXIT_STATUS);
    }
}

/// The name of system call `nr` on this architecture, or `unknown`.
pub fn name(nr: i32) -> &'static str {
    usize::try_from(nr)
        .ok()
        .and_then(syscalls::Sysno::new)
        .map_or("unknown", |s| s.name())
}

/// A fixed buffer: the handler may not allocate.
struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self {
            buf: [0; 160],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        for b in bytes {
            if self.len < self.buf.len() {
                self.buf[self.len] = *b;
                self.len += 1;
            }
        }
    }

    fn push_number(&mut self, n: i32) {
        if n < 0 {
            self.push(b"-");
        }
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut rest = n.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_call_and_its_number() {
        let mut line = Line::default();
        line.push(LINE_PREFIX.as_bytes());
        line.push(name(libc::SYS_ptrace as i32).as_bytes());
        line.push(b" (nr ");
        line.push_number(libc::SYS_ptrace as i32);
        line.push(b"); exiting\n");
        assert_eq!(
            std::str::from_utf8(&line.buf[..line.len]).expect("ascii"),
            format!(
                "sandbox: forbidden system call ptrace (nr {}); exiting\n",
                libc::SYS_ptrace
            )
        );
        assert_eq!(name(-1), "unknown");
        assert_eq!(name(100_000), "unknown");
        let mut l = Line::default();
        l.push_number(i32::MIN);
        assert_eq!(&l.buf[..l.len], b"-2147483648");
    }
}
