//! The static analyzer against the cases its documentation names and hand-checked
//! hazards: each expected code with its values, and no error on the
//! well-guarded standard losses, in f32 and f64.

use lossc::{CheckOptions, Code, Diagnostic, Dtype, Severity};

fn check(source: &str, dtype: Dtype) -> Vec<Diagnostic> {
    let options = CheckOptions {
        dtype,
        ..CheckOptions::default()
    };
    lossc::check(source, &options).expect("valid options")
}

fn example(name: &str) -> String {
    let path = format!("{}/../../examples/{name}.loss", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[track_caller]
fn expect(source: &str, dtype: Dtype, code: Code, severity: Severity, words: &[&str]) -> Diagnostic {
    let found = check(source, dtype);
    let d = found
        .iter()
        .find(|d| d.code == code && words.iter().all(|w| d.message.contains(w)))
        .or_else(|| found.iter().find(|d| d.code == code))
        .unwrap_or_else(|| panic!("no {code} in {dtype} for\n{source}\nfound: {:#?}", codes(&found)));
    assert_eq!(d.severity, severity, "{code}: {}", d.message);
    for word in words {
        assert!(d.message.contains(word), "{code}: `{word}` not in `{}`", d.message);
    }
    d.clone()
}

#[track_caller]
fn no_errors(source: &str, dtype: Dtype) {
    let found = check(source, dtype);
    let errors: Vec<&Diagnostic> = found.iter().filter(|d| d.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "errors in {dtype} for\n{source}\n{errors:#?}");
}

#[track_caller]
fn absent(source: &str, dtype: Dtype, code: Code) {
    let found = check(source, dtype);
    assert!(
        !found.iter().any(|d| d.code == code),
        "unexpected {code} in {dtype} for\n{source}\n{found:#?}"
    );
}

fn codes(found: &[Diagnostic]) -> Vec<String> {
    found
        .iter()
        .map(|d| format!("{} {}: {}", d.severity, d.code, d.message))
        .collect()
}

#[test]
fn the_three_faulty_examples_of_the_issue() {
    // A step through `where`: dead below the threshold, about half the domain.
    let step = expect(
        &example("faulty_step_where"),
        Dtype::F32,
        Code::DeadGradient,
        Severity::Warning,
        &["y_pred <= threshold", "threshold = 0.5", "of the declared domain"],
    );
    let percent: f64 = step
        .message
        .split('%')
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((45.0..=55.0).contains(&percent), "{}", step.message);
    // -log(y_pred + 1e-8) * y_true: the slope reaches 1 / 1e-8 at y_pred = 0.
    expect(
        &example("faulty_log_eps"),
        Dtype::F32,
        Code::ExplodingGradient,
        Severity::Warning,
        &["1e8", "`y_pred` = 0"],
    );
    expect(
        &example("faulty_log_eps"),
        Dtype::F64,
        Code::ExplodingGradient,
        Severity::Warning,
        &["1e8"],
    );
    // A hard threshold on the batch error.
    let found = check(&example("faulty_threshold"), Dtype::F32);
    assert!(
        found
            .iter()
            .any(|d| d.code == Code::Discontinuity || d.code == Code::ZeroGradient),
        "{:#?}",
        codes(&found)
    );
}

#[test]
fn well_guarded_standard_losses_get_no_error() {
    for name in [
        "bce",
        "weighted_bce",
        "cce_logits",
        "sparse_cce",
        "bce_logits",
        "mse",
        "huber",
        "mae",
        "log_cosh",
        "focal",
        "dice",
        "hinge",
        "kl_divergence",
        "cosine_similarity",
        "msle",
        "quantile",
    ] {
        for dtype in [Dtype::F32, Dtype::F64] {
            no_errors(&example(name), dtype);
        }
    }
}

#[test]
fn domain_hazards_name_their_values() {
    let src = "input y_pred: [0, 1]\nloss = mean(-log(y_pred))";
    expect(
        src,
        Dtype::F32,
        Code::LogDomain,
        Severity::Error,
        &["`y_pred` reaches 0 when `y_pred` = 0"],
    );
    // The README's own example.
    let src = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nlet p = y_pred\nloss = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))";
    expect(
        src,
        Dtype::F32,
        Code::LogDomain,
        Severity::Error,
        &["`1 - p` reaches 0 when `y_pred` = 1"],
    );
    // The other bases, as `log`.
    for f in ["log2", "log10"] {
        let src = format!("input y_pred: [0, 1]\nloss = mean(-{f}(y_pred))");
        expect(
            &src,
            Dtype::F32,
            Code::LogDomain,
            Severity::Error,
            &["`y_pred` reaches 0 when `y_pred` = 0"],
        );
        absent(
            &format!("input y_pred: [0.1, 1]\nloss = mean(-{f}(y_pred))"),
            Dtype::F32,
            Code::LogDomain,
        );
    }
    // asin and acos are NaN outside [-1, 1]; at -1 and 1 only their slope is infinite.
    for f in ["asin", "acos"] {
        let src = format!("input y_pred: [0, 1]\nloss = mean({f}(y_pred * 2))");
        expect(
            &src,
            Dtype::F32,
            Code::AsinDomain,
            Severity::Error,
            &["`y_pred * 2` reaches 2 when `y_pred` = 1"],
        );
        let src = format!("input y_pred: [0, 1]\nloss = mean({f}(y_pred))");
        absent(&src, Dtype::F32, Code::AsinDomain);
        absent(&src, Dtype::F64, Code::AsinDomain);
        expect(&src, Dtype::F64, Code::NanGradient, Severity::Error, &["`y_pred` = 1"]);
        let src = format!("input y_pred: [0, 1]\nloss = mean({f}(clip(y_pred, -1 + 1e-7, 1 - 1e-7)))");
        no_errors(&src, Dtype::F32);
        absent(&src, Dtype::F32, Code::NanGradient);
    }
    let src = "input y_pred: [-1, 1]\nloss = mean(1 / y_pred)";
    expect(
        src,
        Dtype::F32,
        Code::DivByZero,
        Severity::Error,
        &["`y_pred` reaches 0"],
    );
    let src = "input y_pred: [-1, 1]\nloss = mean(sqrt(y_pred))";
    expect(
        src,
        Dtype::F32,
        Code::SqrtDomain,
        Severity::Error,
        &["`y_pred` reaches -1"],
    );
    let src = "input y_pred: [-1, 1]\nloss = mean(y_pred ^ 0.5)";
    expect(src, Dtype::F32, Code::PowDomain, Severity::Error, &[]);
    let src = "input y_pred: [0, 100]\nloss = mean(exp(y_pred))";
    expect(src, Dtype::F32, Code::ExpOverflow, Severity::Error, &["88.72"]);
    // 100 is far from f64's 709.78.
    absent(src, Dtype::F64, Code::ExpOverflow);
    // A log whose -inf is absorbed: PyTorch's BCELoss clamps at -100.
    let src = "input y_pred: [0, 1]\nloss = mean(-maximum(log(y_pred), -100))";
    expect(src, Dtype::F32, Code::LogDomain, Severity::Warning, &[]);
    // Guarded by the branch: the value is fine (the gradient trap is separate).
    let src = "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0, -log(y_pred), 0))";
    absent(src, Dtype::F32, Code::LogDomain);
}

