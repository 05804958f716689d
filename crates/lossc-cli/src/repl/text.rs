//! The REPL's reading of raw text, with no state: whether an entry is
//! complete (brackets), how a command's arguments split, which word the cursor
//! is on, what to offer for it, and how to colour a line.

use std::fmt::Write as _;

/// The commands, as typed after `:`, each with its argument synopsis and a
/// one-line description (the `:help` table, and completion).
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("grad", "[NAME]", "the gradient of a loss or output, as a .loss program"),
    ("simplify", "[NAME]", "a loss or output simplified, as a .loss program"),
    ("check", "[NAME]", "every diagnostic of the session (or of one loss)"),
    (
        "eval",
        "[NAME] INPUT=DATA...",
        "evaluate a loss (and its gradient) or an output, e.g. y_pred=[0.9,0.2]",
    ),
    (
        "emit",
        "TARGET [NAME]",
        "a loss as Python: jax, torch, keras, tf or numpy",
    ),
    (
        "plot",
        "[NAME] FILE.svg [OPTION...]",
        "draw a loss and its gradient to an SVG file (`lossc plot`'s options: --wrt, --fix, --range, ...)",
    ),
    ("load", "FILE", "replace the session with a .loss file"),
    ("save", "FILE", "write the session as a .loss file"),
    ("show", "", "print the session's program"),
    ("dtype", "[f32|f64]", "the float type to check and evaluate in"),
    ("help", "", "this list"),
    ("quit", "", "leave (also Ctrl-D)"),
];

/// The targets of `:emit`, as `lossc emit --target` names them.
pub fn emit_targets() -> impl Iterator<Item = &'static str> {
    lossc::EmitTarget::ALL.iter().map(|target| target.as_str())
}

/// The words of docs/language.md, offered by completion: statement words,
/// the domain word `real` and the reserved words. Only the reserved words are
/// words everywhere; the others are names too (see [`highlight`]).
pub const KEYWORDS: &[&str] = &[
    "input", "param", "const", "let", "def", "loss", "output", "wrt", "real", "inf", "true", "false", "and", "or",
    "not",
];

/// The words that start a statement.
const STATEMENT_WORDS: &[&str] = &["input", "param", "const", "let", "def", "loss", "output", "wrt"];

/// The words of a domain, after `input NAME:`.
const DOMAIN_WORDS: &[&str] = &["real", "simplex", "onehot"];

/// The words that are never names.
const RESERVED: &[&str] = &["inf", "true", "false", "and", "or", "not"];

/// The keyword arguments built-ins take.
const KEYWORD_ARGS: &[&str] = &["axis=", "keepdims="];

/// How many brackets `text` leaves open: `(`, `[` and `{` against their
/// closers, comments (`#` to the end of the line) left out. Negative when it
/// closes more than it opens.
pub fn open_brackets(text: &str) -> i64 {
    let mut depth = 0i64;
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("");
        for c in code.chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
        }
    }
    depth
}

/// Whether `text` is a command (`:grad`, ...) rather than statements.
pub fn is_command(text: &str) -> bool {
    text.trim_start().starts_with(':')
}

/// Whether an entry needs more lines: it has a bracket open. A command that
/// takes a file name (`:load`, `:save`) is always one line: a file name may
/// hold a bracket.
pub fn needs_more(text: &str) -> bool {
    let takes_file =
        is_command(text) && matches!(text.trim_start()[1..].split_whitespace().next(), Some("load" | "save"));
    !takes_file && open_brackets(text) > 0
}

/// Whether `text` holds nothing to act on: blank, `;` or comments only.
pub fn is_blank(text: &str) -> bool {
    crate::source::is_blank(text)
}

/// The arguments of a command, split at spaces outside brackets and quotes,
/// so `y_pred=[0.9, 0.2]` is one argument. Quotes are removed.
pub fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut depth = 0i64;
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() && depth <= 0 => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            (None, c) => {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth -= 1,
                    _ => {}
                }
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(current);
    }
    args
}

/// The names the session knows, for completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Losses, in entry order.
    pub losses: Vec<String>,
    /// Losses and outputs.
    pub results: Vec<String>,
    /// Inputs (declared or implicit).
    pub inputs: Vec<String>,
    /// Every other declared name, all usable in expressions: params, consts,
    /// lets, defs, dimensions.
    pub others: Vec<String>,
}

/// One completion: what is shown in the list and what is inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub display: String,
    pub replacement: String,
}

