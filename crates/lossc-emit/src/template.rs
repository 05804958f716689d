//! The template language of the built-ins' spellings (the `emit` column of
//! `lossc_ir::builtins`).
//!
//! A template is Python text with placeholders:
//!
//! | placeholder | becomes |
//! | --- | --- |
//! | `{0}`, `{1}`, `{2}` | the call's arguments, parenthesised where Python needs it |
//! | `{0:T}` | the argument, made a tensor of the data's dtype if it is a plain number (`torch.maximum` takes no numbers) |
//! | `{kw_axes}` | `, axis=1` (torch: `, dim=1`), or nothing for a reduction over every axis |
//! | `{kw_keepdims}` | `, keepdims=True` (torch: `, keepdim=True`), or nothing |
//! | `{axes}` | the reduced axes, always spelled out: `1`, `(0, 1)` |
//! | `{axis}` | the one axis of `softmax` and `log_softmax` |
//! | `{take}` | the subscript of `take`: `..., 0` or `:, 2` |
//! | `{expand}` | the subscript of `expand_dims`: `:, None` |
//! | `{classes}` | `one_hot`'s class count, an integer |
//! | `{dtype}` | the data's dtype, e.g. `y_pred.dtype` |
//!
//! A template that is exactly `{0} OP {1}` or `-{0}` is a Python operator and
//! is printed with Python's precedence; any other template is printed as is,
//! its arguments parenthesised unless they stand alone between `(`/`, ` and
//! `,`/`)`.

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'t> {
    Text(&'t str),
    /// Argument `index`; `tensor`: written `{k:T}`.
    Arg {
        index: usize,
        tensor: bool,
    },
    Attr(Attr),
}

/// A placeholder filled from the call's static arguments or the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    KwAxes,
    KwKeepdims,
    Axes,
    Axis,
    Take,
    Expand,
    Classes,
    Dtype,
}

/// Binding strength of Python expressions, loosest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prec {
    Compare,
    Sum,
    Product,
    Neg,
    Pow,
    Atom,
}

/// How a template's result and arguments bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `{0} OP {1}`.
    Binary(Prec),
    /// `-{0}`.
    Negate,
    /// Anything else: a call, a subscript, or a formula of the given precedence.
    Other(Prec),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template<'t> {
    pub segments: Vec<Segment<'t>>,
    pub form: Form,
}

/// Why a template does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl<'t> Template<'t> {
    pub fn parse(text: &'t str) -> Result<Template<'t>, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Text(&rest[..open]));
            }
            let close = rest[open..]
                .find('}')
                .map(|c| open + c)
                .ok_or_else(|| TemplateError(format!("unclosed `{{` in `{text}`")))?;
            let name = &rest[open + 1..close];
            segments.push(placeholder(name).ok_or_else(|| TemplateError(format!("unknown `{{{name}}}` in `{text}`")))?);
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest));
        }
        let form = form(&segments);
        Ok(Template { segments, form })
    }

    /// The highest argument index used, plus one.
    pub fn arity(&self) -> usize {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Arg { index, .. } => Some(index + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// How many times argument `index` is written.
    pub fn uses(&self, index: usize) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Arg { index: i, .. } if *i == index))
            .count()
    }

    /// Whether the argument at segment `k` stands alone (between `(` or `, `
    /// and `,` or `)`), so it needs no parentheses.
    pub fn stands_alone(&self, k: usize) -> bool {
        let before = match k.checked_sub(1).map(|j| self.segments[j]) {
            Some(Segment::Text(t)) => t.ends_with('(') || t.ends_with(", ") || t.ends_with('='),
            _ => false,
        };
        let after = match self.segments.get(k + 1) {
            Some(Segment::Text(t)) => t.starts_with(',') || t.starts_with(')'),
            Some(Segment::Attr(Attr::KwAxes | Attr::KwKeepdims)) => true,
            _ => false,
        };
        before && after
    }
}

fn placeholder(name: &str) -> Option<Segment<'static>> {
    let (base, modifier) = match name.split_once(':') {
        Some((base, modifier)) => (base, Some(modifier)),
        None => (name, None),
    };
    if let Ok(index) = base.parse::<usize>() {
        return match modifier {
            None => Some(Segment::Arg { index, tensor: false }),
            Some("T") => Some(Segment::Arg { index, tensor: true }),
            Some(_) => None,
        };
    }
    if modifier.is_some() {
        return None;
    }
    let attr = match base {
        "kw_axes" => Attr::KwAxes,
        "kw_keepdims" => Attr::KwKeepdims,
        "axes" => Attr::Axes,
        "axis" => Attr::Axis,
        "take" => Attr::Take,
        "expand" => Attr::Expand,
        "classes" => Attr::Classes,
        "dtype" => Attr::Dtype,
        _ => return None,
    };
    Some(Segment::Attr(attr))
}

