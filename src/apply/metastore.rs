//! The metadata files apply updates, held in memory per side and folder and written back as
//! soon as the last action touching a folder is done — so an interrupted apply leaves
//! metadata that claims only what really happened.
//!
//! The records of the last sync (`peer_sync`) live in the local folders, as in pyftpsync. A
//! remote that keeps its own modification times (another local folder) also gets a copy of
//! them, under the local target's id: when the user deletes a local folder, its records go
//! with it, and only that copy can still prove the remote files unchanged (a server that
//! cannot set times has its `mtimes` records for that).

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::backend::{Target, with_write_attempts};
use crate::meta::{DirMeta, META_FILE, WriteStyle};
use crate::model::relpath::RelPath;
use crate::model::side::Side;
use crate::plan::layout::Layout;
use crate::planner::snapshot::{MetaFile, SideDir};

/// One folder's metadata document.
#[derive(Debug, Default)]
pub struct MetaDoc {
    pub meta: DirMeta,
    /// The file existed when apply started (an emptied file is then removed).
    pub was_read: bool,
    pub dirty: bool,
    /// Actions still to come that change this document.
    pub pending: usize,
    /// The folder is being deleted: never write into it again.
    pub gone: bool,
    /// A remote document whose copy of the local records was brought up to date in this run.
    pub copied: bool,
}

impl MetaDoc {
    /// The document as found: unreadable files and (with `--migrate`) other versions start
    /// empty and are rewritten or removed.
    pub fn from_found(meta: &MetaFile) -> MetaDoc {
        match meta {
            MetaFile::Absent | MetaFile::Unread => MetaDoc::default(),
            MetaFile::Valid { meta, .. } => MetaDoc { meta: meta.clone(), was_read: true, ..MetaDoc::default() },
            MetaFile::Unreadable { .. } | MetaFile::Incompatible { .. } => {
                MetaDoc { was_read: true, dirty: true, ..MetaDoc::default() }
            }
        }
    }
}

/// All documents apply touches.
pub struct MetaStore {
    pub docs: BTreeMap<(Side, RelPath), MetaDoc>,
    pub style: WriteStyle,
    /// Messages to show (removed files).
    pub messages: Vec<String>,
    /// The local target's id, when the remote keeps a copy of the local records.
    copy_on_remote: Option<String>,
}

impl MetaStore {
    pub fn new(style: WriteStyle) -> Self {
        MetaStore { docs: BTreeMap::new(), style, messages: Vec::new(), copy_on_remote: None }
    }

    /// Keeps a copy of every changed local record in the remote folder's metadata, under
    /// `local_id` (see the module doc).
    pub fn with_copy_on_remote(mut self, local_id: &str) -> Self {
        self.copy_on_remote = Some(local_id.to_string());
        self
    }

    /// Registers the metadata found by the check of a folder.
    pub fn load(&mut self, side: Side, folder: RelPath, found: &SideDir) {
        self.docs.insert((side, folder), MetaDoc::from_found(&found.meta));
    }

    /// The document of a folder (a fresh one for folders apply creates).
    pub fn doc(&mut self, side: Side, folder: &RelPath) -> &mut MetaDoc {
        self.docs.entry((side, folder.clone())).or_default()
    }

    /// Records a synchronised entry in a local folder's `peer_sync`.
    #[allow(clippy::too_many_arguments)]
    pub fn set_sync(&mut self, folder: &RelPath, peer: &str, name: &str, m: Option<f64>, s: Option<u64>, now: f64) {
        let style = self.style.clone();
        let doc = self.doc(Side::Local, folder);
        doc.meta.set_sync(peer, name, m, s, now, &style);
        doc.dirty = true;
        self.copy_to_remote(folder, peer, name);
    }

    /// Forgets an entry of a local folder's `peer_sync`.
    pub fn remove_sync(&mut self, folder: &RelPath, peer: &str, name: &str) {
        let doc = self.doc(Side::Local, folder);
        doc.dirty |= doc.meta.remove_sync(peer, name);
        self.copy_to_remote(folder, peer, name);
    }

