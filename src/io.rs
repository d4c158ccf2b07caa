//! Every write of a file goes through here: Parquet with the project's layout (zstd, fixed
//! row groups, statistics), JSON, and atomic publication of output folders.
//!
//! A folder is published by writing into a hidden sibling `.<name>.tmp-<pid>` and renaming
//! it into place once complete, so a reader sees the previous folder or the new one, never
//! half of one.

use polars::io::parquet::write::KeyValueMetadata;
use polars::prelude::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Rows per Parquet row group in every file we write: small enough for row-group skipping on
/// sorted keys, large enough for good compression.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path}: cannot write")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot encode")]
    Encode {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{path}: cannot encode JSON")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: cannot read")]
    Read {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("{path}: cannot write the spreadsheet")]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError::Write { path: path.to_path_buf(), source }
}

fn encode_err(path: &Path) -> impl FnOnce(PolarsError) -> IoError + '_ {
    move |source| IoError::Encode { path: path.to_path_buf(), source }
}

/// A writer of frames of this schema. The Arrow schema stored in the file (`ARROW:schema`,
/// which pyarrow, pandas and DuckDB read to pick column types) is the oldest-compatible one:
/// `large_string`, not the `string_view` polars writes by default, which pandas cannot open
/// inside a list ("Not implemented type for Arrow list to pandas: string_view"). The column
/// data is the same either way.
fn writer(file: File, schema: &Schema) -> ParquetWriter<BufWriter<File>> {
    let arrow = schema.to_arrow(CompatLevel::oldest());
    let key = polars_parquet::write::schema_to_metadata_key(&arrow);
    ParquetWriter::new(BufWriter::with_capacity(1 << 20, file))
        // zstd at polars' default level (3): fast to write, compact, fast to read.
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .with_key_value_metadata(Some(KeyValueMetadata::Static(vec![key])))
}

/// Writes a whole frame as one Parquet file.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), IoError> {
    let file = File::create(path).map_err(write_err(path))?;
    let schema = df.schema().clone();
    writer(file, &schema).finish(df).map_err(encode_err(path))?;
    Ok(())
}

/// A Parquet file written chunk by chunk, in constant memory: each call to
/// [`ParquetSink::write`] appends rows, cut into row groups of [`ROW_GROUP_ROWS`].
pub struct ParquetSink {
    path: PathBuf,
    inner: polars::io::parquet::write::BatchedWriter<BufWriter<File>>,
    pending: Option<DataFrame>,
    rows: u64,
}

impl ParquetSink {
    pub fn create(path: &Path, schema: &Schema) -> Result<ParquetSink, IoError> {
        let file = File::create(path).map_err(write_err(path))?;
        let inner = writer(file, schema).batched(schema).map_err(encode_err(path))?;
        Ok(ParquetSink { path: path.to_path_buf(), inner, pending: None, rows: 0 })
    }

    /// Appends rows. Full row groups are written at once; the rest waits for more rows.
    pub fn write(&mut self, df: DataFrame) -> Result<(), IoError> {
        let mut df = match self.pending.take() {
            Some(mut p) => {
                p.vstack_mut_owned(df).map_err(encode_err(&self.path))?;
                p
            }
            None => df,
        };
        let full = df.height() / ROW_GROUP_ROWS * ROW_GROUP_ROWS;
        let mut offset = 0;
        while offset < full {
            self.flush_slice(&df, offset, ROW_GROUP_ROWS)?;
            offset += ROW_GROUP_ROWS;
        }
        if offset < df.height() {
            let rest = df.slice(offset as i64, df.height() - offset);
            df = rest;
            self.pending = Some(df);
        }
        Ok(())
    }

    fn flush_slice(&mut self, df: &DataFrame, offset: usize, len: usize) -> Result<(), IoError> {
        let mut group = df.slice(offset as i64, len);
        group.rechunk_mut();
        self.inner.write_batch(&group).map_err(encode_err(&self.path))?;
        self.rows += len as u64;
        Ok(())
    }