#[test]
fn gradient_hazards() {
    // The Euclidean distance of identical vectors: sqrt'(0) is infinite.
    let src = "input a: real [N, D]\ninput b: real [N, D]\nwrt a\nloss = mean(sqrt(sum(square(a - b), axis=-1)))";
    expect(src, Dtype::F32, Code::NanGradient, Severity::Error, &["sqrt("]);
    let guarded =
        "input a: real [N, D]\ninput b: real [N, D]\nwrt a\nloss = mean(sqrt(sum(square(a - b), axis=-1) + 1e-12))";
    absent(guarded, Dtype::F32, Code::NanGradient);
    // The double-where trap: NaN for framework autodiff at 0, where lossc's
    // gradient is 0; both overflow at the smallest denormal, 1 / 1e-45 > 3.4e38.
    let src = "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0, -log(y_pred), 0))";
    expect(
        src,
        Dtype::F32,
        Code::WhereNanGradient,
        Severity::Warning,
        &["`y_pred` = 0"],
    );
    expect(
        src,
        Dtype::F32,
        Code::NanGradient,
        Severity::Error,
        &["`y_pred` = 1e-45"],
    );
    let away = "input y_pred: [0, 1]\nloss = mean(where(y_pred > 1e-6, -log(y_pred), 0))";
    absent(away, Dtype::F32, Code::NanGradient);
    expect(away, Dtype::F32, Code::WhereNanGradient, Severity::Warning, &[]);
    let fixed = "input y_pred: [0, 1]\nloss = mean(where(y_pred > 1e-6, -log(where(y_pred > 1e-6, y_pred, 1)), 0))";
    absent(fixed, Dtype::F32, Code::WhereNanGradient);
}

/// lossc's gradient and the frameworks' (`Style::Framework`) of `source`'s
/// loss with respect to `y_pred`, at the one sample `values` (by input name).
fn both_gradients_at(source: &str, values: &[(&str, f64)]) -> (f64, f64) {
    use lossc_symbolic::grad::{Style, gradient_in_style};
    let program = lossc::compile(source).unwrap();
    let mut ir = program.ir().clone();
    let root = ir.results[0].root;
    let var = lossc::ir::Var::Input(ir.inputs.iter().position(|i| i.name == "y_pred").unwrap());
    let lossc_root = gradient_in_style(&mut ir, root, var, Style::Lossc).unwrap();
    let fw_root = gradient_in_style(&mut ir, root, var, Style::Framework).unwrap();
    let data = values
        .iter()
        .map(|(name, v)| (*name, ndarray::ArrayD::from_elem(ndarray::IxDyn(&[1]), *v)));
    let bindings = lossc_reference::Bindings::new(&ir, data).unwrap();
    let got = lossc_reference::eval::<f64>(&ir, &[lossc_root, fw_root], &bindings).unwrap();
    let one = |k: usize| *got[k].iter().next().unwrap();
    (one(0), one(1))
}

#[test]
fn a_fractional_power_of_abs_has_a_framework_nan_at_the_kink() {
    // PyTorch and TensorFlow: q * |e|^(q - 1) * sign(e) = inf * 0 at e = 0;
    // lossc takes abs'(0) = 0 and its gradient is 0 there.
    let header = "input y_true: real\ninput y_pred: real\n";
    for (body, named) in [
        ("abs(y_pred - y_true) ^ 0.5", "`abs(y_pred - y_true) ^ 0.5`"),
        ("sqrt(abs(y_pred - y_true))", "`sqrt(abs(y_pred - y_true))`"),
        ("pow(abs(y_pred - y_true), 0.3)", "`pow(abs(y_pred - y_true), 0.3)`"),
    ] {
        let src = format!("{header}loss = mean({body})");
        for dtype in [Dtype::F32, Dtype::F64] {
            let d = expect(
                &src,
                dtype,
                Code::WhereNanGradient,
                Severity::Warning,
                &[named, "where `y_pred - y_true` = 0", "lossc's gradient is 0 there"],
            );
            let at = |name: &str| d.witness.iter().find(|w| w.input == name).unwrap().value;
            assert_eq!(at("y_pred"), at("y_true"), "{:?}", d.witness);
            let (lossc, framework) = both_gradients_at(&src, &[("y_true", at("y_true")), ("y_pred", at("y_pred"))]);
            assert_eq!(lossc, 0.0, "{body}");
            assert!(framework.is_nan(), "{body}: the frameworks' gradient is {framework}");
            // One finding per cause: no unshown `nan-gradient` at the same place.
            absent(&src, dtype, Code::NanGradient);
        }
    }
    // A power of a param below 1 too.
    let src = format!("{header}param q = 0.5\nloss = mean(pow(abs(y_pred - y_true), q))");
    expect(
        &src,
        Dtype::F32,
        Code::WhereNanGradient,
        Severity::Warning,
        &["pow(abs("],
    );
    // Finite slopes at 0, or a base kept away from it: nothing to report.
    for body in [
        "abs(y_pred - y_true) ^ 1.5",
        "square(y_pred - y_true)",
        "abs(y_pred - y_true)",
        "(abs(y_pred - y_true) + 1e-6) ^ 0.5",
    ] {
        let src = format!("{header}loss = mean({body})");
        absent(&src, Dtype::F32, Code::WhereNanGradient);
        absent(&src, Dtype::F64, Code::WhereNanGradient);
    }
    // A `where` trap beside it: each is reported once, at its own place.
    let src = format!("{header}loss = mean(where(y_pred > 0, sqrt(y_pred), 0) + sqrt(abs(y_pred - y_true)))");
    let found = check(&src, Dtype::F32);
    let traps: Vec<&Diagnostic> = found.iter().filter(|d| d.code == Code::WhereNanGradient).collect();
    assert_eq!(traps.len(), 2, "{:#?}", codes(&found));
    assert!(
        traps.iter().any(|d| d.message.contains("this `where`")),
        "{:#?}",
        codes(&found)
    );
    assert!(
        traps.iter().any(|d| d.message.contains("`sqrt(abs(y_pred - y_true))`")),
        "{:#?}",
        codes(&found)
    );
}

