//! Key lookups in a large Parquet file sorted by `iin`: arrow-rs page index + RowSelection
//! against polars `scan_parquet(..).filter(col("iin").is_in(keys))`.
//!
//!     prs-bench [SRC] [WORKDIR] [ROUNDS]
//!
//! SRC defaults to ~/.cache/sdu-bench/country/individuals.parquet, WORKDIR to /tmp/prs.
//! The arrow-rs copies (LZ4_RAW, page statistics + page index, 1,048,576-row row groups,
//! 1024 / 8192 rows per data page) are written once into WORKDIR and reused.

use anyhow::{bail, Context, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, RecordBatchReader};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

const COLUMNS: [&str; 13] = [
    "iin",
    "surname",
    "first_name",
    "patronymic",
    "kato",
    "death_date",
    "declared_dead_on",
    "missing_declared_on",
    "emigrated_on",
    "incapable_from",
    "incapable_until",
    "imprisoned_from",
    "imprisoned_until",
];
const KEY: &str = "iin";
const NKEYS: usize = 3001;
const STEP: usize = 6671;
const ROW_GROUP: usize = 1 << 20;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let src = PathBuf::from(args.next().unwrap_or_else(|| {
        format!("{}/.cache/sdu-bench/country/individuals.parquet", std::env::var("HOME").unwrap())
    }));
    let work = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/prs".into()));
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    std::fs::create_dir_all(&work)?;

    // 1. The arrow-rs copies.
    let mut files: Vec<(String, PathBuf)> = vec![("original".into(), src.clone())];
    for rows_per_page in [1024usize, 8192] {
        let out = work.join(format!("individuals_lz4raw_p{rows_per_page}.parquet"));
        if !out.exists() {
            let t = Instant::now();
            write_copy(&src, &out, rows_per_page, false)?;
            eprintln!("wrote {} in {:.1} s", out.display(), t.elapsed().as_secs_f64());
        }
        files.push((format!("arrow p{rows_per_page}"), out));
    }
    if std::env::var("PRS_BLOOM").is_ok() {
        let out = work.join("individuals_lz4raw_p8192_bloom.parquet");
        if !out.exists() {
            let t = Instant::now();
            write_copy(&src, &out, 8192, true)?;
            eprintln!("wrote {} in {:.1} s", out.display(), t.elapsed().as_secs_f64());
        }
        files.push(("arrow p8192+bloom".into(), out));
    }
    for (name, path) in &files {
        let (rgs, pages) = layout(path)?;
        println!(
            "{name:<18} {:>12} bytes  {rgs:>4} row groups  {pages:>6} iin pages  {}",
            std::fs::metadata(path)?.len(),
            path.display()
        );
    }

    // 2. Keys: every STEP-th row (spread) and NKEYS consecutive rows from the middle.
    let (spread, clustered) = keys(&src, &work)?;
    println!("keys: spread {} ({} .. {}), clustered {} ({} .. {})", spread.len(), spread[0],
        spread[spread.len() - 1], clustered.len(), clustered[0], clustered[clustered.len() - 1]);

    if rounds == 0 {
        return Ok(());
    }

    // 3-5. Rounds, methods alternating within each round.
    type Method<'a> = (String, Box<dyn Fn(&[String]) -> Result<usize> + 'a>);
    let mut methods: Vec<Method> = Vec::new();
    for (name, path) in &files {
        let p = path.clone();
        methods.push((format!("arrow-rs pages  {name}"), Box::new(move |k| arrow_lookup(&p, k))));
    }
    #[cfg(feature = "polars")]
    for (name, path) in &files {
        let p = path.clone();
        methods.push((format!("polars is_in    {name}"), Box::new(move |k| peer::polars_lookup(&p, k))));
    }
    let sets: [(&str, &[String]); 2] = [("spread", &spread), ("clustered", &clustered)];
    let mut times = vec![vec![Vec::new(); sets.len()]; methods.len()];
    let mut found: [Option<usize>; 2] = [None, None];
    for round in 0..rounds {
        for (s, (set_name, set)) in sets.iter().enumerate() {
            // Alternate the order of methods from one round to the next.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..methods.len()).collect()
            } else {
                (0..methods.len()).rev().collect()
            };
            for m in order {
                let t = Instant::now();
                let n = (methods[m].1)(set)?;
                let dt = t.elapsed().as_secs_f64();
                // Every method must return the same rows (the key may repeat in the data).
                let want = *found[s].get_or_insert(n);
                if n != want || n < set.len() {
                    bail!("{} on {set_name}: found {n} rows, expected {want} (>= {})", methods[m].0, set.len());
                }
                times[m][s].push(dt);
            }
        }
        eprintln!("round {} done", round + 1);
    }
    println!(
        "\nmedian of {rounds} runs (s); every run of every method found the same rows: spread {} rows for {} keys, clustered {} rows for {} keys",
        found[0].unwrap(), spread.len(), found[1].unwrap(), clustered.len()
    );
    println!("{:<34} {:>10} {:>10}", "method / file", "spread", "clustered");
    for (m, (name, _)) in methods.iter().enumerate() {
        println!("{name:<34} {:>10.4} {:>10.4}", median(&times[m][0]), median(&times[m][1]));
    }
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Leaf column indices of `names` in the file's Parquet schema (all columns are flat).
fn leaves(meta: &ArrowReaderMetadata, names: &[&str]) -> Result<Vec<usize>> {
    let schema = meta.metadata().file_metadata().schema_descr();
    names
        .iter()
        .map(|n| {
            (0..schema.num_columns())
                .find(|&i| schema.column(i).name() == *n)
                .with_context(|| format!("no column {n}"))
        })
        .collect()
}

