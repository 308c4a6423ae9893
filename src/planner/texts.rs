//! The human-readable `reason_text` of plan entries.

use crate::plan::document::Reason;

/// Explains an entry: `change` is what happened to the pair, `reason` why the action was
/// chosen (they differ for skips), `note` an extra remark.
pub fn reason_text(reason: Reason, change: Reason, note: Option<&str>) -> String {
    let mut text = describe(change).to_string();
    if reason != change {
        text = format!("{text}; {}", describe(reason));
    }
    if let Some(n) = note {
        text = format!("{text}; {n}");
    }
    text
}

fn describe(reason: Reason) -> &'static str {
    match reason {
        Reason::Unchanged => "unchanged since the last sync",
        Reason::Identical => "same size and modification time on both sides",
        Reason::NewLocal => "new on the local side",
        Reason::NewRemote => "new on the remote side",
        Reason::ModifiedLocal => "modified on the local side since the last sync",
        Reason::ModifiedRemote => "modified on the remote side since the last sync",
        Reason::NewerLocal => "no sync record; the local file is newer",
        Reason::NewerRemote => "no sync record; the remote file is newer",
        Reason::OnlyLocal => "exists only on the local side",
        Reason::OnlyRemote => "exists only on the remote side",
        Reason::DeletedLocal => "deleted on the local side since the last sync",
        Reason::DeletedRemote => "deleted on the remote side since the last sync",
        Reason::Forced => "--force: the source side wins",
        Reason::Restore => "--force: the source version is restored",
        Reason::UploadOnly => "upload never changes the local side",
        Reason::DownloadOnly => "download never changes the remote side",
        Reason::NeedsDelete => "not deleted without --delete",
        Reason::Unmatched => "excluded by --match/--exclude",
        Reason::DeleteUnmatched => "excluded by --match/--exclude; removed by --delete-unmatched",
        Reason::BothModified => "modified on both sides since the last sync",
        Reason::ModifiedDeleted => "modified on the local side, deleted on the remote side",
        Reason::DeletedModified => "deleted on the local side, modified on the remote side",
        Reason::BothNew => "new on both sides with different content",
        Reason::SameTimeDifferentSize => "no sync record; same modification time but different sizes",
        Reason::FolderChanged => "folder deleted on one side but changed on the other",
        Reason::KindClash => "a file on one side, a folder on the other",
        Reason::InFolder => "inside a folder that is copied or deleted as a whole",
        Reason::Stale => "gone on both sides; its sync record is removed",
        Reason::Unusable => {
            "listed on one side in a form that is not synchronised (see the folder's skipped entries); left alone"
        }
        Reason::Unreadable => "a folder in it could not be read (--skip-unreadable); left alone on both sides",
    }
}
