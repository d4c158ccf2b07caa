//! The staged snapshot store: every registry file is validated once, and what validation
//! found is written down for every later command that asks the same snapshot a question.
//!
//! ```text
//! <store>/<registry>/<key>/left_out.parquet    the keys of the rows an error-severity rule leaves out
//! <store>/<registry>/<key>/quarantine.parquet  the rows that fail any rule (`row_index`, `failed_rules`)
//! <store>/<registry>/<key>/rules.json          every rule's result (what `sdu validate` prints)
//! <store>/<registry>/<key>/entry.json          the entry's identity and checks, written last
//! ```
//!
//! The rows themselves stay in the registry file, which the key pins: the staged frame is a
//! scan of it that skips the left-out keys, as without a store. A copy of all the rows
//! (sorted, LZ4, smaller row groups, identifiers as numbers) was built and measured: it made
//! staging three times slower (the country's 46 M rows rewritten) and lookups no faster
//! through polars' reader (bench/RESULTS.md, "The staged store"). What makes lookups cheap is
//! reading fewer rows: the store keeps, beside the verdicts, the *slices* of the registries
//! looked up by key ([`super::slices`]: the rows of the keys the events can name, 0.8 % of the
//! country's rows), made the same way (`<store>/slices/<registry>/<key>/`).
//!
//! The key is content, not a path or a time: an XXH3-128 of the registry file's bytes, of the
//! files its reference rules read (their keys decide which rows fail), of the rules and of
//! this format. The same bytes anywhere give the same key, so a copied snapshot reuses its
//! entries, and a changed file stages its own registry again, and those whose references read
//! it, never the rest.
//!
//! An entry is built in a hidden folder beside its place and renamed into place complete,
//! after its files reached the disk: a run killed while staging leaves only the hidden
//! folder, which no reader takes and a later build removes. Each use checks the entry against
//! its `entry.json` (format, registry, key, and the size and XXH3 of every file); an entry
//! that does not check out is removed and staged again, with a warning. The store keeps the
//! [`KEEP`] entries of each registry used last.

use super::rules::IdSet;
use super::slices::{self, Slice};
use super::validation::{validate_table, RuleResult, FAILED_RULES};
use super::{RegistryError, Severity, Snapshot, Staged, TableSpec};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The layout of an entry; a change of layout or of what staging does changes it, and every
/// entry is staged again.
pub const FORMAT: u32 = 1;
pub const ENTRY: &str = "entry.json";
pub const LEFT_OUT: &str = "left_out.parquet";
pub const QUARANTINE: &str = "quarantine.parquet";
pub const RULES: &str = "rules.json";
/// Entries kept per registry (the ones used last).
pub const KEEP: usize = 3;
/// The store's folder under `--out` when none is given.
pub const DEFAULT_DIR: &str = "staged";
/// Marks a folder as a store: nothing else is ever written or removed in a folder without it.
pub const MARKER: &str = ".sdu-store";

/// Whether sdu may use `root` as a store: one it made (marked), an empty folder (or one
/// holding only a marker being written), or none yet. A folder holding anything else, or a
/// path that is not a folder, is not.
pub fn check_root(root: &Path) -> Result<(), String> {
    if root.join(MARKER).is_file() {
        return Ok(());
    }
    match fs::symlink_metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(format!("{}: a folder above it is a file", root.display()))
        }
        // Unreadable: the command stages in memory, with a warning (a reader of the audit tier).
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", root.display())),
        Ok(_) if !root.is_dir() => return Err(format!("{} is not a folder", root.display())),
        Ok(_) => {}
    }
    let listing = match fs::read_dir(root) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", root.display())),
    };
    let other = listing.flatten().find(|e| !e.file_name().to_string_lossy().starts_with(MARKER));
    match other {
        // Another command claimed the folder and filled it while it was listed.
        Some(_) if root.join(MARKER).is_file() => Ok(()),
        Some(e) => Err(format!(
            "{} holds other data ({}; no {MARKER} marker); a store is a folder of its own, new or made by sdu",
            root.display(),
            e.file_name().to_string_lossy()
        )),
        None => Ok(()),
    }
}

