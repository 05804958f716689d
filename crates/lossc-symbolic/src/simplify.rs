//! Simplification by equality saturation (egg).
//!
//! The IR is copied into an e-graph whose nodes are the IR's own operations
//! (the built-in table, no second list of operators), the rewrite rules of
//! [`RULES`] run to a fixed point or a limit, and the cheapest equivalent
//! expression is extracted back into the program.
//!
//! Soundness rules this module keeps:
//! - every rule holds over the reals for all inputs; none needs a side
//!   condition such as `x != 0` or `x > 0` (`x / x`, `exp(log(x))` are left
//!   out), so no domain hazard is ever removed silently;
//! - every rewrite preserves the shape of the e-class it applies to (checked
//!   for every rule by [`ShapeSafe`]), so broadcasting inside a reduction can
//!   never change a result;
//! - rules only turn unstable forms into stable ones (`log(1 + x)` into
//!   `log1p(x)`), never the reverse, and the cost function prefers the stable
//!   primitives, so extraction never trades a stable form away;
//! - the runner is bounded by [`Limits`]; hitting one is reported in
//!   [`Report::stop`], not hidden.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use egg::{
    Analysis, Applier, CostFunction, DidMerge, EGraph, ENodeOrVar, FromOp, Id, Language, Pattern, PatternAst, Rewrite,
    Runner, StopReason, Subst, Symbol, Var as PVar,
};
use lossc_diagnostics::Span;
use lossc_ir::builtins::{eval_scalar, result_type};
use lossc_ir::{Attrs, Builtin, DimId, Kind, NodeId, Op, Program, Signature, Type};
use ordered_float::NotNan;

/// A leaf of the e-graph: something the rules never look inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leaf {
    Input(usize),
    Param(usize),
    Const(usize),
    Dim(DimId),
    Bool(bool),
}

/// An e-graph node: a number, a leaf, or a built-in with its static arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    Num(NotNan<f64>),
    Leaf(Leaf),
    Call(Builtin, Attrs, Vec<Id>),
}

impl Language for Term {
    type Discriminant = (u8, Option<NotNan<f64>>, Option<Leaf>, Option<(Builtin, Attrs)>, usize);

    fn discriminant(&self) -> Self::Discriminant {
        match self {
            Term::Num(v) => (0, Some(*v), None, None, 0),
            Term::Leaf(l) => (1, None, Some(*l), None, 0),
            Term::Call(b, a, args) => (2, None, None, Some((*b, a.clone())), args.len()),
        }
    }

    fn matches(&self, other: &Self) -> bool {
        self.discriminant() == other.discriminant()
    }

    fn children(&self) -> &[Id] {
        match self {
            Term::Call(_, _, args) => args,
            _ => &[],
        }
    }

    fn children_mut(&mut self) -> &mut [Id] {
        match self {
            Term::Call(_, _, args) => args,
            _ => &mut [],
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Num(v) => write!(f, "{v}"),
            Term::Leaf(l) => write!(f, "{l:?}"),
            Term::Call(b, _, _) => f.write_str(b.spec().symbol.unwrap_or(b.name())),
        }
    }
}

/// Parses the operators of rule patterns: symbols (`+`, `^`), `neg`, and the
/// names of built-ins with default static arguments.
impl FromOp for Term {
    type Error = String;

    fn from_op(op: &str, children: Vec<Id>) -> Result<Self, Self::Error> {
        if let Ok(value) = op.parse::<f64>() {
            return NotNan::new(value).map(Term::Num).map_err(|e| e.to_string());
        }
        match op {
            "true" => return Ok(Term::Leaf(Leaf::Bool(true))),
            "false" => return Ok(Term::Leaf(Leaf::Bool(false))),
            _ => {}
        }
        let arity = children.len();
        // `sum@`: the built-in with the static arguments a rule is instantiated for.
        let (op, attrs) = match op.strip_suffix('@') {
            Some(name) => (name, placeholder_attrs()),
            None => (op, Attrs::default()),
        };
        Builtin::ALL
            .iter()
            .copied()
            .find(|b| {
                let spec = b.spec();
                (spec.name == op || spec.symbol == Some(op)) && spec.params.len() == arity
            })
            .map(|b| Term::Call(b, attrs, children))
            .ok_or_else(|| format!("no built-in `{op}` with {arity} arguments"))
    }
}

