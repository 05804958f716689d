//! Kinds and shapes: the kind (number or boolean) an operand must have,
//! NumPy broadcasting with its warning for an accidental `[N, N]`, and the
//! size limits of a value ([`MAX_RANK`] axes, [`MAX_FIXED_ELEMENTS`]
//! elements).

use lossc_diagnostics::{Code, Diagnostic, Span};
use lossc_syntax::ast::{self, DimSpec};

use crate::program::NodeId;
use crate::types::{Dim, Kind, Shape, Type, broadcast};

use super::{Lowerer, MAX_FIXED_ELEMENTS, MAX_RANK, Poisoned};

impl Lowerer<'_> {
    pub(super) fn expect_kind(&mut self, id: NodeId, want: Kind, span: Span, role: &str) -> Result<(), Poisoned> {
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
    pub(super) fn broadcast(&mut self, args: &[(NodeId, Span)], at: Span, what: &str) -> Result<Shape, Poisoned> {
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

    /// Reports a declared shape beyond [`MAX_RANK`] axes or
    /// [`MAX_FIXED_ELEMENTS`] elements, at the dimension that goes over.
    pub(super) fn check_declared_shape(&mut self, spec: &ast::ShapeSpec, shape: &Shape) {
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
    pub(super) fn check_size(&mut self, ty: &Type, span: Span) -> Result<(), Poisoned> {
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
