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
