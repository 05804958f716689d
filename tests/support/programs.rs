//! A generator of random well-typed `.loss` programs, shared by the test
//! binaries that need one (the workspace-level tests' `tests/properties.rs`,
//! `tests/fuzz/`): each declares it once, as a module of its crate root.
//!
//! The generator builds `.loss` programs over every built-in (operators,
//! comparisons, `and`/`or`/`not`, all elementwise functions, `clip`, `where`,
//! `float`, the six reductions, `softmax`/`log_softmax`, `take`, `one_hot`,
//! `expand_dims`, `broadcast_like`), plus `let` bindings used any number of
//! times (a DAG) and `def`s. Shapes go up to rank 2 (`[]`, `[1]`, `[N]`,
//! `[C]`, `[N, C]`, `[N, 1]`, `[1, C]`, `[1, 1]`; N = 3 and C = 2 at
//! evaluation), expressions up to depth 5, typed as they are built: each
//! subexpression is generated for a target shape, booleans only where
//! `where`/`and`/`or`/`not`/`float` take them, reductions, softmax axes,
//! `take` indices and `expand_dims` axes valid for their operand. The loss is
//! `mean(...)` of any shape, a per-sample `sum(..., axis=-1)`, or an `[N]`
//! expression. Differentiated: `x [N, C]`, `a [N]`, `c [C]`, `s []` and the
//! param `p`, so broadcasting in every direction reaches a variable.
//!
//! Domains are guarded by construction (`log(square(e) + 0.5)`, denominators
//! `square(e) + 1`, `pow` bases `square(e) + 0.5`, ...), so most generated
//! programs have a finite loss and gradient at the generated point.

// Each test binary uses a part of the generator.
#![allow(dead_code)]

use std::fmt;

use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

// ------------------------------------------------------------------ shapes

/// One dimension of a generated shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum D {
    One,
    N,
    C,
}

pub type Shape = &'static [D];

/// Every shape the generator uses. A rank-2 shape is `[N or 1, C or 1]`, so
/// broadcasting never builds `[N, N]` (which the front end warns about).
pub const SHAPES: &[Shape] = &[
    &[],
    &[D::One],
    &[D::N],
    &[D::C],
    &[D::N, D::C],
    &[D::N, D::One],
    &[D::One, D::C],
    &[D::One, D::One],
];

pub const SAMPLES: usize = 3;
pub const CLASSES: usize = 2;

/// NumPy broadcasting of two generated shapes, if the result is one of [`SHAPES`].
pub fn broadcast(a: Shape, b: Shape) -> Option<Shape> {
    let rank = a.len().max(b.len());
    let at = |s: Shape, k: usize| {
        if k + s.len() >= rank {
            s[k + s.len() - rank]
        } else {
            D::One
        }
    };
    let mut out = Vec::with_capacity(rank);
    for k in 0..rank {
        out.push(match (at(a, k), at(b, k)) {
            (x, y) if x == y => x,
            (D::One, y) => y,
            (x, D::One) => x,
            _ => return None,
        });
    }
    SHAPES.iter().copied().find(|s| *s == out.as_slice())
}

/// The pairs of shapes that broadcast to exactly `shape`.
pub fn pairs(shape: Shape) -> Vec<(Shape, Shape)> {
    let mut out = Vec::new();
    for &a in SHAPES {
        for &b in SHAPES {
            if broadcast(a, b) == Some(shape) {
                out.push((a, b));
            }
        }
    }
    out
}

/// The shapes that broadcast up to `shape` (itself included).
pub fn parts(shape: Shape) -> Vec<Shape> {
    SHAPES
        .iter()
        .copied()
        .filter(|&s| broadcast(s, shape) == Some(shape))
        .collect()
}

// -------------------------------------------------------------- the program

/// The declarations every generated program starts with. `x`, `a`, `c`, `s`
/// and `p` are differentiated; `t`, `b`, `k` and `lab` are data.
pub fn header(p: f64) -> String {
    format!(
        "input x: real [N, C]\ninput t: real [N, C]\ninput a: real [N]\ninput b: real [N]\ninput c: real [C]\n\
         input k: real [N, 1]\ninput s: real []\ninput lab: {{0, 1}} [N]\nparam p = {p:?}\nwrt x, a, c, s, p\n\
         def g(z) = z * sigmoid(z)\ndef h(z1, z2) = z1 * tanh(z2) + z2\n"
    )
}

