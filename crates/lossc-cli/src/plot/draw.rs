//! The picture: one column per case, the loss above its gradient, drawn with
//! plotters as SVG.
//!
//! The marks a reader looks for are also marked for tools: after plotters
//! has drawn the picture, each dead zone, jump, kink and NaN/inf point (and
//! each chart's plotting area) gets a `class` (`lossc-dead-zone`,
//! `lossc-jump`, `lossc-kink`, `lossc-non-finite`, `lossc-plot-area`), the
//! data coordinates it stands for (`data-from`/`data-to` or `data-x`), and a
//! `<title>` that a browser shows as a tooltip. plotters cannot name an
//! element, so each kind of mark is drawn in a colour and opacity nothing
//! else uses, and the n-th element in that style is the n-th mark drawn.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::curve::{Curve, Features};
use crate::eval::number_text;

/// One column: a case of the finite-set inputs.
#[derive(Debug, Clone)]
pub struct Panel {
    /// E.g. `y_true = 0`; empty when there is one case.
    pub caption: String,
    pub curve: Curve,
    pub features: Features,
}

/// The whole picture.
#[derive(Debug, Clone)]
pub struct Figure {
    pub title: String,
    /// The swept input's name (the x axis).
    pub x_name: String,
    pub loss_name: String,
    pub range: (f64, f64),
    pub panels: Vec<Panel>,
}

/// A colour and an opacity no other element of the picture uses.
#[derive(Debug, Clone, Copy)]
struct Style {
    rgb: (u8, u8, u8),
    alpha: f64,
}

impl Style {
    fn color(self) -> RGBAColor {
        RGBColor(self.rgb.0, self.rgb.1, self.rgb.2).mix(self.alpha)
    }

    /// The attributes plotters writes for this style, e.g.
    /// `fill="#D62728"` and `opacity="0.2"`.
    fn attributes(self, paint: &str) -> (String, String) {
        let (r, g, b) = self.rgb;
        (
            format!("{paint}=\"#{r:02X}{g:02X}{b:02X}\""),
            format!("opacity=\"{}\"", self.alpha),
        )
    }
}

const PLOT_AREA: Style = Style {
    rgb: (255, 255, 254),
    alpha: 1.0,
};
const DEAD: Style = Style {
    rgb: (214, 39, 40),
    alpha: 0.18,
};
const DEAD_KEY: Style = Style {
    rgb: (214, 39, 40),
    alpha: 0.3,
};
const JUMP: Style = Style {
    rgb: (214, 39, 40),
    alpha: 0.9,
};
const JUMP_KEY: Style = Style {
    rgb: (214, 39, 40),
    alpha: 0.8,
};
const KINK: Style = Style {
    rgb: (255, 127, 14),
    alpha: 0.9,
};
const KINK_KEY: Style = Style {
    rgb: (255, 127, 14),
    alpha: 0.8,
};
const NON_FINITE: Style = Style {
    rgb: (120, 0, 0),
    alpha: 1.0,
};
const NON_FINITE_KEY: Style = Style {
    rgb: (120, 0, 0),
    alpha: 0.9,
};
const LOSS_LINE: RGBColor = RGBColor(31, 119, 180);
const GRAD_LINE: RGBColor = RGBColor(148, 103, 189);

/// A mark to name in the SVG, in drawing order.
#[derive(Debug, Clone)]
struct Mark {
    kind: MarkKind,
    title: String,
    data: Vec<(&'static str, f64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarkKind {
    PlotArea,
    DeadZone,
    Jump,
    Kink,
    NonFinite,
}

impl MarkKind {
    const ALL: [MarkKind; 5] = [
        MarkKind::PlotArea,
        MarkKind::DeadZone,
        MarkKind::Jump,
        MarkKind::Kink,
        MarkKind::NonFinite,
    ];

    fn class(self) -> &'static str {
        match self {
            MarkKind::PlotArea => "lossc-plot-area",
            MarkKind::DeadZone => "lossc-dead-zone",
            MarkKind::Jump => "lossc-jump",
            MarkKind::Kink => "lossc-kink",
            MarkKind::NonFinite => "lossc-non-finite",
        }
    }

    /// The SVG element and the attributes that identify the mark.
    fn signature(self) -> (&'static str, (String, String)) {
        match self {
            MarkKind::PlotArea => ("<rect ", PLOT_AREA.attributes("fill")),
            MarkKind::DeadZone => ("<rect ", DEAD.attributes("fill")),
            MarkKind::Jump => ("<polyline ", JUMP.attributes("stroke")),
            MarkKind::Kink => ("<polyline ", KINK.attributes("stroke")),
            MarkKind::NonFinite => ("<circle ", NON_FINITE.attributes("fill")),
        }
    }
}

/// Which of the two charts of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Loss,
    Gradient,
}