#[test]
fn gradients_that_cannot_train() {
    expect(
        "loss = mean(abs(y_true - round(y_pred)))",
        Dtype::F32,
        Code::ZeroGradient,
        Severity::Error,
        &["round"],
    );
    expect(
        "loss = mean(square(y_true))",
        Dtype::F32,
        Code::NoGradientPath,
        Severity::Error,
        &["y_pred"],
    );
    let relu = "input y_pred: [-1, 1]\nloss = mean(relu(y_pred))";
    let d = expect(
        relu,
        Dtype::F32,
        Code::DeadGradient,
        Severity::Warning,
        &["y_pred <= 0"],
    );
    assert!(d.message.contains('%'), "{}", d.message);
    // Keras's clip: a thin saturated band, a note; a wide one, a warning.
    let thin = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nlet p = clip(y_pred, 1e-7, 1 - 1e-7)\nloss = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))";
    expect(thin, Dtype::F32, Code::ClipSaturation, Severity::Note, &[]);
    let wide = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nlet p = clip(y_pred, 0.1, 0.9)\nloss = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))";
    expect(wide, Dtype::F32, Code::ClipSaturation, Severity::Warning, &["%"]);
}

#[test]
fn precision_depends_on_the_dtype() {
    let src = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nconst eps = 1e-8\nlet p = clip(y_pred, eps, 1 - eps)\nloss = mean(-(y_true * log(p) + (1 - y_true) * log(1 - p)))";
    expect(
        src,
        Dtype::F32,
        Code::PrecisionLoss,
        Severity::Warning,
        &["`1 - eps` is exactly 1 in f32"],
    );
    // ... and then log(1 - p) reaches log(0).
    expect(
        src,
        Dtype::F32,
        Code::LogDomain,
        Severity::Error,
        &["`1 - p` reaches 0"],
    );
    absent(src, Dtype::F64, Code::PrecisionLoss);
    absent(src, Dtype::F64, Code::LogDomain);
}

#[test]
fn stable_forms_come_with_a_proven_fix() {
    let src = "input y_pred: real\nloss = mean(log(1 + exp(y_pred)) - y_pred)";
    let d = expect(
        src,
        Dtype::F32,
        Code::PrecisionLoss,
        Severity::Warning,
        &["softplus(y_pred)"],
    );
    let fix = d.fix.expect("a fix");
    assert_eq!(&src[fix.span.start..fix.span.end], "log(1 + exp(y_pred))");
    assert_eq!(fix.replacement, "softplus(y_pred)");
    // Applying the fix removes the finding (and the overflow it caused).
    let fixed = format!("{}{}{}", &src[..fix.span.start], fix.replacement, &src[fix.span.end..]);
    absent(&fixed, Dtype::F32, Code::PrecisionLoss);
    absent(&fixed, Dtype::F32, Code::ExpOverflow);
    let d = expect(
        "input y_pred: real\nloss = mean(-log(sigmoid(y_pred)))",
        Dtype::F32,
        Code::PrecisionLoss,
        Severity::Warning,
        &["log_sigmoid"],
    );
    assert!(d.notes.iter().any(|n| n.contains("proven equal")), "{:?}", d.notes);
}

#[test]
fn log_of_one_plus_is_reported_only_where_x_can_be_small() {
    // Wing loss: `log(1 + x / e)` sees x near 0; `log(1 + w / e)` is log(6).
    let src = "input y_true: real\ninput y_pred: real\nconst w = 10.0\nconst e = 2.0\n\
               let x = abs(y_true - y_pred)\nlet c = w - w * log(1 + w / e)\n\
               loss = mean(where(x < w, w * log(1 + x / e), x - c))";
    let found = check(src, Dtype::F32);
    let precision: Vec<&Diagnostic> = found.iter().filter(|d| d.code == Code::PrecisionLoss).collect();
    assert_eq!(precision.len(), 1, "{:#?}", codes(&found));
    assert!(
        precision[0].message.contains("log1p(x / e)"),
        "{}",
        precision[0].message
    );
    // Bounded away from 0 (x >= 1: at most one bit of x lost): nothing to say.
    absent(
        "input y_pred: [1, 10]\nloss = mean(log(1 + y_pred))",
        Dtype::F32,
        Code::PrecisionLoss,
    );
    absent(
        "input y_pred: [1, 10]\nloss = mean(exp(y_pred) - 1)",
        Dtype::F32,
        Code::PrecisionLoss,
    );
    expect(
        "input y_pred: [0, 1]\nloss = mean(exp(y_pred) - 1)",
        Dtype::F32,
        Code::PrecisionLoss,
        Severity::Warning,
        &["expm1(y_pred)"],
    );
}

#[test]
fn an_overflow_only_the_gradient_has_says_so() {
    // Focal loss from logits: a gradient term written at `y_true * p` (which
    // itself stays in [0, 1]) overflows for smaller |logits| than the value.
    let src = "input y_true: {0, 1}\ninput logits: real\nwrt logits\nlet p = sigmoid(logits)\n\
               let ce = softplus(logits) - y_true * logits\nlet p_t = y_true * p + (1 - y_true) * (1 - p)\n\
               loss = mean((1 - p_t) ^ 2 * ce)";
    let d = expect(
        src,
        Dtype::F32,
        Code::Overflow,
        Severity::Note,
        &["the gradient through `"],
    );
    assert!(!d.message.starts_with('`'), "{}", d.message);
}

#[test]
fn a_dead_share_names_the_box_it_was_sampled_in() {
    // Contrastive loss: dist in [0, inf) is sampled in [0, 10], not [-10, 10]
    // (a note: beyond the margin a dissimilar pair is at the loss's goal).
    let src = "input y_true: {0, 1}\ninput dist: [0, inf)\nwrt dist\n\
               loss = mean(y_true * square(dist) + (1 - y_true) * square(maximum(1 - dist, 0)))";
    expect(
        src,
        Dtype::F32,
        Code::DeadGradient,
        Severity::Note,
        &["of points sampled in [0, 10]"],
    );
}