    /// Writes what is left and the footer; returns the rows written.
    pub fn finish(mut self) -> Result<u64, IoError> {
        if let Some(df) = self.pending.take() {
            let h = df.height();
            self.flush_slice(&df, 0, h)?;
        }
        self.inner.finish().map_err(encode_err(&self.path))?;
        Ok(self.rows)
    }
}

/// Writes a frame as CSV for people and the portal: UTF-8 with a BOM (so Excel opens Kazakh
/// letters intact), RFC 4180 quoting and CRLF line ends. List columns are joined with `;`.
pub fn write_csv(df: &DataFrame, path: &Path) -> Result<(), IoError> {
    let mut flat = joined_lists(df, ";").map_err(encode_err(path))?;
    let file = File::create(path).map_err(write_err(path))?;
    let mut w = BufWriter::new(file);
    CsvWriter::new(&mut w)
        .include_bom(true)
        .include_header(true)
        .with_line_terminator("\r\n".into())
        .with_datetime_format(Some(CSV_TIME_FORMAT.into()))
        .finish(&mut flat)
        .map_err(encode_err(path))?;
    w.flush().map_err(write_err(path))
}

/// The frame with each list column joined into one text by `sep`.
fn joined_lists(df: &DataFrame, sep: &str) -> PolarsResult<DataFrame> {
    let lists: Vec<Expr> = df
        .schema()
        .iter()
        .filter(|(_, dt)| matches!(dt, DataType::List(_)))
        .map(|(name, _)| col(name.clone()).list().join(lit(sep.to_string()), true))
        .collect();
    df.clone().lazy().with_columns(lists).collect()
}

/// How a time is written in CSV: ISO 8601 with its offset, fractions of a second only when
/// there are any (`2025-09-02T09:00:00+05:00`), as [`crate::time::zoned`] writes JSON.
pub const CSV_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.f%:z";

/// The most data rows a worksheet holds (Excel's 1,048,576 rows, less the header).
pub const XLSX_MAX_ROWS: usize = 1_048_575;

