//! The abstract syntax tree: what was written, with a span for every piece.
//! Nothing here is resolved or typed.

use lossc_diagnostics::Span;

/// A parsed `.loss` file: its statements in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `input NAME: DOMAIN [SHAPE]`, or `input NAME [SHAPE]` with no domain
    /// stated ([`DomainKind::Unstated`]).
    Input {
        name: Ident,
        domain: Domain,
        shape: Option<ShapeSpec>,
    },
    /// `param NAME = VALUE`
    Param { name: Ident, value: Literal },
    /// `const NAME = VALUE`
    Const { name: Ident, value: Literal },
    /// `let NAME = EXPR`
    Let { name: Ident, value: Expr },
    /// `def NAME(a, b) = EXPR`
    Def {
        name: Ident,
        params: Vec<Ident>,
        body: Expr,
    },
    /// `loss [NAME] = EXPR`; a missing name means `loss`.
    Loss { name: Option<Ident>, value: Expr },
    /// `output NAME = EXPR`
    Output { name: Ident, value: Expr },
    /// `wrt a, b`
    Wrt { names: Vec<Ident> },
}

/// The set of values an input can hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub kind: DomainKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DomainKind {
    Real,
    /// No domain written (`input x [N]`): any real number, and `check` says
    /// it assumed so. The span is empty, just after the name.
    Unstated,
    /// An interval; infinite ends are always open.
    Interval {
        lo: Bound,
        hi: Bound,
    },
    /// A finite set, sorted, without repeats.
    Set(Vec<f64>),
    /// `simplex`: rows (the last axis) on the probability simplex.
    Simplex,
    /// `onehot`: one-hot rows (the last axis).
    OneHot,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShapeSpec {
    pub dims: Vec<DimSpec>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DimSpec {
    Named(Ident),
    Fixed { size: u64, span: Span },
}

impl DimSpec {
    pub fn span(&self) -> Span {
        match self {
            DimSpec::Named(ident) => ident.span,
            DimSpec::Fixed { span, .. } => *span,
        }
    }
}

/// The value of a `param` or `const`: a number or a vector literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    Scalar(f64),
    Vector(Vec<f64>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number literal, or `inf`.
    Number(f64),
    Bool(bool),
    Name(String),
    Unary {
        op: UnaryOp,
        op_span: Span,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `( EXPR )`, kept so that printing and chained-comparison checks can see it.
    Paren(Box<Expr>),
    /// `(a, b)`: only as the value of a keyword argument such as `axis=(0, 1)`.
    Tuple(Vec<Expr>),
}

/// A call argument, positional (`name` is `None`) or keyword (`axis=-1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "not",
        }
    }
}

/// Words that cannot be used as names: the words of expressions. Statement
/// words (`input`, `loss`, `output`, ...) and domain words (`real`, `simplex`,
/// `onehot`) are words only where they start a statement or a domain, and
/// names everywhere else.
pub const RESERVED: &[&str] = &["inf", "true", "false", "and", "or", "not"];

/// The words that start a statement, in the order the docs list them.
pub const STATEMENT_WORDS: &[&str] = &["input", "param", "const", "let", "def", "loss", "output", "wrt"];
