//! A panic in one of several threads that wait for each other becomes an error of its job:
//! the others would otherwise wait for it for ever (a worker that never reports back), where
//! the run should end with a message, roll back what it staged and exit 1.

use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Result, anyhow};

/// Runs `job`; a panic is returned as an error that names it (the default hook has printed
/// where it happened).
pub fn caught<T>(job: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(job)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        Err(anyhow!("internal error, please report it: a thread panicked ({what})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_and_a_result_passes_through() {
        assert_eq!(caught(|| Ok(7)).unwrap(), 7);
        let e = caught::<()>(|| panic!("list {} went wrong", 3)).unwrap_err();
        assert!(format!("{e}").contains("list 3 went wrong"), "{e}");
    }
}