/// Width of a column and height of one chart, in pixels.
const COLUMN_WIDTH: u32 = 560;
const CHART_HEIGHT: u32 = 300;
const TITLE_HEIGHT: u32 = 40;

/// Draws `figure` as an SVG document.
pub fn svg(figure: &Figure) -> Result<String, String> {
    let columns = columns(figure.panels.len());
    let rows = figure.panels.len().div_ceil(columns);
    let size = (
        COLUMN_WIDTH * columns as u32,
        TITLE_HEIGHT + 2 * CHART_HEIGHT * rows as u32,
    );
    let mut text = String::new();
    let mut marks = Vec::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let body = root
            .titled(&figure.title, ("sans-serif", 18))
            .map_err(|e| e.to_string())?;
        let cells = body.split_evenly((rows, columns));
        for (panel, cell) in figure.panels.iter().zip(&cells) {
            let (top, bottom) = cell.split_vertically(CHART_HEIGHT);
            chart(&top, figure, panel, Part::Loss, &mut marks)?;
            chart(&bottom, figure, panel, Part::Gradient, &mut marks)?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(name_marks(&text, &marks))
}

/// Columns for `panels` cases: all side by side up to 4, else a grid.
fn columns(panels: usize) -> usize {
    match panels {
        0 | 1 => 1,
        2..=4 => panels,
        _ => 4,
    }
}

fn chart(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    figure: &Figure,
    panel: &Panel,
    part: Part,
    marks: &mut Vec<Mark>,
) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let curve = &panel.curve;
    let features = &panel.features;
    let x_name = figure.x_name.as_str();
    let (ys, line_color, y_desc) = match part {
        Part::Loss => (&curve.values, LOSS_LINE, figure.loss_name.clone()),
        Part::Gradient => (&curve.grads, GRAD_LINE, format!("d {} / d {x_name}", figure.loss_name)),
    };
    let (y0, y1, clipped) = y_range(ys, part == Part::Gradient);
    let (x0, x1) = figure.range;
    // Axes reaching the largest floats are drawn in units of a power of ten
    // (plotters' ticks need a span far inside the floats); every mark's
    // title and data keep the values themselves.
    let (x_scale, y_scale) = (axis_scale(x0, x1), axis_scale(y0, y1));
    let (sx, sy) = (|x: f64| x / x_scale, |y: f64| y / y_scale);
    let scaled_desc = |desc: String, scale: f64| {
        if scale == 1.0 {
            desc
        } else {
            format!("{desc} (× {})", number_text(scale))
        }
    };
    let what = match part {
        Part::Loss => "loss",
        Part::Gradient => "gradient",
    };
    let mut caption = if panel.caption.is_empty() {
        what.to_string()
    } else {
        format!("{what}, {}", panel.caption)
    };
    if clipped {
        caption.push_str(" (extremes clipped)");
    }

    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(38)
        .y_label_area_size(70)
        .build_cartesian_2d(sx(x0)..sx(x1), sy(y0)..sy(y1))
        .map_err(|e| fail(&e))?;
    chart.plotting_area().fill(&PLOT_AREA.color()).map_err(|e| fail(&e))?;
    marks.push(Mark {
        kind: MarkKind::PlotArea,
        title: format!(
            "{what} against {x_name} over [{}, {}]",
            number_text(x0),
            number_text(x1)
        ),
        data: vec![("data-from", x0), ("data-to", x1)],
    });
    // Tick values are sums of steps: one that is zero up to rounding is 0.
    let tick = |v: f64, span: f64| {
        if v.abs() < span * 1e-9 {
            "0".to_string()
        } else {
            number_text(v)
        }
    };
    let x_label = |v: &f64| tick(*v, sx(x1) - sx(x0));
    let y_label = |v: &f64| tick(*v, sy(y1) - sy(y0));
    chart
        .configure_mesh()
        .x_desc(scaled_desc(x_name.to_string(), x_scale))
        .y_desc(scaled_desc(y_desc, y_scale))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .max_light_lines(4)
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(|e| fail(&e))?;

    let mut keyed = false;
    if !features.dead.is_empty() {
        let series = chart
            .draw_series(
                features
                    .dead
                    .iter()
                    .map(|&(from, to)| Rectangle::new([(sx(from), sy(y0)), (sx(to), sy(y1))], DEAD.color().filled())),
            )
            .map_err(|e| fail(&e))?;
        series
            .label("gradient exactly 0 (dead)")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], DEAD_KEY.color().filled()));
        keyed = true;
        for &(from, to) in &features.dead {
            marks.push(Mark {
                kind: MarkKind::DeadZone,
                title: format!(
                    "dead zone: the gradient is exactly 0 for {x_name} in [{}, {}]",
                    number_text(from),
                    number_text(to)
                ),
                data: vec![("data-from", from), ("data-to", to)],
            });
        }
    }

    // The curve, broken where it is not finite and at every jump (and, for
    // the gradient, at every kink), so no line is drawn across a gap.
    let mut breaks: Vec<f64> = features.jumps.clone();
    if part == Part::Gradient {
        breaks.extend(&features.kinks);
    }
    let scaled = |values: &[f64], scale: &dyn Fn(f64) -> f64| values.iter().map(|&v| scale(v)).collect::<Vec<f64>>();
    let segments = segments(
        &scaled(&curve.xs, &sx),
        &scaled(ys, &sy),
        &scaled(&breaks, &sx),
        (sy(y0), sy(y1)),
    );
    let mut first = true;
    for segment in segments {
        let series = chart
            .draw_series(LineSeries::new(segment, line_color.stroke_width(2)))
            .map_err(|e| fail(&e))?;
        if first {
            series
                .label(what)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], line_color.stroke_width(2)));
            first = false;
        }
    }

    for (points, style, key, kind, label) in [
        (&features.jumps, JUMP, JUMP_KEY, MarkKind::Jump, "the loss jumps"),
        (
            &features.kinks,
            KINK,
            KINK_KEY,
            MarkKind::Kink,
            "kink (the slope jumps)",
        ),
    ] {
        if points.is_empty() {
            continue;
        }
        let series = chart
            .draw_series(
                points
                    .iter()
                    .map(|&x| PathElement::new(vec![(sx(x), sy(y0)), (sx(x), sy(y1))], style.color().stroke_width(2))),
            )
            .map_err(|e| fail(&e))?;
        series
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x + 7, y - 6), (x + 7, y + 6)], key.color().stroke_width(2)));
        keyed = true;
        for &x in points.iter() {
            marks.push(Mark {
                kind,
                title: format!("{label} at {x_name} = {}", number_text(x)),
                data: vec![("data-x", x)],
            });
        }
    }

    let bad = match part {
        Part::Loss => &features.bad_values,
        Part::Gradient => &features.bad_grads,
    };
    if !bad.is_empty() {
        // A NaN or +inf sits on the top edge, a -inf on the bottom one.
        let series = chart
            .draw_series(bad.iter().map(|&(x, y)| {
                let at = if y == f64::NEG_INFINITY { y0 } else { y1 };
                Circle::new((sx(x), sy(at)), 4, NON_FINITE.color().filled())
            }))
            .map_err(|e| fail(&e))?;
        series
            .label("NaN or inf")
            .legend(|(x, y)| Circle::new((x + 7, y), 4, NON_FINITE_KEY.color().filled()));
        keyed = true;
        for &(x, y) in bad {
            marks.push(Mark {
                kind: MarkKind::NonFinite,
                title: format!("the {what} is {} at {x_name} = {}", number_text(y), number_text(x)),
                data: vec![("data-x", x)],
            });
        }
    }

    if keyed {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(|e| fail(&e))?;
    }
    Ok(())
}

