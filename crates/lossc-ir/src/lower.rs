//! AST to IR: name resolution, `def` expansion, type and shape checking.
//!
//! Declarations (`input`, `param`, `const`, `def`, `wrt`) are visible
//! everywhere; `let` bindings are visible from the statement after them on,
//! and a `def` body sees the `let`s written above the `def`. Errors are pushed
//! as diagnostics and the failing expression becomes "poisoned" (`Err(())`),
//! so one mistake is reported once, not again at every use.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, BinaryOp, DimSpec, DomainKind, Expr, ExprKind, LiteralKind, StatementKind, UnaryOp};

use crate::builtins::{Builtin, Signature};
use crate::program::*;
use crate::types::{Dim, DimId, Kind, Shape, Type, broadcast};

/// A failed expression; its diagnostic has already been pushed.
#[derive(Debug, Clone, Copy)]
struct Poisoned;

type Lowered = Result<NodeId, Poisoned>;

/// Implicit inputs, in the order they are added: `real [N]` when used undeclared.
const IMPLICIT_INPUTS: [&str; 2] = ["y_true", "y_pred"];

/// The most axes a value may have (NumPy's own limit was 32 until 2.0).
pub const MAX_RANK: usize = 32;

/// The most elements a value's fixed dimensions may multiply to, and so the
/// largest fixed dimension: 2^31 - 1, the largest 32-bit index the
/// frameworks use.
pub const MAX_FIXED_ELEMENTS: u64 = (1 << 31) - 1;

/// The most expression steps lowering takes (each one an expression of the
/// source lowered once, at a def's expansion or in a statement): a bound on
/// the work and size of a program whose defs expand to very many distinct
/// operations.
pub const MAX_LOWERING_STEPS: usize = 1 << 18;

/// The most operations nested in one value (the longest chain of arguments
/// from a leaf): a chain of `let`s or defs can be as long as the program,
/// and every later stage walks it.
pub const MAX_DEPTH: usize = 4096;

/// Stack left before lowering an expression grows the stack, and the size
/// of each new segment: one level of def expansion takes a few frames.
const STACK_RED_ZONE: usize = 128 * 1024;
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// Checks `ast` (parsed from `source`) and builds its IR with the front end's
/// warnings, or returns every diagnostic found if there is an error among them.
pub fn lower(ast: &ast::Program, source: &str) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    Lowering::new(ast, source).map(Lowering::into_parts)
}

/// A lowered program that statements can be appended to: a REPL session,
/// where each entry lowers only what it adds.
///
/// [`Lowering::append`] lowers `let`, `loss` and `output` statements written
/// after the program against what is already lowered (its names, nodes and
/// expanded defs), with the work of those statements alone; the result is
/// the IR and warnings that lowering the whole text would give. Anything
/// else (a declaration, which can change what earlier statements mean, or a
/// statement with an error, whose diagnostics depend on the whole program)
/// is refused, and the caller lowers the whole program instead.
///
/// ```
/// let first = "input y_pred: [0, 1]\nloss a = mean(y_pred)";
/// let lowering = lossc_ir::Lowering::new(&lossc_syntax::parse(first).unwrap(), first).unwrap();
/// let entry = "loss b = mean(square(y_pred))";
/// let whole = format!("{first}\n{entry}");
/// let added = lossc_syntax::parse_at(entry, first.len() + 1).unwrap();
/// let lowering = lowering.append(&added, &whole).expect("a loss can be appended");
/// assert_eq!(lowering.statements_lowered(), 3);
/// let (program, _) = lossc_ir::lower(&lossc_syntax::parse(&whole).unwrap(), &whole).unwrap();
/// assert_eq!(*lowering.program(), program);
/// ```
#[derive(Clone)]
pub struct Lowering {
    /// The lowerer's state after the program, detached from its text.
    lowerer: Lowerer<'static>,
    /// The front end's warnings, sorted.
    warnings: Vec<Diagnostic>,
    /// Statements lowered since [`Lowering::new`], that call's included.
    statements_lowered: usize,
}

impl std::fmt::Debug for Lowering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lowering")
            .field("program", &self.lowerer.program)
            .field("warnings", &self.warnings)
            .field("statements_lowered", &self.statements_lowered)
            .finish_non_exhaustive()
    }
}

impl Lowering {
    /// Lowers a whole program, as [`lower`] does.
    pub fn new(ast: &ast::Program, source: &str) -> Result<Lowering, Vec<Diagnostic>> {
        let mut lowerer = Lowerer::new(source);
        lowerer.declare(ast);
        lowerer.check_def_cycles();
        lowerer.define(ast);
        lowerer.check_unused_defs();
        let mut diagnostics = std::mem::take(&mut lowerer.diagnostics);
        lossc_diagnostics::sort(&mut diagnostics);
        diagnostics.dedup();
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(diagnostics);
        }
        Ok(Lowering {
            lowerer: lowerer.with_source(""),
            warnings: diagnostics,
            statements_lowered: ast.statements.len(),
        })
    }

    /// Lowers `added`, statements parsed from the end of `source` (see
    /// [`lossc_syntax::parse_at`]), whose text before them is the program
    /// lowered so far. `None` when they cannot be appended: a statement
    /// other than `let`, `loss` and `output`, or any error; the caller then
    /// lowers the whole of `source` for its diagnostics.
    pub fn append(self, added: &ast::Program, source: &str) -> Option<Lowering> {
        let appendable = added.statements.iter().all(|statement| {
            matches!(
                statement.kind,
                StatementKind::Let { .. } | StatementKind::Loss { .. } | StatementKind::Output { .. }
            )
        });
        if !appendable {
            return None;
        }
        let Lowering {
            lowerer,
            mut warnings,
            statements_lowered,
        } = self;
        let mut lowerer = lowerer.with_source(source);
        lowerer.define(added);
        let mut diagnostics = std::mem::take(&mut lowerer.diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return None;
        }
        warnings.append(&mut diagnostics);
        lossc_diagnostics::sort(&mut warnings);
        warnings.dedup();
        Some(Lowering {
            lowerer: lowerer.with_source(""),
            warnings,
            statements_lowered: statements_lowered + added.statements.len(),
        })
    }

    /// The IR of the program lowered so far.
    pub fn program(&self) -> &Program {
        &self.lowerer.program
    }

    /// The front end's warnings on it, sorted by position.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// How many statements this lowering has lowered: the whole program's
    /// at [`Lowering::new`], then each appended one. The work it did, for
    /// tests that bound it.
    pub fn statements_lowered(&self) -> usize {
        self.statements_lowered
    }

    /// The IR and the warnings.
    pub fn into_parts(self) -> (Program, Vec<Diagnostic>) {
        (self.lowerer.program, self.warnings)
    }
}

/// What a global name refers to.
#[derive(Debug, Clone, Copy)]
enum Global {
    Input(usize),
    Param(usize),
    Const(usize),
    Dim(DimId),
}

/// A def, holding its own copy of its parameters and body (so a
/// [`Lowering`] can outlive the AST it was built from).
#[derive(Clone)]
struct Def {
    params: Rc<[ast::Ident]>,
    body: Rc<Expr>,
    name_span: Span,
    /// How many `let`s precede the def: the ones its body can see.
    lets_visible: usize,
    /// Part of a recursive cycle (already reported).
    recursive: bool,
    used: bool,
}

#[derive(Clone)]
struct Let {
    name: String,
    span: Span,
    value: Option<Lowered>,
}

/// Where a name is looked up: a def's parameters, then the visible lets, then globals.
#[derive(Clone, Copy)]
struct Scope<'s> {
    params: Option<&'s HashMap<String, Lowered>>,
    lets_visible: usize,
}

#[derive(Clone)]
struct Lowerer<'a> {
    source: &'a str,
    program: Program,
    diagnostics: Vec<Diagnostic>,
    globals: HashMap<String, Global>,
    /// Where each global was declared, for duplicate-name notes.
    declared_at: HashMap<String, Span>,
    defs: HashMap<String, Def>,
    lets: Vec<Let>,
    /// One shared node per input, param and const.
    leaf_nodes: HashMap<(u8, usize), NodeId>,
    /// The def calls being expanded (def name, call span), innermost last.
    expanding: Vec<(String, Span)>,
    /// Every node pushed, by what it computes and where it came from: the
    /// same source text applied to the same arguments is one node.
    interned: HashMap<NodeKey, NodeId>,
    /// Each def call already expanded, by def and argument nodes.
    expanded: HashMap<(String, Vec<Option<NodeId>>), Lowered>,
    /// Expressions lowered so far, against [`MAX_LOWERING_STEPS`].
    steps: usize,
    /// Each node's depth: 0 for a leaf, else one more than its deepest argument.
    depth: Vec<u32>,
}

/// What makes two nodes the same: operation, attributes, arguments and span.
/// Only a `def` body lowers the same text twice, so sharing them turns
/// repeated expansions into one node without merging anything the user
/// wrote twice (each occurrence keeps its own span and diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct NodeKey {
    op: OpKey,
    args: Vec<NodeId>,
    span: Span,
}

/// [`Op`] with its literal as bits, so it can be hashed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum OpKey {
    Literal(u64),
    Bool(bool),
    Input(usize),
    Param(usize),
    Const(usize),
    DimSize(DimId),
    Call(Builtin, Attrs),
}

impl OpKey {
    fn of(op: &Op) -> OpKey {
        match op {
            Op::Literal(value) => OpKey::Literal(value.to_bits()),
            Op::Bool(value) => OpKey::Bool(*value),
            Op::Input(i) => OpKey::Input(*i),
            Op::Param(i) => OpKey::Param(*i),
            Op::Const(i) => OpKey::Const(*i),
            Op::DimSize(id) => OpKey::DimSize(*id),
            Op::Call(builtin, attrs) => OpKey::Call(*builtin, attrs.clone()),
        }
    }
}

