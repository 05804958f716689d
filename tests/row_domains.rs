//! The row domains `simplex` and `onehot`: parsed and lowered, used by the
//! analysis (a row sums to 1), kept by the witnesses and the probe's samples
//! (every row they build is a row of the domain, checked element by element
//! and by its sum here, not by the domain's own test), and by `fit`'s data.

use lossc::ir::Domain;
use lossc::{CheckOptions, Code, Diagnostic, Dtype, EvalOptions, Severity};
use ndarray::{ArrayD, IxDyn};

fn check(source: &str) -> Vec<Diagnostic> {
    lossc::check(source, &CheckOptions::default()).expect("valid options")
}

fn has(found: &[Diagnostic], code: Code) -> bool {
    found.iter().any(|d| d.code == code)
}

/// Whether `row` sums to 1 (within the documented 1e-3) with every element
/// in [0, 1], or is one-hot.
fn is_row_of(domain: &Domain, row: &[f64]) -> bool {
    let unit = row.iter().all(|v| (0.0..=1.0).contains(v));
    match domain {
        Domain::Simplex => unit && (row.iter().sum::<f64>() - 1.0).abs() <= 1e-3,
        Domain::OneHot => row.iter().filter(|v| **v == 1.0).count() == 1 && row.iter().all(|v| *v == 0.0 || *v == 1.0),
        _ => unreachable!(),
    }
}

#[test]
fn the_words_are_domains_after_a_colon_and_names_elsewhere() {
    let program = lossc::compile(
        "input y_true: onehot [N, C]\ninput y_pred: simplex [N, C]\n\
         let simplex = y_pred * 2\nlet onehot = y_true\nloss = mean(sum(onehot * simplex, axis=-1))",
    )
    .expect("compiles");
    let ir = program.ir();
    assert_eq!(ir.inputs[0].domain, Domain::OneHot);
    assert_eq!(ir.inputs[1].domain, Domain::Simplex);
    assert_eq!(ir.inputs[1].domain.to_string(), "simplex");
}

#[test]
fn a_row_domain_needs_a_class_axis() {
    let found = check("input y_pred: simplex\nloss = mean(y_pred)");
    let d = found.iter().find(|d| d.code == Code::BadDomain).expect("bad-domain");
    assert_eq!(d.severity, Severity::Error);
    assert!(d.message.contains("has no axis of classes"), "{}", d.message);
    assert!(d.help.as_deref().unwrap_or("").contains("simplex [N, C]"));
}

#[test]
fn a_row_of_the_simplex_sums_to_one_for_the_analysis() {
    // Dividing by the row's sum (Keras's categorical cross-entropy does) is
    // safe on the simplex, not on elements that are each in [0, 1].
    let body = "loss = mean(-sum(y_true * log(clip(y_pred / sum(y_pred, axis=-1, keepdims=true), 1e-7, 1)), axis=-1))";
    let simplex = format!("input y_true: onehot [N, C]\ninput y_pred: simplex [N, C]\n{body}");
    let elements = format!("input y_true: {{0, 1}} [N, C]\ninput y_pred: [0, 1] [N, C]\n{body}");
    assert!(!has(&check(&simplex), Code::DivByZero), "{:#?}", check(&simplex));
    assert!(has(&check(&elements), Code::DivByZero), "{:#?}", check(&elements));

    // A one-hot row picks one weight: the log of a positive weight's pick is safe.
    let pick = "loss = mean(-log(sum(y_true * y_pred, axis=-1)))";
    let onehot = format!("input y_true: onehot [N, C]\ninput y_pred: [0.001, 1] [N, C]\n{pick}");
    let elements = format!("input y_true: [0, 1] [N, C]\ninput y_pred: [0.001, 1] [N, C]\n{pick}");
    assert!(!has(&check(&onehot), Code::LogDomain), "{:#?}", check(&onehot));
    assert!(has(&check(&elements), Code::LogDomain));
    // A weight that can be infinite meets a 0 of the row: 0 * inf = NaN.
    let infinite = "input y_true: onehot [N, C]\ninput y_pred: simplex [N, C]\n\
                    loss = mean(-sum(y_true * log(y_pred), axis=-1))";
    let found = check(infinite);
    assert!(
        found
            .iter()
            .any(|d| d.code == Code::LogDomain && d.severity == Severity::Error)
    );
}

