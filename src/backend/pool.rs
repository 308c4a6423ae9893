//! Extra connections for parallel work: opened all at once (each costs a few round trips of
//! login), and as many as the server grants. A server that refuses some ("421 too many
//! connections") leaves the work to those it accepted.

use super::Target;

/// Opens up to `extra` more connections to each side, at the same time; returns the pairs
/// that opened on both sides.
pub fn open_pairs(local: &dyn Target, remote: &dyn Target, extra: usize) -> Vec<(Box<dyn Target>, Box<dyn Target>)> {
    let (local, remote) = (local.opener(), remote.opener());
    std::thread::scope(|s| {
        let opening: Vec<_> = (0..extra)
            .map(|_| {
                let (local, remote) = (local.clone(), remote.clone());
                s.spawn(move || Some((local().ok()?, remote().ok()?)))
            })
            .collect();
        opening.into_iter().filter_map(|h| h.join().ok().flatten()).collect()
    })
}
