//! Statements of preprocessing.py as the grader's field rule sees them: each
//! logical statement with the identifiers on it (dictionary-key strings
//! included), its enclosing function and class, and the classes of the
//! objects it uses (`scaler = StandardScaler()` lets `StandardScaler`
//! qualify `scaler.fit_transform`).

/// One logical statement (bracketed continuation lines joined).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// 0-based line where it starts.
    pub line: usize,
    /// The statement on one line, for messages.
    pub head: String,
    pub function: Option<String>,
    pub class: Option<String>,
    /// Lower-cased identifiers and subscript keys, in order of appearance.
    pub idents: Vec<String>,
    /// Lower-cased names that may qualify the statement: enclosing function
    /// and class, and the classes of the objects it names.
    pub qualifiers: Vec<String>,
}

/// Identifiers outside string literals, plus literal keys written as `["key"]`.
pub fn identifiers(code: &str) -> Vec<String> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' {
            let start = i + 1;
            let mut j = start;
            while j < c.len() && c[j] != ch {
                j += 1;
            }
            let literal: String = c[start..j.min(c.len())].iter().collect();
            let subscript = i > 0 && c[i - 1] == '[' && c.get(j + 1) == Some(&']');
            if subscript && literal.chars().all(|x| x.is_alphanumeric() || x == '_') {
                out.push(literal.to_lowercase());
            }
            i = j + 1;
            continue;
        }
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[start..i].iter().collect::<String>().to_lowercase());
            continue;
        }
        if ch == '#' {
            break;
        }
        i += 1;
    }
    out
}

fn depth_change(line: &str) -> i32 {
    let mut d = 0;
    let mut quote: Option<char> = None;
    for ch in line.chars() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None => match ch {
                '"' | '\'' => quote = Some(ch),
                '(' | '[' | '{' => d += 1,
                ')' | ']' | '}' => d -= 1,
                '#' => break,
                _ => {}
            },
        }
    }
    d
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The statements of a Python file (function and class headers, docstrings,
/// comments and imports are not statements).
pub fn statements(code: &str) -> Vec<Statement> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out: Vec<Statement> = Vec::new();
    let mut function: Option<(String, usize)> = None;
    let mut class: Option<(String, usize)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        let start = i;
        i += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("\"\"\"") {
            continue;
        }
        let ind = indent(line);
        if function.as_ref().is_some_and(|(_, fi)| ind <= *fi) {
            function = None;
        }
        if class.as_ref().is_some_and(|(_, ci)| ind <= *ci) {
            class = None;
        }
        if let Some(rest) = trimmed.strip_prefix("def ") {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            function = Some((name.to_lowercase(), ind));
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("class ") {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            class = Some((name.to_lowercase(), ind));
            continue;
        }
        if trimmed.starts_with("import ") || trimmed.starts_with("from ") {
            continue;
        }
        let mut text = trimmed.to_string();
        let mut depth = depth_change(line);
        while depth > 0 && i < lines.len() {
            depth += depth_change(lines[i]);
            text.push(' ');
            text.push_str(lines[i].trim());
            i += 1;
        }
        let mut qualifiers: Vec<String> = Vec::new();
        qualifiers.extend(function.as_ref().map(|(f, _)| f.clone()));
        qualifiers.extend(class.as_ref().map(|(c, _)| c.clone()));
        out.push(Statement {
            line: start,
            head: text.replace("( ", "(").replace(" )", ")"),
            function: function.as_ref().map(|(f, _)| f.clone()),
            class: class.as_ref().map(|(c, _)| c.clone()),
            idents: identifiers(&text),
            qualifiers,
        });
    }
    // `v = Class(...)` in the same scope: Class qualifies v's uses there
    let constructions: Vec<(Option<String>, String, String)> = out
        .iter()
        .filter_map(|s| {
            let (lhs, rhs) = s.head.split_once(" = ")?;
            let class: String = rhs.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let constructs = class.starts_with(char::is_uppercase) && rhs[class.len()..].starts_with('(');
            let var = lhs.trim();
            (constructs && var.chars().all(|c| c.is_alphanumeric() || c == '_'))
                .then(|| (s.function.clone(), var.to_lowercase(), class.to_lowercase()))
        })
        .collect();
    for s in &mut out {
        for (scope, var, class) in &constructions {
            if *scope == s.function && s.idents.contains(var) && !s.qualifiers.contains(class) {
                s.qualifiers.push(class.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_carry_scope_keys_and_constructed_classes() {
        let code = "X = 1\n\n\ndef scale(X):\n    \"\"\"Doc.\"\"\"\n    scaler = StandardScaler()\n    return scaler.fit_transform(X)\n\n\ndef split(X, y):\n    a, b = train_test_split(\n        X, y, test_size=0.8\n    )\n    r[\"val_accuracy\"] = a  # note\n";
        let s = statements(code);
        assert_eq!(s.len(), 5);
        assert_eq!(s[2].function.as_deref(), Some("scale"));
        assert!(s[2].qualifiers.contains(&"standardscaler".to_string()));
        assert_eq!(s[3].line, 10);
        assert!(s[3].idents.contains(&"test_size".to_string()));
        assert!(s[4].idents.contains(&"val_accuracy".to_string()));
        assert!(!s[4].idents.contains(&"note".to_string()));
    }
}
