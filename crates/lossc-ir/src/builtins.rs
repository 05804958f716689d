//! The built-in table: every operator and function of the language, defined
//! once. Each stage reads what it needs from here: the front end its name,
//! arity and typing rule; later stages their own columns of the same entry.
//!
//! To add a built-in: add one line to the `builtins!` table below, then the
//! per-stage behaviour the compiler asks for (every `match` on [`Builtin`] is
//! exhaustive, so the compiler lists the places), and one test row.

use std::fmt;

mod scalar;
pub use scalar::*;

/// The text of `builtins/scalar.rs` (the elementwise built-ins' arithmetic),
/// compiled into the code the fused kernels generate, so that generated code
/// and every evaluator share one definition.
pub const SCALAR_SOURCE: &str = include_str!("builtins/scalar.rs");

use crate::program::Attrs;
use crate::types::{Dim, Shape, Type, broadcast};
use lossc_diagnostics::Code;

/// How a built-in is typed and shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// Numbers in (broadcast together), a number out.
    Elementwise,
    /// Numbers in (broadcast together), a boolean out.
    Compare,
    /// Booleans in (broadcast together), a boolean out.
    Logic,
    /// `where(cond, a, b)`: a boolean and two numbers, broadcast together.
    Where,
    /// `float(b)`: a boolean in, a number out, same shape.
    Float,
    /// A reduction over `axis=` (default: all axes), `keepdims=` (default false).
    Reduce(Reduction),
    /// Along one `axis=` (default -1), shape kept.
    AlongAxis(Along),
    /// `take(x, i, axis=-1)`: the slice at integer index `i`; the axis is removed.
    Take,
    /// `one_hot(labels, C)`: `[N]` integer labels to a `[N, C]` tensor of 0/1.
    OneHot,
    /// `expand_dims(x, axis=...)`: inserts axes of size 1 at the given output positions.
    ExpandDims,
}

/// What a reduction computes over its axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    Sum,
    Mean,
    Max,
    Min,
    Logsumexp,
    Norm,
}

/// What an operation along one axis computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Along {
    Softmax,
    LogSoftmax,
}

/// Everything the stages need to know about one built-in.
#[derive(Debug)]
pub struct BuiltinSpec {
    /// The name in calls (`log`), or the operator's name (`add`).
    pub name: &'static str,
    /// The operator spelling, for operators (`+`).
    pub symbol: Option<&'static str>,
    /// Whether it can be called by name, `pow(x, y)`.
    pub callable: bool,
    /// The positional parameters, all required.
    pub params: &'static [&'static str],
    /// The keyword parameters accepted.
    pub keywords: &'static [&'static str],
    pub signature: Signature,
    /// Names users reach for that mean this built-in (for "did you mean").
    pub aliases: &'static [&'static str],
    /// One line for `:help`, completion and the docs.
    pub summary: &'static str,
    /// The e-graph's cost of one application (the simplifier prefers fewer
    /// and cheaper operations; the stable primitives cost less than any
    /// expansion of them).
    pub cost: f64,
    /// How its arguments' adjoints follow from its own (docs/symbolic.md).
    pub derivative: Derivative,
    /// What the analysis knows of its values: its interval, where it is
    /// undefined or infinite and which finding that is, whether it can
    /// overflow. The hazard checks and the emitters' guards read it too.
    pub values: Values,
    /// Where the tests sample a one-argument function: an interval inside
    /// its domain, clear of its poles, over which it varies (finite
    /// differences, JAX float64, the emitted code in every framework
    /// iterate over the table). `None` for the others.
    pub sample: Option<(f64, f64)>,
    /// How `lossc emit` writes it in each framework.
    pub emit: Emit,
}

/// What the analysis knows of a one-argument elementwise function's values
/// (the interval analysis computes bounds from it; the checks find its
/// hazards from it; `lossc emit` guards where it is not finite). The
/// bounds themselves come from the scalar definition evaluated in the dtype
/// at the ends of the argument's interval, so no threshold is written here:
/// where `exp` overflows, for one, is where its scalar definition does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Values {
    /// The analysis has its own rule: operators, functions of several
    /// arguments, reductions, and shapes no column describes (`tan`, with
    /// its poles).
    Own(ValueRule),
    /// Monotone (either way) where it is defined.
    Monotone(Facts),
    /// Even, and monotone in `|x|` (`abs`, `cosh`).
    Even(Facts),
    /// Periodic: any value of its image for a wide argument, NaN at an
    /// infinite one (`sin`, `cos`).
    Periodic(Facts),
}

/// The analysis's own rules for the values of a built-in the `values`
/// column does not describe: each an algorithm of the interval analysis
/// (`lossc-analysis`), which matches on this (not on [`Builtin`]), so a new
/// rule is a compile error there and a described function needs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare,
    And,
    Or,
    Not,
    Float,
    Square,
    /// Increasing between poles.
    Tan,
    Maximum,
    Minimum,
    Xlogy,
    Clip,
    Where,
    BroadcastLike,
    /// Not elementwise (reductions, along an axis, indexing, shapes): the
    /// analysis's own walk (absint.rs).
    NotElementwise,
}

/// The facts of [`Values`] beyond the function's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    /// Where it is defined (NaN outside), if not everywhere.
    pub defined: Option<Defined>,
    /// Its mathematical range; the computed bounds are met with it.
    pub image: (f64, f64),
    /// Whether it is computed exactly (or correctly rounded), so its bounds
    /// need no widening for the libm's rounding.
    pub exact: bool,
    /// Where it is not smooth (`check`'s `non-smooth` note).
    pub kinks: Kinks,
}

/// Where a one-argument function is not differentiable: a kink where it
/// has a derivative elsewhere (`abs`, `relu`), a step where its derivative
/// is 0 (`sign`, `floor`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kinks {
    None,
    /// At one argument: `abs`, `relu` and `sign` at 0.
    At(f64),
    /// At every integer plus `offset`: `floor` and `ceil` (0), `round` (0.5).
    EveryInteger {
        offset: f64,
    },
}

/// Where a function is defined, and the finding when an argument can leave
/// that interval (or reach a pole at its lower end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defined {
    pub lo: f64,
    pub hi: f64,
    /// Whether the value at `lo` is infinite (`log(0) = -inf`) or finite
    /// (`sqrt(0) = 0`). Either way the derivative is infinite at each end
    /// that is finite.
    pub at_lo: End,
    /// The finding for an argument outside (or at a pole): `log-domain`,
    /// `sqrt-domain`, `asin-domain`. Its help text is written once per
    /// code, by the analysis.
    pub code: Code,
}

/// The value of a function at the lower end of where it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Infinite there: a pole, itself a hazard (`log(0)`).
    Pole,
    /// Finite there (`sqrt(0)`, `asin(-1)`).
    Finite,
}

/// Facts of a function defined everywhere, with no bound on its range,
/// widened for rounding (the table's shorthand).
pub const fn facts() -> Facts {
    Facts {
        defined: None,
        image: (f64::NEG_INFINITY, f64::INFINITY),
        exact: false,
        kinks: Kinks::None,
    }
}

/// [`facts`] of a function computed exactly.
pub const fn exact() -> Facts {
    Facts { exact: true, ..facts() }
}

impl Facts {
    /// With this range.
    pub const fn image(self, lo: f64, hi: f64) -> Facts {
        Facts {
            image: (lo, hi),
            ..self
        }
    }

    /// Not differentiable at `at`.
    pub const fn kink(self, at: f64) -> Facts {
        Facts {
            kinks: Kinks::At(at),
            ..self
        }
    }

    /// Stepping at every integer plus `offset`.
    pub const fn steps(self, offset: f64) -> Facts {
        Facts {
            kinks: Kinks::EveryInteger { offset },
            ..self
        }
    }

