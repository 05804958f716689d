//! The `lossc` binary as a user meets it: exit statuses, what goes to stdout
//! and stderr, colour, the JSON contract of docs/cli.md, and snapshots of
//! rendered diagnostics (each snapshot holds the command and its input).

use std::path::Path;
use std::process::Output;

use super::{lossc, stdout_of};
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

const ESC: &str = "\u{1b}[";

/// A scratch directory holding one file.
fn dir_with(name: &str, contents: &[u8]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), contents).unwrap();
    dir
}

/// Runs `lossc check NAME ARGS...` in a directory holding `NAME` with `contents`.
fn check_file(name: &str, contents: &[u8], args: &[&str]) -> assert_cmd::assert::Assert {
    let dir = dir_with(name, contents);
    lossc()
        .current_dir(dir.path())
        .arg("check")
        .arg(name)
        .args(args)
        .assert()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON value")
}

/// Exactly `error: MESSAGE` and a newline on stderr, nothing on stdout, exit 2.
#[track_caller]
fn assert_usage_error(assert: assert_cmd::assert::Assert, expected: &str) {
    let assert = assert.code(2).stdout("");
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.starts_with("error: "), "stderr: {stderr}");
    assert!(stderr.contains(expected), "expected {expected:?} in stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");
}

const VALID: &str = "\
input y_true: {0, 1}
input y_pred: [0, 1]
param w_pos = 10.0
const eps = 1e-7

let p = clip(y_pred, eps, 1 - eps)
let bce = -(y_true * log(p) + (1 - y_true) * log(1 - p))
loss weighted_bce = mean(where(y_true == 1, w_pos, 1) * bce)
output per_sample = bce
";

// ---- Exit status 0 and 1 ----

/// A loss the analyzer has nothing to say about: bounded inputs, smooth.
const CLEAN: &str = "input y_true: [0, 1]\ninput y_pred: [0, 1]\nloss mse = mean(square(y_true - y_pred))\n";

/// The same clean loss as a formula: sigmoids keep every value bounded.
const CLEAN_FORMULA: &str = "mean(square(sigmoid(y_pred) - sigmoid(y_true)))";

#[test]
fn a_valid_file_exits_0() {
    check_file("mse.loss", CLEAN.as_bytes(), &[])
        .success()
        .stdout("ok: `mse.loss`: no problems found (f32)\n")
        .stderr("");
    // Warnings (Keras's clipped BCE has a 1e7 slope) do not fail a check.
    check_file("bce.loss", VALID.as_bytes(), &[])
        .success()
        .stdout(predicate::str::contains("warning[exploding-gradient]"))
        .stdout(predicate::str::ends_with("(f32)\n"))
        .stderr("");
}

#[test]
fn a_valid_formula_exits_0() {
    lossc()
        .args(["check", "-e", CLEAN_FORMULA])
        .assert()
        .success()
        .stdout("ok: `<formula>`: no problems found (f32)\n")
        .stderr("");
    // A note (MSE overflows f32 only for inputs near 1e19) keeps the exit at 0.
    lossc()
        .args(["check", "-e", "mean(square(y_true - y_pred))"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with(
            "ok: `<formula>`: no errors or warnings, 1 note (f32)\n",
        ))
        .stderr("");
}

#[test]
fn the_summary_names_the_dtype() {
    lossc()
        .args(["check", "-e", CLEAN_FORMULA, "--dtype", "f64"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with("no problems found (f64)\n"));
}

#[test]
fn a_formula_may_start_with_a_minus() {
    lossc()
        .args(["check", "-e", "-mean(y_true * log(y_pred))"])
        .assert()
        .code(predicate::in_iter([0, 1]))
        .stderr("");
}

#[test]
fn a_misspelt_function_exits_1_with_its_code_and_line() {
    let assert = lossc()
        .args(["check", "-e", "mean(squre(y_true - y_pred))", "--format", "json"])
        .assert()
        .code(1)
        .stderr("");
    let json = json_of(assert.get_output());
    let first = &json["diagnostics"][0];
    assert_eq!(first["code"], "unknown-name");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["span"]["line"], 1);
    // `loss = mean(` is 12 characters: `squre` starts in column 13.
    assert_eq!(first["span"]["column"], 13);
    assert_eq!(json["file"], "<formula>");
}

#[test]
fn text_output_is_rustc_like_with_a_summary() {
    let assert = lossc()
        .args(["check", "-e", "mean(squre(y_true - y_pred))"])
        .assert()
        .code(1)
        .stderr("");
    let stdout = stdout_of(assert.get_output());
    assert!(
        stdout.starts_with("error[unknown-name]: cannot find function `squre`\n"),
        "{stdout}"
    );
    assert!(stdout.contains("--> <formula>:1:13"), "{stdout}");
    assert!(stdout.contains("^^^^^"), "{stdout}");
    assert!(
        stdout.ends_with("error: could not check `<formula>`: 1 error\n"),
        "{stdout}"
    );
}

#[test]
fn deny_warnings_is_accepted_and_a_clean_file_still_passes() {
    lossc()
        .args(["check", "-e", "mean(square(y_true - y_pred))", "--deny", "warnings"])
        .assert()
        .success();
    lossc()
        .args(["check", "-e", "mean(square(y_true - y_pred))", "-D", "warnings"])
        .assert()
        .success();
}

// ---- Exit status 2: unreadable input ----

#[test]
fn a_missing_file_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let assert = lossc().current_dir(dir.path()).args(["check", "nope.loss"]).assert();
    assert_usage_error(assert, "cannot read `nope.loss`: ");
}

