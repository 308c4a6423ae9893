//! How apply records what it did, and with how many connections.

use std::sync::Arc;

use crate::meta::WriteStyle;
use crate::model::Clock;

/// How apply records what it did.
pub struct ApplySettings {
    pub clock: Arc<dyn Clock>,
    pub meta_style: WriteStyle,
    /// Take the remote lock even when another run holds it.
    pub break_lock: bool,
    /// Connections per side working at the same time (at least 1).
    pub workers: usize,
    /// Stage every change under temporary names and commit them in one burst (the default);
    /// `false` streams: each entry is changed in place as soon as it is transferred
    /// (`--no-stage`).
    pub stage: bool,
}
