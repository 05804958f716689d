//! The text of an emitted module: the docstring, the imports, and the
//! functions.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use lossc_diagnostics::{Diagnostic, Severity};
use lossc_ir::{Dim, NodeId, Op, Program, Value, Var};

use crate::prepare::Emission;
use crate::python::{self, Body, Context, identifier};
use crate::target::Target;

/// A diagnostic of the loss and what the emitted code does about it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub diagnostic: Diagnostic,
    /// Its line in the source.
    pub line: usize,
    pub status: Status,
}

/// Whether the emitted code fixes a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Fixed, and how.
    Fixed(String),
    /// The emitted code computes the same function, so this holds for it too.
    Remains,
}

/// The width docstring text is wrapped to.
const WIDTH: usize = 96;

/// The names of the function's arguments and what the body reads.
struct Signature {
    /// Positional arguments: (Python name, input index or `None` for Keras's unused `y_true`).
    positional: Vec<(String, Option<usize>)>,
    /// Keyword arguments: (Python name, default).
    keywords: Vec<(String, String)>,
    /// The argument whose dtype everything takes.
    reference: String,
}

pub fn write(e: &Emission, target: Target) -> String {
    let program = &e.program;
    let signature = signature(e, target);
    let mut functions = String::new();
    let name = identifier(&e.loss);
    let guarded = target.autodiff() && e.guards_on;
    let root = if guarded { e.guarded.root } else { e.root };
    let lets = if guarded { &e.guarded_lets } else { &e.lets };
    let no_guards = BTreeSet::new();
    let guards = if guarded { &e.guarded.guards } else { &no_guards };
    let args_text = arguments(&signature);
    let call_text = call_arguments(&signature);
    let per_sample = e.per_sample();
    let errstate = target == Target::Numpy;

    let loss_function = |fname: &str, doc: &str| -> String {
        let body = function_body(e, &signature, target, &[root], lets, guards);
        function(fname, &args_text, doc, &body, errstate)
    };
    if per_sample && !target.returns_per_sample() {
        functions.push_str(&loss_function(
            &format!("{name}_per_sample"),
            &format!(
                "The per-sample values of `{}`, shape [N] (as reduction=\"none\").",
                e.loss
            ),
        ));
        functions.push_str("\n\n");
        let mean = target.mean(&format!("{name}_per_sample({call_text})"));
        let _ = write!(
            functions,
            "def {name}({args_text}):\n    \"\"\"The loss `{}`: the mean of `{name}_per_sample` over the batch.\"\"\"\n    return {mean}\n",
            e.loss
        );
    } else {
        let doc = if per_sample {
            format!(
                "The per-sample values of `{}`, shape [N]; the loss is their mean (Keras's default reduction).",
                e.loss
            )
        } else {
            format!("The loss `{}`, a scalar.", e.loss)
        };
        functions.push_str(&loss_function(&name, &doc));
    }
    if target == Target::Numpy {
        let roots: Vec<NodeId> = e.gradients.iter().map(|(_, g)| *g).collect();
        let body = function_body(e, &signature, target, &roots, &e.lets, &no_guards);
        let vars: Vec<String> = e.wrt.iter().map(|v| format!("`{}`", program.var_name(*v))).collect();
        let doc = if roots.len() == 1 {
            format!(
                "lossc's gradient of `{}` with respect to {}, an array of its shape.",
                e.loss, vars[0]
            )
        } else {
            format!(
                "lossc's gradient of `{}` with respect to {}: a tuple, in that order.",
                e.loss,
                vars.join(", ")
            )
        };
        functions.push_str("\n\n");
        functions.push_str(&function(&format!("{name}_grad"), &args_text, &doc, &body, true));
    }

    let mut out = String::new();
    out.push_str(&docstring(e, target, &signature));
    out.push('\n');
    for (prefix, line) in target.imports() {
        if functions.contains(prefix) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("\n\n");
    out.push_str(&functions);
    out
}

fn function(name: &str, args: &str, doc: &str, body: &[String], errstate: bool) -> String {
    let mut out = format!("def {name}({args}):\n    \"\"\"{doc}\"\"\"\n");
    let indent = if errstate {
        out.push_str("    with np.errstate(all=\"ignore\"):  # unselected branches may divide by 0\n");
        "        "
    } else {
        "    "
    };
    for line in body {
        for part in line.lines() {
            let _ = writeln!(out, "{indent}{part}");
        }
    }
    out
}

fn arguments(signature: &Signature) -> String {
    let mut parts: Vec<String> = signature.positional.iter().map(|(n, _)| n.clone()).collect();
    if !signature.keywords.is_empty() {
        parts.push("*".into());
        parts.extend(signature.keywords.iter().map(|(n, d)| format!("{n}={d}")));
    }
    parts.join(", ")
}

fn call_arguments(signature: &Signature) -> String {
    let mut parts: Vec<String> = signature.positional.iter().map(|(n, _)| n.clone()).collect();
    parts.extend(signature.keywords.iter().map(|(n, _)| format!("{n}={n}")));
    parts.join(", ")
}

fn signature(e: &Emission, target: Target) -> Signature {
    let program = &e.program;
    let mut positional: Vec<(String, Option<usize>)> = program
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| (identifier(&input.name), Some(i)))
        .collect();
    // Keras calls `loss(y_true, y_pred)`.
    if target.returns_per_sample() && program.input("y_true").is_none() && program.inputs.len() == 1 {
        positional.insert(0, ("y_true".into(), None));
    }
    let keywords = program
        .params
        .iter()
        .map(|p| (identifier(&p.name), python::value(&p.value)))
        .collect();
    let reference = e
        .wrt
        .iter()
        .find_map(|v| match v {
            Var::Input(i) => Some(*i),
            Var::Param(_) => None,
        })
        .unwrap_or(0);
    Signature {
        positional,
        keywords,
        reference: identifier(&program.inputs[reference].name),
    }
}

