//! Data checked against the declared domains: `check`'s findings hold for
//! inputs inside them, so evaluating data outside them deserves a word.

use lossc_ir::Domain;
use lossc_kernel::Tensor;

use crate::Program;

/// Data of one input that lies outside its declared domain.
#[derive(Debug, Clone, PartialEq)]
pub struct OutsideDomain {
    /// The input's name.
    pub input: String,
    pub domain: Domain,
    /// How many finite elements are outside the domain (NaN and infinities
    /// are not counted: they are reported on their own).
    pub elements: usize,
    /// The first of them: its index and value.
    pub first_element: Option<(Vec<usize>, f64)>,
    /// For a row domain (`simplex`, `onehot`): how many rows (along the
    /// last axis) are not rows of the domain, although each element may be.
    pub rows: usize,
    /// The first such row's index (every axis but the last).
    pub first_row: Option<Vec<usize>>,
}

impl OutsideDomain {
    /// "2 values outside its declared domain [0, 1] (the first, 1.5, at
    /// [3])", "1 row that does not sum to 1 (at [0])".
    pub fn describe(&self) -> String {
        let index = |at: &[usize]| {
            let parts: Vec<String> = at.iter().map(usize::to_string).collect();
            format!("[{}]", parts.join(", "))
        };
        let mut parts = Vec::new();
        if let Some((at, value)) = &self.first_element {
            let values = if self.elements == 1 { "value" } else { "values" };
            parts.push(format!(
                "{} {values} outside its declared domain {} (the first, {}, at {})",
                self.elements,
                self.domain,
                lossc_ir::format_approx(*value),
                index(at)
            ));
        }
        if let Some(at) = &self.first_row {
            let (rows, does) = if self.rows == 1 {
                ("row", "does")
            } else {
                ("rows", "do")
            };
            let what = match self.domain {
                Domain::OneHot => format!("{does} not hold exactly one 1"),
                _ => format!("{does} not sum to 1"),
            };
            parts.push(format!(
                "{} {rows} that {what}, as `{}` rows must (the first at {})",
                self.rows,
                self.domain,
                index(at)
            ));
        }
        parts.join(", and ")
    }
}

impl Program {
    /// The inputs whose data lies outside their declared domains (inputs
    /// the program does not declare are skipped). An input declared
    /// without a domain is `real`: only its non-finite values are outside,
    /// and those are not counted here.
    pub fn data_outside_domains(&self, inputs: &[(&str, Tensor<'_>)]) -> Vec<OutsideDomain> {
        let mut found = Vec::new();
        for (name, tensor) in inputs {
            let Some(input) = self.ir.inputs.iter().find(|input| input.name == *name) else {
                continue;
            };
            if input.domain == Domain::Real {
                continue;
            }
            // The common case, data inside the domain, costs one parallel
            // pass; the counts and positions below only where it is not (and
            // for rows, whose sums need the rows in order).
            let domain = &input.domain;
            if !domain.is_row() && !tensor.any_f64(|value| value.is_finite() && !domain.contains(value)) {
                continue;
            }
            let shape = tensor.shape().to_vec();
            let width = if input.domain.is_row() {
                shape.last().copied().unwrap_or(1).max(1)
            } else {
                1
            };
            let position = |flat: usize| {
                let mut rest = flat;
                let mut at = vec![0; shape.len()];
                for (slot, &size) in at.iter_mut().zip(&shape).rev() {
                    *slot = rest % size.max(1);
                    rest /= size.max(1);
                }
                at
            };
            let mut outside = OutsideDomain {
                input: input.name.clone(),
                domain: input.domain.clone(),
                elements: 0,
                first_element: None,
                rows: 0,
                first_row: None,
            };
            let mut row = Vec::with_capacity(width);
            let mut flat = 0usize;
            tensor.for_each_f64(|value| {
                if value.is_finite() && !input.domain.contains(value) {
                    outside.elements += 1;
                    outside.first_element.get_or_insert_with(|| (position(flat), value));
                }
                if input.domain.is_row() {
                    row.push(value);
                    if row.len() == width {
                        let elements_inside = row.iter().all(|v| !v.is_finite() || input.domain.contains(*v));
                        if elements_inside && row.iter().all(|v| v.is_finite()) && !input.domain.contains_row(&row) {
                            outside.rows += 1;
                            outside.first_row.get_or_insert_with(|| {
                                let mut at = position(flat);
                                at.pop();
                                at
                            });
                        }
                        row.clear();
                    }
                }
                flat += 1;
            });
            if outside.elements + outside.rows > 0 {
                found.push(outside);
            }
        }
        found
    }
}

/// Names of output layers accepted where a domain is given from outside
/// the program (`--input y_pred=sigmoid`, Python's `inputs=`), and the
/// domain of the language each stands for.
pub const DOMAIN_ALIASES: &[(&str, &str)] = &[
    ("sigmoid", "[0, 1]"),
    ("softmax", "simplex"),
    ("linear", "real"),
    ("relu", "[0, inf)"),
    ("softplus", "[0, inf)"),
    ("exp", "[0, inf)"),
    ("tanh", "[-1, 1]"),
];

/// A domain given from outside the program that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainOverrideError {
    #[error("{0:?} is not an input name")]
    NotAName(String),
    #[error(
        "the domain {domain:?} of `{name}` is not a domain: write one such as \"[0, 1]\", \"(0, inf)\", \
         \"{{0, 1}}\", \"{{0..9}}\", \"real\", \"simplex\" or \"onehot\" (or \"sigmoid\", \"softmax\", \"linear\")"
    )]
    NotADomain { name: String, domain: String },
    #[error(
        "{domain:?} for `{name}` gives a shape; give the domain alone (the shape stays as the program declares it)"
    )]
    HasShape { name: String, domain: String },
}

