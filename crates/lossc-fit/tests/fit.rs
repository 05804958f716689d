//! `lossc-fit` as a library: the gradient chained through the model against
//! central finite differences (linear, logistic and softmax models), one run
//! per seed, synthetic data that starts at chance, and the verdicts of the
//! three experiments of the common Keras question
//! (examples/faulty_step_where.loss, examples/faulty_log_eps.loss,
//! examples/mse_sigmoid.loss) and of a few other losses over ten seeds, each
//! verdict's words held to its numbers.

use std::path::Path;

use lossc::Dtype;
use lossc_fit::{Dataset, Dense, Finding, Fit, FitOptions, ModelKind, Reference, Rng, Status, Task};

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/{name}.loss"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Trains `source` on 100 synthetic samples of the default number of
/// features (the question's setup, at chance) with `options`, linking the
/// verdict to the static findings; checks that the verdict's words agree
/// with its numbers.
#[track_caller]
fn fit(source: &str, model: Option<ModelKind>, options: &FitOptions) -> Fit {
    let program = lossc::compile(source).unwrap();
    let task = Task::new(&program, None, None, model).unwrap();
    let data = Dataset::synthetic(&task, 100, Dataset::default_features(&task), options.seed).unwrap();
    let options_check = lossc::CheckOptions {
        dtype: options.dtype,
        loss: Some(task.loss.clone()),
        wrt: vec![task.prediction.clone()],
        ..lossc::CheckOptions::default()
    };
    let findings = Finding::locate(&program.check(&options_check), source);
    let fit = lossc_fit::fit(&program, &task, &data, options, &findings).unwrap();
    assert_words_match_numbers(&fit);
    fit
}

/// `learning` only for a loss that fell, and every `fell from A to B` in the
/// summary and the reasons with A above B: a rise is never told as a fall.
#[track_caller]
fn assert_words_match_numbers(fit: &Fit) {
    let (before, after) = (fit.run.before.loss, fit.run.after.loss);
    let verdict = &fit.verdict;
    if verdict.status == Status::Learning {
        assert!(
            after < before,
            "learning, but the loss went from {before} to {after}: {verdict:#?}"
        );
    }
    let texts = std::iter::once(verdict.summary.as_str()).chain(verdict.reasons.iter().map(|r| r.text.as_str()));
    for text in texts {
        assert!(!text.contains("did not fall"), "{text}");
        for (at, _) in text.match_indices("fell from ") {
            let rest = &text[at + "fell from ".len()..];
            let number = |s: &str| -> f64 {
                let end = s.find([' ', ',', ')', ':']).unwrap_or(s.len());
                s[..end].parse().unwrap_or_else(|_| panic!("a number in {text:?}"))
            };
            let from = number(rest);
            let to = number(&rest[rest.find(" to ").expect("fell from A to B") + 4..]);
            assert!(to < from, "{text:?}: the loss is said to fall from {from} to {to}");
        }
    }
    if after > before {
        assert!(verdict.status != Status::Learning, "{verdict:#?}");
    }
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
fn synthetic_classifications_start_at_chance() {
    for name in ["faulty_step_where", "faulty_log_eps", "mse_sigmoid", "bce"] {
        let source = example(name);
        let accuracies: Vec<f64> = (0..10)
            .map(|s| {
                fit(&source, None, &FitOptions { epochs: 1, ..seed(s) })
                    .run
                    .before
                    .accuracy
                    .unwrap()
            })
            .collect();
        let mean = accuracies.iter().sum::<f64>() / 10.0;
        assert!((0.4..=0.6).contains(&mean), "{name}: initial accuracies {accuracies:?}");
        assert!(
            accuracies.iter().all(|a| (0.3..=0.7).contains(a)),
            "{name}: initial accuracies {accuracies:?}"
        );
    }
}

#[test]
fn the_step_through_where_loss_never_learns() {
    let source = example("faulty_step_where");
    for s in 0..10 {
        let run = fit(&source, None, &seed(s));
        assert_ne!(run.verdict.status, Status::Learning, "seed {s}: {:#?}", run.verdict);
        // A positive the model gets wrong is never corrected.
        assert_eq!(run.run.blind.len(), 1, "seed {s}");
        assert_eq!(run.run.blind[0].label, 1.0, "seed {s}");
    }
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
fn mean_squared_error_and_cross_entropy_learn_on_every_seed() {
    for s in 0..10 {
        for name in ["mse", "bce"] {
            let run = fit(&example(name), None, &seed(s));
            assert_eq!(
                run.verdict.status,
                Status::Learning,
                "{name}, seed {s}: {:#?}",
                run.verdict
            );
        }
    }
}

#[test]
fn a_loss_unbounded_below_is_diverging() {
    // Cross-entropy with its minus sign dropped: pushing every prediction
    // to the wrong end lowers it without bound.
    let flipped = "input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss bce = mean(y_true * log(clip(y_pred, 1e-7, 1 - 1e-7)) + (1 - y_true) * log(clip(1 - y_pred, 1e-7, 1 - 1e-7)))";
    // A score that rewards large predictions rather than right ones.
    let linear = "input y_true: {0, 1}\ninput y_pred: real\nloss score = mean(-y_true * y_pred)";
    for source in [flipped, linear] {
        for s in 0..10 {
            let run = fit(source, None, &seed(s));
            assert_eq!(
                run.verdict.status,
                Status::Diverging,
                "seed {s}: {source}\n{:#?}",
                run.verdict
            );
            assert!(
                run.verdict
                    .summary
                    .contains("and keeps falling, as if unbounded below in the prediction"),
                "{}",
                run.verdict.summary
            );
        }
    } // A cosine similarity falls below 0 too, steadily, but levels off at -1.
    for s in 0..3 {
        let cosine = fit(&example("cosine_similarity"), None, &seed(s));
        assert!(cosine.run.after.loss < 0.0);
        assert_eq!(
            cosine.verdict.status,
            Status::Learning,
            "seed {s}: {:#?}",
            cosine.verdict
        );
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
    // Trained long enough (lr 0.01) for most samples to pass the margin.
    let options = FitOptions {
        optimizer: lossc_fit::Optimizer::KERAS_ADAM.with_learning_rate(0.01),
        ..seed(0)
    };
    let hinge = fit(&example("hinge"), None, &options);
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