fn write_copy(src: &Path, out: &Path, rows_per_page: usize, bloom: bool) -> Result<()> {
    let meta = ArrowReaderMetadata::load(&File::open(src)?, ArrowReaderOptions::new())?;
    let cols = leaves(&meta, &COLUMNS)?;
    let mask = ProjectionMask::leaves(meta.metadata().file_metadata().schema_descr(), cols);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(src)?, meta)
        .with_projection(mask)
        .with_batch_size(65536)
        .build()?;
    let mut props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_data_page_row_count_limit(rows_per_page)
        .set_write_batch_size(rows_per_page.min(1024))
        .set_max_row_group_row_count(Some(ROW_GROUP))
        // A unique key gains nothing from a dictionary, and a dictionary page would have to
        // be read before any data page of the chunk.
        .set_column_dictionary_enabled(ColumnPath::from(KEY), false);
    if bloom {
        props = props
            .set_column_bloom_filter_enabled(ColumnPath::from(KEY), true)
            .set_column_bloom_filter_fpp(ColumnPath::from(KEY), 0.01)
            .set_column_bloom_filter_max_ndv(ColumnPath::from(KEY), ROW_GROUP as u64);
    }
    let tmp = out.with_extension("tmp");
    let mut w = ArrowWriter::try_new(File::create(&tmp)?, reader.schema(), Some(props.build()))?;
    for batch in reader {
        w.write(&batch?)?;
    }
    w.close()?;
    std::fs::rename(tmp, out)?;
    Ok(())
}

fn open(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let file = File::open(path)?;
    let opts = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    let meta = ArrowReaderMetadata::load(&file, opts)?;
    Ok((file, meta))
}

/// (row groups, pages of the key column)
fn layout(path: &Path) -> Result<(usize, usize)> {
    let (_, meta) = open(path)?;
    let key = leaves(&meta, &[KEY])?[0];
    let md = meta.metadata();
    let pi = md.page_index().context("no page index")?;
    let mut pages = 0;
    for rg in 0..md.num_row_groups() {
        pages += pi.offset_index(rg, key).context("no offset index")?.page_locations().len();
    }
    Ok((md.num_row_groups(), pages))
}

/// Byte-string values of a string column (Utf8, LargeUtf8 or Utf8View).
fn for_each_str(a: &dyn Array, mut f: impl FnMut(usize, Option<&[u8]>)) -> Result<()> {
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().iter().enumerate().for_each(|(i, v)| f(i, v.map(str::as_bytes))),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().enumerate().for_each(|(i, v)| f(i, v.map(str::as_bytes))),
        DataType::Utf8View => a.as_string_view().iter().enumerate().for_each(|(i, v)| f(i, v.map(str::as_bytes))),
        t => bail!("key column is {t}"),
    }
    Ok(())
}

fn keys(src: &Path, work: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let cache = work.join("keys.txt");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        let v: Vec<String> = text.lines().map(String::from).collect();
        if v.len() == 2 * NKEYS {
            return Ok((v[..NKEYS].to_vec(), v[NKEYS..].to_vec()));
        }
    }
    let meta = ArrowReaderMetadata::load(&File::open(src)?, ArrowReaderOptions::new())?;
    let total = meta.metadata().file_metadata().num_rows() as usize;
    let key = leaves(&meta, &[KEY])?;
    let mask = ProjectionMask::leaves(meta.metadata().file_metadata().schema_descr(), key);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(File::open(src)?, meta)
        .with_projection(mask)
        .with_batch_size(65536)
        .build()?;
    let mid = total / 2 - NKEYS / 2;
    let (mut spread, mut clustered) = (Vec::new(), Vec::new());
    let mut base = 0usize;
    for batch in reader {
        let batch = batch?;
        for_each_str(batch.column(0).as_ref(), |i, v| {
            let row = base + i;
            let v = || String::from_utf8(v.unwrap().to_vec()).unwrap();
            if row % STEP == 0 && spread.len() < NKEYS {
                spread.push(v());
            }
            if (mid..mid + NKEYS).contains(&row) {
                clustered.push(v());
            }
        })?;
        base += batch.num_rows();
    }
    assert_eq!(spread.len(), NKEYS, "file too short for {NKEYS} keys every {STEP} rows");
    std::fs::write(&cache, [spread.join("\n"), clustered.join("\n")].join("\n") + "\n")?;
    Ok((spread, clustered))
}

