//! The binary on inputs that used to block, flood, panic or run without end:
//! sources and data that are not regular files (a FIFO, `/dev/zero`), a
//! source above the size limit, malformed and hostile `.npy` files, and
//! option values beyond their bounds. Each must end by itself, quickly,
//! with exit status 2 and a one-line message (or, for a valid request such
//! as a plot over the widest range, succeed).
//!
//! Every command runs under a watchdog: a child still running after
//! [`LIMIT`] is killed and the test fails, so a regression shows as a
//! failure, not as a hung test run.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Far more than any of these commands needs (they take well under a
/// second); a command still running after it is hung.
const LIMIT: Duration = Duration::from_secs(60);

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(format!("{name}.loss"));
    path.to_str().unwrap().to_string()
}

/// Runs `lossc ARGS`, killing it if it has not exited by itself within
/// [`LIMIT`] (which fails the test).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lossc"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > LIMIT {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "`lossc {}` did not end within {LIMIT:?}; stderr so far: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `lossc ARGS` and checks it refused them: exit status 2, a one-line
/// `error:` containing `expected`, no panic. Returns the message.
fn refused(args: &[&str], expected: &str) -> String {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "`lossc {}`: {stderr}", args.join(" "));
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(expected), "expected {expected:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A `.npy` file of format 1 with `header` (padded as NumPy pads it) and
/// `data`, its bytes written by hand.
fn write_npy(path: &Path, header: &str, data: &[u8]) {
    let mut header = header.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).unwrap();
}

fn path_text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn a_device_as_the_source_is_refused_before_it_is_read() {
    // Used to read 4 GB of zeros before failing.
    refused(
        &["check", "/dev/zero"],
        "`/dev/zero` is not a regular file (a character device)",
    );
    // Also behind a symbolic link with a .loss name.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("zero.loss");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    refused(
        &["grad", path_text(&link)],
        "is not a regular file (a character device)",
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_as_the_source_or_as_data_never_blocks() {
    // Opening a FIFO waits for a writer: these commands used to wait forever.
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("pipe.loss");
    let npy = dir.path().join("pipe.npy");
    let csv = dir.path().join("pipe.csv");
    for fifo in [&source, &npy, &csv] {
        mkfifo(fifo);
    }
    refused(&["check", path_text(&source)], "is not a regular file (a named pipe)");
    let mse = example("mse");
    for data in [&npy, &csv] {
        let input = format!("y_pred={}", path_text(data));
        let message = refused(
            &["eval", &mse, "--input", "y_true=[1]", "--input", &input],
            "is not a regular file (a named pipe)",
        );
        assert!(message.contains("input `y_pred`"), "{message}");
    }
    let data = format!("--data={}", path_text(&npy));
    let labels = format!("--labels={}", path_text(&npy));
    refused(&["fit", &mse, &data, &labels], "is not a regular file (a named pipe)");
}

#[test]
fn a_source_above_16_mib_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.loss");
    let mut text = "loss = mean(y_pred)\n".to_string();
    text.push_str(&"#".repeat(16 * 1024 * 1024));
    std::fs::write(&big, text).unwrap();
    refused(
        &["check", path_text(&big)],
        "is larger than 16 MiB, the largest .loss file lossc reads",
    );
}

#[test]
fn hostile_npy_headers_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mse = example("mse");
    let eval = |file: &Path, truth: &str| -> Output {
        let input = format!("y_pred={}", path_text(file));
        let truth = format!("y_true={truth}");
        run(&["eval", &mse, "--input", &truth, "--input", &input, "--format", "json"])
    };
    let cases = [
        // A descr starting with a non-ASCII character panicked.
        // (A version 1 header is Latin-1: NumPy also reads these bytes as `Ã©f8`.)
        (
            "accent.npy",
            "{'descr': 'éf8', 'fortran_order': False, 'shape': (1,), }",
            "has dtype unknown",
        ),
        // Sizes whose product overflows, or hidden behind a zero.
        (
            "overflow.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }",
            "has a shape too large to address",
        ),
        (
            "zero.npy",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4611686018427387904), }",
            "has a shape too large to address",
        ),
        // Bigger than the file.
        (
            "huge.npy",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }",
            "is truncated: its header promises shape (100000000000) of float32",
        ),
        (
            "keys.npy",
            "{'descr': '<f8', 'shape': (1,), }",
            "its header has no 'fortran_order'",
        ),
    ];
    for (name, header, expected) in cases {
        let file = dir.path().join(name);
        write_npy(&file, header, &[0; 8]);
        let output = eval(&file, "[1]");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(stderr.contains(&format!("`{}`", file.display())), "{name}: {stderr}");
    }
}

