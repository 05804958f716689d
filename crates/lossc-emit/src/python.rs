//! IR to Python statements for one target: each built-in through its
//! template, Python's precedence, a local variable for each `let` of the
//! source and for each other subexpression used more than once.

use std::collections::{BTreeSet, HashMap, HashSet};

use lossc_ir::{Attrs, Builtin, Dim, DimId, Kind, NodeId, Op, Program, Value};

use crate::target::Target;
use crate::template::{Attr, Form, Prec, Segment, Template};

/// Python's keywords and the module aliases emitted code uses: a `.loss`
/// name that is one of these gets a trailing `_`.
const RESERVED: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "jax", "jnp", "torch", "F", "ops",
    "keras", "tf", "np", "math",
];

/// A `.loss` name as a Python identifier.
pub fn identifier(name: &str) -> String {
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}

/// A number as a Python float literal that reads back to the same f64.
pub fn number(value: f64) -> String {
    if value.is_nan() {
        "float(\"nan\")".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "float(\"inf\")".into()
        } else {
            "-float(\"inf\")".into()
        }
    } else if value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value:?}")
    }
}

/// An integer-valued number as a Python int (exponents: `x ** 2`).
fn integer(value: f64) -> Option<String> {
    (value.fract() == 0.0 && value.abs() < 1e15).then(|| format!("{}", value as i64))
}

/// A parameter or constant's value as Python: `0.25` or `(1.0, 2.0)`.
pub fn value(v: &Value) -> String {
    match v {
        Value::Scalar(x) => number(*x),
        Value::Vector(xs) => {
            let items: Vec<String> = xs.iter().map(|x| number(*x)).collect();
            if items.len() == 1 {
                format!("({},)", items[0])
            } else {
                format!("({})", items.join(", "))
            }
        }
    }
}

/// The printed body of one function.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// `name = expression` lines (with `#` comments), in order.
    pub lines: Vec<String>,
    /// The expression of each root.
    pub results: Vec<String>,
    /// The named dimensions the body reads.
    pub dims: BTreeSet<DimId>,
}

/// What the printer needs to know besides the program.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub target: Target,
    /// The argument whose dtype (and device) everything takes.
    pub reference: &'a str,
    /// Names of nodes that are `let`s of the source.
    pub lets: &'a HashMap<NodeId, String>,
    /// `where` nodes that guard an operand (for comments).
    pub guards: &'a BTreeSet<NodeId>,
    /// Names already used by the function's arguments and constants.
    pub taken: &'a HashSet<String>,
}

/// A printed expression.
#[derive(Debug, Clone)]
struct Printed {
    text: String,
    prec: Prec,
    /// A tensor, rather than a plain Python number.
    tensor: bool,
}

/// Statements longer than this get their longest subexpression bound to a name.
const LINE: usize = 100;

/// Prints the nodes needed for `roots` as statements and result expressions.
pub fn body(program: &Program, roots: &[NodeId], context: &Context<'_>) -> Body {
    body_and_work(program, roots, context).0
}

/// [`body`], and how many expressions were printed to write it.
fn body_and_work(program: &Program, roots: &[NodeId], context: &Context<'_>) -> (Body, usize) {
    let mut printer = Printer::new(program, roots, context);
    // Split long statements: bind the longest subexpression, until all fit.
    for _ in 0..64 {
        let statements: Vec<NodeId> = printer.bound.iter().copied().chain(roots.iter().copied()).collect();
        let mut split = false;
        for id in statements {
            let (printed, _) = printer.print_inline(id);
            if printed.text.len() + 12 <= LINE {
                continue;
            }
            if let Some(longest) = printer.longest_subexpression(id) {
                printer.bind(longest);
                split = true;
                break;
            }
        }
        if !split {
            break;
        }
    }
    printer.name_temporaries();
    let mut lines = Vec::new();
    for id in printer.bound.clone() {
        let (printed, guarded) = printer.print_inline(id);
        if !guarded.is_empty() {
            lines.push(guard_comment(&guarded));
        }
        let name = printer.names[&id].clone();
        lines.push(format!("{name} = {}", printed.text));
    }
    let mut results = Vec::new();
    for &root in roots {
        let (printed, guarded) = printer.print_inline(root);
        if !guarded.is_empty() {
            lines.push(guard_comment(&guarded));
        }
        results.push(printed.text);
    }
    let work = printer.expressions;
    let body = Body {
        lines,
        results,
        dims: printer.dims,
    };
    (body, work)
}

