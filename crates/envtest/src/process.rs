//! Child processes that cannot outlive the test process, and the small helpers around them.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not the process. Test
//! threads end with their test and tokio's blocking threads end when idle, so a control plane
//! forked from one of them could die under a test that still uses it (a later test sharing the
//! runtime, a `restart` from another task). Every child is therefore forked by one spawner
//! thread that lives as long as the process: the children die with the process and only then.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::EnvtestError;

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> Result<&'static Mutex<mpsc::Sender<SpawnRequest>>, EnvtestError> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    if let Some(sender) = SPAWNER.get() {
        return Ok(sender);
    }
    let (tx, rx) = mpsc::channel::<SpawnRequest>();
    std::thread::Builder::new()
        .name("envtest-spawner".into())
        .spawn(move || {
            // Lives until the process ends: the sender is in a static and never dropped.
            while let Ok((mut command, reply)) = rx.recv() {
                let _ = reply.send(command.spawn());
            }
        })
        .map_err(|e| EnvtestError::io("starting the envtest spawner thread", e))?;
    // Another thread may have won the race; its spawner is used and ours idles harmlessly.
    Ok(SPAWNER.get_or_init(|| Mutex::new(tx)))
}

/// Starts `binary args...` with stdout and stderr appended to `log`, killed by the kernel when
/// this process dies.
pub(crate) fn spawn(binary: &Path, args: &[String], log: &Path) -> Result<Child, EnvtestError> {
    let open = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| EnvtestError::io(format!("opening {}", log.display()), e))
    };
    let (stdout, stderr) = (open()?, open()?);
    let mut command = Command::new(binary);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    spawn_tied(command).map_err(|e| EnvtestError::io(format!("starting {}", binary.display()), e))
}

/// Spawns `command` so that the kernel kills it (SIGKILL) when the test process dies, however
/// it dies: for every process a test starts (an operator under test, a simulator), not only
/// the control plane's. Forked by a thread that lives as long as the process (see the module
/// documentation).
pub fn spawn_tied(mut command: Command) -> std::io::Result<Child> {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs between fork and exec and only calls the async-signal-safe
    // prctl(2) and getppid(2); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent died between fork and prctl: the signal will never come.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    let spawner = spawner().map_err(std::io::Error::other)?;
    let sent = spawner
        .lock()
        .map_err(|_| std::io::Error::other("the envtest spawner lock is poisoned"))?
        .send((command, reply_tx));
    if sent.is_err() {
        return Err(std::io::Error::other("the envtest spawner thread is gone"));
    }
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("the envtest spawner thread did not answer"))?
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps the child.
pub(crate) fn terminate(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) on our own, not yet reaped child: the pid cannot have been reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `lines` lines of a log file (at most its last 64 KiB).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A loopback port that was free a moment ago (the caller retries if someone takes it first).
pub(crate) fn free_port() -> Result<u16, EnvtestError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| EnvtestError::io("binding a loopback port", e))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| EnvtestError::io("reading a bound port", e))
}

/// Whether a log says a listener could not bind (a port taken since we chose it).
pub(crate) fn lost_port_race(log_tail: &str) -> bool {
    log_tail.contains("address already in use") || log_tail.contains("bind: ")
}