    /// Brings the remote copy of a local folder's records up to date after `name` changed:
    /// the first time in a run the whole set (it may be missing or stale: written by an older
    /// version, or left by pyftpsync, which does not keep it), then record by record.
    fn copy_to_remote(&mut self, folder: &RelPath, peer: &str, name: &str) {
        let Some(local_id) = self.copy_on_remote.clone() else { return };
        let local = self.docs.get(&(Side::Local, folder.clone())).and_then(|d| d.meta.peer_sync.get(peer));
        let copied = self.docs.get(&(Side::Remote, folder.clone())).is_some_and(|d| d.copied);
        let whole = if copied { None } else { Some(local.cloned()) };
        let one = local.map(|p| (p.records.get(name).cloned(), p.last_sync, p.extra.clone()));
        let doc = self.doc(Side::Remote, folder);
        doc.copied = true;
        let before = doc.meta.peer_sync.get(&local_id).cloned();
        match (whole, one) {
            (Some(Some(all)), _) => {
                doc.meta.peer_sync.insert(local_id.clone(), all);
            }
            (Some(None), _) | (None, None) => {
                doc.meta.peer_sync.remove(&local_id);
            }
            (None, Some((record, last_sync, extra))) => {
                let copy = doc.meta.peer_sync.entry(local_id.clone()).or_default();
                match record {
                    Some(r) => copy.records.insert(name.to_string(), r),
                    None => copy.records.remove(name),
                };
                (copy.last_sync, copy.extra) = (last_sync, extra);
            }
        }
        doc.dirty |= doc.meta.peer_sync.get(&local_id) != before.as_ref();
    }

    /// Records the real modification time of a file stored on a side that keeps `mtimes`.
    pub fn set_mtime(&mut self, side: Side, folder: &RelPath, name: &str, m: f64, s: u64, now: f64) {
        let style = self.style.clone();
        let doc = self.doc(side, folder);
        doc.meta.set_mtime(name, m, s, now, &style);
        doc.dirty = true;
    }

    /// Forgets an `mtimes` record.
    pub fn remove_mtime(&mut self, side: Side, folder: &RelPath, name: &str) {
        let doc = self.doc(side, folder);
        doc.dirty |= doc.meta.mtimes.remove(name).is_some();
    }

    /// Notes that one more action will change this document.
    pub fn expect(&mut self, side: Side, folder: &RelPath) {
        self.doc(side, folder).pending += 1;
    }

    /// Notes that an expected action finished (done or failed); when it was the last one,
    /// returns the write that brings the document up to date (see [`MetaStore::take_write`]).
    pub fn settle(&mut self, side: Side, folder: &RelPath, layout: &Layout<'_>, now: f64) -> Option<MetaWrite> {
        let doc = self.doc(side, folder);
        doc.pending = doc.pending.saturating_sub(1);
        if doc.pending == 0 { self.take_write(side, folder, layout, now) } else { None }
    }

    /// What brings one document up to date on its side, if anything; the document counts as
    /// written from here on, so the (slow) write can run without holding the store. A write
    /// that fails must be handed back to [`MetaStore::failed`].
    pub fn take_write(&mut self, side: Side, folder: &RelPath, layout: &Layout<'_>, now: f64) -> Option<MetaWrite> {
        let doc = self.docs.get_mut(&(side, folder.clone()))?;
        if doc.gone {
            return None;
        }
        let path = layout.folder_path(folder, side).join_unchecked(META_FILE);
        let op = if doc.was_read && doc.meta.is_empty() {
            doc.was_read = false;
            MetaOp::Remove
        } else if doc.dirty {
            doc.was_read = true;
            MetaOp::Write(doc.meta.to_bytes(now, &self.style))
        } else {
            return None;
        };
        doc.dirty = false;
        Some(MetaWrite { side, folder: folder.clone(), path, op })
    }

    /// A write taken by [`MetaStore::take_write`] failed: the document is as it was before.
    pub fn failed(&mut self, write: &MetaWrite) {
        let doc = self.doc(write.side, &write.folder);
        match write.op {
            MetaOp::Remove => doc.was_read = true,
            MetaOp::Write(_) => doc.dirty = true,
        }
    }

    /// Writes (or removes) one document if needed, now.
    pub fn flush(
        &mut self,
        side: Side,
        folder: &RelPath,
        target: &mut dyn Target,
        layout: &Layout<'_>,
        now: f64,
    ) -> Result<()> {
        let Some(write) = self.take_write(side, folder, layout, now) else { return Ok(()) };
        match write.perform(target) {
            Ok(message) => {
                self.messages.extend(message);
                Ok(())
            }
            Err(e) => {
                self.failed(&write);
                Err(e)
            }
        }
    }

    /// Keys of documents that this run is expected to write: changes are pending or made.
    pub fn expected(&self) -> Vec<(Side, RelPath)> {
        self.docs.iter().filter(|(_, d)| (d.pending > 0 || d.dirty) && !d.gone).map(|(k, _)| k.clone()).collect()
    }

