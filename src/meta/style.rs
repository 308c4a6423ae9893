//! Whether metadata is written in pyftpsync's verbose form: environment variable
//! `PYFTPSYNC_VERBOSE_META`, else `verbose_meta` in section `[debug]` of `~/.pyftpsyncrc`.

use anyhow::{Result, bail};

use super::WriteStyle;

fn parse_bool(v: &str, source: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" | "" => Ok(false),
        other => bail!("{source}: invalid boolean {other:?} (use 1/true/on/yes or 0/false/off/no)"),
    }
}

/// Reads `[debug] verbose_meta` from an INI text.
fn from_rc(text: &str) -> Option<String> {
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') && line.ends_with(']') {
            section = line[1..line.len() - 1].trim().to_string();
        } else if section == "debug"
            && let Some((k, v)) = line.split_once(['=', ':'])
            && k.trim() == "verbose_meta"
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

/// The write style configured for this user.
pub fn from_environment() -> Result<WriteStyle> {
    let version = format!("ftpsync-{}", env!("CARGO_PKG_VERSION"));
    let verbose = match std::env::var("PYFTPSYNC_VERBOSE_META") {
        Ok(v) => parse_bool(&v, "PYFTPSYNC_VERBOSE_META")?,
        Err(_) => {
            let rc = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".pyftpsyncrc"));
            match rc.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|t| from_rc(&t)) {
                Some(v) => parse_bool(&v, "~/.pyftpsyncrc [debug] verbose_meta")?,
                None => false,
            }
        }
    };
    Ok(WriteStyle { verbose, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_file() {
        assert_eq!(from_rc("[test]\nverbose_meta = 0\n[debug]\nverbose_meta = On\n").as_deref(), Some("On"));
        assert!(parse_bool("On", "x").unwrap());
        assert!(parse_bool("maybe", "x").is_err());
    }
}