/// What the e-graph knows of each class: its type, and its value when it is
/// a scalar constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub ty: Type,
    pub constant: Option<NotNan<f64>>,
}

/// The e-class analysis: types (for shape-safe rewriting) and constant folding.
#[derive(Debug, Clone, Default)]
pub struct TypeAndConstant {
    leaf_types: HashMap<Leaf, Type>,
}

type Graph = EGraph<Term, TypeAndConstant>;

impl Analysis<Term> for TypeAndConstant {
    type Data = Facts;

    fn make(egraph: &mut Graph, enode: &Term, _id: Id) -> Facts {
        match enode {
            Term::Num(v) => Facts {
                ty: Type::scalar(),
                constant: Some(*v),
            },
            Term::Leaf(leaf) => Facts {
                ty: egraph
                    .analysis
                    .leaf_types
                    .get(leaf)
                    .cloned()
                    .unwrap_or_else(Type::scalar),
                constant: None,
            },
            Term::Call(builtin, attrs, args) => {
                let types: Vec<Type> = args.iter().map(|a| egraph[*a].data.ty.clone()).collect();
                let refs: Vec<&Type> = types.iter().collect();
                let ty = result_type(*builtin, attrs, &refs);
                let constants: Option<Vec<f64>> = args
                    .iter()
                    .map(|a| egraph[*a].data.constant.map(NotNan::into_inner))
                    .collect();
                let constant = match (constants, ty.kind) {
                    (Some(values), Kind::Num) if ty.shape.is_empty() => {
                        eval_scalar(*builtin, &values).and_then(|v| NotNan::new(v).ok())
                    }
                    _ => None,
                };
                Facts { ty, constant }
            }
        }
    }

    fn merge(&mut self, to: &mut Facts, from: Facts) -> DidMerge {
        debug_assert_eq!(to.ty, from.ty, "a rewrite changed a shape");
        match (to.constant, from.constant) {
            (None, Some(c)) => {
                to.constant = Some(c);
                DidMerge(true, false)
            }
            (Some(_), None) => DidMerge(false, true),
            _ => DidMerge(false, false),
        }
    }

    fn modify(egraph: &mut Graph, id: Id) {
        if let Some(c) = egraph[id].data.constant {
            let folded = egraph.add(Term::Num(c));
            egraph.union(id, folded);
        }
    }
}

/// Applies a rule's right-hand side only where it has the type of the class
/// it is merged into.
#[derive(Debug)]
struct ShapeSafe {
    rhs: Pattern<Term>,
    /// A variable that must be bound to a scalar.
    scalar: Option<PVar>,
}

impl ShapeSafe {
    fn type_of(ast: &PatternAst<Term>, egraph: &Graph, subst: &Subst) -> Option<Type> {
        let mut types: Vec<Type> = Vec::with_capacity(ast.len());
        for node in ast.iter() {
            let ty = match node {
                ENodeOrVar::Var(v) => egraph[*subst.get(*v)?].data.ty.clone(),
                ENodeOrVar::ENode(Term::Num(_)) => Type::scalar(),
                ENodeOrVar::ENode(Term::Leaf(leaf)) => egraph.analysis.leaf_types.get(leaf)?.clone(),
                ENodeOrVar::ENode(Term::Call(b, attrs, args)) => {
                    let refs: Vec<&Type> = args.iter().map(|a| &types[usize::from(*a)]).collect();
                    if refs.iter().any(|t| t.kind == Kind::Bool)
                        != matches!(
                            b.spec().signature,
                            Signature::Logic | Signature::Where | Signature::Float
                        )
                        && !matches!(b.spec().signature, Signature::Where)
                    {
                        // Kinds must agree with the built-in's signature.
                        return None;
                    }
                    let broadcasts = refs
                        .iter()
                        .try_fold(Vec::new(), |shape, t| lossc_ir::broadcast(&shape, &t.shape).ok())
                        .is_some();
                    if !broadcasts {
                        return None;
                    }
                    result_type(*b, attrs, &refs)
                }
            };
            types.push(ty);
        }
        types.pop()
    }
}