#[test]
fn npy_booleans_and_double_quoted_headers_read_as_numpy_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let mse = example("mse");
    let value = |truth: &str| -> serde_json::Value {
        let input = format!("y_true={truth}");
        let output = run(&[
            "eval",
            &mse,
            "--input",
            &input,
            "--input",
            "y_pred=[0, 0, 0]",
            "--format",
            "json",
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()["value"].clone()
    };
    // NumPy reads the bytes 0, 2, 255 of a bool array as False, True, True
    // (np.load on these bytes); lossc read 2 and 255.
    let flags = dir.path().join("flags.npy");
    write_npy(
        &flags,
        "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
        &[0, 2, 255],
    );
    assert_eq!(value(path_text(&flags)), value("[0, 1, 1]"));
    // NumPy's header is a Python dict: double quotes are as good as single.
    let quoted = dir.path().join("quoted.npy");
    let data: Vec<u8> = [0.0f64, 1.0, 1.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    write_npy(
        &quoted,
        r#"{"descr": "<f8", "fortran_order": False, "shape": (3,)}"#,
        &data,
    );
    assert_eq!(value(path_text(&quoted)), value("[0, 1, 1]"));
}

#[test]
fn bench_options_are_bounded() {
    let mse = example("mse");
    // Panicked with an overflow adding the alignment to the element count.
    refused(
        &["bench", &mse, "--n", "18446744073709551615"],
        "`--n 18446744073709551615`: the generated data (`y_true` [18446744073709551615], `y_pred` [18446744073709551615]) would need more bytes than can be addressed",
    );
    // Addressable, but more than any machine's memory: the size is named
    // (the memory available is read from /proc/meminfo).
    #[cfg(target_os = "linux")]
    refused(&["bench", &mse, "--n", "1000000000000000"], "would need 16.0 PB");
    // Hung starting the threads.
    refused(
        &["bench", &mse, "--n", "100", "--threads", "100000"],
        "at most 1024 worker threads",
    );
    refused(
        &["bench", &mse, "--n", "100", "--runs", "18446744073709551615"],
        "give from 1 to 10000 timed runs",
    );
}

#[test]
fn probe_and_fit_options_are_bounded() {
    let mse = example("mse");
    // Overflowed splitting the samples among threads.
    refused(&["probe", &mse, "--samples", "18446744073709551615"], "1..=1000000");
    // Each panicked or aborted allocating.
    for (option, value, expected) in [
        (
            "--synthetic",
            "18446744073709551615",
            "`--synthetic 18446744073709551615`: lossc fit allows at most 1000000",
        ),
        (
            "--features",
            "18446744073709551615",
            "`--features 18446744073709551615`: lossc fit allows at most 10000",
        ),
        (
            "--epochs",
            "18446744073709551615",
            "`--epochs 18446744073709551615`: lossc fit allows at most 100000",
        ),
    ] {
        refused(&["fit", &mse, option, value], expected);
    }
    refused(
        &["fit", &mse, "--synthetic", "1000000", "--features", "1000"],
        "lossc fit holds at most 100000000",
    );
    refused(
        &["fit", &mse, "--synthetic", "1000000", "--epochs", "100000"],
        "lossc fit runs at most 1000000000",
    );
    // Data files are held to the same bound before they are converted.
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    // (Checked before the data's length: no need to write 200 MB.)
    write_npy(
        &x,
        "{'descr': '|u1', 'fortran_order': False, 'shape': (200000001,), }",
        &[],
    );
    let x = format!("--data={}", path_text(&x));
    let message = refused(
        &["fit", &mse, &x, &x.replace("--data", "--labels")],
        "holds 200000001 numbers",
    );
    assert!(message.contains("at most 100000000 are read here"), "{message}");
}

#[test]
fn plot_over_the_widest_range_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("wide.svg");
    let mse = example("mse");
    // In f32 the range is beyond the floats: refused, naming the limit.
    refused(
        &["plot", &mse, "--range=-1e308,1e308", "--out", path_text(&out)],
        "the f32 floats end at",
    );
    assert!(!out.exists());
    // In f64 it never ended (NaN grid points bisected forever, plotters'
    // ticks over an infinite span); now it draws, in units of 1e308.
    let output = run(&[
        "plot",
        &mse,
        "--range=-1e308,1e308",
        "--dtype",
        "f64",
        "--out",
        path_text(&out),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.contains("y_pred (× 1e+308)"), "the axis names its unit");
    // A plotted input is one sample of bounded size (this aborted
    // allocating the sample).
    let vector = dir.path().join("vector.loss");
    std::fs::write(
        &vector,
        "input y_true: real [N, C]\ninput y_pred: real [N, C]\nloss l = mean(square(y_true - y_pred))\n",
    )
    .unwrap();
    // A domain holding no float of the dtype panicked in `clamp`; one
    // beyond the dtype's floats is plotted over the finite ones.
    let tiny = dir.path().join("tiny.loss");
    std::fs::write(
        &tiny,
        "input y_true: real\ninput y_pred: (0, 1e-320)\nloss l = mean(y_pred - y_true)\n",
    )
    .unwrap();
    refused(
        &["plot", path_text(&tiny), "--out", path_text(&out)],
        "`y_pred`'s domain holds no f32 number to plot",
    );
    let huge = dir.path().join("huge.loss");
    std::fs::write(
        &huge,
        "input y_true: real\ninput y_pred: [-1.7e308, 1.7e308]\nloss l = mean(abs(y_pred - y_true))\n",
    )
    .unwrap();
    let output = run(&["plot", path_text(&huge), "--out", path_text(&out)]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("reaches beyond the finite f32 numbers: plotted over [-3.40282e+38, 3.40282e+38]"),
        "{stderr}"
    );
    let big = dir.path().join("big.svg");
    refused(
        &[
            "plot",
            path_text(&vector),
            "--dim",
            "C=18446744073709551615",
            "--out",
            path_text(&big),
        ],
        "plot draws one sample of at most 65536 numbers per input",
    );
}

mod option_values {
    //! Every option's value, generated: the command line parses or is
    //! refused, never panics (the value parsers are run by clap).

    use clap::Parser;
    use proptest::prelude::*;

    /// `(command, option)` pairs whose values are parsed by lossc's own
    /// parsers or by clap's ranges.
    const OPTIONS: &[(&str, &str)] = &[
        ("bench", "--n"),
        ("bench", "--dim"),
        ("bench", "--threads"),
        ("bench", "--runs"),
        ("probe", "--samples"),
        ("probe", "--seed"),
        ("fit", "--epochs"),
        ("fit", "--synthetic"),
        ("fit", "--features"),
        ("fit", "--batch-size"),
        ("fit", "--lr"),
        ("plot", "--range"),
        ("plot", "--points"),
        ("plot", "--dim"),
        ("plot", "--fix"),
        ("eval", "--input"),
        ("check", "--param"),
    ];

    /// Values near the edges: huge, negative, non-finite, malformed.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,30}",
            "[-+]?[0-9]{1,25}(\\.[0-9]{0,5})?(e[-+]?[0-9]{1,4})?",
            prop::sample::select(vec![
                "18446744073709551615",
                "18446744073709551616",
                "-1",
                "0",
                "nan",
                "inf",
                "-1e308,1e308",
                "1,0",
                "C=18446744073709551615",
                "y=é.npy",
                "=",
                ",",
            ])
            .prop_map(str::to_string),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn generated_option_values_parse_or_are_refused(
            option in prop::sample::select(OPTIONS),
            value in value(),
        ) {
            let (command, name) = option;
            let pair = format!("{name}={value}");
            let mut args = vec!["lossc", command, "x.loss", &pair];
            if command == "plot" {
                args.extend(["--out", "x.svg"]);
            }
            let _ = lossc_cli::Cli::try_parse_from(args);
        }
    }
}