/// The `let` bindings every program has, `(name, shape)`: the loss may use
/// them any number of times, so the program is a DAG, not a tree.
pub const LETS: &[(&str, Shape)] = &[("u", &[D::N, D::C]), ("v", &[D::N]), ("w", &[])];

/// How deep an expression may still go, and whether the `let`s are in scope.
#[derive(Debug, Clone, Copy)]
pub struct Gen {
    depth: u32,
    lets: bool,
}

impl Gen {
    fn down(self) -> Gen {
        Gen {
            depth: self.depth - 1,
            ..self
        }
    }
}

/// The leaves of each shape: variables, data, constants, dimension sizes, and
/// for the shapes no input has, a reduction or `expand_dims` of one.
pub fn leaves(shape: Shape, lets: bool) -> Vec<&'static str> {
    let mut out = leaf_names(shape);
    if lets {
        out.extend(
            LETS.iter()
                .filter(|(_, s)| *s == shape)
                .flat_map(|(name, _)| [*name, *name]),
        );
    }
    out
}

pub fn leaf_names(shape: Shape) -> Vec<&'static str> {
    match shape {
        [] => vec!["p", "s", "0.5", "2", "-1.5", "0.25", "N", "C"],
        [D::One] => vec!["sum(a, keepdims=true)", "expand_dims(s, axis=0)"],
        [D::N] => vec!["a", "b", "a"],
        [D::C] => vec!["c"],
        [D::N, D::C] => vec!["x", "t", "x", "one_hot(lab, C)"],
        [D::N, D::One] => vec!["k", "expand_dims(a, axis=1)"],
        [D::One, D::C] => vec!["mean(x, axis=0, keepdims=true)", "expand_dims(c, axis=0)"],
        [D::One, D::One] => vec!["max(x, keepdims=true)", "expand_dims(p, axis=(0, 1))"],
        _ => unreachable!("not a generated shape"),
    }
}

/// Elementwise functions of one argument, written out; `{}` is the argument.
/// Domains are guarded, and arguments of `exp`-like functions are sometimes
/// bounded so that nesting does not overflow. [`unary`] adds every
/// one-argument built-in of the table.
pub const UNARY: &[&str] = &[
    "abs({})",
    "sign({})",
    "exp({})",
    "exp(tanh({}) * 2)",
    "expm1({})",
    "expm1(sin({}))",
    "log(square({}) + 0.5)",
    "log(softplus({}) + 0.1)",
    "log1p(square({}))",
    "log1p(softplus({}) - 0.5)",
    "sqrt(square({}) + 1)",
    "sqrt(softplus({}) + 0.1)",
    "square({})",
    "sin({})",
    "cos({})",
    "tanh({})",
    "cosh({})",
    "cosh(tanh({}))",
    "sigmoid({})",
    "log_sigmoid({})",
    "softplus({})",
    "relu({})",
    "floor({})",
    "ceil({})",
    "round({})",
    "-({})",
    "({}) ^ 2",
    "({}) ** 3",
    "({}) * 1.5",
    "g({})",
];

/// [`UNARY`], and every one-argument elementwise built-in of the table with
/// a derivative and a sample interval (the ones of derivative 0 are written
/// out: `stop_gradient` is not constant, so finite differences would not
/// give its 0), its argument mapped into that interval
/// (`tan(-1.2 + 2.2 * sigmoid({}))`, inside its domain, clear of its
/// poles), so that a new built-in is generated with no line here.
pub fn unary() -> Vec<String> {
    let table = super::unary::differentiable()
        .iter()
        .map(|u| u.mapped_call())
        .collect::<Vec<_>>();
    UNARY.iter().map(|f| f.to_string()).chain(table).collect()
}

/// Elementwise functions of two arguments, `{a}` and `{b}`.
pub const BINARY: &[&str] = &[
    "({a} + {b})",
    "({a} - {b})",
    "({a} * {b})",
    "({a} / (square({b}) + 1))",
    "({a} / (softplus({b}) + 0.5))",
    "maximum({a}, {b})",
    "minimum({a}, {b})",
    "pow(square({a}) + 0.5, {b})",
    "((sigmoid({a}) + 0.5) ^ tanh({b}))",
    "xlogy({a}, softplus({b}) + 0.5)",
    "xlogy({a}, square({b}) + 0.25)",
    "broadcast_like({a}, {b})",
    "h({a}, {b})",
];

pub const COMPARE: &[&str] = &["<", "<=", ">", ">=", "==", "!="];
pub const REDUCE: &[&str] = &["sum", "mean", "max", "min", "logsumexp", "norm"];