impl Applier<Term, TypeAndConstant> for ShapeSafe {
    fn apply_one(
        &self,
        egraph: &mut Graph,
        eclass: Id,
        subst: &Subst,
        searcher_ast: Option<&PatternAst<Term>>,
        rule_name: Symbol,
    ) -> Vec<Id> {
        if let Some(var) = self.scalar
            && subst.get(var).is_none_or(|id| !egraph[*id].data.ty.shape.is_empty())
        {
            return Vec::new();
        }
        match Self::type_of(&self.rhs.ast, egraph, subst) {
            Some(ty) if ty == egraph[eclass].data.ty => {
                self.rhs.apply_one(egraph, eclass, subst, searcher_ast, rule_name)
            }
            _ => Vec::new(),
        }
    }

    fn vars(&self) -> Vec<PVar> {
        self.rhs.vars()
    }
}

/// The rewrite rules, as (name, left, right). Each holds over the reals for
/// every input, with no side condition; shapes are checked by [`ShapeSafe`].
pub const RULES: &[(&str, &str, &str)] = &[
    // Ring identities.
    ("add-comm", "(+ ?a ?b)", "(+ ?b ?a)"),
    ("mul-comm", "(* ?a ?b)", "(* ?b ?a)"),
    ("add-zero", "(+ ?a 0)", "?a"),
    ("sub-zero", "(- ?a 0)", "?a"),
    ("mul-one", "(* ?a 1)", "?a"),
    ("div-one", "(/ ?a 1)", "?a"),
    ("sub-as-add-neg", "(- ?a ?b)", "(+ ?a (- ?b))"),
    ("add-neg-as-sub", "(+ ?a (- ?b))", "(- ?a ?b)"),
    ("neg-neg", "(- (- ?a))", "?a"),
    ("neg-sub", "(- (- ?a ?b))", "(- ?b ?a)"),
    ("neg-mul", "(- (* ?a ?b))", "(* (- ?a) ?b)"),
    ("mul-neg", "(* (- ?a) ?b)", "(- (* ?a ?b))"),
    ("neg-div", "(- (/ ?a ?b))", "(/ (- ?a) ?b)"),
    ("div-neg", "(/ (- ?a) ?b)", "(- (/ ?a ?b))"),
    ("mul-minus-one", "(* -1 ?a)", "(- ?a)"),
    ("mul-div", "(* ?a (/ ?b ?c))", "(/ (* ?a ?b) ?c)"),
    ("div-div", "(/ (/ ?a ?b) ?c)", "(/ ?a (* ?b ?c))"),
    ("mul-reciprocal", "(* ?a (/ 1 ?b))", "(/ ?a ?b)"),
    ("factor", "(+ (* ?a ?b) (* ?a ?c))", "(* ?a (+ ?b ?c))"),
    ("add-self", "(+ ?a ?a)", "(* 2 ?a)"),
    // Powers.
    ("mul-self", "(* ?a ?a)", "(square ?a)"),
    ("pow-two", "(^ ?a 2)", "(square ?a)"),
    ("pow-one", "(^ ?a 1)", "?a"),
    ("pow-half", "(^ ?a 0.5)", "(sqrt ?a)"),
    ("square-neg", "(square (- ?a))", "(square ?a)"),
    ("square-abs", "(square (abs ?a))", "(square ?a)"),
    // abs and sign.
    ("abs-neg", "(abs (- ?a))", "(abs ?a)"),
    ("abs-abs", "(abs (abs ?a))", "(abs ?a)"),
    ("sign-times-abs", "(* (sign ?a) (abs ?a))", "?a"),
    // exp and log, towards the stable forms only.
    ("log-exp", "(log (exp ?a))", "?a"),
    ("log-one-plus", "(log (+ 1 ?a))", "(log1p ?a)"),
    ("exp-minus-one", "(- (exp ?a) 1)", "(expm1 ?a)"),
    ("log-sigmoid", "(log (sigmoid ?a))", "(log_sigmoid ?a)"),
    ("one-minus-sigmoid", "(- 1 (sigmoid ?a))", "(sigmoid (- ?a))"),
    ("softplus", "(log1p (exp ?a))", "(softplus ?a)"),
    ("sigmoid-ratio", "(/ (exp ?a) (+ 1 (exp ?a)))", "(sigmoid ?a)"),
    ("sigmoid-reciprocal", "(/ 1 (+ 1 (exp (- ?a))))", "(sigmoid ?a)"),
    // Conditions.
    ("where-same", "(where ?c ?a ?a)", "?a"),
    ("where-true", "(where true ?a ?b)", "?a"),
    ("where-false", "(where false ?a ?b)", "?b"),
    ("not-not", "(not (not ?c))", "?c"),
];