impl<'a> Lowerer<'a> {
    fn new(source: &'a str) -> Self {
        Lowerer {
            source,
            program: Program {
                dims: Vec::new(),
                inputs: Vec::new(),
                params: Vec::new(),
                consts: Vec::new(),
                results: Vec::new(),
                wrt: Vec::new(),
                batch: None,
                nodes: Vec::new(),
                lets: Vec::new(),
            },
            diagnostics: Vec::new(),
            globals: HashMap::new(),
            declared_at: HashMap::new(),
            defs: HashMap::new(),
            lets: Vec::new(),
            leaf_nodes: HashMap::new(),
            expanding: Vec::new(),
            interned: HashMap::new(),
            expanded: HashMap::new(),
            steps: 0,
            depth: Vec::new(),
        }
    }

    /// The same state, reading `source`: a [`Lowering`] keeps its lowerer
    /// with no text between appends.
    fn with_source(self, source: &str) -> Lowerer<'_> {
        Lowerer {
            source,
            program: self.program,
            diagnostics: self.diagnostics,
            globals: self.globals,
            declared_at: self.declared_at,
            defs: self.defs,
            lets: self.lets,
            leaf_nodes: self.leaf_nodes,
            expanding: self.expanding,
            interned: self.interned,
            expanded: self.expanded,
            steps: self.steps,
            depth: self.depth,
        }
    }

    fn text(&self, span: Span) -> &'a str {
        self.source.get(span.start..span.end).unwrap_or("")
    }

    fn error(&mut self, diagnostic: Diagnostic) -> Poisoned {
        self.diagnostics.push(diagnostic);
        Poisoned
    }

    // ------------------------------------------------------------ declarations

    /// Claims a name for a declaration; reports a duplicate otherwise.
    fn claim(&mut self, name: &str, span: Span, what: &str) -> bool {
        if let Some(&first) = self.declared_at.get(name) {
            self.diagnostics.push(
                Diagnostic::error(Code::DuplicateName, format!("`{name}` is defined more than once"), span)
                    .with_label(format!(
                        "`{name}` redefined here as {} {what}",
                        if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
                            "an"
                        } else {
                            "a"
                        }
                    ))
                    .with_secondary(first, "first defined here")
                    .with_help("give each input, param, const, let, def and dimension its own name"),
            );
            return false;
        }
        if Builtin::by_name(name).is_some() && what == "def" {
            self.diagnostics.push(
                Diagnostic::error(Code::DuplicateName, format!("`{name}` is a built-in function"), span)
                    .with_label("a def cannot replace a built-in")
                    .with_help(format!("name it differently, e.g. `my_{name}`")),
            );
            return false;
        }
        self.declared_at.insert(name.to_string(), span);
        true
    }

    fn dim(&mut self, name: &str, span: Span) -> Option<DimId> {
        if let Some(Global::Dim(id)) = self.globals.get(name) {
            return Some(*id);
        }
        if !self.claim(name, span, "dimension") {
            return None;
        }
        let id = DimId(self.program.dims.len() as u32);
        self.program.dims.push(name.to_string());
        self.globals.insert(name.to_string(), Global::Dim(id));
        Some(id)
    }

    fn default_shape(&mut self, span: Span) -> Shape {
        match self.globals.get("N") {
            Some(Global::Dim(id)) => vec![Dim::Named(*id)],
            Some(_) => Vec::new(),
            None => self.dim("N", span).map(Dim::Named).into_iter().collect(),
        }
    }

    fn declare(&mut self, ast: &ast::Program) {
        // Implicit inputs come first, in a fixed order, when used undeclared.
        let declared: HashSet<&str> = ast
            .statements
            .iter()
            .filter_map(|s| match &s.kind {
                StatementKind::Input { name, .. }
                | StatementKind::Param { name, .. }
                | StatementKind::Const { name, .. }
                | StatementKind::Let { name, .. } => Some(name.name.as_str()),
                _ => None,
            })
            .collect();
        for implicit in IMPLICIT_INPUTS {
            if declared.contains(implicit) {
                continue;
            }
            if let Some(span) = first_use(ast, implicit) {
                let shape = self.default_shape(span);
                self.claim(implicit, span, "input");
                self.globals
                    .insert(implicit.to_string(), Global::Input(self.program.inputs.len()));
                self.program.inputs.push(Input {
                    name: implicit.to_string(),
                    domain: Domain::Real,
                    shape,
                    span,
                    implicit: true,
                    domain_stated: false,
                });
            }
        }
        let mut lets_seen = 0;
        for statement in &ast.statements {
            match &statement.kind {
                StatementKind::Input { name, domain, shape } => {
                    let domain_stated = domain.kind != DomainKind::Unstated;
                    let domain = self.domain(domain);
                    let shape = match shape {
                        None => self.default_shape(name.span),
                        Some(spec) => {
                            let shape: Shape = spec
                                .dims
                                .iter()
                                .filter_map(|d| match d {
                                    DimSpec::Named(ident) => self.dim(&ident.name, ident.span).map(Dim::Named),
                                    DimSpec::Fixed { size, .. } => Some(Dim::Fixed(*size)),
                                })
                                .collect();
                            self.check_declared_shape(spec, &shape);
                            shape
                        }
                    };
                    if self.claim(&name.name, name.span, "input") {
                        self.globals
                            .insert(name.name.clone(), Global::Input(self.program.inputs.len()));
                    }
                    self.program.inputs.push(Input {
                        name: name.name.clone(),
                        domain: domain.unwrap_or(Domain::Real),
                        shape,
                        span: statement.span,
                        implicit: false,
                        domain_stated,
                    });
                }
                StatementKind::Param { name, value } | StatementKind::Const { name, value } => {
                    let is_param = matches!(statement.kind, StatementKind::Param { .. });
                    let value = match &value.kind {
                        LiteralKind::Scalar(v) => Value::Scalar(*v),
                        LiteralKind::Vector(vs) => Value::Vector(vs.clone()),
                    };
                    let constant = Constant {
                        name: name.name.clone(),
                        value,
                        span: statement.span,
                    };
                    let what = if is_param { "param" } else { "const" };
                    let claimed = self.claim(&name.name, name.span, what);
                    let list = if is_param {
                        &mut self.program.params
                    } else {
                        &mut self.program.consts
                    };
                    let index = list.len();
                    list.push(constant);
                    if claimed {
                        let global = if is_param {
                            Global::Param(index)
                        } else {
                            Global::Const(index)
                        };
                        self.globals.insert(name.name.clone(), global);
                    }
                }
                StatementKind::Def { name, params, body } => {
                    let mut seen = HashMap::new();
                    for param in params {
                        if let Some(first) = seen.insert(param.name.as_str(), param.span) {
                            self.diagnostics.push(
                                Diagnostic::error(
                                    Code::DuplicateName,
                                    format!("parameter `{}` appears twice in `{}`", param.name, name.name),
                                    param.span,
                                )
                                .with_secondary(first, "first here"),
                            );
                        }
                    }
                    if self.claim(&name.name, name.span, "def") {
                        self.defs.insert(
                            name.name.clone(),
                            Def {
                                params: params.as_slice().into(),
                                body: Rc::new(body.clone()),
                                name_span: name.span,
                                lets_visible: lets_seen,
                                recursive: false,
                                used: false,
                            },
                        );
                    }
                }
                StatementKind::Let { .. } => lets_seen += 1,
                StatementKind::Loss { .. } | StatementKind::Output { .. } | StatementKind::Wrt { .. } => {}
            }
        }
        // `wrt`, default `y_pred`.
        let mut any_wrt = false;
        for statement in &ast.statements {
            if let StatementKind::Wrt { names } = &statement.kind {
                any_wrt = true;
                for ident in names {
                    match self.globals.get(&ident.name).copied() {
                        Some(Global::Input(i)) => self.push_wrt(Var::Input(i)),
                        Some(Global::Param(i)) => self.push_wrt(Var::Param(i)),
                        Some(other) => {
                            let what = match other {
                                Global::Const(_) => "a const",
                                _ => "a dimension",
                            };
                            self.diagnostics.push(
                                Diagnostic::error(
                                    Code::TypeMismatch,
                                    format!("cannot take a gradient with respect to `{}`, {what}", ident.name),
                                    ident.span,
                                )
                                .with_label("not an input or a param")
                                .with_help("`wrt` names inputs or params; to vary a constant, declare it as a `param`"),
                            );
                        }
                        None => {
                            let candidates: Vec<String> = self
                                .globals
                                .iter()
                                .filter(|(_, g)| matches!(g, Global::Input(_) | Global::Param(_)))
                                .map(|(n, _)| n.clone())
                                .collect();
                            let mut diagnostic = Diagnostic::error(
                                Code::UnknownName,
                                format!("cannot find input or param `{}`", ident.name),
                                ident.span,
                            )
                            .with_label("not declared");
                            if let Some(best) = closest(&ident.name, candidates.iter().map(String::as_str)) {
                                diagnostic = diagnostic
                                    .with_help(format!("an input or param with a similar name exists: `{best}`"))
                                    .with_fix(ident.span, best);
                            }
                            self.diagnostics.push(diagnostic);
                        }
                    }
                }
            }
        }
        if !any_wrt && let Some(Global::Input(i)) = self.globals.get("y_pred").copied() {
            self.push_wrt(Var::Input(i));
        }
        self.program.batch = self
            .program
            .wrt
            .iter()
            .find_map(|v| match v {
                Var::Input(i) => self.program.inputs[*i].shape.first().copied(),
                Var::Param(_) => None,
            })
            .or_else(|| self.program.inputs.first().and_then(|i| i.shape.first().copied()));
    }

    /// Reports a declared shape beyond [`MAX_RANK`] axes or
    /// [`MAX_FIXED_ELEMENTS`] elements, at the dimension that goes over.
    fn check_declared_shape(&mut self, spec: &ast::ShapeSpec, shape: &Shape) {
        if shape.len() > MAX_RANK {
            self.diagnostics
                .push(too_many_axes(shape.len(), spec.dims[MAX_RANK].span()));
            return;
        }
        let mut elements: u64 = 1;
        for dim in &spec.dims {
            if let DimSpec::Fixed { size, span } = dim {
                elements = elements.saturating_mul(*size);
                if elements > MAX_FIXED_ELEMENTS {
                    let text = self.program.shape_string(shape);
                    self.diagnostics.push(too_many_elements(&text, *span));
                    return;
                }
            }
        }
    }

    /// A value's type within [`MAX_RANK`] and [`MAX_FIXED_ELEMENTS`], or a
    /// `size-limit` error at `span`, the expression that builds it.
    fn check_size(&mut self, ty: &Type, span: Span) -> Result<(), Poisoned> {
        if ty.shape.len() > MAX_RANK {
            return Err(self.error(too_many_axes(ty.shape.len(), span)));
        }
        let elements = ty.shape.iter().try_fold(1u64, |product, dim| match dim {
            Dim::Fixed(size) => product.checked_mul(*size).filter(|p| *p <= MAX_FIXED_ELEMENTS),
            Dim::Named(_) => Some(product),
        });
        if elements.is_none() {
            let text = self.program.shape_string(&ty.shape);
            return Err(self.error(too_many_elements(&text, span)));
        }
        Ok(())
    }

    fn push_wrt(&mut self, var: Var) {
        if !self.program.wrt.contains(&var) {
            self.program.wrt.push(var);
        }
    }

    fn domain(&mut self, domain: &ast::Domain) -> Option<Domain> {
        Some(match &domain.kind {
            DomainKind::Real | DomainKind::Unstated => Domain::Real,
            DomainKind::Set(values) => {
                if values.iter().any(|v| !v.is_finite()) {
                    self.diagnostics.push(
                        Diagnostic::error(Code::BadDomain, "a set domain holds finite numbers only", domain.span)
                            .with_help("an input never holds an infinity; use an interval such as `[0, inf)`"),
                    );
                    return None;
                }
                Domain::Set(values.clone())
            }
            DomainKind::Interval { lo, hi } => {
                let empty = lo.value > hi.value || (lo.value == hi.value && !(lo.closed && hi.closed));
                if lo.value.is_nan()
                    || hi.value.is_nan()
                    || empty
                    || lo.value == f64::INFINITY
                    || hi.value == f64::NEG_INFINITY
                {
                    self.diagnostics.push(
                        Diagnostic::error(
                            Code::BadDomain,
                            format!("the interval `{}` is empty", self.text(domain.span)),
                            domain.span,
                        )
                        .with_label("no value lies in this interval")
                        .with_help("write the lower end first, e.g. `[0, 1]`; a single value is `[a, a]` or `{a}`"),
                    );
                    return None;
                }
                Domain::Interval {
                    lo: lo.value,
                    lo_closed: lo.closed && lo.value.is_finite(),
                    hi: hi.value,
                    hi_closed: hi.closed && hi.value.is_finite(),
                }
            }
        })
    }

    /// Reports every recursive cycle of defs once, at the call that closes it.
    fn check_def_cycles(&mut self) {
        let mut names: Vec<String> = self.defs.keys().cloned().collect();
        names.sort_by_key(|n| self.defs[n].name_span.start);
        let mut done: HashSet<String> = HashSet::new();
        for name in names {
            let mut stack = Vec::new();
            self.visit_def(&name, &mut stack, &mut done);
        }
    }

    fn visit_def(&mut self, name: &str, stack: &mut Vec<String>, done: &mut HashSet<String>) {
        if done.contains(name) {
            return;
        }
        stack.push(name.to_string());
        let body = self.defs[name].body.clone();
        let mut calls = Vec::new();
        collect_calls(&body, &mut calls);
        for (callee, span) in calls {
            if !self.defs.contains_key(&callee) {
                continue;
            }
            if let Some(pos) = stack.iter().position(|n| *n == callee) {
                let cycle: Vec<String> = stack[pos..].iter().map(|n| format!("`{n}`")).collect();
                let how = if cycle.len() == 1 {
                    format!("`{callee}` calls itself")
                } else {
                    format!("{} call each other in a cycle", cycle.join(", "))
                };
                let def_span = self.defs[name].name_span;
                self.diagnostics.push(
                    Diagnostic::error(Code::RecursiveDef, format!("recursive def: {how}"), span)
                        .with_label(format!("`{callee}` is called again here"))
                        .with_secondary(def_span, format!("inside `{name}`, defined here"))
                        .with_note("defs are expanded at their call sites, so they cannot recurse")
                        .with_help("write the expression out, or bind intermediate values with `let`"),
                );
                for n in &stack[pos..] {
                    if let Some(def) = self.defs.get_mut(n) {
                        def.recursive = true;
                    }
                }
                continue;
            }
            self.visit_def(&callee, stack, done);
        }
        stack.pop();
        done.insert(name.to_string());
    }

    // ------------------------------------------------------------- statements

    fn define(&mut self, ast: &ast::Program) {
        for statement in &ast.statements {
            match &statement.kind {
                StatementKind::Let { name, value } => {
                    let scope = Scope {
                        params: None,
                        lets_visible: self.lets.len(),
                    };
                    let claimed = self.claim(&name.name, name.span, "let");
                    let lowered = self.expr(value, scope);
                    if let (true, Ok(node)) = (claimed, &lowered) {
                        self.program.lets.push(LetBinding {
                            name: name.name.clone(),
                            node: *node,
                            span: name.span,
                        });
                    }
                    if claimed {
                        self.lets.push(Let {
                            name: name.name.clone(),
                            span: name.span,
                            value: Some(lowered),
                        });
                    } else {
                        self.lets.push(Let {
                            name: String::new(),
                            span: name.span,
                            value: None,
                        });
                    }
                }
                StatementKind::Loss { name, value } => {
                    let scope = Scope {
                        params: None,
                        lets_visible: self.lets.len(),
                    };
                    let name = name.as_ref().map_or("loss", |n| n.name.as_str());
                    if let Ok(root) = self.expr(value, scope) {
                        self.result(name, ResultKind::Loss, root, statement.span, value.span);
                    }
                }
                StatementKind::Output { name, value } => {
                    let scope = Scope {
                        params: None,
                        lets_visible: self.lets.len(),
                    };
                    if let Ok(root) = self.expr(value, scope) {
                        self.result(&name.name, ResultKind::Output, root, statement.span, value.span);
                    }
                }
                _ => {}
            }
        }
    }

    fn result(&mut self, name: &str, kind: ResultKind, root: NodeId, span: Span, value_span: Span) {
        if let Some(previous) = self.program.results.iter().find(|r| r.name == name) {
            let first = previous.span;
            self.diagnostics.push(
                Diagnostic::error(
                    Code::DuplicateName,
                    format!("a result named `{name}` is already defined"),
                    span,
                )
                .with_secondary(first, "first defined here")
                .with_help("give each `loss` and `output` its own name: `loss my_name = ...`"),
            );
            return;
        }
        let ty = self.program.node(root).ty.clone();
        if kind == ResultKind::Loss {
            if ty.kind == Kind::Bool {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!("the loss `{name}` is a boolean"),
                        value_span,
                    )
                    .with_label("a loss must be a number")
                    .with_help(format!(
                        "turn the condition into 0/1 with `float({})`",
                        self.text(value_span)
                    )),
                );
                return;
            }
            let per_sample = ty.shape.len() == 1 && Some(ty.shape[0]) == self.program.batch;
            if !(ty.shape.is_empty() || per_sample) {
                let shape = self.program.shape_string(&ty.shape);
                let batch = self.program.batch.map(|b| self.program.shape_string(&[b]));
                let help = if ty.shape.len() >= 2 && Some(ty.shape[0]) == self.program.batch {
                    format!(
                        "reduce the other axes to get one value per sample, e.g. `sum({}, axis=-1)`, or everything with `mean(...)`",
                        self.text(value_span)
                    )
                } else {
                    format!("reduce it to a scalar with `mean({})`", self.text(value_span))
                };
                let expected = match &batch {
                    Some(b) => format!("a scalar `[]` or per-sample `{b}`"),
                    None => "a scalar `[]`".to_string(),
                };
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::LossShape,
                        format!("the loss `{name}` has shape {shape}, but a loss must be {expected}"),
                        value_span,
                    )
                    .with_label(format!("this has shape {shape}"))
                    .with_note("a per-sample loss is reduced by its mean, as Keras does")
                    .with_help(help),
                );
                return;
            }
        }
        self.program.results.push(NamedResult {
            name: name.to_string(),
            kind,
            root,
            span,
        });
    }

    /// Defs that were never called are still checked for unknown names.
    fn check_unused_defs(&mut self) {
        let mut unused: Vec<(Rc<Expr>, Vec<String>, usize)> = self
            .defs
            .values()
            .filter(|d| !d.used && !d.recursive)
            .map(|d| {
                (
                    d.body.clone(),
                    d.params.iter().map(|p| p.name.clone()).collect(),
                    d.lets_visible,
                )
            })
            .collect();
        unused.sort_by_key(|(body, _, _)| body.span.start);
        for (body, params, lets_visible) in unused {
            self.check_names(&body, &params, lets_visible);
        }
    }

    fn check_names(&mut self, expr: &Expr, params: &[String], lets_visible: usize) {
        match &expr.kind {
            ExprKind::Name(name) => {
                if !params.contains(name)
                    && self.lookup_let(name, lets_visible).is_none()
                    && !self.globals.contains_key(name)
                {
                    let scope = Scope {
                        params: None,
                        lets_visible,
                    };
                    let diagnostic = self.unknown_value(name, expr.span, scope, params);
                    self.diagnostics.push(diagnostic);
                }
            }
            ExprKind::Call { callee, args } => {
                if !self.defs.contains_key(&callee.name) && Builtin::by_name(&callee.name).is_none() {
                    let diagnostic = self.unknown_function(callee);
                    self.diagnostics.push(diagnostic);
                }
                for arg in args {
                    if arg.name.is_none() {
                        self.check_names(&arg.value, params, lets_visible);
                    }
                }
            }
            ExprKind::Unary { operand, .. } | ExprKind::Paren(operand) => {
                self.check_names(operand, params, lets_visible)
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                self.check_names(lhs, params, lets_visible);
                self.check_names(rhs, params, lets_visible);
            }
            ExprKind::Tuple(items) => items.iter().for_each(|e| self.check_names(e, params, lets_visible)),
            ExprKind::Number(_) | ExprKind::Bool(_) => {}
        }
    }

    // ------------------------------------------------------------ expressions

    /// An operation on `args`, within [`MAX_DEPTH`] (a `size-limit` error
    /// at `span` otherwise): see [`Lowerer::push_node`].
    fn push(&mut self, op: Op, args: Vec<NodeId>, ty: Type, span: Span) -> Lowered {
        let depth = args.iter().map(|a| self.depth[a.index()] + 1).max().unwrap_or(0);
        if depth as usize > MAX_DEPTH {
            return Err(self.error(
                Diagnostic::error(
                    Code::SizeLimit,
                    format!("this value is computed by more than {MAX_DEPTH} nested operations"),
                    span,
                )
                .with_label("nested too deep")
                .with_note("every `let` and `def` call adds its operations to the chain that computes a value")
                .with_help("shorten the chain of lets or defs that builds this value"),
            ));
        }
        Ok(self.push_node(op, args, ty, span))
    }

    /// Appends a node, or returns the node already built from the same
    /// source span with the same operation and arguments (see [`NodeKey`]).
    fn push_node(&mut self, op: Op, args: Vec<NodeId>, ty: Type, span: Span) -> NodeId {
        let key = NodeKey {
            op: OpKey::of(&op),
            args: args.clone(),
            span,
        };
        if let Some(&id) = self.interned.get(&key) {
            return id;
        }
        let id = NodeId(self.program.nodes.len() as u32);
        let depth = args.iter().map(|a| self.depth[a.index()] + 1).max().unwrap_or(0);
        self.program.nodes.push(Node { op, args, ty, span });
        self.depth.push(depth);
        self.interned.insert(key, id);
        id
    }

    fn ty(&self, id: NodeId) -> &Type {
        &self.program.node(id).ty
    }

    fn leaf(&mut self, global: Global) -> NodeId {
        let (key, op, ty, span) = match global {
            Global::Input(i) => {
                let input = &self.program.inputs[i];
                ((0, i), Op::Input(i), Type::num(input.shape.clone()), input.span)
            }
            Global::Param(i) => {
                let param = &self.program.params[i];
                ((1, i), Op::Param(i), Type::num(param.value.shape()), param.span)
            }
            Global::Const(i) => {
                let constant = &self.program.consts[i];
                ((2, i), Op::Const(i), Type::num(constant.value.shape()), constant.span)
            }
            Global::Dim(id) => {
                let span = self
                    .declared_at
                    .get(&self.program.dims[id.0 as usize])
                    .copied()
                    .unwrap_or_default();
                ((3, id.0 as usize), Op::DimSize(id), Type::scalar(), span)
            }
        };
        if let Some(&id) = self.leaf_nodes.get(&key) {
            return id;
        }
        let id = self.push_node(op, Vec::new(), ty, span);
        self.leaf_nodes.insert(key, id);
        id
    }

    fn lookup_let(&self, name: &str, lets_visible: usize) -> Option<&Let> {
        self.lets[..lets_visible.min(self.lets.len())]
            .iter()
            .rev()
            .find(|l| l.name == name)
    }

    /// Lowers an expression. A def call lowers the def's body from here, so
    /// the recursion is as deep as the chain of defs calling each other,
    /// which the parser's nesting limit does not bound: the stack grows on
    /// the heap when it runs low.
    fn expr(&mut self, expr: &Expr, scope: Scope<'_>) -> Lowered {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.expr_here(expr, scope))
    }

    fn expr_here(&mut self, expr: &Expr, scope: Scope<'_>) -> Lowered {
        self.steps += 1;
        if self.steps > MAX_LOWERING_STEPS {
            return Err(self.too_many_steps(expr.span));
        }
        match &expr.kind {
            ExprKind::Number(value) => Ok(self.push_node(Op::Literal(*value), Vec::new(), Type::scalar(), expr.span)),
            ExprKind::Bool(value) => {
                Ok(self.push_node(Op::Bool(*value), Vec::new(), Type::boolean(Vec::new()), expr.span))
            }
            ExprKind::Paren(inner) => self.expr(inner, scope),
            ExprKind::Name(name) => self.name(name, expr.span, scope),
            ExprKind::Tuple(_) => Err(self.error(
                Diagnostic::error(Code::TypeMismatch, "a tuple is only allowed as `axis=(...)`", expr.span)
                    .with_label("unexpected tuple"),
            )),
            ExprKind::Unary { op, op_span, operand } => {
                let arg = self.expr(operand, scope)?;
                let (builtin, want) = match op {
                    UnaryOp::Neg => (Builtin::Neg, Kind::Num),
                    UnaryOp::Not => (Builtin::Not, Kind::Bool),
                };
                self.expect_kind(arg, want, operand.span, &format!("the operand of `{}`", op.symbol()))?;
                let ty = Type {
                    kind: want,
                    shape: self.ty(arg).shape.clone(),
                };
                let _ = op_span;
                self.push(Op::Call(builtin, Attrs::default()), vec![arg], ty, expr.span)
            }
            ExprKind::Binary { op, op_span, lhs, rhs } => {
                let a = self.expr(lhs, scope);
                let b = self.expr(rhs, scope);
                let (a, b) = (a?, b?);
                let (builtin, operand_kind, out_kind) = match op {
                    BinaryOp::Or => (Builtin::Or, Kind::Bool, Kind::Bool),
                    BinaryOp::And => (Builtin::And, Kind::Bool, Kind::Bool),
                    BinaryOp::Eq => (Builtin::Eq, Kind::Num, Kind::Bool),
                    BinaryOp::Ne => (Builtin::Ne, Kind::Num, Kind::Bool),
                    BinaryOp::Lt => (Builtin::Lt, Kind::Num, Kind::Bool),
                    BinaryOp::Le => (Builtin::Le, Kind::Num, Kind::Bool),
                    BinaryOp::Gt => (Builtin::Gt, Kind::Num, Kind::Bool),
                    BinaryOp::Ge => (Builtin::Ge, Kind::Num, Kind::Bool),
                    BinaryOp::Add => (Builtin::Add, Kind::Num, Kind::Num),
                    BinaryOp::Sub => (Builtin::Sub, Kind::Num, Kind::Num),
                    BinaryOp::Mul => (Builtin::Mul, Kind::Num, Kind::Num),
                    BinaryOp::Div => (Builtin::Div, Kind::Num, Kind::Num),
                    BinaryOp::Pow => (Builtin::Pow, Kind::Num, Kind::Num),
                };
                let role = format!("an operand of `{}`", op.symbol());
                let ka = self.expect_kind(a, operand_kind, lhs.span, &role);
                let kb = self.expect_kind(b, operand_kind, rhs.span, &role);
                ka?;
                kb?;
                let shape = self.broadcast(&[(a, lhs.span), (b, rhs.span)], *op_span, &format!("`{}`", op.symbol()))?;
                let ty = Type { kind: out_kind, shape };
                self.check_size(&ty, expr.span)?;
                self.push(Op::Call(builtin, Attrs::default()), vec![a, b], ty, expr.span)
            }
            ExprKind::Call { callee, args } => self.call(expr, callee, args, scope),
        }
    }

    /// Reports, once, that the program expands to more than
    /// [`MAX_LOWERING_STEPS`] operations, at the outermost def call being
    /// expanded (or the expression, outside defs).
    fn too_many_steps(&mut self, at: Span) -> Poisoned {
        if self.steps == MAX_LOWERING_STEPS + 1 {
            let (span, label) = match self.expanding.first() {
                Some((name, call)) => (*call, format!("this call of `{name}` expands to too many operations")),
                None => (at, "the program is too large here".to_string()),
            };
            self.diagnostics.push(
                Diagnostic::error(
                    Code::SizeLimit,
                    format!("the program expands to more than {MAX_LOWERING_STEPS} operations"),
                    span,
                )
                .with_label(label)
                .with_note("each call of a def with new arguments is expanded into its own operations")
                .with_help("bind a repeated value with `let` once, or call a def with the same arguments"),
            );
        }
        Poisoned
    }

    fn name(&mut self, name: &str, span: Span, scope: Scope<'_>) -> Lowered {
        if let Some(params) = scope.params
            && let Some(value) = params.get(name)
        {
            return *value;
        }
        if let Some(binding) = self.lookup_let(name, scope.lets_visible) {
            return match binding.value {
                Some(value) => value,
                None => Err(Poisoned),
            };
        }
        if let Some(&global) = self.globals.get(name) {
            return Ok(self.leaf(global));
        }
        let no_params: Vec<String> = scope.params.map(|p| p.keys().cloned().collect()).unwrap_or_default();
        let diagnostic = self.unknown_value(name, span, scope, &no_params);
        Err(self.error(diagnostic))
    }

    fn unknown_value(&self, name: &str, span: Span, scope: Scope<'_>, params: &[String]) -> Diagnostic {
        if Builtin::by_name(name).is_some() || self.defs.contains_key(name) {
            return Diagnostic::error(Code::UnknownName, format!("`{name}` is a function, not a value"), span)
                .with_label("a function used as a value")
                .with_help(format!("call it: `{name}(...)`"));
        }
        let mut diagnostic = Diagnostic::error(Code::UnknownName, format!("cannot find `{name}` in this scope"), span)
            .with_label("not declared");
        if let Some(later) = self.lets[scope.lets_visible.min(self.lets.len())..]
            .iter()
            .find(|l| l.name == name)
        {
            return diagnostic
                .with_secondary(later.span, format!("`{name}` is defined here, after its use"))
                .with_help("move the `let` above its first use");
        }
        let mut candidates: Vec<&str> = self.globals.keys().map(String::as_str).collect();
        candidates.extend(
            self.lets[..scope.lets_visible.min(self.lets.len())]
                .iter()
                .map(|l| l.name.as_str()),
        );
        candidates.extend(params.iter().map(String::as_str));
        if let Some(best) = closest(name, candidates.into_iter()) {
            diagnostic = diagnostic
                .with_help(format!("a name with a similar spelling exists: `{best}`"))
                .with_fix(span, best);
        } else {
            diagnostic = diagnostic.with_help(format!("declare it, e.g. `input {name}: real` or `let {name} = ...`"));
        }
        diagnostic
    }

    fn unknown_function(&self, callee: &ast::Ident) -> Diagnostic {
        let name = &callee.name;
        let mut diagnostic =
            Diagnostic::error(Code::UnknownName, format!("cannot find function `{name}`"), callee.span)
                .with_label("not a built-in or a def");
        if self.globals.contains_key(name) || self.lets.iter().any(|l| l.name == *name) {
            return diagnostic
                .with_label("a value, not a function")
                .with_help(format!("`{name}` is a value; to multiply, write `{name} * (...)`"));
        }
        let mut functions: Vec<&str> = Builtin::callable_names().collect();
        functions.extend(self.defs.keys().map(String::as_str));
        let suggestion = Builtin::by_alias(name)
            .map(|b| b.name().to_string())
            .or_else(|| closest(name, functions.into_iter()).map(str::to_string));
        if let Some(best) = suggestion {
            diagnostic = diagnostic
                .with_help(format!("a function with a similar name exists: `{best}`"))
                .with_fix(callee.span, best.clone());
        } else {
            diagnostic = diagnostic.with_note("see `docs/language.md` for the built-in functions");
        }
        diagnostic
    }

    fn expect_kind(&mut self, id: NodeId, want: Kind, span: Span, role: &str) -> Result<(), Poisoned> {
        let got = self.ty(id).kind;
        if got == want {
            return Ok(());
        }
        let text = self.text(span);
        let text = strip_parens(text);
        let diagnostic = match want {
            Kind::Num => Diagnostic::error(
                Code::TypeMismatch,
                format!("expected a number for {role}, found a boolean"),
                span,
            )
            .with_label("this is a boolean")
            .with_help(format!(
                "a boolean is not a number: use `float({text})` for 0/1, or `where({text}, a, b)` to choose values"
            ))
            .with_fix(span, format!("float({text})")),
            Kind::Bool => Diagnostic::error(
                Code::TypeMismatch,
                format!("expected a boolean for {role}, found a number"),
                span,
            )
            .with_label("this is a number")
            .with_help(format!(
                "compare it to get a boolean, e.g. `{text} > 0` or `{text} == 1`"
            )),
        };
        Err(self.error(diagnostic))
    }

    /// Broadcasts the shapes of `args`; reports a `shape-mismatch` at `at`.
    fn broadcast(&mut self, args: &[(NodeId, Span)], at: Span, what: &str) -> Result<Shape, Poisoned> {
        let mut shape: Shape = Vec::new();
        for (i, &(id, _)) in args.iter().enumerate() {
            let next = self.ty(id).shape.clone();
            match broadcast(&shape, &next) {
                Ok(s) => shape = s,
                Err(from_right) => {
                    let mut diagnostic = Diagnostic::error(
                        Code::ShapeMismatch,
                        format!("the shapes of the operands of {what} do not broadcast"),
                        at,
                    )
                    .with_label("shapes do not match");
                    for &(other, span) in &args[..=i] {
                        let s = self.program.shape_string(&self.ty(other).shape);
                        diagnostic = diagnostic.with_secondary(span, format!("this has shape {s}"));
                    }
                    let dim_at = |s: &Shape| s.len().checked_sub(from_right + 1).map(|k| s[k]);
                    let both_named = matches!(
                        (dim_at(&shape), dim_at(&next)),
                        (Some(Dim::Named(_)), Some(Dim::Named(_)))
                    );
                    diagnostic = diagnostic.with_note(
                        "shapes align from the right; a dimension matches an equal name, an equal integer, or 1",
                    );
                    diagnostic = if both_named {
                        diagnostic.with_help(
                            "two different dimension names never match: use one name if the sizes are equal, \
                             or reduce one operand first",
                        )
                    } else {
                        diagnostic
                            .with_help("reduce or reshape one operand first (`sum`, `mean`, `take`, `expand_dims`)")
                    };
                    return Err(self.error(diagnostic));
                }
            }
        }
        // The classic `[N, 1]` against `[N]` bug: NumPy broadcasting silently
        // builds an `[N, N]` matrix. Warn when a dimension name appears twice in
        // the result although no operand had it twice.
        let repeated = |s: &Shape| {
            s.iter()
                .enumerate()
                .any(|(k, d)| matches!(d, Dim::Named(_)) && s[..k].contains(d))
        };
        let rank = shape.len();
        if repeated(&shape)
            && !args.iter().any(|&(id, _)| repeated(&self.ty(id).shape))
            && args.iter().any(|&(id, _)| self.ty(id).shape.len() < rank)
        {
            let text = self.program.shape_string(&shape);
            let mut diagnostic = Diagnostic::warning(
                Code::ShapeMismatch,
                format!("broadcasting the operands of {what} builds a {text} matrix"),
                at,
            )
            .with_label(format!("the result has shape {text}"));
            for &(other, span) in args {
                let s = self.program.shape_string(&self.ty(other).shape);
                diagnostic = diagnostic.with_secondary(span, format!("this has shape {s}"));
            }
            self.diagnostics.push(
                diagnostic
                    .with_note("a trailing axis of size 1 against a vector pairs every element with every other")
                    .with_help(
                        "make the shapes equal first, e.g. `take(y_true, 0)` to drop a trailing `[N, 1]` axis; \
                                for a deliberate pairwise matrix, write `expand_dims` on both operands",
                    ),
            );
        }
        Ok(shape)
    }

    // ------------------------------------------------------------------ calls

    fn call(&mut self, expr: &Expr, callee: &ast::Ident, args: &[ast::Arg], scope: Scope<'_>) -> Lowered {
        if self.defs.contains_key(&callee.name) {
            return self.call_def(expr, callee, args, scope);
        }
        let Some(builtin) = Builtin::by_name(&callee.name) else {
            let diagnostic = self.unknown_function(callee);
            // Still check the arguments for their own errors.
            for arg in args {
                if arg.name.is_none() {
                    let _ = self.expr(&arg.value, scope);
                }
            }
            return Err(self.error(diagnostic));
        };
        let spec = builtin.spec();
        // Keyword arguments: known, once each.
        let mut keywords: HashMap<&str, &Expr> = HashMap::new();
        let mut positional = Vec::new();
        for arg in args {
            match &arg.name {
                None => {
                    if !keywords.is_empty() {
                        return Err(self.error(
                            Diagnostic::error(
                                Code::Syntax,
                                "a positional argument cannot follow a keyword argument",
                                arg.value.span,
                            )
                            .with_help("put positional arguments first"),
                        ));
                    }
                    positional.push(&arg.value);
                }
                Some(keyword) => {
                    if !spec.keywords.contains(&keyword.name.as_str()) {
                        let mut diagnostic = Diagnostic::error(
                            Code::Arity,
                            format!("`{}` has no keyword argument `{}`", spec.name, keyword.name),
                            keyword.span,
                        )
                        .with_label("unknown keyword");
                        diagnostic = if spec.keywords.is_empty() {
                            diagnostic.with_help(format!("`{}` takes no keyword arguments", spec.name))
                        } else if let Some(best) = closest(&keyword.name, spec.keywords.iter().copied()) {
                            diagnostic
                                .with_help(format!("did you mean `{best}`?"))
                                .with_fix(keyword.span, best)
                        } else {
                            diagnostic.with_help(format!(
                                "`{}` takes {}",
                                spec.name,
                                spec.keywords
                                    .iter()
                                    .map(|k| format!("`{k}=`"))
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            ))
                        };
                        return Err(self.error(diagnostic));
                    }
                    if keywords.insert(keyword.name.as_str(), &arg.value).is_some() {
                        return Err(self.error(Diagnostic::error(
                            Code::Arity,
                            format!("keyword argument `{}` given twice", keyword.name),
                            keyword.span,
                        )));
                    }
                }
            }
        }
        if positional.len() != spec.params.len() {
            return Err(self.arity_error(expr, spec.name, spec.params, &positional, builtin));
        }
        match spec.signature {
            Signature::Take => return self.take(expr, &positional, &keywords, scope),
            Signature::OneHot => return self.one_hot(expr, &positional, scope),
            _ => {}
        }
        let mut lowered = Vec::with_capacity(positional.len());
        let mut failed = false;
        for arg in &positional {
            match self.expr(arg, scope) {
                Ok(id) => lowered.push((id, arg.span)),
                Err(_) => failed = true,
            }
        }
        if failed {
            return Err(Poisoned);
        }
        let name = spec.name;
        let what = format!("`{name}`");
        let (ty, attrs) = match spec.signature {
            Signature::Elementwise | Signature::Compare => {
                let mut ok = true;
                for (i, &(id, span)) in lowered.iter().enumerate() {
                    ok &= self
                        .expect_kind(
                            id,
                            Kind::Num,
                            span,
                            &format!("argument `{}` of `{name}`", spec.params[i]),
                        )
                        .is_ok();
                }
                if !ok {
                    return Err(Poisoned);
                }
                let shape = self.broadcast(&lowered, callee.span, &what)?;
                let kind = if spec.signature == Signature::Compare {
                    Kind::Bool
                } else {
                    Kind::Num
                };
                (Type { kind, shape }, Attrs::default())
            }
            Signature::Logic => {
                for &(id, span) in &lowered {
                    self.expect_kind(id, Kind::Bool, span, &what)?;
                }
                (
                    Type::boolean(self.broadcast(&lowered, callee.span, &what)?),
                    Attrs::default(),
                )
            }
            Signature::Where => {
                let c = self.expect_kind(lowered[0].0, Kind::Bool, lowered[0].1, "the condition of `where`");
                let a = self.expect_kind(lowered[1].0, Kind::Num, lowered[1].1, "a branch of `where`");
                let b = self.expect_kind(lowered[2].0, Kind::Num, lowered[2].1, "a branch of `where`");
                c?;
                a?;
                b?;
                (
                    Type::num(self.broadcast(&lowered, callee.span, &what)?),
                    Attrs::default(),
                )
            }
            Signature::Float => {
                let (id, span) = lowered[0];
                if self.ty(id).kind == Kind::Num {
                    let text = self.text(span);
                    return Err(self.error(
                        Diagnostic::error(Code::TypeMismatch, "`float` takes a boolean, found a number", span)
                            .with_label("already a number")
                            .with_help(format!(
                                "`{text}` is already a number; to get 0/1 from it, compare it, e.g. `float({text} > 0)`"
                            )),
                    ));
                }
                (Type::num(self.ty(id).shape.clone()), Attrs::default())
            }
            Signature::Reduce(_) => {
                let (id, span) = lowered[0];
                self.expect_kind(id, Kind::Num, span, &what)?;
                let shape = self.ty(id).shape.clone();
                let axes = match keywords.get("axis") {
                    Some(axis) => Some(self.axes(axis, &shape, span, name)?),
                    None => None,
                };
                let keepdims = match keywords.get("keepdims") {
                    Some(flag) => self.flag(flag)?,
                    None => false,
                };
                let reduced: Vec<usize> = axes.clone().unwrap_or_else(|| (0..shape.len()).collect());
                let out: Shape = shape
                    .iter()
                    .enumerate()
                    .filter_map(|(k, d)| {
                        if reduced.contains(&k) {
                            keepdims.then_some(Dim::Fixed(1))
                        } else {
                            Some(*d)
                        }
                    })
                    .collect();
                (
                    Type::num(out),
                    Attrs {
                        axes,
                        keepdims,
                        ..Attrs::default()
                    },
                )
            }
            Signature::AlongAxis(_) => {
                let (id, span) = lowered[0];
                self.expect_kind(id, Kind::Num, span, &what)?;
                let shape = self.ty(id).shape.clone();
                let axes = match keywords.get("axis") {
                    Some(axis) => self.axes(axis, &shape, span, name)?,
                    None => self.default_axis(&shape, span, name)?,
                };
                if axes.len() != 1 {
                    let at = keywords.get("axis").map_or(expr.span, |a| a.span);
                    return Err(self.error(
                        Diagnostic::error(Code::BadAxis, format!("`{name}` works along one axis"), at)
                            .with_help("give a single axis, e.g. `axis=-1`"),
                    ));
                }
                (
                    Type::num(shape),
                    Attrs {
                        axes: Some(axes),
                        ..Attrs::default()
                    },
                )
            }
            Signature::ExpandDims => {
                // Numbers or booleans: the kind is kept.
                let (id, span) = lowered[0];
                let kind = self.ty(id).kind;
                let shape = self.ty(id).shape.clone();
                let Some(axis) = keywords.get("axis") else {
                    return Err(self.error(
                        Diagnostic::error(Code::Arity, "`expand_dims` needs `axis=`", expr.span)
                            .with_help("name where the new axis goes in the result, e.g. `expand_dims(x, axis=-1)`"),
                    ));
                };
                let count = match &axis.kind {
                    ExprKind::Tuple(items) => items.len(),
                    _ => 1,
                };
                let out_rank: Shape = vec![Dim::Fixed(1); shape.len() + count];
                let axes = self.axes(axis, &out_rank, span, name)?;
                let mut inner = shape.into_iter();
                let out: Shape = (0..out_rank.len())
                    .map(|k| {
                        if axes.contains(&k) {
                            Dim::Fixed(1)
                        } else {
                            inner.next().expect("rank adds up")
                        }
                    })
                    .collect();
                (
                    Type { kind, shape: out },
                    Attrs {
                        axes: Some(axes),
                        ..Attrs::default()
                    },
                )
            }
            Signature::Take | Signature::OneHot => unreachable!("handled above"),
        };
        self.check_size(&ty, expr.span)?;
        let args = lowered.into_iter().map(|(id, _)| id).collect();
        self.push(Op::Call(builtin, attrs), args, ty, expr.span)
    }

    fn arity_error(
        &mut self,
        expr: &Expr,
        name: &str,
        params: &[&str],
        positional: &[&Expr],
        builtin: Builtin,
    ) -> Poisoned {
        let expected = params.len();
        let plural = if expected == 1 { "" } else { "s" };
        let found = positional.len();
        let extra = found.saturating_sub(expected);
        let label = match extra {
            0 => format!("expected {expected} argument{plural}, found {found}"),
            1 => "unexpected argument".to_string(),
            _ => format!("{extra} unexpected arguments"),
        };
        let mut diagnostic = Diagnostic::error(
            Code::Arity,
            format!(
                "`{name}` takes {expected} argument{plural} but {found} {} given",
                if found == 1 { "was" } else { "were" }
            ),
            if extra > 0 {
                positional[expected].span.to(positional[found - 1].span)
            } else {
                expr.span
            },
        )
        .with_label(label)
        .with_note(format!("the signature is `{name}({})`", params.join(", ")));
        if extra > 0 {
            // Remove the extra arguments, from the end of the last expected one.
            let last = positional[found - 1].span;
            let fix_span = match expected {
                0 => positional[0].span.to(last),
                _ => Span::new(positional[expected - 1].span.end, last.end),
            };
            diagnostic = diagnostic.with_fix(fix_span, "");
        }
        let spec = builtin.spec();
        let help = match (builtin, found) {
            (Builtin::Max, 2) => {
                Some("`max` reduces one tensor; the elementwise larger of two is `maximum(a, b)`".to_string())
            }
            (Builtin::Min, 2) => {
                Some("`min` reduces one tensor; the elementwise smaller of two is `minimum(a, b)`".to_string())
            }
            _ if matches!(spec.signature, Signature::Reduce(_)) && found == 2 => Some(format!(
                "pass the axis by keyword: `{name}({}, axis={})`",
                self.text(positional[0].span),
                self.text(positional[1].span)
            )),
            _ if matches!(spec.signature, Signature::AlongAxis(_)) && found == 2 => Some(format!(
                "pass the axis by keyword: `{name}({}, axis={})`",
                self.text(positional[0].span),
                self.text(positional[1].span)
            )),
            _ => None,
        };
        if let Some(help) = help {
            diagnostic = diagnostic.with_help(help);
        }
        self.error(diagnostic)
    }

    fn call_def(&mut self, expr: &Expr, callee: &ast::Ident, args: &[ast::Arg], scope: Scope<'_>) -> Lowered {
        let (params, body, lets_visible, recursive, def_span) = {
            let def = self.defs.get_mut(&callee.name).expect("checked by the caller");
            def.used = true;
            (
                def.params.clone(),
                def.body.clone(),
                def.lets_visible,
                def.recursive,
                def.name_span,
            )
        };
        if recursive {
            return Err(Poisoned);
        }
        if let Some(arg) = args.iter().find(|a| a.name.is_some()) {
            let keyword = arg.name.as_ref().expect("found above");
            return Err(self.error(
                Diagnostic::error(
                    Code::Arity,
                    format!("`{}` is a def and takes no keyword arguments", callee.name),
                    keyword.span,
                )
                .with_secondary(def_span, "defined here"),
            ));
        }
        if args.len() != params.len() {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            let plural = if params.len() == 1 { "" } else { "s" };
            return Err(self.error(
                Diagnostic::error(
                    Code::Arity,
                    format!(
                        "`{}` takes {} argument{plural} but {} {} given",
                        callee.name,
                        params.len(),
                        args.len(),
                        if args.len() == 1 { "was" } else { "were" }
                    ),
                    expr.span,
                )
                .with_label(format!("expected `{}({})`", callee.name, names.join(", ")))
                .with_secondary(def_span, "defined here"),
            ));
        }
        let mut bound = HashMap::new();
        let mut key_args = Vec::with_capacity(args.len());
        for (param, arg) in params.iter().zip(args) {
            let value = self.expr(&arg.value, scope);
            key_args.push(value.ok());
            bound.insert(param.name.clone(), value);
        }
        // A def's body sees only its parameters, the lets above it and the
        // globals: the same arguments give the same result, so each distinct
        // call is expanded once (its diagnostics are reported once) and the
        // program stays a DAG as large as its distinct calls, not a tree.
        let key = (callee.name.clone(), key_args);
        if let Some(&result) = self.expanded.get(&key) {
            return result;
        }
        self.expanding.push((callee.name.clone(), expr.span));
        let before = self.diagnostics.len();
        let result = self.expr(
            &body,
            Scope {
                params: Some(&bound),
                lets_visible,
            },
        );
        // Errors found while expanding point into the body; say which call it was.
        let call_span = expr.span;
        let def_name = callee.name.clone();
        for diagnostic in &mut self.diagnostics[before..] {
            if diagnostic.span.start >= body.span.start && diagnostic.span.end <= body.span.end {
                diagnostic.secondary.push(lossc_diagnostics::Label {
                    span: call_span,
                    message: format!("in this call of `{def_name}`"),
                });
            }
        }
        self.expanding.pop();
        self.expanded.insert(key, result);
        result
    }

    // ------------------------------------------------------- static arguments

    /// An integer written in the source, possibly negative.
    fn integer(&self, expr: &Expr) -> Option<i64> {
        match &expr.kind {
            ExprKind::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => Some(*v as i64),
            ExprKind::Unary {
                op: UnaryOp::Neg,
                operand,
                ..
            } => self.integer(operand).map(|v| -v),
            ExprKind::Paren(inner) => self.integer(inner),
            _ => None,
        }
    }

    fn axes(&mut self, axis: &Expr, shape: &Shape, operand: Span, name: &str) -> Result<Vec<usize>, Poisoned> {
        let items: Vec<&Expr> = match &axis.kind {
            ExprKind::Tuple(items) => items.iter().collect(),
            _ => vec![axis],
        };
        let rank = shape.len() as i64;
        let mut axes = Vec::new();
        for item in items {
            let Some(value) = self.integer(item) else {
                return Err(self.error(
                    Diagnostic::error(
                        Code::BadAxis,
                        format!("`axis` of `{name}` must be an integer or a tuple of integers"),
                        item.span,
                    )
                    .with_label("not an integer literal")
                    .with_help("write the axis as a number, e.g. `axis=-1` or `axis=(0, 1)`"),
                ));
            };
            if value < -rank || value >= rank {
                let shape_text = self.program.shape_string(shape);
                let valid = if rank == 0 {
                    "a scalar has no axes to reduce; drop `axis=`".to_string()
                } else {
                    if rank == 1 {
                        "the only axis of a rank-1 operand is 0 (or -1)".to_string()
                    } else {
                        format!("valid axes for rank {rank} are 0 to {} (or {} to -1)", rank - 1, -rank)
                    }
                };
                return Err(self.error(
                    Diagnostic::error(
                        Code::BadAxis,
                        format!("axis {value} is out of range for an operand of shape {shape_text}"),
                        item.span,
                    )
                    .with_label(format!("out of range for rank {rank}"))
                    .with_secondary(operand, format!("this has shape {shape_text}"))
                    .with_help(valid),
                ));
            }
            let normalised = if value < 0 { value + rank } else { value } as usize;
            if axes.contains(&normalised) {
                return Err(self.error(
                    Diagnostic::error(Code::BadAxis, format!("axis {value} is repeated"), item.span)
                        .with_help("name each axis once"),
                ));
            }
            axes.push(normalised);
        }
        axes.sort_unstable();
        Ok(axes)
    }

    fn default_axis(&mut self, shape: &Shape, operand: Span, name: &str) -> Result<Vec<usize>, Poisoned> {
        if shape.is_empty() {
            return Err(self.error(
                Diagnostic::error(
                    Code::BadAxis,
                    format!("`{name}` needs an operand with at least one axis"),
                    operand,
                )
                .with_label("this is a scalar"),
            ));
        }
        Ok(vec![shape.len() - 1])
    }

    fn flag(&mut self, expr: &Expr) -> Result<bool, Poisoned> {
        match &expr.kind {
            ExprKind::Bool(value) => Ok(*value),
            _ => Err(self.error(
                Diagnostic::error(Code::TypeMismatch, "`keepdims` must be `true` or `false`", expr.span)
                    .with_label("not a boolean literal"),
            )),
        }
    }

    fn take(
        &mut self,
        expr: &Expr,
        positional: &[&Expr],
        keywords: &HashMap<&str, &Expr>,
        scope: Scope<'_>,
    ) -> Lowered {
        let x = self.expr(positional[0], scope)?;
        self.expect_kind(x, Kind::Num, positional[0].span, "argument `x` of `take`")?;
        let shape = self.ty(x).shape.clone();
        let Some(index) = self.integer(positional[1]) else {
            return Err(self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    "the index of `take` must be an integer literal",
                    positional[1].span,
                )
                .with_label("not an integer literal")
                .with_help("write the index as a number, e.g. `take(y_true, 0)`"),
            ));
        };
        let axes = match keywords.get("axis") {
            Some(axis) => self.axes(axis, &shape, positional[0].span, "take")?,
            None => self.default_axis(&shape, positional[0].span, "take")?,
        };
        if axes.len() != 1 {
            return Err(self.error(Diagnostic::error(
                Code::BadAxis,
                "`take` works along one axis",
                expr.span,
            )));
        }
        let axis = axes[0];
        if let Dim::Fixed(size) = shape[axis] {
            let size = size as i64;
            if index < -size || index >= size {
                let text = self.program.shape_string(&shape);
                return Err(self.error(
                    Diagnostic::error(
                        Code::BadAxis,
                        format!("index {index} is out of range for axis {axis} of size {size}"),
                        positional[1].span,
                    )
                    .with_label("out of range")
                    .with_secondary(positional[0].span, format!("this has shape {text}")),
                ));
            }
        }
        let mut out = shape;
        out.remove(axis);
        self.push(
            Op::Call(
                Builtin::Take,
                Attrs {
                    axes: Some(vec![axis]),
                    index: Some(index),
                    ..Attrs::default()
                },
            ),
            vec![x],
            Type::num(out),
            expr.span,
        )
    }

    fn one_hot(&mut self, expr: &Expr, positional: &[&Expr], scope: Scope<'_>) -> Lowered {
        let labels = self.expr(positional[0], scope)?;
        self.expect_kind(labels, Kind::Num, positional[0].span, "the labels of `one_hot`")?;
        let shape = self.ty(labels).shape.clone();
        if let Op::Input(i) = self.program.node(labels).op {
            let input = &self.program.inputs[i];
            if !input.domain.is_integer_set() {
                let name = input.name.clone();
                return Err(self.error(
                    Diagnostic::error(
                        Code::TypeMismatch,
                        format!(
                            "`one_hot` takes integer class labels, but `{name}` is not declared as a set of integers"
                        ),
                        positional[0].span,
                    )
                    .with_label("not integer labels")
                    .with_help(format!("declare the labels as classes, e.g. `input {name}: {{0..9}}`")),
                ));
            }
        }
        if shape.len() > 1 {
            let text = self.program.shape_string(&shape);
            return Err(self.error(
                Diagnostic::error(
                    Code::ShapeMismatch,
                    format!("`one_hot` takes labels of shape [N] (or a scalar), found {text}"),
                    positional[0].span,
                )
                .with_label(format!("this has shape {text}")),
            ));
        }
        let classes_expr = positional[1];
        let classes = if let Some(n) = self.integer(classes_expr) {
            if n < 1 {
                return Err(self.error(Diagnostic::error(
                    Code::TypeMismatch,
                    "the class count of `one_hot` must be at least 1",
                    classes_expr.span,
                )));
            }
            Dim::Fixed(n as u64)
        } else if let ExprKind::Name(name) = &classes_expr.kind
            && let Some(Global::Dim(id)) = self.globals.get(name)
        {
            Dim::Named(*id)
        } else {
            return Err(self.error(
                Diagnostic::error(
                    Code::TypeMismatch,
                    "the class count of `one_hot` must be a dimension name or an integer",
                    classes_expr.span,
                )
                .with_help("e.g. `one_hot(y_true, C)` where `C` is a dimension of `y_pred`, or `one_hot(y_true, 10)`"),
            ));
        };
        let ty = Type::num(shape.into_iter().chain([classes]).collect());
        self.check_size(&ty, expr.span)?;
        self.push(
            Op::Call(
                Builtin::OneHot,
                Attrs {
                    classes: Some(classes),
                    ..Attrs::default()
                },
            ),
            vec![labels],
            ty,
            expr.span,
        )
    }
}