/// `(operand shape, arguments)` of the reductions whose result has `shape`.
pub fn reductions(shape: Shape) -> Vec<(Shape, &'static str)> {
    const NC: Shape = &[D::N, D::C];
    const N1: Shape = &[D::N, D::One];
    const ONE_C: Shape = &[D::One, D::C];
    const ONE_ONE: Shape = &[D::One, D::One];
    match shape {
        [] => vec![
            (&[D::N], ""),
            (&[D::N], ", axis=0"),
            (&[D::C], ", axis=-1"),
            (&[D::One], ""),
            (NC, ""),
            (NC, ", axis=(0, 1)"),
            (NC, ", axis=(-1, 0)"),
            (N1, ""),
            (ONE_C, ", keepdims=false"),
            (ONE_ONE, ""),
        ],
        [D::One] => vec![
            (&[D::N], ", keepdims=true"),
            (&[D::C], ", axis=0, keepdims=true"),
            (N1, ", axis=0"),
            (ONE_C, ", axis=-1"),
        ],
        [D::N] => vec![(NC, ", axis=1"), (NC, ", axis=-1"), (N1, ", axis=-1")],
        [D::C] => vec![(NC, ", axis=0"), (NC, ", axis=-2"), (ONE_C, ", axis=0")],
        [D::N, D::One] => vec![(NC, ", axis=1, keepdims=true"), (N1, ", axis=-1, keepdims=true")],
        [D::One, D::C] => vec![(NC, ", axis=0, keepdims=true"), (ONE_C, ", axis=-2, keepdims=true")],
        [D::One, D::One] => vec![
            (NC, ", keepdims=true"),
            (NC, ", axis=(0, 1), keepdims=true"),
            (N1, ", axis=0, keepdims=true"),
            (ONE_C, ", axis=1, keepdims=true"),
        ],
        _ => Vec::new(),
    }
}

/// `(operand shape, arguments)` of the `take`s whose result has `shape`; the
/// indices are valid for N = 3, C = 2.
pub fn takes(shape: Shape) -> Vec<(Shape, &'static str)> {
    const NC: Shape = &[D::N, D::C];
    const N1: Shape = &[D::N, D::One];
    const ONE_C: Shape = &[D::One, D::C];
    match shape {
        [] => vec![
            (&[D::N], ", 0"),
            (&[D::N], ", 2"),
            (&[D::N], ", -1"),
            (&[D::N], ", -3"),
            (&[D::C], ", 1"),
            (&[D::C], ", -2"),
            (&[D::One], ", 0"),
        ],
        [D::One] => vec![(N1, ", 1, axis=0"), (ONE_C, ", -1"), (&[D::One, D::One], ", 0, axis=0")],
        [D::N] => vec![
            (NC, ", 0"),
            (NC, ", 1, axis=1"),
            (NC, ", -2, axis=-1"),
            (N1, ", 0"),
            (N1, ", -1, axis=1"),
        ],
        [D::C] => vec![
            (NC, ", 0, axis=0"),
            (NC, ", 2, axis=0"),
            (NC, ", -1, axis=-2"),
            (NC, ", -3, axis=0"),
            (ONE_C, ", 0, axis=0"),
        ],
        _ => Vec::new(),
    }
}

/// `(operand shape, arguments)` of the `expand_dims` whose result has `shape`.
pub fn expansions(shape: Shape) -> Vec<(Shape, &'static str)> {
    match shape {
        [D::One] => vec![(&[], ", axis=0"), (&[], ", axis=-1")],
        [D::N, D::One] => vec![(&[D::N], ", axis=1"), (&[D::N], ", axis=-1")],
        [D::One, D::C] => vec![(&[D::C], ", axis=0"), (&[D::C], ", axis=-2")],
        [D::One, D::One] => vec![(&[D::One], ", axis=0"), (&[D::One], ", axis=1"), (&[], ", axis=(0, 1)")],
        _ => Vec::new(),
    }
}

/// The `axis=` forms of `softmax`/`log_softmax` for an operand of `rank`.
pub fn along_axes(rank: usize) -> Vec<&'static str> {
    match rank {
        0 => Vec::new(),
        1 => vec!["", ", axis=0", ", axis=-1"],
        _ => vec!["", ", axis=0", ", axis=1", ", axis=-1", ", axis=-2"],
    }
}