    /// Defined on `[lo, hi]` only; outside it is the finding `code`.
    pub const fn defined(self, lo: f64, hi: f64, at_lo: End, code: Code) -> Facts {
        Facts {
            defined: Some(Defined { lo, hi, at_lo, code }),
            ..self
        }
    }
}

impl Values {
    /// The facts, for a function the table describes.
    pub fn facts(self) -> Option<Facts> {
        match self {
            Values::Own(_) => None,
            Values::Monotone(f) | Values::Even(f) | Values::Periodic(f) => Some(f),
        }
    }

    /// Where it is defined, if the table says it is not everywhere.
    pub fn defined(self) -> Option<Defined> {
        self.facts().and_then(|f| f.defined)
    }
}

impl Defined {
    /// Whether the value is finite and defined at `v` (inside, and not at a pole).
    pub fn value_finite_at(&self, v: f64) -> bool {
        let above = match self.at_lo {
            End::Pole => v > self.lo,
            End::Finite => v >= self.lo,
        };
        above && v <= self.hi
    }

    /// Whether the derivative is finite at `v`: strictly inside.
    pub fn slope_finite_at(&self, v: f64) -> bool {
        v > self.lo && v < self.hi
    }
}

/// A built-in named by a type: code generic over it is compiled once per
/// built-in with [`Known::BUILTIN`] a constant, so a `match` on it (as
/// [`eval_scalar_in`]'s) folds away. The fused kernels' loops are
/// specialised so, through [`Builtin::specialise`], with no list of
/// built-ins of their own.
pub trait Known {
    const BUILTIN: Builtin;
}

/// A computation specialised to one built-in ([`Builtin::specialise`]).
pub trait Specialised {
    type Output;
    fn run<B: Known>(self) -> Self::Output;
}

/// A built-in's derivative rule, as data the gradient (`lossc-symbolic`)
/// interprets: for a node `y = f(args)` whose adjoint is `g`, what each
/// argument's adjoint gains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Derivative {
    /// None along any argument (comparisons, logic, the steps, `one_hot`;
    /// docs/language.md: their derivative is 0).
    Zero,
    /// Argument `k` gains the `k`-th template where it depends on the
    /// variable (`None`: nothing along it).
    Each(&'static [Option<Template>]),
    /// A selection of argument 0 (`abs`, `relu`): it gains `value` only where
    /// `when` holds, a guard of the gradient (0 at the kink).
    Selected { value: Template, when: Template },
    /// A rule the gradient writes itself: it needs the shapes of the node and
    /// its adjoint (reductions, softmax, indexing), the literal exponent
    /// (`pow`), or shares at ties (`maximum`, `clip`, `where`).
    Own(OwnRule),
}

/// A template of a derivative: an IR expression over the node (`Y`), its
/// adjoint (`G`), its arguments and literals, built operands first, left to
/// right; equal templates within one rule are one node. A `Call` of a
/// comparison or of logic at the top of a [`Derivative::Selected`]'s `when`
/// is a guard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Template {
    /// The node's adjoint.
    G,
    /// The node itself.
    Y,
    /// The node's argument `k`.
    Arg(usize),
    Lit(f64),
    Call(Builtin, &'static [Template]),
    /// Each template built in turn (fixing the order of the nodes, which
    /// the simplifier's choice among equal-cost forms follows); the value is
    /// the last.
    Seq(&'static [Template]),
}

impl Template {
    /// The template's value at one point, in f64: the node's adjoint `g`,
    /// its value `y`, its arguments `args` (`None` where a call in it has
    /// no scalar value, a reduction's).
    pub fn eval(self, g: f64, y: f64, args: &[f64]) -> Option<f64> {
        match self {
            Template::G => Some(g),
            Template::Y => Some(y),
            Template::Arg(k) => args.get(k).copied(),
            Template::Lit(v) => Some(v),
            Template::Call(builtin, operands) => {
                let values: Option<Vec<f64>> = operands.iter().map(|t| t.eval(g, y, args)).collect();
                eval_scalar(builtin, &values?)
            }
            Template::Seq(steps) => steps.last().and_then(|t| t.eval(g, y, args)),
        }
    }
}

impl Builtin {
    /// The comparison that holds exactly where this one fails, for numbers
    /// (`<` and `>=`, `==` and `!=`); `None` for the others.
    pub fn complement(self) -> Option<Builtin> {
        const COMPLEMENTS: [(Builtin, Builtin); 6] = [
            (Builtin::Lt, Builtin::Ge),
            (Builtin::Ge, Builtin::Lt),
            (Builtin::Le, Builtin::Gt),
            (Builtin::Gt, Builtin::Le),
            (Builtin::Eq, Builtin::Ne),
            (Builtin::Ne, Builtin::Eq),
        ];
        COMPLEMENTS.iter().find(|(b, _)| *b == self).map(|(_, c)| *c)
    }

    /// For a selection of its argument ([`Derivative::Selected`]) whose
    /// guard compares the argument with a literal, that comparison and
    /// literal: `relu` passes the adjoint where `x > 0`, `abs` where
    /// `x != 0`. The emitters' guards and the dead-gradient search read it.
    pub fn kink_selection(self) -> Option<(Builtin, f64)> {
        match self.spec().derivative {
            Derivative::Selected {
                when: Template::Call(test, [Template::Arg(0), Template::Lit(c)]),
                ..
            } if test.complement().is_some() => Some((test, *c)),
            _ => None,
        }
    }

    /// Whether, at arguments `args`, this built-in's value and its
    /// derivative along argument `k` (by its table rule) are finite with a
    /// margin in the narrowest dtype: below float32's largest value by a
    /// factor of 1e4, so that what they feed stays finite too. `None` when
    /// the rule is the gradient's own (not a template).
    pub fn finite_slope_at(self, k: usize, args: &[f64]) -> Option<bool> {
        let Derivative::Each(templates) = self.spec().derivative else {
            return None;
        };
        let ok = |v: f64| v.abs() < f64::from(f32::MAX) / 1e4;
        let y = eval_scalar(self, args)?;
        let slope = match templates.get(k).copied().flatten() {
            Some(t) => t.eval(1.0, y, args)?,
            None => 0.0,
        };
        Some(ok(y) && ok(slope))
    }
}

/// `expm1(x) - expm1(-x)`, twice `sinh(x)` and accurate near 0: `cosh`'s
/// derivative, built after `-x` (so its nodes keep the order they always had).
const TWICE_SINH: Template = Template::Call(
    Builtin::Sub,
    &[
        Template::Call(Builtin::Expm1, &[Template::Arg(0)]),
        Template::Call(Builtin::Expm1, &[Template::Call(Builtin::Neg, &[Template::Arg(0)])]),
    ],
);

/// The derivative rules `lossc-symbolic` writes out itself (one per family
/// of built-ins sharing one rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnRule {
    /// `x ^ y`: JAX's rules, with the literal exponent 0 and base 0 handled.
    Pow,
    /// `maximum`, `minimum`: the winner gets the adjoint, half each at a tie.
    Extremum,
    /// `clip`: the argument that is the result, half at each tie.
    Clip,
    /// `where`: each branch where it is selected.
    Where,
    /// `sum`, `mean`: the adjoint expanded over the reduced axes (divided by
    /// the count for `mean`).
    Sum,
    /// The reductions `max`, `min`: shared equally among ties.
    Extreme,
    Logsumexp,
    Norm,
    Softmax,
    LogSoftmax,
    Take,
    ExpandDims,
}

