//! The docs name every error code, flag and metric the code defines, so a
//! reader of docs/ can look up anything the server says or accepts.

use clap::CommandFactory;
use mlops_debug_env::cli::Cli;
use mlops_debug_env::server::error::Code;

fn docs() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            all.push_str(&std::fs::read_to_string(&path).expect("readable"));
        }
    }
    all
}

/// `needle` as a whole word of `text` (so `--max-sessions` is not found in `--max-sessions-per-client`).
fn names(text: &str, needle: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(needle)
        .any(|(i, _)| !text[..i].ends_with(word) && !text[i + needle.len()..].starts_with(word))
}

#[test]
fn every_error_code_is_documented() {
    let docs = docs();
    let missing: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).filter(|c| !names(&docs, c)).collect();
    assert!(missing.is_empty(), "error codes missing from docs/: {missing:?}");
}

#[test]
fn every_serve_flag_is_documented() {
    let docs = docs();
    let flags: Vec<String> = Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "help" && *l != "version")
        .map(|l| format!("--{l}"))
        .collect();
    assert!(flags.len() > 30, "the serve flags are read: {flags:?}");
    let missing: Vec<&String> = flags.iter().filter(|f| !names(&docs, f)).collect();
    assert!(missing.is_empty(), "flags missing from docs/: {missing:?}");
}

#[test]
fn every_metric_is_documented() {
    let docs = docs();
    let missing: Vec<&str> = mlops_debug_env::metrics::ALL.into_iter().filter(|m| !names(&docs, m)).collect();
    assert!(missing.is_empty(), "metrics missing from docs/: {missing:?}");
}
