//! Names and values that break naive stores.

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