/// The `size-limit` error for a value of `rank` axes.
fn too_many_axes(rank: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::SizeLimit,
        format!("a value of {rank} axes is more than lossc handles ({MAX_RANK})"),
        span,
    )
    .with_label(format!("axis {} of {rank}", MAX_RANK + 1))
    .with_help("flatten the data to fewer axes before the loss")
}

/// The `size-limit` error for a shape whose fixed dimensions are too large.
fn too_many_elements(shape: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::SizeLimit,
        format!("the fixed dimensions of {shape} hold more than {MAX_FIXED_ELEMENTS} elements per value"),
        span,
    )
    .with_label("too large")
    .with_note(format!(
        "a fixed dimension, and the product of a value's fixed dimensions, is at most 2^31 - 1 = {MAX_FIXED_ELEMENTS}"
    ))
    .with_help("name a dimension bound by the data instead, e.g. `[N, C]`")
}

/// `(a + b)` without its outer brackets; `(a) + (b)` unchanged.
fn strip_parens(text: &str) -> &str {
    let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
        return text;
    };
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return text;
        }
    }
    inner
}

/// The closest candidate to a misspelt `name`, if one is close enough.
pub fn closest<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| {
            *d <= limit || (c.len() >= 3 && (c.starts_with(name) || name.starts_with(*c)) && name.len() > 3)
        })
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// The span of the first use of `name` as a value.
fn first_use(ast: &ast::Program, name: &str) -> Option<Span> {
    fn walk(expr: &Expr, name: &str) -> Option<Span> {
        match &expr.kind {
            ExprKind::Name(n) if n == name => Some(expr.span),
            ExprKind::Unary { operand, .. } | ExprKind::Paren(operand) => walk(operand, name),
            ExprKind::Binary { lhs, rhs, .. } => walk(lhs, name).or_else(|| walk(rhs, name)),
            ExprKind::Call { args, .. } => args.iter().find_map(|a| walk(&a.value, name)),
            ExprKind::Tuple(items) => items.iter().find_map(|e| walk(e, name)),
            _ => None,
        }
    }
    ast.statements.iter().find_map(|s| match &s.kind {
        StatementKind::Let { value, .. } | StatementKind::Loss { value, .. } | StatementKind::Output { value, .. } => {
            walk(value, name)
        }
        StatementKind::Def { params, body, .. } if !params.iter().any(|p| p.name == name) => walk(body, name),
        StatementKind::Wrt { names } => names.iter().find(|n| n.name == name).map(|n| n.span),
        _ => None,
    })
}

