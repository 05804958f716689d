//! What a loss is meant to train, read off its declarations: which input the
//! model predicts (the loss's `wrt` input, `y_pred` by default), which input
//! holds the targets, their domains and shapes, and so the model: a dense
//! layer whose activation lands in the prediction's declared domain.

use lossc::ir::{Dim, Domain, Input};

use crate::FitError;

/// The model: one dense layer and its activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// No activation: predictions anywhere on the real line (regression,
    /// logits).
    Linear,
    /// A sigmoid on each output: probabilities in [0, 1].
    Logistic,
    /// A softmax over each row of `C` outputs: a probability distribution.
    Softmax,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Linear => "linear",
            ModelKind::Logistic => "logistic",
            ModelKind::Softmax => "softmax",
        }
    }

    /// The activation's name as Keras spells it.
    pub fn activation(self) -> &'static str {
        match self {
            ModelKind::Linear => "linear",
            ModelKind::Logistic => "sigmoid",
            ModelKind::Softmax => "softmax",
        }
    }
}

/// How the targets are laid out against the predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Both are `[N]`: one output per sample.
    Vector,
    /// Both are `[N, C]`.
    Matrix,
    /// Predictions `[N, C]`, targets `[N]` holding class indices (sparse labels).
    Labels,
}

/// The training task a loss defines.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The loss trained.
    pub loss: String,
    /// The input the model's output is fed to.
    pub prediction: String,
    /// The input the targets are fed to.
    pub target: String,
    pub prediction_domain: Domain,
    pub target_domain: Domain,
    pub layout: Layout,
    /// The number of outputs per sample when the declarations fix it (`[N]`,
    /// `[N, 10]`, or a class-label set such as `{0..9}`); `None` when a named
    /// dimension such as `C` is bound only by the data.
    pub outputs: Option<usize>,
    pub model: ModelKind,
    /// Why this model: the declaration it matches, or that it was asked for.
    pub model_reason: String,
    /// What the user should know about the model (e.g. a linear layer for a
    /// prediction declared positive).
    pub notes: Vec<String>,
}

impl Task {
    /// Reads the task of `loss` (the default loss if `None`) in `program`:
    /// the model's output feeds the input `prediction` (if `None`, the
    /// program's first `wrt` input, `y_pred` by default), and the model is
    /// `model` or, if `None`, the one matching the prediction's domain.
    pub fn new(
        program: &lossc::Program,
        loss: Option<&str>,
        prediction: Option<&str>,
        model: Option<ModelKind>,
    ) -> Result<Task, FitError> {
        let ir = program.ir();
        let loss = match loss {
            Some(name) => match ir.result(name) {
                Some(result) if result.kind == lossc::ResultKind::Loss => name.to_string(),
                Some(_) => {
                    return Err(FitError::Task(format!(
                        "`{name}` is an `output`: name a `loss` to train"
                    )));
                }
                None => {
                    let losses: Vec<&str> = program.losses().collect();
                    return Err(FitError::Task(format!(
                        "no loss named `{name}`; the program defines {}",
                        listing(&losses)
                    )));
                }
            },
            None => program
                .losses()
                .next()
                .ok_or_else(|| FitError::Task("the program defines no `loss` to train".to_string()))?
                .to_string(),
        };

        let prediction = match prediction {
            Some(name) => ir.find_input(name).map(|index| &ir.inputs[index]).map_err(|missing| {
                FitError::Task(format!(
                    "no input named `{name}` for the model's output{}; the program declares {}",
                    missing.hint(),
                    missing.listing()
                ))
            })?,
            None => ir
                .wrt
                .iter()
                .find_map(|var| match var {
                    lossc::Var::Input(index) => Some(&ir.inputs[*index]),
                    lossc::Var::Param(_) => None,
                })
                .ok_or_else(|| {
                    FitError::Task(
                        "the loss has no `wrt` input: fit trains a model whose output is the `wrt` input".into(),
                    )
                })?,
        };
        let others: Vec<&Input> = ir.inputs.iter().filter(|input| input.name != prediction.name).collect();
        let target = match others.as_slice() {
            [target] => *target,
            [] => {
                return Err(FitError::Task(format!(
                    "the loss has no target input besides `{}`: fit needs one (e.g. `y_true`)",
                    prediction.name
                )));
            }
            more => {
                let names: Vec<&str> = more.iter().map(|input| input.name.as_str()).collect();
                return Err(FitError::Task(format!(
                    "fit trains on one target input besides `{}`, but the program declares {}",
                    prediction.name,
                    listing(&names)
                )));
            }
        };

        let (layout, outputs) = layout(program, prediction, target)?;
        let outputs = outputs.or_else(|| match (&target.domain, layout) {
            // `{0..9}` labels: one output per class.
            (Domain::Set(values), Layout::Labels) if target.domain.is_integer_set() && values[0] >= 0.0 => {
                values.last().map(|last| *last as usize + 1)
            }
            _ => None,
        });

        let prediction_domain = prediction.domain.clone();
        let in_unit = within_unit(&prediction_domain);
        let (model, model_reason) = match model {
            Some(model) => (model, "as asked".to_string()),
            None => {
                let declared = format!("`{}` is declared {}", prediction.name, prediction_domain);
                match (in_unit, layout) {
                    (true, Layout::Vector) => (ModelKind::Logistic, declared),
                    (true, _) => (ModelKind::Softmax, format!("{declared} with a class axis")),
                    (false, _) => (ModelKind::Linear, declared),
                }
            }
        };
        if model == ModelKind::Softmax && layout == Layout::Vector {
            return Err(FitError::Task(format!(
                "a softmax model needs `{}` with a class axis, e.g. `input {}: [0, 1] [N, C]`; it is declared [N]",
                prediction.name, prediction.name
            )));
        }
        let mut notes = Vec::new();
        let reach = match model {
            ModelKind::Linear => Domain::Real,
            ModelKind::Logistic | ModelKind::Softmax => unit(),
        };
        // A softmax's rows are on the simplex; no model's rows are one-hot.
        let stays = match (&prediction_domain, model) {
            (Domain::Simplex, ModelKind::Softmax) => true,
            (Domain::Simplex | Domain::OneHot, _) => false,
            _ => contains(&prediction_domain, &reach),
        };
        if !stays {
            notes.push(format!(
                "a {} model's outputs can leave `{}`'s declared domain {}",
                model.as_str(),
                prediction.name,
                prediction_domain
            ));
        }
        Ok(Task {
            loss,
            prediction: prediction.name.clone(),
            target: target.name.clone(),
            prediction_domain,
            target_domain: target.domain.clone(),
            layout,
            outputs,
            model,
            model_reason,
            notes,
        })
    }

