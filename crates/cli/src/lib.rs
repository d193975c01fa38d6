//! The library half of the `bedside` binary: what other tools (the fuzz
//! targets) need to exercise exactly as the binary does. Only the settings
//! live here; everything else is in `main.rs` and the library crates.

pub mod settings;