/// A built-in in the Python that `lossc emit` writes: one template per target
/// (`jax.numpy as jnp`, `torch` with `torch.nn.functional as F`, Keras 3's
/// `keras.ops as ops`, `tensorflow as tf`, `numpy as np`), and the operands
/// that need the "double where" guard. The template language (`{0}`,
/// `{0:T}`, `{kw_axes}`, `{axis}`, ...) is documented in
/// `crates/lossc-emit/src/template.rs`, which checks every template here.
#[derive(Debug)]
pub struct Emit {
    pub jax: &'static str,
    pub torch: &'static str,
    pub keras: &'static str,
    pub tf: &'static str,
    pub numpy: &'static str,
    /// The operands that can make the value or the derivative non-finite,
    /// each with a value at which both are finite (`log`: argument 0, 1.0).
    /// Where the result is not selected (an unselected `where` branch, the
    /// losing side of a `maximum`), emitted code replaces the operand by that
    /// value, so framework autodiff never multiplies 0 by an infinity.
    pub guard: &'static [(usize, f64)],
}

macro_rules! builtins {
    ($(
        $variant:ident {
            name: $name:literal,
            symbol: $symbol:expr,
            callable: $callable:literal,
            params: [$($param:literal),*],
            keywords: [$($keyword:literal),*],
            signature: $signature:expr,
            aliases: [$($alias:literal),*],
            summary: $summary:literal,
            cost: $cost:literal,
            deriv: $deriv:expr,
            values: $values:expr,
            sample: $sample:expr,
            emit: {
                jax: $jax:literal,
                torch: $torch:literal,
                keras: $keras:literal,
                tf: $tf:literal,
                numpy: $numpy:literal,
                guard: [$(($guard_arg:literal, $guard_safe:literal)),*] $(,)?
            } $(,)?
        },
    )*) => {
        /// A built-in operator or function.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Builtin {
            $($variant,)*
        }

        impl Builtin {
            /// Every built-in, in table order.
            pub const ALL: &'static [Builtin] = &[$(Builtin::$variant,)*];

            /// This built-in's entry in the table.
            pub fn spec(self) -> &'static BuiltinSpec {
                &TABLE[self as usize]
            }
        }

        /// One type per built-in, each naming it at compile time (see
        /// [`Known`]).
        pub mod each {
            $(
                #[doc = concat!("`", $name, "`, known at compile time.")]
                #[derive(Debug, Clone, Copy)]
                pub struct $variant;
                impl super::Known for $variant {
                    const BUILTIN: super::Builtin = super::Builtin::$variant;
                }
            )*
        }

        impl Builtin {
            /// Runs `computation` specialised to this built-in: its
            /// [`Specialised::run`] with the type of [`each`] that names it.
            pub fn specialise<S: Specialised>(self, computation: S) -> S::Output {
                match self {
                    $(Builtin::$variant => computation.run::<each::$variant>(),)*
                }
            }
        }

        static TABLE: &[BuiltinSpec] = &[$(
            BuiltinSpec {
                name: $name,
                symbol: $symbol,
                callable: $callable,
                params: &[$($param),*],
                keywords: &[$($keyword),*],
                signature: {
                    #[allow(unused_imports)]
                    use {Along::*, Reduction::*, Signature::*};
                    $signature
                },
                aliases: &[$($alias),*],
                summary: $summary,
                cost: $cost,
                derivative: {
                    #[allow(unused_imports)]
                    use {Builtin::*, Derivative::*, Template::*};
                    $deriv
                },
                values: {
                    #[allow(unused_imports)]
                    use {End::*, Values::*, lossc_diagnostics::Code::*};
                    $values
                },
                sample: $sample,
                emit: Emit {
                    jax: $jax,
                    torch: $torch,
                    keras: $keras,
                    tf: $tf,
                    numpy: $numpy,
                    guard: &[$(($guard_arg, $guard_safe)),*],
                },
            },
        )*];
    };
}

