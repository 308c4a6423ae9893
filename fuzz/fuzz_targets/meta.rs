//! Fuzzes the reader of `.pyftpsync-meta.json`: it must never panic, and a document it accepts
//! must read back the same after being written.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ftpsync::fuzzing::check_meta(data);
});