/// The body of a function computing `roots`, with the argument conversions
/// and the constants and dimensions it reads; the last line returns.
fn function_body(
    e: &Emission,
    signature: &Signature,
    target: Target,
    roots: &[NodeId],
    lets: &std::collections::HashMap<NodeId, String>,
    guards: &BTreeSet<NodeId>,
) -> Vec<String> {
    let program = &e.program;
    let mut taken: HashSet<String> = signature.positional.iter().map(|(n, _)| n.clone()).collect();
    taken.extend(signature.keywords.iter().map(|(n, _)| n.clone()));
    taken.extend(program.consts.iter().map(|c| identifier(&c.name)));
    taken.extend(program.dims.iter().map(|d| identifier(d)));
    let context = Context {
        target,
        reference: &signature.reference,
        lets,
        guards,
        taken: &taken,
    };
    let Body { lines, results, dims } = python::body(program, roots, &context);
    let used = leaves(program, roots);
    let reference = &signature.reference;
    let mut out = Vec::new();
    // Arguments as tensors of the reference's dtype.
    let ref_index = program.inputs.iter().position(|i| identifier(&i.name) == *reference);
    let mut squeeze = Vec::new();
    let mut rank_checks = Vec::new();
    for (name, index) in &signature.positional {
        let Some(index) = *index else { continue };
        let is_ref = Some(index) == ref_index;
        if !is_ref && !used.contains(&Op::Input(index)) {
            continue;
        }
        if is_ref {
            out.push(target.convert_reference(name));
        } else {
            out.push(target.convert_like(name, reference));
        }
        let shape = &program.inputs[index].shape;
        if shape.len() == 1
            && let Some(line) = target.squeeze_column(name)
        {
            squeeze.push(line);
        }
        rank_checks.extend(target.rank_check(name, shape.len(), &program.shape_string(shape)));
    }
    // The reference first: the others take its dtype.
    if let Some(k) = out.iter().position(|l| l.starts_with(&format!("{reference} = "))) {
        let line = out.remove(k);
        out.insert(0, line);
    }
    if !squeeze.is_empty() {
        out.push("# Keras gives (N, 1) arrays to a model with one output unit; this loss takes (N,).".into());
        out.extend(squeeze);
    }
    out.extend(rank_checks);
    for (i, param) in program.params.iter().enumerate() {
        if used.contains(&Op::Param(i)) {
            out.push(target.convert_like(&identifier(&param.name), reference));
        }
    }
    for (i, constant) in program.consts.iter().enumerate() {
        if used.contains(&Op::Const(i)) {
            let name = identifier(&constant.name);
            match &constant.value {
                Value::Scalar(v) => out.push(format!("{name} = {}", python::number(*v))),
                Value::Vector(_) => out.push(format!(
                    "{name} = {}",
                    target.vector(&python::value(&constant.value), reference)
                )),
            }
        }
    }
    for d in dims {
        let dim = Dim::Named(d);
        if let Some((input, axis)) = program
            .inputs
            .iter()
            .find_map(|i| i.shape.iter().position(|x| *x == dim).map(|axis| (i, axis)))
        {
            out.push(format!(
                "{} = {}",
                identifier(&program.dims[d.0 as usize]),
                target.dim_size(&identifier(&input.name), axis)
            ));
        }
    }
    out.extend(lines);
    let result = if results.len() == 1 {
        results[0].clone()
    } else {
        results.join(", ")
    };
    out.push(format!("return {result}"));
    out
}

