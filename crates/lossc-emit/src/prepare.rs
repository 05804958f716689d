//! From a checked program to an [`Emission`]: the analyzer's fixes applied,
//! the loss simplified with the source's `let` names kept, the gradient for
//! NumPy, the guards for the frameworks with autodiff.

use std::collections::{BTreeSet, HashMap};

use lossc_diagnostics::{Code, Diagnostic, Fix, LineIndex, Span};
use lossc_ir::{Domain, Dtype, NodeId, Op, Program, ResultKind, Var};
use lossc_symbolic::simplify::{Limits, simplify};
use ndarray::{ArrayD, IxDyn};

use crate::guard::{Guarded, guard};
use crate::module::{self, Finding, Status};
use crate::{EmitError, Options, Target};

/// A loss ready to be written for any target.
#[derive(Debug, Clone)]
pub struct Emission {
    pub(crate) program: Program,
    pub(crate) loss: String,
    /// The simplified loss.
    pub(crate) root: NodeId,
    /// The guarded loss, for the frameworks with autodiff.
    pub(crate) guarded: Guarded,
    /// lossc's gradient, simplified, for each variable (the NumPy target).
    pub(crate) gradients: Vec<(Var, NodeId)>,
    /// `let` names of nodes of the simplified loss.
    pub(crate) lets: HashMap<NodeId, String>,
    /// The same names on the nodes of the guarded loss.
    pub(crate) guarded_lets: HashMap<NodeId, String>,
    pub(crate) wrt: Vec<Var>,
    pub(crate) findings: Vec<Finding>,
    /// Selections guarded, as (line, source text).
    pub(crate) guarded_selections: Vec<(usize, String)>,
    pub(crate) dtype: Dtype,
    pub(crate) file: Option<String>,
    /// The first comment paragraph of the source, which usually says what the loss is.
    pub(crate) summary: Vec<String>,
    /// The loss statement as written, and its line.
    pub(crate) statement: (usize, String),
    pub(crate) guards_on: bool,
    pub(crate) checked: bool,
}

impl Emission {
    /// The Python module for `target`.
    pub fn module(&self, target: Target) -> String {
        module::write(self, target)
    }

    /// The loss's name.
    pub fn loss(&self) -> &str {
        &self.loss
    }

    /// Each diagnostic of the loss, and whether the emitted code fixes it.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The program the frameworks' code is written from, and its loss root:
    /// equal to the original for every input (tested with the reference
    /// interpreter).
    pub fn guarded_program(&self) -> (&Program, NodeId) {
        (&self.program, self.guarded.root)
    }

    /// The selections that got the "double where", as (line, source text).
    pub fn guarded_selections(&self) -> &[(usize, String)] {
        &self.guarded_selections
    }

    /// Whether the loss is per-sample (shape `[N]`).
    pub fn per_sample(&self) -> bool {
        !self.program.node(self.root).ty.shape.is_empty()
    }
}

