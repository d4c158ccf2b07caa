//! Publication of a run's folder for the portal and analysts: files written into a staging
//! folder, a `manifest.json` (schema version, tool version, run id, as-of date, every input
//! and output with SHA-256 and rows), `_SUCCESS` last, then one rename into place.

use crate::contract::{self, Table};
use crate::io::{self, IoError, Staging};
use crate::layout;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the published files' layout; bumped when a column changes meaning or goes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub sha256: String,
    pub rows: u64,
}

/// An input registry as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputEntry {
    pub file: String,
    pub sha256: String,
    pub rows: u64,
    /// Rows left out because they failed an error-severity validation rule.
    pub left_out: u64,
}

/// Fields of the run; the only ones that change between two runs of the same inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub tool: String,
    pub tool_version: String,
    pub run: RunInfo,
    pub as_of: String,
    pub pilot: Option<String>,
    pub snapshot: String,
    pub inputs: Vec<InputEntry>,
    pub outputs: Vec<FileEntry>,
    /// In the analysts' tier: the fingerprint of the key its pseudonyms were made under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym_key: Option<String>,
    /// The date of the latest retention purge that removed personal data from the folder
    /// (`sdu purge`; its record: `<out>/audit/purges/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_on: Option<String>,
}

impl Manifest {
    /// A manifest for a run that started at `started` and finishes now; outputs are filled in
    /// by [`RunFolder::publish`].
    pub fn new(
        started: chrono::DateTime<chrono::Utc>,
        as_of: String,
        pilot: Option<String>,
        snapshot: String,
        inputs: Vec<InputEntry>,
    ) -> Manifest {
        Manifest::for_run(RunInfo::since(started), as_of, pilot, snapshot, inputs)
    }

    /// A manifest of a run whose fields several folders share (a candidates run publishes one
    /// folder per pilot).
    pub fn for_run(
        run: RunInfo,
        as_of: String,
        pilot: Option<String>,
        snapshot: String,
        inputs: Vec<InputEntry>,
    ) -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            tool: "sdu".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            run,
            as_of,
            pilot,
            snapshot,
            inputs,
            outputs: vec![],
            pseudonym_key: None,
            purged_on: None,
        }
    }
}

impl RunInfo {
    /// A run that started at `started` and finishes now.
    pub fn since(started: chrono::DateTime<chrono::Utc>) -> RunInfo {
        RunInfo {
            id: run_id(started),
            started_at: crate::time::zoned_utc(started),
            finished_at: crate::time::zoned_utc(chrono::Utc::now()),
        }
    }
}

/// The manifest of a published folder (one with `_SUCCESS`), if it reads.
pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    if !layout::is_published(dir) {
        return None;
    }
    serde_json::from_slice(&std::fs::read(dir.join(layout::MANIFEST)).ok()?).ok()
}

/// A folder being filled; nothing is visible at the target until [`RunFolder::publish`].
pub struct RunFolder {
    staging: Staging,
    outputs: Vec<FileEntry>,
    /// The tables whose CSV is in the folder, for its `datapackage.json`.
    tables: Vec<&'static Table>,
}

impl RunFolder {
    pub fn new(target: &Path) -> Result<RunFolder, IoError> {
        Ok(RunFolder { staging: Staging::new(target)?, outputs: Vec::new(), tables: Vec::new() })
    }

    fn record(&mut self, name: &str, rows: u64) -> Result<(), IoError> {
        let sha256 = io::sha256_file(&self.staging.dir().join(name))?;
        self.outputs.push(FileEntry { file: name.to_string(), sha256, rows });
        Ok(())
    }

    pub fn parquet(&mut self, name: &str, df: &mut DataFrame) -> Result<(), IoError> {
        io::write_parquet(df, &self.staging.dir().join(name))?;
        self.record(name, df.height() as u64)
    }

    pub fn csv(&mut self, name: &str, df: &DataFrame) -> Result<(), IoError> {
        io::write_csv(df, &self.staging.dir().join(name))?;
        self.record(name, df.height() as u64)
    }

    /// A published table: its frame checked against the table's contract
    /// ([`crate::contract`]), then written as Parquet, CSV and, for the lists people open by hand,
    /// `.xlsx`; the CSV goes into the folder's `datapackage.json`.
    pub fn table(&mut self, table: &'static Table, df: &mut DataFrame) -> Result<(), TableError> {
        table.check(df)?;
        self.parquet(&table.parquet(), df)?;
        self.csv(&table.csv(), df)?;
        self.tables.push(table);
        if table.xlsx {
            io::write_xlsx(df, table.name, &self.staging.dir().join(table.xlsx()))?;
            self.record(&table.xlsx(), df.height() as u64)?;
        }
        Ok(())
    }

    /// Where files are being written (for writers that make their own files, like charts;
    /// record them with [`RunFolder::record_file`]).
    pub fn dir(&self) -> &Path {
        self.staging.dir()
    }

    /// Records a file some other writer put in the folder.
    pub fn record_file(&mut self, name: &str) -> Result<(), IoError> {
        self.record(name, 0)
    }

    pub fn text(&mut self, name: &str, text: &str) -> Result<(), IoError> {
        io::write_text(&self.staging.dir().join(name), text)?;
        self.record(name, text.lines().count() as u64)
    }

    /// A text file holding `rows` rows of a table (a JSON table: not one row per line).
    pub fn table_text(&mut self, name: &str, text: &str, rows: u64) -> Result<(), IoError> {
        io::write_text(&self.staging.dir().join(name), text)?;
        self.record(name, rows)
    }