/// Makes `root` a store: the folder, then its marker (written aside and renamed), before
/// anything else goes in, so a command killed at any point leaves a folder that is empty or
/// marked.
fn claim(root: &Path) -> std::io::Result<()> {
    if root.join(MARKER).is_file() {
        return Ok(());
    }
    fs::create_dir_all(root)?;
    let tmp = root.join(format!("{MARKER}.tmp-{}", std::process::id()));
    crate::io::write_text(&tmp, "sdu staged snapshot store (src/registry/store.rs)\n")
        .map_err(std::io::Error::other)?;
    fs::rename(&tmp, root.join(MARKER))?;
    // A marker a killed command left half-written (not one another command is writing now).
    for e in fs::read_dir(root)?.flatten() {
        let stale =
            e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|d| d >= IN_USE));
        if e.file_name().to_string_lossy().starts_with(&format!("{MARKER}.tmp-")) && stale {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// The store's memo of file identities: a file's stamp (device, inode, size, times) → its [`FileId`], so a command
/// does not read 500 MB of registries to learn they are the ones staged. Like git's index:
/// the identity is still the content's; the memo only answers while the file's device,
/// inode, size and modification and change times (to the nanosecond) are those it had when
/// it was hashed. A rewrite changes the change time, which no tool can set back (`touch -r`
/// sets the modification time only).
pub const MEMO: &str = ".sdu-store.files.json";
/// Identities the memo keeps (the ones used least recently go first).
const MEMO_KEEP: usize = 256;

/// A file's identity in the memo, with when it was last used (Unix seconds): the memo
/// forgets the ones used least recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    bytes: u64,
    xxh3: String,
    used: u64,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A remembered identity used again after this long has its `used` refreshed (so the memo
/// is not rewritten by every command).
const MEMO_REFRESH: u64 = 3600;

/// What the file system says of a file, to tell that it was not touched.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    bytes: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> std::io::Result<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(path)?;
        Ok(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            bytes: m.size(),
            modified: (m.mtime(), m.mtime_nsec()),
            changed: (m.ctime(), m.ctime_nsec()),
        })
    }

    fn key(&self) -> String {
        format!(
            "{}:{}:{}:{}.{:09}:{}.{:09}",
            self.dev, self.ino, self.bytes, self.modified.0, self.modified.1, self.changed.0, self.changed.1
        )
    }

    /// Whether the file was last written well before `started` (when hashing began): a
    /// write during the hashing, on a file system with coarse times, could otherwise leave
    /// the same stamp on other bytes.
    fn settled(&self, started: std::time::SystemTime) -> bool {
        let Ok(now) = started.duration_since(std::time::UNIX_EPOCH) else { return false };
        let last = self.modified.0.max(self.changed.0);
        i64::try_from(now.as_secs()).is_ok_and(|now| now - last >= 3)
    }
}

/// A file's identity: its size and the XXH3-128 of its bytes (32 hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub bytes: u64,
    pub xxh3: String,
}

impl FileId {
    /// Reads the whole file (XXH3 runs at memory speed; the registries are hashed on every
    /// command, so this is not SHA-256): 200 MB in about 0.05 s from the page cache.
    pub fn of(path: &Path) -> std::io::Result<FileId> {
        let mut file = fs::File::open(path)?;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        Ok(FileId { bytes, xxh3: format!("{:032x}", hasher.digest128()) })
    }
}

/// What `entry.json` says of an entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryMeta {
    pub format: u32,
    pub table: String,
    /// The entry's folder name.
    pub key: String,
    /// The registry file staged.
    pub input: FileId,
    /// Its SHA-256, for the publication manifests (computed once, while staging).
    pub input_sha256: String,
    /// The files the registry's reference rules read, by registry.
    pub depends: BTreeMap<String, FileId>,
    /// Rows of the registry file.
    pub rows: u64,
    /// Rows failing an error-severity rule: named in `left_out.parquet`, skipped.
    pub left_out: u64,
    /// Every file of the entry but this one, checked on each use.
    pub files: BTreeMap<String, FileId>,
    pub staged_at: String,
    pub staged_in_seconds: f64,
    pub sdu_version: String,
}

/// An entry that checked out.
#[derive(Debug, Clone)]
pub struct Entry {
    pub dir: PathBuf,
    pub meta: EntryMeta,
}

impl Entry {
    /// The names of the rows left out.
    pub fn left_out(&self) -> Result<DataFrame, RegistryError> {
        let path = self.dir.join(LEFT_OUT);
        crate::io::read_parquet(&path)
            .map_err(|e| RegistryError::Store { path, source: std::io::Error::other(e) })
    }

    /// Every rule's result.
    pub fn rules(&self) -> Result<Vec<RuleResult>, RegistryError> {
        let path = self.dir.join(RULES);
        let text = fs::read(&path).map_err(|source| RegistryError::Store { path: path.clone(), source })?;
        serde_json::from_slice(&text)
            .map_err(|e| RegistryError::Store { path, source: std::io::Error::other(e) })
    }

    /// The rows failing any rule.
    pub fn quarantine(&self) -> Result<DataFrame, RegistryError> {
        let path = self.dir.join(QUARANTINE);
        crate::io::read_parquet(&path)
            .map_err(|e| RegistryError::Store { path, source: std::io::Error::other(e) })
    }
}

/// What a slice's `entry.json` says ([`slices`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceMeta {
    pub format: u32,
    pub table: String,
    /// The entry's folder name.
    pub key: String,
    /// The registry file sliced.
    pub input: FileId,
    /// The files the domain is made of ([`slices::DOMAIN_FROM`]), by registry.
    pub domain_from: BTreeMap<String, FileId>,
    /// Keys in the domain.
    pub domain: u64,
    /// The registry's rows in the slice.
    pub rows: u64,
    /// Every file of the entry but this one, checked on each use.
    pub files: BTreeMap<String, FileId>,
    pub staged_at: String,
    pub staged_in_seconds: f64,
    pub sdu_version: String,
}