#[test]
fn jumps_and_kinks() {
    let src = "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0.5, 1 - y_pred, 1))";
    expect(
        src,
        Dtype::F32,
        Code::Discontinuity,
        Severity::Warning,
        &["y_pred > 0.5"],
    );
    // Huber's branches meet: no jump, a kink-free join.
    absent(&example("huber"), Dtype::F32, Code::Discontinuity);
    expect(
        &example("mae"),
        Dtype::F32,
        Code::NonSmooth,
        Severity::Note,
        &["y_true - y_pred = 0"],
    );
    // A kink that is 0 where it bends, squared (or raised above 1), is
    // differentiable: the squared hinge's slope is 0 from both sides.
    absent(&example("squared_hinge"), Dtype::F32, Code::NonSmooth);
    absent(
        "input y_pred: real\nloss = mean(pow(abs(y_pred), 1.5))",
        Dtype::F32,
        Code::NonSmooth,
    );
    // ... but not one that bends away from 0, or one also read elsewhere.
    expect(
        "input y_pred: real\nloss = mean(square(maximum(y_pred, 1)))",
        Dtype::F32,
        Code::NonSmooth,
        Severity::Note,
        &["y_pred = 1"],
    );
    expect(
        "input y_pred: real\nlet a = abs(y_pred)\nloss = mean(square(a) + a)",
        Dtype::F32,
        Code::NonSmooth,
        Severity::Note,
        &["y_pred = 0"],
    );
    expect(
        "input y_pred: real\nloss = mean(pow(abs(y_pred), 0.5) + 1)",
        Dtype::F32,
        Code::NonSmooth,
        Severity::Note,
        &["y_pred = 0"],
    );
}

#[test]
fn overflow_is_reported_once_by_magnitude() {
    let found = check(&example("mse"), Dtype::F32);
    let overflow: Vec<&Diagnostic> = found.iter().filter(|d| d.code == Code::Overflow).collect();
    assert_eq!(overflow.len(), 1, "{:#?}", codes(&found));
    assert_eq!(overflow[0].severity, Severity::Note);
    // sqrt(2^127): square overflows f32 at inputs of about 9.2e18 (two inputs, opposite signs).
    assert!(overflow[0].message.contains("9.223e18"), "{}", overflow[0].message);
    // Nothing else: MSE's gradient grows with the error, but that is not "exploding".
    assert_eq!(found.len(), 1, "{:#?}", codes(&found));
}

#[test]
fn a_power_of_a_base_in_zero_one_never_overflows_for_a_non_negative_exponent() {
    // 0 ^ y is 0 or 1 for y >= 0; c ^ y with c in (0, 1] is at most 1. Its
    // gradient with respect to y is 0 * 0^y = 0 at the base 0 (JAX's rule).
    for body in ["mean(0 ^ y_pred)", "mean(0.5 ^ y_pred)", "mean(1 ^ y_pred)"] {
        for domain in ["[0, 1]", "(0, inf)", "[0, 1000]"] {
            let source = format!("input y_pred: {domain}\nloss l = {body}");
            for dtype in [Dtype::F32, Dtype::F64] {
                absent(&source, dtype, Code::ExpOverflow);
                absent(&source, dtype, Code::Overflow);
                absent(&source, dtype, Code::NanGradient);
            }
        }
    }
    // Below 0 the base 0 gives inf: 0 to a negative power, not an overflow.
    let source = "input y_pred: [-1, 1]\nloss l = mean(0 ^ y_pred)";
    expect(source, Dtype::F32, Code::PowDomain, Severity::Warning, &[]);
    absent(source, Dtype::F32, Code::ExpOverflow);
    // A base above 1 still overflows.
    expect(
        "input y_pred: [0, 1000]\nloss l = mean(2 ^ y_pred)",
        Dtype::F32,
        Code::ExpOverflow,
        Severity::Error,
        &["exceeds 128"],
    );
}

#[test]
fn no_message_prints_an_empty_condition() {
    // Operands and derivatives that read no input (`0`, `log(0)`) are
    // described by the inputs of the loss at the witness, or not at all.
    let bodies = [
        "mean(0 ^ y_pred)",
        "mean(0 ^ (y_pred - 1))",
        "mean(y_pred ^ 0)",
        "mean(xlogy(y_pred, 0))",
        "mean(where(y_pred > 0, y_pred, log(0 * 1)))",
        "mean(y_true ^ y_pred)",
    ];
    for body in bodies {
        for domain in ["real", "[0, 1]", "[-1, 1]"] {
            let source = format!("input y_true: [0, 1]\ninput y_pred: {domain}\nloss l = {body}");
            for dtype in [Dtype::F32, Dtype::F64] {
                for d in check(&source, dtype) {
                    let mut text = vec![d.message.clone(), d.label.clone()];
                    text.extend(d.notes.iter().cloned());
                    let text = text.join(" | ");
                    for empty in ["when ,", "when  ", "when )", "at ,", "at )"] {
                        assert!(!text.contains(empty), "`{empty}` in {}: {text}\n{source}", d.code);
                    }
                    assert!(
                        !d.message.trim_end().ends_with(" when") && !d.message.trim_end().ends_with(" at"),
                        "an empty condition at the end: {}\n{source}",
                        d.message
                    );
                }
            }
        }
    }
}

/// `stop_gradient`: its value is its argument's (a hazard inside it is still
/// found), nothing of the gradient passes through it (a NaN in its
/// argument's derivative is not the gradient's), and a loss that reaches the
/// model only through it has zero gradient, with advice about the stop.
#[test]
fn stop_gradient_keeps_the_value_and_drops_the_derivative() {
    for dtype in [Dtype::F32, Dtype::F64] {
        // The value's hazard is the argument's: log(0) at y_pred = 0.
        expect(
            "input y_pred: [0, 1] [N]\nloss l = mean(stop_gradient(log(y_pred)) + y_pred)\n",
            dtype,
            Code::LogDomain,
            Severity::Error,
            &["`y_pred` = 0"],
        );
        // sqrt'(0) is infinite, but the stopped sqrt has no derivative: no nan-gradient.
        let stopped = "input y_pred: [0, 1] [N]\nloss l = mean(square(y_pred - stop_gradient(sqrt(y_pred))))\n";
        absent(stopped, dtype, Code::NanGradient);
        no_errors(stopped, dtype);
        let unstopped = "input y_pred: [0, 1] [N]\nloss l = mean(square(y_pred - sqrt(y_pred)))\n";
        expect(unstopped, dtype, Code::NanGradient, Severity::Error, &["sqrt(y_pred)"]);
        let zero = expect(
            "input y_true: real [N]\ninput y_pred: real [N]\nloss l = mean(stop_gradient(y_pred) * y_true)\n",
            dtype,
            Code::ZeroGradient,
            Severity::Error,
            &["only through `stop_gradient`"],
        );
        assert!(zero.help.unwrap().contains("use `y_pred` outside it"));
    }
}

