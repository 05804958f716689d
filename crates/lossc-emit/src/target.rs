//! The frameworks `lossc emit` writes for, and what each needs beyond the
//! built-ins' own spellings (those are in `lossc_ir::builtins`, one entry per
//! built-in): imports, how arguments become tensors, how dimensions are read,
//! and the reduction keyword names.

use std::fmt;

use lossc_ir::Builtin;

/// A framework to emit for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// `jax.numpy`, differentiated with `jax.grad`.
    Jax,
    /// PyTorch, differentiated with `backward()`.
    Torch,
    /// Keras 3 `keras.ops`, backend-agnostic (tested with the JAX backend).
    Keras,
    /// TensorFlow 2 ops, for `tf.keras` and `tf.GradientTape`.
    Tf,
    /// NumPy, with lossc's own gradient as `NAME_grad`.
    Numpy,
}

impl Target {
    /// Every target, in the order of the command line's help.
    pub const ALL: &'static [Target] = &[Target::Jax, Target::Torch, Target::Keras, Target::Tf, Target::Numpy];

    /// The name on the command line, `--target jax`.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Jax => "jax",
            Target::Torch => "torch",
            Target::Keras => "keras",
            Target::Tf => "tf",
            Target::Numpy => "numpy",
        }
    }

    pub fn parse(name: &str) -> Option<Target> {
        Target::ALL.iter().copied().find(|t| t.as_str() == name)
    }

    /// The framework's name in prose.
    pub fn framework(self) -> &'static str {
        match self {
            Target::Jax => "JAX",
            Target::Torch => "PyTorch",
            Target::Keras => "Keras 3 (keras.ops)",
            Target::Tf => "TensorFlow 2",
            Target::Numpy => "NumPy",
        }
    }

    /// This target's spelling of a built-in (a template, see [`crate::template`]).
    pub fn template(self, builtin: Builtin) -> &'static str {
        let emit = &builtin.spec().emit;
        match self {
            Target::Jax => emit.jax,
            Target::Torch => emit.torch,
            Target::Keras => emit.keras,
            Target::Tf => emit.tf,
            Target::Numpy => emit.numpy,
        }
    }

    /// Whether the code is differentiated by the framework's autodiff, so
    /// selections need the "double where" guard. NumPy code is not: its
    /// gradient is lossc's own.
    pub fn autodiff(self) -> bool {
        self != Target::Numpy
    }

    /// Whether the loss function returns per-sample values for a per-sample
    /// loss and leaves the mean to the framework's loss reduction (Keras and
    /// `tf.keras`), rather than returning the mean (with a `NAME_per_sample`
    /// beside it).
    pub fn returns_per_sample(self) -> bool {
        matches!(self, Target::Keras | Target::Tf)
    }

    /// The keyword of reduction axes and of keeping them.
    pub fn reduction_keywords(self) -> (&'static str, &'static str) {
        match self {
            Target::Torch => ("dim", "keepdim"),
            _ => ("axis", "keepdims"),
        }
    }

    /// The import lines a module needs, by the prefixes its code uses
    /// (`jnp.` needs `import jax.numpy as jnp`), in this order.
    pub fn imports(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Target::Jax => &[
                ("jax.", "import jax"),
                ("jax.scipy.special.", "import jax.scipy.special"),
                ("jnp.", "import jax.numpy as jnp"),
            ],
            Target::Torch => &[("torch.", "import torch"), ("F.", "import torch.nn.functional as F")],
            Target::Keras => &[("ops.", "from keras import ops")],
            Target::Tf => &[("tf.", "import tensorflow as tf")],
            Target::Numpy => &[
                ("np.", "import numpy as np"),
                ("scipy.special.", "import scipy.special"),
            ],
        }
    }

    /// The first lines that make the reference argument (the variable the
    /// loss is differentiated with respect to) a tensor.
    pub fn convert_reference(self, name: &str) -> String {
        match self {
            Target::Jax => format!("{name} = jnp.asarray({name})"),
            Target::Torch => format!("{name} = torch.as_tensor({name})"),
            Target::Keras => format!("{name} = ops.convert_to_tensor({name})"),
            Target::Tf => format!("{name} = tf.convert_to_tensor({name})"),
            Target::Numpy => {
                format!(
                    "{name} = np.asarray({name})\n{name} = {name}.astype(np.result_type({name}, np.float32), copy=False)"
                )
            }
        }
    }

    /// Makes another argument (an input, or a param given as a number or an
    /// array) a tensor of the reference's dtype (and device).
    pub fn convert_like(self, name: &str, reference: &str) -> String {
        match self {
            Target::Jax => format!("{name} = jnp.asarray({name}, dtype={reference}.dtype)"),
            Target::Torch => {
                format!("{name} = torch.as_tensor({name}, dtype={reference}.dtype, device={reference}.device)")
            }
            // A Python number or list is made a tensor of the dtype directly:
            // casting would first make it a float32 tensor, rounding a
            // float64 computation's `param gamma = 0.1`.
            Target::Keras => format!(
                "{name} = (\n    ops.convert_to_tensor({name}, dtype={reference}.dtype)\n    \
                 if isinstance({name}, (int, float, list, tuple))\n    else ops.cast({name}, {reference}.dtype)\n)"
            ),
            Target::Tf => format!(
                "{name} = (\n    tf.constant({name}, dtype={reference}.dtype)\n    \
                 if isinstance({name}, (int, float, list, tuple))\n    else tf.cast({name}, {reference}.dtype)\n)"
            ),
            Target::Numpy => format!("{name} = np.asarray({name}, dtype={reference}.dtype)"),
        }
    }

    /// A vector constant as a tensor of the reference's dtype.
    pub fn vector(self, values: &str, reference: &str) -> String {
        match self {
            Target::Jax => format!("jnp.asarray({values}, dtype={reference}.dtype)"),
            Target::Torch => format!("torch.as_tensor({values}, dtype={reference}.dtype, device={reference}.device)"),
            Target::Keras => format!("ops.convert_to_tensor({values}, dtype={reference}.dtype)"),
            Target::Tf => format!("tf.constant({values}, dtype={reference}.dtype)"),
            Target::Numpy => format!("np.asarray({values}, dtype={reference}.dtype)"),
        }
    }

    /// Keras gives a model with one output unit `(N, 1)` arrays: a loss of
    /// `[N]` inputs squeezes them (Keras and `tf.keras` only).
    pub fn squeeze_column(self, name: &str) -> Option<String> {
        let squeeze = match self {
            Target::Keras => "ops.squeeze",
            Target::Tf => "tf.squeeze",
            _ => return None,
        };
        Some(format!(
            "if len({name}.shape) == 2 and {name}.shape[-1] == 1:\n    {name} = {squeeze}({name}, axis=-1)"
        ))
    }

    /// Refuses an argument whose number of axes is not the declared one
    /// (JAX, PyTorch and NumPy; Keras and TensorFlow squeeze a `(N, 1)`
    /// column instead, as Keras models give one): a `(N, 1)` prediction
    /// against `(N,)` labels would silently broadcast to `(N, N)`. The
    /// number of axes is static under `jax.jit` and `torch.compile`, so the
    /// check costs nothing there.
    pub fn rank_check(self, name: &str, rank: usize, declared: &str) -> Option<String> {
        if matches!(self, Target::Keras | Target::Tf) {
            return None;
        }
        let axes = if rank == 1 { "axis" } else { "axes" };
        Some(format!(
            "if {name}.ndim != {rank}:\n    raise ValueError(\n        \
             f\"`{name}` is declared {declared} ({rank} {axes}) but has shape {{tuple({name}.shape)}}: \
             against the other inputs it would broadcast to a wrong shape \
             (a trailing axis of size 1 goes with {name}.squeeze(-1))\"\n    )"
        ))
    }

    /// The size of axis `axis` of `input`, as a Python int (or an integer
    /// tensor where the size is only known at run time).
    pub fn dim_size(self, input: &str, axis: usize) -> String {
        match self {
            Target::Keras => format!("ops.shape({input})[{axis}]"),
            Target::Tf => format!("tf.shape({input})[{axis}]"),
            _ => format!("{input}.shape[{axis}]"),
        }
    }

    /// A dimension's size used as a number in arithmetic.
    pub fn dim_number(self, dim: &str, dtype: &str) -> String {
        match self {
            Target::Keras => format!("ops.cast({dim}, {dtype})"),
            Target::Tf => format!("tf.cast({dim}, {dtype})"),
            _ => dim.to_string(),
        }
    }

    /// Whether a dimension's size, bound by [`Target::dim_size`], is a tensor.
    pub fn dims_are_tensors(self) -> bool {
        matches!(self, Target::Keras | Target::Tf)
    }

    /// A plain Python number made a tensor of the reference's dtype, where a
    /// function needs one (`torch.maximum` takes no numbers; `tf.where(c, 1.0,
    /// 0.0)` would be float32 whatever the data). `None`: numbers are fine.
    pub fn tensor(self, number: &str, reference: &str) -> Option<String> {
        match self {
            Target::Torch => Some(format!("{reference}.new_tensor({number})")),
            Target::Tf => Some(format!("tf.constant({number}, dtype={reference}.dtype)")),
            Target::Keras => Some(format!("ops.convert_to_tensor({number}, dtype={reference}.dtype)")),
            Target::Jax | Target::Numpy => None,
        }
    }

    /// A plain Python number as an array, where it is subscripted or has a
    /// method called (`expand_dims` of a constant).
    pub fn array(self, number: &str, reference: &str) -> String {
        match self {
            Target::Jax => format!("jnp.asarray({number})"),
            Target::Numpy => format!("np.asarray({number})"),
            _ => self.tensor(number, reference).expect("a tensor spelling"),
        }
    }

    /// The mean over everything, for the loss of a per-sample loss.
    pub fn mean(self, expr: &str) -> String {
        match self {
            Target::Jax => format!("jnp.mean({expr})"),
            Target::Torch => format!("torch.mean({expr})"),
            Target::Keras => format!("ops.mean({expr})"),
            Target::Tf => format!("tf.reduce_mean({expr})"),
            Target::Numpy => format!("np.mean({expr})"),
        }
    }

    /// What the loss function returns, in the docstring.
    pub fn tensor_type(self) -> &'static str {
        match self {
            Target::Jax => "a jax.Array",
            Target::Torch => "a torch.Tensor",
            Target::Keras => "a backend tensor",
            Target::Tf => "a tf.Tensor",
            Target::Numpy => "a NumPy array",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
