//! Folders `sdu` writes into as a whole, and what it may do to them: nothing is deleted or
//! replaced that `sdu` did not create. Each kind of folder carries a marker file its command
//! wrote: an output folder `.sdu-out`, a synthetic world `_synth.json`, a validation report
//! `validation.json`. A folder of another kind, or holding other data, is refused (exit 2);
//! an empty or missing folder is taken.
//!
//! An output folder is written under its lock ([`crate::io::Lock`]); opening it also removes
//! the temporary folders and files (`.<name>.tmp-<pid>…`) that a run killed midway left.

use crate::io::{Lock, LockError};
use crate::layout;
use std::path::{Path, PathBuf};

/// The kinds of folder `sdu` writes, each with its marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--out` of candidates, dispatch, advance, report, run, backfill.
    Output,
    /// A synthetic world (`sdu synth --out`).
    World,
    /// A validation report (`sdu validate --out`).
    Validation,
}

impl Kind {
    /// The file that marks a folder of this kind.
    pub fn marker(self) -> &'static str {
        match self {
            Kind::Output => layout::OUTPUT_MARKER,
            Kind::World => layout::SYNTH_SUMMARY,
            Kind::Validation => layout::validation::RESULTS_JSON,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Output => "an sdu output folder",
            Kind::World => "a synthetic world written by `sdu synth`",
            Kind::Validation => "a validation report written by `sdu validate`",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("{path}: is a file, not a folder")]
    NotAFolder { path: PathBuf },
    #[error("{path}: holds other data ({example}, …) and is not {what}; nothing is written there (choose another folder, or an empty one)")]
    Foreign { path: PathBuf, example: String, what: &'static str },
    #[error("{path}: no sdu output folder there (no {marker} and no ledger): is --out right?")]
    Missing { path: PathBuf, marker: &'static str },
    #[error("{path}: is inside {owner}, {what}; nothing is written into what another command owns")]
    Nested { path: PathBuf, owner: PathBuf, what: &'static str },
    #[error("{out}: is inside the snapshot {snapshot}; a snapshot is never written into")]
    InsideSnapshot { out: PathBuf, snapshot: PathBuf },
    #[error("{path}: cannot read the folder")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `path` may receive a folder of `kind` (created, or replaced as a whole): it does
/// not exist, is an empty folder, or carries the kind's marker. An output folder from before
/// markers is recognized by its ledger.
pub fn check(path: &Path, kind: Kind) -> Result<(), OutDirError> {
    check_not_nested(path)?;
    if !path.exists() {
        return Ok(());
    }
    if !path.is_dir() {
        return Err(OutDirError::NotAFolder { path: path.to_path_buf() });
    }
    let io = |source| OutDirError::Io { path: path.to_path_buf(), source };
    let entries: Vec<PathBuf> = std::fs::read_dir(path).map_err(io)?.flatten().map(|e| e.path()).collect();
    let ours = |p: &PathBuf| {
        p.file_name().is_some_and(|n| {
            n == kind.marker()
                || (kind == Kind::Output
                    && (n == layout::LEDGER
                        || n == layout::LOCK
                        || (n == crate::registry::store::DEFAULT_DIR
                            && p.join(crate::registry::store::MARKER).is_file())))
        })
    };
    if entries.is_empty() || entries.iter().any(ours) {
        return Ok(());
    }
    let example = entries[0].file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Err(OutDirError::Foreign { path: path.to_path_buf(), example, what: kind.name() })
}

/// Refuses a folder inside a world or an output folder (a folder holding `_synth.json` or
/// `.sdu-out` above it): nothing is written into what another command owns.
pub fn check_not_nested(path: &Path) -> Result<(), OutDirError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    for above in abs.ancestors().skip(1) {
        for kind in [Kind::World, Kind::Output] {
            if above.join(kind.marker()).is_file() {
                return Err(OutDirError::Nested {
                    path: path.to_path_buf(),
                    owner: above.to_path_buf(),
                    what: kind.name(),
                });
            }
        }
    }
    Ok(())
}

/// Refuses an output inside (or equal to) the snapshot folder.
pub fn check_outside(out: &Path, snapshot: &Path) -> Result<(), OutDirError> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (o, s) = (abs(out), abs(snapshot));
    let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if o.starts_with(&s) || real(&o).starts_with(real(&s)) {
        return Err(OutDirError::InsideSnapshot { out: out.to_path_buf(), snapshot: snapshot.to_path_buf() });
    }
    Ok(())
}

/// An output folder opened for writing, under its lock.
pub struct OutDir {
    pub path: PathBuf,
    /// Created by this run: removed again if the run wrote nothing into it.
    created: bool,
    /// The groups the tiers were given ([`OutDir::grant`]); the day folders this run
    /// created are given theirs when it ends.
    groups: Groups,
    _lock: Lock,
}

/// The groups that may read an output folder's tiers: `all` the whole folder (and the audit
/// tier: the case ledger, the outcomes with their evidence), `portal` the day folders (the
/// portal's lists, outboxes and requests), `analysts` the analysts' tier and the reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    pub all: Option<u32>,
    pub portal: Option<u32>,
    pub analysts: Option<u32>,
}

impl Groups {
    pub fn is_empty(&self) -> bool {
        *self == Groups::default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Refused(#[from] OutDirError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl OutDir {
    /// Opens (or creates) an output folder: refuses one of another kind, takes the lock,
    /// marks it, and removes what runs killed midway left.
    pub fn open(path: &Path) -> Result<OutDir, OpenError> {
        check(path, Kind::Output)?;
        let created = !path.exists();
        let lock = Lock::acquire(path)?;
        let marker = path.join(Kind::Output.marker());
        if !marker.exists() {
            std::fs::write(&marker, "sdu output folder: run folders, reports and the case ledger\n")
                .map_err(|source| OutDirError::Io { path: marker.clone(), source })?;
        }
        // Deep enough for the ledger's own files and their caches:
        // ledger/offers/<pilot>/.compact/.offers-<n>.parquet.tmp-…
        remove_temporaries(path, 5);
        Ok(OutDir { path: path.to_path_buf(), created, groups: Groups::default(), _lock: lock })
    }
}

/// A group to grant read access to an output folder (`--group`).
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("{option} {group}: no such group")]
    Unknown { option: &'static str, group: String },
    #[error("{path}: cannot give it to group {gid}: {source} (the running user must own it and be in the group, or be root)")]
    Chown {
        path: PathBuf,
        gid: u32,
        #[source]
        source: std::io::Error,
    },
}

/// The id of a group given by name or number.
#[cfg(unix)]
pub fn group_id(option: &'static str, group: &str) -> Result<u32, GroupError> {
    if let Ok(gid) = group.parse::<u32>() {
        // SAFETY: getgrgid reads the group database; only the pointer's nullness is used.
        let known = gid != u32::MAX && !unsafe { libc::getgrgid(gid) }.is_null();
        return if known { Ok(gid) } else { Err(GroupError::Unknown { option, group: group.to_string() }) };
    }
    let name = std::ffi::CString::new(group)
        .map_err(|_| GroupError::Unknown { option, group: group.to_string() })?;
    // SAFETY: getgrnam reads the group database; the pointer is read at once, before any other
    // call that could reuse its static buffer.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(GroupError::Unknown { option, group: group.to_string() });
    }
    // SAFETY: non-null, as checked.
    Ok(unsafe { (*entry).gr_gid })
}

impl OutDir {
    /// Gives each tier to its group ([`Groups`]) with the setgid bit, so every file and folder
    /// created in it from now on belongs to the group too, readable by it (the caller sets the
    /// umask to 027 for the run: files 0640, folders 0750). What an earlier run wrote is given
    /// to the group the first time: its group, group read (and search, for folders), nothing
    /// for others; each tier's top folder last, so a walk that fails midway is walked again by
    /// the next run. Links are not followed: nothing outside the folder changes. With a
    /// portal or analysts' group the output folder lets others through (`o+x`, never `o+r`):
    /// their members reach their tier by its path and list nothing else.
    #[cfg(unix)]
    pub fn grant(&mut self, groups: Groups) -> Result<(), GroupError> {
        self.groups = groups;
        let tiers = self.tiers()?;
        for (path, gid) in &tiers {
            grant_tree(path, *gid, &is_legacy_evidence)?;
        }
        self.keep_legacy_evidence()?;
        let roots: Vec<PathBuf> = tiers.into_iter().map(|(p, _)| p).collect();
        if let Some(gid) = groups.all {
            grant_tree(&self.path, gid, &|p| roots.iter().any(|r| r == p))?;
        }
        if groups.portal.is_some() || groups.analysts.is_some() {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let meta = std::fs::metadata(&self.path).map_err(chown_error(&self.path, 0))?;
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(mode | 0o001))
                    .map_err(chown_error(&self.path, meta.gid()))?;
            }
        }
        Ok(())
    }

    /// The tiers given to a group of their own, and that group: each day folder (portal), the
    /// analysts' tier and the reports (created here, so what is written in them inherits it).
    #[cfg(unix)]
    fn tiers(&self) -> Result<Vec<(PathBuf, u32)>, GroupError> {
        let mut tiers = Vec::new();
        if let Some(gid) = self.groups.portal {
            let days = layout::days(&self.path).map_err(chown_error(&self.path, gid))?;
            tiers.extend(days.into_iter().map(|(_, d)| (d, gid)));
        }
        if let Some(gid) = self.groups.analysts {
            for root in [self.path.join(layout::ANALYSTS), layout::reports_root(&self.path)] {
                std::fs::create_dir_all(&root).map_err(chown_error(&root, gid))?;
                tiers.push((root, gid));
            }
        }
        Ok(tiers)
    }
}