/// The unit an axis from `lo` to `hi` is drawn in: 1, or the power of ten
/// of its largest end when that is beyond 1e100.
fn axis_scale(lo: f64, hi: f64) -> f64 {
    let largest = lo.abs().max(hi.abs());
    if largest.is_finite() && largest > 1e100 {
        // Parsed, not `powi`: the nearest float to the power of ten.
        format!("1e{}", largest.log10().floor() as i32).parse().unwrap_or(1.0)
    } else {
        1.0
    }
}

/// The vertical range to draw: the finite values with a margin, zero
/// included for a gradient. When a few extreme values would flatten the
/// rest, the range is the 1st to 99th percentile and `clipped` is true.
fn y_range(ys: &[f64], include_zero: bool) -> (f64, f64, bool) {
    let mut finite: Vec<f64> = ys.iter().copied().filter(|y| y.is_finite()).collect();
    if finite.is_empty() {
        return (-1.0, 1.0, false);
    }
    finite.sort_by(f64::total_cmp);
    let (mut lo, mut hi) = (finite[0], finite[finite.len() - 1]);
    let quantile = |q: f64| finite[((finite.len() - 1) as f64 * q).round() as usize];
    let (q_lo, q_hi) = (quantile(0.01), quantile(0.99));
    let clipped = q_hi > q_lo && hi - lo > 20.0 * (q_hi - q_lo);
    if clipped {
        (lo, hi) = (q_lo, q_hi);
    }
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    // Computed so that nothing overflows when the values reach the
    // largest floats: the range stays finite.
    let finite = |y: f64| y.clamp(f64::MIN, f64::MAX);
    if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let pad = hi.abs().max(1.0) * 0.5;
        return (finite(lo - pad), finite(hi + pad), clipped);
    }
    let margin = hi * 0.06 - lo * 0.06;
    (finite(lo - margin), finite(hi + margin), clipped)
}

