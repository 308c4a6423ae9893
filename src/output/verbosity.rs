//! The verbosity scale, in one place for the printer and the progress bars that both judge by it.

/// Verbosity as pyftpsync counts it: 3 by default, `-v` adds one, `-q` removes one.
pub const DEFAULT_VERBOSITY: i32 = 3;