/// `check` reads every program in a directory (see below); one without any
/// exits 2, and the commands that read one program refuse a directory.
#[test]
fn a_directory_without_programs_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("losses")).unwrap();
    let assert = lossc().current_dir(dir.path()).args(["check", "losses"]).assert();
    assert_usage_error(assert, "`losses` holds no .loss file");
    let assert = lossc().current_dir(dir.path()).args(["grad", "losses"]).assert();
    assert_usage_error(assert, "`losses` is a directory, not a .loss file");
}

#[test]
fn invalid_utf8_exits_2_with_the_offset() {
    let assert = check_file("x.loss", b"loss = y_pred\n\xff\xfe\n", &[]);
    assert_usage_error(
        assert,
        "`x.loss` is not valid UTF-8 (invalid byte at offset 14, line 2)",
    );
}

#[test]
fn an_empty_file_exits_2() {
    let assert = check_file("e.loss", b"", &[]);
    assert_usage_error(
        assert,
        "`e.loss` is empty: a .loss file needs at least one `loss` statement",
    );
}

#[test]
fn a_comment_only_file_exits_2() {
    let assert = check_file("c.loss", b"# a loss, one day\n\n   # maybe\n", &[]);
    assert_usage_error(assert, "`c.loss` is empty");
}

#[test]
fn an_empty_formula_exits_2() {
    assert_usage_error(
        lossc().args(["check", "-e", "  "]).assert(),
        "the formula given to `-e` is empty",
    );
}

#[test]
fn a_program_without_results_exits_2() {
    let assert = check_file("decl.loss", b"input x: real [N]\nconst eps = 1e-7\n", &[]);
    assert_usage_error(assert, "`decl.loss` defines no `loss` and no `output`");
}

// ---- Exit status 2: bad usage ----

#[test]
fn an_unknown_param_exits_2_listing_the_params() {
    let assert = check_file("bce.loss", VALID.as_bytes(), &["--param", "gamma=2"]);
    assert_usage_error(assert, "no param named `gamma` in `bce.loss`; its params: `w_pos`");
}

#[test]
fn a_known_param_can_be_overridden() {
    check_file(
        "bce.loss",
        VALID.as_bytes(),
        &["--param", "w_pos=3", "--param", "w_pos=4"],
    )
    .success();
}

#[test]
fn a_param_value_must_be_a_number() {
    check_file("bce.loss", VALID.as_bytes(), &["--param", "w_pos=ten"])
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("`ten` is not a finite number"));
}

#[test]
fn an_unknown_loss_exits_2_listing_the_losses() {
    let assert = check_file("bce.loss", VALID.as_bytes(), &["--loss", "focal"]);
    assert_usage_error(
        assert,
        "no loss named `focal` in `bce.loss`; its losses: `weighted_bce`",
    );
}

#[test]
fn an_output_is_not_a_loss() {
    let assert = check_file("bce.loss", VALID.as_bytes(), &["--loss", "per_sample"]);
    assert_usage_error(assert, "`per_sample` is an `output` of `bce.loss`, not a `loss`");
}

