//! One fault at a byte offset of a whole run ([`super::CutProxy::arm`]): bytes are counted per
//! channel over every connection since arming, both directions together, and the chunk that
//! crosses the offset triggers the fault once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Which connections a fault's offset counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Control,
    Data,
}

/// What happens at the offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The connection carrying the byte is reset (RST both ways).
    Reset,
    /// Its control connection is reset (for a data connection; else the same as `Reset`).
    ResetControl,
    /// The connection goes silent: nothing more passes either way (ends still do).
    Stall,
    /// The rest of that chunk is held back this long, then passed on (a slow answer).
    Delay(Duration),
}

/// A fault: `action` once `at` bytes have passed on `channel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub channel: Channel,
    pub at: u64,
    pub action: Action,
}

/// What a pump does with one chunk.
pub(super) enum Verdict {
    Pass,
    /// Pass `keep` bytes, then act.
    Fire {
        keep: usize,
        action: Action,
    },
}

/// The armed fault and the byte counts since arming.
#[derive(Default)]
pub(super) struct Armed {
    fault: Mutex<Option<Fault>>,
    control: AtomicU64,
    data: AtomicU64,
    fired: AtomicUsize,
}

impl Armed {
    pub(super) fn arm(&self, fault: Option<Fault>) {
        let mut slot = self.fault.lock().unwrap();
        self.control.store(0, Ordering::SeqCst);
        self.data.store(0, Ordering::SeqCst);
        *slot = fault;
    }

    /// Bytes passed on each channel since arming (control, data).
    pub(super) fn counts(&self) -> (u64, u64) {
        (self.control.load(Ordering::SeqCst), self.data.load(Ordering::SeqCst))
    }

    pub(super) fn fired(&self) -> usize {
        self.fired.load(Ordering::SeqCst)
    }

    /// Counts a chunk of `len` bytes on `channel`; fires the fault if the chunk crosses it.
    pub(super) fn on_chunk(&self, channel: Channel, len: usize) -> Verdict {
        let mut slot = self.fault.lock().unwrap();
        let counter = match channel {
            Channel::Control => &self.control,
            Channel::Data => &self.data,
        };
        let before = counter.fetch_add(len as u64, Ordering::SeqCst);
        match *slot {
            Some(f) if f.channel == channel && before + len as u64 > f.at => {
                *slot = None;
                self.fired.fetch_add(1, Ordering::SeqCst);
                Verdict::Fire { keep: f.at.saturating_sub(before).min(len as u64) as usize, action: f.action }
            }
            _ => Verdict::Pass,
        }
    }
}
