//! The optimizers, as Keras 3 defines them, in the training dtype.

use num_traits::Float;

use crate::model::cast;

/// An optimizer and its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// Adam (Kingma and Ba), in Keras's form: the bias corrections folded
    /// into the step size, epsilon added to `sqrt(v)`.
    Adam {
        learning_rate: f64,
        beta_1: f64,
        beta_2: f64,
        epsilon: f64,
    },
    /// Plain stochastic gradient descent: `w -= learning_rate * g`.
    Sgd { learning_rate: f64 },
}

impl Optimizer {
    /// Keras's `Adam()`: learning rate 0.001, betas 0.9 and 0.999, epsilon 1e-7.
    pub const KERAS_ADAM: Optimizer = Optimizer::Adam {
        learning_rate: 0.001,
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
    };

    /// Keras's `SGD()`: learning rate 0.01.
    pub const KERAS_SGD: Optimizer = Optimizer::Sgd { learning_rate: 0.01 };

    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Adam { .. } => "adam",
            Optimizer::Sgd { .. } => "sgd",
        }
    }

    pub fn learning_rate(self) -> f64 {
        match self {
            Optimizer::Adam { learning_rate, .. } | Optimizer::Sgd { learning_rate } => learning_rate,
        }
    }

    /// The same optimizer with another learning rate.
    pub fn with_learning_rate(self, rate: f64) -> Self {
        match self {
            Optimizer::Adam {
                beta_1,
                beta_2,
                epsilon,
                ..
            } => Optimizer::Adam {
                learning_rate: rate,
                beta_1,
                beta_2,
                epsilon,
            },
            Optimizer::Sgd { .. } => Optimizer::Sgd { learning_rate: rate },
        }
    }
}

/// The optimizer's state for one tensor of weights.
#[derive(Debug, Clone)]
pub(crate) struct Slot<T> {
    /// Adam's first and second moments.
    m: Vec<T>,
    v: Vec<T>,
}

/// An optimizer with its state: one [`Slot`] per tensor, one step count.
#[derive(Debug, Clone)]
pub(crate) struct State<T> {
    optimizer: Optimizer,
    slots: Vec<Slot<T>>,
    /// Steps taken so far.
    iterations: u32,
}

impl<T: Float> State<T> {
    /// The state for tensors of `sizes`.
    pub fn new(optimizer: Optimizer, sizes: &[usize]) -> Self {
        State {
            optimizer,
            slots: sizes
                .iter()
                .map(|&size| Slot {
                    m: vec![T::zero(); size],
                    v: vec![T::zero(); size],
                })
                .collect(),
            iterations: 0,
        }
    }

    /// Applies one step to every tensor: `tensors[i] -= update(grads[i])`.
    pub fn step(&mut self, tensors: &mut [&mut [T]], grads: &[&[T]]) {
        self.iterations += 1;
        match self.optimizer {
            Optimizer::Sgd { learning_rate } => {
                let rate: T = cast(learning_rate);
                for (tensor, grad) in tensors.iter_mut().zip(grads) {
                    for (w, &g) in tensor.iter_mut().zip(*grad) {
                        *w = *w - rate * g;
                    }
                }
            }
            Optimizer::Adam {
                learning_rate,
                beta_1,
                beta_2,
                epsilon,
            } => {
                // keras.optimizers.Adam.update_step, in the variables' dtype.
                let (rate, beta_1, beta_2, epsilon): (T, T, T, T) =
                    (cast(learning_rate), cast(beta_1), cast(beta_2), cast(epsilon));
                let step: T = cast(f64::from(self.iterations));
                let beta_1_power = beta_1.powf(step);
                let beta_2_power = beta_2.powf(step);
                let alpha = rate * (T::one() - beta_2_power).sqrt() / (T::one() - beta_1_power);
                for ((tensor, grad), slot) in tensors.iter_mut().zip(grads).zip(&mut self.slots) {
                    for (((w, &g), m), v) in tensor.iter_mut().zip(*grad).zip(&mut slot.m).zip(&mut slot.v) {
                        *m = *m + (g - *m) * (T::one() - beta_1);
                        *v = *v + (g * g - *v) * (T::one() - beta_2);
                        *w = *w - (*m * alpha) / (v.sqrt() + epsilon);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adams_first_step_is_the_learning_rate_against_the_gradient() {
        let mut state = State::<f64>::new(Optimizer::KERAS_ADAM, &[2]);
        let mut w = [1.0, 1.0];
        state.step(&mut [&mut w], &[&[0.5, -2.0]]);
        assert!((w[0] - 0.999).abs() < 1e-8 && (w[1] - 1.001).abs() < 1e-8, "{w:?}");
    }

    #[test]
    fn sgd_steps_along_the_gradient() {
        let mut state = State::<f32>::new(Optimizer::KERAS_SGD, &[1]);
        let mut w = [1.0_f32];
        state.step(&mut [&mut w], &[&[2.0]]);
        assert_eq!(w, [0.98]);
    }
}
