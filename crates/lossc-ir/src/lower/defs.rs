//! `def`s: recursive cycles reported once before anything is expanded, a
//! call expanded at its call site (once per distinct arguments, so defs
//! build a DAG), and the bodies of defs never called checked for unknown
//! names.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, Expr, ExprKind};

use super::{Lowered, Lowerer, Poisoned, Scope};

impl Lowerer<'_> {
    /// Reports every recursive cycle of defs once, at the call that closes it.
    pub(super) fn check_def_cycles(&mut self) {
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

    pub(super) fn call_def(
        &mut self,
        expr: &Expr,
        callee: &ast::Ident,
        args: &[ast::Arg],
        scope: Scope<'_>,
    ) -> Lowered {
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

    /// Defs that were never called are still checked for unknown names.
    pub(super) fn check_unused_defs(&mut self) {
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
