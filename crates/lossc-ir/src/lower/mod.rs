//! AST to IR: name resolution, `def` expansion, type and shape checking.
//!
//! Declarations (`input`, `param`, `const`, `def`, `wrt`) are visible
//! everywhere; `let` bindings are visible from the statement after them on,
//! and a `def` body sees the `let`s written above the `def`. Errors are pushed
//! as diagnostics and the failing expression becomes "poisoned" (`Err(())`),
//! so one mistake is reported once, not again at every use.
//!
//! This module holds the entry points ([`lower`], [`Lowering`]), the
//! lowerer's state and the pass over statements; the rest is one concern a
//! file, each adding methods to the one `Lowerer`:
//! - `declare.rs`: the declarations, claimed as global names before any
//!   statement is lowered (inputs, params, consts, defs, dimensions, `wrt`);
//! - `resolve.rs`: a name used in an expression looked up, and the
//!   diagnostics with a "did you mean" fix when it is not found;
//! - `expr.rs`: an expression lowered to nodes, and the node arena (shared
//!   nodes, depth, the step budget);
//! - `calls.rs`: calls of built-ins (arity, keywords, each signature's
//!   typing, static arguments as attributes);
//! - `defs.rs`: `def`s (recursive cycles, expansion at the call site);
//! - `shapes.rs`: kinds, broadcasting and the size limits of a value.

use std::collections::HashMap;
use std::rc::Rc;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, Expr, StatementKind};

use crate::program::{LetBinding, NamedResult, NodeId, Program, ResultKind};
use crate::types::{DimId, Kind};

mod calls;
mod declare;
mod defs;
mod expr;
mod resolve;
mod shapes;
#[cfg(test)]
mod tests;

use expr::NodeKey;
pub use resolve::closest;

/// A failed expression; its diagnostic has already been pushed.
#[derive(Debug, Clone, Copy)]
struct Poisoned;

type Lowered = Result<NodeId, Poisoned>;

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
}
