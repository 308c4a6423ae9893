//! An in-memory folder tree behind the [`Target`] trait, for tests.
//!
//! Several [`MemoryTarget`] handles share one [`MemoryFs`], like several connections to one
//! server. Times come from an injected [`Clock`], so a test controls what "modified after the
//! last sync" means. The tree can behave like an FTP server that cannot set modification
//! times (`sets_mtime: false`): stored files are then stamped with the clock, and the real time
//! is remembered in the metadata's `mtimes` map, exactly as with a real server.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use anyhow::{Result, anyhow, bail};

use super::{ReadSink, Target, Written};
use crate::model::listing::{Listing, is_temp_name};
use crate::model::relpath::RelPath;
use crate::model::target::{TargetInfo, TargetKind};
use crate::model::{Clock, Entry, Kind};

/// One node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    File { data: Vec<u8>, mtime: f64, changed: f64 },
    Dir { mtime: f64 },
}

/// How the simulated server behaves.
#[derive(Clone, Copy, Debug)]
pub struct MemoryOptions {
    /// Stored files take the requested modification time (otherwise: the clock's time).
    pub sets_mtime: bool,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions { sets_mtime: true }
    }
}

struct State {
    nodes: BTreeMap<RelPath, Node>,
    /// Folders whose listing fails or panics (fault injection).
    listing_faults: BTreeMap<RelPath, ListingFault>,
    /// Changes counted so far (every write, rename, creation, removal).
    changes: usize,
    /// The change (counted from 0) that fails, and how (fault injection).
    fail_at: Option<(usize, Fault)>,
    /// Set by a [`Fault::Dead`] fault: every operation fails until [`MemoryFs::revive`].
    dead: bool,
    /// How the next openings of another connection go, in turn (fault injection).
    openings: VecDeque<Opening>,
    /// Once [`MemoryFs::record_calls`] was called: the folders listed and the transfers
    /// readied, in order, on all connections ([`MemoryFs::calls`]).
    calls: Option<Vec<String>>,
}

/// How listing a folder goes wrong (fault injection).
#[derive(Clone, Copy)]
enum ListingFault {
    /// It fails, as a server refusing it would.
    Fails,
    /// It panics, as a bug would.
    Panics,
}

/// How an opening of another connection goes (fault injection; an opening not told comes up).
#[derive(Clone)]
pub enum Opening {
    /// It fails, as a server refusing more connections does.
    Fails,
    /// It comes up only once [`Held::release`]d, as a slow login does (or fails after a minute).
    Held(Held),
}

/// A connection held while it comes up.
#[derive(Clone, Default)]
pub struct Held(Arc<(Mutex<HeldState>, Condvar)>);

#[derive(Default)]
struct HeldState {
    released: bool,
    waiting: usize,
    held: usize,
}

impl Held {
    /// Lets the held connections come up.
    pub fn release(&self) {
        self.0.0.lock().unwrap_or_else(|e| e.into_inner()).released = true;
        self.0.1.notify_all();
    }

    /// How many openings wait for [`Held::release`] now.
    pub fn waiting(&self) -> usize {
        self.0.0.lock().unwrap_or_else(|e| e.into_inner()).waiting
    }

    /// How many openings were held so far (waiting now or not).
    pub fn held(&self) -> usize {
        self.0.0.lock().unwrap_or_else(|e| e.into_inner()).held
    }

    fn wait(&self) -> Result<()> {
        let (lock, changed) = &*self.0;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        st.waiting += 1;
        st.held += 1;
        let (mut st, waited) = changed
            .wait_timeout_while(st, std::time::Duration::from_secs(60), |st| !st.released)
            .unwrap_or_else(|e| e.into_inner());
        st.waiting -= 1;
        if waited.timed_out() {
            bail!("the connection did not come up (held, injected)");
        }
        Ok(())
    }
}

/// How an injected fault fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// That one change fails; the next works (a refused command).
    Once,
    /// That change and everything after it fails, listings too (a connection that is gone
    /// and does not come back), until [`MemoryFs::revive`].
    Dead,
    /// That change panics (a bug); the next works.
    Panic,
}

/// The shared tree.
#[derive(Clone)]
pub struct MemoryFs {
    state: Arc<Mutex<State>>,
    clock: Arc<dyn Clock>,
    options: MemoryOptions,
}

