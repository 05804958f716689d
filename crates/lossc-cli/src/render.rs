//! Diagnostics as text, like rustc: a header with the code, the source lines
//! with the primary span underlined by `^` and its label, secondary labels
//! under `-`, then `= note:` and `= help:` lines. Drawn by codespan-reporting.

use std::io;
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label as ReportLabel, Severity as ReportSeverity};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::termcolor::{Color, ColorSpec, WriteColor};
use codespan_reporting::term::{self, Chars, Config};
use lossc::{Diagnostic, LineIndex, Severity, Span};
use serde::Serialize;

use crate::source::Source;

/// How many findings of each severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl Counts {
    pub fn of(diagnostics: &[Diagnostic]) -> Counts {
        let mut counts = Counts::default();
        for diagnostic in diagnostics {
            match diagnostic.severity {
                Severity::Error => counts.errors += 1,
                Severity::Warning => counts.warnings += 1,
                Severity::Note => counts.notes += 1,
            }
        }
        counts
    }

    /// Both tallies together.
    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            errors: self.errors + other.errors,
            warnings: self.warnings + other.warnings,
            notes: self.notes + other.notes,
        }
    }

    /// `2 errors, 1 warning`, leaving out zero counts (`no problems` if all are).
    pub fn describe(self) -> String {
        let parts: Vec<String> = [(self.errors, "error"), (self.warnings, "warning"), (self.notes, "note")]
            .into_iter()
            .filter(|&(count, _)| count > 0)
            .map(|(count, word)| plural(count, word))
            .collect();
        if parts.is_empty() {
            "no problems".to_string()
        } else {
            parts.join(", ")
        }
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// Writes every diagnostic, in the order given, each followed by a blank line.
///
/// A generated program's diagnostic ([`Source::origins`]) is shown over the
/// line of the user's file it came from, when its origin is known.
pub fn write_diagnostics(out: &mut dyn WriteColor, source: &Source, diagnostics: &[Diagnostic]) -> io::Result<()> {
    // Control characters are drawn visibly, so a caret has a column to sit under.
    let shown_source = Shown::of(&source.text);
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    for diagnostic in diagnostics {
        let relocated = source
            .origins
            .as_deref()
            .and_then(|map| map.relocate(&source.text, diagnostic).map(|moved| (map, moved)));
        let (name, text, diagnostic) = match &relocated {
            Some((map, moved)) => {
                let file = &map.files[moved.file];
                let shown = Shown::of(&file.text);
                (
                    file.name.as_str(),
                    shown.text.clone(),
                    shown.diagnostic(&moved.diagnostic),
                )
            }
            None => (
                source.name.as_str(),
                shown_source.text.clone(),
                shown_source.diagnostic(diagnostic),
            ),
        };
        let (text, diagnostic) = (text.as_str(), &diagnostic);
        let file = SimpleFile::new(name, text);
        let report = to_report(text, diagnostic);
        match term::emit(out, &config, &file, &report) {
            Ok(()) => {}
            Err(codespan_reporting::files::Error::Io(error)) => return Err(error),
            // The spans are clamped into the text, so this is not expected;
            // still, a finding is never lost for want of a snippet.
            Err(_) => write_plain(out, name, text, diagnostic)?,
        }
    }
    Ok(())
}

/// A text with its control characters (but newline, tab and carriage
/// return) replaced by visible forms, as rustc draws them: the Unicode
/// control pictures for ASCII controls (BEL is `␇`, one column like the
/// character it stands for), `\u{85}`-style escapes for the others.
struct Shown {
    text: String,
    /// For each replaced character: its offset in the original text, and
    /// the bytes added by it and those before it.
    shifts: Vec<(usize, usize)>,
}

impl Shown {
    fn of(text: &str) -> Shown {
        let mut shown = Shown {
            text: String::with_capacity(text.len()),
            shifts: Vec::new(),
        };
        let mut added = 0;
        for (offset, c) in text.char_indices() {
            match visible(c) {
                Some(form) => {
                    added += form.len() - c.len_utf8();
                    shown.shifts.push((offset, added));
                    shown.text.push_str(&form);
                }
                None => shown.text.push(c),
            }
        }
        shown
    }

    /// Where byte `offset` of the original text is in the shown one.
    fn offset(&self, offset: usize) -> usize {
        let before = self.shifts.partition_point(|(at, _)| *at < offset);
        offset + before.checked_sub(1).map_or(0, |k| self.shifts[k].1)
    }

    fn span(&self, span: Span) -> Span {
        Span {
            start: self.offset(span.start),
            end: self.offset(span.end),
        }
    }

    /// `diagnostic` pointing into the shown text, its words shown the same way.
    fn diagnostic(&self, diagnostic: &Diagnostic) -> Diagnostic {
        let mut shown = diagnostic.clone();
        if self.shifts.is_empty() {
            return shown;
        }
        shown.span = self.span(diagnostic.span);
        shown.message = Shown::of(&diagnostic.message).text;
        shown.label = Shown::of(&diagnostic.label).text;
        for label in &mut shown.secondary {
            label.span = self.span(label.span);
            label.message = Shown::of(&label.message).text;
        }
        for note in &mut shown.notes {
            *note = Shown::of(note).text;
        }
        shown.help = shown.help.map(|help| Shown::of(&help).text);
        if let Some(fix) = &mut shown.fix {
            fix.span = self.span(fix.span);
            fix.replacement = Shown::of(&fix.replacement).text;
        }
        shown
    }
}

/// How a control character is drawn; `None` for any other character.
fn visible(c: char) -> Option<String> {
    match c {
        '\n' | '\t' | '\r' => None,
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).map(String::from),
        '\u{7f}' => Some('\u{2421}'.to_string()),
        _ if c.is_control() => Some(c.escape_unicode().to_string()),
        _ => None,
    }
}