/// A store folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Files hashed by this process, by path: a snapshot is taken as it was when first read.
    hashed: Arc<Mutex<BTreeMap<PathBuf, FileId>>>,
    /// The last domain made or read by this process, by its sources' or its file's identity:
    /// the slices of one snapshot share it.
    domains: Arc<Mutex<Vec<Domain>>>,
    /// The store's [`MEMO`], once read.
    memo: Arc<Mutex<Option<BTreeMap<String, Remembered>>>>,
}

/// A domain held: its identity, as a set and as its frame.
type Domain = (String, Arc<IdSet>, DataFrame);

/// Why an entry in place cannot be used.
type Unusable = String;

/// An error with its cause, for a warning (a store error displays only its path).
pub fn cause(e: &RegistryError) -> String {
    match e {
        RegistryError::Store { path, source } => format!("{}: {source}", path.display()),
        other => other.to_string(),
    }
}

fn store_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError {
    let path = path.to_path_buf();
    move |source| RegistryError::Store { path, source }
}

impl Store {
    pub fn at(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
            hashed: Default::default(),
            domains: Default::default(),
            memo: Default::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A registry file's identity: hashed once per process; across processes the store's
    /// [`MEMO`] spares the read while the file is, by its inode and times, untouched.
    fn file_id(&self, path: &Path) -> Result<FileId, RegistryError> {
        if let Some(id) = self.hashed.lock().expect("not poisoned").get(path) {
            return Ok(id.clone());
        }
        let failed = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => RegistryError::MissingFile { file: path.to_path_buf() },
            _ => RegistryError::Store { path: path.to_path_buf(), source },
        };
        let before = Stamp::of(path).map_err(failed)?;
        let known = self.memo().as_ref().and_then(|m| m.get(&before.key()).cloned());
        let id = match known {
            Some(r) if r.bytes == before.bytes => {
                let id = FileId { bytes: r.bytes, xxh3: r.xxh3 };
                if unix_now().saturating_sub(r.used) >= MEMO_REFRESH {
                    self.remember(before.key(), id.clone());
                }
                id
            }
            _ => {
                let started = std::time::SystemTime::now();
                let id = FileId::of(path).map_err(failed)?;
                if Stamp::of(path).is_ok_and(|after| after == before) && before.settled(started) {
                    self.remember(before.key(), id.clone());
                }
                id
            }
        };
        self.hashed.lock().expect("not poisoned").insert(path.to_path_buf(), id.clone());
        Ok(id)
    }

