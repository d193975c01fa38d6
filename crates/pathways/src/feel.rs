//! A small FEEL subset for gateway conditions and input mappings.
//!
//! Why hand-written: crates.io has no maintained standalone FEEL
//! evaluator (the `dsntk-*` crates are a whole DMN toolkit with their own
//! value model; `feel` is an unrelated tool). CEL (`cel`, formerly
//! `cel-interpreter`) needs a newer Rust than this workspace's MSRV and is
//! not what bpmn.io / Camunda Modeler users write in conditions (FEEL). The
//! subset below is about 300 lines and fully tested.
//!
//! Grammar (precedence low to high):
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := cmp ("and" cmp)*
//! cmp     := sum (("=" | "!=" | "<" | "<=" | ">" | ">=") sum)?
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | path
//! path    := primary ("." name)*
//! primary := number | "string" | true | false | null | name
//!          | "(" expr ")" | "not" "(" expr ")"
//! ```
//! Semantics follow FEEL's three-valued logic: a missing variable or a
//! comparison of mismatched types is `null`; `true or null` is `true`,
//! `false and null` is `false`; a condition holds only if it is `true`.
//! A leading `=` (Camunda 8 style) is accepted and ignored.

use serde_json::{Map, Value};
use std::fmt;

const MAX_NESTING: usize = 64;

/// Why an expression could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("expression {src:?}: {reason} at character {pos}")]
pub struct ExprError {
    pub src: String,
    pub pos: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
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
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Lit(Value),
    Path(Vec<String>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Bin(BinOp, Box<Node>, Box<Node>),
}

/// A parsed expression; evaluate with [`Expr::eval`].
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    src: String,
    root: Node,
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Name(String),
    Sym(&'static str),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, (usize, String)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            let n: f64 = text
                .parse()
                .map_err(|_| (start, format!("bad number {text:?}")))?;
            out.push((start, Tok::Num(n)));
        } else if c == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => return Err((start, "unterminated string".into())),
                    Some('"') => break,
                    Some('\\') => {
                        let esc = chars.get(i + 1).copied();
                        s.push(match esc {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some('"') => '"',
                            Some('\\') => '\\',
                            _ => return Err((i, "unknown escape in string".into())),
                        });
                        i += 2;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push((start, Tok::Str(s)));
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((start, Tok::Name(chars[start..i].iter().collect())));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = match two.as_str() {
                "!=" => Some("!="),
                "<=" => Some("<="),
                ">=" => Some(">="),
                "==" | "&&" | "||" => {
                    return Err((
                        start,
                        format!("{two:?} is not FEEL; use \"=\", \"and\", \"or\""),
                    ))
                }
                _ => None,
            };
            if let Some(s) = sym {
                i += 2;
                out.push((start, Tok::Sym(s)));
                continue;
            }
            let sym = match c {
                '=' => "=",
                '<' => "<",
                '>' => ">",
                '+' => "+",
                '-' => "-",
                '*' => "*",
                '/' => "/",
                '(' => "(",
                ')' => ")",
                '.' => ".",
                _ => return Err((start, format!("unexpected character {c:?}"))),
            };
            i += 1;
            out.push((start, Tok::Sym(sym)));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    depth: usize,
    end: usize,
}

type PResult = Result<Node, (usize, String)>;

impl Parser {
    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.0)
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn eat_name(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Name(x)) if x == s) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), (usize, String)> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err((self.pos(), format!("expected {s:?}")))
        }
    }
    fn or(&mut self) -> PResult {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err((self.pos(), "expression nested too deeply".into()));
        }
        let mut l = self.and()?;
        while self.eat_name("or") {
            l = Node::Bin(BinOp::Or, Box::new(l), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(l)
    }
    fn and(&mut self) -> PResult {
        let mut l = self.cmp()?;
        while self.eat_name("and") {
            l = Node::Bin(BinOp::And, Box::new(l), Box::new(self.cmp()?));
        }
        Ok(l)
    }
    fn cmp(&mut self) -> PResult {
        let l = self.sum()?;
        for (s, op) in [
            ("=", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("<=", BinOp::Le),
            (">=", BinOp::Ge),
            ("<", BinOp::Lt),
            (">", BinOp::Gt),
        ] {
            if self.eat_sym(s) {
                let r = self.sum()?;
                return Ok(Node::Bin(op, Box::new(l), Box::new(r)));
            }
        }
        Ok(l)
    }
    fn sum(&mut self) -> PResult {
        let mut l = self.product()?;
        loop {
            let op = if self.eat_sym("+") {
                BinOp::Add
            } else if self.eat_sym("-") {
                BinOp::Sub
            } else {
                return Ok(l);
            };
            l = Node::Bin(op, Box::new(l), Box::new(self.product()?));
        }
    }
    fn product(&mut self) -> PResult {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat_sym("*") {
                BinOp::Mul
            } else if self.eat_sym("/") {
                BinOp::Div
            } else {
                return Ok(l);
            };
            l = Node::Bin(op, Box::new(l), Box::new(self.unary()?));
        }
    }
    fn unary(&mut self) -> PResult {
        if self.eat_sym("-") {
            self.depth += 1;
            if self.depth > MAX_NESTING {
                return Err((self.pos(), "expression nested too deeply".into()));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Neg(Box::new(inner)));
        }
        let mut node = self.primary()?;
        while self.eat_sym(".") {
            let pos = self.pos();
            let Some(Tok::Name(n)) = self.peek().cloned() else {
                return Err((pos, "expected a name after '.'".into()));
            };
            self.at += 1;
            node = match node {
                Node::Path(mut p) => {
                    p.push(n);
                    Node::Path(p)
                }
                _ => return Err((pos, "'.' is only allowed after a variable name".into())),
            };
        }
        Ok(node)
    }
    fn primary(&mut self) -> PResult {
        let pos = self.pos();
        let Some(tok) = self.peek().cloned() else {
            return Err((pos, "unexpected end of expression".into()));
        };
        self.at += 1;
        match tok {
            Tok::Num(n) => Ok(Node::Lit(num(n))),
            Tok::Str(s) => Ok(Node::Lit(Value::String(s))),
            Tok::Name(n) => match n.as_str() {
                "true" => Ok(Node::Lit(Value::Bool(true))),
                "false" => Ok(Node::Lit(Value::Bool(false))),
                "null" => Ok(Node::Lit(Value::Null)),
                "not" => {
                    self.expect_sym("(")?;
                    let inner = self.or()?;
                    self.expect_sym(")")?;
                    Ok(Node::Not(Box::new(inner)))
                }
                "and" | "or" => Err((pos, format!("unexpected {n:?}"))),
                _ => Ok(Node::Path(vec![n])),
            },
            Tok::Sym("(") => {
                let inner = self.or()?;
                self.expect_sym(")")?;
                Ok(inner)
            }
            Tok::Sym(s) => Err((pos, format!("unexpected {s:?}"))),
        }
    }
}