/// Outcomes that days published before the tiers keep in the pilot's folder: the evidence,
/// which the portal's group never gets.
fn is_legacy_evidence(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n == layout::OUTCOMES || n == "outcomes.csv")
}

impl OutDir {
    /// With a portal group, the outcomes older days keep beside the portal's lists stay the
    /// audit tier's: given to `--group` (0640), or to the running user alone (0600).
    #[cfg(unix)]
    fn keep_legacy_evidence(&self) -> Result<(), GroupError> {
        use std::os::unix::fs::PermissionsExt;
        if self.groups.portal.is_none() {
            return Ok(());
        }
        let days = layout::days(&self.path).map_err(chown_error(&self.path, 0))?;
        for (_, day) in days {
            for pilot in layout::visible_entries(&day).map_err(chown_error(&day, 0))? {
                for f in [pilot.join(layout::OUTCOMES), pilot.join("outcomes.csv")] {
                    if !f.is_file() {
                        continue;
                    }
                    let mode = match self.groups.all {
                        Some(gid) => {
                            std::os::unix::fs::lchown(&f, None, Some(gid)).map_err(chown_error(&f, gid))?;
                            0o640
                        }
                        None => 0o600,
                    };
                    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode))
                        .map_err(chown_error(&f, 0))?;
                }
            }
        }
        Ok(())
    }
}

