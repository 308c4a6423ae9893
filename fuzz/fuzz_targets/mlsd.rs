//! Fuzzes the MLSD parser with whole data-connection payloads: it must never panic, and what it
//! accepts must obey the rules every listing obeys (`ftpsync::fuzzing::check_listing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    ftpsync::fuzzing::check_listing(data, ftpsync::backend::ftp::listing::Format::Mlsd);
});
