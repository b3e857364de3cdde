//! Jobs: plan first (plain data, so dry runs and previews come free), then execute.

pub mod export;
pub mod restore;
pub mod restore_report;