/// Rules about built-ins with static arguments (axes, keepdims). `name@`
/// stands for the built-in with the same static arguments on both sides; the
/// rule is instantiated for each set of arguments the program uses. The
/// fourth column names a variable that must be a scalar.
pub const ATTR_RULES: &[(&str, &str, &str, Option<&str>)] = &[
    ("exp-log-softmax", "(exp (log_softmax@ ?x))", "(softmax@ ?x)", None),
    ("log-softmax", "(log (softmax@ ?x))", "(log_softmax@ ?x)", None),
    ("sum-neg", "(sum@ (- ?x))", "(- (sum@ ?x))", None),
    ("sum-scalar-factor", "(sum@ (* ?x ?s))", "(* (sum@ ?x) ?s)", Some("?s")),
    ("sum-scalar-divisor", "(sum@ (/ ?x ?s))", "(/ (sum@ ?x) ?s)", Some("?s")),
    ("mean-neg", "(mean@ (- ?x))", "(- (mean@ ?x))", None),
    (
        "mean-scalar-factor",
        "(mean@ (* ?x ?s))",
        "(* (mean@ ?x) ?s)",
        Some("?s"),
    ),
];

fn placeholder_attrs() -> Attrs {
    Attrs {
        index: Some(i64::MIN),
        ..Attrs::default()
    }
}

/// The bounds on one simplification. Node and iteration limits decide; time
/// is only a backstop, so results are deterministic on any machine.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub nodes: usize,
    pub iterations: usize,
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            nodes: 20_000,
            iterations: 30,
            time: Duration::from_secs(2),
        }
    }
}

/// How a simplification ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// No rule had anything left to add: the result is the cheapest form the rules reach.
    Saturated,
    /// A limit stopped the search; the result is still equal, perhaps not the simplest.
    Limit(String),
}

/// What a simplification did.
#[derive(Debug, Clone)]
pub struct Report {
    pub stop: Stop,
    pub iterations: usize,
    pub nodes: usize,
}

