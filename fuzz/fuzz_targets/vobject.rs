//! Fuzz target: a .vcf/.ics file from a device folder: split and inspected.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lifeboat::fuzzing::vobject(data));