/// Writes a frame as a one-sheet `.xlsx` for people who open the list by hand: every text,
/// identifiers included, as a text cell (a BIN keeps its leading zero), dates as dates
/// (`yyyy-mm-dd`), times as their ISO 8601 text with the offset (Excel has no zones), lists
/// joined by `; `; a bold, frozen header with filters. A frame over [`XLSX_MAX_ROWS`] is an
/// error naming the file, never a cut list.
pub fn write_xlsx(df: &DataFrame, sheet: &str, path: &Path) -> Result<(), IoError> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};
    let xlsx = |source: XlsxError| IoError::Xlsx { path: path.to_path_buf(), source };
    if df.height() > XLSX_MAX_ROWS {
        let source = XlsxError::RowColumnLimitError;
        tracing::error!(
            "{}: {} rows, more than a worksheet holds ({XLSX_MAX_ROWS})",
            path.display(),
            df.height()
        );
        return Err(xlsx(source));
    }
    let df = &joined_lists(df, "; ").map_err(encode_err(path))?;
    let mut book = Workbook::new();
    // A fixed creation time (the zip entries' own, 1980-01-01), as for every file we write:
    // the same frame gives the same bytes, so an exact re-run is recognised as one.
    let created = ExcelDateTime::from_ymd(1980, 1, 1).map_err(xlsx)?;
    book.set_properties(&DocProperties::new().set_title(sheet).set_creation_datetime(&created));
    let ws = book.add_worksheet();
    ws.set_name(sheet).map_err(xlsx)?;
    let (bold, day) = (Format::new().set_bold(), Format::new().set_num_format("yyyy-mm-dd"));
    for (c, column) in df.columns().iter().enumerate() {
        let c = c as u16;
        ws.write_string_with_format(0, c, column.name().as_str(), &bold).map_err(xlsx)?;
        let as_text: Option<Vec<Option<String>>> = match column.dtype() {
            DataType::String => {
                Some(column.str().map_err(encode_err(path))?.iter().map(|v| v.map(String::from)).collect())
            }
            DataType::Datetime(_, _) => Some(
                crate::frames::wall_clock_times(column)
                    .map_err(encode_err(path))?
                    .into_iter()
                    .map(|t| t.map(crate::time::zoned))
                    .collect(),
            ),
            _ => None,
        };
        if let Some(texts) = as_text {
            for (r, v) in texts.iter().enumerate() {
                if let Some(v) = v {
                    ws.write_string(r as u32 + 1, c, v).map_err(xlsx)?;
                }
            }
        } else if column.dtype() == &DataType::Date {
            let days = column.cast(&DataType::Int32).map_err(encode_err(path))?;
            for (r, v) in days.i32().map_err(encode_err(path))?.iter().enumerate() {
                if let Some(v) = v {
                    let d = crate::time::date(v);
                    use chrono::Datelike;
                    let at = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
                        .map_err(xlsx)?;
                    ws.write_date_with_format(r as u32 + 1, c, &at, &day).map_err(xlsx)?;
                }
            }
        } else if column.dtype() == &DataType::Boolean {
            for (r, v) in column.bool().map_err(encode_err(path))?.iter().enumerate() {
                if let Some(v) = v {
                    ws.write_boolean(r as u32 + 1, c, v).map_err(xlsx)?;
                }
            }
        } else {
            let numbers = column.cast(&DataType::Float64).map_err(encode_err(path))?;
            for (r, v) in numbers.f64().map_err(encode_err(path))?.iter().enumerate() {
                if let Some(v) = v {
                    ws.write_number(r as u32 + 1, c, v).map_err(xlsx)?;
                }
            }
        }
    }
    ws.set_freeze_panes(1, 0).map_err(xlsx)?;
    let last_col = df.width().saturating_sub(1) as u16;
    ws.autofilter(0, 0, df.height() as u32, last_col).map_err(xlsx)?;
    ws.autofit();
    book.save(path).map_err(xlsx)
}

/// SHA-256 of a file, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, IoError> {
    use sha2::{Digest, Sha256};
    let mut file = File::open(path).map_err(write_err(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(write_err(path))?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The folder a path is in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Reads a whole Parquet file.
pub fn read_parquet(path: &Path) -> Result<DataFrame, IoError> {
    let read = |source| IoError::Read { path: path.to_path_buf(), source };
    LazyFrame::scan_parquet(PlRefPath::try_from_path(path).map_err(read)?, ScanArgsParquet::default())
        .and_then(LazyFrame::collect)
        .map_err(read)
}

/// Copies a file, or a folder and everything below it; a link is copied as a link (never
/// followed: nothing outside comes in).
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), IoError> {
    let meta = fs::symlink_metadata(from).map_err(write_err(from))?;
    if meta.file_type().is_symlink() {
        #[cfg(unix)]
        {
            let target = fs::read_link(from).map_err(write_err(from))?;
            return std::os::unix::fs::symlink(target, to).map_err(write_err(to));
        }
    }
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(write_err(to))?;
        for e in fs::read_dir(from).map_err(write_err(from))?.flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(())
    } else {
        fs::copy(from, to).map(drop).map_err(write_err(to))
    }
}

/// Writes a Parquet file atomically: to a temporary name beside it, then renamed into place.
pub fn write_parquet_atomic(df: &mut DataFrame, path: &Path) -> Result<(), IoError> {
    let parent = parent_of(path);
    fs::create_dir_all(parent).map_err(write_err(parent))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    write_parquet(df, &tmp)?;
    // The same content already there (a re-run): left as it is.
    if fs::read(path).ok().is_some_and(|old| fs::read(&tmp).is_ok_and(|new| new == old)) {
        return fs::remove_file(&tmp).map_err(write_err(&tmp));
    }
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(write_err(&tmp))?;
    fs::rename(&tmp, path).map_err(write_err(path))?;
    sync_dir(parent)
}