pub fn select<T: Clone + fmt::Debug + 'static>(items: Vec<T>) -> BoxedStrategy<T> {
    proptest::sample::select(items).boxed()
}

/// A numeric expression of `shape`, generated when a value is drawn (so
/// building the strategy costs one level, not the whole tree).
pub fn lazy_num(shape: Shape, g: Gen) -> BoxedStrategy<String> {
    Just(()).prop_flat_map(move |()| num(shape, g)).boxed()
}

pub fn lazy_cond(shape: Shape, g: Gen) -> BoxedStrategy<String> {
    Just(()).prop_flat_map(move |()| cond(shape, g)).boxed()
}

/// A numeric expression of exactly `shape`, at most `depth` calls deep.
pub fn num(shape: Shape, g: Gen) -> BoxedStrategy<String> {
    let leaf = select(leaves(shape, g.lets)).prop_map(str::to_string).boxed();
    if g.depth == 0 {
        return leaf;
    }
    let d = g.down();
    let mut options: Vec<(u32, BoxedStrategy<String>)> = vec![(12, leaf)];
    options.push((
        10,
        (select(unary()), lazy_num(shape, d))
            .prop_map(|(f, e)| f.replace("{}", &e))
            .boxed(),
    ));
    options.push((
        10,
        select(pairs(shape))
            .prop_flat_map(move |(sa, sb)| (select(BINARY.to_vec()), lazy_num(sa, d), lazy_num(sb, d)))
            .prop_map(|(f, a, b)| f.replace("{a}", &a).replace("{b}", &b))
            .boxed(),
    ));
    // clip: the argument of the full shape in any position.
    options.push((
        3,
        (0..3usize, select(parts(shape)), select(parts(shape)))
            .prop_flat_map(move |(full, s1, s2)| {
                let mut shapes = vec![s1, s2];
                shapes.insert(full, shape);
                (lazy_num(shapes[0], d), lazy_num(shapes[1], d), lazy_num(shapes[2], d))
            })
            .prop_map(|(v, lo, hi)| format!("clip({v}, {lo}, {hi})"))
            .boxed(),
    ));
    // where: the condition or one branch of the full shape.
    options.push((
        4,
        (0..3usize, select(parts(shape)), select(parts(shape)))
            .prop_flat_map(move |(full, s1, s2)| {
                let mut shapes = vec![s1, s2];
                shapes.insert(full, shape);
                (lazy_cond(shapes[0], d), lazy_num(shapes[1], d), lazy_num(shapes[2], d))
            })
            .prop_map(|(c, a, b)| format!("where({c}, {a}, {b})"))
            .boxed(),
    ));
    options.push((1, lazy_cond(shape, d).prop_map(|c| format!("float({c})")).boxed()));
    let reductions = reductions(shape);
    if !reductions.is_empty() {
        options.push((
            5,
            (select(REDUCE.to_vec()), select(reductions))
                .prop_flat_map(move |(r, (operand, args))| (Just(r), lazy_num(operand, d), Just(args)))
                .prop_map(|(r, e, args)| format!("{r}({e}{args})"))
                .boxed(),
        ));
    }
    let axes = along_axes(shape.len());
    if !axes.is_empty() {
        options.push((
            3,
            (select(vec!["softmax", "log_softmax"]), select(axes), lazy_num(shape, d))
                .prop_map(|(f, axis, e)| format!("{f}({e}{axis})"))
                .boxed(),
        ));
    }
    let takes = takes(shape);
    if !takes.is_empty() {
        options.push((
            2,
            select(takes)
                .prop_flat_map(move |(operand, args)| (lazy_num(operand, d), Just(args)))
                .prop_map(|(e, args)| format!("take({e}{args})"))
                .boxed(),
        ));
    }
    let expansions = expansions(shape);
    if !expansions.is_empty() {
        options.push((
            2,
            select(expansions)
                .prop_flat_map(move |(operand, args)| (lazy_num(operand, d), Just(args)))
                .prop_map(|(e, args)| format!("expand_dims({e}{args})"))
                .boxed(),
        ));
    }
    Union::new_weighted(options).boxed()
}

