//! The functions and macros a CEL expression calls, found by a small lexer: enough to tell which
//! library a rule needs, without a full parser. String and bytes literals are skipped (a rule
//! may quote `'ip(...)'` as text), and every call reports its name, whether it is a method
//! (`x.f(...)`), the namespace of a namespaced function (`sets.contains(...)`), and its number
//! of arguments (two-variable comprehensions differ from macros only by that).

/// One call in an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The function or macro name: `startsWith`, `all`, `contains`.
    pub name: String,
    /// `Some("sets")` for `sets.contains(...)`: a dotted name whose root is not a variable.
    pub namespace: Option<String>,
    /// Called on a receiver: `self.size()`, `url(x).getHost()`.
    pub method: bool,
    pub args: usize,
}

impl Call {
    /// `sets.contains`, `.startsWith`, `has`: the name as the tables in floor.rs spell it.
    pub fn spelled(&self) -> String {
        match (&self.namespace, self.method) {
            (Some(ns), _) => format!("{ns}.{}", self.name),
            (None, true) => format!(".{}", self.name),
            (None, false) => self.name.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Literal,
    Punct(char),
}

/// The variables of a CRD validation rule. They, and the variables a comprehension binds
/// (`id` in `self.hostIds.all(id, ...)`), start field paths; any other dotted name in front of a
/// call is a function's namespace.
const VARIABLES: &[&str] = &["self", "oldSelf"];

/// Macros and functions whose leading arguments name the variables they bind, and how many:
/// one for the classic macros and `cel.bind`, up to two for two-variable comprehensions.
fn binds(name: &str, args: usize) -> usize {
    match name {
        "all" | "exists" | "exists_one" | "existsOne" if args == 3 => 2,
        "all" | "exists" | "exists_one" | "existsOne" | "map" | "filter" | "bind" => 1,
        "transformList" | "transformMap" | "transformMapEntry" => 2,
        _ => 0,
    }
}

/// Every call of `expression`, in source order.
pub fn calls(expression: &str) -> Result<Vec<Call>, String> {
    let tokens = lex(expression)?;
    let mut bound: Vec<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Ident(name) = token else { continue };
        if tokens.get(i + 1) != Some(&Token::Punct('(')) {
            continue;
        }
        let args = arg_ranges(&tokens, i + 1)?;
        for &(start, end) in args.iter().take(binds(name, args.len())) {
            if let (1, Token::Ident(variable)) = (end - start, &tokens[start]) {
                bound.push(variable.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Ident(name) = token else { continue };
        if tokens.get(i + 1) != Some(&Token::Punct('(')) {
            continue;
        }
        let args = arg_ranges(&tokens, i + 1)?.len();
        // Walk back over `ident .` pairs: `a.b.c(` is a dotted chain rooted at `a`.
        let mut chain = vec![name.clone()];
        let mut j = i;
        while j >= 2 && tokens[j - 1] == Token::Punct('.') {
            match &tokens[j - 2] {
                Token::Ident(part) => {
                    chain.push(part.clone());
                    j -= 2;
                }
                _ => break,
            }
        }
        chain.reverse();
        // A chain preceded by `.`, `)` or `]` continues an expression: a method on its result.
        let continues = j >= 1 && matches!(tokens[j - 1], Token::Punct('.'));
        let root_is_variable = bound.contains(&chain[0]);
        let call = if chain.len() == 1 {
            Call {
                name: name.clone(),
                namespace: None,
                method: continues,
                args,
            }
        } else if root_is_variable || continues {
            Call {
                name: name.clone(),
                namespace: None,
                method: true,
                args,
            }
        } else {
            Call {
                name: name.clone(),
                namespace: Some(chain[..chain.len() - 1].join(".")),
                method: false,
                args,
            }
        };
        out.push(call);
    }
    Ok(out)
}

/// The token ranges of the arguments of the call whose `(` is at `open`.
fn arg_ranges(tokens: &[Token], open: usize) -> Result<Vec<(usize, usize)>, String> {
    let mut depth = 0usize;
    let mut ranges = Vec::new();
    let mut start = open + 1;
    for (k, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct('(' | '[' | '{') => depth += 1,
            Token::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    if k > start {
                        ranges.push((start, k));
                    }
                    return Ok(ranges);
                }
            }
            Token::Punct(',') if depth == 1 => {
                ranges.push((start, k));
                start = k + 1;
            }
            _ => {}
        }
    }
    Err("unbalanced parentheses".into())
}

fn lex(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if let Some(end) = string_literal(&chars, i)? {
            tokens.push(Token::Literal);
            i = end;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            // Numbers, including 1.5e3, 0x1F and 3u: none of it is a call.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Literal);
        } else if c == '.' && chars.get(i + 1) == Some(&'?') {
            // Optional field selection `a.?b` selects like `a.b` as far as calls are concerned.
            tokens.push(Token::Punct('.'));
            i += 2;
        } else if c == '`' {
            return Err("backquoted identifiers are newer than Kubernetes 1.30's CEL".into());
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    Ok(tokens)
}

/// The end of the string or bytes literal starting at `i` (with its `r`/`b` prefixes), if one does.
fn string_literal(chars: &[char], i: usize) -> Result<Option<usize>, String> {
    let mut j = i;
    let mut raw = false;
    while j < chars.len() && j < i + 2 && matches!(chars[j], 'r' | 'R' | 'b' | 'B') {
        raw |= matches!(chars[j], 'r' | 'R');
        j += 1;
    }
    let Some(&quote) = chars.get(j) else {
        return Ok(None);
    };
    if quote != '\'' && quote != '"' {
        return Ok(None);
    }
    let triple = chars.get(j + 1) == Some(&quote) && chars.get(j + 2) == Some(&quote);
    let delimiter = if triple { 3 } else { 1 };
    let mut k = j + delimiter;
    while k < chars.len() {
        if !raw && chars[k] == '\\' {
            k += 2;
            continue;
        }
        if chars[k] == quote && (0..delimiter).all(|d| chars.get(k + d) == Some(&quote)) {
            return Ok(Some(k + delimiter));
        }
        k += 1;
    }
    Err(format!(
        "unterminated string literal at {}",
        chars[i..].iter().collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(expression: &str) -> Vec<(String, usize)> {
        calls(expression)
            .expect("lexes")
            .into_iter()
            .map(|c| (c.spelled(), c.args))
            .collect()
    }

    #[test]
    fn calls_are_named_as_methods_globals_and_namespaced_functions() {
        assert_eq!(
            spelled("has(self.a) && self.b.startsWith('x') || sets.contains(self.l, ['a'])"),
            [
                ("has".into(), 1),
                (".startsWith".into(), 1),
                ("sets.contains".into(), 2)
            ]
        );
        assert_eq!(
            spelled("url(self).getHost() == format.dns1123Label().validate(self)"),
            [
                ("url".into(), 1),
                (".getHost".into(), 0),
                ("format.dns1123Label".into(), 0),
                (".validate".into(), 1)
            ]
        );
        assert_eq!(
            spelled("self.m.all(k, v, v > size(k))"),
            [(".all".into(), 3), ("size".into(), 1)]
        );
        // Variables bound by a comprehension start field paths, not namespaces.
        assert_eq!(
            spelled("self.l.all(id, id.x.size() > 0) && sets.contains(self.l, [1])"),
            [
                (".all".into(), 2),
                (".size".into(), 0),
                ("sets.contains".into(), 2)
            ]
        );
    }

    #[test]
    fn literals_hide_what_they_contain() {
        assert!(
            spelled("self == 'ip(x)' || self == r'cidr(\\d)' || self == \"isIP(\\\"\"").is_empty()
        );
        assert_eq!(spelled("self.?a.orValue('')"), [(".orValue".into(), 1)]);
        assert_eq!(
            spelled("self.matches('''a'b(''') && b'x(' != b''"),
            [(".matches".into(), 1)]
        );
        assert!(calls("self == 'open").is_err());
    }
}