/// A named point between two writes where a test can make the run fail, to check that a run
/// killed there leaves every store as before the run or as after it. Set
/// `SDU_FAIL_AT=<name>` to fail at that point; unset, this does nothing.
/// With `SDU_FAIL_SKIP=k`, the first k passes through the point succeed. With
/// `SDU_FAIL_HOW=hang` the process stops there instead, for a test to kill it with SIGKILL
/// (nothing runs after: no clean-up, no `Drop`).
pub fn fail_point(name: &str) -> Result<(), IoError> {
    static PASSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    match std::env::var("SDU_FAIL_AT") {
        Ok(v)
            if v == name
                && PASSES.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    >= std::env::var("SDU_FAIL_SKIP").ok().and_then(|k| k.parse().ok()).unwrap_or(0) =>
        {
            if std::env::var("SDU_FAIL_HOW").is_ok_and(|h| h == "hang") {
                eprintln!("hanging at `{name}` (SDU_FAIL_HOW=hang)");
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
            }
            Err(IoError::Write {
                path: PathBuf::from(name),
                source: std::io::Error::other(format!("failure injected at `{name}` (SDU_FAIL_AT)")),
            })
        }
        _ => Ok(()),
    }
}

/// Writes a JSON file atomically (a temporary name beside it, then renamed into place): a
/// reader never sees half of it.
pub fn write_json_atomic<T: serde::Serialize>(value: &T, path: &Path) -> Result<(), IoError> {
    let parent = parent_of(path);
    fs::create_dir_all(parent).map_err(write_err(parent))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    write_json(value, &tmp)?;
    File::open(&tmp).and_then(|f| f.sync_all()).map_err(write_err(&tmp))?;
    fs::rename(&tmp, path).map_err(write_err(path))?;
    sync_dir(parent)
}

/// Writes a text file.
pub fn write_text(path: &Path, text: &str) -> Result<(), IoError> {
    fs::write(path, text).map_err(write_err(path))
}

/// Writes a ledger file atomically when it has rows; without rows, removes an earlier one.
pub fn write_or_remove(df: &mut DataFrame, path: &Path) -> Result<(), IoError> {
    if df.height() > 0 {
        write_parquet_atomic(df, path)
    } else if path.exists() {
        fs::remove_file(path).map_err(write_err(path))
    } else {
        Ok(())
    }
}

/// Writes an empty marker file.
pub fn touch(path: &Path) -> Result<(), IoError> {
    File::create(path).map(|_| ()).map_err(write_err(path))
}

/// Writes a value as pretty JSON with a trailing newline.
pub fn write_json<T: serde::Serialize>(value: &T, path: &Path) -> Result<(), IoError> {
    let file = File::create(path).map_err(write_err(path))?;
    let mut w = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, value)
        .map_err(|source| IoError::Json { path: path.to_path_buf(), source })?;
    w.write_all(b"\n").map_err(write_err(path))?;
    w.flush().map_err(write_err(path))
}

/// Removes temporaries beside `target` left by processes that no longer run (for folders
/// written without a lock: a world, a validation report).
fn remove_stale_siblings(target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let parent = parent_of(target);
    let prefix = format!(".{name}.tmp-");
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = n.strip_prefix(&prefix) else { continue };
        let pid: u32 = rest.split('.').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path()).or_else(|_| std::fs::remove_file(e.path()));
            tracing::info!("{}: removed, left by a run that was stopped midway", e.path().display());
        }
    }
}

/// A folder being written, published atomically by [`Staging::publish`]. Dropped without
/// publishing, it is removed and the target is left as it was.
pub struct Staging {
    target: PathBuf,
    tmp: PathBuf,
    published: bool,
}

