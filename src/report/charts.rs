//! Charts of the KPI report, drawn with plotters as PNG and SVG. Titles are in Kazakh and
//! Russian, so the PNG renderer needs a font with every Kazakh letter (ә ғ қ ң ө ұ ү һ і):
//! DejaVu Sans, from the system package `fonts-dejavu-core` (or `SDU_FONT=/path/font.ttf`).

use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const W: u32 = 1000;
const H: u32 = 560;
const FONT: &str = "sans-serif";
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("no font with Kazakh letters found (tried $SDU_FONT and {tried}); install the package fonts-dejavu-core")]
    NoFont { tried: String },
    #[error("{path}: cannot draw the chart: {message}")]
    Draw { path: PathBuf, message: String },
}

/// Registers the font once for the whole process.
pub fn init_font() -> Result<(), ChartError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let r = DONE.get_or_init(|| {
        let mut candidates: Vec<String> = std::env::var("SDU_FONT").into_iter().collect();
        candidates.extend(FONT_PATHS.iter().map(|s| s.to_string()));
        for p in &candidates {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(candidates.join(", "))
    });
    r.clone().map_err(|tried| ChartError::NoFont { tried })
}

fn draw_err(path: &Path) -> impl Fn(String) -> ChartError + '_ {
    move |message| ChartError::Draw { path: path.to_path_buf(), message }
}

/// Horizontal bars with their values.
fn bars_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[String],
    values: &[f64],
    percent: bool,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max = values.iter().cloned().fold(0.0, f64::max).max(1.0);
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(250)
        .build_cartesian_2d(0.0..max * 1.15, (0..n).into_segmented())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .x_label_formatter(&|v| if percent { format!("{:.0}%", v * 100.0) } else { format!("{v:.0}") })
        .label_style((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            let color = Palette99::pick(i).mix(0.85);
            Rectangle::new([(0.0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))], color.filled())
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            let text = if percent { format!("{:.1}%", v * 100.0) } else { format!("{v:.0}") };
            Text::new(text, (*v + max * 0.01, SegmentValue::CenterOf(i)), (FONT, 14).into_font())
        }))
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Lines over weeks (missing points are gaps).
fn lines_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    weeks: &[String],
    series: &[(String, Vec<Option<f64>>)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = weeks.len().max(2);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(60)
        .y_label_area_size(60)
        .build_cartesian_2d(0..n - 1, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        // At least one label: plotters never returns from placing zero labels on a range.
        .x_labels(weeks.len().clamp(1, 12))
        .x_label_formatter(&|i| weeks.get(*i).cloned().unwrap_or_default())
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .label_style((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())?;
    for (k, (name, values)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let points: Vec<(usize, f64)> =
            values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))
            .map_err(|e| e.to_string())?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Encodes an RGB buffer as PNG (8-bit truecolour, zlib-compressed scanlines with no filter).
fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.finalize().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for row in rgb.chunks(w as usize * 3) {
        z.write_all(&[0])?;
        z.write_all(row)?;
    }
    chunk(&mut out, b"IDAT", &z.finish()?);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Draws into an RGB buffer and writes it as a PNG file.
fn png_with(
    path: &Path,
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
) -> Result<(), ChartError> {
    let mut buf = vec![255u8; (W * H * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area()).map_err(draw_err(path))?;
    let bytes = encode_png(&buf, W, H).map_err(|e| draw_err(path)(e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| draw_err(path)(e.to_string()))
}

/// A bar chart as PNG and SVG.
pub fn bar_chart(
    dir: &Path,
    stem: &str,
    title: &str,
    labels: &[String],
    values: &[f64],
    percent: bool,
) -> Result<[PathBuf; 2], ChartError> {
    init_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    png_with(&png, |root| bars_on(root, title, labels, values, percent))?;
    bars_on(SVGBackend::new(&svg, (W, H)).into_drawing_area(), title, labels, values, percent)
        .map_err(draw_err(&svg))?;
    Ok([png, svg])
}

/// A line chart over weeks as PNG and SVG.
pub fn line_chart(
    dir: &Path,
    stem: &str,
    title: &str,
    weeks: &[String],
    series: &[(String, Vec<Option<f64>>)],
) -> Result<[PathBuf; 2], ChartError> {
    init_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    png_with(&png, |root| lines_on(root, title, weeks, series))?;
    lines_on(SVGBackend::new(&svg, (W, H)).into_drawing_area(), title, weeks, series)
        .map_err(draw_err(&svg))?;
    Ok([png, svg])
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    /// A report before any week has data (a backfill of a few days) still draws its charts;
    /// this once hung in plotters, so the drawing runs on a thread with a deadline.
    #[test]
    fn charts_without_weeks_or_values_are_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let lines = super::line_chart(&path, "lines", "no weeks", &[], &[]).map(|_| ());
            let one = super::line_chart(
                &path,
                "one",
                "one week",
                &["2025-W05".into()],
                &[("a".into(), vec![Some(0.5)])],
            )
            .map(|_| ());
            let bars = super::bar_chart(&path, "bars", "no bars", &[], &[], true).map(|_| ());
            tx.send((lines.is_ok(), one.is_ok(), bars.is_ok())).unwrap();
        });
        let drawn = rx.recv_timeout(Duration::from_secs(60)).expect("the charts are drawn within a minute");
        assert_eq!(drawn, (true, true, true));
        for stem in ["lines", "one", "bars"] {
            assert!(dir.path().join(format!("{stem}.png")).metadata().unwrap().len() > 0);
            assert!(dir.path().join(format!("{stem}.svg")).metadata().unwrap().len() > 0);
        }
    }
}