/// The codespan form of one diagnostic.
fn to_report(text: &str, diagnostic: &Diagnostic) -> Report<()> {
    let severity = match diagnostic.severity {
        Severity::Error => ReportSeverity::Error,
        Severity::Warning => ReportSeverity::Warning,
        Severity::Note => ReportSeverity::Note,
    };
    let mut labels = vec![ReportLabel::primary((), clamp(text, diagnostic.span)).with_message(&diagnostic.label)];
    labels.extend(
        diagnostic
            .secondary
            .iter()
            .map(|label| ReportLabel::secondary((), clamp(text, label.span)).with_message(&label.message)),
    );
    let mut notes: Vec<String> = diagnostic.notes.iter().map(|note| format!("note: {note}")).collect();
    notes.extend(diagnostic.help.iter().map(|help| format!("help: {help}")));
    notes.extend(fix_help(text, diagnostic).map(|help| format!("help: {help}")));
    Report::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// The extra `help:` a fix needs: none when the `help:` line already shows the
/// replacement, else `replace `old` with `new`` (or `remove`, or `insert`).
pub fn fix_help(text: &str, diagnostic: &Diagnostic) -> Option<String> {
    let fix = diagnostic.fix.as_ref()?;
    let replacement = fix.replacement.as_str();
    let help_shows_it = diagnostic
        .help
        .as_deref()
        .is_some_and(|help| !replacement.is_empty() && help.contains(replacement));
    if help_shows_it {
        return None;
    }
    let old = &text[clamp(text, fix.span)];
    Some(if replacement.is_empty() {
        format!("remove `{old}`")
    } else if old.is_empty() {
        format!("insert `{replacement}`")
    } else if old.contains('\n') {
        format!("replace with `{replacement}`")
    } else {
        format!("replace `{old}` with `{replacement}`")
    })
}

/// `span` cut to `text` and moved onto character boundaries, so that a bad
/// span from a stage can never make rendering fail.
pub fn clamp(text: &str, span: Span) -> Range<usize> {
    let floor = |offset: usize| {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    };
    let start = floor(span.start);
    let end = floor(span.end).max(start);
    start..end
}

/// A diagnostic without a snippet: the fallback when codespan cannot draw one.
fn write_plain(out: &mut dyn WriteColor, name: &str, text: &str, diagnostic: &Diagnostic) -> io::Result<()> {
    let (line, column) = LineIndex::new(text).line_col(text, diagnostic.span.start);
    writeln!(
        out,
        "{}[{}]: {}",
        diagnostic.severity, diagnostic.code, diagnostic.message
    )?;
    writeln!(out, "  --> {name}:{line}:{column}")?;
    for note in &diagnostic.notes {
        writeln!(out, "  = note: {note}")?;
    }
    if let Some(help) = &diagnostic.help {
        writeln!(out, "  = help: {help}")?;
    }
    writeln!(out)
}

/// The last line of a command's text output, e.g.
/// `error: could not check `f.loss`: 2 errors, 1 warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warning,
    Error,
}