/// Python's operators, with their precedence.
const OPERATORS: &[(&str, Prec)] = &[
    ("==", Prec::Compare),
    ("!=", Prec::Compare),
    ("<=", Prec::Compare),
    (">=", Prec::Compare),
    ("<", Prec::Compare),
    (">", Prec::Compare),
    ("+", Prec::Sum),
    ("-", Prec::Sum),
    ("**", Prec::Pow),
    ("*", Prec::Product),
    ("/", Prec::Product),
];

fn form(segments: &[Segment<'_>]) -> Form {
    let arg = |s: &Segment<'_>, i: usize| matches!(s, Segment::Arg { index, .. } if *index == i);
    match segments {
        [a, Segment::Text(op), b] if arg(a, 0) && arg(b, 1) => {
            let op = op.trim();
            if let Some((_, prec)) = OPERATORS.iter().find(|(o, _)| *o == op) {
                return Form::Binary(*prec);
            }
        }
        [Segment::Text("-"), a] if arg(a, 0) => return Form::Negate,
        _ => {}
    }
    // The loosest operator outside brackets decides.
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Text(t) => text.push_str(t),
            _ => text.push('x'),
        }
    }
    let mut depth = 0i32;
    let mut loosest = Prec::Atom;
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            _ if depth == 0 => {
                let prec = if c == '-' && i == 0 {
                    Prec::Neg
                } else if c == ' ' {
                    let rest = &text[i + 1..];
                    OPERATORS
                        .iter()
                        .find(|(o, _)| rest.starts_with(&format!("{o} ")))
                        .map_or(Prec::Atom, |(_, p)| *p)
                } else if c == '*' && bytes.get(i + 1) == Some(&b'*') {
                    Prec::Pow
                } else {
                    Prec::Atom
                };
                loosest = loosest.min(prec);
            }
            _ => {}
        }
    }
    Form::Other(loosest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;
    use lossc_ir::{Builtin, Signature};

    #[test]
    fn every_spelling_in_the_builtin_table_parses_and_fits_its_builtin() {
        for &builtin in Builtin::ALL {
            let spec = builtin.spec();
            for &target in Target::ALL {
                let text = target.template(builtin);
                let template = Template::parse(text).unwrap_or_else(|e| panic!("{builtin} for {target}: {}", e.0));
                let arity = spec.params.len();
                // `one_hot(labels, C)` and `take(x, i)`: C and i are static,
                // `{classes}` and `{take}`.
                let used = if matches!(builtin, Builtin::OneHot | Builtin::Take) {
                    1
                } else {
                    arity
                };
                assert_eq!(
                    template.arity(),
                    used,
                    "{builtin} for {target}: `{text}` uses the wrong arguments"
                );
                for segment in &template.segments {
                    if let Segment::Attr(attr) = segment {
                        let fits = match attr {
                            Attr::KwAxes | Attr::KwKeepdims | Attr::Axes => {
                                matches!(spec.signature, Signature::Reduce(_))
                            }
                            Attr::Axis => matches!(spec.signature, Signature::AlongAxis(_)),
                            Attr::Take => spec.signature == Signature::Take,
                            Attr::Expand => spec.signature == Signature::ExpandDims,
                            Attr::Classes => spec.signature == Signature::OneHot,
                            Attr::Dtype => true,
                        };
                        assert!(fits, "{builtin} for {target}: `{text}` uses {attr:?}");
                    }
                }
            }
            for &(arg, safe) in spec.emit.guard {
                assert!(arg < spec.params.len() && safe.is_finite(), "{builtin}: bad guard");
            }
        }
    }

    #[test]
    fn forms_follow_python_precedence() {
        let form = |t: &str| Template::parse(t).unwrap().form;
        assert_eq!(form("{0} + {1}"), Form::Binary(Prec::Sum));
        assert_eq!(form("{0} ** {1}"), Form::Binary(Prec::Pow));
        assert_eq!(form("{0} >= {1}"), Form::Binary(Prec::Compare));
        assert_eq!(form("-{0}"), Form::Negate);
        assert_eq!(form("jnp.log({0})"), Form::Other(Prec::Atom));
        assert_eq!(form("-np.logaddexp(0.0, -{0})"), Form::Other(Prec::Neg));
        assert_eq!(
            form("{0} - np.logaddexp.reduce({0}, axis={axis}, keepdims=True)"),
            Form::Other(Prec::Sum)
        );
        assert_eq!(
            form("({0}[..., None] == np.arange({classes})).astype({dtype})"),
            Form::Other(Prec::Atom)
        );
        let t = Template::parse("ops.where({0} == 0, 0.0, {1})").unwrap();
        assert!(!t.stands_alone(1), "`{{0}} == 0` needs an atom");
        assert!(t.stands_alone(3));
        assert!(Template::parse("jnp.sum({0}{kw_axes})").unwrap().stands_alone(1));
        assert!(Template::parse("{nope}").is_err());
    }
}