    pub fn json<T: Serialize>(&mut self, name: &str, value: &T, rows: u64) -> Result<(), IoError> {
        io::write_json(value, &self.staging.dir().join(name))?;
        self.record(name, rows)
    }

    /// `datapackage.json`: a Frictionless Data Package of the folder's CSV files, their
    /// schemas from the contract, with each file's size and SHA-256; listed among the outputs.
    fn data_package(&mut self) -> Result<(), IoError> {
        let dir = self.staging.dir().to_path_buf();
        let name =
            self.staging.target().file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let mut resources = Vec::new();
        for t in &self.tables {
            let sha =
                self.outputs.iter().find(|o| o.file == t.csv()).map(|o| o.sha256.clone()).unwrap_or_default();
            let bytes = std::fs::metadata(dir.join(t.csv())).map(|m| m.len()).unwrap_or(0);
            resources.push(t.resource(Some((bytes, &sha))));
        }
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' })
            .collect();
        let rows = resources.len() as u64;
        self.json(layout::DATA_PACKAGE, &contract::package(&name, resources), rows)
    }

    /// Writes the manifest and `_SUCCESS`, then renames the folder into place, replacing an
    /// earlier one. A target already published with the same outputs (names and SHA-256) is
    /// left as it is, manifest included: an exact re-run changes nothing.
    pub fn publish(self, manifest: Manifest) -> Result<PathBuf, IoError> {
        match self.finish(manifest, true) {
            Ok(path) => Ok(path),
            Err(PublishError::Io(e)) => Err(e),
            Err(PublishError::Differs { path }) => unreachable!("{}: replaced, not refused", path.display()),
        }
    }

    /// As [`RunFolder::publish`], but a target already published with other outputs is an
    /// error, and stays as it is: what the portal may have read is never replaced.
    pub fn publish_once(self, manifest: Manifest) -> Result<PathBuf, PublishError> {
        self.finish(manifest, false)
    }

    fn finish(mut self, mut manifest: Manifest, replace: bool) -> Result<PathBuf, PublishError> {
        if !self.tables.is_empty() {
            self.data_package()?;
        }
        let target = self.staging.target().to_path_buf();
        if let Some(published) = published_outputs(&target) {
            let ours: Vec<(String, String)> =
                self.outputs.iter().map(|o| (o.file.clone(), o.sha256.clone())).collect();
            if published == ours {
                if intact(&target, &published) {
                    return Ok(target);
                }
                // A published file is missing or damaged: the same outputs are published again.
                tracing::warn!(
                    "{}: a published file is missing or damaged; publishing it again",
                    target.display()
                );
            } else if !replace {
                return Err(PublishError::Differs { path: target });
            }
        }
        manifest.outputs = self.outputs;
        io::write_json(&manifest, &self.staging.dir().join(layout::MANIFEST))?;
        io::touch(&self.staging.dir().join(layout::SUCCESS))?;
        Ok(self.staging.publish()?)
    }
}

/// Publishes a published folder again with some of its tables changed (`tables`: every table
/// of the folder, as it is to be), its other files as they were, and what it held beyond its
/// manifest (not sdu's) untouched; `manifest` is its manifest as it is to be. The folder is
/// swapped in one step.
pub fn rewrite(
    folder: &Path,
    tables: Vec<(&'static Table, DataFrame)>,
    manifest: Manifest,
) -> Result<PathBuf, TableError> {
    let mut staged = RunFolder::new(folder)?;
    let mut written: std::collections::HashSet<String> =
        [layout::DATA_PACKAGE, layout::MANIFEST, layout::SUCCESS].into_iter().map(String::from).collect();
    for (t, mut df) in tables {
        staged.table(t, &mut df)?;
        written.extend([t.parquet(), t.csv(), t.xlsx()]);
    }
    for o in &manifest.outputs {
        if written.contains(&o.file) {
            continue;
        }
        let to = staged.dir().join(&o.file);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|source| IoError::Write { path: to.clone(), source })?;
        }
        io::copy_tree(&folder.join(&o.file), &to)?;
        staged.record(&o.file, o.rows)?;
        written.insert(o.file.clone());
    }
    let entries =
        std::fs::read_dir(folder).map_err(|source| IoError::Write { path: folder.into(), source })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !written.contains(&name)
            && !manifest.outputs.iter().any(|o| o.file.starts_with(&format!("{name}/")))
        {
            io::copy_tree(&e.path(), &staged.dir().join(&name))?;
        }
    }
    io::fail_point("rewrite:before-swap")?;
    Ok(staged.publish(Manifest { outputs: vec![], ..manifest })?)
}

/// Whether every output the manifest lists is there with its SHA-256.
fn intact(dir: &Path, outputs: &[(String, String)]) -> bool {
    outputs.iter().all(|(file, sha)| io::sha256_file(&dir.join(file)).is_ok_and(|h| &h == sha))
}

/// The outputs (file, SHA-256) a published folder's manifest lists, if it is published.
fn published_outputs(dir: &Path) -> Option<Vec<(String, String)>> {
    Some(read_manifest(dir)?.outputs.into_iter().map(|o| (o.file, o.sha256)).collect())
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{path}: already published with other contents; a published folder is never replaced")]
    Differs { path: PathBuf },
}

/// A table that could not be written: its frame breaks the contract (a bug), or the disk.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Contract(#[from] contract::Mismatch),
}

/// A run id: the start time and the process, unique on one machine.
pub fn run_id(started: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}-{}", started.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id())
}
