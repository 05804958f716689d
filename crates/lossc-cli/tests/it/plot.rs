//! `lossc plot` as a user meets it: every example draws an SVG that parses
//! as XML; on the step-through-where example the dead zone y_pred <= 0.5 is
//! a shaded rectangle over exactly that half of each chart, and the jump at
//! 0.5 a line; the options and their errors.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

fn lossc() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lossc"));
    command.env_remove("NO_COLOR").env_remove("TERM");
    command
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Runs `lossc plot FILE --out DIR/NAME.svg ARGS`; the SVG text and stdout.
#[track_caller]
fn plot(file: &Path, dir: &Path, args: &[&str]) -> (String, String) {
    let out = dir.join(format!("{}.svg", file.file_stem().unwrap().to_string_lossy()));
    let output = lossc()
        .arg("plot")
        .arg(file)
        .arg("--out")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "lossc plot {}: {stdout}{stderr}",
        file.display()
    );
    (std::fs::read_to_string(&out).unwrap(), stdout)
}

fn number(node: roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
    node.attribute(attribute)
        .unwrap_or_else(|| panic!("no {attribute} on {node:?}"))
        .parse()
        .unwrap()
}

#[test]
fn every_example_plots_as_an_svg_document() {
    let dir = TempDir::new().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "loss"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    for file in &files {
        // Fewer points than the default 801 keep this test quick in a debug build.
        let (svg, stdout) = plot(file, dir.path(), &["--points", "101"]);
        let document =
            roxmltree::Document::parse(&svg).unwrap_or_else(|error| panic!("{}: not XML: {error}", file.display()));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg", "{}", file.display());
        let areas = root
            .descendants()
            .filter(|n| n.attribute("class") == Some("lossc-plot-area"))
            .count();
        assert!(areas >= 2 && areas % 2 == 0, "{}: {areas} charts", file.display());
        // A curve is drawn in every chart.
        assert!(root.descendants().filter(|n| n.has_tag_name("polyline")).count() >= areas);
        assert!(stdout.contains(": loss `"), "{stdout}");
    }
}

#[test]
fn the_dead_zone_of_the_step_through_where_is_shaded() {
    let dir = TempDir::new().unwrap();
    let (svg, stdout) = plot(&examples().join("faulty_step_where.loss"), dir.path(), &[]);
    assert!(
        stdout.contains("  y_true = 0:\n    dead zone: the gradient is exactly 0 for y_pred in [0, 0.5]\n    the loss jumps at y_pred = 0.5\n"),
        "{stdout}"
    );
    let document = roxmltree::Document::parse(&svg).unwrap();
    let marked: Vec<roxmltree::Node<'_, '_>> = document
        .descendants()
        .filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("lossc-")))
        .collect();

    // Each chart (loss and gradient, for y_true = 0 and 1): its plotting
    // area, then a rectangle over the left half of it.
    let mut zones = 0;
    for (index, node) in marked.iter().enumerate() {
        if node.attribute("class") != Some("lossc-dead-zone") {
            continue;
        }
        zones += 1;
        assert_eq!(node.tag_name().name(), "rect");
        assert_eq!((number(*node, "data-from"), number(*node, "data-to")), (0.0, 0.5));
        let title = node.children().find(|c| c.has_tag_name("title")).unwrap();
        assert_eq!(
            title.text(),
            Some("dead zone: the gradient is exactly 0 for y_pred in [0, 0.5]")
        );
        let area = marked[..index]
            .iter()
            .rev()
            .find(|n| n.attribute("class") == Some("lossc-plot-area"))
            .unwrap();
        assert_eq!((number(*area, "data-from"), number(*area, "data-to")), (0.0, 1.0));
        // The shading is visible: filled, translucent, the full height of
        // the chart, from its left edge to the middle.
        assert_eq!(node.attribute("fill"), Some("#D62728"));
        let opacity = number(*node, "opacity");
        assert!(opacity > 0.05 && opacity < 1.0, "{opacity}");
        let (x, width) = (number(*node, "x"), number(*node, "width"));
        let (area_x, area_width) = (number(*area, "x"), number(*area, "width"));
        assert!(
            (x - area_x).abs() <= 1.0,
            "the zone starts at y_pred = 0: {x} vs {area_x}"
        );
        assert!(
            (width - area_width / 2.0).abs() <= 2.0,
            "the zone ends at y_pred = 0.5: width {width} of {area_width}"
        );
        assert!((number(*node, "height") - number(*area, "height")).abs() <= 2.0);
    }
    assert_eq!(zones, 4, "two charts for each of y_true = 0 and 1");

    let jumps: Vec<f64> = marked
        .iter()
        .filter(|n| n.attribute("class") == Some("lossc-jump"))
        .map(|n| number(*n, "data-x"))
        .collect();
    assert_eq!(jumps, [0.5; 4]);
}

