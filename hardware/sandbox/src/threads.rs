//! Every thread takes the confinement. `PR_SET_NO_NEW_PRIVS`, `landlock_restrict_self(2)` and
//! the capability sets belong to a thread, not to the process, and the daemons are confined
//! after their tokio runtime has started its workers. seccomp has `TSYNC` for this; landlock
//! has it only from ABI 8 and capabilities never. So, as glibc does for `setuid(2)` and
//! libcap's `psx` for capabilities, the calling thread signals every other thread of the
//! process, whose handler confines itself with raw system calls and says so; the caller waits
//! for every answer, looks again for threads started meanwhile (by a thread not yet confined)
//! until none is new, and only then confines itself.
//!
//! The handler is async-signal-safe: raw system calls and atomics, no allocation, no lock, and
//! `errno` saved and restored. A thread that does not answer within [`ANSWER_TIMEOUT`] fails
//! the whole confinement, and the daemon exits rather than running half-confined.

#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a thread may take to answer (one in a long `fsync` answers when it returns).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two 32-bit words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// What each thread does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// The landlock ruleset to restrict the thread with, if landlock is enforced.
    pub ruleset: Option<RawFd>,
    /// Drop the bounding set too (only when the process holds CAP_SETPCAP).
    pub drop_bounding: bool,
    /// The highest capability number the kernel knows.
    pub last_cap: i32,
}

/// What went wrong on one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    NoNewPrivs = 1,
    Landlock = 2,
    Bounding = 3,
    Ambient = 4,
    Capabilities = 5,
}

impl Step {
    pub(crate) fn what(self) -> &'static str {
        match self {
            Self::NoNewPrivs => "set no_new_privs",
            Self::Landlock => "restrict itself with landlock",
            Self::Bounding => "drop its capability bounding set",
            Self::Ambient => "clear its ambient capabilities",
            Self::Capabilities => "drop its capabilities",
        }
    }

    fn from_code(code: u64) -> Self {
        match code {
            1 => Self::NoNewPrivs,
            2 => Self::Landlock,
            3 => Self::Bounding,
            4 => Self::Ambient,
            _ => Self::Capabilities,
        }
    }
}

/// Why the process could not be confined on every thread.
#[derive(Debug, thiserror::Error)]
pub enum ThreadError {
    #[error("cannot {what}")]
    Os {
        what: &'static str,
        source: io::Error,
    },
    #[error("a thread could not {}", step.what())]
    Step { step: Step, source: io::Error },
    #[error("{pending} thread(s) did not answer within {ANSWER_TIMEOUT:?}")]
    Timeout { pending: usize },
    #[error("threads kept appearing while the process was being confined")]
    Unsettled,
}

// The handler's inputs and outputs. One confinement at a time (`RUNNING`).
static RUNNING: Mutex<()> = Mutex::new(());
static RULESET: AtomicI32 = AtomicI32::new(-1);
static DROP_BOUNDING: AtomicBool = AtomicBool::new(false);
static LAST_CAP: AtomicI32 = AtomicI32::new(-1);
static ANSWERS: AtomicUsize = AtomicUsize::new(0);
/// The first failure: `step << 32 | errno`, 0 for none.
static FAILURE: AtomicU64 = AtomicU64::new(0);

/// Confines every thread but the caller, which is confined by the caller afterwards (see
/// `lib.rs`: its landlock status is what the report shows). Returns how many threads were
/// confined.
pub(crate) fn confine_others(plan: Plan) -> Result<usize, ThreadError> {
    let _one_at_a_time = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    RULESET.store(plan.ruleset.unwrap_or(-1), Ordering::SeqCst);
    DROP_BOUNDING.store(plan.drop_bounding, Ordering::SeqCst);
    LAST_CAP.store(plan.last_cap, Ordering::SeqCst);
    FAILURE.store(0, Ordering::SeqCst);

    let signal = libc::SIGRTMIN();
    let previous = install(signal)?;
    let result = broadcast(signal);
    restore(signal, &previous);
    result
}

fn broadcast(signal: libc::c_int) -> Result<usize, ThreadError> {
    // SAFETY: getpid(2) and gettid(2) cannot fail.
    let (pid, me) = unsafe { (libc::getpid(), libc::gettid()) };
    let mut done: BTreeSet<libc::pid_t> = BTreeSet::from([me]);
    // Each round confines the threads the last one did not know; one started meanwhile by a
    // confined thread is confined again, harmlessly (landlock stacks the same rules).
    for _round in 0..8 {
        let fresh: Vec<libc::pid_t> = tasks()?.into_iter().filter(|t| !done.contains(t)).collect();
        if fresh.is_empty() {
            return Ok(done.len() - 1);
        }
        ANSWERS.store(0, Ordering::SeqCst);
        let mut asked = 0;
        for tid in fresh {
            done.insert(tid);
            // SAFETY: tgkill(2) with this process's id and one of its thread ids; a thread that
            // has exited meanwhile gives ESRCH, which is not an error here.
            let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signal) };
            if rc == 0 {
                asked += 1;
            } else {
                let error = io::Error::last_os_error();
                if error.raw_os_error() != Some(libc::ESRCH) {
                    return Err(ThreadError::Os {
                        what: "signal a thread",
                        source: error,
                    });
                }
            }
        }
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        while ANSWERS.load(Ordering::SeqCst) < asked {
            if Instant::now() > deadline {
                return Err(ThreadError::Timeout {
                    pending: asked - ANSWERS.load(Ordering::SeqCst),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let failure = FAILURE.load(Ordering::SeqCst);
        if failure != 0 {
            return Err(ThreadError::Step {
                step: Step::from_code(failure >> 32),
                source: io::Error::from_raw_os_error((failure & 0xffff_ffff) as i32),
            });
        }
    }
    Err(ThreadError::Unsettled)
}

/// The thread ids of this process.
fn tasks() -> Result<Vec<libc::pid_t>, ThreadError> {
    let os = |source| ThreadError::Os {
        what: "list /proc/self/task",
        source,
    };
    let mut tids = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").map_err(os)? {
        let entry = entry.map_err(os)?;
        if let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
            tids.push(tid);
        }
    }
    Ok(tids)
}