/// The domain `domain` stands for: itself, or an output layer's
/// ([`DOMAIN_ALIASES`]).
pub fn resolve_domain_alias(domain: &str) -> &str {
    let trimmed = domain.trim();
    DOMAIN_ALIASES
        .iter()
        .find(|(alias, _)| *alias == trimmed)
        .map_or(domain, |(_, meaning)| meaning)
}

/// `text` with the domains of `overrides` ((input, domain) pairs; a domain
/// in the language's syntax or an output layer's name) in place of the
/// declared ones; an input that is not declared gets an `input NAME:
/// DOMAIN` declaration appended at the end, so no span of the original text
/// moves before it. A program that does not parse is returned as it is (its
/// errors are reported on its own text).
pub fn with_domains(text: &str, overrides: &[(String, String)]) -> Result<String, DomainOverrideError> {
    let overrides: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(name, domain)| (name.as_str(), resolve_domain_alias(domain)))
        .collect();
    for (name, domain) in &overrides {
        check_domain(name, domain)?;
    }
    let Ok(ast) = lossc_syntax::parse(text) else {
        return Ok(text.to_string());
    };
    let mut replacements: Vec<(lossc_diagnostics::Span, String)> = Vec::new();
    let mut appended = String::new();
    for (name, domain) in &overrides {
        let declared = ast.statements.iter().find_map(|statement| match &statement.kind {
            lossc_syntax::ast::StatementKind::Input {
                name: ident, domain, ..
            } if ident.name == *name => Some(domain),
            _ => None,
        });
        match declared {
            // `input x [N]`: the domain goes after the name, with its colon.
            Some(stated) if stated.kind == lossc_syntax::ast::DomainKind::Unstated => {
                replacements.push((stated.span, format!(": {domain}")));
            }
            Some(stated) => replacements.push((stated.span, domain.to_string())),
            None => appended.push_str(&format!("\ninput {name}: {domain}")),
        }
    }
    replacements.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut text = text.to_string();
    for (span, domain) in replacements {
        text.replace_range(span.start..span.end, &domain);
    }
    if !appended.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(appended.trim_start_matches('\n'));
        text.push('\n');
    }
    Ok(text)
}

/// A domain must be exactly one domain of the language: `input NAME: DOMAIN`
/// parses to one declaration without a shape.
fn check_domain(name: &str, domain: &str) -> Result<(), DomainOverrideError> {
    let is_name = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !is_name {
        return Err(DomainOverrideError::NotAName(name.to_string()));
    }
    let bad = || DomainOverrideError::NotADomain {
        name: name.to_string(),
        domain: domain.to_string(),
    };
    if domain.contains(['\n', '\r', ';', '#']) {
        return Err(bad());
    }
    let ast = lossc_syntax::parse(&format!("input {name}: {domain}")).map_err(|_| bad())?;
    match ast.statements.as_slice() {
        [statement] => match &statement.kind {
            lossc_syntax::ast::StatementKind::Input { domain: stated, .. }
                if stated.kind == lossc_syntax::ast::DomainKind::Unstated =>
            {
                Err(bad())
            }
            lossc_syntax::ast::StatementKind::Input { shape: None, .. } => Ok(()),
            lossc_syntax::ast::StatementKind::Input { shape: Some(_), .. } => Err(DomainOverrideError::HasShape {
                name: name.to_string(),
                domain: domain.to_string(),
            }),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}
