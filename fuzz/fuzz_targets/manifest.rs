//! Fuzz target: a manifest.json from an archive nobody vouches for.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lifeboat::fuzzing::manifest(data));