builtins! {
    // ----------------------------------------------------------- operators
    Neg { name: "neg", symbol: Some("-"), callable: false, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "negation, -x",
        cost: 1.0, deriv: Each(&[Some(Call(Neg, &[G]))]),
        values: Own(ValueRule::Neg), sample: Some((-1.5, 2.0)),
        emit: { jax: "-{0}", torch: "-{0}", keras: "-{0}", tf: "-{0}", numpy: "-{0}", guard: [] } },
    Add { name: "add", symbol: Some("+"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a + b",
        cost: 2.0, deriv: Each(&[Some(G), Some(G)]),
        values: Own(ValueRule::Add), sample: None,
        emit: { jax: "{0} + {1}", torch: "{0} + {1}", keras: "{0} + {1}", tf: "{0} + {1}", numpy: "{0} + {1}", guard: [] } },
    Sub { name: "sub", symbol: Some("-"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a - b",
        cost: 2.0, deriv: Each(&[Some(G), Some(Call(Neg, &[G]))]),
        values: Own(ValueRule::Sub), sample: None,
        emit: { jax: "{0} - {1}", torch: "{0} - {1}", keras: "{0} - {1}", tf: "{0} - {1}", numpy: "{0} - {1}", guard: [] } },
    Mul { name: "mul", symbol: Some("*"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a * b",
        cost: 2.0, deriv: Each(&[Some(Call(Mul, &[G, Arg(1)])), Some(Call(Mul, &[G, Arg(0)]))]),
        values: Own(ValueRule::Mul), sample: None,
        emit: { jax: "{0} * {1}", torch: "{0} * {1}", keras: "{0} * {1}", tf: "{0} * {1}", numpy: "{0} * {1}", guard: [] } },
    Div { name: "div", symbol: Some("/"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a / b",
        cost: 3.0, deriv: Each(&[Some(Call(Div, &[G, Arg(1)])), Some(Call(Neg, &[Call(Div, &[Call(Mul, &[G, Y]), Arg(1)])]))]),
        values: Own(ValueRule::Div), sample: None,
        emit: { jax: "{0} / {1}", torch: "{0} / {1}", keras: "{0} / {1}", tf: "{0} / {1}", numpy: "{0} / {1}", guard: [(1, 1.0)] } },
    Pow { name: "pow", symbol: Some("^"), callable: true, params: ["x", "y"], keywords: [], signature: Elementwise, aliases: ["power"], summary: "x to the power y, also written x ^ y or x ** y",
        cost: 6.0, deriv: Own(OwnRule::Pow),
        values: Own(ValueRule::Pow), sample: None,
        emit: { jax: "{0} ** {1}", torch: "{0} ** {1}", keras: "{0} ** {1}", tf: "{0} ** {1}", numpy: "{0} ** {1}", guard: [(0, 1.0), (1, 1.0)] } },
    Eq { name: "eq", symbol: Some("=="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a == b",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Compare), sample: None,
        emit: { jax: "{0} == {1}", torch: "{0} == {1}", keras: "{0} == {1}", tf: "{0} == {1}", numpy: "{0} == {1}", guard: [] } },
    Ne { name: "ne", symbol: Some("!="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a != b",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Compare), sample: None,
        emit: { jax: "{0} != {1}", torch: "{0} != {1}", keras: "{0} != {1}", tf: "{0} != {1}", numpy: "{0} != {1}", guard: [] } },
    Lt { name: "lt", symbol: Some("<"), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a < b",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Compare), sample: None,
        emit: { jax: "{0} < {1}", torch: "{0} < {1}", keras: "{0} < {1}", tf: "{0} < {1}", numpy: "{0} < {1}", guard: [] } },
    Le { name: "le", symbol: Some("<="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a <= b",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Compare), sample: None,
        emit: { jax: "{0} <= {1}", torch: "{0} <= {1}", keras: "{0} <= {1}", tf: "{0} <= {1}", numpy: "{0} <= {1}", guard: [] } },
    Gt { name: "gt", symbol: Some(">"), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a > b",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Compare), sample: None,
        emit: { jax: "{0} > {1}", torch: "{0} > {1}", keras: "{0} > {1}", tf: "{0} > {1}", numpy: "{0} > {1}", guard: [] } },
    Ge { name: "ge", symbol: Some(">="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a >= b",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Compare), sample: None,
        emit: { jax: "{0} >= {1}", torch: "{0} >= {1}", keras: "{0} >= {1}", tf: "{0} >= {1}", numpy: "{0} >= {1}", guard: [] } },
    And { name: "and", symbol: Some("and"), callable: false, params: ["a", "b"], keywords: [], signature: Logic, aliases: [], summary: "both conditions hold",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::And), sample: None,
        emit: { jax: "jnp.logical_and({0}, {1})", torch: "torch.logical_and({0}, {1})", keras: "ops.logical_and({0}, {1})", tf: "tf.logical_and({0}, {1})", numpy: "np.logical_and({0}, {1})", guard: [] } },
    Or { name: "or", symbol: Some("or"), callable: false, params: ["a", "b"], keywords: [], signature: Logic, aliases: [], summary: "either condition holds",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Or), sample: None,
        emit: { jax: "jnp.logical_or({0}, {1})", torch: "torch.logical_or({0}, {1})", keras: "ops.logical_or({0}, {1})", tf: "tf.logical_or({0}, {1})", numpy: "np.logical_or({0}, {1})", guard: [] } },
    Not { name: "not", symbol: Some("not"), callable: false, params: ["a"], keywords: [], signature: Logic, aliases: [], summary: "the condition does not hold",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Not), sample: None,
        emit: { jax: "jnp.logical_not({0})", torch: "torch.logical_not({0})", keras: "ops.logical_not({0})", tf: "tf.logical_not({0})", numpy: "np.logical_not({0})", guard: [] } },
    // ---------------------------------------------- elementwise, one argument
    Abs { name: "abs", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["fabs", "absolute"], summary: "|x|; derivative 0 at 0",
        cost: 2.0, deriv: Selected { value: Call(Mul, &[G, Call(Sign, &[Arg(0)])]), when: Call(Ne, &[Arg(0), Lit(0.0)]) },
        values: Even(exact().kink(0.0)), sample: Some((-1.5, 2.0)),
        emit: { jax: "jnp.abs({0})", torch: "torch.abs({0})", keras: "ops.abs({0})", tf: "tf.abs({0})", numpy: "np.abs({0})", guard: [] } },
    Sign { name: "sign", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["sgn"], summary: "-1, 0 or 1; derivative 0",
        cost: 2.0, deriv: Zero,
        values: Monotone(exact().kink(0.0)), sample: Some((-1.5, 2.0)),
        emit: { jax: "jnp.sign({0})", torch: "torch.sign({0})", keras: "ops.sign({0})", tf: "tf.sign({0})", numpy: "np.sign({0})", guard: [] } },
    Exp { name: "exp", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "e^x",
        cost: 8.0, deriv: Each(&[Some(Call(Mul, &[G, Y]))]),
        values: Monotone(facts().image(0.0, f64::INFINITY)), sample: Some((-2.0, 1.5)),
        emit: { jax: "jnp.exp({0})", torch: "torch.exp({0})", keras: "ops.exp({0})", tf: "tf.exp({0})", numpy: "np.exp({0})", guard: [(0, 0.0)] } },
    Expm1 { name: "expm1", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "e^x - 1, accurate near 0",
        cost: 7.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Exp, &[Arg(0)])]))]),
        values: Monotone(facts()), sample: Some((-1.0, 1.2)),
        emit: { jax: "jnp.expm1({0})", torch: "torch.expm1({0})", keras: "ops.expm1({0})", tf: "tf.math.expm1({0})", numpy: "np.expm1({0})", guard: [(0, 0.0)] } },
    Log { name: "log", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["ln"], summary: "natural logarithm",
        cost: 8.0, deriv: Each(&[Some(Call(Div, &[G, Arg(0)]))]),
        values: Monotone(facts().defined(0.0, f64::INFINITY, Pole, LogDomain)), sample: Some((0.1, 4.0)),
        emit: { jax: "jnp.log({0})", torch: "torch.log({0})", keras: "ops.log({0})", tf: "tf.math.log({0})", numpy: "np.log({0})", guard: [(0, 1.0)] } },
    Log1p { name: "log1p", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "log(1 + x), accurate near 0",
        cost: 7.0, deriv: Each(&[Some(Call(Div, &[G, Call(Add, &[Lit(1.0), Arg(0)])]))]),
        values: Monotone(facts().defined(-1.0, f64::INFINITY, Pole, LogDomain)), sample: Some((-0.9, 3.0)),
        emit: { jax: "jnp.log1p({0})", torch: "torch.log1p({0})", keras: "ops.log1p({0})", tf: "tf.math.log1p({0})", numpy: "np.log1p({0})", guard: [(0, 0.0)] } },
    Log2 { name: "log2", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "base-2 logarithm",
        cost: 8.0, deriv: Each(&[Some(Call(Div, &[G, Call(Mul, &[Arg(0), Lit(std::f64::consts::LN_2)])]))]),
        values: Monotone(facts().defined(0.0, f64::INFINITY, Pole, LogDomain)), sample: Some((0.1, 4.0)),
        emit: { jax: "jnp.log2({0})", torch: "torch.log2({0})", keras: "ops.log2({0})", tf: "tf.experimental.numpy.log2({0})", numpy: "np.log2({0})", guard: [(0, 1.0)] } },
    Log10 { name: "log10", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "base-10 logarithm",
        cost: 8.0, deriv: Each(&[Some(Call(Div, &[G, Call(Mul, &[Arg(0), Lit(std::f64::consts::LN_10)])]))]),
        values: Monotone(facts().defined(0.0, f64::INFINITY, Pole, LogDomain)), sample: Some((0.1, 4.0)),
        emit: { jax: "jnp.log10({0})", torch: "torch.log10({0})", keras: "ops.log10({0})", tf: "tf.experimental.numpy.log10({0})", numpy: "np.log10({0})", guard: [(0, 1.0)] } },
    Sqrt { name: "sqrt", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "square root",
        cost: 4.0, deriv: Each(&[Some(Call(Div, &[Call(Mul, &[G, Lit(0.5)]), Y]))]),
        values: Monotone(exact().defined(0.0, f64::INFINITY, Finite, SqrtDomain)), sample: Some((0.05, 9.0)),
        emit: { jax: "jnp.sqrt({0})", torch: "torch.sqrt({0})", keras: "ops.sqrt({0})", tf: "tf.sqrt({0})", numpy: "np.sqrt({0})", guard: [(0, 1.0)] } },
    Square { name: "square", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["sqr"], summary: "x * x",
        cost: 2.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Mul, &[Lit(2.0), Arg(0)])]))]),
        values: Own(ValueRule::Square), sample: Some((-2.0, 1.5)),
        emit: { jax: "jnp.square({0})", torch: "torch.square({0})", keras: "ops.square({0})", tf: "tf.square({0})", numpy: "np.square({0})", guard: [] } },
    Sin { name: "sin", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "sine",
        cost: 3.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Cos, &[Arg(0)])]))]),
        values: Periodic(facts().image(-1.0, 1.0)), sample: Some((-3.0, 2.5)),
        emit: { jax: "jnp.sin({0})", torch: "torch.sin({0})", keras: "ops.sin({0})", tf: "tf.math.sin({0})", numpy: "np.sin({0})", guard: [] } },
    Cos { name: "cos", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "cosine",
        cost: 3.0, deriv: Each(&[Some(Call(Neg, &[Call(Mul, &[G, Call(Sin, &[Arg(0)])])]))]),
        values: Periodic(facts().image(-1.0, 1.0)), sample: Some((-3.0, 2.5)),
        emit: { jax: "jnp.cos({0})", torch: "torch.cos({0})", keras: "ops.cos({0})", tf: "tf.math.cos({0})", numpy: "np.cos({0})", guard: [] } },
    Tan { name: "tan", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "tangent",
        cost: 3.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Add, &[Lit(1.0), Call(Square, &[Y])])]))]),
        values: Own(ValueRule::Tan), sample: Some((-1.2, 1.0)),
        emit: { jax: "jnp.tan({0})", torch: "torch.tan({0})", keras: "ops.tan({0})", tf: "tf.math.tan({0})", numpy: "np.tan({0})", guard: [] } },
    Atan { name: "atan", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["arctan"], summary: "inverse tangent",
        cost: 8.0, deriv: Each(&[Some(Call(Div, &[G, Call(Add, &[Lit(1.0), Call(Square, &[Arg(0)])])]))]),
        values: Monotone(facts()), sample: Some((-3.0, 2.5)),
        emit: { jax: "jnp.arctan({0})", torch: "torch.atan({0})", keras: "ops.arctan({0})", tf: "tf.math.atan({0})", numpy: "np.arctan({0})", guard: [] } },
    Asin { name: "asin", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["arcsin"], summary: "inverse sine; NaN outside [-1, 1]",
        cost: 8.0, deriv: Each(&[Some(Call(Div, &[G, Call(Sqrt, &[Call(Sub, &[Lit(1.0), Call(Square, &[Arg(0)])])])]))]),
        values: Monotone(facts().defined(-1.0, 1.0, Finite, AsinDomain)), sample: Some((-0.8, 0.85)),
        emit: { jax: "jnp.arcsin({0})", torch: "torch.asin({0})", keras: "ops.arcsin({0})", tf: "tf.math.asin({0})", numpy: "np.arcsin({0})", guard: [(0, 0.0)] } },
    Acos { name: "acos", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["arccos"], summary: "inverse cosine; NaN outside [-1, 1]",
        cost: 8.0, deriv: Each(&[Some(Call(Neg, &[Call(Div, &[G, Call(Sqrt, &[Call(Sub, &[Lit(1.0), Call(Square, &[Arg(0)])])])])]))]),
        values: Monotone(facts().defined(-1.0, 1.0, Finite, AsinDomain)), sample: Some((-0.8, 0.85)),
        emit: { jax: "jnp.arccos({0})", torch: "torch.acos({0})", keras: "ops.arccos({0})", tf: "tf.math.acos({0})", numpy: "np.arccos({0})", guard: [(0, 0.0)] } },
    Tanh { name: "tanh", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "hyperbolic tangent",
        cost: 8.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Sub, &[Lit(1.0), Call(Square, &[Y])])]))]),
        values: Monotone(facts().image(-1.0, 1.0)), sample: Some((-3.0, 2.5)),
        emit: { jax: "jnp.tanh({0})", torch: "torch.tanh({0})", keras: "ops.tanh({0})", tf: "tf.math.tanh({0})", numpy: "np.tanh({0})", guard: [] } },
    Cosh { name: "cosh", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "hyperbolic cosine",
        cost: 8.0, deriv: Each(&[Some(Seq(&[Call(Neg, &[Arg(0)]), TWICE_SINH, Call(Mul, &[G, Call(Mul, &[Lit(0.5), TWICE_SINH])])]))]),
        values: Even(facts().image(1.0, f64::INFINITY)), sample: Some((-3.0, 2.5)),
        emit: { jax: "jnp.cosh({0})", torch: "torch.cosh({0})", keras: "ops.cosh({0})", tf: "tf.math.cosh({0})", numpy: "np.cosh({0})", guard: [(0, 0.0)] } },
    Erf { name: "erf", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "the error function, 2/sqrt(pi) times the integral of e^(-t^2) from 0 to x",
        cost: 8.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Mul, &[Lit(std::f64::consts::FRAC_2_SQRT_PI), Call(Exp, &[Call(Neg, &[Call(Square, &[Arg(0)])])])])]))]),
        values: Monotone(facts().image(-1.0, 1.0)), sample: Some((-2.0, 2.0)),
        emit: { jax: "jax.scipy.special.erf({0})", torch: "torch.erf({0})", keras: "ops.erf({0})", tf: "tf.math.erf({0})", numpy: "scipy.special.erf({0})", guard: [] } },
    Erfc { name: "erfc", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "1 - erf(x), accurate where it is small",
        cost: 8.0, deriv: Each(&[Some(Call(Neg, &[Call(Mul, &[G, Call(Mul, &[Lit(std::f64::consts::FRAC_2_SQRT_PI), Call(Exp, &[Call(Neg, &[Call(Square, &[Arg(0)])])])])])]))]),
        values: Monotone(facts().image(0.0, 2.0)), sample: Some((-2.0, 2.0)),
        emit: { jax: "jax.scipy.special.erfc({0})", torch: "torch.erfc({0})", keras: "ops.erfc({0})", tf: "tf.math.erfc({0})", numpy: "scipy.special.erfc({0})", guard: [] } },
    Sigmoid { name: "sigmoid", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["logistic", "expit"], summary: "1 / (1 + e^-x)",
        cost: 8.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Mul, &[Y, Call(Sub, &[Lit(1.0), Y])])]))]),
        values: Monotone(facts().image(0.0, 1.0)), sample: Some((-3.0, 2.5)),
        emit: { jax: "jax.nn.sigmoid({0})", torch: "torch.sigmoid({0})", keras: "ops.sigmoid({0})", tf: "tf.math.sigmoid({0})", numpy: "np.exp(-np.logaddexp(0.0, -{0}))", guard: [] } },
    LogSigmoid { name: "log_sigmoid", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["logsigmoid"], summary: "log(sigmoid(x)), computed stably",
        cost: 7.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Sigmoid, &[Call(Neg, &[Arg(0)])])]))]),
        values: Monotone(facts().image(-f64::INFINITY, 0.0)), sample: Some((-30.0, 25.0)),
        emit: { jax: "jax.nn.log_sigmoid({0})", torch: "F.logsigmoid({0})", keras: "ops.log_sigmoid({0})", tf: "tf.math.log_sigmoid({0})", numpy: "-np.logaddexp(0.0, -{0})", guard: [] } },
    Softplus { name: "softplus", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "log(1 + e^x), computed stably",
        cost: 7.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Sigmoid, &[Arg(0)])]))]),
        values: Monotone(facts().image(0.0, f64::INFINITY)), sample: Some((-30.0, 25.0)),
        emit: { jax: "jax.nn.softplus({0})", torch: "F.softplus({0})", keras: "ops.softplus({0})", tf: "tf.math.softplus({0})", numpy: "np.logaddexp(0.0, {0})", guard: [] } },
    Relu { name: "relu", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "max(x, 0); derivative 0 at 0",
        cost: 2.0, deriv: Selected { value: G, when: Call(Gt, &[Arg(0), Lit(0.0)]) },
        values: Monotone(exact().kink(0.0)), sample: Some((-1.5, 2.0)),
        emit: { jax: "jax.nn.relu({0})", torch: "torch.relu({0})", keras: "ops.relu({0})", tf: "tf.nn.relu({0})", numpy: "np.maximum({0}, 0.0)", guard: [] } },
    Floor { name: "floor", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "round down; derivative 0",
        cost: 3.0, deriv: Zero,
        values: Monotone(exact().steps(0.0)), sample: Some((-1.5, 2.0)),
        emit: { jax: "jnp.floor({0})", torch: "torch.floor({0})", keras: "ops.floor({0})", tf: "tf.math.floor({0})", numpy: "np.floor({0})", guard: [] } },
    Ceil { name: "ceil", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["ceiling"], summary: "round up; derivative 0",
        cost: 3.0, deriv: Zero,
        values: Monotone(exact().steps(0.0)), sample: Some((-1.5, 2.0)),
        emit: { jax: "jnp.ceil({0})", torch: "torch.ceil({0})", keras: "ops.ceil({0})", tf: "tf.math.ceil({0})", numpy: "np.ceil({0})", guard: [] } },
    Round { name: "round", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["rint"], summary: "round half to even; derivative 0",
        cost: 3.0, deriv: Zero,
        values: Monotone(exact().steps(0.5)), sample: Some((-1.5, 2.0)),
        emit: { jax: "jnp.round({0})", torch: "torch.round({0})", keras: "ops.round({0})", tf: "tf.math.round({0})", numpy: "np.round({0})", guard: [] } },
    StopGradient { name: "stop_gradient", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["detach", "no_grad", "lax_stop_gradient"], summary: "x itself, with derivative 0: a target the gradient does not flow into",
        cost: 1.0, deriv: Zero,
        values: Monotone(exact()), sample: Some((-1.5, 2.0)),
        emit: { jax: "jax.lax.stop_gradient({0})", torch: "({0}).detach()", keras: "ops.stop_gradient({0})", tf: "tf.stop_gradient({0})", numpy: "({0})", guard: [] } },
    Float { name: "float", symbol: None, callable: true, params: ["b"], keywords: [], signature: Float, aliases: ["cast", "to_float"], summary: "1 where the condition holds, else 0; derivative 0",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::Float), sample: None,
        emit: { jax: "{0}.astype({dtype})", torch: "{0}.to({dtype})", keras: "ops.cast({0}, {dtype})", tf: "tf.cast({0}, {dtype})", numpy: "{0}.astype({dtype})", guard: [] } },
    // ---------------------------------------------- elementwise, more arguments
    Maximum { name: "maximum", symbol: None, callable: true, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: ["fmax"], summary: "elementwise larger of a and b; each gets half the gradient at a tie",
        cost: 3.0, deriv: Own(OwnRule::Extremum),
        values: Own(ValueRule::Maximum), sample: None,
        emit: { jax: "jnp.maximum({0}, {1})", torch: "torch.maximum({0:T}, {1:T})", keras: "ops.maximum({0}, {1})", tf: "tf.maximum({0}, {1})", numpy: "np.maximum({0}, {1})", guard: [] } },
    Minimum { name: "minimum", symbol: None, callable: true, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: ["fmin"], summary: "elementwise smaller of a and b; each gets half the gradient at a tie",
        cost: 3.0, deriv: Own(OwnRule::Extremum),
        values: Own(ValueRule::Minimum), sample: None,
        emit: { jax: "jnp.minimum({0}, {1})", torch: "torch.minimum({0:T}, {1:T})", keras: "ops.minimum({0}, {1})", tf: "tf.minimum({0}, {1})", numpy: "np.minimum({0}, {1})", guard: [] } },
    Xlogy { name: "xlogy", symbol: None, callable: true, params: ["x", "y"], keywords: [], signature: Elementwise, aliases: [], summary: "x * log(y), and 0 where x = 0",
        cost: 7.0, deriv: Each(&[Some(Call(Mul, &[G, Call(Log, &[Arg(1)])])), Some(Call(Mul, &[G, Call(Div, &[Arg(0), Arg(1)])]))]),
        values: Own(ValueRule::Xlogy), sample: None,
        emit: { jax: "jax.scipy.special.xlogy({0}, {1})", torch: "torch.xlogy({0}, {1})", keras: "ops.where({0} == 0, 0.0, {0} * ops.log(ops.where({0} == 0, 1.0, {1})))", tf: "tf.math.xlogy({0}, {1})", numpy: "np.where({0} == 0, 0.0, {0} * np.log({1}))", guard: [(1, 1.0)] } },
    Clip { name: "clip", symbol: None, callable: true, params: ["x", "lo", "hi"], keywords: [], signature: Elementwise, aliases: ["clamp", "clip_by_value"], summary: "minimum(maximum(x, lo), hi)",
        cost: 3.0, deriv: Own(OwnRule::Clip),
        values: Own(ValueRule::Clip), sample: None,
        emit: { jax: "jnp.clip({0}, {1}, {2})", torch: "torch.minimum(torch.maximum({0:T}, {1:T}), {2:T})", keras: "ops.clip({0}, {1}, {2})", tf: "tf.clip_by_value({0}, {1}, {2})", numpy: "np.clip({0}, {1}, {2})", guard: [] } },
    Where { name: "where", symbol: None, callable: true, params: ["cond", "a", "b"], keywords: [], signature: Where, aliases: ["select", "if_else"], summary: "a where cond holds, else b",
        cost: 3.0, deriv: Own(OwnRule::Where),
        values: Own(ValueRule::Where), sample: None,
        emit: { jax: "jnp.where({0}, {1}, {2})", torch: "torch.where({0}, {1}, {2})", keras: "ops.where({0}, {1}, {2})", tf: "tf.where({0}, {1}, {2})", numpy: "np.where({0}, {1}, {2})", guard: [] } },
    // ----------------------------------------------------------- reductions
    Sum { name: "sum", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce(Sum), aliases: ["reduce_sum"], summary: "sum over axes (default all)",
        cost: 3.0, deriv: Own(OwnRule::Sum),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jnp.sum({0}{kw_axes}{kw_keepdims})", torch: "torch.sum({0}{kw_axes}{kw_keepdims})", keras: "ops.sum({0}{kw_axes}{kw_keepdims})", tf: "tf.reduce_sum({0}{kw_axes}{kw_keepdims})", numpy: "np.sum({0}{kw_axes}{kw_keepdims})", guard: [] } },
    Mean { name: "mean", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce(Mean), aliases: ["reduce_mean", "average", "avg"], summary: "mean over axes (default all)",
        cost: 3.0, deriv: Own(OwnRule::Sum),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jnp.mean({0}{kw_axes}{kw_keepdims})", torch: "torch.mean({0}{kw_axes}{kw_keepdims})", keras: "ops.mean({0}{kw_axes}{kw_keepdims})", tf: "tf.reduce_mean({0}{kw_axes}{kw_keepdims})", numpy: "np.mean({0}{kw_axes}{kw_keepdims})", guard: [] } },
    Max { name: "max", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce(Max), aliases: ["reduce_max", "amax"], summary: "largest value over axes (default all)",
        cost: 3.0, deriv: Own(OwnRule::Extreme),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jnp.max({0}{kw_axes}{kw_keepdims})", torch: "torch.amax({0}{kw_axes}{kw_keepdims})", keras: "ops.max({0}{kw_axes}{kw_keepdims})", tf: "tf.reduce_max({0}{kw_axes}{kw_keepdims})", numpy: "np.max({0}{kw_axes}{kw_keepdims})", guard: [] } },
    Min { name: "min", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce(Min), aliases: ["reduce_min", "amin"], summary: "smallest value over axes (default all)",
        cost: 3.0, deriv: Own(OwnRule::Extreme),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jnp.min({0}{kw_axes}{kw_keepdims})", torch: "torch.amin({0}{kw_axes}{kw_keepdims})", keras: "ops.min({0}{kw_axes}{kw_keepdims})", tf: "tf.reduce_min({0}{kw_axes}{kw_keepdims})", numpy: "np.min({0}{kw_axes}{kw_keepdims})", guard: [] } },
    Logsumexp { name: "logsumexp", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce(Logsumexp), aliases: ["reduce_logsumexp", "log_sum_exp"], summary: "log(sum(exp(x))) over axes, computed stably",
        cost: 7.0, deriv: Own(OwnRule::Logsumexp),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jax.nn.logsumexp({0}{kw_axes}{kw_keepdims})", torch: "torch.logsumexp({0}, {axes}{kw_keepdims})", keras: "ops.logsumexp({0}{kw_axes}{kw_keepdims})", tf: "tf.reduce_logsumexp({0}{kw_axes}{kw_keepdims})", numpy: "np.logaddexp.reduce({0}, axis={axes}{kw_keepdims})", guard: [] } },
    Norm { name: "norm", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce(Norm), aliases: ["l2_norm", "euclidean_norm"], summary: "L2 norm over axes (default all)",
        cost: 3.0, deriv: Own(OwnRule::Norm),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jnp.linalg.vector_norm({0}{kw_axes}{kw_keepdims})", torch: "torch.linalg.vector_norm({0}{kw_axes}{kw_keepdims})", keras: "ops.sqrt(ops.sum(ops.square({0}){kw_axes}{kw_keepdims}))", tf: "tf.sqrt(tf.reduce_sum(tf.square({0}){kw_axes}{kw_keepdims}))", numpy: "np.sqrt(np.sum(np.square({0}){kw_axes}{kw_keepdims}))", guard: [(0, 1.0)] } },
    // ------------------------------------------------------------ along an axis
    Softmax { name: "softmax", symbol: None, callable: true, params: ["x"], keywords: ["axis"], signature: AlongAxis(Softmax), aliases: [], summary: "exp(x) / sum(exp(x)) along axis (default -1)",
        cost: 3.0, deriv: Own(OwnRule::Softmax),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jax.nn.softmax({0}, axis={axis})", torch: "torch.softmax({0}, dim={axis})", keras: "ops.softmax({0}, axis={axis})", tf: "tf.nn.softmax({0}, axis={axis})", numpy: "np.exp({0} - np.logaddexp.reduce({0}, axis={axis}, keepdims=True))", guard: [] } },
    LogSoftmax { name: "log_softmax", symbol: None, callable: true, params: ["x"], keywords: ["axis"], signature: AlongAxis(LogSoftmax), aliases: ["logsoftmax"], summary: "x - logsumexp(x) along axis (default -1)",
        cost: 7.0, deriv: Own(OwnRule::LogSoftmax),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jax.nn.log_softmax({0}, axis={axis})", torch: "torch.log_softmax({0}, dim={axis})", keras: "ops.log_softmax({0}, axis={axis})", tf: "tf.nn.log_softmax({0}, axis={axis})", numpy: "{0} - np.logaddexp.reduce({0}, axis={axis}, keepdims=True)", guard: [] } },
    // ------------------------------------------------------------------ indexing
    Take { name: "take", symbol: None, callable: true, params: ["x", "i"], keywords: ["axis"], signature: Take, aliases: ["gather", "index_select"], summary: "the slice at integer index i along axis (default -1), which is removed",
        cost: 3.0, deriv: Own(OwnRule::Take),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "{0}[{take}]", torch: "{0}[{take}]", keras: "{0}[{take}]", tf: "{0}[{take}]", numpy: "{0}[{take}]", guard: [] } },
    OneHot { name: "one_hot", symbol: None, callable: true, params: ["labels", "C"], keywords: [], signature: OneHot, aliases: ["onehot", "to_categorical"], summary: "integer labels [N] to a [N, C] tensor of 0/1 (a scalar label gives [C])",
        cost: 3.0, deriv: Zero,
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "jax.nn.one_hot({0}, {classes}, dtype={dtype})", torch: "F.one_hot({0}.long(), {classes}).to({dtype})", keras: "ops.one_hot(ops.cast({0}, \"int32\"), {classes}, dtype={dtype})", tf: "tf.one_hot(tf.cast({0}, tf.int32), {classes}, dtype={dtype})", numpy: "({0}[..., None] == np.arange({classes})).astype({dtype})", guard: [] } },
    // ------------------------------------------------------------------ shape
    BroadcastLike { name: "broadcast_like", symbol: None, callable: true, params: ["x", "like"], keywords: [], signature: Elementwise, aliases: ["broadcast_to", "expand_as"], summary: "x broadcast to the shape of `like`, whose values are not used",
        cost: 3.0, deriv: Each(&[Some(G), None]),
        values: Own(ValueRule::BroadcastLike), sample: None,
        emit: { jax: "jnp.broadcast_to({0}, jnp.shape({1}))", torch: "torch.broadcast_to({0:T}, {1}.shape)", keras: "ops.broadcast_to({0}, ops.shape({1}))", tf: "tf.broadcast_to({0:T}, tf.shape({1}))", numpy: "np.broadcast_to({0}, np.shape({1}))", guard: [] } },
    ExpandDims { name: "expand_dims", symbol: None, callable: true, params: ["x"], keywords: ["axis"], signature: ExpandDims, aliases: ["unsqueeze", "reshape"], summary: "inserts axes of size 1 at the positions axis= names in the result",
        cost: 3.0, deriv: Own(OwnRule::ExpandDims),
        values: Own(ValueRule::NotElementwise), sample: None,
        emit: { jax: "{0}[{expand}]", torch: "{0}[{expand}]", keras: "{0}[{expand}]", tf: "{0}[{expand}]", numpy: "{0}[{expand}]", guard: [] } },
}

impl Builtin {
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The built-in callable as `name(...)`, if there is one.
    pub fn by_name(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .iter()
            .copied()
            .find(|b| b.spec().callable && b.spec().name == name)
    }

    /// The built-in a user may have meant by an alias such as `ln` or `clamp`.
    pub fn by_alias(name: &str) -> Option<Builtin> {
        Builtin::ALL
            .iter()
            .copied()
            .find(|b| b.spec().callable && b.spec().aliases.contains(&name))
    }

    /// Every name callable as a function.
    pub fn callable_names() -> impl Iterator<Item = &'static str> {
        Builtin::ALL.iter().filter(|b| b.spec().callable).map(|b| b.spec().name)
    }

    /// Whether any argument can receive a non-zero derivative: not so for
    /// comparisons, logic, the steps (`sign`, `floor`, `ceil`, `round`,
    /// `float`) and `one_hot` (docs/language.md: their derivative is 0).
    pub fn has_derivative(self) -> bool {
        self.spec().derivative != Derivative::Zero
    }

    /// Whether an element of the result depends on several elements of the
    /// operand (reductions, softmax, indexing), rather than on one.
    pub fn mixes_elements(self) -> bool {
        matches!(
            self.spec().signature,
            Signature::Reduce(_) | Signature::AlongAxis(_) | Signature::Take | Signature::ExpandDims
        )
    }
}

/// The type of `builtin` applied to arguments of types `args` with `attrs`,
/// for arguments already known to be valid (the front end reports invalid
/// ones with spans; later stages build nodes with this).
pub fn result_type(builtin: Builtin, attrs: &Attrs, args: &[&Type]) -> Type {
    let broadcast_all = || {
        args.iter()
            .try_fold(Vec::new(), |shape: Shape, t| broadcast(&shape, &t.shape))
            .expect("arguments of a valid node broadcast")
    };
    let first = || args[0].shape.clone();
    match builtin.spec().signature {
        Signature::Elementwise | Signature::Where | Signature::Float => Type::num(broadcast_all()),
        Signature::Compare | Signature::Logic => Type::boolean(broadcast_all()),
        Signature::Reduce(_) => {
            let shape = first();
            let all: Vec<usize> = (0..shape.len()).collect();
            let axes = attrs.axes.as_ref().unwrap_or(&all);
            Type::num(
                shape
                    .iter()
                    .enumerate()
                    .filter_map(|(k, d)| match (axes.contains(&k), attrs.keepdims) {
                        (false, _) => Some(*d),
                        (true, true) => Some(Dim::Fixed(1)),
                        (true, false) => None,
                    })
                    .collect(),
            )
        }
        Signature::AlongAxis(_) => Type::num(first()),
        Signature::Take => {
            let mut shape = first();
            if let Some(&axis) = attrs.axes.as_ref().and_then(|a| a.first()) {
                shape.remove(axis);
            }
            Type::num(shape)
        }
        Signature::OneHot => {
            let mut shape = first();
            shape.push(attrs.classes.expect("one_hot has a class count"));
            Type::num(shape)
        }
        Signature::ExpandDims => {
            let axes = attrs.axes.clone().unwrap_or_default();
            let mut inner = first().into_iter();
            let rank = args[0].shape.len() + axes.len();
            Type {
                kind: args[0].kind,
                shape: (0..rank)
                    .map(|k| {
                        if axes.contains(&k) {
                            Dim::Fixed(1)
                        } else {
                            inner.next().expect("rank adds up")
                        }
                    })
                    .collect(),
            }
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec().name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_variant() {
        for &b in Builtin::ALL {
            assert_eq!(Builtin::ALL[b as usize], b);
        }
        assert_eq!(Builtin::Log.name(), "log");
        assert_eq!(Builtin::by_name("pow"), Some(Builtin::Pow));
        assert_eq!(Builtin::by_name("add"), None, "operators are not callable by name");
        assert_eq!(Builtin::by_alias("ln"), Some(Builtin::Log));
    }

    #[test]
    fn scalar_semantics_follow_ieee_and_the_spec() {
        let f = |b: Builtin, args: &[f64]| eval_scalar(b, args).unwrap();
        assert_eq!(f(Builtin::Log, &[0.0]), f64::NEG_INFINITY);
        assert!(f(Builtin::Log, &[-1.0]).is_nan());
        assert_eq!(f(Builtin::Log2, &[8.0]), 3.0);
        assert_eq!(f(Builtin::Log2, &[0.0]), f64::NEG_INFINITY);
        assert!(f(Builtin::Log2, &[-1.0]).is_nan());
        assert_eq!(f(Builtin::Log10, &[1000.0]), 3.0);
        assert_eq!(f(Builtin::Log10, &[0.0]), f64::NEG_INFINITY);
        assert!(f(Builtin::Log10, &[-1.0]).is_nan());
        assert_eq!(f(Builtin::Tan, &[0.0]), 0.0);
        assert!((f(Builtin::Tan, &[std::f64::consts::FRAC_PI_4]) - 1.0).abs() < 1e-15);
        assert!(f(Builtin::Tan, &[f64::INFINITY]).is_nan());
        assert_eq!(f(Builtin::Atan, &[1.0]), std::f64::consts::FRAC_PI_4);
        assert_eq!(f(Builtin::Atan, &[f64::INFINITY]), std::f64::consts::FRAC_PI_2);
        assert_eq!(f(Builtin::Asin, &[1.0]), std::f64::consts::FRAC_PI_2);
        assert!(f(Builtin::Asin, &[1.0 + 1e-15]).is_nan());
        assert_eq!(f(Builtin::Acos, &[-1.0]), std::f64::consts::PI);
        assert_eq!(f(Builtin::Acos, &[1.0]), 0.0);
        assert!(f(Builtin::Acos, &[-2.0]).is_nan());
        // erf and erfc against correctly rounded values (Python's math.erf
        // and math.erfc), on both sides of the switch at 1.5 and far out.
        let close = |a: f64, b: f64, tolerance: f64| (a - b).abs() <= tolerance * b.abs();
        for (x, erf) in [
            (0.1, 0.1124629160182849),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (1.4999, 0.9660932516622953),
            (1.5, 0.9661051464753108),
            (2.0, 0.9953222650189527),
            (3.0, 0.9999779095030014),
            (-0.7, -0.6778011938374184),
        ] {
            assert!(
                close(f(Builtin::Erf, &[x]), erf, 4e-15),
                "erf({x}) = {}",
                f(Builtin::Erf, &[x])
            );
        }
        for (x, erfc) in [
            (0.5, 0.4795001221869535),
            (1.4999, 0.03390674833770473),
            (1.5, 0.033894853524689274),
            (3.0, 2.2090496998585438e-05),
            (5.0, 1.5374597944280351e-12),
            (10.0, 2.088487583762545e-45),
            (26.0, 5.663192408856143e-296),
            (-1.0, 1.842700792949715),
        ] {
            assert!(
                close(f(Builtin::Erfc, &[x]), erfc, 3e-14),
                "erfc({x}) = {}",
                f(Builtin::Erfc, &[x])
            );
        }
        assert_eq!(f(Builtin::Erf, &[f64::INFINITY]), 1.0);
        assert_eq!(f(Builtin::Erf, &[f64::NEG_INFINITY]), -1.0);
        assert_eq!(f(Builtin::Erfc, &[f64::INFINITY]), 0.0);
        assert_eq!(f(Builtin::Erfc, &[f64::NEG_INFINITY]), 2.0);
        assert!(f(Builtin::Erf, &[f64::NAN]).is_nan() && f(Builtin::Erfc, &[f64::NAN]).is_nan());
        assert_eq!(f(Builtin::Erf, &[0.0]), 0.0);
        // float32: within a few units in the last place.
        let erf32 = |x: f32| eval_scalar(Builtin::Erf, &[x]).unwrap();
        assert!((erf32(0.5) - 0.520_499_9).abs() < 3e-7 && (erf32(2.0) - 0.995_322_3).abs() < 3e-7);
        assert_eq!(f(Builtin::Div, &[1.0, 0.0]), f64::INFINITY);
        assert!(f(Builtin::Div, &[0.0, 0.0]).is_nan());
        assert_eq!(f(Builtin::Sign, &[0.0]), 0.0);
        assert_eq!(f(Builtin::Sign, &[-3.0]), -1.0);
        assert_eq!(f(Builtin::Round, &[2.5]), 2.0);
        assert_eq!(f(Builtin::Round, &[-0.5]), -0.0);
        assert_eq!(f(Builtin::Round, &[3.5]), 4.0);
        assert_eq!(f(Builtin::Round, &[2.4]), 2.0);
        assert_eq!(f(Builtin::Xlogy, &[0.0, 0.0]), 0.0);
        assert_eq!(f(Builtin::Clip, &[5.0, 0.0, 1.0]), 1.0);
        assert!(f(Builtin::Maximum, &[f64::NAN, 1.0]).is_nan());
        assert_eq!(f(Builtin::Where, &[1.0, 2.0, 3.0]), 2.0);
        // Stable forms: no overflow far out, and the textbook value near 0.
        assert_eq!(f(Builtin::Softplus, &[1000.0]), 1000.0);
        assert_eq!(f(Builtin::Sigmoid, &[-1000.0]), 0.0);
        assert!((f(Builtin::Softplus, &[0.0]) - 2f64.ln()).abs() < 1e-15);
        assert!((f(Builtin::LogSigmoid, &[-1000.0]) + 1000.0).abs() < 1e-12);
        assert!(eval_scalar::<f64>(Builtin::Sum, &[1.0]).is_none());
        // f32 sigmoid reaches exactly 1 (its honest domain is [0, 1]).
        assert_eq!(eval_scalar(Builtin::Sigmoid, &[17.0f32]), Some(1.0f32));
    }

    #[test]
    fn every_function_of_the_spec_is_callable() {
        // docs/language.md, the built-in table, in its order.
        let spec = "abs sign exp expm1 log log1p log2 log10 sqrt square sin cos tan atan asin acos tanh cosh erf erfc sigmoid log_sigmoid softplus relu floor \
                    ceil round stop_gradient float pow maximum minimum xlogy clip where sum mean max min logsumexp norm softmax \
                    log_softmax take one_hot";
        // Beyond the spec's table: expand_dims and broadcast_like, which gradients need.
        for name in spec.split_whitespace() {
            assert!(Builtin::by_name(name).is_some(), "{name} is missing");
        }
        assert_eq!(Builtin::callable_names().count(), spec.split_whitespace().count() + 2);
    }
}