/// A number the dtype cannot hold: `1e-50` is 0 in f32, so `log(y_pred +
/// 1e-50)` is `log(y_pred)` there; the log-domain error says why the guard
/// failed and the literal gets its own warning. In f64 both are fine.
#[test]
fn a_literal_that_vanishes_in_the_dtype_is_named() {
    let source = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss l = mean(-y_true * log(y_pred + 1e-50))\n";
    let error = expect(source, Dtype::F32, Code::LogDomain, Severity::Error, &["`y_pred` = 0"]);
    assert!(
        error.notes.iter().any(|n| n.contains("the guard `1e-50` is 0 in f32")),
        "{:?}",
        error.notes
    );
    expect(
        source,
        Dtype::F32,
        Code::PrecisionLoss,
        Severity::Warning,
        &["`1e-50` is 0 in f32", "1e-45"],
    );
    absent(source, Dtype::F64, Code::PrecisionLoss);
    absent(source, Dtype::F64, Code::LogDomain);
    // Too large for f32: an infinity.
    let huge = "input y_pred: [0, 1]\nloss l = mean(y_pred * 1e39)\n";
    expect(
        huge,
        Dtype::F32,
        Code::PrecisionLoss,
        Severity::Warning,
        &["`1e39` is infinite in f32"],
    );
    absent(huge, Dtype::F64, Code::PrecisionLoss);
    // A number the dtype rounds, but not to 0 or an infinity, is not this warning.
    absent(
        "input y_pred: [0, 1]\nloss l = mean(-log(y_pred + 1e-40))\n",
        Dtype::F32,
        Code::PrecisionLoss,
    );
}

/// A step times what carries the gradient bends where it steps, which the
/// gradient (the step's derivative is 0) does not see: the pinball loss and
/// `sign(e) * e` get a `non-smooth` note at `e = 0`; a step of an input that
/// is not differentiated gets none.
#[test]
fn a_step_on_the_variables_path_is_a_kink() {
    let pinball = "input y_true: real [N]\ninput y_pred: real [N]\nlet err = y_pred - y_true\nloss l = mean((0.3 - float(err < 0)) * err)\n";
    let sign =
        "input y_true: real [N]\ninput y_pred: real [N]\nloss l = mean(sign(y_pred - y_true) * (y_pred - y_true))\n";
    let label_step =
        "input y_true: [0, 1] [N]\ninput y_pred: real [N]\nloss l = mean(float(y_true > 0.5) * square(y_pred))\n";
    for dtype in [Dtype::F32, Dtype::F64] {
        let d = expect(pinball, dtype, Code::NonSmooth, Severity::Note, &["`err = 0`"]);
        assert_eq!(d.label, "`float` steps there");
        expect(sign, dtype, Code::NonSmooth, Severity::Note, &["`y_pred - y_true = 0`"]);
        absent(label_step, dtype, Code::NonSmooth);
    }
}

/// Where `floor` and `round` step: `floor` at the integers, `round` at the
/// halves. Over (0.1, 0.4) neither steps; over (0.4, 0.6) only `round` does.
#[test]
fn floor_steps_at_integers_and_round_at_halves() {
    let program = |domain: &str, f: &str| {
        format!("input y_true: real [N]\ninput y_pred: {domain} [N]\nloss l = mean({f}(y_pred) * y_pred + y_true)\n")
    };
    for dtype in [Dtype::F32, Dtype::F64] {
        absent(&program("[0.1, 0.4]", "floor"), dtype, Code::NonSmooth);
        absent(&program("[0.1, 0.4]", "round"), dtype, Code::NonSmooth);
        absent(&program("[0.4, 0.6]", "floor"), dtype, Code::NonSmooth);
        expect(
            &program("[0.4, 0.6]", "round"),
            dtype,
            Code::NonSmooth,
            Severity::Note,
            &["an integer and a half"],
        );
        expect(
            &program("[0.5, 1.5]", "floor"),
            dtype,
            Code::NonSmooth,
            Severity::Note,
            &["is an integer"],
        );
    }
}

/// Intervals lose that a value read twice moves together: over `e` in
/// `[-inf, inf]` each of `exp(e)` and `exp(-e)` is `[0, inf]`, so their sum
/// "can be 0". When the operand depends on the inputs only through one such
/// value, the analysis subdivides it and the false alarm goes; a real hazard
/// of the same shape stays, with its witness.
#[test]
fn a_value_read_twice_is_subdivided_before_a_domain_finding() {
    // (loss, the operand's minimum by hand) for operands that never reach
    // their hazard: (x - 1)^2 + 1, (x - 1)^2 + 0.5, 2 cosh(e), x^2 + 1.
    let safe = [
        (
            "input x: real\nwrt x\nloss l = mean(log(x * x - 2 * x + 2))",
            Code::LogDomain,
        ),
        (
            "input x: real\nwrt x\nloss l = mean(sqrt(x * x - 2 * x + 1.5))",
            Code::SqrtDomain,
        ),
        (
            "input y_true: real\ninput y_pred: real\nlet e = y_pred - y_true\nloss l = mean(log((exp(e) + exp(-e)) / 2))",
            Code::LogDomain,
        ),
        ("input x: real\nwrt x\nloss l = mean(x / (x * x + 1))", Code::DivByZero),
    ];
    for (source, code) in safe {
        for dtype in [Dtype::F32, Dtype::F64] {
            absent(source, dtype, code);
        }
    }
    // The same shape that does reach 0: (x - 1)^2 at x = 1.
    expect(
        "input x: real\nwrt x\nloss l = mean(log(x * x - 2 * x + 1))",
        Dtype::F32,
        Code::LogDomain,
        Severity::Error,
        &["reaches 0"],
    );
}

/// A part over its whole, `(tp + s) / (tp + a * fn + b * fp + s)` (the
/// Tversky index), lies in [0, 1]: its denominator is its numerator plus
/// terms that are never negative. So `1 - ti` under a fractional power is
/// no `pow-domain` finding; the real hazard of that loss stays (at a perfect
/// prediction `1 - ti` is 0, where the power's slope is infinite). With a
/// term that can be negative the quotient is not bounded, and the findings
/// stay.
#[test]
fn a_part_over_its_whole_lies_in_zero_one() {
    let tversky = "
input y_true: [0, 1] [N, C]
input y_pred: [0, 1] [N, C]
const s = 1.0
let tp = sum(y_true * y_pred, axis=-1)
let fn_ = sum(y_true * (1 - y_pred), axis=-1)
let fp = sum((1 - y_true) * y_pred, axis=-1)
let ti = (tp + s) / (tp + 0.7 * fn_ + 0.3 * fp + s)
loss focal_tversky = mean(pow(1 - ti, 0.75))
";
    for dtype in [Dtype::F32, Dtype::F64] {
        absent(tversky, dtype, Code::PowDomain);
        expect(tversky, dtype, Code::NanGradient, Severity::Error, &["y_pred` = 0"]);
    }
    // Independently: in f32, with the same order of additions, the index
    // never exceeds 1, over many random non-negative sums.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        f32::from_bits(((state >> 41) as u32) | 0x3f80_0000) - 1.0
    };
    for _ in 0..100_000 {
        let scale = 10f32.powi((next() * 12.0) as i32 - 6);
        let (tp, fn_, fp) = (next() * scale, next() * scale, next() * scale);
        let ti = (tp + 1.0) / (tp + 0.7 * fn_ + 0.3 * fp + 1.0);
        assert!((0.0..=1.0).contains(&ti), "{tp} {fn_} {fp}: {ti}");
    }
    let signed = "input a: [0, inf)\ninput b: [-1, inf)\nwrt a\nloss l = mean(sqrt(1 - a / (a + b + 1)))";
    expect(signed, Dtype::F32, Code::SqrtDomain, Severity::Error, &[]);
}

