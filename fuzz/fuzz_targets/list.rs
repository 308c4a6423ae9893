//! Fuzzes the LIST parser (Unix `ls -l` and DOS formats) with whole payloads: it must never
//! panic, and what it accepts must obey the rules every listing obeys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ftpsync::fuzzing::check_listing(data, ftpsync::backend::ftp::listing::Format::List);
});
