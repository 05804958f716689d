//! Declarations: the first pass over a program claims every global name
//! (inputs, the implicit `y_true` and `y_pred`, params, consts, defs and the
//! dimensions their shapes name), checks domains, and sets the variables of
//! the gradient (`wrt`, default `y_pred`) and the batch dimension.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, DimSpec, DomainKind, Expr, ExprKind, LiteralKind, StatementKind};

use crate::builtins::Builtin;
use crate::program::{Constant, Domain, Input, Value, Var};
use crate::types::{Dim, DimId, Shape};

use super::resolve::closest;
use super::{Def, Global, Lowerer};

/// Implicit inputs, in the order they are added: `real [N]` when used undeclared.
const IMPLICIT_INPUTS: [&str; 2] = ["y_true", "y_pred"];

impl Lowerer<'_> {
    /// Claims a name for a declaration; reports a duplicate otherwise.
    pub(super) fn claim(&mut self, name: &str, span: Span, what: &str) -> bool {
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

    pub(super) fn declare(&mut self, ast: &ast::Program) {
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
                    let domain = self.row_domain(domain, &shape, name, statement.span);
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

    fn push_wrt(&mut self, var: Var) {
        if !self.program.wrt.contains(&var) {
            self.program.wrt.push(var);
        }
    }

    /// A row domain (`simplex`, `onehot`) constrains the last axis of each
    /// sample, so its input needs one besides the batch: `[N, C]`.
    fn row_domain(&mut self, domain: Option<Domain>, shape: &Shape, name: &ast::Ident, span: Span) -> Option<Domain> {
        match domain {
            Some(row) if row.is_row() && shape.len() < 2 => {
                self.diagnostics.push(
                    Diagnostic::error(
                        Code::BadDomain,
                        format!(
                            "`{row}` is a domain of rows, and `{}` has no axis of classes",
                            name.name
                        ),
                        span,
                    )
                    .with_label(format!("a `{row}` row runs along the last axis"))
                    .with_help(format!(
                        "give the shape with its class axis, e.g. `input {}: {row} [N, C]`",
                        name.name
                    )),
                );
                None
            }
            other => other,
        }
    }

    fn domain(&mut self, domain: &ast::Domain) -> Option<Domain> {
        Some(match &domain.kind {
            DomainKind::Real | DomainKind::Unstated => Domain::Real,
            DomainKind::Simplex => Domain::Simplex,
            DomainKind::OneHot => Domain::OneHot,
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
