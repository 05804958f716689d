//! Where a generated `.loss` program came from.
//!
//! A program lossc writes itself (the Python importers translate a traced
//! framework function into `.loss` text) carries a [`SourceMap`]: for pieces
//! of its text, the place in the user's file that produced them. A
//! diagnostic about the generated text is then shown over the user's line
//! ([`SourceMap::relocate`]), with the generated expression in a note.

use crate::{Diagnostic, Span};

/// A file the generated program came from, with its text (for the snippet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginFile {
    /// The name shown, e.g. `losses.py`.
    pub name: String,
    pub text: String,
}

/// One piece of the generated text and the place it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The piece, in the generated `.loss` text.
    pub span: Span,
    /// Index into [`SourceMap::files`].
    pub file: usize,
    /// The place, in that file's text.
    pub span_in_file: Span,
}

/// The origins of a generated program.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceMap {
    pub files: Vec<OriginFile>,
    /// Pieces may nest (an expression inside its statement); the smallest
    /// piece holding a span is its origin.
    pub origins: Vec<Origin>,
    /// Where anything without a piece of its own is shown: the function's
    /// `def` line, say.
    pub fallback: Option<(usize, Span)>,
}

/// A diagnostic moved onto the file a generated program came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relocated {
    /// Index into [`SourceMap::files`]; the diagnostic's spans are in its text.
    pub file: usize,
    pub diagnostic: Diagnostic,
}

impl SourceMap {
    /// Whether `self` is usable with a generated text of `len` bytes: every
    /// piece lies in that text and every place in its file.
    pub fn is_consistent(&self, len: usize) -> bool {
        let in_file = |file: usize, span: Span| {
            self.files
                .get(file)
                .is_some_and(|f| span.start <= span.end && span.end <= f.text.len())
        };
        self.origins
            .iter()
            .all(|o| o.span.start <= o.span.end && o.span.end <= len && in_file(o.file, o.span_in_file))
            && self.fallback.is_none_or(|(file, span)| in_file(file, span))
    }

    /// The origin of `span`: the smallest piece holding all of it, else the
    /// smallest holding its start, else the fallback.
    pub fn locate(&self, span: Span) -> Option<(usize, Span)> {
        let smallest = |holds: &dyn Fn(&Origin) -> bool| {
            self.origins
                .iter()
                .filter(|o| holds(o))
                .min_by_key(|o| o.span.len())
                .map(|o| (o.file, o.span_in_file))
        };
        smallest(&|o| o.span.start <= span.start && span.end <= o.span.end)
            .or_else(|| smallest(&|o| o.span.start <= span.start && span.start < o.span.end))
            .or(self.fallback)
    }

    /// `diagnostic` (about `text`, the generated program) shown over the
    /// place it came from: its primary span moved there, with a note quoting
    /// the generated expression; secondary labels in the same file moved too
    /// (others become notes); a fix, which edits the generated text, becomes
    /// a `help:` about that text. `None` when nothing locates it.
    pub fn relocate(&self, text: &str, diagnostic: &Diagnostic) -> Option<Relocated> {
        let (file, span) = self.locate(diagnostic.span)?;
        let mut moved = diagnostic.clone();
        moved.span = span;
        moved.fix = None;
        moved.secondary.clear();
        let mut notes = Vec::new();
        if let Some(quoted) = quote(text, diagnostic.span) {
            notes.push(format!("lossc reads this as `{quoted}`"));
        }
        for label in &diagnostic.secondary {
            match self.locate(label.span) {
                Some((label_file, label_span)) if label_file == file && label_span != span => {
                    moved.secondary.push(crate::Label {
                        span: label_span,
                        message: label.message.clone(),
                    });
                }
                _ => {
                    if let Some(quoted) = quote(text, label.span) {
                        let message = if label.message.is_empty() {
                            "see"
                        } else {
                            label.message.as_str()
                        };
                        notes.push(format!("{message}: `{quoted}`"));
                    }
                }
            }
        }
        notes.append(&mut moved.notes);
        moved.notes = notes;
        if let Some(fix) = &diagnostic.fix
            && let Some(old) = text.get(fix.span.start..fix.span.end)
        {
            let change = if fix.replacement.is_empty() {
                format!("remove `{}`", one_line(old))
            } else if old.is_empty() {
                format!("insert `{}`", one_line(&fix.replacement))
            } else {
                format!("replace `{}` with `{}`", one_line(old), one_line(&fix.replacement))
            };
            let fix_help = format!("in lossc's reading of the loss, {change}");
            moved.help = Some(match moved.help.take() {
                Some(help) => format!("{help}; {fix_help}"),
                None => fix_help,
            });
        }
        Some(Relocated {
            file,
            diagnostic: moved,
        })
    }
}