    /// The memo of file identities, read once per process.
    fn memo(&self) -> std::sync::MutexGuard<'_, Option<BTreeMap<String, Remembered>>> {
        let mut memo = self.memo.lock().expect("not poisoned");
        if memo.is_none() {
            let read = fs::read(self.root.join(MEMO)).ok().and_then(|t| serde_json::from_slice(&t).ok());
            *memo = Some(read.unwrap_or_default());
        }
        memo
    }

    /// Adds an identity to the memo and writes it (aside, then renamed; best effort: a
    /// store that cannot be written hashes again next time). Only a store already marked
    /// gets one.
    fn remember(&self, stamp: String, id: FileId) {
        let mut memo = self.memo();
        let map = memo.get_or_insert_with(BTreeMap::new);
        map.insert(stamp, Remembered { bytes: id.bytes, xxh3: id.xxh3, used: unix_now() });
        while map.len() > MEMO_KEEP {
            let oldest = map.iter().min_by_key(|(_, r)| r.used).map(|(k, _)| k.clone()).expect("not empty");
            map.remove(&oldest);
        }
        if !self.root.join(MARKER).is_file() {
            return;
        }
        let tmp = self.root.join(format!("{MEMO}.tmp-{}", std::process::id()));
        // What a killed command left (or another is writing: its rename then fails, harmlessly).
        for e in fs::read_dir(&self.root).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("{MEMO}.tmp-")) && e.path() != tmp {
                let _ = fs::remove_file(e.path());
            }
        }
        let written = crate::io::write_json(&*map, &tmp)
            .map_err(std::io::Error::other)
            .and_then(|()| fs::rename(&tmp, self.root.join(MEMO)));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            tracing::debug!("{}: the memo of file identities is not written: {e}", self.root.display());
        }
    }

    /// The content key of a registry of a snapshot, with the identities it is made of.
    fn key(
        &self,
        snapshot: &Snapshot,
        table: &'static TableSpec,
    ) -> Result<(String, FileId, BTreeMap<String, FileId>), RegistryError> {
        let input = self.file_id(&snapshot.path(table))?;
        let mut depends = BTreeMap::new();
        for r in table.references {
            depends.insert(r.target.name.to_string(), self.file_id(&snapshot.path(r.target))?);
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(format!("sdu staged store {FORMAT}\n{}\n", env!("CARGO_PKG_VERSION")).as_bytes());
        h.update(super::rules::fingerprint(table).as_bytes());
        h.update(format!("{}:{}:{}\n", table.name, input.bytes, input.xxh3).as_bytes());
        for (name, id) in &depends {
            h.update(format!("{name}:{}:{}\n", id.bytes, id.xxh3).as_bytes());
        }
        Ok((format!("{:032x}", h.digest128()), input, depends))
    }

    /// The folder of a registry's entry for this snapshot (whether or not it exists yet).
    pub fn entry_dir(
        &self,
        snapshot: &Snapshot,
        table: &'static TableSpec,
    ) -> Result<PathBuf, RegistryError> {
        Ok(self.root.join(table.name).join(self.key(snapshot, table)?.0))
    }

    /// The registry's entry for this snapshot: the one in place when it checks out, else
    /// staged now (every rule evaluated once) and put in place.
    pub fn entry(&self, snapshot: &Snapshot, table: &'static TableSpec) -> Result<Entry, RegistryError> {
        let (key, input, depends) = self.key(snapshot, table)?;
        let dir = self.root.join(table.name).join(&key);
        match open(&dir, table, &key) {
            Ok(Some(entry)) => {
                tracing::debug!("{}: staged store entry {key} reused", table.file_name());
                // Its use is its age for the clean-up (best effort: a reader may not write).
                let _ = fs::File::open(dir.join(ENTRY))
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok(entry);
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(
                    "{}: staged store entry is not usable ({why}); staging it again",
                    dir.display()
                );
                remove_entry(&dir)?;
            }
        }
        self.build(
            snapshot,
            table,
            &dir,
            EntryMeta {
                format: FORMAT,
                table: table.name.to_string(),
                key,
                input,
                input_sha256: String::new(),
                depends,
                rows: 0,
                left_out: 0,
                files: BTreeMap::new(),
                staged_at: String::new(),
                staged_in_seconds: 0.0,
                sdu_version: env!("CARGO_PKG_VERSION").to_string(),
            },
        )
    }

    /// Builds an entry in a hidden folder beside `dir` (`fill` writes its files, `entry.json`
    /// last), then renames it into place after its files reached the disk; then removes the
    /// entries of that folder beyond the [`KEEP`] used last.
    fn put(
        &self,
        dir: &Path,
        fill: impl FnOnce(&Path) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let parent = dir.parent().expect("an entry is in its registry's folder");
        check_root(&self.root).map_err(|why| RegistryError::Store {
            path: self.root.clone(),
            source: std::io::Error::other(why),
        })?;
        claim(&self.root).map_err(store_err(&self.root))?;
        fs::create_dir_all(parent).map_err(store_err(parent))?;
        remove_abandoned(parent);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let tmp = parent.join(format!(".tmp-{}-{nanos}", std::process::id()));
        fs::create_dir(&tmp).map_err(store_err(&tmp))?;
        let mut building = Building::start(tmp.clone()).map_err(store_err(&tmp))?;
        fill(&tmp)?;
        building.unlock();
        let write = |e: crate::io::IoError| RegistryError::Store {
            path: tmp.clone(),
            source: std::io::Error::other(e),
        };
        crate::io::sync_tree(&tmp).map_err(write)?;
        match fs::rename(&tmp, dir) {
            Ok(()) => {
                building.done();
                crate::io::sync_dir(parent).map_err(write)?;
            }
            // Another process put the same entry in place first: theirs is used.
            Err(e) if dir.join(ENTRY).is_file() => {
                tracing::debug!("{}: staged by another process meanwhile ({e})", dir.display());
            }
            Err(e) => return Err(store_err(dir)(e)),
        }
        self.clean_up(parent, dir);
        Ok(())
    }

    /// Stages a registry into a hidden folder, then renames it into place.
    fn build(
        &self,
        snapshot: &Snapshot,
        table: &'static TableSpec,
        dir: &Path,
        mut meta: EntryMeta,
    ) -> Result<Entry, RegistryError> {
        let clock = std::time::Instant::now();
        self.put(dir, |tmp| self.fill(snapshot, table, tmp, &mut meta, clock))?;
        tracing::info!(
            "{}: staged ({} rows, {} left out) in {:.1} s",
            table.file_name(),
            meta.rows,
            meta.left_out,
            clock.elapsed().as_secs_f64()
        );
        match open(dir, table, &meta.key) {
            Ok(Some(entry)) => Ok(entry),
            Ok(None) => Err(RegistryError::Store {
                path: dir.to_path_buf(),
                source: std::io::Error::other("the entry vanished after staging"),
            }),
            Err(why) => {
                Err(RegistryError::Store { path: dir.to_path_buf(), source: std::io::Error::other(why) })
            }
        }
    }

    /// Validates a registry and writes its entry's files into `tmp`.
    fn fill(
        &self,
        snapshot: &Snapshot,
        table: &'static TableSpec,
        tmp: &Path,
        meta: &mut EntryMeta,
        clock: std::time::Instant,
    ) -> Result<(), RegistryError> {
        let (results, quarantine) = validate_table(snapshot, table).map_err(|e| match e {
            super::validation::ValidationError::Registry(r) => r,
            super::validation::ValidationError::Evaluate { source, .. } => {
                RegistryError::Evaluate { file: snapshot.path(table), source }
            }
        })?;
        let errors: Vec<&str> =
            results.iter().filter(|r| r.severity == Severity::Error).map(|r| r.rule.as_str()).collect();
        let evaluate = |source| RegistryError::Evaluate { file: snapshot.path(table), source };
        let mut left_out = left_out(&quarantine, table, &errors).map_err(evaluate)?;
        meta.rows = snapshot.rows(table)?;
        meta.left_out = left_out.height() as u64;
        let write = |e: crate::io::IoError| RegistryError::Store {
            path: tmp.to_path_buf(),
            source: std::io::Error::other(e),
        };
        crate::io::write_parquet(&mut left_out, &tmp.join(LEFT_OUT)).map_err(write)?;
        crate::io::write_parquet(&mut quarantine.clone(), &tmp.join(QUARANTINE)).map_err(write)?;
        crate::io::write_json(&results, &tmp.join(RULES)).map_err(write)?;
        crate::io::fail_point("store:before-entry").map_err(write)?;
        meta.input_sha256 = crate::io::sha256_file(&snapshot.path(table)).map_err(write)?;
        for name in [LEFT_OUT, QUARANTINE, RULES] {
            let id = FileId::of(&tmp.join(name)).map_err(store_err(&tmp.join(name)))?;
            meta.files.insert(name.to_string(), id);
        }
        meta.staged_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        meta.staged_in_seconds = (clock.elapsed().as_secs_f64() * 100.0).round() / 100.0;
        crate::io::write_json(&meta, &tmp.join(ENTRY)).map_err(write)
    }

    /// The staged rows of a registry, through its entry ([`Store::entry`]); for a sliced
    /// registry with its slice too. A slice that cannot be made or read is passed
    /// over with a warning: lookups then read the registry file, as without one.
    pub fn stage(&self, snapshot: &Snapshot, table: &'static TableSpec) -> Result<Staged, RegistryError> {
        let entry = self.entry(snapshot, table)?;
        let failing = entry.left_out()?;
        let mut staged = Staged {
            table,
            frame: snapshot.skipping(table, failing.clone())?,
            rows: entry.meta.rows,
            left_out: entry.meta.left_out,
            sha256: Some(entry.meta.input_sha256.clone()),
            slice: None,
        };
        if slices::key_columns(table).is_some() {
            match self
                .slice(snapshot, table)
                .and_then(|(dir, meta)| self.read_slice(&dir, &meta, table, failing))
            {
                Ok(slice) => staged.slice = Some(slice),
                Err(e) => {
                    tracing::warn!(
                        "{}: no slice ({}); lookups read the whole file",
                        table.file_name(),
                        cause(&e)
                    )
                }
            }
        }
        Ok(staged)
    }

    /// The content key of a registry's slice, with the identities it is made of.
    fn slice_key(
        &self,
        snapshot: &Snapshot,
        table: &'static TableSpec,
    ) -> Result<(String, FileId, BTreeMap<String, FileId>), RegistryError> {
        let input = self.file_id(&snapshot.path(table))?;
        let mut from = BTreeMap::new();
        for t in slices::DOMAIN_FROM {
            from.insert(t.name.to_string(), self.file_id(&snapshot.path(t))?);
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(format!("sdu slice {FORMAT}\n{}\n", env!("CARGO_PKG_VERSION")).as_bytes());
        h.update(super::rules::fingerprint(table).as_bytes());
        h.update(slices::fingerprint().as_bytes());
        h.update(format!("{}:{}:{}\n", table.name, input.bytes, input.xxh3).as_bytes());
        for (name, id) in &from {
            h.update(format!("{name}:{}:{}\n", id.bytes, id.xxh3).as_bytes());
        }
        Ok((format!("{:032x}", h.digest128()), input, from))
    }

    /// The slice of a sliced registry for this snapshot: the one in place when it
    /// checks out, else made now (its folder and `entry.json`).
    pub fn slice(
        &self,
        snapshot: &Snapshot,
        table: &'static TableSpec,
    ) -> Result<(PathBuf, SliceMeta), RegistryError> {
        let (key, input, domain_from) = self.slice_key(snapshot, table)?;
        let dir = self.root.join(slices::DIR).join(table.name).join(&key);
        match open_slice(&dir, table, &key) {
            Ok(Some(meta)) => {
                tracing::debug!("{}: slice {key} reused", table.file_name());
                let _ = fs::File::open(dir.join(ENTRY))
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                return Ok((dir, meta));
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!("{}: slice is not usable ({why}); making it again", dir.display());
                remove_entry(&dir)?;
            }
        }
        let clock = std::time::Instant::now();
        let mut meta = SliceMeta {
            format: FORMAT,
            table: table.name.to_string(),
            key: key.clone(),
            input,
            domain_from,
            domain: 0,
            rows: 0,
            files: BTreeMap::new(),
            staged_at: String::new(),
            staged_in_seconds: 0.0,
            sdu_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        self.put(&dir, |tmp| {
            let sources: String = meta.domain_from.values().map(|id| id.xxh3.as_str()).collect();
            let (set, mut domain) = self.domain(&sources, || slices::domain(snapshot))?;
            let mut rows = slices::rows(snapshot, table, set)?;
            meta.domain = domain.height() as u64;
            meta.rows = rows.height() as u64;
            let write = |e: crate::io::IoError| RegistryError::Store {
                path: tmp.to_path_buf(),
                source: std::io::Error::other(e),
            };
            crate::io::write_parquet(&mut domain, &tmp.join(slices::DOMAIN)).map_err(write)?;
            crate::io::write_parquet(&mut rows, &tmp.join(slices::ROWS)).map_err(write)?;
            crate::io::fail_point("store:before-slice-entry").map_err(write)?;
            for name in [slices::DOMAIN, slices::ROWS] {
                let id = FileId::of(&tmp.join(name)).map_err(store_err(&tmp.join(name)))?;
                meta.files.insert(name.to_string(), id);
            }
            meta.staged_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            meta.staged_in_seconds = (clock.elapsed().as_secs_f64() * 100.0).round() / 100.0;
            crate::io::write_json(&meta, &tmp.join(ENTRY)).map_err(write)
        })?;
        tracing::info!(
            "{}: sliced ({} rows of the {} keys the events can ask about) in {:.1} s",
            table.file_name(),
            meta.rows,
            meta.domain,
            clock.elapsed().as_secs_f64()
        );
        match open_slice(&dir, table, &key) {
            Ok(Some(meta)) => Ok((dir, meta)),
            Ok(None) => Err(RegistryError::Store {
                path: dir.clone(),
                source: std::io::Error::other("the slice vanished after it was made"),
            }),
            Err(why) => Err(RegistryError::Store { path: dir, source: std::io::Error::other(why) }),
        }
    }

    /// A domain as a set and as its frame: the one this process holds under `id`, else made
    /// by `make` (and then held instead).
    fn domain(
        &self,
        id: &str,
        make: impl FnOnce() -> Result<DataFrame, RegistryError>,
    ) -> Result<(Arc<IdSet>, DataFrame), RegistryError> {
        let mut held = self.domains.lock().expect("not poisoned");
        if let Some((_, set, df)) = held.iter().find(|(k, _, _)| k == id) {
            return Ok((set.clone(), df.clone()));
        }
        let df = make()?;
        let values = df.column(slices::KEY).and_then(|c| c.str().cloned()).map_err(|source| {
            RegistryError::Store { path: self.root.clone(), source: std::io::Error::other(source) }
        })?;
        let set = Arc::new(IdSet::of(&values));
        held.clear();
        held.push((id.to_string(), set.clone(), df.clone()));
        Ok((set, df))
    }

    /// A slice in place, for lookups: its domain and its rows but the `failing` ones.
    fn read_slice(
        &self,
        dir: &Path,
        meta: &SliceMeta,
        table: &'static TableSpec,
        failing: DataFrame,
    ) -> Result<Slice, RegistryError> {
        // Keyed by the files it is made of, as when it is made: one domain per snapshot is held.
        let domain_id: String = meta.domain_from.values().map(|id| id.xxh3.as_str()).collect();
        let path = dir.join(slices::DOMAIN);
        let (domain, _) = self.domain(&domain_id, || {
            crate::io::read_parquet(&path)
                .map_err(|e| RegistryError::Store { path: path.clone(), source: std::io::Error::other(e) })
        })?;
        let rows = dir.join(slices::ROWS);
        let unreadable =
            |e: PolarsError| RegistryError::Store { path: rows.clone(), source: std::io::Error::other(e) };
        let scan = LazyFrame::scan_parquet(
            PlRefPath::try_from_path(&rows).map_err(unreadable)?,
            ScanArgsParquet::default(),
        )
        .map_err(unreadable)?;
        Ok(Slice { domain, domain_id, frame: super::skip(scan, table, failing), rows: meta.rows })
    }

    /// Removes a registry's entries beyond the [`KEEP`] used last (never `current`, nor one
    /// used in the last [`IN_USE`]: another command may be reading it). Only folders that
    /// are entries of this registry (a content key for a name, an `entry.json` naming the
    /// registry) in a registry folder that is not a link are ever removed.
    fn clean_up(&self, parent: &Path, current: &Path) {
        if fs::symlink_metadata(parent).is_ok_and(|m| m.file_type().is_symlink()) {
            return;
        }
        let table = parent.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let now = std::time::SystemTime::now();
        let mut entries: Vec<(std::time::SystemTime, PathBuf)> = fs::read_dir(parent)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| is_key(&n.to_string_lossy())) && p != current)
            .filter_map(|p| {
                let meta: Named = serde_json::from_slice(&fs::read(p.join(ENTRY)).ok()?).ok()?;
                let used = fs::metadata(p.join(ENTRY)).and_then(|m| m.modified()).ok()?;
                (meta.table == table).then_some((used, p))
            })
            .collect();
        entries.sort();
        let excess = (entries.len() + 1).saturating_sub(KEEP);
        let idle = |used: &std::time::SystemTime| now.duration_since(*used).is_ok_and(|d| d >= IN_USE);
        for (_, p) in entries.into_iter().take(excess).filter(|(used, _)| idle(used)) {
            match fs::remove_dir_all(&p) {
                Ok(()) => tracing::debug!(
                    "{}: staged store entry removed (older than the {KEEP} used last)",
                    p.display()
                ),
                Err(e) => tracing::warn!("{}: cannot remove an old staged store entry: {e}", p.display()),
            }
        }
    }
}