/// The lookup: page index of `iin` -> candidate pages -> read `iin` of those pages only ->
/// exact rows -> read the 13 columns of exactly those rows. Returns the number of rows read.
fn arrow_lookup(path: &Path, keys: &[String]) -> Result<usize> {
    let (file, meta) = open(path)?;
    let key_col = leaves(&meta, &[KEY])?[0];
    let cols = leaves(&meta, &COLUMNS)?;
    let md = meta.metadata().clone();
    let total = md.file_metadata().num_rows() as usize;
    let pi = md.page_index().context("no page index")?;

    let mut sorted: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    sorted.sort_unstable();
    sorted.dedup();

    // Candidate pages (global row ranges), in file order.
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut rg_base = 0usize;
    for rg in 0..md.num_row_groups() {
        let rg_rows = md.row_group(rg).num_rows() as usize;
        let locs = pi.offset_index(rg, key_col).context("no offset index")?.page_locations();
        let ColumnIndexMetaData::BYTE_ARRAY(ci) = pi.column_index(rg, key_col).context("no column index")? else {
            bail!("iin is not a byte array column");
        };
        let n = locs.len();
        let min = |p: usize| ci.min_value(p);
        let max = |p: usize| ci.max_value(p);
        // Keys within this row group's [min of first page, max of last page].
        let (lo, hi) = match (min(0), max(n - 1)) {
            (Some(a), Some(b)) => (sorted.partition_point(|k| *k < a), sorted.partition_point(|k| *k <= b)),
            _ => (0, sorted.len()),
        };
        let mut last_page = usize::MAX;
        for k in &sorted[lo..hi] {
            // First page whose max >= key; pages are sorted so later pages have min >= key
            // or hold the same key (only possible with duplicates).
            let (mut a, mut b) = (0usize, n);
            while a < b {
                let m = (a + b) / 2;
                if max(m).is_some_and(|x| x < *k) { a = m + 1 } else { b = m }
            }
            let mut p = a;
            while p < n && min(p).is_none_or(|m| m <= *k) {
                if p != last_page {
                    let start = rg_base + locs[p].first_row_index as usize;
                    let end = rg_base + locs.get(p + 1).map_or(rg_rows, |l| l.first_row_index as usize);
                    match ranges.last_mut() {
                        Some(r) if r.end == start => r.end = end,
                        Some(r) if r.end > start => {}
                        _ => ranges.push(start..end),
                    }
                    last_page = p;
                }
                p += 1;
            }
        }
        rg_base += rg_rows;
    }
    let candidate_rows: usize = ranges.iter().map(|r| r.len()).sum();

    // Read `iin` of the candidate pages; keep the rows that match.
    let schema = md.file_metadata().schema_descr();
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file.try_clone()?, meta.clone())
        .with_projection(ProjectionMask::leaves(schema, [key_col]))
        .with_row_selection(RowSelection::from_consecutive_ranges(ranges.iter().cloned(), total))
        .with_batch_size(8192)
        .build()?;
    let mut rows = ranges.iter().flat_map(|r| r.clone());
    let mut hits: Vec<Range<usize>> = Vec::new();
    for batch in reader {
        let batch: RecordBatch = batch?;
        for_each_str(batch.column(0).as_ref(), |_, v| {
            let row = rows.next().expect("more rows than selected");
            if let Some(v) = v {
                if sorted.binary_search(&v).is_ok() {
                    match hits.last_mut() {
                        Some(r) if r.end == row => r.end += 1,
                        _ => hits.push(row..row + 1),
                    }
                }
            }
        })?;
    }
    if std::env::var("PRS_VERBOSE").is_ok() {
        eprintln!("  {}: {} candidate rows in {} ranges, {} hit ranges", path.display(), candidate_rows,
            ranges.len(), hits.len());
    }

    // Read the 13 columns of exactly the matching rows.
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_projection(ProjectionMask::leaves(schema, cols))
        .with_row_selection(RowSelection::from_consecutive_ranges(hits.into_iter(), total))
        .build()?;
    let mut n = 0;
    for batch in reader {
        let batch = batch?;
        assert_eq!(batch.num_columns(), COLUMNS.len());
        n += batch.num_rows();
    }
    Ok(n)
}

#[cfg(feature = "polars")]
mod peer {
    use super::*;
    use polars::prelude::*;

    pub fn polars_lookup(path: &Path, keys: &[String]) -> Result<usize> {
        let list = lit(Series::new(KEY.into(), keys.to_vec())).implode(false);
        let df = LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())?
            .select(COLUMNS.iter().map(|c| col(*c)).collect::<Vec<_>>())
            .filter(col(KEY).is_in(list, false))
            .collect_with_engine(Engine::Streaming)?
            .unwrap_single();
        Ok(df.height())
    }
}
