//! Ledger compaction: a cache of the concatenation of a folder's immutable ledger files, so a
//! long campaign's every run reads one compacted file and the few files since, not every file
//! since the first day (a day's cost stays flat).
//!
//! The cache lives in the folder's hidden `.compact/`: `<stem>-<n>.parquet` (the rows of
//! the first files, in order) and `<stem>.json` naming each file it covers with its size and
//! the CRC-32 of its bytes. It is used only when the files it names are, byte for byte, the
//! first files of the folder now; anything else (a file changed, removed or put before them, a
//! cache unreadable or half written) and the files themselves are read, as without a cache.
//! The ledger files stay the record: the cache is derived, rewritten, and may be deleted at
//! any time. Writing it is best effort: a failure is logged, never an error of the run.

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Files read beyond the cache before a run rewrites it (`SDU_COMPACT_AFTER` overrides it).
pub const REWRITE_AFTER: usize = 8;

fn rewrite_after() -> usize {
    std::env::var("SDU_COMPACT_AFTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(REWRITE_AFTER)
}

/// The cache's folder beside the files it covers.
pub fn dir(folder: &Path) -> PathBuf {
    folder.join(".compact")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Covered {
    name: String,
    bytes: u64,
    crc32: u32,
}

/// A covered file and how many of the cache's rows are its.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Part {
    #[serde(flatten)]
    file: Covered,
    rows: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    schema_version: u32,
    /// The data file, in the same folder, as written.
    data: Covered,
    covers: Vec<Part>,
}

const SCHEMA_VERSION: u32 = 2;

fn fingerprint(path: &Path) -> Option<Covered> {
    let bytes = std::fs::read(path).ok()?;
    Some(Covered {
        name: path.file_name()?.to_string_lossy().into_owned(),
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(&bytes),
    })
}

/// What a lookup found: the cached rows of the first files, and each one's rows (as many
/// entries as files covered).
pub struct Cached {
    pub frame: Option<DataFrame>,
    pub rows: Vec<u64>,
}

/// The cached rows of the longest run of first files of `files` (in order) the cache holds
/// byte for byte (a cache of more files serves an earlier date's fewer); nothing when there
/// is no usable cache.
pub fn lookup(folder: &Path, stem: &str, files: &[PathBuf]) -> Cached {
    let none = Cached { frame: None, rows: vec![] };
    let dir = dir(folder);
    let Some(meta) = std::fs::read(dir.join(format!("{stem}.json")))
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .filter(|m| m.schema_version == SCHEMA_VERSION)
    else {
        return none;
    };
    let covered =
        meta.covers.iter().zip(files).take_while(|(c, f)| fingerprint(f).as_ref() == Some(&c.file)).count();
    if covered == 0 {
        return none;
    }
    let path = dir.join(&meta.data.name);
    // The data file is checked like the files it covers: a file of other rows is not trusted.
    if fingerprint(&path).as_ref() != Some(&meta.data) {
        tracing::debug!(
            "{}: the cache's data file is not the one written; reading every file",
            path.display()
        );
        return none;
    }
    let read = PlRefPath::try_from_path(&path)
        .and_then(|p| LazyFrame::scan_parquet(p, ScanArgsParquet::default()))
        .and_then(LazyFrame::collect);
    let total: u64 = meta.covers.iter().map(|p| p.rows).sum();
    match read {
        Ok(df) if df.height() as u64 == total => {
            let rows: Vec<u64> = meta.covers[..covered].iter().map(|p| p.rows).collect();
            let frame = df.slice(0, rows.iter().sum::<u64>() as usize);
            Cached { frame: Some(frame), rows }
        }
        Ok(_) => none,
        Err(e) => {
            tracing::debug!("{}: unreadable cache ({e}); reading every file", path.display());
            none
        }
    }
}

/// Removes a folder's caches (they hold the rows as they were when written: after the files
/// were rewritten in place, as a retention purge does, they must go; the next read rebuilds
/// them from the files).
pub fn remove(folder: &Path) {
    let dir = dir(folder);
    if dir.is_dir() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(
                "{}: cannot remove the cache ({e}); it still holds rows as they were",
                dir.display()
            );
        }
    }
}

/// Writes the cache of `files` (in order; `rows`: each one's rows) whose rows are `frame`,
/// when enough files are beyond the current cache (`covered`). Best effort.
pub fn store(
    folder: &Path,
    stem: &str,
    files: &[PathBuf],
    rows: &[u64],
    covered: usize,
    frame: impl FnOnce() -> PolarsResult<DataFrame>,
) {
    if files.len() < covered + rewrite_after() || rows.len() != files.len() {
        return;
    }
    if let Err(e) = write(folder, stem, files, rows, frame) {
        tracing::warn!(
            "{}: cannot write the ledger's cache ({e}); the next run reads every file",
            dir(folder).display()
        );
    }
}