    /// Keys of documents with unwritten changes.
    pub fn dirty(&self) -> Vec<(Side, RelPath)> {
        self.docs
            .iter()
            .filter(|(_, d)| (d.dirty || (d.was_read && d.meta.is_empty())) && !d.gone)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// How a document is brought up to date.
pub enum MetaOp {
    /// It is empty now: the file is removed.
    Remove,
    /// The file is (re)written with these bytes.
    Write(Vec<u8>),
}

/// One metadata file to write or remove, taken out of the store.
pub struct MetaWrite {
    pub side: Side,
    pub folder: RelPath,
    path: RelPath,
    op: MetaOp,
}

impl MetaWrite {
    /// The metadata file's final path.
    pub fn path(&self) -> &RelPath {
        &self.path
    }

    /// The new content; `None` when the file is removed.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.op {
            MetaOp::Remove => None,
            MetaOp::Write(bytes) => Some(bytes),
        }
    }

    /// Does it; returns the message to show, if any.
    pub fn perform(&self, target: &mut dyn Target) -> Result<Option<String>> {
        let path = &self.path;
        match &self.op {
            MetaOp::Remove => {
                target.remove_file(path).with_context(|| format!("cannot remove the empty metadata file {path}"))?;
                Ok(Some(format!("Remove empty meta data file: {} {}", target.info().display, path.parent())))
            }
            MetaOp::Write(bytes) => {
                with_write_attempts(target.write_attempts(), || target.write_file(path, &mut bytes.as_slice(), None))
                    .with_context(|| format!("cannot write the metadata file {path}"))?;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::PeerSync;

    fn store() -> MetaStore {
        MetaStore::new(WriteStyle { verbose: false, version: "t".into() }).with_copy_on_remote("/l")
    }

    fn copy<'a>(store: &'a MetaStore, folder: &RelPath) -> Option<&'a PeerSync> {
        store.docs.get(&(Side::Remote, folder.clone())).and_then(|d| d.meta.peer("/l"))
    }

    fn local<'a>(store: &'a MetaStore, folder: &RelPath) -> Option<&'a PeerSync> {
        store.docs.get(&(Side::Local, folder.clone())).and_then(|d| d.meta.peer("/r"))
    }

    #[test]
    fn the_remote_copy_follows_the_local_records() {
        let root = RelPath::root();
        let mut s = store();
        // Found: local records of two files; on the remote a stale copy from another run.
        let mut found_local = DirMeta::default();
        found_local.set_sync("/r", "kept.txt", Some(1.0), Some(1), 10.0, &s.style);
        found_local.set_sync("/r", "gone.txt", Some(2.0), Some(2), 10.0, &s.style);
        s.docs.insert((Side::Local, root.clone()), MetaDoc { meta: found_local, was_read: true, ..MetaDoc::default() });
        let mut stale = DirMeta::default();
        stale.set_sync("/l", "old.txt", Some(3.0), Some(3), 5.0, &s.style);
        stale.set_mtime("up.txt", 4.0, 4, 6.0, &s.style);
        s.docs.insert((Side::Remote, root.clone()), MetaDoc { meta: stale, was_read: true, ..MetaDoc::default() });

        s.set_sync(&root, "/r", "new.txt", Some(5.0), Some(5), 20.0);
        assert_eq!(copy(&s, &root), local(&s, &root), "the first change copies the whole set");
        s.remove_sync(&root, "/r", "gone.txt");
        s.set_sync(&root, "/r", "kept.txt", Some(6.0), Some(6), 30.0);
        assert_eq!(copy(&s, &root), local(&s, &root), "then record by record");
        let remote = &s.docs[&(Side::Remote, root.clone())];
        assert!(remote.dirty && remote.meta.mtimes.contains_key("up.txt"), "other records of the remote stay");

        // The last record gone: the copy keeps what the local records keep (the time).
        let sub = RelPath::parse("sub").unwrap();
        s.set_sync(&sub, "/r", "x", Some(1.0), Some(1), 40.0);
        s.remove_sync(&sub, "/r", "x");
        assert_eq!(copy(&s, &sub), local(&s, &sub));
        assert!(copy(&s, &sub).is_some_and(|p| p.records.is_empty()));
    }

    #[test]
    fn without_a_copy_the_remote_is_untouched() {
        let mut s = MetaStore::new(WriteStyle { verbose: false, version: "t".into() });
        s.set_sync(&RelPath::root(), "/r", "a", Some(1.0), Some(1), 10.0);
        assert!(!s.docs.contains_key(&(Side::Remote, RelPath::root())));
    }
}