/// The error's witness is whole rows of the domains, and the loss at it is
/// not finite (evaluated here, a batch of one sample).
#[test]
fn witnesses_are_rows_of_the_domain_where_the_loss_breaks() {
    // The probability of the true class can be 0.
    let source = "input y_true: onehot [N, C]\ninput y_pred: simplex [N, C]\n\
                  loss = mean(-log(sum(y_true * y_pred, axis=-1)))";
    let program = lossc::compile(source).expect("compiles");
    let found = check(source);
    let d = found
        .iter()
        .find(|d| d.code == Code::LogDomain && d.severity == Severity::Error)
        .expect("log(0) on the simplex");
    assert!(d.message.contains("in each row"), "{}", d.message);
    let mut inputs = Vec::new();
    for input in &program.ir().inputs {
        let w = d.witness.iter().find(|w| w.input == input.name).expect("both inputs");
        let row = w.row.as_ref().expect("a row domain's witness is a row");
        assert!(is_row_of(&input.domain, row), "{}: {row:?}", input.name);
        assert_eq!(row[0], w.value, "the value is the row's first element");
        inputs.push((
            input.name.clone(),
            ArrayD::from_shape_vec(IxDyn(&[1, row.len()]), row.clone()).unwrap(),
        ));
    }
    let options = EvalOptions {
        dtype: Dtype::F32,
        ..EvalOptions::default()
    };
    let value = program.eval(&inputs, &options).expect("evaluates").value;
    assert!(value.iter().all(|v| !v.is_finite()), "{value}");
}

/// Every sample the probe draws is a row of the domain: a loss that breaks
/// only off the simplex (a row summing below 1/2) never breaks.
#[test]
fn probe_samples_stay_on_the_simplex() {
    let on = "input y_pred: simplex [N, C]\nloss = mean(log(sum(y_pred, axis=-1) - 0.5))";
    let off = "input y_pred: [0, 1] [N, C]\nloss = mean(log(sum(y_pred, axis=-1) - 0.5))";
    let probe = |source: &str| {
        let options = lossc::ProbeOptions {
            samples: 2000,
            ..Default::default()
        };
        lossc::compile(source)
            .expect("compiles")
            .probe(&options)
            .expect("probes")
    };
    use lossc_analysis::probe::Class;
    let report = probe(on);
    assert_eq!(report.class(Class::NanValue).count, 0);
    assert_eq!(report.class(Class::InfValue).count, 0);
    assert!(report.uniform_samples > 0, "uniform samples on the simplex");
    let report = probe(off);
    assert!(report.class(Class::NanValue).count > 0, "the check can fail");
    // One-hot rows: the sum is exactly 1.
    let onehot = "input y_true: onehot [N, C]\nloss = mean(log(sum(y_true, axis=-1) - 0.999))";
    let report = probe(onehot);
    assert_eq!(
        report.class(Class::NanValue).count + report.class(Class::InfValue).count,
        0
    );
}

/// `eval`'s data check: values outside an element's domain and rows that
/// are not rows of the domain are counted, each with the first's index.
#[test]
fn data_outside_the_domains_is_found_value_by_value_and_row_by_row() {
    use lossc_kernel::Tensor;
    let program = lossc::compile(
        "input y_true: onehot [N, 3]\ninput y_pred: simplex [N, 3]\ninput w: [0, 1] [N]\n\
         loss = mean(w * -sum(y_true * log(clip(y_pred, 1e-7, 1)), axis=-1))",
    )
    .expect("compiles");
    let t = ArrayD::from_shape_vec(IxDyn(&[3, 3]), vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0]).unwrap();
    let p = ArrayD::from_shape_vec(IxDyn(&[3, 3]), vec![0.2, 0.3, 0.5, 0.2, 0.3, 0.5, 0.6, 0.6, 0.6]).unwrap();
    let w = ArrayD::from_shape_vec(IxDyn(&[3]), vec![0.5, -1.0, f64::NAN]).unwrap();
    let tensors = [
        ("y_true", Tensor::F64(t.view())),
        ("y_pred", Tensor::F64(p.view())),
        ("w", Tensor::F64(w.view())),
    ];
    let found = program.data_outside_domains(&tensors);
    let of = |name: &str| found.iter().find(|o| o.input == name).expect(name);
    // Row 1 is all zeros (a row fault); row 2 holds a 2 (a value fault, so not also a row fault).
    let t = of("y_true");
    assert_eq!((t.elements, t.first_element.clone()), (1, Some((vec![2, 1], 2.0))));
    assert_eq!((t.rows, t.first_row.clone()), (1, Some(vec![1])));
    let p = of("y_pred");
    assert_eq!((p.elements, p.rows, p.first_row.clone()), (0, 1, Some(vec![2])));
    assert!(
        p.describe().contains("1 row that does not sum to 1"),
        "{}",
        p.describe()
    );
    // NaN is reported on its own, not as outside [0, 1].
    let w = of("w");
    assert_eq!((w.elements, w.first_element.clone()), (1, Some((vec![1], -1.0))));
    let hot = ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![0.0, 1.0, 0.0]).unwrap();
    let inside = [("y_true", Tensor::F64(hot.view()))];
    assert!(program.data_outside_domains(&inside).is_empty());
}
