//! The built-in table: every operator and function of the language, defined
//! once. Each stage reads what it needs from here: the front end its name,
//! arity and typing rule; later stages their own columns of the same entry.
//!
//! To add a built-in: add one line to the `builtins!` table below, then the
//! per-stage behaviour the compiler asks for (every `match` on [`Builtin`] is
//! exhaustive, so the compiler lists the places), and one test row.

use std::fmt;

use num_traits::Float;

use crate::program::Attrs;
use crate::types::{Dim, Shape, Type, broadcast};

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
    Reduce,
    /// Along one `axis=` (default -1), shape kept.
    AlongAxis,
    /// `take(x, i, axis=-1)`: the slice at integer index `i`; the axis is removed.
    Take,
    /// `one_hot(labels, C)`: `[N]` integer labels to a `[N, C]` tensor of 0/1.
    OneHot,
    /// `expand_dims(x, axis=...)`: inserts axes of size 1 at the given output positions.
    ExpandDims,
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
}

macro_rules! builtins {
    ($(
        $variant:ident {
            name: $name:literal,
            symbol: $symbol:expr,
            callable: $callable:literal,
            params: [$($param:literal),*],
            keywords: [$($keyword:literal),*],
            signature: $signature:ident,
            aliases: [$($alias:literal),*],
            summary: $summary:literal $(,)?
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

        static TABLE: &[BuiltinSpec] = &[$(
            BuiltinSpec {
                name: $name,
                symbol: $symbol,
                callable: $callable,
                params: &[$($param),*],
                keywords: &[$($keyword),*],
                signature: Signature::$signature,
                aliases: &[$($alias),*],
                summary: $summary,
            },
        )*];
    };
}

builtins! {
    // ----------------------------------------------------------- operators
    Neg { name: "neg", symbol: Some("-"), callable: false, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "negation, -x" },
    Add { name: "add", symbol: Some("+"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a + b" },
    Sub { name: "sub", symbol: Some("-"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a - b" },
    Mul { name: "mul", symbol: Some("*"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a * b" },
    Div { name: "div", symbol: Some("/"), callable: false, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: [], summary: "a / b" },
    Pow { name: "pow", symbol: Some("^"), callable: true, params: ["x", "y"], keywords: [], signature: Elementwise, aliases: ["power"], summary: "x to the power y, also written x ^ y or x ** y" },
    Eq { name: "eq", symbol: Some("=="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a == b" },
    Ne { name: "ne", symbol: Some("!="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a != b" },
    Lt { name: "lt", symbol: Some("<"), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a < b" },
    Le { name: "le", symbol: Some("<="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a <= b" },
    Gt { name: "gt", symbol: Some(">"), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a > b" },
    Ge { name: "ge", symbol: Some(">="), callable: false, params: ["a", "b"], keywords: [], signature: Compare, aliases: [], summary: "a >= b" },
    And { name: "and", symbol: Some("and"), callable: false, params: ["a", "b"], keywords: [], signature: Logic, aliases: [], summary: "both conditions hold" },
    Or { name: "or", symbol: Some("or"), callable: false, params: ["a", "b"], keywords: [], signature: Logic, aliases: [], summary: "either condition holds" },
    Not { name: "not", symbol: Some("not"), callable: false, params: ["a"], keywords: [], signature: Logic, aliases: [], summary: "the condition does not hold" },
    // ---------------------------------------------- elementwise, one argument
    Abs { name: "abs", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["fabs", "absolute"], summary: "|x|; derivative 0 at 0" },
    Sign { name: "sign", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["sgn"], summary: "-1, 0 or 1; derivative 0" },
    Exp { name: "exp", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "e^x" },
    Expm1 { name: "expm1", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "e^x - 1, accurate near 0" },
    Log { name: "log", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["ln"], summary: "natural logarithm" },
    Log1p { name: "log1p", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "log(1 + x), accurate near 0" },
    Sqrt { name: "sqrt", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "square root" },
    Square { name: "square", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["sqr"], summary: "x * x" },
    Sin { name: "sin", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "sine" },
    Cos { name: "cos", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "cosine" },
    Tanh { name: "tanh", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "hyperbolic tangent" },
    Cosh { name: "cosh", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "hyperbolic cosine" },
    Sigmoid { name: "sigmoid", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["logistic", "expit"], summary: "1 / (1 + e^-x)" },
    LogSigmoid { name: "log_sigmoid", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["logsigmoid"], summary: "log(sigmoid(x)), computed stably" },
    Softplus { name: "softplus", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "log(1 + e^x), computed stably" },
    Relu { name: "relu", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "max(x, 0); derivative 0 at 0" },
    Floor { name: "floor", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: [], summary: "round down; derivative 0" },
    Ceil { name: "ceil", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["ceiling"], summary: "round up; derivative 0" },
    Round { name: "round", symbol: None, callable: true, params: ["x"], keywords: [], signature: Elementwise, aliases: ["rint"], summary: "round half to even; derivative 0" },
    Float { name: "float", symbol: None, callable: true, params: ["b"], keywords: [], signature: Float, aliases: ["cast", "to_float"], summary: "1 where the condition holds, else 0; derivative 0" },
    // ---------------------------------------------- elementwise, more arguments
    Maximum { name: "maximum", symbol: None, callable: true, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: ["fmax"], summary: "elementwise larger of a and b; each gets half the gradient at a tie" },
    Minimum { name: "minimum", symbol: None, callable: true, params: ["a", "b"], keywords: [], signature: Elementwise, aliases: ["fmin"], summary: "elementwise smaller of a and b; each gets half the gradient at a tie" },
    Xlogy { name: "xlogy", symbol: None, callable: true, params: ["x", "y"], keywords: [], signature: Elementwise, aliases: [], summary: "x * log(y), and 0 where x = 0" },
    Clip { name: "clip", symbol: None, callable: true, params: ["x", "lo", "hi"], keywords: [], signature: Elementwise, aliases: ["clamp", "clip_by_value"], summary: "minimum(maximum(x, lo), hi)" },
    Where { name: "where", symbol: None, callable: true, params: ["cond", "a", "b"], keywords: [], signature: Where, aliases: ["select", "if_else"], summary: "a where cond holds, else b" },
    // ----------------------------------------------------------- reductions
    Sum { name: "sum", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce, aliases: ["reduce_sum"], summary: "sum over axes (default all)" },
    Mean { name: "mean", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce, aliases: ["reduce_mean", "average", "avg"], summary: "mean over axes (default all)" },
    Max { name: "max", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce, aliases: ["reduce_max", "amax"], summary: "largest value over axes (default all)" },
    Min { name: "min", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce, aliases: ["reduce_min", "amin"], summary: "smallest value over axes (default all)" },
    Logsumexp { name: "logsumexp", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce, aliases: ["reduce_logsumexp", "log_sum_exp"], summary: "log(sum(exp(x))) over axes, computed stably" },
    Norm { name: "norm", symbol: None, callable: true, params: ["x"], keywords: ["axis", "keepdims"], signature: Reduce, aliases: ["l2_norm", "euclidean_norm"], summary: "L2 norm over axes (default all)" },
    // ------------------------------------------------------------ along an axis
    Softmax { name: "softmax", symbol: None, callable: true, params: ["x"], keywords: ["axis"], signature: AlongAxis, aliases: [], summary: "exp(x) / sum(exp(x)) along axis (default -1)" },
    LogSoftmax { name: "log_softmax", symbol: None, callable: true, params: ["x"], keywords: ["axis"], signature: AlongAxis, aliases: ["logsoftmax"], summary: "x - logsumexp(x) along axis (default -1)" },
    // ------------------------------------------------------------------ indexing
    Take { name: "take", symbol: None, callable: true, params: ["x", "i"], keywords: ["axis"], signature: Take, aliases: ["gather", "index_select"], summary: "the slice at integer index i along axis (default -1), which is removed" },
    OneHot { name: "one_hot", symbol: None, callable: true, params: ["labels", "C"], keywords: [], signature: OneHot, aliases: ["onehot", "to_categorical"], summary: "integer labels [N] to a [N, C] tensor of 0/1 (a scalar label gives [C])" },
    // ------------------------------------------------------------------ shape
    BroadcastLike { name: "broadcast_like", symbol: None, callable: true, params: ["x", "like"], keywords: [], signature: Elementwise, aliases: ["broadcast_to", "expand_as"], summary: "x broadcast to the shape of `like`, whose values are not used" },
    ExpandDims { name: "expand_dims", symbol: None, callable: true, params: ["x"], keywords: ["axis"], signature: ExpandDims, aliases: ["unsqueeze", "reshape"], summary: "inserts axes of size 1 at the positions axis= names in the result" },
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
    /// `float`) and `one_hot` (SPEC.md §2: their derivative is 0).
    pub fn has_derivative(self) -> bool {
        !matches!(
            self,
            Builtin::Eq
                | Builtin::Ne
                | Builtin::Lt
                | Builtin::Le
                | Builtin::Gt
                | Builtin::Ge
                | Builtin::And
                | Builtin::Or
                | Builtin::Not
                | Builtin::Sign
                | Builtin::Floor
                | Builtin::Ceil
                | Builtin::Round
                | Builtin::Float
                | Builtin::OneHot
        )
    }

    /// Whether an element of the result depends on several elements of the
    /// operand (reductions, softmax, indexing), rather than on one.
    pub fn mixes_elements(self) -> bool {
        matches!(
            self.spec().signature,
            Signature::Reduce | Signature::AlongAxis | Signature::Take | Signature::ExpandDims
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
        Signature::Reduce => {
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
        Signature::AlongAxis => Type::num(first()),
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

/// The arithmetic of an elementwise built-in on one element, the same code for
/// f32 and f64 (IEEE semantics: `log(0) = -inf`, `0/0 = NaN`, never a panic).
/// Booleans are `0` and `1`. Returns `None` for the built-ins that are not
/// elementwise (reductions, softmax, `take`, `one_hot`).
pub fn eval_scalar<T: Float>(builtin: Builtin, args: &[T]) -> Option<T> {
    let zero = T::zero();
    let one = T::one();
    let truth = |b: bool| if b { one } else { zero };
    let x = args.first().copied().unwrap_or(zero);
    let y = args.get(1).copied().unwrap_or(zero);
    Some(match builtin {
        Builtin::Neg => -x,
        Builtin::Add => x + y,
        Builtin::Sub => x - y,
        Builtin::Mul => x * y,
        Builtin::Div => x / y,
        Builtin::Pow => x.powf(y),
        Builtin::Eq => truth(x == y),
        Builtin::Ne => truth(x != y),
        Builtin::Lt => truth(x < y),
        Builtin::Le => truth(x <= y),
        Builtin::Gt => truth(x > y),
        Builtin::Ge => truth(x >= y),
        Builtin::And => truth(x != zero && y != zero),
        Builtin::Or => truth(x != zero || y != zero),
        Builtin::Not => truth(x == zero),
        Builtin::Abs => x.abs(),
        Builtin::Sign => {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                x // 0, -0 or NaN
            }
        }
        Builtin::Exp => x.exp(),
        Builtin::Expm1 => x.exp_m1(),
        Builtin::Log => x.ln(),
        Builtin::Log1p => x.ln_1p(),
        Builtin::Sqrt => x.sqrt(),
        Builtin::Square => x * x,
        Builtin::Sin => x.sin(),
        Builtin::Cos => x.cos(),
        Builtin::Tanh => x.tanh(),
        Builtin::Cosh => x.cosh(),
        Builtin::Sigmoid => sigmoid(x),
        Builtin::LogSigmoid => -softplus(-x),
        Builtin::Softplus => softplus(x),
        Builtin::Relu => {
            if x > zero || x.is_nan() {
                x
            } else {
                zero
            }
        }
        Builtin::Floor => x.floor(),
        Builtin::Ceil => x.ceil(),
        Builtin::Round => round_half_even(x),
        Builtin::Float => truth(x != zero),
        Builtin::Maximum => nan_or(x, y, x.max(y)),
        Builtin::Minimum => nan_or(x, y, x.min(y)),
        Builtin::Xlogy => {
            if x == zero {
                zero
            } else {
                x * y.ln()
            }
        }
        Builtin::BroadcastLike => x,
        Builtin::Clip => {
            let (lo, hi) = (y, args.get(2).copied().unwrap_or(zero));
            let low = nan_or(x, lo, x.max(lo));
            nan_or(low, hi, low.min(hi))
        }
        Builtin::Where => {
            if x != zero {
                y
            } else {
                args.get(2).copied().unwrap_or(zero)
            }
        }
        Builtin::Sum
        | Builtin::Mean
        | Builtin::Max
        | Builtin::Min
        | Builtin::Logsumexp
        | Builtin::Norm
        | Builtin::Softmax
        | Builtin::LogSoftmax
        | Builtin::Take
        | Builtin::OneHot
        | Builtin::ExpandDims => return None,
    })
}

/// NaN if either operand is NaN (as NumPy's `maximum`), else `value`.
fn nan_or<T: Float>(a: T, b: T, value: T) -> T {
    if a.is_nan() {
        a
    } else if b.is_nan() {
        b
    } else {
        value
    }
}

/// `1 / (1 + e^-x)` without overflow for either sign.
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `log(1 + e^x)` as `max(x, 0) + log1p(e^-|x|)`: never overflows.
pub fn softplus<T: Float>(x: T) -> T {
    if x.is_nan() {
        return x;
    }
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

/// IEEE round-half-to-even, as NumPy and JAX round.
pub fn round_half_even<T: Float>(x: T) -> T {
    let rounded = x.round(); // half away from zero
    let two = T::one() + T::one();
    if (x - x.trunc()).abs() == T::one() / two {
        two * (x / two).round()
    } else {
        rounded
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
        // f32 sigmoid reaches exactly 1 (FIELD-NOTES: honest domain [0, 1]).
        assert_eq!(eval_scalar(Builtin::Sigmoid, &[17.0f32]), Some(1.0f32));
    }

    #[test]
    fn every_function_of_the_spec_is_callable() {
        // SPEC.md §2, the built-in table, in its order.
        let spec = "abs sign exp expm1 log log1p sqrt square sin cos tanh cosh sigmoid log_sigmoid softplus relu floor \
                    ceil round float pow maximum minimum xlogy clip where sum mean max min logsumexp norm softmax \
                    log_softmax take one_hot";
        // Beyond the spec's table: expand_dims and broadcast_like, which gradients need.
        for name in spec.split_whitespace() {
            assert!(Builtin::by_name(name).is_some(), "{name} is missing");
        }
        assert_eq!(Builtin::callable_names().count(), spec.split_whitespace().count() + 2);
    }
}
