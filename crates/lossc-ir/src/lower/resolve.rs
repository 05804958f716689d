//! Name resolution: a name used as a value is looked up in the enclosing
//! def's parameters, then the `let`s visible from the statement, then the
//! globals; a name not found is an `unknown-name` error with the closest
//! spelling as its fix (also for functions, and for the bodies of defs never
//! called).

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, Expr, ExprKind};

use crate::builtins::Builtin;

use super::{Let, Lowered, Lowerer, Poisoned, Scope};

impl Lowerer<'_> {
    pub(super) fn name(&mut self, name: &str, span: Span, scope: Scope<'_>) -> Lowered {
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

    fn lookup_let(&self, name: &str, lets_visible: usize) -> Option<&Let> {
        self.lets[..lets_visible.min(self.lets.len())]
            .iter()
            .rev()
            .find(|l| l.name == name)
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

    pub(super) fn unknown_function(&self, callee: &ast::Ident) -> Diagnostic {
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

    pub(super) fn check_names(&mut self, expr: &Expr, params: &[String], lets_visible: usize) {
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