/// What completes the word that ends at byte `pos` of `line`: where the word
/// starts and the candidates, sorted. File names (after `:load` and `:save`)
/// are left to the caller: `None`.
pub fn complete(line: &str, pos: usize, names: &Names) -> Option<(usize, Vec<Completion>)> {
    let pos = floor_char_boundary(line, pos);
    let before = &line[..pos];
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word_char(c))
        .last()
        .map_or(pos, |(index, _)| index);
    let word = &line[start..pos];
    let leading = before.len() - before.trim_start().len();

    if is_command(line) {
        let command_end = line[leading..]
            .find(char::is_whitespace)
            .map_or(line.len(), |offset| leading + offset);
        if pos <= command_end {
            // The command itself, `:` included.
            let typed = &line[leading..pos];
            let candidates = COMMANDS
                .iter()
                .map(|(name, _, _)| format!(":{name}"))
                .filter(|command| command.starts_with(typed))
                .map(|command| Completion {
                    display: command.clone(),
                    replacement: command,
                })
                .collect();
            return Some((leading, candidates));
        }
        let command = line[leading + 1..command_end].to_string();
        // Which argument the cursor is in: the last one typed, or a new one
        // after a space.
        let typed = split_args(&line[command_end..pos]).len();
        let argument = if word.is_empty() {
            typed
        } else {
            typed.saturating_sub(1)
        };
        let words: Vec<String> = match command.as_str() {
            "load" | "save" => return None,
            "dtype" => vec!["f32".into(), "f64".into()],
            "emit" if argument == 0 => emit_targets().map(str::to_string).collect(),
            "emit" | "check" => names.losses.clone(),
            "grad" | "simplify" => names.results.clone(),
            "eval" => {
                let mut words = names.results.clone();
                words.extend(names.inputs.iter().map(|input| format!("{input}=")));
                words
            }
            _ => Vec::new(),
        };
        return Some((start, matching(word, words)));
    }

    let mut words: Vec<String> = lossc::ir::Builtin::callable_names()
        .map(|name| format!("{name}("))
        .collect();
    words.extend(KEYWORDS.iter().map(|k| k.to_string()));
    words.extend(KEYWORD_ARGS.iter().map(|k| k.to_string()));
    // Losses and outputs are results, not values: an expression cannot use them.
    for group in [&names.inputs, &names.others] {
        words.extend(group.iter().cloned());
    }
    Some((start, matching(word, words)))
}