fn chown_error(path: &Path, gid: u32) -> impl Fn(std::io::Error) -> GroupError {
    let path = path.to_path_buf();
    move |source| GroupError::Chown { path: path.clone(), gid, source }
}

/// Gives `top` and what is below it (but the folders `skip` names, left to their own group)
/// to `gid`: see [`OutDir::grant`]. A top already the group's, with setgid, is done.
#[cfg(unix)]
fn grant_tree(top: &Path, gid: u32, skip: &dyn Fn(&Path) -> bool) -> Result<(), GroupError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(top).map_err(chown_error(top, gid))?;
    if meta.gid() == gid && meta.mode() & 0o2000 != 0 {
        return Ok(());
    }
    let give = |p: &Path, meta: &std::fs::Metadata| -> Result<(), GroupError> {
        std::os::unix::fs::lchown(p, None, Some(gid)).map_err(chown_error(p, gid))?;
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let mode = meta.permissions().mode() & !0o7027;
        let mode = if meta.is_dir() { mode | 0o2050 } else { mode | 0o040 };
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(chown_error(p, gid))
    };
    let list = |d: &Path| -> Result<Vec<PathBuf>, GroupError> {
        Ok(std::fs::read_dir(d)
            .map_err(chown_error(d, gid))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| !skip(p))
            .collect())
    };
    let mut stack = list(top)?;
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).map_err(chown_error(&p, gid))?;
        if meta.is_dir() {
            stack.extend(list(&p)?);
        }
        give(&p, &meta)?;
    }
    give(top, &meta)
}