/// Prepares the loss `options.loss` of `program` (compiled from `source`).
pub fn prepare(program: &Program, source: &str, options: &Options) -> Result<Emission, EmitError> {
    let result = program
        .result(&options.loss)
        .filter(|r| r.kind == ResultKind::Loss)
        .ok_or_else(|| EmitError::UnknownLoss(options.loss.clone()))?;
    if program.inputs.is_empty() {
        return Err(EmitError::NoInput);
    }
    let lines = LineIndex::new(source);
    let line_of = |offset: usize| lines.line_col(source, offset).0;

    // The analyzer's stable-form fixes, kept when evaluation agrees.
    let candidates: Vec<&Diagnostic> = options
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::PrecisionLoss && d.fix.is_some())
        .collect();
    let (fixed_source, fixed_program, edits) = apply_fixes(program, source, &options.loss, &candidates);
    let to_original = |offset: usize| original_offset(&edits, offset);

    // Which diagnostics the applied fixes remove: the analysis again.
    let mut findings: Vec<Finding> = Vec::new();
    let after = if edits.is_empty() {
        None
    } else {
        let analysis = lossc_analysis::Options {
            dtype: options.dtype,
            loss: Some(options.loss.clone()),
            wrt: options.wrt.clone(),
        };
        Some(lossc_analysis::analyze(&fixed_program, &fixed_source, &analysis))
    };

    // The `let` names, the gradient, and the simplification.
    let mut ir = fixed_program;
    let root = ir.result(&options.loss).expect("the fixed program has the loss").root;
    let let_nodes = let_nodes(&ir, root);
    let mut roots = vec![root];
    for &var in &options.wrt {
        let g = match lossc_symbolic::gradient(&mut ir, root, var) {
            Some(g) => g,
            None => ir.add(Op::Literal(0.0), Vec::new(), ir.node(root).span),
        };
        roots.push(g);
    }
    roots.extend(let_nodes.iter().map(|(id, _)| *id));
    let (simplified, _report) = simplify(&mut ir, &roots, Limits::default());
    share_leaves(&mut ir);
    let root = simplified[0];
    let mut gradients = Vec::new();
    for (k, &var) in options.wrt.iter().enumerate() {
        let g = simplified[1 + k];
        let shape = ir.var_shape(var);
        let g = if ir.node(g).ty.shape == shape {
            g
        } else {
            let span = ir.node(g).span;
            let leaf = match var {
                Var::Input(i) => Op::Input(i),
                Var::Param(i) => Op::Param(i),
            };
            let like = ir.add(leaf, Vec::new(), span);
            ir.add(
                Op::Call(lossc_ir::Builtin::BroadcastLike, Default::default()),
                vec![g, like],
                span,
            )
        };
        gradients.push((var, g));
    }
    let mut lets: HashMap<NodeId, String> = HashMap::new();
    for ((_, name), &node) in let_nodes.iter().zip(&simplified[1 + options.wrt.len()..]) {
        if matches!(ir.node(node).op, Op::Call(..)) {
            lets.entry(node).or_insert_with(|| name.clone());
        }
    }

    // The guards.
    let guarded = if options.guards {
        guard(&mut ir, root, &options.wrt)
    } else {
        Guarded {
            root,
            rebuilt: HashMap::new(),
            selections: BTreeSet::new(),
            guards: BTreeSet::new(),
        }
    };
    let mut guarded_lets = HashMap::new();
    for (node, name) in &lets {
        match guarded.rebuilt.get(node) {
            Some(rebuilt) if rebuilt != node => {
                guarded_lets.insert(*node, name.clone());
                guarded_lets.insert(*rebuilt, format!("{name}_safe"));
            }
            _ => {
                guarded_lets.insert(*node, name.clone());
            }
        }
    }
    // A guarded `let` whose original is not needed (no condition reads it) keeps the plain name.
    let guarded_cone = cone(&ir, guarded.root);
    for (node, name) in &lets {
        if let Some(rebuilt) = guarded.rebuilt.get(node)
            && rebuilt != node
            && !guarded_cone.contains(node)
        {
            guarded_lets.insert(*rebuilt, name.clone());
        }
    }
    let original_span = |s: &NodeId| {
        let span = ir.node(*s).span;
        Span::new(to_original(span.start), to_original(span.end))
    };
    let guarded_spans: Vec<Span> = guarded.selections.iter().map(original_span).collect();
    // The kinks of `abs` selected with `where` (its derivative there is 0 in lossc).
    let guarded_kinks: Vec<Span> = guarded
        .selections
        .iter()
        .filter(|s| matches!(ir.node(**s).op, Op::Call(lossc_ir::Builtin::Abs, _)))
        .map(original_span)
        .collect();
    let mut guarded_selections: Vec<(usize, String)> = guarded_spans
        .iter()
        .map(|span| {
            (
                line_of(span.start),
                source.get(span.start..span.end).unwrap_or("").to_string(),
            )
        })
        .collect();
    guarded_selections.sort();
    guarded_selections.dedup();

    // What the emitted code does about each finding.
    let applied: BTreeSet<Span> = edits.iter().map(|e| e.original).collect();
    for diagnostic in &options.diagnostics {
        let status = if diagnostic.code == Code::WhereNanGradient
            && guarded_kinks.iter().any(|s| overlaps(*s, diagnostic.span))
        {
            Status::Fixed("`abs` at its kink is selected with a `where`, so the gradient there is 0, as lossc's".into())
        } else if diagnostic.code == Code::WhereNanGradient
            && guarded_spans.iter().any(|s| overlaps(*s, diagnostic.span))
        {
            Status::Fixed("every selected branch's operand is guarded (the double where)".into())
        } else if let Some(Fix { span, replacement }) = &diagnostic.fix
            && applied.contains(span)
        {
            Status::Fixed(format!("rewritten as `{replacement}`"))
        } else if let Some(after) = &after
            && !after
                .iter()
                .any(|d| d.code == diagnostic.code && overlaps(mapped(d.span, &to_original), diagnostic.span))
        {
            Status::Fixed("gone with the rewrites above".into())
        } else {
            Status::Remains
        };
        findings.push(Finding {
            diagnostic: diagnostic.clone(),
            line: line_of(diagnostic.span.start),
            status,
        });
    }

    // Dimensions read as numbers must be the size of some input's axis.
    let mut all_roots = vec![guarded.root, root];
    all_roots.extend(gradients.iter().map(|(_, g)| *g));
    for node in ir.cone(&all_roots) {
        let dim = match &ir.node(node).op {
            Op::DimSize(d) => Some(*d),
            Op::Call(_, attrs) => match attrs.classes {
                Some(lossc_ir::Dim::Named(d)) => Some(d),
                _ => None,
            },
            _ => None,
        };
        if let Some(d) = dim
            && !ir.inputs.iter().any(|i| i.shape.contains(&lossc_ir::Dim::Named(d)))
        {
            return Err(EmitError::UnboundDim(ir.dims[d.0 as usize].clone()));
        }
    }

    let statement_text = source
        .get(result.span.start..result.span.end)
        .unwrap_or("")
        .trim()
        .to_string();
    Ok(Emission {
        loss: options.loss.clone(),
        root,
        guarded,
        gradients,
        lets,
        guarded_lets,
        wrt: options.wrt.clone(),
        findings,
        guarded_selections,
        dtype: options.dtype,
        file: options.file.clone(),
        summary: summary(source),
        statement: (line_of(result.span.start), statement_text),
        guards_on: options.guards,
        checked: options.checked,
        program: ir,
    })
}

