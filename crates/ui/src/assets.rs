//! Static assets embedded in the binary (served under `/ui/assets/`), so the
//! UI needs no build step and loads nothing from other origins.

/// The bytes and `Content-Type` of the asset at `path` (relative to
/// `/ui/assets/`, e.g. `"htmx.min.js"`), or `None` when there is no such
/// asset. Paths are matched exactly, so `..` can never escape.
pub fn assets(path: &str) -> Option<(&'static [u8], &'static str)> {
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == path)
        .map(|(_, bytes, ct)| (*bytes, *ct))
}

/// Every embedded asset's path (relative to `/ui/assets/`).
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _, _)| *name)
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[(&str, &[u8], &str)] = &[
    ("htmx.min.js", include_bytes!("../assets/htmx.min.js"), JS),
    ("bedside.js", include_bytes!("../assets/bedside.js"), JS),
    ("bedside.css", include_bytes!("../assets/bedside.css"), CSS),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_known_assets_with_types() {
        let (bytes, ct) = assets("htmx.min.js").expect("htmx");
        assert!(ct.starts_with("text/javascript"));
        assert!(bytes.len() > 10_000, "the real minified htmx is vendored");
        let (css, ct) = assets("bedside.css").expect("css");
        assert!(ct.starts_with("text/css"));
        assert!(std::str::from_utf8(css).unwrap().contains(":focus-visible"));
    }

    #[test]
    fn unknown_and_traversal_paths_are_none() {
        assert!(assets("nope.js").is_none());
        assert!(assets("../Cargo.toml").is_none());
        assert!(assets("").is_none());
    }
}