/// The rules, with [`ATTR_RULES`] instantiated for each set of static
/// arguments in `attrs_used`. A rule that does not parse is a bug in the
/// tables above, caught by the tests.
fn rewrites(attrs_used: &[(Builtin, Attrs)]) -> Vec<Rewrite<Term, TypeAndConstant>> {
    let rule = |name: String, lhs: Pattern<Term>, rhs: Pattern<Term>, scalar: Option<&str>| {
        let scalar = scalar.map(|v| v.parse().expect("a pattern variable"));
        Rewrite::new(name.clone(), lhs, ShapeSafe { rhs, scalar }).unwrap_or_else(|e| panic!("rule {name}: {e}"))
    };
    let parse =
        |name: &str, text: &str| -> Pattern<Term> { text.parse().unwrap_or_else(|e| panic!("rule {name}: {e}")) };
    let mut rules: Vec<_> = RULES
        .iter()
        .map(|(name, lhs, rhs)| rule(name.to_string(), parse(name, lhs), parse(name, rhs), None))
        .collect();
    for (name, lhs, rhs, scalar) in ATTR_RULES {
        let (lhs, rhs) = (parse(name, lhs), parse(name, rhs));
        let builtin = lhs
            .ast
            .iter()
            .find_map(|n| match n {
                ENodeOrVar::ENode(Term::Call(b, a, _)) if *a == placeholder_attrs() => Some(*b),
                _ => None,
            })
            .expect("an attribute rule names `op@`");
        for (k, (used_builtin, attrs)) in attrs_used.iter().enumerate() {
            if *used_builtin != builtin {
                continue;
            }
            let instantiate = |pattern: &Pattern<Term>| {
                let ast: PatternAst<Term> = pattern
                    .ast
                    .iter()
                    .map(|n| match n {
                        ENodeOrVar::ENode(Term::Call(b, a, args)) if *a == placeholder_attrs() => {
                            ENodeOrVar::ENode(Term::Call(*b, attrs.clone(), args.clone()))
                        }
                        other => other.clone(),
                    })
                    .collect::<Vec<_>>()
                    .into();
                Pattern::new(ast)
            };
            rules.push(rule(
                format!("{name}-{k}"),
                instantiate(&lhs),
                instantiate(&rhs),
                *scalar,
            ));
        }
    }
    rules
}

/// Prefers fewer and cheaper operations (each built-in's `cost` column); the
/// stable primitives are cheaper than any expansion of them.
struct Cost;

impl CostFunction<Term> for Cost {
    type Cost = f64;

    fn cost<C: FnMut(Id) -> f64>(&mut self, enode: &Term, mut costs: C) -> f64 {
        let own = match enode {
            // A negative literal reads worse than a subtraction: `x - 1`, not `x + -1`.
            Term::Num(v) if v.into_inner() < 0.0 => 1.5,
            Term::Num(_) | Term::Leaf(_) => 1.0,
            Term::Call(builtin, _, _) => builtin.spec().cost,
        };
        enode.fold(own, |sum, id| sum + costs(id))
    }
}

/// Simplifies the expressions rooted at `roots`, appending the simplified
/// forms to `program`. Returns their new roots, in order, and a report.
pub fn simplify(program: &mut Program, roots: &[NodeId], limits: Limits) -> (Vec<NodeId>, Report) {
    let mut analysis = TypeAndConstant::default();
    for node in &program.nodes {
        if let Some(leaf) = leaf_of(&node.op) {
            analysis.leaf_types.insert(leaf, node.ty.clone());
        }
    }
    let mut egraph = Graph::new(analysis);
    // IR nodes into the e-graph, only those the roots reach.
    let reachable = program.reachable(roots);
    let mut class_of: HashMap<NodeId, Id> = HashMap::new();
    for (index, node) in program.nodes.iter().enumerate() {
        if !reachable[index] {
            continue;
        }
        let term = match &node.op {
            Op::Literal(v) => match NotNan::new(*v) {
                Ok(v) => Term::Num(v),
                Err(_) => continue,
            },
            Op::Call(builtin, attrs) => {
                Term::Call(*builtin, attrs.clone(), node.args.iter().map(|a| class_of[a]).collect())
            }
            other => Term::Leaf(leaf_of(other).expect("every other op is a leaf")),
        };
        class_of.insert(NodeId(index as u32), egraph.add(term));
    }
    let root_classes: Vec<Id> = roots.iter().map(|r| class_of[r]).collect();
    // The static arguments in use: attribute rules are instantiated for each.
    let mut attrs_used: Vec<(Builtin, Attrs)> = Vec::new();
    for (index, node) in program.nodes.iter().enumerate() {
        if let (true, Op::Call(builtin, attrs)) = (reachable[index], &node.op)
            && *attrs != Attrs::default()
            && !attrs_used.contains(&(*builtin, attrs.clone()))
        {
            attrs_used.push((*builtin, attrs.clone()));
        }
    }
    let runner = Runner::default()
        .with_egraph(egraph)
        .with_node_limit(limits.nodes)
        .with_iter_limit(limits.iterations)
        .with_time_limit(limits.time)
        .run(&rewrites(&attrs_used));
    let stop = match runner.stop_reason {
        Some(StopReason::Saturated) | None => Stop::Saturated,
        Some(StopReason::NodeLimit(n)) => Stop::Limit(format!("node limit ({n} e-nodes)")),
        Some(StopReason::IterationLimit(n)) => Stop::Limit(format!("iteration limit ({n})")),
        Some(StopReason::TimeLimit(t)) => Stop::Limit(format!("time limit ({t:.1} s)")),
        Some(StopReason::Other(why)) => Stop::Limit(why),
    };
    let report = Report {
        stop,
        iterations: runner.iterations.len(),
        nodes: runner.egraph.total_number_of_nodes(),
    };
    let egraph = &runner.egraph;
    // The span of each class: that of the first original node in it.
    let mut span_of: HashMap<Id, Span> = HashMap::new();
    for (node, class) in &class_of {
        let span = program.node(*node).span;
        span_of
            .entry(egraph.find(*class))
            .and_modify(|s| {
                if span.start < s.start {
                    *s = span;
                }
            })
            .or_insert(span);
    }
    let extractor = Cheapest::new(egraph);
    let mut built: HashMap<Id, NodeId> = HashMap::new();
    let mut hashcons: HashMap<Term, NodeId> = HashMap::new();
    let new_roots = root_classes
        .iter()
        .map(|&class| {
            let fallback = span_of.get(&egraph.find(class)).copied().unwrap_or_default();
            build(
                program,
                egraph,
                &extractor,
                class,
                fallback,
                &span_of,
                &mut built,
                &mut hashcons,
            )
        })
        .collect();
    (new_roots, report)
}

