//! Fuzzes the plan reader with MessagePack documents: it must never panic, and a plan it
//! accepts must survive MessagePack → JSON → MessagePack with the same digest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Only inputs the reader takes for MessagePack (the JSON target covers the rest).
    if !data.first().is_some_and(|b| *b == b'{' || b.is_ascii_whitespace()) {
        ftpsync::fuzzing::check_plan(data);
    }
});
