//! Fuzz target: a .zip dropped on the window: listed, hashed, read with caps, verified.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lifeboat::fuzzing::zip_archive(data));
