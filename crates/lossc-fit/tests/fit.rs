//! `lossc-fit` as a library: the gradient chained through the model against
//! central finite differences (linear, logistic and softmax models), one run
//! per seed, and the verdicts of the three experiments of the common Keras
//! question (examples/faulty_step_where.loss, examples/faulty_log_eps.loss,
//! examples/mse_sigmoid.loss) and of a few other losses.

use std::path::Path;

use lossc::Dtype;
use lossc_fit::{Dataset, Dense, Finding, Fit, FitOptions, ModelKind, Reference, Rng, Status, Task};

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{name}.loss"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Trains `source` on 100 synthetic samples of one feature (the question's
/// setup) with `options`, linking the verdict to the static findings.
fn fit(source: &str, model: Option<ModelKind>, options: &FitOptions) -> Fit {
    let program = lossc::compile(source).unwrap();
    let task = Task::new(&program, None, None, model).unwrap();
    let data = Dataset::synthetic(&task, 100, 1, options.seed).unwrap();
    let options_check = lossc::CheckOptions {
        dtype: options.dtype,
        loss: Some(task.loss.clone()),
        wrt: vec![task.prediction.clone()],
        ..lossc::CheckOptions::default()
    };
    let findings = Finding::locate(&program.check(&options_check), source);
    lossc_fit::fit(&program, &task, &data, options, &findings).unwrap()
}

fn seed(seed: u64) -> FitOptions {
    FitOptions {
        seed,
        ..FitOptions::default()
    }
}

/// Checks the gradient of the loss with respect to every weight against
/// central differences of the loss, in f64.
#[track_caller]
fn check_gradient(source: &str, model: Option<ModelKind>, features: usize, expected: ModelKind) {
    let program = lossc::compile(source).unwrap();
    let task = Task::new(&program, None, None, model).unwrap();
    assert_eq!(task.model, expected, "{source}");
    let data = Dataset::synthetic(&task, 24, features, 3).unwrap();
    let mut rng = Rng::new(11);
    let weights = Dense {
        features,
        outputs: data.outputs,
        kernel: (0..features * data.outputs)
            .map(|_| rng.uniform_in(-1.0, 1.0))
            .collect(),
        bias: (0..data.outputs).map(|_| rng.uniform_in(-0.5, 0.5)).collect(),
    };
    let mut objective = Reference::new(&program, &task, Dtype::F64).unwrap();
    let (_, gradient) = lossc_fit::gradient(&mut objective, &task, &data, &weights).unwrap();
    let mut loss_at = |weights: &Dense<f64>| lossc_fit::gradient(&mut objective, &task, &data, weights).unwrap().0;
    let h = 1e-6;
    let analytic = gradient.kernel.iter().chain(&gradient.bias).copied();
    for (index, analytic) in analytic.enumerate() {
        let nudged = |delta: f64| {
            let mut w = weights.clone();
            match index.checked_sub(w.kernel.len()) {
                None => w.kernel[index] += delta,
                Some(b) => w.bias[b] += delta,
            }
            w
        };
        let numeric = (loss_at(&nudged(h)) - loss_at(&nudged(-h))) / (2.0 * h);
        assert!(
            (numeric - analytic).abs() <= 1e-6 * analytic.abs().max(1.0),
            "{source}\nweight {index}: chained gradient {analytic}, finite difference {numeric}"
        );
    }
}

#[test]
fn the_chained_gradient_matches_finite_differences() {
    // Linear: regression and logits.
    check_gradient(&example("mse"), None, 3, ModelKind::Linear);
    check_gradient(&example("huber"), None, 2, ModelKind::Linear);
    check_gradient(&example("cce_logits"), None, 2, ModelKind::Linear);
    // Logistic: a sigmoid on one output.
    check_gradient(&example("bce"), None, 2, ModelKind::Logistic);
    check_gradient(&example("focal"), None, 3, ModelKind::Logistic);
    check_gradient(&example("mse_sigmoid"), None, 1, ModelKind::Logistic);
    // Softmax: the full Jacobian-vector product, through a loss whose
    // gradient is not the softmax's own shortcut (the Brier score), and
    // sparse labels.
    let brier = "input y_true: [0, 1] [N, 3]\ninput y_pred: [0, 1] [N, 3]\nloss brier = mean(sum(square(y_true - y_pred), axis=-1))";
    check_gradient(brier, None, 2, ModelKind::Softmax);
    let sparse = "input y_true: {0..3}\ninput y_pred: [0, 1] [N, 4]\nloss cce = mean(-sum(one_hot(y_true, 4) * log(y_pred), axis=-1))";
    check_gradient(sparse, None, 3, ModelKind::Softmax);
    check_gradient(&example("sparse_cce"), Some(ModelKind::Softmax), 2, ModelKind::Softmax);
}

