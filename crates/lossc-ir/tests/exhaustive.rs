//! Every `match` on a [`lossc_ir::Builtin`] outside the table is exhaustive:
//! no `_ =>` (or a bare binding) catches the built-ins it does not name, so
//! adding a built-in makes the compiler list each place that must learn it,
//! and no stage silently treats a new built-in as some old one. A match is
//! "on a built-in" when one of its arms' patterns is a `Builtin::` path at
//! the top (alone, in an or-pattern, behind `name @`, or an element of a
//! tuple pattern). Facts that are the same for many built-ins belong in the
//! table (`crates/lossc-ir/src/builtins.rs`) as a column instead.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Whether `pat` names a `Builtin::` variant at its top.
fn names_builtin(pat: &syn::Pat) -> bool {
    match pat {
        syn::Pat::Path(p) => p.path.segments.first().is_some_and(|s| s.ident == "Builtin"),
        syn::Pat::Or(or) => or.cases.iter().any(names_builtin),
        syn::Pat::Ident(ident) => ident.subpat.as_ref().is_some_and(|(_, p)| names_builtin(p)),
        syn::Pat::Paren(p) => names_builtin(&p.pat),
        syn::Pat::Reference(r) => names_builtin(&r.pat),
        syn::Pat::Tuple(t) => t.elems.iter().any(names_builtin),
        _ => false,
    }
}

/// Whether `pat` matches anything: `_`, a bare binding, or a tuple of those.
fn catches_all(pat: &syn::Pat) -> bool {
    match pat {
        syn::Pat::Wild(_) => true,
        syn::Pat::Ident(ident) => ident.subpat.is_none() && ident.ident.to_string().starts_with(char::is_lowercase),
        syn::Pat::Paren(p) => catches_all(&p.pat),
        syn::Pat::Tuple(t) => t.elems.iter().all(catches_all),
        _ => false,
    }
}

/// The lines of the matches on a built-in with a catch-all arm.
#[derive(Default)]
struct Finder {
    lines: Vec<usize>,
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        let on_builtin = m.arms.iter().any(|arm| names_builtin(&arm.pat));
        if on_builtin && let Some(arm) = m.arms.iter().find(|arm| arm.guard.is_none() && catches_all(&arm.pat)) {
            self.lines.push(line_of(arm));
        }
        syn::visit::visit_expr_match(self, m);
    }
}

fn line_of(arm: &syn::Arm) -> usize {
    use syn::spanned::Spanned;
    arm.pat.span().start().line
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line` of every match on a built-in with a catch-all arm in the
/// workspace's crates (their `src`).
fn catch_alls() -> Vec<String> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .collect();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        sources(dir, &mut files);
    }
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut finder = Finder::default();
        finder.visit_file(&ast);
        let name = file.strip_prefix(&crates).unwrap().display().to_string();
        found.extend(finder.lines.iter().map(|line| format!("crates/{name}:{line}")));
    }
    found
}

#[test]
fn every_match_on_a_builtin_is_exhaustive() {
    let wrong: Vec<String> = catch_alls()
        .iter()
        .map(|site| format!("{site}: a `match` on `Builtin` ends in a catch-all arm"))
        .collect();
    assert!(
        wrong.is_empty(),
        "list the built-ins (the compiler then names this place when one is added), or read a column of the table:\n{}",
        wrong.join("\n")
    );
}