/// A boolean expression of exactly `shape`.
pub fn cond(shape: Shape, g: Gen) -> BoxedStrategy<String> {
    let compare = select(pairs(shape))
        .prop_flat_map(move |(sa, sb)| (select(COMPARE.to_vec()), lazy_num(sa, g), lazy_num(sb, g)))
        .prop_map(|(op, a, b)| format!("({a} {op} {b})"))
        .boxed();
    if g.depth == 0 {
        return compare;
    }
    let d = g.down();
    let mut options: Vec<(u32, BoxedStrategy<String>)> = vec![(6, compare)];
    options.push((1, lazy_cond(shape, d).prop_map(|c| format!("not {c}")).boxed()));
    options.push((
        2,
        select(pairs(shape))
            .prop_flat_map(move |(sa, sb)| (select(vec!["and", "or"]), lazy_cond(sa, d), lazy_cond(sb, d)))
            .prop_map(|(op, a, b)| format!("({a} {op} {b})"))
            .boxed(),
    ));
    if shape.is_empty() {
        options.push((1, select(vec!["true", "false"]).prop_map(str::to_string).boxed()));
    }
    Union::new_weighted(options).boxed()
}

/// The `let` lines: each binding an expression of its shape, at most 2 deep.
pub fn let_lines() -> BoxedStrategy<String> {
    let g = Gen { depth: 2, lets: false };
    (lazy_num(LETS[0].1, g), lazy_num(LETS[1].1, g), lazy_num(LETS[2].1, g))
        .prop_map(|(u, v, w)| format!("let u = {u}\nlet v = {v}\nlet w = {w}\n"))
        .boxed()
}

/// The loss: the mean of an expression of any shape, or a per-sample loss.
pub fn loss_expr() -> BoxedStrategy<String> {
    (1..=5u32)
        .prop_flat_map(|depth| {
            let depth = Gen { depth, lets: true };
            prop_oneof![
                3 => select(SHAPES.to_vec()).prop_flat_map(move |shape| lazy_num(shape, depth))
                    .prop_map(|e| format!("mean({e})")),
                1 => select(vec![&[D::N, D::C][..], &[D::N, D::One][..]])
                    .prop_flat_map(move |shape| lazy_num(shape, depth))
                    .prop_map(|e| format!("sum({e}, axis=-1)")),
                1 => lazy_num(&[D::N], depth),
            ]
        })
        .boxed()
}

// -------------------------------------------------------------------- cases

/// A generated program and the point it is evaluated at.
#[derive(Clone)]
pub struct Case {
    pub source: String,
    pub data: Vec<(String, ArrayD<f64>)>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "program:\n{}", self.source)?;
        for (name, value) in &self.data {
            writeln!(f, "{name} = {}", value.to_string().replace('\n', ""))?;
        }
        Ok(())
    }
}

/// `count` values in about [-2, 2]: two decimals plus a small offset that
/// differs for every element of every input (`slot`), so that no two values,
/// and no simple sums of them, coincide even after shrinking (a tie at the
/// point itself, e.g. `maximum(x, c)` with x = c, is a kink the finite
/// differences cannot see).
pub fn values(count: usize, slot: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-200i32..=200, count).prop_map(move |v| {
        v.into_iter()
            .enumerate()
            .map(|(i, v)| {
                let offset = 1e-4 + 1e-3 * ((slot * 8 + i + 1) as f64 * 0.618_033_988_749_894_8).fract();
                f64::from(v) / 100.0 + offset
            })
            .collect()
    })
}

pub fn case() -> impl Strategy<Value = Case> {
    let n = SAMPLES;
    let c = CLASSES;
    (
        (let_lines(), loss_expr()),
        (-200i32..=200).prop_map(|v| f64::from(v) / 100.0 + 7.3e-4),
        (
            values(n * c, 0),
            values(n * c, 1),
            values(n, 2),
            values(n, 3),
            values(c, 4),
            values(n, 5),
            values(1, 6),
        ),
        proptest::collection::vec(0..=1u8, n),
    )
        .prop_map(move |((lets, loss), p, (x, t, a, b, cv, k, s), lab)| {
            let array = |shape: &[usize], v: Vec<f64>| ArrayD::from_shape_vec(IxDyn(shape), v).expect("sizes match");
            let data = vec![
                ("x".to_string(), array(&[n, c], x)),
                ("t".to_string(), array(&[n, c], t)),
                ("a".to_string(), array(&[n], a)),
                ("b".to_string(), array(&[n], b)),
                ("c".to_string(), array(&[c], cv)),
                ("k".to_string(), array(&[n, 1], k)),
                ("s".to_string(), array(&[], s)),
                ("lab".to_string(), array(&[n], lab.into_iter().map(f64::from).collect())),
            ];
            Case {
                source: format!("{}{lets}loss f = {loss}\n", header(p)),
                data,
            }
        })
}