#[test]
fn a_known_loss_and_wrt_are_accepted() {
    check_file(
        "bce.loss",
        VALID.as_bytes(),
        &["--loss", "weighted_bce", "--wrt", "w_pos"],
    )
    .success();
}

#[test]
fn an_unknown_wrt_exits_2_listing_inputs_and_params() {
    let assert = check_file("bce.loss", VALID.as_bytes(), &["--wrt", "logits"]);
    assert_usage_error(
        assert,
        "no input or param named `logits` in `bce.loss`; its inputs: `y_true`, `y_pred`; its params: `w_pos`",
    );
}

#[test]
fn a_bad_dtype_exits_2() {
    lossc()
        .args(["check", "-e", "mean(y_pred)", "--dtype", "f16"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("f16").and(predicate::str::contains("f32, f64")));
}

#[test]
fn a_file_and_a_formula_together_exit_2() {
    lossc()
        .args(["check", "x.loss", "-e", "mean(y_pred)"])
        .assert()
        .code(2)
        .stdout("");
}

#[test]
fn nothing_to_check_exits_2() {
    lossc().arg("check").assert().code(2).stdout("");
    lossc().assert().code(2).stdout("");
}

// ---- JSON ----

/// Two lines; the error is on the second. Line 1 is 23 bytes with its newline.
const TWO_LINES: &str = "input y_pred: real [N]\nloss l = mean(squre(y_pred))\n";

#[test]
fn json_has_every_key_of_the_contract() {
    let assert = check_file("two.loss", TWO_LINES.as_bytes(), &["--format", "json"])
        .code(1)
        .stderr("");
    let json = json_of(assert.get_output());

    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), 1);
    let diagnostic = &diagnostics[0];
    for key in ["code", "severity", "message", "span", "notes", "help", "fix"] {
        assert!(diagnostic.get(key).is_some(), "missing key {key}: {diagnostic}");
    }
    assert_eq!(diagnostic["code"], "unknown-name");
    assert_eq!(diagnostic["severity"], "error");
    assert!(diagnostic["message"].as_str().unwrap().contains("squre"));
    assert!(diagnostic["notes"].is_array());
    assert!(diagnostic["help"].as_str().unwrap().contains("square"));

    // `squre` is at byte 23 + 14 = 37 (column 15 of line 2) and ends at byte 42.
    let span = &diagnostic["span"];
    assert_eq!(span["start"], 37);
    assert_eq!(span["end"], 42);
    assert_eq!(span["line"], 2);
    assert_eq!(span["column"], 15);
    assert_eq!(&TWO_LINES[37..42], "squre");

    let fix = &diagnostic["fix"];
    assert_eq!(fix["replacement"], "square");
    for key in ["start", "end", "line", "column"] {
        assert_eq!(fix["span"][key], span[key], "fix span {key}");
    }

    assert_eq!(json["summary"]["errors"], 1);
    assert_eq!(json["summary"]["warnings"], 0);
    assert_eq!(json["summary"]["notes"], 0);
}

/// The witness is data as well as text: `-log(y_pred)` over [0, 1] is
/// infinite at `y_pred` = 0, and only there.
#[test]
fn json_gives_the_witness_as_data() {
    let source = "input y_pred: [0, 1] [N]\nloss l = mean(-log(y_pred))\n";
    let assert = check_file("log.loss", source.as_bytes(), &["--format", "json"]).code(1);
    let json = json_of(assert.get_output());
    let diagnostic = &json["diagnostics"][0];
    assert_eq!(diagnostic["code"], "log-domain");
    assert!(diagnostic["message"].as_str().unwrap().contains("when `y_pred` = 0"));
    assert_eq!(
        diagnostic["witness"],
        serde_json::json!([{"input": "y_pred", "value": 0.0, "first_of_row": false}])
    );
    // A finding without a point has an empty witness, never a missing key.
    let parse = check_file("two.loss", TWO_LINES.as_bytes(), &["--format", "json"]).code(1);
    assert_eq!(
        json_of(parse.get_output())["diagnostics"][0]["witness"],
        serde_json::json!([])
    );
}

