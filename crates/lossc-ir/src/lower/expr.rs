//! Expressions: the recursive lowering of one expression (literals, names,
//! operators; calls are `calls.rs`'s), and the node arena it pushes into:
//! each node interned by operation, arguments and span, its depth held to
//! [`MAX_DEPTH`], and the work held to [`MAX_LOWERING_STEPS`].

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{BinaryOp, Expr, ExprKind, UnaryOp};

use crate::builtins::Builtin;
use crate::program::{Attrs, Node, NodeId, Op};
use crate::types::{DimId, Kind, Type};

use super::{Global, Lowered, Lowerer, MAX_DEPTH, MAX_LOWERING_STEPS, Poisoned, Scope};

/// Stack left before lowering an expression grows the stack, and the size
/// of each new segment: one level of def expansion takes a few frames.
const STACK_RED_ZONE: usize = 128 * 1024;
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// What makes two nodes the same: operation, attributes, arguments and span.
/// Only a `def` body lowers the same text twice, so sharing them turns
/// repeated expansions into one node without merging anything the user
/// wrote twice (each occurrence keeps its own span and diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct NodeKey {
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

impl Lowerer<'_> {
    /// An operation on `args`, within [`MAX_DEPTH`] (a `size-limit` error
    /// at `span` otherwise): see [`Lowerer::push_node`].
    pub(super) fn push(&mut self, op: Op, args: Vec<NodeId>, ty: Type, span: Span) -> Lowered {
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

    pub(super) fn ty(&self, id: NodeId) -> &Type {
        &self.program.node(id).ty
    }

    pub(super) fn leaf(&mut self, global: Global) -> NodeId {
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

    /// Lowers an expression. A def call lowers the def's body from here, so
    /// the recursion is as deep as the chain of defs calling each other,
    /// which the parser's nesting limit does not bound: the stack grows on
    /// the heap when it runs low.
    pub(super) fn expr(&mut self, expr: &Expr, scope: Scope<'_>) -> Lowered {
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
}
