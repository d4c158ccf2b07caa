//! Charts of the KPI report, drawn with plotters as PNG and SVG. Titles are in Kazakh and
//! Russian, so the PNG renderer needs a font with every Kazakh letter (ә ғ қ ң ө ұ ү һ і):
//! DejaVu Sans, from the system package `fonts-dejavu-core` (or `SDU_FONT=/path/font.ttf`).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// A colour as `(r, g, b)`.
pub type Rgb = (u8, u8, u8);

/// What a value axis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Whole numbers only, from 0.
    Count,
    /// 0–100 %.
    Share,
    /// Days, from 0.
    Days,
}

impl Axis {
    fn label(self, v: f64) -> String {
        match self {
            Axis::Share => format!("{:.0} %", v * 100.0),
            // Ticks between whole numbers stay unlabelled (never "0 0 1 2 2").
            Axis::Count | Axis::Days if (v - v.round()).abs() > 1e-9 => String::new(),
            Axis::Count | Axis::Days => format!("{v:.0}"),
        }
    }

    /// The axis' end for values up to `max`: 100 % for shares; room for the value labels.
    fn end(self, max: f64) -> f64 {
        match self {
            Axis::Share => 1.0,
            _ => (max * 1.18).max(1.0),
        }
    }

    /// Labels on a value axis: whole steps when the range is short.
    fn ticks(self, end: f64) -> usize {
        match self {
            Axis::Share => 11,
            _ => (end.floor() as usize + 1).clamp(2, 11),
        }
    }
}

/// One bar: its label, length, colour and the text drawn at its end.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub colour: Rgb,
    pub text: String,
}

/// A legend entry (a series or a segment), the same colour as what it names.
#[derive(Debug, Clone)]
pub struct Key {
    pub label: String,
    pub colour: Rgb,
}

/// A rate with its interval: (rate, low, high).
pub type Interval = (f64, f64, f64);

/// A panel of weekly rates: per series, per week, (rate, interval low, interval high); None
/// where the week is too small to show.
#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    /// The panel's weeks (its x axis).
    pub weeks: Vec<String>,
    pub series: Vec<(Key, Vec<Option<Interval>>)>,
    /// Written across the panel when it has no point (why it is empty).
    pub note: Option<String>,
}

/// Every kind of chart the report draws.
#[derive(Debug, Clone)]
pub enum Figure {
    /// Horizontal bars, one colour each.
    Bars { title: String, bars: Vec<Bar>, axis: Axis },
    /// One 100 % bar per row, split into segments (legend below).
    Stacked { title: String, rows: Vec<String>, segments: Vec<Key>, shares: Vec<Vec<f64>> },
    /// Groups of bars, one bar per series in each group (legend below); `values[series][group]`.
    Grouped { title: String, groups: Vec<String>, series: Vec<Key>, values: Vec<Vec<f64>>, axis: Axis },
    /// Small multiples side by side: weekly rates with their interval bands.
    Panels { title: String, panels: Vec<Panel> },
    /// Step curves of a share over hours (legend below).
    Steps { title: String, series: Vec<(Key, Vec<(f64, f64)>)>, hours: f64 },
}

const W: u32 = 1100;

impl Figure {
    /// Pixel height: bar charts grow with their bars.
    fn height(&self) -> u32 {
        let per = |n: usize, each: u32| (140 + n as u32 * each).max(300);
        match self {
            Figure::Bars { bars, .. } => per(bars.len(), 34),
            Figure::Stacked { rows, segments, .. } => {
                per(rows.len(), 56) + 30 * segments.len().div_ceil(3) as u32
            }
            Figure::Grouped { groups, series, .. } => per(groups.len(), 12 + 16 * series.len() as u32) + 40,
            Figure::Panels { .. } | Figure::Steps { .. } => 560,
        }
    }
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Draws a legend into its own strip: a square and a label per entry, wrapping.
fn legend_on<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    keys: &[Key],
) -> Result<(), String> {
    let style = TextStyle::from((FONT, 14).into_font()).color(&BLACK);
    let (width, _) = area.dim_in_pixel();
    let (mut x, mut y) = (16i32, 6i32);
    for k in keys {
        let (w, _) = area.estimate_text_size(&k.label, &style).map_err(|e| e.to_string())?;
        let need = 22 + w as i32 + 24;
        if x + need > width as i32 && x > 16 {
            (x, y) = (16, y + 24);
        }
        area.draw(&Rectangle::new([(x, y + 2), (x + 14, y + 16)], rgb(k.colour).filled()))
            .map_err(|e| e.to_string())?;
        area.draw(&Text::new(k.label.clone(), (x + 20, y + 1), style.clone())).map_err(|e| e.to_string())?;
        x += need;
    }
    Ok(())
}