fn collect_calls(expr: &Expr, out: &mut Vec<(String, Span)>) {
    match &expr.kind {
        ExprKind::Call { callee, args } => {
            out.push((callee.name.clone(), callee.span));
            for arg in args {
                collect_calls(&arg.value, out);
            }
        }
        ExprKind::Unary { operand, .. } | ExprKind::Paren(operand) => collect_calls(operand, out),
        ExprKind::Binary { lhs, rhs, .. } => {
            collect_calls(lhs, out);
            collect_calls(rhs, out);
        }
        ExprKind::Tuple(items) => items.iter().for_each(|e| collect_calls(e, out)),
        ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowered(source: &str) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
        let ast = lossc_syntax::parse(source).expect("parses");
        lower(&ast, source)
    }

    /// `def f0(a) = a * 2` and `def f{i}(a) = f{i-1}(a) + f{i-1}(a)`: a tree
    /// of 2^levels copies if expanded without sharing.
    fn fan_out(levels: usize) -> String {
        let mut source = String::from("def f0(a) = a * 2\n");
        for i in 1..=levels {
            source.push_str(&format!("def f{i}(a) = f{}(a) + f{}(a)\n", i - 1, i - 1));
        }
        source.push_str(&format!("loss = mean(f{levels}(y_pred))\n"));
        source
    }

    #[test]
    fn a_def_fan_out_lowers_to_a_dag_linear_in_its_depth() {
        let (small, _) = lowered(&fan_out(30)).expect("valid");
        let (large, _) = lowered(&fan_out(60)).expect("valid");
        // y_pred, 2, a * 2, one `+` per level, mean.
        assert_eq!(small.nodes.len(), 4 + 30);
        assert_eq!(large.nodes.len(), 4 + 60);
        // Both operands of each `+` are the one node of the level below.
        let root = large.results[0].root;
        let sum = large.node(root).args[0];
        assert_eq!(large.node(sum).args[0], large.node(sum).args[1]);
    }

    /// Appending statements one by one gives the IR and warnings of the
    /// whole program (defs expanded once across appends), lowering each
    /// statement once; declarations and errors are refused.
    #[test]
    fn appended_statements_lower_as_the_whole_program() {
        let head = "input x: real [N, N]\ndef f(a) = a * a + 1\nlet u = f(x)";
        let entries = [
            "loss a = mean(f(x))",
            "let v = f(u) + x",
            "output o = v",
            "loss b = mean(sum(x, axis=-1) * 2)",
        ];
        let mut text = head.to_string();
        let mut lowering = Lowering::new(&lossc_syntax::parse(head).unwrap(), head).unwrap();
        for entry in entries {
            let offset = text.len() + 1;
            text = format!("{text}\n{entry}");
            let ast = lossc_syntax::parse_at(entry, offset).unwrap();
            lowering = lowering.append(&ast, &text).expect("appendable");
            let (program, warnings) = lowered(&text).unwrap();
            assert_eq!(*lowering.program(), program);
            assert_eq!(lowering.warnings(), warnings.as_slice());
        }
        assert_eq!(lowering.statements_lowered(), 3 + entries.len());
        for refused in ["param g = 2", "loss c = mean(nothing)", "loss a = mean(x)"] {
            let ast = lossc_syntax::parse_at(refused, text.len() + 1).unwrap();
            let whole = format!("{text}\n{refused}");
            assert!(lowering.clone().append(&ast, &whole).is_none(), "{refused}");
        }
    }

    #[test]
    fn the_same_text_written_twice_stays_two_nodes() {
        let (program, _) = lowered("loss = mean(log(y_pred)) + mean(log(y_pred))").expect("valid");
        let logs = program
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Call(Builtin::Log, _)))
            .count();
        assert_eq!(logs, 2, "each occurrence keeps its own span");
    }

    #[test]
    fn an_error_in_a_shared_def_call_is_reported_once() {
        let errors = lowered("def g(a) = a + undefined_name\ndef f(a) = g(a) * g(a)\nloss = mean(f(y_pred))")
            .expect_err("unknown name");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, Code::UnknownName);
    }

    #[test]
    fn defs_expanding_to_too_many_distinct_operations_stop_with_a_size_limit() {
        // Each call has new arguments, so nothing is shared: 2^40 operations.
        let mut source = String::from("def f0(a) = a * 2\n");
        for i in 1..=40 {
            source.push_str(&format!("def f{i}(a) = f{}(a + 1) * f{}(a + 2)\n", i - 1, i - 1));
        }
        source.push_str("loss = mean(f40(y_pred))\n");
        let ast = lossc_syntax::parse(&source).expect("parses");
        let mut lowerer = Lowerer::new(&source);
        lowerer.declare(&ast);
        lowerer.define(&ast);
        // The work stops at the budget (plus the unwinding of the calls in progress).
        assert!(lowerer.steps <= MAX_LOWERING_STEPS + 200, "{} steps", lowerer.steps);
        assert!(lowerer.program.nodes.len() <= MAX_LOWERING_STEPS);
        let errors: Vec<&Diagnostic> = lowerer.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, Code::SizeLimit);
        assert_eq!(&source[errors[0].span.start..errors[0].span.end], "f40(y_pred)");
    }

    #[test]
    fn values_nested_deeper_than_the_limit_are_a_size_limit_error() {
        // f{i}(a) = f{i-1}(f{i-1}(a)): a chain of 2^13 multiplications, few nodes each call.
        let mut source = String::from("def f0(a) = a * 2\n");
        for i in 1..=13 {
            source.push_str(&format!("def f{i}(a) = f{}(f{}(a))\n", i - 1, i - 1));
        }
        source.push_str("loss = mean(f13(y_pred))\n");
        let errors = lowered(&source).expect_err("too deep");
        assert!(errors.iter().all(|d| d.code == Code::SizeLimit), "{errors:?}");
        assert!(errors[0].message.contains("4096 nested operations"), "{errors:?}");
        // A chain of lets just under the limit is fine.
        let mut source = String::from("let a0 = y_pred\n");
        for i in 1..MAX_DEPTH {
            source.push_str(&format!("let a{i} = a{} + 1\n", i - 1));
        }
        source.push_str(&format!("loss = mean(a{})\n", MAX_DEPTH - 1));
        let (program, _) = lowered(&source).expect("at the limit");
        assert_eq!(program.nodes.len(), 2 * MAX_DEPTH);
    }

    fn size_limit_at(source: &str) -> String {
        let errors = lowered(source).expect_err("too large");
        let error = errors
            .iter()
            .find(|d| d.code == Code::SizeLimit)
            .unwrap_or_else(|| panic!("no size-limit in {errors:?}"));
        source[error.span.start..error.span.end].to_string()
    }

    #[test]
    fn huge_fixed_dimensions_are_a_size_limit_error_at_the_dimension() {
        assert_eq!(
            size_limit_at("input y_pred: real [N, 4294967296]\nloss = mean(y_pred)"),
            "4294967296"
        );
        assert_eq!(
            size_limit_at("input y_pred: real [N, 18446744073709551615]\nloss = mean(y_pred)"),
            "18446744073709551615"
        );
        // Each dimension fits; their product does not.
        assert_eq!(
            size_limit_at("input y_pred: real [65536, N, 65536]\nloss = mean(y_pred)"),
            "65536"
        );
        let (program, _) = lowered("input y_pred: real [N, 2147483647]\nloss = mean(y_pred)").expect("at the limit");
        assert_eq!(program.inputs[0].shape[1], Dim::Fixed(MAX_FIXED_ELEMENTS));
    }

    #[test]
    fn a_rank_beyond_32_is_a_size_limit_error() {
        let dims = vec!["2"; 10_000].join(", ");
        let source = format!("input y_pred: real [{dims}]\nloss = mean(y_pred)");
        let errors = lowered(&source).expect_err("rank 10000");
        assert!(errors.iter().any(|d| d.code == Code::SizeLimit), "{errors:?}");
        let (program, _) = lowered(&format!(
            "input y_pred: real [{}]\nloss = mean(y_pred)",
            vec!["N"; 32].join(", ")
        ))
        .expect("rank 32 is allowed");
        assert_eq!(program.inputs[0].shape.len(), 32);
        let axes: Vec<String> = (0..40).map(|k| k.to_string()).collect();
        let source = format!("loss = mean(expand_dims(y_pred, axis=({})))", axes.join(", "));
        assert!(size_limit_at(&source).starts_with("expand_dims"));
    }

    #[test]
    fn values_built_too_large_are_a_size_limit_error_at_the_expression() {
        assert_eq!(
            size_limit_at("input y_true: {0, 1, 2}\nloss = mean(one_hot(y_true, 99999999999))"),
            "one_hot(y_true, 99999999999)"
        );
        assert_eq!(
            size_limit_at("input a: real [65536, 1]\ninput b: real [65536]\nloss = mean(a * b)"),
            "a * b"
        );
    }
}
