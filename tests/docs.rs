//! The diagnostic pages in `docs/diagnostics/` against the compiler.
//!
//! Every page `docs/diagnostics/<code>.md` (all but `README.md`) is named after
//! a code, declares its severity on a `Severity:` line, and has a `## Bad` and
//! a `## Good` section with exactly one ```` ```loss ```` block each: the bad
//! program must produce its code at that severity, the good one neither its
//! code nor any error. A page with a second case of its code adds sections
//! `## Bad: <case>` and `## Good: <case>`, held to the same rules. Every code has a page, and the README's index table
//! lists every code of the catalogue with its severities and links its page.
//! The analyzer's pages also say how lossc finds the problem, and
//! `docs/analysis.md` names every analyzer code.

use std::fs;
use std::path::{Path, PathBuf};

use lossc::{CheckOptions, Code, Diagnostic, Severity};

/// The codes that must have a page: all of them (each code has a
/// page in `docs/` with a bad and a good example).
const IMPLEMENTED: &[Code] = Code::ALL;

/// The codes of the front end; every other code is the analyzer's, and its
/// page must also have a `## How lossc finds it` section.
const FRONT_END: &[Code] = &[
    Code::Syntax,
    Code::UnknownName,
    Code::Arity,
    Code::TypeMismatch,
    Code::ShapeMismatch,
    Code::BadAxis,
    Code::RecursiveDef,
    Code::DuplicateName,
    Code::BadDomain,
    Code::LossShape,
    Code::SizeLimit,
];

const DOCS: &str = "docs/diagnostics";

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(DOCS)
}

/// One page of `docs/diagnostics/`, other than the README.
#[derive(Debug)]
struct Page {
    /// The path shown in failure messages, e.g. `docs/diagnostics/arity.md`.
    file: String,
    /// The file name without `.md`.
    stem: String,
    text: String,
}

fn pages() -> Vec<Page> {
    let mut pages: Vec<Page> = fs::read_dir(docs_dir())
        .unwrap_or_else(|e| panic!("reading {DOCS}: {e}"))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|x| x == "md"))
        .filter(|path| path.file_name().is_some_and(|name| name != "README.md"))
        .map(|path| {
            let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
            Page {
                file: format!("{DOCS}/{name}"),
                stem: name.trim_end_matches(".md").to_string(),
                text: fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {DOCS}/{name}: {e}")),
            }
        })
        .collect();
    pages.sort_by(|a, b| a.stem.cmp(&b.stem));
    pages
}

/// Panics with every failure at once, one per line.
#[track_caller]
fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} problem(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The `## ` sections of a Markdown text, as (heading, body); a `##` inside a
/// fenced block (a `.loss` comment) is not a heading.
fn sections(text: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && let Some(heading) = line.strip_prefix("## ") {
            sections.push((heading.trim().to_string(), String::new()));
        } else if let Some((_, body)) = sections.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    sections
}

/// The fenced code blocks of a Markdown text, as (info string, content).
fn fenced_blocks(text: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((info.trim().to_string(), String::new()));
                }
            }
            Some((info, mut content)) => {
                if trimmed.starts_with("```") {
                    blocks.push((info, content));
                } else {
                    content.push_str(line);
                    content.push('\n');
                    open = Some((info, content));
                }
            }
        }
    }
    blocks
}

/// The one ```` ```loss ```` block of section `heading` of `page`.
fn example(page: &Page, heading: &str) -> Result<String, String> {
    let found: Vec<String> = sections(&page.text)
        .into_iter()
        .filter(|(h, _)| h == heading)
        .map(|(_, body)| body)
        .collect();
    let [body] = found.as_slice() else {
        return Err(format!(
            "{}: expected one `## {heading}` section, found {}",
            page.file,
            found.len()
        ));
    };
    let blocks: Vec<String> = fenced_blocks(body)
        .into_iter()
        .filter(|(info, _)| info == "loss")
        .map(|(_, content)| content)
        .collect();
    match blocks.as_slice() {
        [program] => Ok(program.clone()),
        _ => Err(format!(
            "{}: `## {heading}` must hold exactly one ```loss block, found {}",
            page.file,
            blocks.len()
        )),
    }
}

