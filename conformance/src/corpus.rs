//! Names and values that break naive stores, for the suite's cases and for tests that
//! check one store against another (such as the interoperability tests with
//! py-key-value).
//!
//! Two public functions, stable in what they cover rather than in their exact lists:
//!
//! - [`hostile_names`]: names every store must accept as keys and collections;
//! - [`edge_values`]: values at the edges of what a store must round-trip exactly.
//!
//! ```
//! use key_value_conformance::corpus::{edge_values, hostile_names};
//!
//! let names = hostile_names();
//! assert!(names.iter().any(|name| name == "a::b"));
//! assert!(names.iter().any(|name| name.chars().count() == 300));
//! assert!(edge_values().iter().all(|value| !value.is_empty()));
//! ```

use key_value_core::JsonObject;
use serde_json::{Value, json};

/// Every name the store contract requires a store to accept, as a key and as a
/// collection, and to return from enumeration as written: separators of other layouts
/// (`::`, `/`, `\`), relative paths (`.`, `..`), escaping schemes (`%`, `%2F`), control
/// characters (NUL excepted), unicode in both normal forms (`é` and `e` + U+0301),
/// emoji and joiners, names Windows reserves, and long names (64 to 1025 bytes, and
/// 300 characters of ASCII and of two-byte characters). Non-empty, at most 1025 bytes
/// each (under the contract's 4096), all distinct.
pub fn hostile_names() -> Vec<String> {
    let mut names = special_names();
    names.push("n".repeat(300));
    names.push("é".repeat(300));
    names
}

/// Values at the edges of the contract's round-trip rule, each a JSON object: integers
/// at the `i64` and `u64` limits, `-0.0`, subnormal and extreme floats, floats whose
/// text form changes notation (`1e16`, `1e-7`), unicode with escapes and characters
/// above U+FFFF, control characters, objects whose keys are not in sorted order (to
/// show whether insertion order survives), 32 levels of nesting, and a 64 KiB string.
pub fn edge_values() -> Vec<JsonObject> {
    let mut nested = json!({"leaf": [true, null]});
    for depth in (0..31).rev() {
        nested = json!({ format!("d{depth}"): nested });
    }
    [
        json!({"i64_min": i64::MIN, "i64_max": i64::MAX, "u64_max": u64::MAX, "zero": 0, "minus_one": -1}),
        json!({"negative_zero": -0.0, "subnormal": 5e-324, "subnormal_2": 2.5e-310,
               "min_normal": 2.2250738585072014e-308, "max": 1.7976931348623157e308,
               "tenth": 0.1, "third": 0.3333333333333333, "e16": 1e16, "e15": 1e15,
               "e_minus_7": 1e-7, "e_minus_4": 1e-4, "whole": 100.0, "negative": -2.5e-300}),
        json!({"text": "héllo wörld ✓ 🌍 🦀", "nfd": "e\u{301}", "controls": "a\u{1}b\n\t\r\u{8}\u{c}\"\\/\u{7f}",
               "bidi": "\u{202e}x", "bom": "\u{feff}", "line_separator": "\u{2028}", "empty": ""}),
        json!({"zebra": 1, "apple": {"z": 1, "a": 2, "m": [3, {"y": 1, "b": 2}]}, "mango": [], "Banana": {}, "ä": 0, "a": 0}),
        json!({"access_token": "at-🦀", "token_type": "Bearer", "expires_in": 3600, "scope": "read write",
               "refresh_token": null, "id_token": "x.y.z"}),
        json!({ "nested": nested }),
        json!({"big": "x".repeat(64 * 1024)}),
        json!({"list": [1, -1, 1.5, "s", null, true, false, [], {}, [[[]]]], "empty_object": {}}),
    ]
    .into_iter()
    .filter_map(|value| match value {
        Value::Object(object) => Some(object),
        _ => None,
    })
    .collect()
}

/// Names every store must accept as keys and collections, each returned as written.
pub(crate) fn special_names() -> Vec<String> {
    let mut names: Vec<String> = [
        // Separators of other layouts and file systems.
        "::",
        "a::b",
        "a::b::c",
        "/",
        "a/b",
        "/absolute",
        "trailing/",
        "\\",
        "a\\b",
        "C:\\windows",
        ":",
        // Relative paths and dot files.
        ".",
        "..",
        "...",
        "../escape",
        "../../etc/passwd",
        "..\\escape",
        ".hidden",
        "trailing.",
        "trailing ",
        " leading",
        // Escaping schemes.
        "%",
        "%2F",
        "a%2Fb",
        "%00",
        "%%",
        "&amp;",
        "'quoted'",
        "\"double\"",
        "`tick`",
        "$HOME",
        "*",
        "?",
        "<>|",
        "#",
        "a b c",
        "-",
        "--flag",
        "~",
        "=",
        "+",
        // Control characters (NUL excepted, which the contract refuses).
        "tab\there",
        "new\nline",
        "\r",
        "\u{1}\u{2}\u{1f}",
        "\u{7f}",
        "\u{1b}[31mred",
        // Unicode.
        "é",
        "e\u{301}",
        "ключ",
        "鍵",
        "🦀",
        "👨‍👩‍👧‍👦",
        "\u{202e}reversed",
        "\u{feff}bom",
        "\u{2028}",
        "\u{fffd}",
        // Names Windows reserves.
        "con",
        "CON",
        "nul",
        "aux",
        "com1",
        "lpt1",
        "con.txt",
        // Names other layers may treat specially.
        "default_collection",
        "__init__",
        "null",
        "0",
        "-1",
        "true",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    // Lengths around common file-name limits.
    for len in [64, 200, 255, 256, 1024, 1025] {
        names.push("n".repeat(len));
    }
    names.push("é".repeat(128));
    names
}

/// Pairs of names that naive mappings (case folding, escaping, normalisation,
/// truncation) would send to one stored entry.
pub(crate) fn lookalike_pairs() -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = [
        ("key", "Key"),
        ("key", "KEY"),
        ("a/b", "a%2Fb"),
        ("a/b", "a_b"),
        ("a/b", "a\\b"),
        ("a:b", "a::b"),
        ("é", "e\u{301}"),
        ("a", "a "),
        ("a", " a"),
        (".", ".."),
        ("..", "..."),
        ("con", "CON"),
        ("a.", "a"),
        ("%", "%25"),
        ("+", " "),
        ("a\tb", "a b"),
        ("ß", "ss"),
        ("ﬁ", "fi"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    // Names that differ only past the length where hashing or truncation starts.
    let long = "x".repeat(300);
    pairs.push((format!("{long}a"), format!("{long}b")));
    let longer = "y".repeat(4095);
    pairs.push((format!("{longer}a"), format!("{longer}b")));
    pairs
}