fn write(
    folder: &Path,
    stem: &str,
    files: &[PathBuf],
    rows: &[u64],
    frame: impl FnOnce() -> PolarsResult<DataFrame>,
) -> anyhow::Result<()> {
    let dir = dir(folder);
    std::fs::create_dir_all(&dir)?;
    let mut covers = Vec::with_capacity(files.len());
    for (f, n) in files.iter().zip(rows) {
        let file = fingerprint(f).ok_or_else(|| anyhow::anyhow!("{}: unreadable", f.display()))?;
        covers.push(Part { file, rows: *n });
    }
    let mut df = frame()?;
    anyhow::ensure!(df.height() as u64 == rows.iter().sum::<u64>(), "the rows do not add up");
    // Named by what it covers: two runs caching the same files write the same file.
    let name = format!("{stem}-{}.parquet", covers.len());
    crate::io::write_parquet_atomic(&mut df, &dir.join(&name))?;
    let data = fingerprint(&dir.join(&name)).ok_or_else(|| anyhow::anyhow!("{name}: unreadable"))?;
    let meta = Meta { schema_version: SCHEMA_VERSION, data, covers };
    crate::io::write_json_atomic(&meta, &dir.join(format!("{stem}.json")))?;
    // Data files no meta names any more (this run's predecessors, or a concurrent writer
    // that lost the race) go; a reader that still held one falls back to the files.
    let named = std::fs::read(dir.join(format!("{stem}.json")))
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .map(|m| m.data.name);
    for e in std::fs::read_dir(&dir)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{stem}-"))
            && name.ends_with(".parquet")
            && Some(&name) != named.as_ref()
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{lookup, store, REWRITE_AFTER};
    use polars::prelude::*;
    use std::path::PathBuf;

    fn file(dir: &std::path::Path, k: usize) -> PathBuf {
        let path = dir.join(format!("{k:03}.parquet"));
        let mut df = df!("k" => [k as i64]).unwrap();
        crate::io::write_parquet(&mut df, &path).unwrap();
        path
    }

    fn all(files: &[PathBuf]) -> PolarsResult<DataFrame> {
        let frames: Vec<LazyFrame> = files
            .iter()
            .map(|f| {
                LazyFrame::scan_parquet(PlRefPath::try_from_path(f).unwrap(), Default::default()).unwrap()
            })
            .collect();
        concat(frames, UnionArgs::default())?.collect()
    }

    fn keys(df: &DataFrame) -> Vec<i64> {
        df.column("k").unwrap().i64().unwrap().into_no_null_iter().collect()
    }

    /// The cache serves the files it holds byte for byte, first ones first (an earlier date's
    /// fewer files too); a file changed, put before them or a data file that is not the one
    /// written stop it there or entirely.
    #[test]
    fn the_cache_covers_a_prefix_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let mut files: Vec<PathBuf> = (0..REWRITE_AFTER).map(|k| file(d, k + 10)).collect();
        let ones = |n: usize| vec![1u64; n];
        assert_eq!(lookup(d, "x", &files).rows.len(), 0);
        store(d, "x", &files[..REWRITE_AFTER - 1], &ones(REWRITE_AFTER - 1), 0, || {
            all(&files[..REWRITE_AFTER - 1])
        });
        assert_eq!(lookup(d, "x", &files).rows.len(), 0, "not written before REWRITE_AFTER files");
        store(d, "x", &files, &ones(files.len()), 0, || all(&files));
        let found = lookup(d, "x", &files);
        assert_eq!((found.frame.unwrap().height(), found.rows.len()), (REWRITE_AFTER, REWRITE_AFTER));
        // A file after them: the cache still covers the first ones.
        files.push(file(d, 99));
        assert_eq!(lookup(d, "x", &files).rows.len(), REWRITE_AFTER);
        // An earlier date's fewer files: the cache's first rows.
        let fewer = lookup(d, "x", &files[..3]);
        assert_eq!((fewer.rows.len(), keys(&fewer.frame.unwrap())), (3, vec![10, 11, 12]));
        // A file before them: not a prefix any more.
        let mut earlier = vec![file(d, 1)];
        earlier.extend(files.iter().cloned());
        assert_eq!(lookup(d, "x", &earlier).rows.len(), 0);
        // A covered file rewritten with other bytes: the cache serves the files before it.
        let mut other = df!("k" => [7i64, 8]).unwrap();
        crate::io::write_parquet(&mut other, &files[3]).unwrap();
        let stale = lookup(d, "x", &files);
        assert_eq!((stale.rows.len(), keys(&stale.frame.unwrap())), (3, vec![10, 11, 12]));
        // Rewritten: the older data file goes.
        store(d, "x", &files, &[1, 1, 1, 2, 1, 1, 1, 1, 1], 0, || all(&files));
        assert_eq!(lookup(d, "x", &files).rows.len(), files.len());
        let data: Vec<PathBuf> = std::fs::read_dir(super::dir(d))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        assert_eq!(data.len(), 1, "the older data file is gone");
        // A valid Parquet file of other rows in its place: not trusted.
        crate::io::write_parquet(&mut df!("k" => [5i64]).unwrap(), &data[0]).unwrap();
        assert_eq!(lookup(d, "x", &files).rows.len(), 0);
        // A truncated one: not trusted either.
        std::fs::write(&data[0], b"PAR1").unwrap();
        assert_eq!(lookup(d, "x", &files).rows.len(), 0);
    }
}
