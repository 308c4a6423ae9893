//! `ftpsync --version`: the bare version, as pyftpsync prints it; with `-v`, also the platform
//! and how this binary was built (from `build.rs`), for bug reports.

/// What `build.rs` recorded (empty when built without it).
const TARGET: &str = match option_env!("FTPSYNC_BUILD_TARGET") {
    Some(t) => t,
    None => "",
};
const RUSTC: &str = match option_env!("FTPSYNC_BUILD_RUSTC") {
    Some(r) => r,
    None => "",
};
const PROFILE: &str = match option_env!("FTPSYNC_BUILD_PROFILE") {
    Some(p) => p,
    None => "",
};
const COMMIT: Option<&str> = option_env!("FTPSYNC_BUILD_COMMIT");

/// The lines `--version` prints (`details`: with `-v`).
pub fn lines(details: bool) -> Vec<String> {
    let version = env!("CARGO_PKG_VERSION");
    if !details {
        return vec![version.to_string()];
    }
    let rustc_short = RUSTC.split_whitespace().nth(1).unwrap_or("unknown");
    let target = if TARGET.is_empty() { "unknown-target" } else { TARGET };
    let features: Vec<&str> = [cfg!(feature = "keyring").then_some("keyring")].into_iter().flatten().collect();
    let binary = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "unknown".into());
    vec![
        format!("ftpsync/{version} rustc/{rustc_short} {target}"),
        format!("  platform: {} {} ({target})", std::env::consts::OS, std::env::consts::ARCH),
        format!(
            "  built:    {} profile{}, {}",
            if PROFILE.is_empty() { "unknown" } else { PROFILE },
            if cfg!(debug_assertions) { " (debug assertions)" } else { "" },
            if RUSTC.is_empty() { "compiler unknown" } else { RUSTC }
        ),
        format!(
            "  commit:   {}",
            COMMIT.unwrap_or("not recorded (release builds in a git checkout record it; or set FTPSYNC_GIT_COMMIT)")
        ),
        format!("  features: {}", if features.is_empty() { "none".to_string() } else { features.join(", ") }),
        format!("  binary:   {binary}"),
    ]
}