/// The passes over the e-graph that extraction makes the way egg's
/// `Extractor` does; past them it switches to [`Cheapest::by_knuth`].
const EXTRACTION_PASSES: usize = 32;

/// The cheapest node of every e-class by [`Cost`] (the cost of the term it
/// roots). egg's `Extractor` finds it by repeated passes over the whole
/// e-graph until nothing changes: as many passes as the e-graph is deep,
/// which took minutes on deep gradients. Up to [`EXTRACTION_PASSES`] passes
/// this does exactly what it does (same choices among equal costs); past
/// them, it finds the costs in one pass per node instead.
struct Cheapest {
    best: HashMap<Id, Term>,
}

impl Cheapest {
    fn new(egraph: &Graph) -> Cheapest {
        Self::by_passes(egraph).unwrap_or_else(|| Self::by_knuth(egraph))
    }

    /// egg's extraction, or `None` if it needs more than [`EXTRACTION_PASSES`].
    fn by_passes(egraph: &Graph) -> Option<Cheapest> {
        let mut costs: HashMap<Id, (f64, Term)> = HashMap::new();
        let mut changed = true;
        let mut passes = 0;
        while changed {
            if passes == EXTRACTION_PASSES {
                return None;
            }
            passes += 1;
            changed = false;
            for class in egraph.classes() {
                let best = class
                    .nodes
                    .iter()
                    .filter(|n| n.children().iter().all(|c| costs.contains_key(&egraph.find(*c))))
                    .map(|n| (Cost.cost(n, |c| costs[&egraph.find(c)].0), n))
                    .min_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
                let Some((cost, node)) = best else { continue };
                if costs.get(&class.id).is_none_or(|(old, _)| cost < *old) {
                    costs.insert(class.id, (cost, node.clone()));
                    changed = true;
                }
            }
        }
        let best = costs.into_iter().map(|(class, (_, node))| (class, node)).collect();
        Some(Cheapest { best })
    }