#[test]
fn kinks_non_finite_points_and_options() {
    let dir = TempDir::new().unwrap();
    // MAE: a kink where y_pred = y_true, nothing else.
    let (svg, stdout) = plot(
        &examples().join("mae.loss"),
        dir.path(),
        &["--fix", "y_true=2", "--range=-4,4"],
    );
    assert!(
        stdout.contains("over [-4, 4] (f32)\n  kinks (the slope jumps) at y_pred = 2\n"),
        "{stdout}"
    );
    assert!(svg.contains("class=\"lossc-kink\" data-x=\"2\""), "{svg}");
    assert!(!svg.contains("lossc-dead-zone"));
    // Focal loss without clipping: infinite at the confidently wrong end.
    let (svg, stdout) = plot(
        &examples().join("faulty_focal_noclip.loss"),
        dir.path(),
        &["--fix", "y_true=1"],
    );
    assert!(stdout.contains("the loss is NaN or infinite at y_pred = 0"), "{stdout}");
    assert!(svg.contains("class=\"lossc-non-finite\" data-x=\"0\""), "{svg}");
    // A tensor input: its first element is swept.
    let (_, stdout) = plot(
        &examples().join("cce_logits.loss"),
        dir.path(),
        &["--fix", "y_true=[[1, 0, 0]]", "--dtype", "f64"],
    );
    assert!(
        stdout.contains("loss `cce` against `y_pred[0, 0]` over [-10, 10] (f64)"),
        "{stdout}"
    );
}

#[test]
fn bad_options_are_one_line_errors() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("x.svg");
    for (args, expected) in [
        (vec!["--wrt", "y_true"], "`y_true` takes only the values 0, 1"),
        (vec!["--wrt", "threshold"], "`threshold` is a param"),
        (vec!["--fix", "nope=1"], "no input named `nope`"),
        (vec!["--fix", "y_ture=1"], "(did you mean `y_true`?)"),
        (vec!["--wrt", "y_prd"], "(did you mean `y_pred`?)"),
        (vec!["--fix", "y_true=[1, 0]"], "plot draws one sample"),
        (vec!["--loss", "other"], "no loss named `other`"),
        (vec!["--range", "1,0"], "not an interval LO,HI"),
    ] {
        let output = lossc()
            .args([
                "plot",
                examples().join("faulty_step_where.loss").to_str().unwrap(),
                "--out",
            ])
            .arg(&out)
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!out.exists());
    }
    let png = dir.path().join("plot.png");
    let output = lossc()
        .args(["plot", examples().join("mse.loss").to_str().unwrap(), "--out"])
        .arg(&png)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("lossc writes SVG only")
    );
    assert!(!png.exists());
}

/// The marks of an SVG: each labelled element's class and data, in order.
fn marks(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).unwrap();
    document
        .descendants()
        .filter_map(|n| {
            let class = n.attribute("class")?;
            let data: Vec<String> = n
                .attributes()
                .filter(|a| a.name().starts_with("data-"))
                .map(|a| format!("{}={}", a.name(), a.value()))
                .collect();
            Some(format!("{class} {}", data.join(" ")))
        })
        .collect()
}

#[test]
fn the_plots_in_the_docs_show_what_lossc_plot_shows_today() {
    let dir = TempDir::new().unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let page = std::fs::read_to_string(docs.join("plot.md")).unwrap();
    for (example, image) in [("mse", "mse"), ("faulty_step_where", "step_where")] {
        let command = format!("lossc plot examples/{example}.loss --out docs/img/{image}.svg");
        assert!(page.contains(&command), "docs/plot.md shows `{command}`");
        let committed = std::fs::read_to_string(docs.join(format!("img/{image}.svg"))).unwrap();
        let (fresh, _) = plot(&examples().join(format!("{example}.loss")), dir.path(), &[]);
        assert_eq!(
            marks(&committed),
            marks(&fresh),
            "docs/img/{image}.svg is out of date: run `{command}`"
        );
    }
}
