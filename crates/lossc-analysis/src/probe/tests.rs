use lossc_ir::Domain;

use super::*;

fn compile(source: &str) -> Program {
    let ast = lossc_syntax::parse(source).expect("valid syntax");
    lossc_ir::lower(&ast, source).expect("a valid program").0
}

/// The sampling half only: these tests do not depend on the analyzer.
fn probe_source(source: &str, dtype: Dtype, samples: usize) -> ProbeReport {
    let options = ProbeOptions {
        dtype,
        samples,
        ..ProbeOptions::default()
    };
    sample(&compile(source), &options).expect("the probe runs")
}

#[test]
fn closed_ends_zeros_denormals_and_the_largest_values_are_sampled() {
    for dtype in [Dtype::F32, Dtype::F64] {
        let values = sample_values(&Domain::interval(-1.0, true, 1.0, true), dtype, 2000, 7).unwrap();
        assert!(
            values.contains(&-1.0) && values.contains(&1.0),
            "{dtype}: the exact ends"
        );
        assert!(values.iter().any(|v| *v == 0.0 && v.is_sign_positive()), "{dtype}: +0");
        assert!(values.iter().any(|v| *v == 0.0 && v.is_sign_negative()), "{dtype}: -0");
        assert!(values.contains(&dtype.min_positive_subnormal()) || values.contains(&-dtype.min_positive_subnormal()));
        assert!(
            values
                .iter()
                .any(|v| *v != 0.0 && v.abs() < f64::from(f32::MIN_POSITIVE))
        );
        assert!(values.iter().all(|v| (-1.0..=1.0).contains(v) && dtype.round(*v) == *v));

        let real = sample_values(&Domain::Real, dtype, 2000, 7).unwrap();
        let max = dtype.max_finite();
        assert!(
            real.contains(&max) && real.contains(&-max),
            "{dtype}: the largest finite values"
        );
        assert!(real.iter().all(|v| v.is_finite() && dtype.round(*v) == *v));
        // Ordinary magnitudes and tiny ones are both well represented.
        assert!(real.iter().filter(|v| (1e-3..1e3).contains(&v.abs())).count() > 400);
        assert!(real.iter().any(|v| *v != 0.0 && v.abs() < 1e-30));
    }
}

#[test]
fn open_ends_are_excluded_and_their_neighbours_sampled() {
    let values = sample_values(&Domain::interval(0.0, false, 1.0, false), Dtype::F32, 3000, 1).unwrap();
    assert!(values.iter().all(|&v| v > 0.0 && v < 1.0));
    assert!(
        values.contains(&f64::from(f32::from_bits(1))),
        "the smallest denormal above 0"
    );
    assert!(
        values.contains(&f64::from(1.0f32.next_down())),
        "0.99999994, the largest f32 below 1"
    );
    let f64_values = sample_values(&Domain::interval(0.0, false, 1.0, false), Dtype::F64, 3000, 1).unwrap();
    assert!(f64_values.contains(&1.0f64.next_down()));
    assert!(f64_values.contains(&f64::from_bits(1)));
}

#[test]
fn infinite_ends_are_clamped_to_the_largest_finite_value() {
    let values = sample_values(&Domain::interval(0.0, true, f64::INFINITY, false), Dtype::F32, 2000, 3).unwrap();
    assert!(values.contains(&f64::from(f32::MAX)));
    assert!(values.contains(&0.0));
    assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0));
    assert!(values.iter().any(|v| (1.0..100.0).contains(v)));
}

#[test]
fn near_the_ends_distances_are_log_uniform() {
    // Values just inside each end, at many scales, not only the end itself.
    let values = sample_values(&Domain::interval(0.0, true, 1.0, true), Dtype::F64, 5000, 11).unwrap();
    let near_one: Vec<f64> = values
        .iter()
        .map(|v| 1.0 - v)
        .filter(|d| *d > 0.0 && *d < 1e-3)
        .collect();
    assert!(near_one.iter().any(|d| *d < 1e-12) && near_one.iter().any(|d| *d > 1e-6));
}

#[test]
fn sets_give_their_members_and_bounds_follow_the_dtype() {
    let values = sample_values(&Domain::Set(vec![0.0, 1.0, 2.0]), Dtype::F32, 300, 5).unwrap();
    for member in [0.0, 1.0, 2.0] {
        assert!(values.contains(&member));
    }
    assert!(values.iter().all(|v| [0.0, 1.0, 2.0].contains(v)));
    // 0.7 is not an f32 and the nearest f32 is below it, outside the
    // domain: the closed end is the first f32 inside, as for the analyzer.
    let values = sample_values(&Domain::interval(0.7, true, 1.0, true), Dtype::F32, 2000, 5).unwrap();
    assert!(values.contains(&f64::from(0.7f32.next_up())));
    assert!(values.iter().all(|v| *v >= 0.7));
    // No f32 lies in (0, 1e-46).
    assert!(matches!(
        sample_values(&Domain::interval(0.0, false, 1e-46, false), Dtype::F32, 10, 0),
        Err(ProbeError::EmptyDomain { .. })
    ));
    assert!(sample_values(&Domain::interval(0.0, false, 1e-46, false), Dtype::F64, 10, 0).is_ok());
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let source = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(-log(y_pred + 1e-8) * y_true)";
    let a = probe_source(source, Dtype::F32, 500);
    let b = probe_source(source, Dtype::F32, 500);
    assert_eq!(a, b);
}