fn guard_comment(guarded: &BTreeSet<&'static str>) -> String {
    let ops: Vec<String> = guarded.iter().map(|op| format!("`{op}`")).collect();
    let (verb, their) = if ops.len() == 1 {
        ("sees", "its")
    } else {
        ("see", "their")
    };
    format!(
        "# double where: {} {verb} a safe operand where {their} branch is not selected (NaN-free autodiff)",
        ops.join(", ")
    )
}

struct Printer<'a> {
    program: &'a Program,
    context: &'a Context<'a>,
    /// Nodes printed as a name: bound locals.
    names: HashMap<NodeId, String>,
    /// Bound nodes, in the order their statements come (topological).
    bound: Vec<NodeId>,
    /// Names in use.
    taken: HashSet<String>,
    roots: Vec<NodeId>,
    dims: BTreeSet<DimId>,
    /// Whether each node up to the highest root is a tensor in the emitted code.
    tensor: Vec<bool>,
    /// Each node's own expression as printed with the current names, and the
    /// operations in it whose operand is guarded: every node is printed once
    /// until a name changes, so splitting a long statement costs the length
    /// of its text, not that length for each of its subexpressions.
    printed: HashMap<NodeId, (Printed, BTreeSet<&'static str>)>,
    /// How many expressions were printed (the printer's work).
    expressions: usize,
}

/// The name a temporary has until [`Printer::name_temporaries`] numbers it.
const PENDING: &str = "t00";