#[test]
fn one_seed_gives_one_run() {
    let source = example("mse_sigmoid");
    let options = FitOptions { epochs: 10, ..seed(7) };
    let first = fit(&source, None, &options);
    assert_eq!(first, fit(&source, None, &options));
    let other = fit(&source, None, &FitOptions { seed: 8, ..options });
    assert_ne!(first.run.initial_weights, other.run.initial_weights);
    assert_ne!(first.run.history, other.run.history);
}

#[test]
fn the_step_through_where_loss_stalls_unless_the_start_is_already_right() {
    let source = example("faulty_step_where");
    // Initial weights that get 9% right: every sample with y_true = 1 is
    // predicted below 0.5, where the loss passes no gradient.
    let stalled = fit(&source, None, &seed(4));
    assert_eq!(stalled.verdict.status, Status::Stalled, "{:#?}", stalled.verdict);
    assert!(
        stalled.verdict.summary.ends_with("see dead-gradient at line 24"),
        "{}",
        stalled.verdict.summary
    );
    assert!(stalled.run.before.accuracy.unwrap() < 0.2);
    // Initial weights that get 96% right: the model stays right and the loss
    // falls, but a misclassified positive would never be corrected.
    let lucky = fit(&source, None, &seed(0));
    assert_eq!(lucky.verdict.status, Status::Learning, "{:#?}", lucky.verdict);
    assert_eq!(lucky.run.blind.len(), 1);
    assert_eq!(lucky.run.blind[0].label, 1.0);
    assert!(lucky.verdict.reasons.iter().any(|r| r.text.contains("never corrected")));
}

#[test]
fn the_log_eps_loss_never_teaches_the_negative_class() {
    let source = example("faulty_log_eps");
    for s in [0, 4] {
        let run = fit(&source, None, &seed(s));
        assert_eq!(run.verdict.status, Status::Stalled, "seed {s}: {:#?}", run.verdict);
        assert!(
            run.verdict
                .summary
                .starts_with("stalled: gradient zero on every sample with `y_true` = 0"),
            "{}",
            run.verdict.summary
        );
        assert!(run.verdict.summary.ends_with("see dead-gradient at line 31"));
        // The loss still falls: the failure is invisible in the loss curve.
        assert!(run.run.after.loss < run.run.before.loss);
    }
}

#[test]
fn mean_squared_error_learns() {
    for s in [0, 4] {
        let run = fit(&example("mse_sigmoid"), None, &seed(s));
        assert_eq!(run.verdict.status, Status::Learning, "seed {s}: {:#?}", run.verdict);
        assert_eq!(run.run.after.health.zero, 0.0);
        let regression = fit(&example("mse"), None, &seed(s));
        assert_eq!(regression.task.model, ModelKind::Linear);
        assert_eq!(
            regression.verdict.status,
            Status::Learning,
            "seed {s}: {:#?}",
            regression.verdict
        );
    }
}

#[test]
fn a_zero_gradient_on_samples_already_right_is_not_a_stall() {
    // The hinge is flat beyond its margin, by design.
    let hinge = fit(&example("hinge"), None, &seed(0));
    assert_eq!(hinge.verdict.status, Status::Learning, "{:#?}", hinge.verdict);
    assert!(hinge.run.after.health.zero > 0.2);
    assert!(hinge.run.blind.is_empty());
}

#[test]
fn nan_diverges_and_names_the_diagnostic_that_predicted_it() {
    // Cross-entropy without a clip: the sigmoid reaches 1 exactly in f32.
    let raw = "input y_true: {0, 1}\ninput y_pred: [0, 1]\n\nloss bce = mean(-(y_true * log(y_pred) + (1 - y_true) * log(1 - y_pred)))";
    let options = FitOptions {
        optimizer: lossc_fit::Optimizer::KERAS_ADAM.with_learning_rate(1.0),
        ..seed(0)
    };
    let run = fit(raw, None, &options);
    assert_eq!(run.verdict.status, Status::Diverged, "{:#?}", run.verdict);
    let epoch = run.verdict.epoch.unwrap();
    assert_eq!(run.run.history.len(), epoch);
    assert_eq!(
        run.verdict.summary,
        format!("diverged: NaN at epoch {epoch}, from log-domain at line 4")
    );
    // A linear layer leaves [0, 1] at once: check's findings do not apply.
    let linear = fit(&example("faulty_log_eps"), Some(ModelKind::Linear), &seed(0));
    assert_eq!(linear.verdict.status, Status::Diverged);
    assert!(
        linear
            .verdict
            .summary
            .ends_with("from a prediction outside `y_pred`'s declared domain"),
        "{}",
        linear.verdict.summary
    );
    assert!(linear.task.notes[0].contains("can leave `y_pred`'s declared domain [0, 1]"));
}

#[test]
fn float64_training_runs_in_float64() {
    let options = FitOptions {
        dtype: Dtype::F64,
        epochs: 5,
        ..seed(1)
    };
    let run = fit(&example("mse"), None, &options);
    let weight = run.run.weights.kernel[0];
    assert_ne!(weight, f64::from(weight as f32), "an f64 weight is not an f32 one");
}