#[test]
fn log_of_zero_is_found_with_its_witness() {
    let report = probe_source("input y_pred: [0, 1]\nloss = mean(-log(y_pred))", Dtype::F64, 300);
    let inf = report.class(Class::InfValue);
    assert!(inf.count > 0);
    let witness = inf.witness.as_ref().unwrap();
    assert_eq!(witness.input("y_pred").unwrap().values, [0.0]);
    assert_eq!(witness.value, f64::INFINITY);
    assert_eq!(report.class(Class::NanValue).count, 0);
    assert_eq!(report.dims, [("N".to_string(), 1)]);
}

#[test]
fn every_combination_of_set_members_is_drawn() {
    let source =
        "input a: {0, 1, 2}\ninput b: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(where(a == 2 and b == 1, y_pred, 0))";
    let program = compile(source);
    let sizes = dim_sizes(&program);
    let layout = Layout::new(&program, &sizes, Dtype::F32).unwrap();
    let mut seen = std::collections::HashSet::new();
    for index in 0..6 {
        let point = layout.point(index, 100, 0, Dtype::F32);
        seen.insert(((point.values[0][0]) as i64, (point.values[1][0]) as i64));
    }
    assert_eq!(seen.len(), 6);
}

#[test]
fn named_dimensions_are_sized_for_one_hot_labels() {
    let program = compile(
        "input y_true: {0..9}\ninput y_pred: real [N, C]\nloss = mean(-sum(one_hot(y_true, C) * log_softmax(y_pred), axis=-1))",
    );
    let sizes = dim_sizes(&program);
    let c = program.dims.iter().position(|d| d == "C").unwrap();
    let n = program.dims.iter().position(|d| d == "N").unwrap();
    assert_eq!(sizes[n], Some(1));
    assert_eq!(sizes[c], Some(10));
}

#[test]
fn the_work_budget_cuts_samples_of_large_programs_only() {
    assert_eq!(budgeted_samples(10_000, 1_000), 10_000);
    assert_eq!(budgeted_samples(10_000, WORK_BUDGET / 500), 500);
    assert_eq!(budgeted_samples(10_000, usize::MAX), MIN_BUDGETED_SAMPLES);
    assert_eq!(budgeted_samples(7, usize::MAX), 7);
    // A row of 100,000 classes: a few hundred samples, not 10,000 (which
    // took minutes), and the report keeps the number asked for.
    let source = "input y_true: [0, 1] [N, 100000]\ninput y_pred: [0.1, 1] [N, 100000]\n\
                  loss l = mean(sum(-y_true * log(y_pred), axis=-1))\n";
    let report = probe_source(source, Dtype::F32, 10_000);
    assert_eq!(report.requested_samples, 10_000);
    // The library takes any count (the CLI caps its option): the most
    // samples a caller can ask for are sized by the budget, not by the count.
    let most = probe_source(source, Dtype::F32, usize::MAX);
    assert_eq!((most.requested_samples, most.samples), (usize::MAX, report.samples));
    assert!(
        report.samples < 1_000 && report.samples >= MIN_BUDGETED_SAMPLES,
        "{}",
        report.samples
    );
    // MSE is far under the budget.
    let report = probe_source("loss l = mean(square(y_true - y_pred))\n", Dtype::F32, 10_000);
    assert_eq!(report.samples, 10_000);
}

#[test]
fn a_dead_branch_covers_half_of_the_uniform_samples() {
    let report = probe_source(
        "input y_pred: [0, 1]\nloss = mean(where(y_pred > 0.5, square(y_pred), 0))",
        Dtype::F32,
        2000,
    );
    let zero = report.class(Class::ZeroGradient);
    assert!(report.uniform_samples > 200, "{}", report.uniform_samples);
    assert!((zero.uniform_fraction - 0.5).abs() < 0.06, "{}", zero.uniform_fraction);
    let witness = zero.witness.as_ref().unwrap();
    let y = witness.input("y_pred").unwrap().values[0];
    assert!(y > 0.0 && y <= 0.5, "a uniform witness inside the dead region: {y}");
    assert_eq!(witness.gradients[0].values, [0.0]);
}