#[test]
fn json_nulls_and_notes() {
    let source = "input a: real [N, C]\ninput b: real [N, D]\nloss l = mean(a - b)\n";
    let assert = check_file("shapes.loss", source.as_bytes(), &["--format", "json"]).code(1);
    let json = json_of(assert.get_output());
    let diagnostic = &json["diagnostics"][0];
    assert_eq!(diagnostic["code"], "shape-mismatch");
    assert!(diagnostic["fix"].is_null());
    assert!(!diagnostic["notes"].as_array().unwrap().is_empty());
    assert_eq!(diagnostic["span"]["line"], 3);
    // Secondary labels are an extra key, with the same span shape.
    for label in diagnostic["labels"].as_array().unwrap() {
        assert_eq!(label["span"]["line"], 3);
        assert!(label["message"].is_string());
    }
}

#[test]
fn clean_json_has_an_empty_list_and_zero_counts() {
    let assert = lossc()
        .args(["check", "-e", CLEAN_FORMULA, "--format", "json"])
        .assert()
        .success()
        .stderr("");
    let json = json_of(assert.get_output());
    assert_eq!(json["diagnostics"], Value::Array(Vec::new()));
    assert_eq!(
        json["summary"],
        serde_json::json!({"errors": 0, "warnings": 0, "notes": 0})
    );
    assert_eq!(json["dtype"], "f32");
}

#[test]
fn json_mode_prints_only_json_even_with_colour_forced() {
    let assert = lossc()
        .args([
            "check",
            "-e",
            "mean(squre(y_pred))",
            "--format",
            "json",
            "--color",
            "always",
        ])
        .assert()
        .code(1);
    let stdout = stdout_of(assert.get_output());
    assert!(!stdout.contains(ESC), "{stdout}");
    json_of(assert.get_output());
}

// ---- Colour ----

const MISSPELT: [&str; 3] = ["check", "-e", "mean(squre(y_true - y_pred))"];

#[test]
fn no_colour_when_piped() {
    let assert = lossc().args(MISSPELT).assert().code(1);
    assert!(!stdout_of(assert.get_output()).contains(ESC));
}

#[test]
fn color_always_emits_ansi_escapes() {
    let assert = lossc().args(MISSPELT).args(["--color", "always"]).assert().code(1);
    assert!(stdout_of(assert.get_output()).contains(ESC));
    // `--color` is global: it may also come before the command.
    let assert = lossc().args(["--color", "always"]).args(MISSPELT).assert().code(1);
    assert!(stdout_of(assert.get_output()).contains(ESC));
}

