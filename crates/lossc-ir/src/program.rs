//! The IR: a program's declarations and a DAG of typed nodes with spans.

use lossc_diagnostics::Span;

use crate::builtins::Builtin;
pub use crate::domain::Domain;
use crate::types::{Dim, DimId, Shape, Type};

/// Index of a node in [`Program::nodes`]. A node's arguments always have
/// smaller ids than the node itself (the arena is in topological order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A data input, `input NAME: DOMAIN [SHAPE]`, or an implicit `y_true`/`y_pred`.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub name: String,
    pub domain: Domain,
    pub shape: Shape,
    /// The declaration, or the first use of an implicit input.
    pub span: Span,
    /// Used without a declaration (`real [N]`).
    pub implicit: bool,
    /// Whether the program states the domain (`input x: [0, 1]`); not for an
    /// implicit input or `input x [N]`, whose domain `real` is assumed.
    pub domain_stated: bool,
}

/// A name given as an input's that is not one: the inputs declared, in
/// order, and the one closest to the name (a likely misspelling), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchInput {
    pub name: String,
    pub declared: Vec<String>,
    pub suggestion: Option<String>,
}

impl NoSuchInput {
    /// `name`, looked up among `declared` and not found.
    pub fn new(name: &str, declared: Vec<String>) -> Self {
        let suggestion = crate::closest(name, declared.iter().map(String::as_str)).map(str::to_string);
        NoSuchInput {
            name: name.to_string(),
            declared,
            suggestion,
        }
    }

    /// ` (did you mean `y_true`?)`, or nothing.
    pub fn hint(&self) -> String {
        self.suggestion
            .as_ref()
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default()
    }

    /// The declared inputs, quoted: `` `y_true`, `y_pred` ``, or `none`.
    pub fn listing(&self) -> String {
        if self.declared.is_empty() {
            return "none".to_string();
        }
        let quoted: Vec<String> = self.declared.iter().map(|n| format!("`{n}`")).collect();
        quoted.join(", ")
    }
}

/// A number or a vector, the value of a `param` or `const`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<f64>),
}

impl Value {
    pub fn shape(&self) -> Shape {
        match self {
            Value::Scalar(_) => Vec::new(),
            Value::Vector(values) => vec![Dim::Fixed(values.len() as u64)],
        }
    }
}

/// `param NAME = VALUE` (overridable) or `const NAME = VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Constant {
    pub name: String,
    pub value: Value,
    pub span: Span,
}

/// A `let NAME = VALUE` of the source: the name the value's node had there,
/// which later stages keep when they print it (`emit`).
#[derive(Debug, Clone, PartialEq)]
pub struct LetBinding {
    pub name: String,
    /// The node of the value (the same node wherever the name is used).
    pub node: NodeId,
    /// The name in the `let` statement.
    pub span: Span,
}

/// Whether a result is differentiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// A scalar or per-sample `[N]` loss; its value and gradient are those of its mean.
    Loss,
    /// Any other named result; never differentiated.
    Output,
}

/// A `loss` or an `output`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedResult {
    pub name: String,
    pub kind: ResultKind,
    pub root: NodeId,
    /// The whole statement.
    pub span: Span,
}

/// A variable gradients are taken with respect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    Input(usize),
    Param(usize),
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A number written in the source (or `inf`).
    Literal(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A data input, by index into [`Program::inputs`].
    Input(usize),
    /// A `param`, by index into [`Program::params`].
    Param(usize),
    /// A `const`, by index into [`Program::consts`].
    Const(usize),
    /// The size of a dimension, used as a scalar (`N`).
    DimSize(DimId),
    /// A built-in applied to the node's arguments.
    Call(Builtin, Attrs),
}

/// The static arguments of a call: axes, flags, indices, sizes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Attrs {
    /// Reduction or softmax axes, normalised to non-negative and sorted.
    /// For a reduction `None` means all axes.
    pub axes: Option<Vec<usize>>,
    /// `keepdims=true`.
    pub keepdims: bool,
    /// `take`'s index; negative counts from the end.
    pub index: Option<i64>,
    /// `one_hot`'s class count.
    pub classes: Option<Dim>,
}