#[test]
fn the_cross_check_maps_classes_to_codes() {
    let source = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(-log(y_pred + 1e-8) * y_true)";
    let mut report = probe_source(source, Dtype::F32, 1000);
    assert!(report.class(Class::ExplodingGradient).count > 0);
    assert!(report.class(Class::ZeroGradient).uniform_fraction > 0.3);
    assert_eq!(report.class(Class::InfValue).count, 0);

    report.cross_check(&[]);
    let classes: Vec<Class> = report.unpredicted.iter().map(|u| u.class).collect();
    assert_eq!(classes, [Class::ExplodingGradient, Class::ZeroGradient]);
    let exploding = &report.unpredicted[0];
    assert_eq!(exploding.witness.input("y_true").unwrap().values, [1.0]);
    assert!(exploding.witness.gradients[0].values[0].abs() > EXPLODING);

    // A warning or a note of any predicting code will do; repeats are dropped.
    report.cross_check(&[Code::DeadGradient, Code::ExplodingGradient, Code::DeadGradient]);
    assert!(report.all_predicted());
    assert_eq!(report.diagnostics, [Code::ExplodingGradient, Code::DeadGradient]);
    // A code for another class predicts nothing here; a domain hazard
    // predicts the explosion beside its edge.
    report.cross_check(&[Code::Discontinuity, Code::ClipSaturation]);
    let classes: Vec<Class> = report.unpredicted.iter().map(|u| u.class).collect();
    assert_eq!(classes, [Class::ExplodingGradient]);
    report.cross_check(&[Code::LogDomain, Code::ClipSaturation]);
    assert!(report.all_predicted());
}

#[test]
fn zero_gradients_at_edges_only_are_not_a_dead_region() {
    // MSE: a zero gradient only where y_pred == y_true exactly (ties, zeros).
    let mut report = probe_source("loss = mean(square(y_true - y_pred))", Dtype::F64, 1000);
    let zero = report.class(Class::ZeroGradient);
    assert!(zero.count > 0, "ties are sampled");
    assert_eq!(zero.uniform_count, 0);
    report.cross_check(&[Code::Overflow]);
    assert!(report.all_predicted(), "{:?}", report.unpredicted);
}

#[test]
fn an_epsilon_that_vanishes_in_f32_makes_the_loss_infinite() {
    // In f32 `1 + 1e-8 == 1`: at y_pred = 1 the log's argument is 0. In f64
    // it is 1e-8: the value is finite, the gradient 1e8.
    let source = "input y_pred: [0, 1]\nloss = mean(-log(1 + 1e-8 - y_pred))";
    let f32_report = probe_source(source, Dtype::F32, 500);
    let inf = f32_report.class(Class::InfValue);
    assert!(inf.count > 0);
    assert_eq!(inf.witness.as_ref().unwrap().input("y_pred").unwrap().values, [1.0]);

    let f64_report = probe_source(source, Dtype::F64, 500);
    assert_eq!(f64_report.class(Class::InfValue).count, 0);
    assert_eq!(f64_report.class(Class::NanValue).count, 0);
    let exploding = f64_report.class(Class::ExplodingGradient).witness.as_ref().unwrap();
    assert!(exploding.input("y_pred").unwrap().values[0] > 0.99);
}

#[test]
fn a_loss_without_the_variable_has_a_zero_gradient_everywhere() {
    let report = probe_source("input y_pred: real\nloss = mean(square(y_true))", Dtype::F32, 200);
    assert_eq!(report.wrt, ["y_pred"]);
    let zero = report.class(Class::ZeroGradient);
    let finite = 200 - report.class(Class::InfValue).count - report.class(Class::NanValue).count;
    assert_eq!(zero.count, finite);
    assert_eq!(zero.uniform_fraction, 1.0);
}

#[test]
fn gradients_with_respect_to_params_are_probed() {
    let program =
        compile("input y_true: {0, 1}\ninput y_pred: [0, 1]\nparam w = 2\nwrt w\nloss = mean(w * y_true * y_pred)");
    let report = sample(
        &program,
        &ProbeOptions {
            samples: 300,
            ..ProbeOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.wrt, ["w"]);
    // Zero wherever y_true = 0 or y_pred = 0: about half of the uniform samples.
    let zero = report.class(Class::ZeroGradient);
    assert!((zero.uniform_fraction - 0.5).abs() < 0.15, "{}", zero.uniform_fraction);
    assert_eq!(zero.witness.as_ref().unwrap().gradients[0].shape, Vec::<usize>::new());
}

#[test]
fn bad_options_are_errors() {
    let program = compile("output o = y_pred\nloss l = mean(y_pred)");
    let options = |loss: &str| ProbeOptions {
        loss: Some(loss.to_string()),
        ..ProbeOptions::default()
    };
    assert_eq!(
        sample(&program, &options("o")),
        Err(ProbeError::NotALoss("o".to_string()))
    );
    assert!(matches!(
        sample(&program, &options("nope")),
        Err(ProbeError::UnknownLoss { .. })
    ));
    let none = ProbeOptions {
        samples: 0,
        ..ProbeOptions::default()
    };
    assert_eq!(sample(&program, &none), Err(ProbeError::NoSamples));
    let var = ProbeOptions {
        wrt: vec![Var::Param(3)],
        ..ProbeOptions::default()
    };
    assert_eq!(sample(&program, &var), Err(ProbeError::UnknownVar(Var::Param(3))));
}
