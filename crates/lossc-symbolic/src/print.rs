//! IR back to valid `.loss` text: minimal parentheses, `let` bindings for
//! subexpressions used more than once.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use lossc_ir::{Attrs, Builtin, Dim, NodeId, Op, Program, ResultKind, Signature, Value, loss_number};

/// Binding strength, loosest first (docs/language.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    Or = 1,
    And,
    Not,
    Compare,
    Sum,
    Product,
    Neg,
    Pow,
    Atom,
}

/// A result to print: its kind, name and root.
#[derive(Debug, Clone)]
pub struct Root {
    pub kind: ResultKind,
    pub name: String,
    pub node: NodeId,
}

/// Prints a complete program: the declarations of `program`, `let` bindings
/// for shared subexpressions of `roots`, then each root as a `loss` or `output`.
pub fn program(program: &Program, roots: &[Root]) -> String {
    let mut out = String::new();
    for input in &program.inputs {
        let _ = writeln!(
            out,
            "input {}: {} {}",
            input.name,
            input.domain,
            program.shape_string(&input.shape)
        );
    }
    for param in &program.params {
        let _ = writeln!(out, "param {} = {}", param.name, value(&param.value));
    }
    for constant in &program.consts {
        let _ = writeln!(out, "const {} = {}", constant.name, value(&constant.value));
    }
    if !program.wrt.is_empty() {
        let names: Vec<&str> = program.wrt.iter().map(|v| program.var_name(*v)).collect();
        let _ = writeln!(out, "wrt {}", names.join(", "));
    }
    let nodes: Vec<NodeId> = roots.iter().map(|r| r.node).collect();
    let mut printer = Printer::new(program, &nodes);
    let lets = printer.bind_shared(&nodes);
    if !out.is_empty() {
        out.push('\n');
    }
    for (name, node) in lets {
        let text = printer.expr_inline(node);
        let _ = writeln!(out, "let {name} = {text}");
        printer.names.insert(node, name);
    }
    for root in roots {
        let keyword = match root.kind {
            ResultKind::Loss => "loss",
            ResultKind::Output => "output",
        };
        let text = printer.expr(root.node);
        // A nameless `loss = ...` is named `loss`: print it nameless, as written.
        if root.kind == ResultKind::Loss && root.name == "loss" {
            let _ = writeln!(out, "loss = {text}");
        } else {
            let _ = writeln!(out, "{keyword} {} = {text}", root.name);
        }
    }
    out
}

/// Prints one expression with no `let` bindings.
pub fn expr(program: &Program, node: NodeId) -> String {
    Printer::new(program, &[node]).expr(node)
}

