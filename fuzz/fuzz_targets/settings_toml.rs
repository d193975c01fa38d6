//! Any bytes as the server's TOML config file, overlaid on the defaults
//! and validated as `bedside serve --config FILE` does. Also a channel map
//! and an alert policy file. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(s) = bedside_cli::settings::Settings::from_config_text(text, "fuzz.toml") {
        let _ = s.validate();
        let _ = s.public_url();
    }
    let _ = bedside_ingest::ChannelMap::from_toml_str(text);
    let _ = bedside_policy::PolicyConfig::from_toml_str(text);
});
