//! Who a target is: its kind and identity, as shown to people and recorded in plans and
//! metadata.

/// What kind of target this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Local,
    Ftp,
    Sftp,
    Memory,
}

/// Identity of a target, as shown to people and recorded in plans and metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    pub kind: TargetKind,
    /// The location as given, with any password removed.
    pub url: String,
    /// pyftpsync's target id: the key of this target's records in the peer's metadata.
    pub id: String,
    /// pyftpsync's display name (used in the header line).
    pub display: String,
    /// True when the real modification time of uploaded files is remembered in the `mtimes`
    /// map of the folder's metadata (pyftpsync does this for FTP targets).
    pub records_mtimes: bool,
    /// The `SHA256:` fingerprint of the host key the server presented (SFTP): recorded in the
    /// plan, and apply refuses a server presenting another.
    pub host_key: Option<String>,
}