/// One node of the DAG.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub args: Vec<NodeId>,
    pub ty: Type,
    /// The source this node came from. Inside a `def` body this is the body's text.
    pub span: Span,
}

/// A checked program: names resolved, defs expanded, every node typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Dimension names, indexed by [`DimId`].
    pub dims: Vec<String>,
    /// Inputs, in declaration order (implicit ones first: `y_true`, then `y_pred`).
    pub inputs: Vec<Input>,
    pub params: Vec<Constant>,
    pub consts: Vec<Constant>,
    /// Losses and outputs in source order; the first loss is the default.
    pub results: Vec<NamedResult>,
    /// The `wrt` variables (default `y_pred`).
    pub wrt: Vec<Var>,
    /// The batch dimension: the leading dimension of the first `wrt` input.
    pub batch: Option<Dim>,
    /// The node arena, in topological order.
    pub nodes: Vec<Node>,
    /// The `let`s of the source whose value was built, in source order.
    pub lets: Vec<LetBinding>,
}

impl Program {
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The losses, the default first.
    pub fn losses(&self) -> impl Iterator<Item = &NamedResult> {
        self.results.iter().filter(|r| r.kind == ResultKind::Loss)
    }

    /// A loss or output by name.
    pub fn result(&self, name: &str) -> Option<&NamedResult> {
        self.results.iter().find(|r| r.name == name)
    }