#[test]
fn color_never_and_errors_on_stderr_are_plain() {
    let assert = lossc().args(MISSPELT).args(["--color", "never"]).assert().code(1);
    assert!(!stdout_of(assert.get_output()).contains(ESC));
    lossc()
        .args(["check", "missing.loss", "--color", "never"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(ESC).not());
}

#[test]
fn no_color_does_not_override_an_explicit_color_always() {
    let assert = lossc()
        .args(MISSPELT)
        .args(["--color", "always"])
        .env("NO_COLOR", "1")
        .assert();
    assert!(stdout_of(assert.get_output()).contains(ESC));
}

/// Runs `lossc` with stdout on a pseudo-terminal, through util-linux's
/// `script`; `None` where `script` is not available.
fn on_a_terminal(args: &str, no_color: Option<&str>) -> Option<String> {
    let script = Path::new("/usr/bin/script");
    if !script.exists() {
        return None;
    }
    let command_line = format!("{} {args}", env!("CARGO_BIN_EXE_lossc"));
    let mut command = std::process::Command::new(script);
    command
        .args(["-qec", &command_line, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let output = command.output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let args = "check -e 'mean(squre(y_true - y_pred))'";
    let Some(coloured) = on_a_terminal(args, None) else {
        return;
    };
    assert!(coloured.contains("squre"), "{coloured}");
    assert!(coloured.contains(ESC), "a terminal is coloured: {coloured}");

    let plain = on_a_terminal(args, Some("1")).unwrap();
    assert!(plain.contains("squre"), "{plain}");
    assert!(!plain.contains(ESC), "NO_COLOR turns colour off: {plain}");

    // An empty NO_COLOR does not count.
    let empty = on_a_terminal(args, Some("")).unwrap();
    assert!(empty.contains(ESC), "{empty}");
}

// ---- Help ----

#[test]
fn help_explains_every_option_with_examples() {
    let assert = lossc().args(["check", "--help"]).assert().success();
    let help = stdout_of(assert.get_output());
    for option in [
        "--expr", "--dtype", "--param", "--loss", "--wrt", "--format", "--deny", "--color",
    ] {
        assert!(help.contains(option), "{option} missing from check --help");
    }
    assert!(help.contains("Examples:"));
    assert!(help.contains("--param gamma=2"));
    assert!(help.contains("Exit status"));

    let assert = lossc().arg("--help").assert().success();
    let help = stdout_of(assert.get_output());
    assert!(help.contains("check"));
    assert!(help.contains("Examples:"));
}

// ---- Snapshots of rendered diagnostics ----

/// The command, its input and its whole output, as one snapshot.
fn transcript(args: &[&str], file: Option<(&str, &str)>) -> String {
    let dir = match file {
        Some((name, source)) => dir_with(name, source.as_bytes()),
        None => tempfile::tempdir().unwrap(),
    };
    let output = lossc()
        .current_dir(dir.path())
        .args(args)
        .args(["--color", "never"])
        .output()
        .unwrap();
    let quoted: Vec<String> = args
        .iter()
        .map(|arg| {
            if arg.contains([' ', '(', '^', '>', '<']) {
                format!("'{arg}'")
            } else {
                arg.to_string()
            }
        })
        .collect();
    let mut text = format!("$ lossc {}\n", quoted.join(" "));
    if let Some((name, source)) = file {
        text.push_str(&format!("---- {name} ----\n{source}"));
    }
    text.push_str(&format!(
        "---- exit status {} ----\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout)
    ));
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.is_empty() {
        text.push_str(&format!("---- stderr ----\n{stderr}"));
    }
    text
}

fn check_formula(formula: &str) -> String {
    transcript(&["check", "-e", formula], None)
}

#[test]
fn snapshot_unknown_name_with_did_you_mean() {
    insta::assert_snapshot!("unknown_name", check_formula("mean(squre(y_true - y_pred))"));
}

#[test]
fn snapshot_arity() {
    insta::assert_snapshot!("arity_log", check_formula("log()"));
}

#[test]
fn snapshot_boolean_used_as_a_number() {
    insta::assert_snapshot!("type_mismatch_boolean", check_formula("mean(y_pred > 0.5)"));
}

#[test]
fn snapshot_shape_mismatch() {
    let source = "input y_true: real [N, C]\ninput y_pred: real [N, D]\nloss l = mean(y_true - y_pred)\n";
    insta::assert_snapshot!(
        "shape_mismatch",
        transcript(&["check", "shapes.loss"], Some(("shapes.loss", source)))
    );
}

#[test]
fn snapshot_bad_axis() {
    let source = "input y_pred: real [N]\nloss l = mean(sum(y_pred, axis=2))\n";
    insta::assert_snapshot!(
        "bad_axis",
        transcript(&["check", "axis.loss"], Some(("axis.loss", source)))
    );
}

#[test]
fn snapshot_unclosed_parenthesis() {
    let source = "# a bracket left open\nloss l = mean(square(y_true - y_pred)\n";
    insta::assert_snapshot!(
        "unclosed_parenthesis",
        transcript(&["check", "open.loss"], Some(("open.loss", source)))
    );
}

#[test]
fn snapshot_doubled_power_operator() {
    insta::assert_snapshot!("power_typo", check_formula("mean(y_pred ^^ 2)"));
}

#[test]
fn snapshot_chained_comparison() {
    insta::assert_snapshot!(
        "chained_comparison",
        check_formula("mean(where(0 < y_pred < 1, y_pred, 0))")
    );
}

#[test]
fn snapshot_several_errors_in_one_file() {
    let source = "\
input y_true: {0, 1}
input y_pred: [0, 1]
let p = clip(y_pred, 1e-7, 1 - 1e-7)
loss a = mean(squre(p))
loss b = mean(log(p, 2))
loss c = mean(y_true > p)
";
    insta::assert_snapshot!(
        "several_errors",
        transcript(&["check", "many.loss"], Some(("many.loss", source)))
    );
}

#[test]
fn snapshot_usage_error() {
    insta::assert_snapshot!(
        "unknown_loss",
        transcript(&["check", "bce.loss", "--loss", "focal"], Some(("bce.loss", VALID)))
    );
}

/// The seed question's three Keras losses as one-liners with their domains
/// given on the command line find what the files in `examples/` find; without
/// domains, an undeclared input that changes the findings gets a note saying
/// which domain would.
#[test]
fn one_liners_with_input_domains_find_what_the_example_files_find() {
    let codes = |args: &[&str]| -> Vec<String> {
        let output = lossc().args(args).args(["--format", "json"]).output().unwrap();
        assert!(
            output.status.code().is_some_and(|c| c < 2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut codes: Vec<String> = json_of(&output)["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| format!("{} {}", d["severity"].as_str().unwrap(), d["code"].as_str().unwrap()))
            .collect();
        codes.sort();
        codes
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for (file, formula) in [
        (
            "faulty_step_where",
            "mean(where(y_pred > 0.5, square(y_true - y_pred), 0))",
        ),
        ("faulty_log_eps", "mean(-log(y_pred + 1e-8) * y_true)"),
        ("mse_sigmoid", "mean(square(y_true - y_pred))"),
    ] {
        let path = examples.join(format!("{file}.loss"));
        let from_file = codes(&["check", path.to_str().unwrap()]);
        let one_liner = codes(&[
            "check",
            "-e",
            formula,
            "--input",
            "y_true={0, 1}",
            "--input",
            "y_pred=sigmoid",
        ]);
        assert_eq!(one_liner, from_file, "{file}");
        assert!(!from_file.iter().any(|c| c.ends_with("assumed-domain")));
    }
    // Without domains: a log of a negative number, and the note that [0, 1] avoids it.
    let bare = codes(&["check", "-e", "mean(-log(y_pred + 1e-8) * y_true)"]);
    assert!(bare.contains(&"error log-domain".to_string()), "{bare:?}");
    assert!(bare.contains(&"note assumed-domain".to_string()), "{bare:?}");
    // A formula a real input suits gets no such note.
    let quiet = codes(&["check", "-e", "mean(square(sigmoid(y_pred) - sigmoid(y_true)))"]);
    assert!(!quiet.iter().any(|c| c.ends_with("assumed-domain")), "{quiet:?}");
    // A declared input's domain is replaced; a bad domain is a usage error.
    let file = check_file(
        "f.loss",
        b"input y_pred: real\nloss l = mean(-log(y_pred))\n",
        &["--input", "y_pred=[0.001, 1]"],
    );
    file.code(0);
    assert_usage_error(
        check_file(
            "f.loss",
            b"input y_pred: real\nloss l = mean(y_pred)\n",
            &["--input", "y_pred=[0, 1"],
        ),
        "`--input`: the domain \"[0, 1\" of `y_pred` is not a domain",
    );
}

/// Several programs at once, as ruff and rustc users expect: files,
/// directories (every `.loss` inside) and `-`; each reported in turn, then
/// a total; the exit status is the worst; JSON is an array of the reports.
#[test]
fn check_takes_several_files_directories_and_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("clean.loss"), CLEAN).unwrap();
    std::fs::write(
        dir.path().join("sub/bad.loss"),
        "input y_pred: [0, 1]\nloss l = mean(-log(y_pred))\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a program").unwrap();
    let run = |args: &[&str], stdin: &str| {
        lossc()
            .current_dir(dir.path())
            .arg("check")
            .args(args)
            .write_stdin(stdin)
            .output()
            .unwrap()
    };

    let both = run(&["."], "");
    assert_eq!(both.status.code(), Some(1));
    let text = stdout_of(&both);
    let clean_at = text.find("`./clean.loss`").expect("clean.loss reported");
    let bad_at = text.find("./sub/bad.loss").expect("sub/bad.loss reported");
    assert!(clean_at < bad_at, "sorted by path: {text}");
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("2 files checked: 1 error"),
        "{text}"
    );

    let clean = run(&["clean.loss", "-"], CLEAN);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout_of(&clean));
    assert!(stdout_of(&clean).contains("`<stdin>`"));

    let json = run(&["clean.loss", "sub", "--format", "json"], "");
    let reports = json_of(&json);
    let files: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["clean.loss", "sub/bad.loss"]);
    assert_eq!(reports[1]["summary"]["errors"], 1);

    // An unreadable program is an error on stderr; the others are still checked; exit 2.
    let missing = run(&["absent.loss", "clean.loss"], "");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read `absent.loss`"));
    assert!(stdout_of(&missing).contains("`clean.loss`"));
    assert!(
        stdout_of(&missing).contains("1 of 2 files checked: no problems"),
        "{}",
        stdout_of(&missing)
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("1 of 2 programs could not be checked"));
    // A directory without programs says so.
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let empty = run(&["empty"], "");
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("holds no .loss file"));
}
