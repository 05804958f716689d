use crate::builtins::Builtin;
use crate::program::{Op, Var};
use crate::types::Dim;

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

/// Statement words and `real` are names except as a statement's first word
/// (or a domain), and losses and outputs are named apart from values.
#[test]
fn statement_words_as_names_keep_their_meaning() {
    let source = "input output: real [N]\ninput real: real [N]\ninput loss: {0, 1} [N]\n\
                  def f(input) = input * 2\nlet let = f(output)\n\
                  output output = let + real\nloss loss = mean(loss * output)\nwrt output";
    let (program, _) = lowered(source).expect("valid");
    let names: Vec<&str> = program.inputs.iter().map(|input| input.name.as_str()).collect();
    assert_eq!(names, ["output", "real", "loss"]);
    assert_eq!(program.wrt, [Var::Input(0)]);
    let results: Vec<(&str, ResultKind)> = program.results.iter().map(|r| (r.name.as_str(), r.kind)).collect();
    assert_eq!(results, [("output", ResultKind::Output), ("loss", ResultKind::Loss)]);
    assert_eq!(
        program.lets.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["let"]
    );
    // `output output = let + real`: (input 0) * 2 + input 1.
    let output = program.result("output").expect("the output");
    let sum = program.node(output.root);
    assert!(matches!(sum.op, Op::Call(Builtin::Add, _)), "{sum:?}");
    let product = program.node(sum.args[0]);
    assert!(matches!(product.op, Op::Call(Builtin::Mul, _)), "{product:?}");
    assert_eq!(program.node(product.args[0]).op, Op::Input(0));
    assert_eq!(program.node(sum.args[1]).op, Op::Input(1));
    // `loss loss = mean(loss * output)`: the input `loss` times the input `output`.
    let loss = program.result("loss").expect("the loss");
    let mean = program.node(loss.root);
    let product = program.node(mean.args[0]);
    assert_eq!(program.node(product.args[0]).op, Op::Input(2));
    assert_eq!(program.node(product.args[1]).op, Op::Input(0));
}

/// `let loss = ...` then `loss = mean(loss)`: a binding and an unnamed loss
/// (named `loss`) that uses it.
#[test]
fn an_unnamed_loss_may_use_a_binding_named_loss() {
    let source = "input y_pred: real [N]\nlet loss = y_pred * 2\nloss = mean(loss)";
    let (program, _) = lowered(source).expect("valid");
    assert_eq!(program.lets.len(), 1);
    assert_eq!(program.lets[0].name, "loss");
    let [result] = &program.results[..] else {
        panic!("one result: {:?}", program.results)
    };
    assert_eq!((result.name.as_str(), result.kind), ("loss", ResultKind::Loss));
    let mean = program.node(result.root);
    assert_eq!(mean.args, [program.lets[0].node]);
    let product = program.node(program.lets[0].node);
    assert!(matches!(product.op, Op::Call(Builtin::Mul, _)), "{product:?}");
    assert_eq!(program.node(product.args[0]).op, Op::Input(0));
}