    pub fn input(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|i| i.name == name)
    }

    /// An input by name, or what a message about a name that is none needs:
    /// the inputs there are and the closest one. Every lookup of an input
    /// named by a user (data, `--wrt`, `--fix`, fit's prediction) goes here.
    pub fn find_input(&self, name: &str) -> Result<usize, NoSuchInput> {
        self.input(name)
            .ok_or_else(|| NoSuchInput::new(name, self.inputs.iter().map(|i| i.name.clone()).collect()))
    }

    pub fn param(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }

    /// A `wrt` variable by name.
    pub fn var(&self, name: &str) -> Option<Var> {
        self.input(name)
            .map(Var::Input)
            .or_else(|| self.param(name).map(Var::Param))
    }

    pub fn var_name(&self, var: Var) -> &str {
        match var {
            Var::Input(i) => &self.inputs[i].name,
            Var::Param(i) => &self.params[i].name,
        }
    }

    pub fn var_shape(&self, var: Var) -> Shape {
        match var {
            Var::Input(i) => self.inputs[i].shape.clone(),
            Var::Param(i) => self.params[i].value.shape(),
        }
    }

    /// Replaces a scalar param's value. False if there is no such scalar param.
    pub fn set_param(&mut self, name: &str, value: f64) -> bool {
        match self.params.iter_mut().find(|p| p.name == name) {
            Some(param) if matches!(param.value, Value::Scalar(_)) => {
                param.value = Value::Scalar(value);
                true
            }
            _ => false,
        }
    }

    /// Appends a node and returns its id. The type of a call is inferred with
    /// [`crate::builtins::result_type`]; the arguments must be valid for it.
    pub fn add(&mut self, op: Op, args: Vec<NodeId>, span: Span) -> NodeId {
        let ty = match &op {
            Op::Literal(_) | Op::DimSize(_) => Type::scalar(),
            Op::Bool(_) => Type::boolean(Vec::new()),
            Op::Input(i) => Type::num(self.inputs[*i].shape.clone()),
            Op::Param(i) => Type::num(self.params[*i].value.shape()),
            Op::Const(i) => Type::num(self.consts[*i].value.shape()),
            Op::Call(builtin, attrs) => {
                let types: Vec<&Type> = args.iter().map(|a| &self.node(*a).ty).collect();
                crate::builtins::result_type(*builtin, attrs, &types)
            }
        };
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(Node { op, args, ty, span });
        id
    }

    /// For every node, whether `roots` read it, directly or through other
    /// nodes (a root reads itself). One pass down the arena from the last
    /// root: arguments come before their users.
    pub fn reachable(&self, roots: &[NodeId]) -> Vec<bool> {
        let mut reached = vec![false; self.nodes.len()];
        for root in roots {
            reached[root.index()] = true;
        }
        let top = roots.iter().map(|r| r.index() + 1).max().unwrap_or(0);
        for i in (0..top).rev() {
            if reached[i] {
                for arg in &self.nodes[i].args {
                    reached[arg.index()] = true;
                }
            }
        }
        reached
    }

    /// The nodes `roots` read (see [`Program::reachable`]), in topological order.
    pub fn cone(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let reached = self.reachable(roots);
        (0..reached.len())
            .filter(|&i| reached[i])
            .map(|i| NodeId(i as u32))
            .collect()
    }

    /// The inputs `roots` read, by index into [`Program::inputs`].
    pub fn inputs_read(&self, roots: &[NodeId]) -> Vec<bool> {
        let mut read = vec![false; self.inputs.len()];
        for (node, _) in self.nodes.iter().zip(self.reachable(roots)).filter(|(_, r)| *r) {
            if let Op::Input(i) = node.op {
                read[i] = true;
            }
        }
        read
    }

    /// A shape in the user's words, e.g. `[N, C]`.
    pub fn shape_string(&self, shape: &[Dim]) -> String {
        crate::types::shape_to_string(shape, &self.dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(source: &str) -> Program {
        let ast = lossc_syntax::parse(source).expect("valid syntax");
        crate::lower(&ast, source).expect("a valid program").0
    }

    #[test]
    fn reachable_is_what_a_result_reads() {
        let p = program(
            "input y_true: real [N]\ninput y_pred: real [N]\ninput w: real [N]\noutput o = mean(w)\nloss l = mean(square(y_true - y_pred))\n",
        );
        let loss = p.result("l").unwrap().root;
        let output = p.result("o").unwrap().root;
        let reached = p.reachable(&[loss]);
        assert_eq!(reached.len(), p.nodes.len());
        assert!(reached[loss.index()]);
        assert!(!reached[output.index()]);
        // Every node read is an argument of a node read, or the root.
        for (i, node) in p.nodes.iter().enumerate() {
            let read_by_reached = p
                .nodes
                .iter()
                .enumerate()
                .any(|(j, n)| reached[j] && n.args.contains(&NodeId(i as u32)));
            assert_eq!(reached[i], i == loss.index() || read_by_reached, "{node:?}");
        }
        assert_eq!(p.inputs_read(&[loss]), vec![true, true, false]);
        assert_eq!(p.inputs_read(&[output]), vec![false, false, true]);
        assert_eq!(
            p.cone(&[loss, output]).len(),
            reached
                .iter()
                .zip(p.reachable(&[output]))
                .filter(|(a, b)| **a || *b)
                .count()
        );
        assert!(p.reachable(&[]).iter().all(|r| !r));
    }

    #[test]
    fn the_ir_keeps_the_names_of_lets() {
        let source = "input y_true: real [N]\ninput y_pred: real [N]\nlet d = (y_true - y_pred)\nlet sq = square(d)\nlet same = d\nloss = mean(sq)\n";
        let p = program(source);
        let names: Vec<&str> = p.lets.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["d", "sq", "same"]);
        let d = &p.lets[0];
        assert_eq!(&source[d.span.start..d.span.end], "d");
        assert!(matches!(p.node(d.node).op, Op::Call(Builtin::Sub, _)));
        assert_eq!(p.lets[2].node, d.node, "a let of a let is the same node");
        assert_eq!(p.node(p.lets[1].node).args, [d.node]);
    }

    #[test]
    fn an_unknown_input_comes_with_the_inputs_and_the_closest() {
        let p = program("input y_true: real [N]\ninput y_pred: real [N]\nloss = mean(y_true - y_pred)\n");
        assert_eq!(p.find_input("y_pred"), Ok(1));
        let missing = p.find_input("y_ture").unwrap_err();
        assert_eq!(missing.suggestion.as_deref(), Some("y_true"));
        assert_eq!(missing.hint(), " (did you mean `y_true`?)");
        assert_eq!(missing.listing(), "`y_true`, `y_pred`");
        assert_eq!(p.find_input("weights").unwrap_err().hint(), "");
        assert_eq!(NoSuchInput::new("x", Vec::new()).listing(), "none");
    }
}