/// The headings of `page` for the examples of one kind (`Bad` or `Good`):
/// that heading, and any `<kind>: <case>` one.
fn example_headings(page: &Page, kind: &str) -> Vec<String> {
    let mut headings = vec![kind.to_string()];
    let prefix = format!("{kind}: ");
    headings.extend(
        sections(&page.text)
            .into_iter()
            .map(|(h, _)| h)
            .filter(|h| h.starts_with(&prefix)),
    );
    headings
}

/// The severity a page declares on its `Severity: <severity>.` line.
fn declared_severity(page: &Page) -> Result<Severity, String> {
    let line = page
        .text
        .lines()
        .find_map(|l| l.strip_prefix("Severity:"))
        .ok_or_else(|| format!("{}: no `Severity:` line", page.file))?;
    let word = line.trim().split(['.', ' ']).next().unwrap_or("");
    [Severity::Error, Severity::Warning, Severity::Note]
        .into_iter()
        .find(|s| s.as_str() == word)
        .ok_or_else(|| {
            format!(
                "{}: `Severity:{line}` names no severity (error, warning, note)",
                page.file
            )
        })
}

fn diagnostics(page: &Page, which: &str, program: &str) -> Result<Vec<Diagnostic>, String> {
    lossc::check(program, &CheckOptions::default()).map_err(|e| format!("{}: the {which} example: {e}", page.file))
}

fn describe(diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "none".to_string();
    }
    diagnostics
        .iter()
        .map(|d| format!("{}[{}]: {}", d.severity, d.code, d.message))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn every_page_is_named_after_a_code_and_has_the_sections() {
    let pages = pages();
    assert!(!pages.is_empty(), "{DOCS} has no pages");
    let mut failures = Vec::new();
    for page in &pages {
        let Some(code) = Code::from_name(&page.stem) else {
            failures.push(format!("{}: `{}` is not a diagnostic code", page.file, page.stem));
            continue;
        };
        let title = format!("# `{}`", code.as_str());
        if page.text.lines().next() != Some(title.as_str()) {
            failures.push(format!("{}: the first line must be the title {title}", page.file));
        }
        if let Err(e) = declared_severity(page) {
            failures.push(e);
        }
        let headings: Vec<String> = sections(&page.text).into_iter().map(|(h, _)| h).collect();
        let mut required = vec!["What it means", "Why it matters", "Bad", "Good"];
        if !FRONT_END.contains(&code) {
            required.push("How lossc finds it");
        }
        for required in required {
            if !headings.iter().any(|h| h == required) {
                failures.push(format!("{}: no `## {required}` section", page.file));
            }
        }
        for heading in ["Bad", "Good"] {
            if let Err(e) = example(page, heading) {
                failures.push(e);
            }
        }
    }
    report(failures);
}

#[test]
fn every_bad_example_reports_its_code() {
    let mut failures = Vec::new();
    for page in pages() {
        let Some(code) = Code::from_name(&page.stem) else {
            continue;
        };
        for heading in example_headings(&page, "Bad") {
            let (program, severity) = match (example(&page, &heading), declared_severity(&page)) {
                (Ok(program), Ok(severity)) => (program, severity),
                (Err(e), _) | (_, Err(e)) => {
                    failures.push(e);
                    continue;
                }
            };
            match diagnostics(&page, &heading, &program) {
                Ok(found) => {
                    if !found.iter().any(|d| d.code == code && d.severity == severity) {
                        failures.push(format!(
                            "{}: the {heading} example must report {severity}[{code}], found: {}",
                            page.file,
                            describe(&found)
                        ));
                    }
                }
                Err(e) => failures.push(e),
            }
        }
    }
    report(failures);
}

