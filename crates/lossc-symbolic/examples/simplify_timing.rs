//! Times gradient + simplification of every example: `cargo run --release -p lossc-symbolic --example simplify_timing`.
use std::time::Instant;

fn main() {
    let mut entries: Vec<_> = std::fs::read_dir("examples").unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.extension().is_none_or(|x| x != "loss") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let ast = lossc_syntax::parse(&source).unwrap();
        let (mut program, _) = lossc_ir::lower(&ast, &source).unwrap();
        let start = Instant::now();
        let root = program.losses().next().unwrap().root;
        let mut roots = vec![root];
        for &var in &program.wrt.clone() {
            if let Some(g) = lossc_symbolic::gradient(&mut program, root, var) {
                roots.push(g);
            }
        }
        let (new, report) = lossc_symbolic::simplify::simplify(&mut program, &roots, Default::default());
        let elapsed = start.elapsed();
        let text = lossc_symbolic::print::expr(&program, *new.last().unwrap());
        println!("{:>28} {:>8.2} ms {:?} {} nodes  grad: {}", path.file_name().unwrap().to_string_lossy(), elapsed.as_secs_f64() * 1e3, report.stop, report.nodes, &text[..text.len().min(100)]);
    }
}