/// The polyline pieces of a curve: finite points, cut where a point is not
/// finite and between two samples with a break between them; values are held
/// inside `[y0, y1]`.
fn segments(xs: &[f64], ys: &[f64], breaks: &[f64], (y0, y1): (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let mut segments = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for (i, (&x, &y)) in xs.iter().zip(ys).enumerate() {
        let broken = i > 0 && breaks.iter().any(|&b| b > xs[i - 1] && b <= x);
        if !y.is_finite() || broken {
            if current.len() > 1 {
                segments.push(std::mem::take(&mut current));
            }
            current.clear();
        }
        if y.is_finite() {
            current.push((x, y.clamp(y0, y1)));
        }
    }
    if current.len() > 1 {
        segments.push(current);
    }
    segments
}

/// Adds each mark's class, data and title to the element plotters drew for it.
fn name_marks(svg: &str, marks: &[Mark]) -> String {
    let mut pending: Vec<std::collections::VecDeque<&Mark>> = MarkKind::ALL
        .iter()
        .map(|&kind| marks.iter().filter(|m| m.kind == kind).collect())
        .collect();
    let mut out = String::with_capacity(svg.len() + marks.len() * 120);
    for line in svg.split_inclusive('\n') {
        let matched = MarkKind::ALL.iter().position(|&kind| {
            let (element, (paint, opacity)) = kind.signature();
            line.starts_with(element) && line.contains(&paint) && line.contains(&opacity)
        });
        let mark = matched.and_then(|index| pending[index].pop_front());
        match (mark, line.trim_end().strip_suffix("/>")) {
            (Some(mark), Some(body)) => {
                let element = body
                    .split_whitespace()
                    .next()
                    .unwrap_or("<rect")
                    .trim_start_matches('<');
                out.push_str(body.trim_end());
                out.push_str(&format!(" class=\"{}\"", mark.kind.class()));
                for (name, value) in &mark.data {
                    out.push_str(&format!(" {name}=\"{value}\""));
                }
                out.push_str(&format!("><title>{}</title></{element}>\n", escape(&mark.title)));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Text for XML content.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_break_at_gaps_and_jumps() {
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let ys = [0.0, 1.0, f64::NAN, 3.0, 4.0, 50.0];
        let pieces = segments(&xs, &ys, &[3.5], (-1.0, 10.0));
        assert_eq!(pieces, [vec![(0.0, 0.0), (1.0, 1.0)], vec![(4.0, 4.0), (5.0, 10.0)]]);
    }

    #[test]
    fn axes_reaching_the_largest_floats_are_scaled() {
        assert_eq!(axis_scale(-3.0, 3.0), 1.0);
        assert_eq!(axis_scale(-1e308, 1e308), 1e308);
        assert_eq!(axis_scale(0.0, f64::MAX), 1e308);
    }

    #[test]
    fn ranges_of_the_largest_floats_stay_finite() {
        let (lo, hi, _) = y_range(&[-f64::MAX, f64::MAX], false);
        assert_eq!((lo, hi), (f64::MIN, f64::MAX));
        let (lo, hi, _) = y_range(&[f64::MAX, f64::MAX], true);
        assert!(lo == 0.0 || lo.is_finite());
        assert_eq!(hi, f64::MAX);
    }

    #[test]
    fn ranges_keep_zero_for_gradients_and_clip_extremes() {
        let (lo, hi, clipped) = y_range(&[1.0, 2.0, 3.0], true);
        assert!(lo < 0.0 && hi > 3.0 && !clipped);
        let mut ys: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
        ys.push(1e9);
        let (_, hi, clipped) = y_range(&ys, false);
        assert!(clipped && hi < 2.0);
        let (lo, hi, _) = y_range(&[0.0, 0.0], true);
        assert!(lo < 0.0 && hi > 0.0);
    }

    #[test]
    fn marks_are_named_in_drawing_order() {
        let (paint, opacity) = DEAD.attributes("fill");
        let svg = format!("<svg>\n<rect x=\"1\" {opacity} {paint}/>\n<rect x=\"2\" {opacity} {paint}/>\n</svg>\n");
        let marks = vec![Mark {
            kind: MarkKind::DeadZone,
            title: "a < b".into(),
            data: vec![("data-from", 0.0), ("data-to", 0.5)],
        }];
        let named = name_marks(&svg, &marks);
        assert!(
            named.contains(&format!(
                "<rect x=\"1\" {opacity} {paint} class=\"lossc-dead-zone\" data-from=\"0\" data-to=\"0.5\"><title>a &lt; b</title></rect>"
            )),
            "{named}"
        );
        assert!(named.contains(&format!("<rect x=\"2\" {opacity} {paint}/>")), "{named}");
    }
}
