// Embeds the git commit in mlops_build_info (falls back to "unknown" outside a checkout).
fn main() {
    println!("cargo:rerun-if-env-changed=MLOPS_GIT_SHA");
    if let Ok(sha) = std::env::var("MLOPS_GIT_SHA") {
        println!("cargo:rustc-env=MLOPS_GIT_SHA={sha}");
        return;
    }
    let sha = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=MLOPS_GIT_SHA={sha}");
    println!("cargo:rerun-if-changed=.git/HEAD");
}