impl Staging {
    pub fn new(target: &Path) -> Result<Staging, IoError> {
        let parent = parent_of(target);
        fs::create_dir_all(parent).map_err(write_err(parent))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        remove_stale_siblings(target);
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(write_err(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(write_err(&tmp))?;
        Ok(Staging { target: target.to_path_buf(), tmp, published: false })
    }

    /// Where the folder goes.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where to write the folder's files.
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    /// Renames the folder into place, replacing an earlier one. Its files reach the disk
    /// before the rename, and the rename before this returns (temp, fsync, rename, fsync the
    /// parent).
    pub fn publish(mut self) -> Result<PathBuf, IoError> {
        sync_tree(&self.tmp)?;
        if self.target.exists() {
            if exchange(&self.tmp, &self.target).map_err(write_err(&self.target))? {
                // The earlier folder is now at the temporary name: a run killed before it is
                // removed leaves it to the next run's clean-up, never a missing target.
                sync_dir(parent_of(&self.target))?;
                fs::remove_dir_all(&self.tmp).map_err(write_err(&self.tmp))?;
            } else {
                let mut old = self.tmp.clone().into_os_string();
                old.push(".old");
                let old = PathBuf::from(old);
                fs::rename(&self.target, &old).map_err(write_err(&self.target))?;
                fs::rename(&self.tmp, &self.target).map_err(write_err(&self.target))?;
                fs::remove_dir_all(&old).map_err(write_err(&old))?;
            }
        } else {
            fs::rename(&self.tmp, &self.target).map_err(write_err(&self.target))?;
        }
        sync_dir(parent_of(&self.target))?;
        self.published = true;
        Ok(self.target.clone())
    }
}

/// Swaps two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`): false where the system
/// or the file system cannot, and the caller falls back to two renames.
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
        let (a, b) = (c(a)?, c(b)?);
        // SAFETY: both are NUL-terminated paths that live across the call.
        let rc = unsafe {
            libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE)
        };
        if rc == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
            _ => Err(e),
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// An exclusive lock on an output folder: an OS advisory lock (`flock`) on `<dir>/.sdu.lock`,
/// released by the kernel when the process ends, however it ends: no pid to judge, nothing
/// stale to take over. The file keeps the holder's pid and start time, for the message a
/// second run gets.
pub struct Lock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path}: another run ({holder}) holds this output folder; wait for it, or stop it")]
    Held { path: PathBuf, holder: String },
    #[error("{path}: cannot take the lock")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Lock {
    /// Takes the lock of `dir` (created if need be), or fails at once if another process
    /// holds it.
    pub fn acquire(dir: &Path) -> Result<Lock, LockError> {
        let path = crate::layout::lock_file(dir);
        let io = |source| LockError::Io { path: path.clone(), source };
        fs::create_dir_all(dir).map_err(io)?;
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let text = fs::read_to_string(&path).unwrap_or_default();
                let holder = match text.split_whitespace().collect::<Vec<_>>()[..] {
                    [pid, since, ..] => format!("pid {pid}, since {since}"),
                    _ => "starting".to_string(),
                };
                return Err(LockError::Held { path, holder });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{} {}", std::process::id(), chrono::Utc::now().to_rfc3339()).map_err(io)?;
        Ok(Lock { _file: file })
    }
}

/// Flushes a folder's entries (a rename into it, a file created in it) to disk.
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(write_err(dir))
}

/// Flushes every file below `dir`, and the folders themselves, to disk.
pub fn sync_tree(dir: &Path) -> Result<(), IoError> {
    for e in fs::read_dir(dir).map_err(write_err(dir))? {
        let e = e.map_err(write_err(dir))?;
        let (path, kind) = (e.path(), e.file_type().map_err(write_err(dir))?);
        // A link is not followed (its target is not ours to flush, and may be a loop).
        if kind.is_symlink() {
            continue;
        } else if kind.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path).and_then(|f| f.sync_all()).map_err(write_err(&path))?;
        }
    }
    sync_dir(dir)
}