/// Makes every use of an input, param or const read its first node:
/// simplification adds new leaf nodes, and gradients look a variable up by
/// its first node.
fn share_leaves(program: &mut Program) {
    let mut first: HashMap<(u8, usize), NodeId> = HashMap::new();
    let mut replace: HashMap<NodeId, NodeId> = HashMap::new();
    for (i, node) in program.nodes.iter().enumerate() {
        let key = match node.op {
            Op::Input(k) => (0, k),
            Op::Param(k) => (1, k),
            Op::Const(k) => (2, k),
            _ => continue,
        };
        let id = NodeId(i as u32);
        let canonical = *first.entry(key).or_insert(id);
        if canonical != id {
            replace.insert(id, canonical);
        }
    }
    for node in &mut program.nodes {
        for arg in &mut node.args {
            if let Some(c) = replace.get(arg) {
                *arg = *c;
            }
        }
    }
}

fn overlaps(a: Span, b: Span) -> bool {
    a.start < b.end.max(b.start + 1) && b.start < a.end.max(a.start + 1)
}

fn mapped(span: Span, to_original: &impl Fn(usize) -> usize) -> Span {
    Span::new(to_original(span.start), to_original(span.end))
}

fn cone(program: &Program, root: NodeId) -> BTreeSet<NodeId> {
    program.cone(&[root]).into_iter().collect()
}