impl MemoryFs {
    pub fn new(clock: Arc<dyn Clock>, options: MemoryOptions) -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert(RelPath::root(), Node::Dir { mtime: 0.0 });
        let state = State {
            nodes,
            listing_faults: BTreeMap::new(),
            changes: 0,
            fail_at: None,
            dead: false,
            openings: VecDeque::new(),
            calls: None,
        };
        MemoryFs { state: Arc::new(Mutex::new(state)), clock, options }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates or replaces a file (and any missing parent folders), as a user would.
    pub fn put_file(&self, path: &str, data: &[u8], mtime: f64) {
        let path = RelPath::parse(path).expect("valid test path");
        let changed = self.clock.now();
        let mut st = self.lock();
        let mut dir = path.parent();
        while !st.nodes.contains_key(&dir) {
            st.nodes.insert(dir.clone(), Node::Dir { mtime });
            dir = dir.parent();
        }
        st.nodes.insert(path, Node::File { data: data.to_vec(), mtime, changed });
    }

    /// Creates a folder (and its parents).
    pub fn put_dir(&self, path: &str) {
        let mut dir = RelPath::parse(path).expect("valid test path");
        let mut st = self.lock();
        while !st.nodes.contains_key(&dir) {
            st.nodes.insert(dir.clone(), Node::Dir { mtime: 0.0 });
            dir = dir.parent();
        }
    }

    /// Removes a file or a whole folder, as a user would.
    pub fn remove(&self, path: &str) {
        let path = RelPath::parse(path).expect("valid test path");
        self.lock().nodes.retain(|p, _| !p.starts_with(&path));
    }

    /// Makes listing a folder fail, as a server refusing it would.
    pub fn fail_listing(&self, path: &str) {
        self.lock().listing_faults.insert(RelPath::parse(path).expect("valid test path"), ListingFault::Fails);
    }

    /// Makes listing a folder panic, as a bug would.
    pub fn panic_listing(&self, path: &str) {
        self.lock().listing_faults.insert(RelPath::parse(path).expect("valid test path"), ListingFault::Panics);
    }

    /// Records from now on, in order, every folder listed (`list PATH`) and every transfer
    /// announced to come (`expect`: [`Target::expect_transfer`]; `ready`:
    /// [`Target::ready_transfer`]).
    pub fn record_calls(&self) {
        self.lock().calls.get_or_insert_with(Vec::new);
    }

    /// What was recorded since [`MemoryFs::record_calls`].
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone().unwrap_or_default()
    }

    fn record(&self, call: String) {
        if let Some(calls) = self.lock().calls.as_mut() {
            calls.push(call);
        }
    }

    /// Makes the change number `at` (counted from now, from 0) fail as `fault` says.
    pub fn fail_change(&self, at: usize, fault: Fault) {
        let mut st = self.lock();
        st.fail_at = Some((st.changes + at, fault));
    }

    /// Makes the next openings of another connection go as `openings` say, in turn.
    pub fn fail_openings(&self, openings: impl IntoIterator<Item = Opening>) {
        self.lock().openings.extend(openings);
    }

    /// Whether stored files take the requested modification time.
    pub fn sets_mtime(&self) -> bool {
        self.options.sets_mtime
    }

    /// How many changes were made (or attempted) so far.
    pub fn changes(&self) -> usize {
        self.lock().changes
    }

    /// Ends a [`Fault::Dead`]: operations work again.
    pub fn revive(&self) {
        let mut st = self.lock();
        st.dead = false;
        st.fail_at = None;
    }

    /// Every node except the root, by path.
    pub fn snapshot(&self) -> BTreeMap<RelPath, Node> {
        self.lock().nodes.iter().filter(|(p, _)| !p.is_root()).map(|(p, n)| (p.clone(), n.clone())).collect()
    }

    /// Content of a file, if it exists.
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self.lock().nodes.get(&RelPath::parse(path).ok()?) {
            Some(Node::File { data, .. }) => Some(data.clone()),
            _ => None,
        }
    }

    /// A target handle on this tree.
    pub fn target(&self, name: &str, records_mtimes: bool) -> MemoryTarget {
        MemoryTarget {
            fs: self.clone(),
            info: TargetInfo {
                kind: TargetKind::Memory,
                url: format!("mem://{name}"),
                id: format!("mem/{name}"),
                display: format!("mem://{name}"),
                records_mtimes,
                host_key: None,
            },
        }
    }
}