/// A zero gradient where the prediction already sits in the loss's flat
/// minimum with its label is the loss doing its job (a hinge's satisfied
/// margin, an epsilon-insensitive tube): a `dead-gradient` note, not a
/// warning. Where a wrong prediction gets no gradient because the loss
/// rises between it and its label (a step through `where`), or because the
/// loss ignores the sample whatever the prediction (`-y_true * log(p)` for
/// a negative), the warning stays.
#[test]
fn a_zero_gradient_at_the_goal_is_a_note() {
    let satisfied = [
        "input y_true: {-1, 1}\ninput y_pred: real\nloss hinge = mean(maximum(1 - y_true * y_pred, 0))",
        "input y_true: real\ninput y_pred: real\nparam epsilon = 0.1\nloss l = mean(maximum(abs(y_true - y_pred) - epsilon, 0))",
        "input y_true: {-1, 1} [N, C]\ninput y_pred: real [N, C]\n\
         loss l = mean(mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1))",
    ];
    for source in satisfied {
        for dtype in [Dtype::F32, Dtype::F64] {
            let d = expect(
                source,
                dtype,
                Code::DeadGradient,
                Severity::Note,
                &["at the loss's goal"],
            );
            assert!(
                check(source, dtype).iter().all(|d| d.severity != Severity::Warning),
                "{source}: {d:?}"
            );
        }
    }
    expect(
        "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss l = mean(-log(y_pred + 1e-8) * y_true)",
        Dtype::F32,
        Code::DeadGradient,
        Severity::Warning,
        &["`y_true` = 0"],
    );
    expect(
        &example("faulty_step_where"),
        Dtype::F32,
        Code::DeadGradient,
        Severity::Warning,
        &["`y_pred <= threshold`"],
    );
    // A threshold that hides errors: the loss drops to its minimum through
    // a jump, so the flat side is not a goal reached by descending.
    expect(
        &example("faulty_threshold"),
        Dtype::F32,
        Code::DeadGradient,
        Severity::Warning,
        &["`batch_mae <= threshold`"],
    );
}

/// The goal need not be the label's value: Keras's hinge maps labels in
/// {0, 1} to -1 and 1 and is satisfied by any logit beyond the margin, and a
/// triplet loss (no label at all) by any negative farther than the positive
/// plus the margin. What makes them goals is that the prediction is as good
/// as any other and that another label (or anchor) would make it wrong.
#[test]
fn a_goal_is_a_minimum_that_depends_on_the_label() {
    let goals = [
        "input y_true: {0, 1}\ninput y_pred: real\nlet y = 2 * y_true - 1\nloss hinge = mean(maximum(1 - y * y_pred, 0))",
        "input a: real [N, D]\ninput p: real [N, D]\ninput n: real [N, D]\nwrt a, p, n\n\
         def dist(u, v) = sqrt(sum(square(u - v), axis=-1) + 1e-12)\n\
         loss triplet = mean(maximum(dist(a, p) - dist(a, n) + 0.2, 0))",
    ];
    for source in goals {
        let found = check(source, Dtype::F32);
        assert!(
            found
                .iter()
                .any(|d| d.code == Code::DeadGradient && d.severity == Severity::Note),
            "{source}: {found:?}"
        );
        assert!(
            found.iter().all(|d| d.severity != Severity::Warning),
            "{source}: {found:?}"
        );
    }
}

/// A zero gradient that is the dtype's rounding (the Welsch loss's
/// `exp(-e^2 / 2)` underflows in f32 for errors beyond about 13; in f64 the
/// gradient there is about 1e-80, not 0) is a note, and f64 has no finding;
/// a sample whose mask row is all zeros is ignored by design: a note naming
/// the mask.
#[test]
fn rounding_and_masking_are_notes() {
    let welsch = "input y_true: real\ninput y_pred: real\nloss l = mean(1 - exp(-0.5 * square(y_pred - y_true)))";
    // Independently: the exact gradient at e = 20 is e * exp(-e^2 / 2).
    assert_eq!(20f32 * (-200f32).exp(), 0.0);
    assert!(20f64 * (-200f64).exp() > 0.0);
    expect(
        welsch,
        Dtype::F32,
        Code::DeadGradient,
        Severity::Note,
        &["rounds to exactly zero in f32"],
    );
    assert!(check(welsch, Dtype::F64).iter().all(|d| d.code != Code::DeadGradient));
    let masked = "input y_true: real [N, D]\ninput y_pred: real [N, D]\ninput mask: {0, 1} [N, D]\n\
                  loss l = sum(mask * square(y_pred - y_true)) / maximum(sum(mask), 1)";
    let d = expect(
        masked,
        Dtype::F32,
        Code::DeadGradient,
        Severity::Note,
        &["a row of `mask` is all zeros"],
    );
    // 3 elements per row: all zero in 1 of 8 rows.
    assert!(d.message.contains("13%") || d.message.contains("12%"), "{}", d.message);
}

