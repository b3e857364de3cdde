//! Fuzz target: a server's multistatus answer, through libdav's parsers and ours.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lifeboat::fuzzing::multistatus(data));
