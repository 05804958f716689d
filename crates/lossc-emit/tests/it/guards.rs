//! The "double where" pass, checked with the reference interpreter on every
//! example and corpus file, at data inside the domains and at their edges:
//! - the guarded loss has the same value as the original (NaN where it is NaN),
//! - its framework-style gradient (`Style::Framework`: the selection's mask
//!   applied to the adjoint, as JAX, PyTorch and TensorFlow do) is finite
//!   wherever lossc's own gradient of the original loss is,
//! - and the analyzer finds no `where-nan-gradient` in a guarded example.

use lossc::ir::{Program, Var};
use lossc::{EmitOptions, EmitTarget};
use lossc_symbolic::grad::{Style, gradient_in_style};
use ndarray::ArrayD;

use crate::common::{self, edge_point, programs, random_point};

/// Evaluates `roots` of `program` on `data` in f64.
fn eval(program: &Program, roots: &[lossc::ir::NodeId], data: &[(String, ArrayD<f64>)]) -> Option<Vec<ArrayD<f64>>> {
    let bindings = lossc_reference::Bindings::new(program, data.iter().map(|(n, a)| (n.as_str(), a.clone()))).ok()?;
    lossc_reference::eval(program, roots, &bindings).ok()
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()) + 1e-300
}

#[test]
fn guarded_losses_keep_their_values_and_have_finite_framework_gradients() {
    let mut failures = Vec::new();
    let mut guarded_files = 0;
    for (name, source) in programs() {
        let program = lossc::compile(&source).unwrap();
        let options = EmitOptions {
            no_check: true,
            ..EmitOptions::default()
        };
        let emission = program.emit(&options).unwrap();
        let (guarded_ir, guarded_root) = emission.guarded_program();
        if !emission.guarded_selections().is_empty() {
            guarded_files += 1;
        }
        let ir = program.ir();
        let loss = ir.result(emission.loss()).unwrap().root;
        let vars: Vec<Var> = ir.wrt.clone();
        // lossc's gradient of the original, and the framework-style gradient of the guarded.
        let mut original = ir.clone();
        let lossc_roots: Vec<_> = vars
            .iter()
            .filter_map(|v| lossc_symbolic::gradient(&mut original, loss, *v))
            .collect();
        let mut guarded = guarded_ir.clone();
        let framework_roots: Vec<_> = vars
            .iter()
            .filter_map(|v| gradient_in_style(&mut guarded, guarded_root, *v, Style::Framework))
            .collect();
        assert_eq!(
            lossc_roots.len(),
            framework_roots.len(),
            "{name}: the same variables are differentiated"
        );
        for data in [random_point(ir, &name, 5), edge_point(ir, &name)] {
            let mut roots = vec![loss];
            roots.extend(&lossc_roots);
            let Some(expected) = eval(&original, &roots, &data) else {
                continue;
            };
            let mut roots = vec![guarded_root];
            roots.extend(&framework_roots);
            let got = eval(&guarded, &roots, &data).unwrap_or_else(|| panic!("{name}: the guarded program evaluates"));
            for (e, g) in expected[0].iter().zip(got[0].iter()) {
                if !same(*e, *g) {
                    failures.push(format!("{name}: the guarded loss is {g}, the original {e}"));
                }
            }
            if !expected[0].iter().all(|v| v.is_finite()) {
                continue;
            }
            for (k, (e, g)) in expected[1..].iter().zip(&got[1..]).enumerate() {
                let e_full = e
                    .broadcast(g.shape())
                    .map(|v| v.to_owned())
                    .unwrap_or_else(|| e.clone());
                for (i, (l, f)) in e_full.iter().zip(g.iter()).enumerate() {
                    if l.is_finite() && !f.is_finite() {
                        failures.push(format!(
                            "{name}: the framework gradient for variable {k} is {f} at element {i}, lossc's {l}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        guarded_files >= 8,
        "only {guarded_files} files have a guarded selection"
    );
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_analyzer_finds_no_where_trap_in_guarded_code() {
    // faulty_where_sqrt.loss has a `where-nan-gradient`; the emitted code
    // fixes it, and says so.
    let source = std::fs::read_to_string(common::workspace().join("examples/faulty_where_sqrt.loss")).unwrap();
    let program = lossc::compile(&source).unwrap();
    let emission = program.emit(&EmitOptions::default()).unwrap();
    let finding = emission
        .findings()
        .iter()
        .find(|f| f.diagnostic.code == lossc::Code::WhereNanGradient)
        .expect("check reports the where trap");
    assert!(matches!(finding.status, lossc_emit::Status::Fixed(_)), "{finding:?}");
    let module = emission.module(EmitTarget::Jax);
    assert!(
        module.contains("fixed in this code:\n    where-nan-gradient"),
        "{module}"
    );
    assert!(module.contains("jnp.sqrt(jnp.where(s > 0.0, s, 1.0))"), "{module}");
    // The guarded program, printed as .loss and checked again: no trap left.
    let (guarded, root) = emission.guarded_program();
    let mut guarded = guarded.clone();
    let index = guarded.results.iter().position(|r| r.name == emission.loss()).unwrap();
    guarded.results[index].root = root;
    let text = lossc_symbolic::print::program(
        &guarded,
        &[lossc_symbolic::print::Root {
            kind: lossc::ResultKind::Loss,
            name: emission.loss().to_string(),
            node: root,
        }],
    );
    let diagnostics = lossc::check(&text, &lossc::CheckOptions::default()).unwrap();
    assert!(
        diagnostics.iter().all(|d| d.code != lossc::Code::WhereNanGradient),
        "{text}\n{diagnostics:#?}"
    );
}

#[test]
fn a_constant_side_that_wins_is_selected_with_where() {
    // JAX's `maximum` multiplies the adjoint by a mask: the derivative of
    // `sqrt` at 0 (infinite) times 0 is NaN where y_pred < 0.
    let program = lossc::compile("input y_pred: real\nloss a = mean(sqrt(maximum(y_pred, 0)))").unwrap();
    let module = program.emit(&EmitOptions::default()).unwrap().module(EmitTarget::Jax);
    assert!(
        module.contains("jnp.sqrt(jnp.where(y_pred < 0.0, 0.0, jnp.maximum(y_pred, 0.0)))"),
        "{module}"
    );
    // A constant side where the derivative above is finite needs nothing.
    let program = lossc::compile("input y_pred: [0, 1]\nloss b = mean(-log(clip(y_pred, 1e-7, 1)))").unwrap();
    let module = program.emit(&EmitOptions::default()).unwrap().module(EmitTarget::Jax);
    assert!(module.contains("-jnp.log(jnp.clip(y_pred, 1e-7, 1.0))"), "{module}");
}