/// The help of an `exploding-gradient` finding names the small value and,
/// for a slope `G / x`, the value `x` must keep: the slope of
/// `-log(y_pred + 1e-8)` is `1 / (y_pred + 1e-8)`, 1e8 at `y_pred` = 0, so
/// under 1e6 needs `y_pred + eps >= 1e-6`. Logits are suggested only for a
/// probability: Keras's MAPE divides by `maximum(|y_true|, 1e-7)`, and
/// `100 / x <= 1e6` needs `x >= 1e-4`.
#[test]
fn the_exploding_gradient_help_says_how_far_from_zero() {
    let ce = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss l = mean(-log(y_pred + 1e-8) * y_true)";
    let d = expect(ce, Dtype::F32, Code::ExplodingGradient, Severity::Warning, &[]);
    let help = d.help.as_deref().unwrap_or("");
    assert!(help.contains("`y_pred + 1e-8` is as small as 1e-8"), "{help}");
    assert!(help.contains("at 1e-6 or more"), "{help}");
    assert!(help.contains("from logits"), "{help}");
    let mape = "input y_true: real\ninput y_pred: real\nconst epsilon = 1e-7\n\
                loss mape = 100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), epsilon)))";
    let d = expect(mape, Dtype::F32, Code::ExplodingGradient, Severity::Warning, &[]);
    let help = d.help.as_deref().unwrap_or("");
    assert!(help.contains("at 1e-4 or more"), "{help}");
    assert!(!help.contains("logits"), "{help}");
}

/// A Jaccard or Dice denominator subtracts a sum from sums that dominate
/// it element by element (`t * p <= t` for `p` in [0, 1]; `|t * p| <= |t| +
/// |p|` on [0, 1]), so it is never negative and `+ smooth` keeps it away
/// from 0: no `div-by-zero` and no `nan-gradient`. Without the smoothing
/// the empty masks still divide 0 by 0 (an error with its witness), and a
/// difference of sums that do not dominate keeps its finding.
#[test]
fn a_difference_of_dominated_sums_is_not_negative() {
    let clean = [
        "input y_true: [0, 1] [N, P]\ninput y_pred: [0, 1] [N, P]\nlet inter = sum(y_true * y_pred, axis=-1)\n\
         let union = sum(y_true, axis=-1) + sum(y_pred, axis=-1) - inter\nloss j = mean(1 - (inter + 1) / (union + 1))",
        "input y_true: {0, 1} [N, P]\ninput y_pred: [0, 1] [N, P]\nparam smooth = 100.0\n\
         let inter = sum(abs(y_true * y_pred), axis=-1)\nlet total = sum(abs(y_true) + abs(y_pred), axis=-1)\n\
         loss j = mean((1 - (inter + smooth) / (total - inter + smooth)) * smooth)",
        "input y_true: [0, 1] [N, P]\ninput y_pred: [0, 1] [N, P]\n\
         loss j = mean(1 - (mean(y_true * y_pred) + 1) / (mean(y_pred) - mean(y_true * y_pred) + 1))",
    ];
    for source in clean {
        for dtype in [Dtype::F32, Dtype::F64] {
            let found = check(source, dtype);
            assert!(
                found
                    .iter()
                    .all(|d| !matches!(d.code, Code::DivByZero | Code::NanGradient)),
                "{source} ({dtype}): {:#?}",
                codes(&found)
            );
        }
    }
    let unsmoothed = "input y_true: [0, 1] [N, P]\ninput y_pred: [0, 1] [N, P]\nlet inter = sum(y_true * y_pred, axis=-1)\n\
                      loss j = mean(1 - inter / (sum(y_true, axis=-1) + sum(y_pred, axis=-1) - inter))";
    expect(unsmoothed, Dtype::F32, Code::DivByZero, Severity::Error, &[]);
    let undominated = "input y_true: [0, 1] [N, P]\ninput y_pred: [0, 1] [N, P]\n\
                       loss j = mean(1 / (sum(y_pred, axis=-1) - sum(y_true, axis=-1) + 1))";
    expect(undominated, Dtype::F32, Code::DivByZero, Severity::Error, &[]);
    // Independently: in f32, sums in the same order of elements at least as
    // large are at least as large, over many random rows.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        f32::from_bits(((state >> 41) as u32) | 0x3f80_0000) - 1.0
    };
    for _ in 0..20_000 {
        let n = 1 + (next() * 300.0) as usize;
        let rows: Vec<(f32, f32)> = (0..n).map(|_| (next(), next())).collect();
        let t: f32 = rows.iter().map(|r| r.0).sum();
        let p: f32 = rows.iter().map(|r| r.1).sum();
        let tp: f32 = rows.iter().map(|r| r.0 * r.1).sum();
        assert!(t + p - tp >= 0.0 && t - tp >= 0.0, "{rows:?}");
    }
}

/// A loss minimised at the wrong place: with no minimum in the prediction
/// (`-y_true * y_pred` falls as `y_pred` grows with the label's sign), or a
/// probability lowest far from its label (a cross-entropy with its sign
/// dropped). The values in the message are the loss's own: checked here
/// against the formulas. Losses whose minimum is at the label, only
/// shifted from it (label smoothing), or out of reach of the label's space
/// (a logit, a log-link rate) get no finding; a critic's loss is a note.
#[test]
fn a_loss_minimised_at_the_wrong_place_is_found() {
    let unbounded = "input y_true: real\ninput y_pred: real\nloss l = mean(-y_true * y_pred)";
    let d = expect(
        unbounded,
        Dtype::F64,
        Code::WrongMinimum,
        Severity::Warning,
        &["no minimum in `y_pred`"],
    );
    // "with `y_true` = T, it falls from A at `y_pred` = P to B at `y_pred` = Q"
    let numbers: Vec<f64> = d
        .message
        .split([' ', ','])
        .filter_map(|w| w.parse::<f64>().ok())
        .collect();
    let [t, a, p, b, q] = numbers[..] else {
        panic!("{}", d.message)
    };
    assert_eq!((a, b), (-t * p, -t * q), "{}", d.message);
    assert!(b < a);
    let flipped = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nconst eps = 1e-7\n\
                   loss l = mean(y_true * log(y_pred + eps) + (1 - y_true) * log(1 - y_pred + eps))";
    let d = expect(
        flipped,
        Dtype::F64,
        Code::WrongMinimum,
        Severity::Warning,
        &["lowest away from the label"],
    );
    assert!(d.message.contains("`y_pred` = 1 scores -16.118"), "{}", d.message);
    assert_eq!((1.0f64 - 1.0 + 1e-7).ln(), -16.11809565095832);
    let right = [
        "input y_true: real\ninput y_pred: real\nloss l = mean(square(y_pred - y_true))",
        "input y_true: {0, 1}\ninput y_pred: [0, 1]\nconst eps = 1e-7\n\
         loss l = mean(-(y_true * log(y_pred + eps) + (1 - y_true) * log(1 - y_pred + eps)))",
        // Label smoothing 0.1: lowest at 0.95 for a label 1.
        "input y_true: {0, 1}\ninput y_pred: [0, 1]\nconst eps = 1e-7\nlet t = y_true * 0.9 + 0.05\n\
         loss l = mean(-(t * log(clip(y_pred, eps, 1 - eps)) + (1 - t) * log(1 - clip(y_pred, eps, 1 - eps))))",
        "input y_true: {0, 1}\ninput y_pred: real\nloss l = mean(softplus(y_pred) - y_true * y_pred)",
        "input y_true: {-1, 1}\ninput y_pred: real\nloss l = mean(maximum(1 - y_true * y_pred, 0))",
        "input y_true: [0, inf)\ninput y_pred: real\nloss l = mean(exp(y_pred) - y_true * y_pred)",
        "input y_true: real\ninput y_pred: real\nparam q = 0.9\nlet e = y_true - y_pred\n\
         loss l = mean(maximum(q * e, (q - 1) * e))",
    ];
    for source in right {
        for dtype in [Dtype::F32, Dtype::F64] {
            let found = check(source, dtype);
            assert!(
                found.iter().all(|d| d.code != Code::WrongMinimum),
                "{source}: {:#?}",
                codes(&found)
            );
        }
    }
    let critic = "input y_true: {-1, 1}\ninput y_pred: real\nloss l = mean(y_true * y_pred)";
    expect(critic, Dtype::F32, Code::WrongMinimum, Severity::Note, &["no minimum"]);
}