/// The first comment paragraph of the source, without the `#`.
fn summary(source: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in source.lines() {
        let trimmed = line.trim();
        match trimmed.strip_prefix('#') {
            Some(text) => {
                let text = text.strip_prefix(' ').unwrap_or(text);
                if text.trim().is_empty() && !lines.is_empty() {
                    break;
                }
                if !text.trim().is_empty() {
                    lines.push(text.trim_end().to_string());
                }
            }
            None if trimmed.is_empty() && lines.is_empty() => continue,
            None => break,
        }
    }
    lines
}

/// An applied edit: the span it replaced in the original source, and where
/// its replacement lies in the new one.
#[derive(Debug, Clone, Copy)]
struct Edit {
    original: Span,
    new: Span,
}

/// The offset in the original source of `offset` in the fixed one.
fn original_offset(edits: &[Edit], offset: usize) -> usize {
    let mut shift: isize = 0;
    for edit in edits {
        if offset < edit.new.start {
            break;
        }
        if offset < edit.new.end {
            return edit.original.start;
        }
        shift = edit.new.end as isize - edit.original.end as isize;
    }
    (offset as isize - shift).max(0) as usize
}

/// Applies the fixes that keep the loss's value (checked by evaluation at
/// points inside the domains), returning the new source, its program (with
/// the same param values), and the edits made.
fn apply_fixes(program: &Program, source: &str, loss: &str, fixes: &[&Diagnostic]) -> (String, Program, Vec<Edit>) {
    let mut chosen: Vec<Fix> = Vec::new();
    let mut fixes: Vec<Fix> = fixes.iter().filter_map(|d| d.fix.clone()).collect();
    fixes.sort_by_key(|f| (f.span.start, std::cmp::Reverse(f.span.end)));
    fixes.dedup_by_key(|f| f.span);
    for fix in fixes {
        // Nested or overlapping fixes: the outer one wins.
        if chosen
            .iter()
            .any(|c| fix.span.start < c.span.end && c.span.start < fix.span.end)
        {
            continue;
        }
        let mut trial = chosen.clone();
        trial.push(fix);
        trial.sort_by_key(|f| f.span.start);
        if let Some((text, fixed, _)) = rewrite(program, source, &trial)
            && same_values(program, &fixed, loss)
        {
            let _ = text;
            chosen = trial;
        }
    }
    match rewrite(program, source, &chosen) {
        Some((text, fixed, edits)) if !chosen.is_empty() => (text, fixed, edits),
        _ => (source.to_string(), program.clone(), Vec::new()),
    }
}

/// The source with `fixes` (sorted, disjoint) applied, compiled.
fn rewrite(program: &Program, source: &str, fixes: &[Fix]) -> Option<(String, Program, Vec<Edit>)> {
    let mut text = String::with_capacity(source.len());
    let mut edits = Vec::new();
    let mut at = 0;
    for fix in fixes {
        text.push_str(source.get(at..fix.span.start)?);
        let start = text.len();
        text.push_str(&fix.replacement);
        edits.push(Edit {
            original: fix.span,
            new: Span::new(start, text.len()),
        });
        at = fix.span.end;
    }
    text.push_str(source.get(at..)?);
    let ast = lossc_syntax::parse(&text).ok()?;
    let (mut fixed, _) = lossc_ir::lower(&ast, &text).ok()?;
    for param in &program.params {
        if let lossc_ir::Value::Scalar(v) = param.value {
            fixed.set_param(&param.name, v);
        }
    }
    Some((text, fixed, edits))
}