/// What the clean-up reads of any `entry.json`: the registry it is of.
#[derive(Deserialize)]
struct Named {
    table: String,
}

/// A content key: 32 lower-case hex digits (only such folders are ever removed).
fn is_key(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An entry being built in its hidden folder, which holds `.building` locked (an OS advisory
/// lock, released by the kernel however the process ends) until the entry is complete.
/// Dropped before [`Building::done`], the folder is removed.
struct Building {
    dir: PathBuf,
    lock: Option<fs::File>,
    done: bool,
}

/// The lock file of a build.
const BUILDING: &str = ".building";
/// An entry used this recently may be in another command's hands: the clean-up leaves it.
const IN_USE: std::time::Duration = std::time::Duration::from_secs(600);

impl Building {
    fn start(dir: PathBuf) -> std::io::Result<Building> {
        // Locked before it takes its name: a `.building` nobody holds is always abandoned.
        let aside = dir.join(format!("{BUILDING}.new"));
        let file = fs::File::create(&aside)?;
        file.try_lock().map_err(std::io::Error::other)?;
        fs::rename(&aside, dir.join(BUILDING))?;
        Ok(Building { dir, lock: Some(file), done: false })
    }

    /// Releases and removes the lock file, before the folder is renamed into place.
    fn unlock(&mut self) {
        self.lock = None;
        let _ = fs::remove_file(self.dir.join(BUILDING));
    }

    fn done(mut self) {
        self.done = true;
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Removes the hidden folders of builds that ended without finishing (killed while staging):
/// those whose lock no process holds, or (killed before it took the lock) that have none and
/// are older than [`IN_USE`]. Works across containers sharing the store, where a pid tells
/// nothing.
fn remove_abandoned(parent: &Path) {
    for e in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_build = name
            .strip_prefix(".tmp-")
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit() || b == b'-'));
        if !is_build || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let abandoned = match fs::OpenOptions::new().write(true).open(e.path().join(BUILDING)) {
            Ok(file) => file.try_lock().is_ok(),
            Err(_) => fs::metadata(e.path())
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|d| d >= IN_USE)),
        };
        if abandoned {
            tracing::debug!("{}: removing an unfinished staging (its process is gone)", e.path().display());
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The entry in `dir`, if there is one and it checks out; `Err` says why one in place does
/// not.
fn open(dir: &Path, table: &TableSpec, key: &str) -> Result<Option<Entry>, Unusable> {
    let Some(meta) = read_meta::<EntryMeta>(dir)? else { return Ok(None) };
    if meta.format != FORMAT || meta.table != table.name || meta.key != key {
        return Err(format!(
            "{ENTRY} is of format {}, registry {}, key {}; expected {FORMAT}, {}, {key}",
            meta.format, meta.table, meta.key, table.name
        ));
    }
    check_files(dir, &meta.files, &[LEFT_OUT, QUARANTINE, RULES])?;
    Ok(Some(Entry { dir: dir.to_path_buf(), meta }))
}

/// Removes an entry in place that does not check out (a folder, or a file in its place).
fn remove_entry(dir: &Path) -> Result<(), RegistryError> {
    let removed = match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(dir),
        _ => fs::remove_file(dir),
    };
    removed.map_err(store_err(dir))
}

/// The slice in `dir`, if there is one and it checks out; `Err` says why one in place
/// does not.
fn open_slice(dir: &Path, table: &TableSpec, key: &str) -> Result<Option<SliceMeta>, Unusable> {
    let Some(meta) = read_meta::<SliceMeta>(dir)? else { return Ok(None) };
    if meta.format != FORMAT || meta.table != table.name || meta.key != key {
        return Err(format!(
            "{ENTRY} is of format {}, registry {}, key {}; expected {FORMAT}, {}, {key}",
            meta.format, meta.table, meta.key, table.name
        ));
    }
    check_files(dir, &meta.files, &[slices::DOMAIN, slices::ROWS])?;
    Ok(Some(meta))
}

/// Checks that each of an entry's `names` is listed in its `entry.json` (`files`) and has
/// the size and XXH3 listed.
fn check_files(dir: &Path, files: &BTreeMap<String, FileId>, names: &[&str]) -> Result<(), Unusable> {
    for name in names {
        let Some(expected) = files.get(*name) else {
            return Err(format!("{ENTRY} does not list {name}"));
        };
        let found = FileId::of(&dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        if found != *expected {
            return Err(format!(
                "{name} has {} bytes (XXH3 {}), {ENTRY} says {} bytes (XXH3 {})",
                found.bytes, found.xxh3, expected.bytes, expected.xxh3
            ));
        }
    }
    Ok(())
}

/// Reads an entry's `entry.json`: `None` when the entry's folder does not exist.
fn read_meta<M: serde::de::DeserializeOwned>(dir: &Path) -> Result<Option<M>, Unusable> {
    let path = dir.join(ENTRY);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.exists() => return Ok(None),
        Err(e) => return Err(format!("{ENTRY}: {e}")),
    };
    serde_json::from_slice(&text).map(Some).map_err(|e| format!("{ENTRY}: {e}"))
}

/// The names ([`super::row_names`]) of the quarantined rows that fail one of `errors`, one
/// row each, in the file's order.
fn left_out(quarantine: &DataFrame, table: &TableSpec, errors: &[&str]) -> PolarsResult<DataFrame> {
    let failed = quarantine.column(FAILED_RULES)?.list()?;
    let mut keep = Vec::with_capacity(quarantine.height());
    for rules in failed.amortized_iter() {
        let fails = match rules {
            Some(r) => r.as_ref().str()?.iter().flatten().any(|r| errors.contains(&r)),
            None => false,
        };
        keep.push(fails);
    }
    let mask = BooleanChunked::from_slice("left_out".into(), &keep);
    quarantine.filter(&mask)?.select(super::row_names(table))
}

#[cfg(test)]
mod tests {
    use super::{FileId, Store, MARKER, MEMO};
    use std::collections::BTreeMap;

    /// The memo answers for a file its stamp still describes, and never for one rewritten
    /// since, even to the same size with its modification time set back (`touch -r`).
    #[test]
    fn the_memo_of_identities_never_outlives_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join(MARKER), "sdu\n").unwrap();
        let file = dir.path().join("individuals.parquet");
        std::fs::write(&file, b"first content").unwrap();
        let written = std::fs::metadata(&file).unwrap().modified().unwrap();
        // Written just now: not settled, so not remembered.
        let real = Store::at(&root).file_id(&file).unwrap();
        assert!(!root.join(MEMO).exists());
        std::thread::sleep(std::time::Duration::from_millis(3100));
        assert_eq!(Store::at(&root).file_id(&file).unwrap(), real);
        let memo: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&std::fs::read(root.join(MEMO)).unwrap()).unwrap();
        let (key, remembered) = memo.iter().next().unwrap();
        assert_eq!(memo.len(), 1);
        assert_eq!(
            (remembered["xxh3"].as_str(), remembered["bytes"].as_u64()),
            (Some(real.xxh3.as_str()), Some(real.bytes))
        );
        // A later process takes the memo's word (here a planted one) without reading.
        let planted = FileId { bytes: real.bytes, xxh3: "0".repeat(32) };
        let entry =
            serde_json::json!({"bytes": planted.bytes, "xxh3": planted.xxh3, "used": super::unix_now()});
        std::fs::write(root.join(MEMO), serde_json::to_vec(&BTreeMap::from([(key.clone(), entry)])).unwrap())
            .unwrap();
        assert_eq!(Store::at(&root).file_id(&file).unwrap(), planted);
        // Rewritten to the same size, its time set back: hashed again.
        std::fs::write(&file, b"other content").unwrap();
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(written).unwrap();
        let again = Store::at(&root).file_id(&file).unwrap();
        assert_eq!(again, FileId::of(&file).unwrap());
        assert_ne!(again.xxh3, real.xxh3);
    }

    /// Full, the memo forgets the identities used least recently, whatever their stamps.
    #[test]
    fn the_memo_forgets_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join(MARKER), "sdu\n").unwrap();
        let old: BTreeMap<String, serde_json::Value> = (0..super::MEMO_KEEP)
            .map(|n| (format!("0:{n}:1:1.0:1.0"), serde_json::json!({"bytes": 1, "xxh3": "0", "used": n})))
            .collect();
        std::fs::write(root.join(MEMO), serde_json::to_vec(&old).unwrap()).unwrap();
        let store = Store::at(&root);
        store.remember("9:9:9:9.0:9.0".into(), FileId { bytes: 9, xxh3: "9".into() });
        let memo: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&std::fs::read(root.join(MEMO)).unwrap()).unwrap();
        assert_eq!(memo.len(), super::MEMO_KEEP);
        assert!(memo.contains_key("9:9:9:9.0:9.0"), "the newest stays although its stamp sorts last");
        assert!(!memo.contains_key("0:0:1:1.0:1.0"), "the one used longest ago goes");
    }

    /// Read in chunks, a file has the identity of its bytes at once; an empty file has the
    /// XXH3 of nothing; and one changed byte changes it.
    #[test]
    fn a_file_has_the_identity_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let id = FileId::of(&path).unwrap();
        assert_eq!(id.bytes, data.len() as u64);
        assert_eq!(id.xxh3, format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&data)));
        std::fs::write(&path, b"").unwrap();
        assert_eq!(FileId::of(&path).unwrap().xxh3, format!("{:032x}", xxhash_rust::xxh3::xxh3_128(b"")));
        let mut changed = data.clone();
        changed[1_500_000] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        assert_ne!(FileId::of(&path).unwrap().xxh3, id.xxh3);
    }
}
