//! The colours in bedside.css meet WCAG 2 AA contrast: 4.5:1 for text,
//! 3:1 for focus indicators and other non-text marks (WCAG relative
//! luminance and contrast ratio definitions).

use std::collections::HashMap;

fn css() -> String {
    let (bytes, _) = bedside_ui::assets("bedside.css").unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `--name: #rrggbb` custom properties.
fn vars(css: &str) -> HashMap<String, String> {
    css.split([';', '{'])
        .filter_map(|decl| {
            let (k, v) = decl.trim().split_once(':')?;
            let (k, v) = (k.trim(), v.trim());
            (k.starts_with("--") && v.starts_with('#')).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn rgb(hex: &str) -> [f64; 3] {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).unwrap() as f64 / 255.0;
    [c(0), c(2), c(4)]
}

fn luminance(hex: &str) -> f64 {
    let lin = |c: f64| {
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb(hex);
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn formula_matches_known_ratios() {
    assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    assert!((contrast("#777777", "#ffffff") - 4.48).abs() < 0.01);
}

#[test]
fn text_colours_meet_aa() {
    let v = vars(&css());
    let get = |k: &str| {
        v.get(k)
            .unwrap_or_else(|| panic!("{k} not defined in bedside.css"))
            .clone()
    };
    let white = "#ffffff".to_string();
    let text_pairs = [
        ("--fg", "--bg"),
        ("--muted", "--bg"),
        ("--muted", "--panel"),
        ("--fg", "--panel"),
        ("--link", "--bg"),
        ("--link", "--panel"),
        ("--info", "--bg"),
        ("--warning", "--bg"),
        ("--critical", "--bg"),
        ("--critical", "--panel"),
        ("--ok", "--bg"),
    ];
    for (fg, bg) in text_pairs {
        let r = contrast(&get(fg), &get(bg));
        assert!(r >= 4.5, "{fg} on {bg}: {r:.2}");
    }
    // White text on coloured backgrounds: header, buttons, badges.
    for bg in ["--brand", "--link", "--critical"] {
        let r = contrast(&white, &get(bg));
        assert!(r >= 4.5, "white on {bg}: {r:.2}");
    }
    for (fg, bg) in [
        ("#ffffff", "#084580"),
        ("#ffffff", "#6b7680"),
        ("#e6edf5", "#0a58a8"),
        ("#1e6b34", "#e7f3ea"),
        ("#b3261e", "#fbeaea"),
    ] {
        let r = contrast(fg, bg);
        assert!(r >= 4.5, "{fg} on {bg}: {r:.2}");
    }
}

#[test]
fn focus_and_marks_meet_non_text_contrast() {
    let v = vars(&css());
    assert!(contrast(&v["--focus"], &v["--bg"]) >= 3.0);
    assert!(
        contrast("#ffd43b", &v["--brand"]) >= 3.0,
        "focus ring in the header"
    );
    assert!(
        contrast("#6b7680", &v["--bg"]) >= 3.0,
        "form control borders"
    );
    assert!(contrast("#2b6cb0", &v["--bg"]) >= 3.0, "chart bars");
}