    /// The costs in time proportional to the e-graph's size times a
    /// logarithm: a class's cost is final when it is the smallest of the
    /// costs still pending (Knuth's generalisation of Dijkstra's algorithm;
    /// every node costs more than its children).
    fn by_knuth(egraph: &Graph) -> Cheapest {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        use ordered_float::OrderedFloat;

        let classes: Vec<Id> = egraph.classes().map(|c| c.id).collect();
        // For each class, the (class, node) slots that wait on it.
        let mut waiting: HashMap<Id, Vec<(Id, usize)>> = HashMap::new();
        let mut pending: HashMap<(Id, usize), usize> = HashMap::new();
        let mut heap = BinaryHeap::new();
        let mut cost: HashMap<Id, f64> = HashMap::new();
        // The order in which classes got their final cost.
        let mut rank: HashMap<Id, usize> = HashMap::new();
        let node_cost = |node: &Term, cost: &HashMap<Id, f64>| {
            Cost.cost(node, |child| {
                cost.get(&egraph.find(child)).copied().unwrap_or(f64::INFINITY)
            })
        };
        for &class in &classes {
            for (k, node) in egraph[class].nodes.iter().enumerate() {
                let children = node.children();
                if children.is_empty() {
                    heap.push(Reverse((OrderedFloat(node_cost(node, &cost)), class, k)));
                    continue;
                }
                pending.insert((class, k), children.len());
                for child in children {
                    waiting.entry(egraph.find(*child)).or_default().push((class, k));
                }
            }
        }
        while let Some(Reverse((OrderedFloat(c), class, _))) = heap.pop() {
            if cost.contains_key(&class) {
                continue;
            }
            cost.insert(class, c);
            rank.insert(class, rank.len());
            for &(parent, k) in waiting.get(&class).map(Vec::as_slice).unwrap_or_default() {
                let Some(left) = pending.get_mut(&(parent, k)) else {
                    continue;
                };
                *left -= 1;
                if *left == 0 && !cost.contains_key(&parent) {
                    let c = node_cost(&egraph[parent].nodes[k], &cost);
                    heap.push(Reverse((OrderedFloat(c), parent, k)));
                }
            }
        }
        // With the costs final, each class takes a node of least cost among
        // those whose children were final before it (deep terms cost so much
        // that a node's own cost can vanish in rounding, and a node reading
        // its own class, `x * 1`, could tie with the node that defines it).
        // Of equal costs it takes the shallowest, then the first.
        let mut order: Vec<Id> = rank.keys().copied().collect();
        order.sort_by_key(|c| rank[c]);
        let mut best: HashMap<Id, Term> = HashMap::new();
        let mut level: HashMap<Id, usize> = HashMap::new();
        for class in order {
            let own = rank[&class];
            let chosen = egraph[class]
                .nodes
                .iter()
                .filter(|n| {
                    n.children()
                        .iter()
                        .all(|c| rank.get(&egraph.find(*c)).is_some_and(|r| *r < own))
                })
                .map(|n| {
                    let depth = n
                        .children()
                        .iter()
                        .map(|c| level[&egraph.find(*c)] + 1)
                        .max()
                        .unwrap_or(0);
                    (node_cost(n, &cost), depth, n)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            if let Some((_, depth, node)) = chosen {
                level.insert(class, depth);
                best.insert(class, node.clone());
            }
        }
        Cheapest { best }
    }

    /// The cheapest node of `class`.
    fn best(&self, class: Id) -> &Term {
        &self.best[&class]
    }
}

#[allow(clippy::too_many_arguments)] // One recursive walk's state, kept explicit.
fn build(
    program: &mut Program,
    egraph: &Graph,
    extractor: &Cheapest,
    root: Id,
    fallback: Span,
    span_of: &HashMap<Id, Span>,
    built: &mut HashMap<Id, NodeId>,
    hashcons: &mut HashMap<Term, NodeId>,
) -> NodeId {
    // Iterative post-order: gradients can be deep.
    let mut stack = vec![(egraph.find(root), false)];
    while let Some((class, children_done)) = stack.pop() {
        if built.contains_key(&class) {
            continue;
        }
        let node = extractor.best(class);
        if !children_done {
            stack.push((class, true));
            for child in node.children() {
                let child = egraph.find(*child);
                if !built.contains_key(&child) {
                    stack.push((child, false));
                }
            }
            continue;
        }
        let span = span_of.get(&class).copied().unwrap_or(fallback);
        let (op, args) = match node {
            Term::Num(v) => (Op::Literal(v.into_inner()), Vec::new()),
            Term::Leaf(leaf) => (
                match *leaf {
                    Leaf::Input(i) => Op::Input(i),
                    Leaf::Param(i) => Op::Param(i),
                    Leaf::Const(i) => Op::Const(i),
                    Leaf::Dim(d) => Op::DimSize(d),
                    Leaf::Bool(b) => Op::Bool(b),
                },
                Vec::new(),
            ),
            Term::Call(builtin, attrs, children) => (
                Op::Call(*builtin, attrs.clone()),
                children.iter().map(|c| built[&egraph.find(*c)]).collect(),
            ),
        };
        // The same term twice (two classes extracting to equal nodes) is built once.
        let key = node.clone().map_children(|c| Id::from(built[&egraph.find(c)].index()));
        let id = *hashcons.entry(key).or_insert_with(|| program.add(op, args, span));
        built.insert(class, id);
    }
    built[&egraph.find(root)]
}

fn leaf_of(op: &Op) -> Option<Leaf> {
    Some(match op {
        Op::Input(i) => Leaf::Input(*i),
        Op::Param(i) => Leaf::Param(*i),
        Op::Const(i) => Leaf::Const(*i),
        Op::DimSize(d) => Leaf::Dim(*d),
        Op::Bool(b) => Leaf::Bool(*b),
        Op::Literal(_) | Op::Call(..) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The e-graph of `x_k = x_{k-1} * x_{k-1} + 1`, `depth` levels over an
    /// input, each level also holding `x_k * 1` (a node reading its own
    /// class). egg visits classes in hash order, so its passes learn only a
    /// few levels each.
    fn deep_egraph(depth: usize) -> (Graph, Id) {
        let mut analysis = TypeAndConstant::default();
        analysis.leaf_types.insert(Leaf::Input(0), Type::scalar());
        let mut egraph = Graph::new(analysis);
        let call = |b: Builtin, args: Vec<Id>| Term::Call(b, Attrs::default(), args);
        let one = egraph.add(Term::Num(NotNan::new(1.0).unwrap()));
        let mut x = egraph.add(Term::Leaf(Leaf::Input(0)));
        for _ in 0..depth {
            let square = egraph.add(call(Builtin::Mul, vec![x, x]));
            x = egraph.add(call(Builtin::Add, vec![square, one]));
            let same = egraph.add(call(Builtin::Mul, vec![x, one]));
            egraph.union(x, same);
        }
        egraph.rebuild();
        (egraph, x)
    }

    #[test]
    fn deep_e_graphs_are_extracted_in_one_pass_per_node() {
        let (egraph, root) = deep_egraph(200);
        // egg's passes would need one per level: past the budget, the
        // ordered extraction takes over, with the same optimal costs.
        assert!(Cheapest::by_passes(&egraph).is_none());
        let fast = Cheapest::new(&egraph);
        let (egg_cost, _) = egg::Extractor::new(&egraph, Cost).find_best(root);
        let cost_of = |class: Id| {
            let mut memo: HashMap<Id, f64> = HashMap::new();
            let mut stack = vec![(egraph.find(class), false)];
            while let Some((c, done)) = stack.pop() {
                if memo.contains_key(&c) {
                    continue;
                }
                let node = fast.best(c);
                if !done {
                    stack.push((c, true));
                    stack.extend(node.children().iter().map(|k| (egraph.find(*k), false)));
                    continue;
                }
                let value = Cost.cost(node, |k| memo[&egraph.find(k)]);
                memo.insert(c, value);
            }
            memo[&egraph.find(class)]
        };
        assert_eq!(cost_of(root), egg_cost);
        // A shallow e-graph is extracted exactly as egg does.
        let (egraph, root) = deep_egraph(5);
        let passes = Cheapest::by_passes(&egraph).expect("within the pass budget");
        let (_, expr) = egg::Extractor::new(&egraph, Cost).find_best(root);
        let root_node = expr.as_ref().last().unwrap();
        assert_eq!(passes.best(egraph.find(root)).discriminant(), root_node.discriminant());
    }
}