impl Drop for OutDir {
    /// A folder this run created and left holding nothing but its marker and lock (the run
    /// failed before publishing) is removed: a failed run leaves no trace.
    fn drop(&mut self) {
        // Day folders this run created belong to the output folder's group until now.
        #[cfg(unix)]
        if self.groups.portal.is_some() {
            if let Err(e) = self
                .tiers()
                .and_then(|t| t.iter().try_for_each(|(p, g)| grant_tree(p, *g, &is_legacy_evidence)))
            {
                tracing::warn!("{e}; the next run gives it again");
            }
        }
        if !self.created {
            return;
        }
        let ours = [Kind::Output.marker(), layout::LOCK];
        let only_ours = std::fs::read_dir(&self.path)
            .map(|d| d.flatten().all(|e| ours.iter().any(|o| e.file_name() == *o)))
            .unwrap_or(false);
        if only_ours {
            ours.iter().for_each(|o| drop(std::fs::remove_file(self.path.join(o))));
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// An existing output folder, for commands that read its ledger (without the lock:
/// everything in it is published by one rename).
pub fn existing(path: &Path) -> Result<&Path, OutDirError> {
    let marked = path.join(Kind::Output.marker()).is_file() || path.join(layout::LEDGER).is_dir();
    if !path.is_dir() || !marked {
        return Err(OutDirError::Missing { path: path.to_path_buf(), marker: Kind::Output.marker() });
    }
    Ok(path)
}

/// Whether a file or folder name is one of our temporaries (`.<name>.tmp-<pid>`, and the
/// `.old` of a replaced folder).
fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Removes the temporaries below `dir` (to `depth` levels) that runs killed midway left.
/// Only called under the folder's lock, when no other run of ours can be writing there.
pub fn remove_temporaries(dir: &Path, depth: usize) -> usize {
    let mut removed = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if is_temporary(&name) {
            let gone =
                if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            match gone {
                Ok(()) => {
                    tracing::info!("{}: removed, left by a run that was stopped midway", path.display());
                    removed += 1;
                }
                Err(e) => tracing::warn!("{}: cannot remove ({e})", path.display()),
            }
        } else if depth > 1 && path.is_dir() && (!name.starts_with('.') || name == ".compact") {
            removed += remove_temporaries(&path, depth - 1);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_empty_or_marked_folders_are_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        assert!(check(&d.join("new"), Kind::Output).is_ok());
        std::fs::create_dir(d.join("empty")).unwrap();
        assert!(check(&d.join("empty"), Kind::World).is_ok());
        std::fs::create_dir(d.join("notes")).unwrap();
        std::fs::write(d.join("notes/notes.txt"), "mine").unwrap();
        for kind in [Kind::Output, Kind::World, Kind::Validation] {
            let e = check(&d.join("notes"), kind).unwrap_err().to_string();
            assert!(e.contains("holds other data (notes.txt"), "{e}");
        }
        std::fs::write(d.join("file"), "x").unwrap();
        assert!(matches!(check(&d.join("file"), Kind::World), Err(OutDirError::NotAFolder { .. })));
        std::fs::create_dir(d.join("world")).unwrap();
        std::fs::write(d.join("world/_synth.json"), "{}").unwrap();
        assert!(check(&d.join("world"), Kind::World).is_ok());
        assert!(check(&d.join("world"), Kind::Output).is_err(), "a world is not an output folder");
    }

    #[test]
    fn an_output_inside_the_snapshot_is_refused() {
        assert!(check_outside(Path::new("w"), Path::new("w")).is_err());
        assert!(check_outside(Path::new("w/report"), Path::new("w")).is_err());
        assert!(check_outside(Path::new("w.validation"), Path::new("w")).is_ok());
    }

    #[test]
    fn temporaries_are_found_by_name() {
        assert!(is_temporary(".sanitary.tmp-123"));
        assert!(is_temporary(".2026-01-01.parquet.tmp-9"));
        assert!(is_temporary(".sanitary.tmp-123.old"));
        assert!(!is_temporary("sanitary") && !is_temporary(".sdu.lock") && !is_temporary(".gitkeep"));
    }
}