/// The text at `span` on one line, shortened to about 100 characters.
fn quote(text: &str, span: Span) -> Option<String> {
    let piece = text.get(span.start..span.end)?;
    if piece.trim().is_empty() {
        return None;
    }
    Some(one_line(piece))
}

fn one_line(piece: &str) -> String {
    let joined = piece.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() > 100 {
        let cut: String = joined.chars().take(97).collect();
        format!("{cut}...")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    fn map() -> (String, SourceMap) {
        // let a = log(y_pred + 1e-07)   # from line 2 of f.py
        let text = "let a = log(y_pred + 1e-07)\nloss l = mean(a)\n".to_string();
        let file = "def f(y_true, y_pred):\n    a = tf.math.log(y_pred + 1e-7)\n    return tf.reduce_mean(a)\n";
        let line2 = file.find("    a").unwrap();
        let log_call = file.find("tf.math.log").unwrap();
        let map = SourceMap {
            files: vec![OriginFile {
                name: "f.py".into(),
                text: file.into(),
            }],
            origins: vec![
                Origin {
                    span: Span::new(0, 27),
                    file: 0,
                    span_in_file: Span::new(line2 + 4, line2 + 34),
                },
                Origin {
                    span: Span::new(8, 27),
                    file: 0,
                    span_in_file: Span::new(log_call, log_call + 26),
                },
            ],
            fallback: Some((0, Span::new(0, 22))),
        };
        assert!(map.is_consistent(text.len()));
        (text, map)
    }

    #[test]
    fn the_smallest_piece_locates_a_span() {
        let (text, map) = map();
        let log_arg = Span::new(12, 26);
        let (file, span) = map.locate(log_arg).unwrap();
        assert_eq!(file, 0);
        assert_eq!(&map.files[0].text[span.start..span.end], "tf.math.log(y_pred + 1e-7)");
        // The loss statement has no piece: the def line.
        let loss_line = Span::new(text.find("mean").unwrap(), text.len() - 1);
        assert_eq!(map.locate(loss_line), Some((0, Span::new(0, 22))));
    }

    #[test]
    fn a_relocated_diagnostic_quotes_the_generated_text_and_keeps_the_fix_as_help() {
        let (text, map) = map();
        let diagnostic = Diagnostic::warning(Code::LogDomain, "log of 0", Span::new(12, 26))
            .with_fix(Span::new(12, 26), "maximum(y_pred, 1e-07)")
            .with_note("y_pred can be 0");
        let moved = map.relocate(&text, &diagnostic).unwrap();
        assert_eq!(moved.file, 0);
        assert_eq!(moved.diagnostic.fix, None);
        assert_eq!(
            moved.diagnostic.notes,
            vec![
                "lossc reads this as `y_pred + 1e-07`".to_string(),
                "y_pred can be 0".to_string()
            ]
        );
        assert_eq!(
            moved.diagnostic.help.as_deref(),
            Some("in lossc's reading of the loss, replace `y_pred + 1e-07` with `maximum(y_pred, 1e-07)`")
        );
    }

    #[test]
    fn an_inconsistent_map_is_detected() {
        let (text, mut map) = map();
        map.origins[0].span_in_file = Span::new(0, 10_000);
        assert!(!map.is_consistent(text.len()));
    }
}
