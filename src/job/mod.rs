//! Jobs: plan first (plain data, so dry runs and previews come free), then execute.

pub mod export;