#[test]
fn every_good_example_has_neither_its_code_nor_an_error() {
    let mut failures = Vec::new();
    for page in pages() {
        for heading in example_headings(&page, "Good") {
            let program = match example(&page, &heading) {
                Ok(program) => program,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            let code = Code::from_name(&page.stem);
            match diagnostics(&page, &heading, &program) {
                Ok(found) => {
                    let wrong: Vec<Diagnostic> = found
                        .into_iter()
                        .filter(|d| d.severity == Severity::Error || Some(d.code) == code)
                        .collect();
                    if !wrong.is_empty() {
                        failures.push(format!(
                            "{}: the {heading} example must report neither `{}` nor any error, found: {}",
                            page.file,
                            page.stem,
                            describe(&wrong)
                        ));
                    }
                }
                Err(e) => failures.push(e),
            }
        }
    }
    report(failures);
}

#[test]
fn every_implemented_code_has_a_page() {
    let pages = pages();
    let failures = IMPLEMENTED
        .iter()
        .filter(|code| !pages.iter().any(|p| p.stem == code.as_str()))
        .map(|code| format!("{DOCS}/{code}.md: missing; `{code}` is implemented, so it needs a page"))
        .collect();
    report(failures);
}

#[test]
fn the_readme_indexes_every_code() {
    let file = format!("{DOCS}/README.md");
    let readme = fs::read_to_string(docs_dir().join("README.md")).unwrap_or_else(|e| panic!("reading {file}: {e}"));
    let pages = pages();
    // Table rows whose first cell is a code in backticks: (code, the cells).
    let rows: Vec<(String, Vec<&str>)> = readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim().strip_prefix('|')?.split('|').map(str::trim).collect();
            let name = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_string(), cells))
        })
        .collect();
    let mut failures = Vec::new();
    for (name, _) in &rows {
        if Code::from_name(name).is_none() {
            failures.push(format!(
                "{file}: the index lists `{name}`, which is not a diagnostic code"
            ));
        }
    }
    for &code in Code::ALL {
        let listed: Vec<&[&str]> = rows
            .iter()
            .filter(|(n, _)| n == code.as_str())
            .map(|(_, c)| c.as_slice())
            .collect();
        let [cells] = listed.as_slice() else {
            failures.push(format!(
                "{file}: the index must list `{code}` once, found {} row(s)",
                listed.len()
            ));
            continue;
        };
        let row = cells.join(" | ");
        let page = pages.iter().find(|p| p.stem == code.as_str());
        let links = row.contains(&format!("({code}.md)"));
        let severity = cells.get(1).copied().unwrap_or("");
        // "error", or "error or warning": the first is the page's declared one.
        let severities: Vec<&str> = severity.split(" or ").collect();
        match page {
            Some(page) => {
                if !links {
                    failures.push(format!("{file}: the row of `{code}` must link its page `{code}.md`"));
                }
                if let Ok(declared) = declared_severity(page)
                    && severities.first() != Some(&declared.as_str())
                {
                    failures.push(format!(
                        "{file}: the row of `{code}` gives severity `{severity}`, but {} declares `{declared}` first",
                        page.file
                    ));
                }
                // The `Severity:` paragraph, which may wrap over several lines.
                let line: String = page
                    .text
                    .lines()
                    .skip_while(|l| !l.starts_with("Severity:"))
                    .take_while(|l| !l.trim().is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                for s in &severities {
                    if !line.contains(s) {
                        failures.push(format!(
                            "{file}: the row of `{code}` gives severity `{s}`, which the `Severity:` line of {} does not mention",
                            page.file
                        ));
                    }
                }
            }
            None => {
                if links {
                    failures.push(format!(
                        "{file}: the row of `{code}` links `{code}.md`, which does not exist"
                    ));
                }
                if !row.contains("planned") {
                    failures.push(format!(
                        "{file}: `{code}` has no page, so its row must say it is planned"
                    ));
                }
            }
        }
        if !severities.iter().all(|s| ["error", "warning", "note"].contains(s)) {
            failures.push(format!(
                "{file}: the row of `{code}` must give its severities in its second column \
                 (`error`, `warning`, `note`, or several joined by ` or `), found `{severity}`"
            ));
        }
    }
    report(failures);
}

#[test]
fn the_analysis_page_names_every_analyzer_code() {
    let file = "docs/analysis.md";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {file}: {e}"));
    let failures = Code::ALL
        .iter()
        .filter(|code| !FRONT_END.contains(code))
        .filter(|code| !text.contains(&format!("`{code}`")))
        .map(|code| format!("{file}: never names the analyzer code `{code}`"))
        .collect();
    report(failures);
}

/// The repository stands alone: no text file in it points to a
/// specification kept outside it (its language, diagnostics, command line
/// and targets are documented in `docs/`).
#[test]
fn no_file_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let outside = [concat!("SPEC", ".md"), concat!("FIELD", "-NOTES")];
    let mut failures = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if name != ".git" && name != "target" {
                    stack.push(path);
                }
                continue;
            }
            let Ok(text) = fs::read_to_string(&path) else { continue };
            for word in outside {
                if text.contains(word) {
                    let shown = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
                    failures.push(format!("{shown}: mentions `{word}`"));
                }
            }
        }
    }
    report(failures);
}