fn value(value: &Value) -> String {
    match value {
        Value::Scalar(v) => loss_number(*v),
        Value::Vector(vs) => {
            let items: Vec<String> = vs.iter().map(|v| loss_number(*v)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

struct Printer<'p> {
    program: &'p Program,
    /// Nodes printed as a name: leaves, and shared subexpressions once bound.
    names: HashMap<NodeId, String>,
}

impl<'p> Printer<'p> {
    fn new(program: &'p Program, _roots: &[NodeId]) -> Self {
        Printer {
            program,
            names: HashMap::new(),
        }
    }

    /// Chooses `let` names for non-trivial nodes used more than once, in
    /// topological order.
    fn bind_shared(&mut self, roots: &[NodeId]) -> Vec<(String, NodeId)> {
        let mut uses: HashMap<NodeId, usize> = HashMap::new();
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut stack: Vec<NodeId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for &arg in &self.program.node(id).args {
                *uses.entry(arg).or_default() += 1;
                stack.push(arg);
            }
        }
        for &root in roots {
            *uses.entry(root).or_default() += 1;
        }
        let taken: HashSet<String> = self
            .program
            .inputs
            .iter()
            .map(|i| i.name.clone())
            .chain(self.program.params.iter().map(|p| p.name.clone()))
            .chain(self.program.consts.iter().map(|c| c.name.clone()))
            .chain(self.program.dims.iter().cloned())
            .chain(self.program.results.iter().map(|r| r.name.clone()))
            .collect();
        let mut shared: Vec<NodeId> = uses
            .iter()
            .filter(|(id, count)| **count > 1 && self.is_compound(**id) && !roots.contains(id))
            .map(|(id, _)| *id)
            .collect();
        shared.sort();
        let mut counter = 0;
        shared
            .into_iter()
            .map(|id| {
                let name = loop {
                    counter += 1;
                    let candidate = format!("t{counter}");
                    if !taken.contains(&candidate) {
                        break candidate;
                    }
                };
                (name, id)
            })
            .collect()
    }

    fn is_compound(&self, id: NodeId) -> bool {
        let node = self.program.node(id);
        match &node.op {
            Op::Call(Builtin::Neg, _) => {
                // `-x` of a leaf reads as well as a name.
                self.is_compound(node.args[0])
            }
            Op::Call(..) => true,
            _ => false,
        }
    }

    fn expr(&self, id: NodeId) -> String {
        self.print(id, true).0
    }

    /// The text of a node being bound by `let`: its own definition, not its name.
    fn expr_inline(&self, id: NodeId) -> String {
        self.print(id, false).0
    }

    fn print(&self, id: NodeId, use_name: bool) -> (String, Prec) {
        // One level of nesting takes a few frames: a chain of thousands grows
        // the stack in segments rather than overflowing it.
        stacker::maybe_grow(128 * 1024, 4 * 1024 * 1024, || self.print_here(id, use_name))
    }

    fn print_here(&self, id: NodeId, use_name: bool) -> (String, Prec) {
        if use_name && let Some(name) = self.names.get(&id) {
            return (name.clone(), Prec::Atom);
        }
        let node = self.program.node(id);
        match &node.op {
            Op::Literal(v) => {
                let text = loss_number(*v);
                let prec = if text.starts_with('-') { Prec::Neg } else { Prec::Atom };
                (text, prec)
            }
            Op::Bool(b) => (b.to_string(), Prec::Atom),
            Op::Input(i) => (self.program.inputs[*i].name.clone(), Prec::Atom),
            Op::Param(i) => (self.program.params[*i].name.clone(), Prec::Atom),
            Op::Const(i) => (self.program.consts[*i].name.clone(), Prec::Atom),
            Op::DimSize(d) => (self.program.dims[d.0 as usize].clone(), Prec::Atom),
            Op::Call(builtin, attrs) => self.call(*builtin, attrs, &node.args),
        }
    }

    fn wrap(&self, id: NodeId, parens_below: Prec, or_equal: bool) -> String {
        let (text, prec) = self.print(id, true);
        if prec < parens_below || (or_equal && prec == parens_below) {
            format!("({text})")
        } else {
            text
        }
    }

    fn call(&self, builtin: Builtin, attrs: &Attrs, args: &[NodeId]) -> (String, Prec) {
        let spec = builtin.spec();
        let infix = |prec: Prec| -> (String, Prec) {
            let symbol = spec.symbol.expect("operators have a symbol");
            let lhs = self.wrap(args[0], prec, prec == Prec::Compare);
            let rhs = self.wrap(args[1], prec, true);
            (format!("{lhs} {symbol} {rhs}"), prec)
        };
        match builtin {
            Builtin::Or => infix(Prec::Or),
            Builtin::And => infix(Prec::And),
            Builtin::Eq | Builtin::Ne | Builtin::Lt | Builtin::Le | Builtin::Gt | Builtin::Ge => infix(Prec::Compare),
            Builtin::Add | Builtin::Sub => infix(Prec::Sum),
            Builtin::Mul | Builtin::Div => infix(Prec::Product),
            Builtin::Pow => {
                let lhs = self.wrap(args[0], Prec::Pow, true);
                let rhs = self.wrap(args[1], Prec::Neg, false);
                (format!("{lhs} ^ {rhs}"), Prec::Pow)
            }
            Builtin::Neg => (format!("-{}", self.wrap(args[0], Prec::Neg, true)), Prec::Neg),
            Builtin::Not => (format!("not {}", self.wrap(args[0], Prec::Compare, false)), Prec::Not),
            Builtin::Abs
            | Builtin::Sign
            | Builtin::Exp
            | Builtin::Expm1
            | Builtin::Log
            | Builtin::Log1p
            | Builtin::Log2
            | Builtin::Log10
            | Builtin::Sqrt
            | Builtin::Square
            | Builtin::Sin
            | Builtin::Cos
            | Builtin::Tan
            | Builtin::Atan
            | Builtin::Asin
            | Builtin::Acos
            | Builtin::Tanh
            | Builtin::Cosh
            | Builtin::Erf
            | Builtin::Erfc
            | Builtin::Sigmoid
            | Builtin::LogSigmoid
            | Builtin::Softplus
            | Builtin::Relu
            | Builtin::Floor
            | Builtin::Ceil
            | Builtin::Round
            | Builtin::StopGradient
            | Builtin::Float
            | Builtin::Maximum
            | Builtin::Minimum
            | Builtin::Xlogy
            | Builtin::Clip
            | Builtin::Where
            | Builtin::Sum
            | Builtin::Mean
            | Builtin::Max
            | Builtin::Min
            | Builtin::Logsumexp
            | Builtin::Norm
            | Builtin::Softmax
            | Builtin::LogSoftmax
            | Builtin::Take
            | Builtin::OneHot
            | Builtin::BroadcastLike
            | Builtin::ExpandDims => {
                let mut parts: Vec<String> = args.iter().map(|a| self.print(*a, true).0).collect();
                match spec.signature {
                    Signature::Reduce(_) => {
                        if let Some(axes) = &attrs.axes {
                            parts.push(format!("axis={}", axes_text(axes)));
                        }
                        if attrs.keepdims {
                            parts.push("keepdims=true".into());
                        }
                    }
                    Signature::AlongAxis(_) | Signature::ExpandDims => {
                        if let Some(axes) = &attrs.axes {
                            parts.push(format!("axis={}", axes_text(axes)));
                        }
                    }
                    Signature::Take => {
                        parts.push(attrs.index.unwrap_or(0).to_string());
                        if let Some(axes) = &attrs.axes {
                            parts.push(format!("axis={}", axes_text(axes)));
                        }
                    }
                    Signature::OneHot => {
                        parts.push(match attrs.classes {
                            Some(Dim::Named(id)) => self.program.dims[id.0 as usize].clone(),
                            Some(Dim::Fixed(n)) => n.to_string(),
                            None => "1".into(),
                        });
                    }
                    _ => {}
                }
                (format!("{}({})", spec.name, parts.join(", ")), Prec::Atom)
            }
        }
    }
}

fn axes_text(axes: &[usize]) -> String {
    match axes {
        [one] => one.to_string(),
        many => format!("({})", many.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}
