//! Ctrl-C: the first one asks the run to stop after the action in progress (metadata is written
//! and the lock released on the way out, exit 3); a second one stops at once. While the run
//! waits for an answer to a question ([`Prompting`]), the first one stops at once: nothing
//! has been changed then, and the question would otherwise keep waiting.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static PROMPTING: AtomicBool = AtomicBool::new(false);

/// Marks the time spent waiting for an answer at the terminal (until dropped).
pub struct Prompting(());

impl Prompting {
    pub fn start() -> Prompting {
        PROMPTING.store(true, Ordering::Relaxed);
        Prompting(())
    }
}

impl Drop for Prompting {
    fn drop(&mut self) {
        PROMPTING.store(false, Ordering::Relaxed);
    }
}

/// The run was asked to stop.
#[derive(Debug, thiserror::Error)]
#[error("Aborted by user.")]
pub struct Interrupted;

/// True once Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Fails with [`Interrupted`] once Ctrl-C was pressed.
pub fn check() -> Result<(), Interrupted> {
    if interrupted() { Err(Interrupted) } else { Ok(()) }
}

/// Starts listening for Ctrl-C (the binary calls this; library users decide for themselves).
pub fn install() {
    std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(|| {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            if rt.block_on(tokio::signal::ctrl_c()).is_err() {
                return;
            }
            INTERRUPTED.store(true, Ordering::Relaxed);
            if PROMPTING.load(Ordering::Relaxed) {
                eprintln!("\nAborted by user.");
                std::process::exit(3);
            }
            eprintln!("\nStopping after the current action (press Ctrl-C again to stop at once)...");
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                eprintln!("\nAborted by user.");
                std::process::exit(3);
            }
        })
        .ok();
}
