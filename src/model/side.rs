//! The two sides of a synchronisation.

/// One side of the synchronisation. Ordered (local first) so per-side maps and sets iterate
/// in a fixed order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Local,
    Remote,
}