/// The stable log-softmax written by hand, `z = x - max(x)` then
/// `z - log(sum(exp(z)))`: `z <= 0` exactly (the max is one of the
/// elements), so `exp(z) <= 1` cannot overflow, and `sum(exp(z)) >= 1` (one
/// term is exp(0) = 1) keeps the log finite. A tie for the max does not bend
/// it (the function is shift-invariant), while a multiclass hinge's
/// `max((1 - t) * p)` does: only that one gets a `non-smooth` note.
#[test]
fn a_shift_by_the_max_is_understood() {
    let log_softmax = "input y_true: onehot [N, C]\ninput y_pred: real [N, C]\n\
                       let z = y_pred - max(y_pred, axis=-1, keepdims=true)\n\
                       loss l = mean(-sum(y_true * (z - log(sum(exp(z), axis=-1, keepdims=true))), axis=-1))";
    for dtype in [Dtype::F32, Dtype::F64] {
        let found = check(log_softmax, dtype);
        assert!(
            found
                .iter()
                .all(|d| d.severity == Severity::Note && !d.message.contains("tie")),
            "{:#?}",
            codes(&found)
        );
    }
    let hinge = "input y_true: {0, 1} [N, C]\ninput y_pred: real [N, C]\n\
                 let pos = sum(y_true * y_pred, axis=-1)\nlet neg = max((1 - y_true) * y_pred, axis=-1)\n\
                 loss l = mean(maximum(neg - pos + 1, 0))";
    expect(
        hinge,
        Dtype::F32,
        Code::NonSmooth,
        Severity::Note,
        &["tie for the largest"],
    );
    // Independently: the hinge's gradient jumps across a tie of two
    // non-target logits (which one receives the +1 switches).
    let grad = |p: [f64; 3]| {
        let t = [1.0, 0.0, 0.0];
        let (mut best, mut at) = (f64::NEG_INFINITY, 0);
        for k in 0..3 {
            if (1.0 - t[k]) * p[k] > best {
                (best, at) = ((1.0 - t[k]) * p[k], k);
            }
        }
        let mut g = [-1.0, 0.0, 0.0];
        g[at] += 1.0;
        g
    };
    assert_ne!(grad([0.0, 0.5 + 1e-4, 0.5]), grad([0.0, 0.5 - 1e-4, 0.5]));
}

/// A condition on `y_true - y_pred` constrains `y_pred - y_true` written
/// elsewhere (its exact negation in IEEE arithmetic): the guarded log gets
/// the findings it gets when both are written the same way, and no
/// `log-domain`; with the guard the wrong way round, the error stays.
#[test]
fn a_difference_and_its_reverse_are_one_value() {
    let twin =
        "input y_true: real\ninput y_pred: real\nloss l = mean(where(y_true - y_pred < 0, log(y_pred - y_true), 0))";
    let same =
        "input y_true: real\ninput y_pred: real\nloss l = mean(where(y_pred - y_true > 0, log(y_pred - y_true), 0))";
    for dtype in [Dtype::F32, Dtype::F64] {
        let codes_of = |source: &str| {
            let mut c: Vec<(Code, Severity)> = check(source, dtype).iter().map(|d| (d.code, d.severity)).collect();
            c.sort_by_key(|(code, s)| (code.as_str(), *s as u8));
            c
        };
        assert!(
            codes_of(twin).iter().all(|(c, _)| *c != Code::LogDomain),
            "{:?}",
            codes_of(twin)
        );
        assert_eq!(codes_of(twin), codes_of(same));
    }
    // Independently: a - b == -(b - a) in f32 on random pairs (bit for bit
    // but for the sign of a zero, which intervals do not tell apart).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..100_000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let a = f32::from_bits((state >> 32) as u32);
        let b = f32::from_bits(state as u32);
        if a.is_finite() && b.is_finite() {
            let (x, y) = (a - b, -(b - a));
            assert!(x == y && (x == 0.0 || x.to_bits() == y.to_bits()), "{a} {b}");
        }
    }
    let wrong =
        "input y_true: real\ninput y_pred: real\nloss l = mean(where(y_true - y_pred > 0, log(y_pred - y_true), 0))";
    expect(wrong, Dtype::F32, Code::LogDomain, Severity::Error, &[]);
}

/// Domains beyond the sampled box [-10, 10] are sampled in themselves (20
/// units of them nearest the box), not in an empty range: no panic, and a
/// bounded domain's share is "of the declared domain".
#[test]
fn domains_beyond_the_box_are_sampled_in_themselves() {
    let far = "input y_true: [20, 30]\ninput y_pred: [20, 30]\nloss l = mean(maximum(y_pred - y_true, 0))";
    for dtype in [Dtype::F32, Dtype::F64] {
        let d = expect(far, dtype, Code::DeadGradient, Severity::Note, &[]);
        assert!(d.message.contains("50% of the declared domain"), "{}", d.message);
    }
    let below = "input y_true: [-30, -20]\ninput y_pred: (-inf, -20]\nloss l = mean(-y_true * y_pred)";
    expect(
        below,
        Dtype::F32,
        Code::WrongMinimum,
        Severity::Warning,
        &["no minimum"],
    );
    // A label row too large to sample: nothing sampled, nothing judged.
    let wide =
        "input y_true: real [N, 70000]\ninput y_pred: real\nloss l = mean(square(y_pred - mean(y_true, axis=-1)))";
    assert!(check(wide, Dtype::F32).iter().all(|d| d.severity == Severity::Note));
}