/// One handle on a [`MemoryFs`].
#[derive(Clone)]
pub struct MemoryTarget {
    fs: MemoryFs,
    info: TargetInfo,
}

fn entry_of(name: &str, node: &Node) -> Entry {
    match node {
        Node::File { data, mtime, changed } => Entry {
            name: name.to_string(),
            kind: Kind::File,
            size: data.len() as u64,
            mtime: *mtime,
            changed: Some(*changed),
            unique: None,
        },
        Node::Dir { mtime } => Entry::dir(name, *mtime),
    }
}

impl MemoryTarget {
    /// Counts a change about to be made; fails it where a fault was injected.
    fn change(&self, what: &str) -> Result<()> {
        let mut st = self.fs.lock();
        if st.dead {
            bail!("{what}: the connection is gone (injected)");
        }
        let n = st.changes;
        st.changes += 1;
        match st.fail_at {
            Some((at, Fault::Panic)) if at == n => {
                drop(st);
                panic!("{what}: panicked (injected fault at change {n})")
            }
            Some((at, fault)) if at == n => {
                st.dead = fault == Fault::Dead;
                bail!("{what}: refused (injected fault at change {n})")
            }
            _ => Ok(()),
        }
    }

    /// Fails every operation while a [`Fault::Dead`] lasts.
    fn alive(&self) -> Result<()> {
        if self.fs.lock().dead {
            bail!("the connection is gone (injected)");
        }
        Ok(())
    }
}

impl Target for MemoryTarget {
    fn info(&self) -> &TargetInfo {
        &self.info
    }

    fn list_dir(&mut self, dir: &RelPath) -> Result<Option<Listing>> {
        self.alive()?;
        let mut st = self.fs.lock();
        if let Some(calls) = st.calls.as_mut() {
            calls.push(format!("list {}", if dir.is_root() { "/" } else { dir.as_str() }));
        }
        match st.listing_faults.get(dir) {
            Some(ListingFault::Fails) => bail!("{dir}: permission denied (injected)"),
            Some(ListingFault::Panics) => {
                drop(st);
                panic!("{dir}: listing panicked (injected)");
            }
            None => {}
        }
        match st.nodes.get(dir) {
            Some(Node::Dir { .. }) => {}
            Some(Node::File { .. }) => bail!("{dir} is not a folder"),
            None => return Ok(None),
        }
        let (temporary, entries) = st
            .nodes
            .iter()
            .filter(|(p, _)| !p.is_root() && p.parent() == *dir)
            .map(|(p, n)| entry_of(p.name(), n))
            .partition(|e| is_temp_name(&e.name));
        Ok(Some(Listing { entries, skipped: Vec::new(), temporary }))
    }

    fn stat(&mut self, path: &RelPath) -> Result<Option<Entry>> {
        self.alive()?;
        Ok(self.fs.lock().nodes.get(path).map(|n| entry_of(path.name(), n)))
    }

    fn hash_files(
        &mut self,
        paths: &[RelPath],
        alg: crate::model::digest::HashAlg,
    ) -> Result<Vec<Result<crate::model::digest::Hashed>>> {
        Ok(super::hash::hash_by_reading(self, paths, alg))
    }

    fn read_file(&mut self, path: &RelPath, sink: &mut ReadSink<'_>) -> Result<()> {
        self.alive()?;
        let data = match self.fs.lock().nodes.get(path) {
            Some(Node::File { data, .. }) => data.clone(),
            _ => bail!("{path}: no such file"),
        };
        sink(&mut data.as_slice())
    }

    fn write_file(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        self.change(&format!("writing {path}"))?;
        let mut buf = Vec::new();
        data.read_to_end(&mut buf)?;
        let now = self.fs.clock.now();
        let mut st = self.fs.lock();
        if !matches!(st.nodes.get(&path.parent()), Some(Node::Dir { .. })) {
            bail!("{path}: parent folder does not exist");
        }
        if matches!(st.nodes.get(path), Some(Node::Dir { .. })) {
            bail!("{path} is a folder");
        }
        let (stamp, mtime_set) = match mtime {
            Some(t) if self.fs.options.sets_mtime => (t, true),
            _ => (now, false),
        };
        let bytes = buf.len() as u64;
        st.nodes.insert(path.clone(), Node::File { data: buf, mtime: stamp, changed: now });
        Ok(Written { bytes, mtime_set })
    }