fn install(signal: libc::c_int) -> Result<libc::sigaction, ThreadError> {
    // SAFETY: zeroed sigactions are valid values; the handler, mask and flags are set below.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(_) as usize;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid sigset_t owned by this frame.
    unsafe { libc::sigfillset(&mut action.sa_mask) };
    // SAFETY: both pointers are to initialised sigactions owned by this frame.
    if unsafe { libc::sigaction(signal, &action, &mut previous) } != 0 {
        return Err(ThreadError::Os {
            what: "install the confinement signal handler",
            source: io::Error::last_os_error(),
        });
    }
    Ok(previous)
}

fn restore(signal: libc::c_int, previous: &libc::sigaction) {
    // SAFETY: `previous` is the action sigaction(2) returned for this signal. Failure would
    // leave our handler, which does nothing harmful when no confinement runs.
    unsafe { libc::sigaction(signal, previous, std::ptr::null_mut()) };
}

extern "C" fn on_signal(_signal: libc::c_int) {
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's life.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    let plan = Plan {
        ruleset: Some(RULESET.load(Ordering::SeqCst)).filter(|fd| *fd >= 0),
        drop_bounding: DROP_BOUNDING.load(Ordering::SeqCst),
        last_cap: LAST_CAP.load(Ordering::SeqCst),
    };
    if let Err((step, e)) = confine_this_thread(plan) {
        let code = ((step as u64) << 32) | u64::from(e.unsigned_abs());
        let _ = FAILURE.compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
    }
    ANSWERS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: restores the errno read above, so the interrupted code sees its own.
    unsafe { *errno = saved };
}

/// Confines the calling thread: no_new_privs, landlock, then capabilities (bounding set first,
/// while CAP_SETPCAP is still effective). Raw system calls only: it runs in a signal handler.
pub(crate) fn confine_this_thread(plan: Plan) -> Result<(), (Step, i32)> {
    let fail = |step| Err((step, last_errno()));
    // SAFETY: prctl(2) with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return fail(Step::NoNewPrivs);
    }
    if let Some(fd) = plan.ruleset {
        // SAFETY: landlock_restrict_self(2) with a ruleset descriptor that the caller keeps
        // open until every thread has answered, and no flags.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0) } != 0 {
            return fail(Step::Landlock);
        }
    }
    drop_capabilities(plan.drop_bounding, plan.last_cap)
}

/// Drops every capability of the calling thread: the bounding set when asked, the ambient set,
/// then the effective, permitted and inheritable sets.
pub(crate) fn drop_capabilities(drop_bounding: bool, last_cap: i32) -> Result<(), (Step, i32)> {
    if drop_bounding {
        // A thread started by one already confined has an empty bounding set and no
        // CAP_SETPCAP left to drop anything with: only what is still there is dropped.
        for cap in (0..=last_cap).filter(|c| in_bounding_set(*c)) {
            // SAFETY: prctl(2) with integer arguments only.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                return Err((Step::Bounding, last_errno()));
            }
        }
    }
    // A daemon started without capabilities (systemd's `CapabilityBoundingSet=` with a
    // dynamic user) has nothing left to drop, and its unit's system-call filter may rightly
    // refuse capset(2): then nothing is called at all.
    if (0..=last_cap).any(in_ambient_set) {
        // SAFETY: prctl(2) with integer arguments only.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        if rc != 0 {
            return Err((Step::Ambient, last_errno()));
        }
    }
    if capabilities().map_err(|e| (Step::Capabilities, e.raw_os_error().unwrap_or(0)))? == [0; 3] {
        return Ok(());
    }
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset(2) reads the header and two data words, all owned by this frame.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err((Step::Capabilities, last_errno()));
    }
    Ok(())
}

/// The calling thread's effective, permitted and inheritable sets, as 64-bit masks.
pub(crate) fn capabilities() -> io::Result<[u64; 3]> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget(2) writes two data words into a buffer of two owned by this frame.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |f: fn(&CapData) -> u32| u64::from(f(&data[0])) | (u64::from(f(&data[1])) << 32);
    Ok([
        join(|d| d.effective),
        join(|d| d.permitted),
        join(|d| d.inheritable),
    ])
}

/// Whether capability `cap` is in the calling thread's ambient set (never, on a kernel before
/// ambient capabilities, 4.3, where the call fails).
fn in_ambient_set(cap: i32) -> bool {
    // SAFETY: prctl(2) with integer arguments only.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1 }
}

/// Whether capability `cap` is in the calling thread's bounding set.
pub(crate) fn in_bounding_set(cap: i32) -> bool {
    // SAFETY: prctl(2) with integer arguments only.
    unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) == 1 }
}

fn last_errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno, valid for the thread's life.
    unsafe { *libc::__errno_location() }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