fn num(n: f64) -> Value {
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

impl Expr {
    /// Parse FEEL text; a leading `=` is ignored.
    pub fn parse(src: &str) -> Result<Self, ExprError> {
        let trimmed = src.trim();
        let body = trimmed.strip_prefix('=').unwrap_or(trimmed);
        let err = |pos: usize, reason: String| ExprError {
            src: src.to_string(),
            pos,
            reason,
        };
        if body.starts_with("${") || body.starts_with("#{") {
            return Err(err(
                0,
                "JUEL expressions are not supported; write FEEL (e.g. risk.probability >= 0.5)"
                    .into(),
            ));
        }
        if body.is_empty() {
            return Err(err(0, "empty expression".into()));
        }
        let toks = lex(body).map_err(|(p, r)| err(p, r))?;
        let mut p = Parser {
            toks,
            at: 0,
            depth: 0,
            end: body.chars().count(),
        };
        let root = p.or().map_err(|(pos, r)| err(pos, r))?;
        if p.at < p.toks.len() {
            return Err(err(p.pos(), "unexpected trailing input".into()));
        }
        Ok(Self {
            src: body.to_string(),
            root,
        })
    }

    /// Evaluate against a variable map. Never fails: type errors are `null`.
    pub fn eval(&self, vars: &Map<String, Value>) -> Value {
        eval(&self.root, vars)
    }

    /// Evaluate as a condition: only `true` holds.
    pub fn holds(&self, vars: &Map<String, Value>) -> bool {
        self.eval(vars) == Value::Bool(true)
    }
}

fn eval(n: &Node, vars: &Map<String, Value>) -> Value {
    match n {
        Node::Lit(v) => v.clone(),
        Node::Path(p) => {
            let mut cur = vars.get(&p[0]);
            for seg in &p[1..] {
                cur = cur.and_then(|v| v.get(seg));
            }
            cur.cloned().unwrap_or(Value::Null)
        }
        Node::Not(x) => match eval(x, vars) {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        },
        Node::Neg(x) => match eval(x, vars).as_f64() {
            Some(f) => num(-f),
            None => Value::Null,
        },
        Node::Bin(op, l, r) => bin(*op, l, r, vars),
    }
}

fn bin(op: BinOp, l: &Node, r: &Node, vars: &Map<String, Value>) -> Value {
    use std::cmp::Ordering;
    let a = eval(l, vars);
    match op {
        BinOp::And | BinOp::Or => {
            let b = eval(r, vars);
            let short = op == BinOp::Or; // the value that decides the result
            let (x, y) = (a.as_bool(), b.as_bool());
            if x == Some(short) || y == Some(short) {
                Value::Bool(short)
            } else if x.is_some() && y.is_some() {
                Value::Bool(!short)
            } else {
                Value::Null
            }
        }
        _ => {
            let b = eval(r, vars);
            let ord: Option<Ordering> = match (&a, &b) {
                (Value::Number(x), Value::Number(y)) => x
                    .as_f64()
                    .zip(y.as_f64())
                    .and_then(|(x, y)| x.partial_cmp(&y)),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                (Value::Bool(x), Value::Bool(y)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                    Some(x.cmp(y))
                }
                _ => None,
            };
            let cmp = |f: fn(Ordering) -> bool| ord.map_or(Value::Null, |o| Value::Bool(f(o)));
            match op {
                BinOp::Eq | BinOp::Ne => {
                    let eq = match (&a, &b) {
                        (Value::Null, _) | (_, Value::Null) => Some(a.is_null() && b.is_null()),
                        _ => ord.map(|o| o == Ordering::Equal),
                    };
                    match eq {
                        Some(e) => Value::Bool(if op == BinOp::Eq { e } else { !e }),
                        None => Value::Null,
                    }
                }
                BinOp::Lt => cmp(|o| o == Ordering::Less),
                BinOp::Le => cmp(|o| o != Ordering::Greater),
                BinOp::Gt => cmp(|o| o == Ordering::Greater),
                BinOp::Ge => cmp(|o| o != Ordering::Less),
                _ => arith(op, &a, &b),
            }
        }
    }
}

fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    if let (BinOp::Add, Value::String(x), Value::String(y)) = (op, a, b) {
        return Value::String(format!("{x}{y}"));
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
        return Value::Null;
    };
    match op {
        BinOp::Add => num(x + y),
        BinOp::Sub => num(x - y),
        BinOp::Mul => num(x * y),
        BinOp::Div if y != 0.0 => num(x / y),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Map<String, Value> {
        json!({
            "risk": {"probability": 0.42, "tier": "interruptive"},
            "tier": "interruptive",
            "patient": {"age": 70},
            "review": {"agrees_with_ai": false},
            "flag": true
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn ev(s: &str) -> Value {
        Expr::parse(s).unwrap().eval(&vars())
    }

    #[test]
    fn comparisons_over_paths() {
        assert_eq!(ev("risk.probability >= 0.4"), json!(true));
        assert_eq!(ev("risk.probability > 0.42"), json!(false));
        assert_eq!(ev(r#"tier = "interruptive""#), json!(true));
        assert_eq!(ev(r#"risk.tier != "passive""#), json!(true));
        assert_eq!(ev("patient.age >= 65"), json!(true));
        assert_eq!(ev("review.agrees_with_ai = false"), json!(true));
        assert_eq!(ev("=patient.age < 65"), json!(false));
        assert_eq!(ev(r#""abc" < "abd""#), json!(true));
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(ev("missing.x > 1"), Value::Null);
        assert_eq!(ev("missing = null"), json!(true));
        assert_eq!(ev("patient.age = null"), json!(false));
        assert_eq!(ev("flag or missing > 1"), json!(true));
        assert_eq!(ev("not(flag) and missing > 1"), json!(false));
        assert_eq!(ev("flag and missing > 1"), Value::Null);
        assert_eq!(ev(r#"patient.age = "70""#), Value::Null);
        assert_eq!(ev("not(missing)"), Value::Null);
        assert!(!Expr::parse("missing > 1").unwrap().holds(&vars()));
    }

    #[test]
    fn arithmetic_and_precedence() {
        assert_eq!(ev("1 + 2 * 3 = 7"), json!(true));
        assert_eq!(ev("(1 + 2) * 3"), json!(9.0));
        assert_eq!(ev("-patient.age + 80 > 5"), json!(true));
        assert_eq!(ev("1 / 0"), Value::Null);
        assert_eq!(ev(r#""a" + "b" = "ab""#), json!(true));
        assert_eq!(ev("true or false and false"), json!(true));
    }

    #[test]
    fn parse_errors_name_position_and_reason() {
        for bad in [
            "", "=", "a ==", "a && b", "${x > 1}", "(a", "a.", "a b", "\"open", "1 < < 2", "not a",
            "(1).x", "@",
        ] {
            let e = Expr::parse(bad).expect_err(bad);
            assert!(!e.reason.is_empty());
        }
        let e = Expr::parse("a > 1 )").unwrap_err();
        assert_eq!(e.pos, 6);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(Expr::parse(&src).is_err());
        let src = format!("{}1", "-".repeat(5000));
        assert!(Expr::parse(&src).is_err());
    }
}