/// The leaf operations (`Input(i)`, `Param(i)`, `Const(i)`) the roots read.
fn leaves(program: &Program, roots: &[NodeId]) -> Vec<Op> {
    let reached = program.reachable(roots);
    let mut out = Vec::new();
    for (node, _) in program.nodes.iter().zip(&reached).rev().filter(|(_, r)| **r) {
        if matches!(node.op, Op::Input(_) | Op::Param(_) | Op::Const(_)) && !out.contains(&node.op) {
            out.push(node.op.clone());
        }
    }
    out
}

/// Words of `text` wrapped to [`WIDTH`], each line starting with `indent`.
fn wrap(text: &str, indent: &str, out: &mut String) {
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > indent.len() {
        out.push_str(&line);
        out.push('\n');
    }
}

fn docstring(e: &Emission, target: Target, signature: &Signature) -> String {
    let program = &e.program;
    let file = e.file.as_deref().unwrap_or("a .loss program");
    let name = identifier(&e.loss);
    let mut d = String::new();
    let _ = writeln!(
        d,
        "{}: {} code emitted by lossc from {file}.",
        e.loss,
        target.framework()
    );
    d.push('\n');
    if !e.summary.is_empty() {
        for line in &e.summary {
            let _ = writeln!(d, "{line}");
        }
        d.push('\n');
    }
    let _ = writeln!(d, "Line {}: {}", e.statement.0, e.statement.1);
    let _ = writeln!(
        d,
        "Generated by `lossc emit --target {target}`: edit the .loss file and emit again."
    );
    d.push('\n');

    let _ = writeln!(d, "Arguments, in the order the file declares its inputs:");
    let width = signature.positional.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (arg, index) in &signature.positional {
        let text = match index {
            Some(i) => {
                let input = &program.inputs[*i];
                let mut text = format!("{}, shape {}", input.domain, program.shape_string(&input.shape));
                if e.wrt.contains(&Var::Input(*i)) {
                    text.push_str("; the loss is differentiated with respect to it");
                }
                text
            }
            None => "not used: Keras passes the targets first".into(),
        };
        let _ = writeln!(d, "    {arg:width$}  {text}");
    }
    if !signature.keywords.is_empty() {
        let _ = writeln!(d, "Keyword arguments (the file's params, with its values as defaults):");
        for (i, param) in program.params.iter().enumerate() {
            let mut text = format!("    {} = {}", identifier(&param.name), python::value(&param.value));
            if e.wrt.contains(&Var::Param(i)) {
                text.push_str("  (differentiated)");
            }
            let _ = writeln!(d, "{text}");
        }
    }
    if !program.consts.is_empty() {
        let consts: Vec<String> = program
            .consts
            .iter()
            .map(|c| format!("{} = {}", identifier(&c.name), python::value(&c.value)))
            .collect();
        let _ = writeln!(d, "Constants: {}.", consts.join(", "));
    }
    let named: Vec<&str> = program
        .dims
        .iter()
        .map(String::as_str)
        .filter(|dim| {
            program.inputs.iter().any(|i| {
                i.shape
                    .iter()
                    .any(|x| matches!(x, Dim::Named(id) if program.dims[id.0 as usize] == *dim))
            })
        })
        .collect();
    if !named.is_empty() {
        let (noun, verb) = if named.len() == 1 {
            ("Dimension", "is")
        } else {
            ("Dimensions", "are")
        };
        let _ = writeln!(d, "{noun} {} {verb} read from the arguments' shapes.", named.join(", "));
    }
    d.push('\n');

    let reference = &signature.reference;
    let returns = match (e.per_sample(), target.returns_per_sample()) {
        (false, _) => format!(
            "`{name}` returns the loss, a scalar ({}) in the dtype of `{reference}`.",
            target.tensor_type()
        ),
        (true, true) => format!(
            "The loss is per-sample: `{name}` returns the N per-sample values ({}), and Keras's loss \
             reduction (the default, \"sum_over_batch_size\") takes their mean, which is the loss's value; \
             use it as `model.compile(loss={name})`.",
            target.tensor_type()
        ),
        (true, false) => format!(
            "The loss is per-sample: `{name}` returns their mean over the batch (the loss's value, a \
             scalar {}), and `{name}_per_sample` returns the N values (what reduction=\"none\" gives).",
            target.tensor_type()
        ),
    };
    wrap(&returns, "", &mut d);
    if target == Target::Numpy {
        wrap(
            &format!(
                "`{name}_grad` returns lossc's exact gradient of the loss (of the mean, for a per-sample loss), \
                 with the same arguments."
            ),
            "",
            &mut d,
        );
    }
    d.push('\n');

    let safety = if target == Target::Numpy {
        "NaN safety: NumPy code is not differentiated; `NAME_grad` is lossc's own gradient, in which a branch \
         that is not selected contributes nothing."
            .replace("NAME", &name)
    } else if !e.guards_on {
        "NaN safety: OFF. This is the plain transcription: framework autodiff of a selection can give \
         0 * inf = NaN from the branch it does not select."
            .to_string()
    } else if e.guarded_selections.is_empty() {
        format!(
            "NaN safety: no selection (where, maximum, minimum, clip, relu, abs, max, min) here has a \
             branch with an operation that can be non-finite, so {} autodiff needs no guard.",
            target.framework()
        )
    } else {
        let list: Vec<String> = e
            .guarded_selections
            .iter()
            .map(|(line, text)| {
                format!(
                    "line {line} `{}`",
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                )
            })
            .collect();
        format!(
            "NaN safety: in every selection whose branch has an operation that can be non-finite (log, \
             sqrt, a division, pow, exp, ...), that operation's operand is replaced by a safe value where \
             the branch is not selected (the \"double where\"), so {} autodiff gives no NaN where lossc's \
             gradient is finite. Guarded: {}.",
            target.framework(),
            list.join("; ")
        )
    };
    wrap(&safety, "", &mut d);
    d.push('\n');

    let dtype = match e.dtype {
        lossc_ir::Dtype::F32 => "float32",
        lossc_ir::Dtype::F64 => "float64",
    };
    let shown: Vec<&Finding> = e
        .findings
        .iter()
        .filter(|f| f.diagnostic.severity != Severity::Note)
        .collect();
    let fixed: Vec<&&Finding> = shown.iter().filter(|f| f.status != Status::Remains).collect();
    let remains: Vec<&&Finding> = shown.iter().filter(|f| f.status == Status::Remains).collect();
    if !e.checked {
        let _ = writeln!(d, "Emitted without `lossc check`: run it for this loss's diagnostics.");
    } else if shown.is_empty() {
        let _ = writeln!(d, "`lossc check` ({dtype}) finds no error or warning in this loss.");
    } else {
        let _ = writeln!(d, "Diagnostics of `lossc check` ({dtype}) for this loss:");
        if !fixed.is_empty() {
            let _ = writeln!(d, "  fixed in this code:");
            for f in fixed {
                finding(f, &mut d);
                if let Status::Fixed(how) = &f.status {
                    let how = if target == Target::Numpy
                        && f.diagnostic.code == lossc_diagnostics::Code::WhereNanGradient
                    {
                        format!(
                            "does not arise: NumPy code is not differentiated, and `{name}_grad` is lossc's gradient"
                        )
                    } else {
                        how.clone()
                    };
                    wrap(&format!("-> {how}"), "        ", &mut d);
                }
            }
        }
        if !remains.is_empty() {
            let _ = writeln!(d, "  not fixed (this code computes the same function):");
            for f in remains {
                finding(f, &mut d);
            }
        }
    }
    let notes: Vec<String> = e
        .findings
        .iter()
        .filter(|f| f.diagnostic.severity == Severity::Note)
        .map(|f| format!("{} (line {})", f.diagnostic.code, f.line))
        .collect();
    if !notes.is_empty() {
        wrap(&format!("Notes: {}.", notes.join(", ")), "", &mut d);
    }
    let d = d.trim_end().replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"");
    format!("\"\"\"{d}\n\"\"\"\n")
}

fn finding(f: &Finding, out: &mut String) {
    let text = format!(
        "{} ({}, line {}): {}",
        f.diagnostic.code, f.diagnostic.severity, f.line, f.diagnostic.message
    );
    let mut wrapped = String::new();
    wrap(&text, "      ", &mut wrapped);
    // Continuation lines indent further.
    for (k, line) in wrapped.lines().enumerate() {
        if k == 0 {
            out.push_str("    ");
            out.push_str(line.trim_start());
        } else {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
}