impl<'a> Printer<'a> {
    fn new(program: &'a Program, roots: &[NodeId], context: &'a Context<'a>) -> Printer<'a> {
        let top = roots.iter().map(|r| r.index()).max().unwrap_or(0);
        let mut cone = vec![false; top + 1];
        for r in roots {
            cone[r.index()] = true;
        }
        let mut uses = vec![0usize; top + 1];
        for i in (0..=top).rev() {
            if !cone[i] {
                continue;
            }
            let node = &program.nodes[i];
            if let Op::Call(builtin, _) = &node.op {
                let template = Template::parse(context.target.template(*builtin)).expect("templates are checked");
                for (k, arg) in node.args.iter().enumerate() {
                    cone[arg.index()] = true;
                    uses[arg.index()] += template.uses(k).max(1);
                }
            }
        }
        for r in roots {
            uses[r.index()] += 1;
        }
        let compound = |id: NodeId| matches!(program.node(id).op, Op::Call(..));
        let named_let = |id: NodeId| context.lets.contains_key(&id);
        // An operator on leaves (`s > 0.0`, `1.0 - p`) reads as well as a name.
        let cheap = |id: NodeId| {
            let node = program.node(id);
            let Op::Call(builtin, _) = &node.op else { return true };
            let template = Template::parse(context.target.template(*builtin)).expect("templates are checked");
            matches!(template.form, Form::Binary(_) | Form::Negate)
                && node.args.iter().all(|a| !compound(*a) || named_let(*a))
        };
        let mut taken: HashSet<String> = context.taken.clone();
        let mut names = HashMap::new();
        let mut bound = Vec::new();
        // `let` names first, so that temporaries avoid them.
        let mut let_names: Vec<(NodeId, String)> = (0..=top)
            .map(|i| NodeId(i as u32))
            .filter(|id| cone[id.index()] && compound(*id) && !roots.contains(id))
            .filter_map(|id| context.lets.get(&id).map(|n| (id, n.clone())))
            .collect();
        let_names.sort();
        for (id, name) in let_names {
            let mut name = identifier(&name);
            while taken.contains(&name) {
                name.push('_');
            }
            taken.insert(name.clone());
            names.insert(id, name);
        }
        for i in 0..=top {
            let id = NodeId(i as u32);
            if !cone[i] || !compound(id) || roots.contains(&id) {
                continue;
            }
            let shared = uses[i] > 1 && !cheap(id);
            if names.contains_key(&id) || shared {
                names.entry(id).or_insert_with(|| PENDING.to_string());
                bound.push(id);
            }
        }
        let mut tensor = vec![false; top + 1];
        for i in 0..=top {
            let node = &program.nodes[i];
            tensor[i] = match &node.op {
                Op::Literal(_) | Op::Bool(_) => false,
                Op::Input(_) | Op::Param(_) => true,
                Op::Const(c) => matches!(program.consts[*c].value, Value::Vector(_)),
                Op::DimSize(_) => context.target.dims_are_tensors(),
                Op::Call(builtin, _) => {
                    let template = Template::parse(context.target.template(*builtin)).expect("templates are checked");
                    match template.form {
                        Form::Binary(_) | Form::Negate => node.args.iter().any(|a| tensor[a.index()]),
                        Form::Other(_) => true,
                    }
                }
            };
        }
        Printer {
            program,
            context,
            names,
            bound,
            taken,
            roots: roots.to_vec(),
            dims: BTreeSet::new(),
            tensor,
            printed: HashMap::new(),
            expressions: 0,
        }
    }

    /// Binds `id` to a temporary.
    fn bind(&mut self, id: NodeId) {
        self.names.insert(id, PENDING.to_string());
        self.bound.push(id);
        self.bound.sort();
        self.printed.clear();
    }

    /// Numbers the temporaries `t1`, `t2`, ... in the order they are computed.
    fn name_temporaries(&mut self) {
        let mut counter = 0;
        for id in self.bound.clone() {
            if self.names[&id] != PENDING {
                continue;
            }
            let name = loop {
                counter += 1;
                let candidate = format!("t{counter}");
                if !self.taken.contains(&candidate) {
                    break candidate;
                }
            };
            self.taken.insert(name.clone());
            self.names.insert(id, name);
        }
        self.printed.clear();
    }

    /// The subexpression of `id`'s statement to bind to a name: the longest
    /// that fits on a line of its own, or else the longest.
    fn longest_subexpression(&mut self, id: NodeId) -> Option<NodeId> {
        let mut best: Option<(usize, NodeId)> = None;
        let mut best_fitting: Option<(usize, NodeId)> = None;
        let mut stack: Vec<NodeId> = self.program.node(id).args.clone();
        let mut seen = HashSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) || self.names.contains_key(&n) || self.roots.contains(&n) {
                continue;
            }
            if !matches!(self.program.node(n).op, Op::Call(..)) {
                continue;
            }
            let (printed, _) = self.print_inline(n);
            let len = printed.text.len();
            if len > 24 && best.is_none_or(|(l, _)| len > l) {
                best = Some((len, n));
            }
            if len > 24 && len + 12 <= LINE && best_fitting.is_none_or(|(l, _)| len > l) {
                best_fitting = Some((len, n));
            }
            stack.extend(self.program.node(n).args.iter().copied());
        }
        best_fitting.or(best).map(|(_, n)| n)
    }

    /// The node's own expression (not its name), and the operations in it
    /// whose operand is guarded.
    fn print_inline(&mut self, id: NodeId) -> (Printed, BTreeSet<&'static str>) {
        let mut guarded = BTreeSet::new();
        let printed = self.print_node(id, &mut guarded, true);
        (printed, guarded)
    }

    fn print(&mut self, id: NodeId, guarded: &mut BTreeSet<&'static str>) -> Printed {
        self.print_node(id, guarded, false)
    }

    fn print_node(&mut self, id: NodeId, guarded: &mut BTreeSet<&'static str>, inline: bool) -> Printed {
        if !inline && let Some(name) = self.names.get(&id) {
            return Printed {
                text: name.clone(),
                prec: Prec::Atom,
                tensor: self.is_tensor(id),
            };
        }
        if let Some((printed, inside)) = self.printed.get(&id) {
            guarded.extend(inside.iter().copied());
            return printed.clone();
        }
        let mut inside = BTreeSet::new();
        // The recursion is as deep as the expression: up to lossc-ir's
        // `MAX_DEPTH` nested operations, more than a thread's stack holds.
        let printed = stacker::maybe_grow(128 * 1024, 4 * 1024 * 1024, || self.print_expression(id, &mut inside));
        guarded.extend(inside.iter().copied());
        self.printed.insert(id, (printed.clone(), inside));
        printed
    }

    /// The node's own expression, printed from its arguments' names or expressions.
    fn print_expression(&mut self, id: NodeId, guarded: &mut BTreeSet<&'static str>) -> Printed {
        self.expressions += 1;
        let program = self.program;
        let node = program.node(id);
        let target = self.context.target;
        match &node.op {
            Op::Literal(v) => Printed {
                text: number(*v),
                prec: if *v < 0.0 { Prec::Neg } else { Prec::Atom },
                tensor: false,
            },
            Op::Bool(b) => Printed {
                text: if *b { "True" } else { "False" }.into(),
                prec: Prec::Atom,
                tensor: false,
            },
            Op::Input(i) => leaf(identifier(&program.inputs[*i].name), true),
            Op::Param(i) => leaf(identifier(&program.params[*i].name), true),
            Op::Const(i) => {
                let c = &program.consts[*i];
                leaf(identifier(&c.name), matches!(c.value, Value::Vector(_)))
            }
            Op::DimSize(d) => {
                self.dims.insert(*d);
                let dim = identifier(&program.dims[d.0 as usize]);
                Printed {
                    text: target.dim_number(&dim, &self.dtype()),
                    prec: Prec::Atom,
                    tensor: target.dims_are_tensors(),
                }
            }
            Op::Call(builtin, attrs) => {
                for arg in &node.args {
                    if self.context.guards.contains(arg) {
                        guarded.insert(builtin.name());
                    }
                }
                self.call(*builtin, attrs, &node.args, guarded)
            }
        }
    }

    fn dtype(&self) -> String {
        format!("{}.dtype", self.context.reference)
    }

    /// Whether a node is a tensor in the emitted code (not a plain number).
    fn is_tensor(&self, id: NodeId) -> bool {
        self.tensor[id.index()]
    }

    fn call(
        &mut self,
        builtin: Builtin,
        attrs: &Attrs,
        args: &[NodeId],
        guarded: &mut BTreeSet<&'static str>,
    ) -> Printed {
        let target = self.context.target;
        let template = Template::parse(target.template(builtin)).expect("templates are checked");
        let printed: Vec<Printed> = args.iter().map(|a| self.print(*a, guarded)).collect();
        let tensor = printed.iter().any(|p| p.tensor);
        let wrap = |p: &Printed, at_least: Prec| {
            if p.prec < at_least {
                format!("({})", p.text)
            } else {
                p.text.clone()
            }
        };
        match template.form {
            Form::Binary(prec) => {
                let op = match template.segments[1] {
                    Segment::Text(t) => t,
                    _ => unreachable!("a binary template is `{{0}} OP {{1}}`"),
                };
                let (left, right) = match prec {
                    Prec::Pow => {
                        let exponent = match self.program.node(args[1]).op {
                            Op::Literal(v) => integer(v),
                            _ => None,
                        };
                        let right = exponent.unwrap_or_else(|| wrap(&printed[1], Prec::Neg));
                        (wrap(&printed[0], Prec::Atom), right)
                    }
                    Prec::Compare => (
                        wrap(&printed[0], next(Prec::Compare)),
                        wrap(&printed[1], next(Prec::Compare)),
                    ),
                    _ => (wrap(&printed[0], prec), wrap(&printed[1], next(prec))),
                };
                Printed {
                    text: format!("{left}{op}{right}"),
                    prec,
                    tensor,
                }
            }
            Form::Negate => Printed {
                text: format!("-{}", wrap(&printed[0], Prec::Pow)),
                prec: Prec::Neg,
                tensor,
            },
            Form::Other(prec) => {
                // A function of plain numbers only would make a tensor of the
                // wrong dtype (or none at all): give it one of the data's dtype.
                let numeric = |k: usize| self.program.node(args[k]).ty.kind == Kind::Num;
                let no_tensor = !(0..args.len()).any(|k| numeric(k) && printed[k].tensor);
                let mut first_numeric = (0..args.len()).find(|&k| numeric(k)).filter(|_| no_tensor);
                let mut text = String::new();
                for (s, segment) in template.segments.iter().enumerate() {
                    match *segment {
                        Segment::Text(t) => text.push_str(t),
                        Segment::Arg { index, tensor: must } => {
                            let p = &printed[index];
                            let make_tensor = (must || first_numeric == Some(index)) && !p.tensor;
                            if first_numeric == Some(index) {
                                first_numeric = None;
                            }
                            let method = matches!(
                                template.segments.get(s + 1),
                                Some(Segment::Text(t)) if t.starts_with('[') || t.starts_with('.')
                            );
                            match target.tensor(&p.text, self.context.reference) {
                                _ if method && !p.tensor => {
                                    text.push_str(&target.array(&p.text, self.context.reference))
                                }
                                Some(t) if make_tensor => text.push_str(&t),
                                _ if template.stands_alone(s) => text.push_str(&p.text),
                                _ => text.push_str(&wrap(p, Prec::Atom)),
                            }
                        }
                        Segment::Attr(attr) => text.push_str(&self.attr(attr, attrs, args)),
                    }
                }
                Printed {
                    text,
                    prec,
                    tensor: true,
                }
            }
        }
    }

    fn rank(&self, id: NodeId) -> usize {
        self.program.node(id).ty.shape.len()
    }

    fn attr(&mut self, attr: Attr, attrs: &Attrs, args: &[NodeId]) -> String {
        let rank = self.rank(args[0]);
        let (axis_kw, keep_kw) = self.context.target.reduction_keywords();
        match attr {
            Attr::KwAxes => match &attrs.axes {
                Some(axes) => format!(", {axis_kw}={}", axes_text(axes, rank)),
                None => String::new(),
            },
            Attr::KwKeepdims => {
                if attrs.keepdims {
                    format!(", {keep_kw}=True")
                } else {
                    String::new()
                }
            }
            Attr::Axes => {
                let all: Vec<usize> = (0..rank).collect();
                let axes = attrs.axes.as_ref().unwrap_or(&all);
                axes_text(axes, rank)
            }
            Attr::Axis => {
                let axis = attrs
                    .axes
                    .as_ref()
                    .and_then(|a| a.first().copied())
                    .unwrap_or(rank.saturating_sub(1));
                axes_text(&[axis], rank)
            }
            Attr::Take => {
                let axis = attrs
                    .axes
                    .as_ref()
                    .and_then(|a| a.first().copied())
                    .unwrap_or(rank.saturating_sub(1));
                let index = attrs.index.unwrap_or(0);
                if axis + 1 == rank && rank > 1 {
                    format!("..., {index}")
                } else {
                    let mut parts = vec![":".to_string(); axis];
                    parts.push(index.to_string());
                    parts.join(", ")
                }
            }
            Attr::Expand => {
                let axes = attrs.axes.clone().unwrap_or_default();
                let out_rank = rank + axes.len();
                let mut parts: Vec<&str> = (0..out_rank)
                    .map(|k| if axes.contains(&k) { "None" } else { ":" })
                    .collect();
                while parts.last() == Some(&":") {
                    parts.pop();
                }
                parts.join(", ")
            }
            Attr::Classes => match attrs.classes {
                Some(Dim::Fixed(n)) => n.to_string(),
                Some(Dim::Named(d)) => {
                    self.dims.insert(d);
                    identifier(&self.program.dims[d.0 as usize])
                }
                None => "1".into(),
            },
            Attr::Dtype => self.dtype(),
        }
    }
}