fn matching(word: &str, words: Vec<String>) -> Vec<Completion> {
    let mut words: Vec<String> = words.into_iter().filter(|w| w.starts_with(word)).collect();
    words.sort();
    words.dedup();
    words
        .into_iter()
        .map(|w| Completion {
            display: w.clone(),
            replacement: w,
        })
        .collect()
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn floor_char_boundary(text: &str, pos: usize) -> usize {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

/// ANSI styles of the highlighter.
const KEYWORD: &str = "\x1b[1;35m";
const BUILTIN: &str = "\x1b[36m";
const NUMBER: &str = "\x1b[33m";
const COMMENT: &str = "\x1b[2m";
const COMMAND: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// `line` with ANSI colours: keywords bold magenta, built-in functions cyan,
/// numbers yellow, comments dim, a `:command` bold. The text itself is
/// unchanged (only escapes are added). A statement word is a keyword only as
/// the first word of a statement and a domain word only after `:`; elsewhere
/// they are names, like `output` in `let output = sigmoid(logits)`.
pub fn highlight(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    if is_command(line) {
        let leading = line.len() - line.trim_start().len();
        let end = line[leading..]
            .find(char::is_whitespace)
            .map_or(line.len(), |offset| leading + offset);
        let _ = write!(out, "{}{COMMAND}{}{RESET}", &line[..leading], &line[leading..end]);
        out.push_str(&line[end..]);
        return out;
    }
    // Whether the next word starts a statement, and the last character that
    // was not a blank.
    let mut statement_start = true;
    let mut previous = ' ';
    while let Some(c) = rest.chars().next() {
        let at_start = statement_start;
        statement_start = c == ';' || c == '\n' || (c.is_whitespace() && statement_start);
        let after = previous;
        if !c.is_whitespace() {
            previous = c;
        }
        if c == '#' {
            let end = rest.find('\n').unwrap_or(rest.len());
            let _ = write!(out, "{COMMENT}{}{RESET}", &rest[..end]);
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
            let word = &rest[..end];
            let keyword = RESERVED.contains(&word)
                || (at_start && STATEMENT_WORDS.contains(&word))
                || (after == ':' && DOMAIN_WORDS.contains(&word));
            let style = if keyword {
                Some(KEYWORD)
            } else if lossc::ir::Builtin::callable_names().any(|name| name == word) {
                Some(BUILTIN)
            } else {
                None
            };
            match style {
                Some(style) => {
                    let _ = write!(out, "{style}{word}{RESET}");
                }
                None => out.push_str(word),
            }
            rest = &rest[end..];
        } else if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            let end = number_end(rest);
            let _ = write!(out, "{NUMBER}{}{RESET}", &rest[..end]);
            rest = &rest[end..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The length of the number at the start of `text`: digits, a point, an
/// exponent with its sign.
fn number_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut end = 0;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
        end += 1;
    }
    if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
        let mut exponent = end + 1;
        if exponent < bytes.len() && (bytes[exponent] == b'+' || bytes[exponent] == b'-') {
            exponent += 1;
        }
        if exponent < bytes.len() && bytes[exponent].is_ascii_digit() {
            end = exponent;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_brackets_ignore_comments() {
        assert_eq!(open_brackets("def f(x) = where(x > 0,"), 1);
        assert_eq!(open_brackets("loss = mean(x) # (unclosed in a comment"), 0);
        assert_eq!(open_brackets("input y: {0, 1}"), 0);
        assert_eq!(open_brackets("x)"), -1);
        assert!(needs_more("let a = [1,\n 2"));
        assert!(needs_more(":eval y=[1,"));
        assert!(!needs_more(":eval y=[1, 2]"));
        assert!(!needs_more(":load data(1.loss"));
    }

    #[test]
    fn arguments_split_outside_brackets() {
        assert_eq!(
            split_args(" mse y_true=[1, 0]  y_pred=[0.9, 0.2] "),
            ["mse", "y_true=[1, 0]", "y_pred=[0.9, 0.2]"]
        );
        assert_eq!(split_args("'my file.loss'"), ["my file.loss"]);
        assert!(split_args("   ").is_empty());
    }

    fn replacements(line: &str, names: &Names) -> (usize, Vec<String>) {
        let (start, candidates) = complete(line, line.len(), names).unwrap();
        (start, candidates.into_iter().map(|c| c.replacement).collect())
    }

    #[test]
    fn completion_offers_builtins_names_and_commands() {
        let names = Names {
            losses: vec!["mse".into()],
            results: vec!["mse".into(), "per_sample".into()],
            inputs: vec!["y_true".into(), "y_pred".into()],
            others: vec!["smooth".into()],
        };
        assert_eq!(
            replacements("loss l = mean(squ", &names),
            (14, vec!["square(".to_string()])
        );
        assert_eq!(
            replacements("loss l = y_", &names),
            (9, vec!["y_pred".to_string(), "y_true".to_string()])
        );
        assert_eq!(replacements("let s = smo", &names).1, ["smooth"]);
        // A loss is not a value.
        assert!(replacements("let s = ms", &names).1.is_empty());
        assert_eq!(replacements(":gr", &names), (0, vec![":grad".to_string()]));
        assert_eq!(replacements(":grad m", &names), (6, vec!["mse".to_string()]));
        assert_eq!(replacements(":simplify p", &names).1, ["per_sample"]);
        assert!(replacements(":check p", &names).1.is_empty());
        assert_eq!(replacements(":emit t", &names).1, ["tf", "torch"]);
        assert_eq!(replacements(":emit jax ", &names).1, ["mse"]);
        assert_eq!(replacements(":eval mse y_p", &names).1, ["y_pred="]);
        assert_eq!(replacements(":dtype ", &names).1, ["f32", "f64"]);
        assert!(complete(":load ex", 8, &names).is_none());
    }

    #[test]
    fn highlighting_only_adds_escapes() {
        let line = "loss l = mean(square(y_pred - 1e-7)) # note";
        let coloured = highlight(line);
        let plain = coloured
            .split('\x1b')
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part
                } else {
                    &part[part.find('m').unwrap() + 1..]
                }
            })
            .collect::<String>();
        assert_eq!(plain, line);
        assert!(coloured.contains(&format!("{KEYWORD}loss{RESET}")));
        assert!(coloured.contains(&format!("{BUILTIN}square{RESET}")));
        assert!(coloured.contains(&format!("{NUMBER}1e-7{RESET}")));
        assert!(coloured.contains(&format!("{COMMENT}# note{RESET}")));
        assert!(highlight(":grad mse").starts_with(&format!("{COMMAND}:grad{RESET}")));
    }

    #[test]
    fn statement_and_domain_words_are_keywords_only_in_their_place() {
        let coloured = highlight("input output: real; output output = not real");
        let keywords: Vec<&str> = coloured
            .split(KEYWORD)
            .skip(1)
            .map(|part| &part[..part.find(RESET).unwrap()])
            .collect();
        assert_eq!(keywords, ["input", "real", "output", "not"]);
        let coloured = highlight("loss = mean(loss)");
        assert!(coloured.starts_with(&format!("{KEYWORD}loss{RESET} = ")), "{coloured}");
        assert!(coloured.ends_with("(loss)"), "{coloured}");
    }
}
