//! The model: one dense layer `z = x W + b` and its activation, forward and
//! backward, in the training dtype. Rows are samples; matrices are row-major
//! `Vec`s (the sizes are tiny: a few features, a few outputs).

use num_traits::Float;

use crate::rng::Rng;
use crate::task::ModelKind;

/// A dense layer: `kernel` is `[features, outputs]` (row-major), `bias` is
/// `[outputs]`, as Keras's `Dense` holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense<T> {
    pub features: usize,
    pub outputs: usize,
    pub kernel: Vec<T>,
    pub bias: Vec<T>,
}

impl<T: Float> Dense<T> {
    /// Keras's default initialisation: the kernel Glorot-uniform, in
    /// `±sqrt(6 / (features + outputs))`, the bias zero.
    pub fn glorot(features: usize, outputs: usize, rng: &mut Rng) -> Self {
        let limit = (6.0 / (features + outputs) as f64).sqrt();
        Dense {
            features,
            outputs,
            kernel: (0..features * outputs)
                .map(|_| cast(rng.uniform_in(-limit, limit)))
                .collect(),
            bias: vec![T::zero(); outputs],
        }
    }

    /// `x W + b` for `rows` samples `x` (`[rows, features]`): `[rows, outputs]`.
    pub fn logits(&self, x: &[T], rows: usize) -> Vec<T> {
        let mut z = Vec::with_capacity(rows * self.outputs);
        for row in x.chunks_exact(self.features).take(rows) {
            for k in 0..self.outputs {
                // The product first, then the bias, as Keras adds them.
                let mut sum = T::zero();
                for (j, &value) in row.iter().enumerate() {
                    sum = sum + value * self.kernel[j * self.outputs + k];
                }
                z.push(sum + self.bias[k]);
            }
        }
        z
    }

    /// The gradient of the loss with respect to the kernel and the bias, from
    /// `dz` (the gradient with respect to the logits of `x`'s rows):
    /// `dW = x^T dz`, `db = sum of dz's rows`.
    pub fn gradient(&self, x: &[T], dz: &[T]) -> (Vec<T>, Vec<T>) {
        let mut kernel = vec![T::zero(); self.kernel.len()];
        let mut bias = vec![T::zero(); self.outputs];
        for (row, dz_row) in x.chunks_exact(self.features).zip(dz.chunks_exact(self.outputs)) {
            for (j, &value) in row.iter().enumerate() {
                for (k, &d) in dz_row.iter().enumerate() {
                    kernel[j * self.outputs + k] = kernel[j * self.outputs + k] + value * d;
                }
            }
            for (b, &d) in bias.iter_mut().zip(dz_row) {
                *b = *b + d;
            }
        }
        (kernel, bias)
    }

    /// The L2 norm of every weight, kernel and bias.
    pub fn norm(&self) -> f64 {
        self.kernel
            .iter()
            .chain(&self.bias)
            .map(|w| w.to_f64().unwrap_or(f64::NAN).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    pub fn is_finite(&self) -> bool {
        self.kernel.iter().chain(&self.bias).all(|w| w.is_finite())
    }

    /// The same layer in f64 (exact from f32).
    pub fn to_f64(&self) -> Dense<f64> {
        let convert = |values: &[T]| values.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect();
        Dense {
            features: self.features,
            outputs: self.outputs,
            kernel: convert(&self.kernel),
            bias: convert(&self.bias),
        }
    }

    /// The layer with weights `weights` (rounded to `T`).
    pub fn from_f64(weights: &Dense<f64>) -> Self {
        let convert = |values: &[f64]| values.iter().map(|v| cast(*v)).collect();
        Dense {
            features: weights.features,
            outputs: weights.outputs,
            kernel: convert(&weights.kernel),
            bias: convert(&weights.bias),
        }
    }
}

/// The activation of `model` applied to the logits `z` (rows of `outputs`).
pub fn activate<T: Float>(model: ModelKind, z: &[T], outputs: usize) -> Vec<T> {
    match model {
        ModelKind::Linear => z.to_vec(),
        ModelKind::Logistic => z.iter().map(|&v| sigmoid(v)).collect(),
        ModelKind::Softmax => {
            let mut y = Vec::with_capacity(z.len());
            for row in z.chunks_exact(outputs) {
                let max = row.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
                let exps: Vec<T> = row.iter().map(|&v| (v - max).exp()).collect();
                let total = exps.iter().fold(T::zero(), |a, &b| a + b);
                y.extend(exps.iter().map(|&e| e / total));
            }
            y
        }
    }
}

/// The gradient with respect to the logits from `dy`, the gradient with
/// respect to the activation's output `y`: the vector-Jacobian product of the
/// activation, as JAX computes it (sigmoid: `dy * y * (1 - y)`; softmax, per
/// row: `y * (dy - sum(y * dy))`).
pub fn backward<T: Float>(model: ModelKind, y: &[T], dy: &[T], outputs: usize) -> Vec<T> {
    match model {
        ModelKind::Linear => dy.to_vec(),
        ModelKind::Logistic => y.iter().zip(dy).map(|(&y, &d)| d * (y * (T::one() - y))).collect(),
        ModelKind::Softmax => {
            let mut dz = Vec::with_capacity(y.len());
            for (y_row, dy_row) in y.chunks_exact(outputs).zip(dy.chunks_exact(outputs)) {
                let dot = y_row.iter().zip(dy_row).fold(T::zero(), |a, (&y, &d)| a + y * d);
                dz.extend(y_row.iter().zip(dy_row).map(|(&y, &d)| y * (d - dot)));
            }
            dz
        }
    }
}

/// The logistic function, without overflow for either sign.
fn sigmoid<T: Float>(v: T) -> T {
    if v >= T::zero() {
        T::one() / (T::one() + (-v).exp())
    } else {
        let e = v.exp();
        e / (T::one() + e)
    }
}

/// An f64 in `T` (rounded; always representable as some `T`).
pub(crate) fn cast<T: Float>(value: f64) -> T {
    T::from(value).unwrap_or_else(T::nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_and_gradients_are_the_matrix_products() {
        let layer = Dense {
            features: 2,
            outputs: 2,
            kernel: vec![1.0, 2.0, 3.0, 4.0],
            bias: vec![0.5, -0.5],
        };
        let x = [1.0, 1.0, 0.0, 2.0];
        assert_eq!(layer.logits(&x, 2), [4.5, 5.5, 6.5, 7.5]);
        let (kernel, bias) = layer.gradient(&x, &[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(kernel, [1.0, 0.0, 1.0, 2.0]);
        assert_eq!(bias, [1.0, 1.0]);
    }

    #[test]
    fn activations_and_their_derivatives() {
        let y = activate(ModelKind::Logistic, &[0.0_f64, 1000.0, -1000.0], 1);
        assert_eq!(y, [0.5, 1.0, 0.0]);
        assert_eq!(backward(ModelKind::Logistic, &y, &[1.0, 1.0, 1.0], 1), [0.25, 0.0, 0.0]);
        let softmax = activate(ModelKind::Softmax, &[0.0_f64, 0.0, 1000.0, 0.0], 2);
        assert_eq!(softmax, [0.5, 0.5, 1.0, 0.0]);
        // A gradient equal on every class moves no logit.
        let dz = backward(ModelKind::Softmax, &softmax[..2], &[3.0, 3.0], 2);
        assert_eq!(dz, [0.0, 0.0]);
    }
}