    /// Whether predictions are judged as class decisions (accuracy), not by
    /// their distance to the target.
    pub fn is_classification(&self) -> bool {
        match self.layout {
            Layout::Labels => true,
            Layout::Vector => matches!(&self.target_domain, Domain::Set(values) if values.len() >= 2),
            Layout::Matrix => within_unit(&self.target_domain) && self.model != ModelKind::Linear,
        }
    }
}

/// The layout, and the number of outputs if the declarations fix it.
fn layout(program: &lossc::Program, prediction: &Input, target: &Input) -> Result<(Layout, Option<usize>), FitError> {
    let ir = program.ir();
    let shape = |input: &Input| ir.shape_string(&input.shape);
    let fixed = |dim: Dim| match dim {
        Dim::Fixed(size) => Some(size as usize),
        Dim::Named(_) => None,
    };
    let unsupported = || {
        FitError::Task(format!(
            "fit trains a dense layer: `{}` must be [N] or [N, C] and `{}` [N] or the same shape; they are {} and {}",
            prediction.name,
            target.name,
            shape(prediction),
            shape(target)
        ))
    };
    if prediction.shape.first() != target.shape.first() || prediction.shape.is_empty() {
        return Err(unsupported());
    }
    match (prediction.shape.len(), target.shape.len()) {
        (1, 1) => Ok((Layout::Vector, Some(1))),
        (2, 2) if prediction.shape[1] == target.shape[1] => Ok((Layout::Matrix, fixed(prediction.shape[1]))),
        (2, 1) => Ok((Layout::Labels, fixed(prediction.shape[1]))),
        _ => Err(unsupported()),
    }
}

/// `[0, 1]`.
fn unit() -> Domain {
    Domain::Interval {
        lo: 0.0,
        lo_closed: true,
        hi: 1.0,
        hi_closed: true,
    }
}

/// Whether every value of `domain` is in [0, 1].
pub fn within_unit(domain: &Domain) -> bool {
    let (lo, hi) = domain.hull();
    lo >= 0.0 && hi <= 1.0
}

/// Whether `outer` holds every value of `inner` (closedness of the ends is
/// ignored: a sigmoid reaches 0 and 1 in floats).
fn contains(outer: &Domain, inner: &Domain) -> bool {
    let (outer_lo, outer_hi) = outer.hull();
    let (inner_lo, inner_hi) = inner.hull();
    !matches!(outer, Domain::Set(_) | Domain::OneHot) && outer_lo <= inner_lo && inner_hi <= outer_hi
}

fn listing(names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(source: &str) -> Result<Task, FitError> {
        Task::new(&lossc::compile(source).unwrap(), None, None, None)
    }

    #[test]
    fn the_model_follows_the_prediction_domain() {
        let logistic =
            task("input y_true: {0, 1}\ninput y_pred: [0, 1]\nloss = mean(square(y_true - y_pred))").unwrap();
        assert_eq!((logistic.model, logistic.layout), (ModelKind::Logistic, Layout::Vector));
        assert!(logistic.is_classification());
        let linear = task("loss = mean(square(y_true - y_pred))").unwrap();
        assert_eq!(linear.model, ModelKind::Linear);
        assert!(!linear.is_classification());
        let softmax =
            task("input y_true: {0..9}\ninput y_pred: [0, 1] [N, 10]\nloss = mean(-log(take(y_pred, 0)))").unwrap();
        assert_eq!(
            (softmax.model, softmax.layout, softmax.outputs),
            (ModelKind::Softmax, Layout::Labels, Some(10))
        );
        let logits = task("input y_true: [0, 1] [N, C]\ninput y_pred: real [N, C]\nloss = mean(-sum(y_true * log_softmax(y_pred), axis=-1))").unwrap();
        assert_eq!(
            (logits.model, logits.layout, logits.outputs),
            (ModelKind::Linear, Layout::Matrix, None)
        );
    }

    #[test]
    fn unsupported_tasks_say_why() {
        let weights = task("input w: real\nloss = mean(w * square(y_true - y_pred))").unwrap_err();
        assert!(weights.to_string().contains("`y_true`, `w`"), "{weights}");
        let softmax = Task::new(
            &lossc::compile("loss = mean(square(y_true - y_pred))").unwrap(),
            None,
            None,
            Some(ModelKind::Softmax),
        );
        assert!(softmax.unwrap_err().to_string().contains("class axis"));
    }
}