/// Whether the loss `loss` has the same values in both programs at a few
/// points inside the declared domains.
fn same_values(a: &Program, b: &Program, loss: &str) -> bool {
    let (Some(ra), Some(rb)) = (a.result(loss), b.result(loss)) else {
        return false;
    };
    for seed in 0..3 {
        let data = sample(a, seed);
        let (Ok(ba), Ok(bb)) = (
            lossc_reference::Bindings::new(a, data.clone()),
            lossc_reference::Bindings::new(b, data),
        ) else {
            return false;
        };
        let (Ok(va), Ok(vb)) = (
            lossc_reference::eval(a, &[ra.root], &ba),
            lossc_reference::eval(b, &[rb.root], &bb),
        ) else {
            return false;
        };
        let (va, vb) = (&va[0], &vb[0]);
        if va.shape() != vb.shape() {
            return false;
        }
        let close = va.iter().zip(vb.iter()).all(|(x, y): (&f64, &f64)| {
            (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()) + 1e-12
        });
        if !close {
            return false;
        }
    }
    true
}

/// Deterministic data inside every input's domain: three samples, other
/// dimensions of size 3.
fn sample(program: &Program, seed: u64) -> Vec<(String, ArrayD<f64>)> {
    let mut rng = lossc_ir::rng::SplitMix64::new(seed);
    program
        .inputs
        .iter()
        .map(|input| {
            let shape: Vec<usize> = input
                .shape
                .iter()
                .map(|d| match d {
                    lossc_ir::Dim::Fixed(n) => *n as usize,
                    lossc_ir::Dim::Named(_) => 3,
                })
                .collect();
            let count: usize = shape.iter().product();
            let element = input.domain.element();
            let mut data: Vec<f64> = (0..count)
                .map(|_| {
                    let u = rng.unit();
                    match &element {
                        Domain::Simplex | Domain::OneHot => unreachable!("an element's domain is not a row domain"),
                        Domain::Real => 4.0 * u - 2.0,
                        Domain::Interval { lo, hi, .. } => match (lo.is_finite(), hi.is_finite()) {
                            (true, true) => lo + (hi - lo) * (0.1 + 0.8 * u),
                            (true, false) => lo + 0.1 + 3.0 * u,
                            (false, true) => hi - 0.1 - 3.0 * u,
                            (false, false) => 4.0 * u - 2.0,
                        },
                        Domain::Set(values) => values[((u * values.len() as f64) as usize).min(values.len() - 1)],
                    }
                })
                .collect();
            input
                .domain
                .make_rows(&mut data, shape.last().copied().unwrap_or(1), &mut rng, false);
            let array = ArrayD::from_shape_vec(IxDyn(&shape), data).expect("the data fills the shape");
            (input.name.clone(), array)
        })
        .collect()
}

/// The `let`s of the source whose value is an operation in the loss's cone:
/// (node, name), in source order.
fn let_nodes(program: &Program, root: NodeId) -> Vec<(NodeId, String)> {
    let in_cone = program.reachable(&[root]);
    program
        .lets
        .iter()
        .filter(|l| in_cone[l.node.index()] && matches!(program.node(l.node).op, Op::Call(..)))
        .map(|l| (l.node, l.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_back_through_edits() {
        // "ab XYZ cd" from "ab Q cd": Q (3..4) replaced by XYZ (3..6).
        let edits = [Edit {
            original: Span::new(3, 4),
            new: Span::new(3, 6),
        }];
        assert_eq!(original_offset(&edits, 1), 1);
        assert_eq!(original_offset(&edits, 4), 3, "inside the replacement: its start");
        assert_eq!(original_offset(&edits, 7), 5);
    }

    #[test]
    fn the_summary_is_the_first_comment_paragraph() {
        let source = "# Binary cross-entropy.\n# On probabilities.\n#\n# Source: Keras.\ninput y_pred: [0, 1]\n";
        assert_eq!(summary(source), ["Binary cross-entropy.", "On probabilities."]);
        assert!(summary("loss = mean(y_pred)").is_empty());
    }
}
