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

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    schema_version: u32,
    /// The data file, in the same folder.
    file: String,
    covers: Vec<Covered>,
}

fn fingerprint(path: &Path) -> Option<Covered> {
    let bytes = std::fs::read(path).ok()?;
    Some(Covered {
        name: path.file_name()?.to_string_lossy().into_owned(),
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(&bytes),
    })
}

/// The cached rows of the first files of `files` (in order) and how many files they cover;
/// `(None, 0)` when there is no usable cache.
pub fn lookup(folder: &Path, stem: &str, files: &[PathBuf]) -> (Option<DataFrame>, usize) {
    let dir = dir(folder);
    let Some(meta) = std::fs::read(dir.join(format!("{stem}.json")))
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .filter(|m| m.schema_version == 1 && m.covers.len() <= files.len() && !m.covers.is_empty())
    else {
        return (None, 0);
    };
    let fresh = meta.covers.iter().zip(files).all(|(c, f)| fingerprint(f).as_ref() == Some(c));
    if !fresh {
        tracing::debug!("{}: the ledger changed under its cache; reading every file", dir.display());
        return (None, 0);
    }
    let path = dir.join(&meta.file);
    let read = PlRefPath::try_from_path(&path)
        .and_then(|p| LazyFrame::scan_parquet(p, ScanArgsParquet::default()))
        .and_then(LazyFrame::collect);
    match read {
        Ok(df) => (Some(df), meta.covers.len()),
        Err(e) => {
            tracing::debug!("{}: unreadable cache ({e}); reading every file", path.display());
            (None, 0)
        }
    }
}

/// Writes the cache of `files` (in order) whose rows are `frame`, when enough files are
/// beyond the current cache (`covered`). Best effort.
pub fn store(
    folder: &Path,
    stem: &str,
    files: &[PathBuf],
    covered: usize,
    frame: impl FnOnce() -> PolarsResult<DataFrame>,
) {
    if files.len() < covered + rewrite_after() {
        return;
    }
    if let Err(e) = write(folder, stem, files, frame) {
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
    frame: impl FnOnce() -> PolarsResult<DataFrame>,
) -> anyhow::Result<()> {
    let dir = dir(folder);
    std::fs::create_dir_all(&dir)?;
    let covers: Vec<Covered> = files
        .iter()
        .map(|f| fingerprint(f).ok_or_else(|| anyhow::anyhow!("{}: unreadable", f.display())))
        .collect::<anyhow::Result<_>>()?;
    // Named by what it covers: two runs caching the same files write the same file.
    let file = format!("{stem}-{}.parquet", covers.len());
    let mut df = frame()?;
    crate::io::write_parquet_atomic(&mut df, &dir.join(&file))?;
    crate::io::write_json_atomic(
        &Meta { schema_version: 1, file: file.clone(), covers },
        &dir.join(format!("{stem}.json")),
    )?;
    // Data files no meta names any more (this run's predecessors, or a concurrent writer
    // that lost the race) go; a reader that still held one falls back to the files.
    let named = std::fs::read(dir.join(format!("{stem}.json")))
        .ok()
        .and_then(|b| serde_json::from_slice::<Meta>(&b).ok())
        .map(|m| m.file);
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

    /// The cache is used for the files it covers, ignored when one of them changed or a file
    /// came before them, and a broken cache is never trusted.
    #[test]
    fn the_cache_covers_a_prefix_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let mut files: Vec<PathBuf> = (0..REWRITE_AFTER).map(|k| file(d, k + 10)).collect();
        assert_eq!(lookup(d, "x", &files).1, 0);
        store(d, "x", &files[..REWRITE_AFTER - 1], 0, || all(&files));
        assert_eq!(lookup(d, "x", &files).1, 0, "not written before REWRITE_AFTER files");
        store(d, "x", &files, 0, || all(&files));
        let (df, n) = lookup(d, "x", &files);
        assert_eq!((df.unwrap().height(), n), (REWRITE_AFTER, REWRITE_AFTER));
        // A file after them: the cache still covers the first ones.
        files.push(file(d, 99));
        assert_eq!(lookup(d, "x", &files).1, REWRITE_AFTER);
        // A file before them: not a prefix any more.
        let mut earlier = vec![file(d, 1)];
        earlier.extend(files.iter().cloned());
        assert_eq!(lookup(d, "x", &earlier).1, 0);
        // A covered file rewritten with other bytes: stale.
        let mut other = df!("k" => [7i64, 8]).unwrap();
        crate::io::write_parquet(&mut other, &files[3]).unwrap();
        assert_eq!(lookup(d, "x", &files).1, 0);
        // A truncated data file: not trusted.
        store(d, "x", &files, 0, || all(&files));
        assert_eq!(lookup(d, "x", &files).1, files.len());
        let data: Vec<PathBuf> = std::fs::read_dir(super::dir(d))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        assert_eq!(data.len(), 1, "the older data file is gone");
        std::fs::write(&data[0], b"PAR1").unwrap();
        assert_eq!(lookup(d, "x", &files), (None, 0));
    }
}