    fn write_staged(&mut self, path: &RelPath, data: &mut dyn Read, mtime: Option<f64>) -> Result<Written> {
        if self.fs.lock().nodes.contains_key(path) {
            bail!("{path} already exists");
        }
        self.write_file(path, data, mtime)
    }

    fn rename(&mut self, from: &RelPath, to: &RelPath) -> Result<()> {
        self.change(&format!("renaming {from}"))?;
        let mut st = self.fs.lock();
        if from.is_root() || !st.nodes.contains_key(from) {
            bail!("cannot rename {from}: no such file or folder");
        }
        if st.nodes.contains_key(to) {
            bail!("cannot rename {from} to {to}: the name is taken");
        }
        if !matches!(st.nodes.get(&to.parent()), Some(Node::Dir { .. })) || to.starts_with(from) {
            bail!("cannot rename {from} to {to}: no such folder");
        }
        let moved: Vec<RelPath> = st.nodes.keys().filter(|p| p.starts_with(from)).cloned().collect();
        for old in moved {
            let node = st.nodes.remove(&old).expect("listed just now");
            let rest = &old.as_str()[from.as_str().len()..];
            st.nodes.insert(RelPath::parse(&format!("{}{rest}", to.as_str())).expect("a valid path"), node);
        }
        Ok(())
    }

    /// One operation here: the folder's parent is no concern.
    fn remove_folder(&mut self, path: &RelPath) -> Result<()> {
        self.remove_tree(path)
    }

    fn remove_tree(&mut self, path: &RelPath) -> Result<()> {
        self.change(&format!("removing {path}"))?;
        if path.is_root() {
            bail!("cannot remove the root");
        }
        self.fs.lock().nodes.retain(|p, _| !p.starts_with(path));
        Ok(())
    }

    /// Like FTP under its lock: a temporary name in this tree belongs to no running apply
    /// (tests run one apply at a time on a tree).
    fn remove_stale_temporary(&mut self, path: &RelPath) -> Result<bool> {
        if !is_temp_name(path.name()) {
            bail!("{path} is not a temporary file");
        }
        let found = self.fs.lock().nodes.contains_key(path);
        if found {
            self.remove_tree(path)?;
        }
        Ok(found)
    }

    fn make_dir(&mut self, path: &RelPath) -> Result<()> {
        self.change(&format!("creating {path}"))?;
        let now = self.fs.clock.now();
        let mut st = self.fs.lock();
        if st.nodes.contains_key(path) {
            bail!("{path} already exists");
        }
        if !matches!(st.nodes.get(&path.parent()), Some(Node::Dir { .. })) {
            bail!("{path}: parent folder does not exist");
        }
        st.nodes.insert(path.clone(), Node::Dir { mtime: now });
        Ok(())
    }

    fn remove_file(&mut self, path: &RelPath) -> Result<()> {
        self.change(&format!("removing {path}"))?;
        let mut st = self.fs.lock();
        match st.nodes.get(path) {
            Some(Node::File { .. }) => {
                st.nodes.remove(path);
                Ok(())
            }
            _ => Err(anyhow!("{path}: no such file")),
        }
    }

    fn remove_dir(&mut self, path: &RelPath) -> Result<()> {
        self.change(&format!("removing {path}"))?;
        let mut st = self.fs.lock();
        if !matches!(st.nodes.get(path), Some(Node::Dir { .. })) || path.is_root() {
            bail!("{path}: no such folder");
        }
        if st.nodes.keys().any(|p| p != path && p.starts_with(path)) {
            bail!("{path}: folder is not empty");
        }
        st.nodes.remove(path);
        Ok(())
    }

    fn expect_transfer(&mut self) {
        self.fs.record("expect".into());
    }

    fn ready_transfer(&mut self) {
        self.fs.record("ready".into());
    }

    fn opener(&self) -> super::Opener {
        let me = self.clone();
        std::sync::Arc::new(move || {
            let opening = me.fs.lock().openings.pop_front();
            match opening {
                None => {}
                Some(Opening::Fails) => bail!("421 too many connections (injected)"),
                Some(Opening::Held(held)) => held.wait()?,
            }
            Ok(Box::new(me.clone()) as Box<dyn Target>)
        })
    }
}