fn leaf(text: String, tensor: bool) -> Printed {
    Printed {
        text,
        prec: Prec::Atom,
        tensor,
    }
}

/// The next tighter precedence.
fn next(prec: Prec) -> Prec {
    match prec {
        Prec::Compare => Prec::Sum,
        Prec::Sum => Prec::Product,
        Prec::Product => Prec::Neg,
        Prec::Neg => Prec::Pow,
        Prec::Pow | Prec::Atom => Prec::Atom,
    }
}

/// Axes as Python: the last axis of a matrix or more as `-1`, several as a tuple.
fn axes_text(axes: &[usize], rank: usize) -> String {
    match axes {
        [one] if *one + 1 == rank && rank > 1 => "-1".into(),
        [one] => one.to_string(),
        many => format!("({})", many.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_python_floats() {
        assert_eq!(number(2.0), "2.0");
        assert_eq!(number(-0.5), "-0.5");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(f64::INFINITY), "float(\"inf\")");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(integer(2.0).as_deref(), Some("2"));
        assert_eq!(integer(0.5), None);
        assert_eq!(value(&Value::Vector(vec![1.0, 2.0])), "(1.0, 2.0)");
        assert_eq!(identifier("lambda"), "lambda_");
        assert_eq!(identifier("np"), "np_");
        assert_eq!(identifier("p_t"), "p_t");
        assert_eq!(axes_text(&[1], 2), "-1");
        assert_eq!(axes_text(&[1, 2], 3), "(1, 2)");
    }

    /// A statement 2,000 operations deep: splitting it prints each expression
    /// once per round of splitting (at most 64), not once per subexpression
    /// containing it.
    #[test]
    fn a_deep_statement_is_printed_in_work_linear_in_its_depth() {
        let depth = 2000;
        let mut source = String::from("let a0 = y_pred\n");
        for i in 1..=depth {
            source.push_str(&format!("let a{i} = 1 + a{}\n", i - 1));
        }
        source.push_str(&format!("loss = mean(a{depth})\n"));
        let ast = lossc_syntax::parse(&source).expect("parses");
        let (program, _) = lossc_ir::lower(&ast, &source).expect("valid");
        let root = program.results[0].root;
        let (lets, guards, taken) = (HashMap::new(), BTreeSet::new(), HashSet::new());
        let context = Context {
            target: Target::Jax,
            reference: "y_pred",
            lets: &lets,
            guards: &guards,
            taken: &taken,
        };
        let (body, work) = body_and_work(&program, &[root], &context);
        assert!(work <= 66 * program.nodes.len(), "{work} expressions printed");
        // The statements are split into named temporaries.
        assert!(!body.lines.is_empty());
        assert!(body.lines.iter().all(|line| line.len() <= LINE), "{:?}", body.lines);
        assert!(body.results[0].starts_with("jnp.mean("));
    }
}