/// The rows a legend of these keys takes at this width (for the strip's height).
fn legend_height(keys: &[Key]) -> u32 {
    let chars: usize = keys.iter().map(|k| k.label.chars().count() + 6).sum();
    (chars as u32 * 8 / (W - 40) + 1) * 24 + 12
}

/// Horizontal bars: labels on the left, one slot per bar (no empty slot), values at the ends.
fn bars_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    labels: &[String],
    bars: &[(usize, f64, f64, Rgb, String)],
    slots: usize,
    axis: Axis,
) -> Result<(), String> {
    let max = bars.iter().map(|b| b.2).fold(0.0, f64::max);
    // Room on the left for the longest label, on the right for the longest value text.
    let px = |s: &str| s.chars().count() as f64 * 7.4;
    let left = labels.iter().map(|l| px(l)).fold(60.0, f64::max).min(560.0) + 16.0;
    let plot = f64::from(root.dim_in_pixel().0) - left - 40.0;
    let text = bars.iter().filter(|b| b.2 >= max * 0.5).map(|b| px(&b.4) + 12.0).fold(0.0, f64::max);
    let end = match axis {
        Axis::Share => 1.0,
        _ => axis.end(max).max(max * plot / (plot - text.min(plot * 0.6)).max(1.0)),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 20))
        .margin(14)
        .x_label_area_size(34)
        .y_label_area_size(left as u32)
        .build_cartesian_2d(0.0..end, 0.0..slots.max(1) as f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE)
        .y_labels(0)
        .x_labels(axis.ticks(end))
        .x_label_formatter(&|v| axis.label(*v))
        .label_style((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    // Labels centred on their slots, top to bottom in the order given.
    let slot_y = |i: usize| slots as f64 - i as f64 - 0.5;
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, slot_y(i)));
        root.draw(&Text::new(
            label.clone(),
            (x - 8, y),
            TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(|e| e.to_string())?;
    }
    // Nothing to draw: say so rather than leave an empty axis.
    if max <= 0.0 && axis != Axis::Share && !labels.is_empty() {
        let (x, y) = chart.backend_coord(&(end / 2.0, slots as f64 / 2.0));
        root.draw(&Text::new(
            "барлығы 0 / все значения 0".to_string(),
            (x, y),
            TextStyle::from((FONT, 15).into_font())
                .pos(Pos::new(HPos::Center, VPos::Center))
                .color(&BLACK.mix(0.7)),
        ))
        .map_err(|e| e.to_string())?;
    }
    for (slot, lo, hi, colour, text) in bars {
        let (y0, y1) = (slot_y(*slot) - 0.36, slot_y(*slot) + 0.36);
        chart
            .draw_series(std::iter::once(Rectangle::new([(*lo, y0), (*hi, y1)], rgb(*colour).filled())))
            .map_err(|e| e.to_string())?;
        if !text.is_empty() {
            chart
                .draw_series(std::iter::once(Text::new(
                    text.clone(),
                    (*hi + end * 0.006, slot_y(*slot)),
                    TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
                )))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    figure: &Figure,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match figure {
        Figure::Bars { title, bars, axis } => {
            let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
            let drawn: Vec<_> =
                bars.iter().enumerate().map(|(i, b)| (i, 0.0, b.value, b.colour, b.text.clone())).collect();
            bars_on(&root, title, &labels, &drawn, bars.len(), *axis)?;
        }
        Figure::Stacked { title, rows, segments, shares } => {
            let (_, h) = root.dim_in_pixel();
            let (top, bottom) = root.split_vertically(h - legend_height(segments));
            let mut drawn = Vec::new();
            for (i, row) in shares.iter().enumerate() {
                let mut at = 0.0;
                for (k, v) in row.iter().enumerate().filter(|(_, v)| **v > 0.0) {
                    let text = if *v >= 0.06 { format!("{:.0} %", v * 100.0) } else { String::new() };
                    drawn.push((i, at, at + v, segments[k].colour, String::new()));
                    if !text.is_empty() {
                        drawn.push((i, at + v / 2.0 - 0.02, at + v / 2.0 - 0.02, segments[k].colour, text));
                    }
                    at += v;
                }
            }
            bars_on(&top, title, rows, &drawn, rows.len(), Axis::Share)?;
            legend_on(&bottom, segments)?;
        }
        Figure::Grouped { title, groups, series, values, axis } => {
            let (_, h) = root.dim_in_pixel();
            let (top, bottom) = root.split_vertically(h - legend_height(series));
            // A slot per bar, an empty slot between groups; the group's label on its first bar.
            let per = series.len() + 1;
            let mut labels = vec![String::new(); groups.len() * per];
            let mut drawn = Vec::new();
            for (g, group) in groups.iter().enumerate() {
                labels[g * per] = group.clone();
                for (s, key) in series.iter().enumerate() {
                    let v = values.get(s).and_then(|v| v.get(g)).copied().unwrap_or(0.0);
                    drawn.push((g * per + s, 0.0, v, key.colour, format!("{v:.0}")));
                }
            }
            bars_on(&top, title, &labels, &drawn, labels.len(), *axis)?;
            legend_on(&bottom, series)?;
        }
        Figure::Panels { title, panels } => {
            let area = root.titled(title, (FONT, 20)).map_err(|e| e.to_string())?;
            let keys: Vec<Key> =
                panels.first().map(|p| p.series.iter().map(|(k, _)| k.clone()).collect()).unwrap_or_default();
            let (_, h) = area.dim_in_pixel();
            let (top, bottom) = area.split_vertically(h - legend_height(&keys));
            let cells = top.split_evenly((1, panels.len().max(1)));
            for (panel, cell) in panels.iter().zip(&cells) {
                panel_on(cell, panel)?;
            }
            legend_on(&bottom, &keys)?;
        }
        Figure::Steps { title, series, hours } => {
            let keys: Vec<Key> = series.iter().map(|(k, _)| k.clone()).collect();
            let (_, h) = root.dim_in_pixel();
            let (top, bottom) = root.split_vertically(h - legend_height(&keys));
            let mut chart = ChartBuilder::on(&top)
                .caption(title, (FONT, 20))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..*hours, 0.0..1.0)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(WHITE)
                // A key point every hour, labelled every 24.
                .x_labels(*hours as usize + 1)
                .x_label_formatter(&|v| {
                    let h = v.round();
                    if (v - h).abs() < 1e-9 && h % 24.0 == 0.0 {
                        format!("{h:.0} сағ/ч")
                    } else {
                        String::new()
                    }
                })
                .y_labels(11)
                .y_label_formatter(&|v| Axis::Share.label(*v))
                .label_style((FONT, 13))
                .draw()
                .map_err(|e| e.to_string())?;
            // The ends of the first and second SMS's windows.
            for (h, label) in [(72.0, "2-SMS"), (144.0, "мерзім / срок")] {
                if h < *hours {
                    chart
                        .draw_series(DashedLineSeries::new(
                            [(h, 0.0), (h, 1.0)],
                            6,
                            4,
                            BLACK.mix(0.5).stroke_width(1),
                        ))
                        .map_err(|e| e.to_string())?;
                    chart
                        .draw_series(std::iter::once(Text::new(
                            label,
                            (h + 1.0, 0.97),
                            (FONT, 13).into_font(),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
            for (key, points) in series {
                let mut steps = Vec::with_capacity(points.len() * 2);
                for w in points.windows(2) {
                    steps.push(w[0]);
                    steps.push((w[1].0, w[0].1));
                }
                steps.extend(points.last());
                chart
                    .draw_series(LineSeries::new(steps, rgb(key.colour).stroke_width(3)))
                    .map_err(|e| e.to_string())?;
            }
            legend_on(&bottom, &keys)?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

/// One panel of weekly rates: lines through the weeks shown, bands for their intervals.
fn panel_on<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let weeks = &panel.weeks;
    let n = weeks.len().max(2);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, 16))
        .margin(10)
        .margin_right(34)
        .x_label_area_size(56)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..(n - 1) as f64, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    let every = weeks.len().div_ceil(4).max(1);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .x_labels(weeks.len().max(2))
        .x_label_formatter(&|v| {
            let i = v.round() as usize;
            if (v - v.round()).abs() < 1e-9 && i.is_multiple_of(every) {
                weeks.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_labels(6)
        .y_label_formatter(&|v| Axis::Share.label(*v))
        .label_style((FONT, 12))
        .draw()
        .map_err(|e| e.to_string())?;
    if let Some(note) = &panel.note {
        let (w, h) = area.dim_in_pixel();
        for (k, line) in note.lines().enumerate() {
            area.draw(&Text::new(
                line.to_string(),
                (w as i32 / 2, h as i32 / 2 + 20 * k as i32),
                TextStyle::from((FONT, 13).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Center))
                    .color(&BLACK.mix(0.7)),
            ))
            .map_err(|e| e.to_string())?;
        }
    }
    for (key, values) in &panel.series {
        let colour = rgb(key.colour);
        // Each run of weeks with a value is a line with its band; gaps break them.
        let mut runs: Vec<Vec<(f64, Interval)>> = vec![Vec::new()];
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => runs.last_mut().expect("one run").push((i as f64, *v)),
                None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
                None => {}
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let mut band: Vec<(f64, f64)> = run.iter().map(|(x, v)| (*x, v.2)).collect();
            band.extend(run.iter().rev().map(|(x, v)| (*x, v.1)));
            chart
                .draw_series(std::iter::once(Polygon::new(band, colour.mix(0.18).filled())))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(run.iter().map(|(x, v)| (*x, v.0)), colour.stroke_width(2)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(run.iter().map(|(x, v)| Circle::new((*x, v.0), 3, colour.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
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

/// Draws a figure as `<stem>.png` and `<stem>.svg` in `dir`.
pub fn save(dir: &Path, stem: &str, figure: &Figure) -> Result<[PathBuf; 2], ChartError> {
    init_font()?;
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    let h = figure.height();
    let mut buf = vec![255u8; (W * h * 3) as usize];
    draw(BitMapBackend::with_buffer(&mut buf, (W, h)).into_drawing_area(), figure).map_err(draw_err(&png))?;
    let bytes = encode_png(&buf, W, h).map_err(|e| draw_err(&png)(e.to_string()))?;
    std::fs::write(&png, bytes).map_err(|e| draw_err(&png)(e.to_string()))?;
    draw(SVGBackend::new(&svg, (W, h)).into_drawing_area(), figure).map_err(draw_err(&svg))?;
    Ok([png, svg])
}

#[cfg(test)]
mod tests {
    use super::{save, Axis, Bar, Figure, Key, Panel};
    use std::sync::mpsc;
    use std::time::Duration;

    /// A report before any week has data (a backfill of a few days) still draws its charts;
    /// this once hung in plotters, so the drawing runs on a thread with a deadline. Every kind
    /// of figure, empty and with one point.
    #[test]
    fn charts_without_weeks_or_values_are_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let key = |l: &str| Key { label: l.into(), colour: (10, 20, 30) };
        let figures = [
            ("bars", Figure::Bars { title: "no bars".into(), bars: vec![], axis: Axis::Count }),
            (
                "bar",
                Figure::Bars {
                    title: "one bar".into(),
                    bars: vec![Bar { label: "a".into(), value: 2.0, colour: (1, 2, 3), text: "2".into() }],
                    axis: Axis::Count,
                },
            ),
            (
                "stacked",
                Figure::Stacked { title: "none".into(), rows: vec![], segments: vec![], shares: vec![] },
            ),
            (
                "grouped",
                Figure::Grouped {
                    title: "g".into(),
                    groups: vec!["x".into()],
                    series: vec![key("s")],
                    values: vec![vec![0.0]],
                    axis: Axis::Count,
                },
            ),
            ("lines", Figure::Panels { title: "no weeks".into(), panels: vec![] }),
            (
                "one",
                Figure::Panels {
                    title: "one week".into(),
                    panels: vec![
                        Panel {
                            title: "p".into(),
                            weeks: vec!["2025-W05".into()],
                            series: vec![(key("a"), vec![Some((0.5, 0.2, 0.8))])],
                            note: None,
                        },
                        Panel {
                            title: "q".into(),
                            weeks: vec![],
                            series: vec![],
                            note: Some("nothing".into()),
                        },
                    ],
                },
            ),
            ("steps", Figure::Steps { title: "none".into(), series: vec![(key("a"), vec![])], hours: 168.0 }),
        ];
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let drawn: Vec<bool> = figures.iter().map(|(stem, f)| save(&path, stem, f).is_ok()).collect();
            tx.send(drawn).unwrap();
        });
        let drawn = rx.recv_timeout(Duration::from_secs(60)).expect("the charts are drawn within a minute");
        assert!(drawn.iter().all(|d| *d), "{drawn:?}");
        for stem in ["bars", "bar", "stacked", "grouped", "lines", "one", "steps"] {
            assert!(dir.path().join(format!("{stem}.png")).metadata().unwrap().len() > 0);
            assert!(dir.path().join(format!("{stem}.svg")).metadata().unwrap().len() > 0);
        }
    }

    /// Count axes label whole numbers only; share axes run 0–100 %.
    #[test]
    fn axes_label_whole_counts_and_percent() {
        assert_eq!(Axis::Count.label(0.5), "");
        assert_eq!(Axis::Count.label(2.0), "2");
        assert_eq!(Axis::Share.label(1.0), "100 %");
        assert_eq!(Axis::Share.end(0.3), 1.0);
        assert_eq!(Axis::Count.ticks(Axis::Count.end(2.0)), 3);
    }
}