/// Writes `VERDICT: MESSAGE`, the verdict word coloured as rustc colours it.
pub fn write_summary_line(out: &mut dyn WriteColor, verdict: Verdict, message: &str) -> io::Result<()> {
    let (word, color) = match verdict {
        Verdict::Ok => ("ok", Color::Green),
        Verdict::Warning => ("warning", Color::Yellow),
        Verdict::Error => ("error", Color::Red),
    };
    out.set_color(ColorSpec::new().set_fg(Some(color)).set_bold(true))?;
    write!(out, "{word}")?;
    out.set_color(ColorSpec::new().set_bold(true))?;
    write!(out, ": {message}")?;
    out.reset()?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lossc::Code;

    #[test]
    fn counts_are_described_in_words() {
        assert_eq!(Counts::default().describe(), "no problems");
        let counts = Counts {
            errors: 2,
            warnings: 1,
            notes: 0,
        };
        assert_eq!(counts.describe(), "2 errors, 1 warning");
    }

    /// A control character is drawn as its control picture (or an escape),
    /// so the caret under it is drawn: it used to have zero width, leaving
    /// a caret line with only its label.
    #[test]
    fn control_characters_are_drawn_with_a_caret_under_them() {
        let text = "loss = mean(y_pred \u{7}+ 1)\nloss b = mean(y_pred)\u{85}";
        let source = Source::new("<formula>", text);
        let bell = text.find('\u{7}').expect("a bell");
        let diagnostics = [
            Diagnostic::error(Code::Syntax, "found `\u{7}`", Span::new(bell, bell + 1)).with_label("unexpected here"),
            Diagnostic::error(Code::Syntax, "stray", Span::new(text.len() - 2, text.len())),
        ];
        let mut out = codespan_reporting::term::termcolor::NoColor::new(Vec::new());
        write_diagnostics(&mut out, &source, &diagnostics).expect("written");
        let out = String::from_utf8(out.into_inner()).expect("UTF-8");
        assert!(out.contains("error[syntax]: found `\u{2407}`"), "{out}");
        assert!(
            out.contains("1 | loss = mean(y_pred \u{2407}+ 1)\n  |                    ^ unexpected here"),
            "{out}"
        );
        assert!(
            out.contains("2 | loss b = mean(y_pred)\\u{85}\n  |                      ^^^^^^"),
            "{out}"
        );
        assert!(out.contains("<formula>:1:20"), "{out}");
    }

    #[test]
    fn clamp_keeps_spans_inside_the_text() {
        let text = "aé";
        assert_eq!(clamp(text, Span::new(0, 1)), 0..1);
        assert_eq!(clamp(text, Span::new(2, 99)), 1..3);
        assert_eq!(clamp(text, Span::new(5, 2)), 3..3);
    }

    #[test]
    fn a_fix_adds_a_help_only_when_the_help_does_not_show_it() {
        let text = "loss = squre(y_pred)";
        let base = Diagnostic::error(Code::UnknownName, "cannot find function `squre`", Span::new(7, 12))
            .with_fix(Span::new(7, 12), "square");
        let shown = base
            .clone()
            .with_help("a function with a similar name exists: `square`");
        assert_eq!(fix_help(text, &shown), None);
        assert_eq!(fix_help(text, &base).as_deref(), Some("replace `squre` with `square`"));
        let removal = Diagnostic::error(Code::Syntax, "x", Span::new(0, 5)).with_fix(Span::new(0, 5), "");
        assert_eq!(fix_help(text, &removal).as_deref(), Some("remove `loss `"));
        let insertion = Diagnostic::error(Code::Syntax, "x", Span::new(0, 0)).with_fix(Span::new(0, 0), "(");
        assert_eq!(fix_help(text, &insertion).as_deref(), Some("insert `(`"));
    }
}
