//! [`printable`]: untrusted text made safe to show on a terminal, in a log
//! line, a metrics label or a web page.

use std::borrow::Cow;

/// Whether `c` is escaped by [`printable`]: a control character, or an
/// invisible character that changes how the text around it reads.
///
/// ```
/// use framecast_net::is_invisible;
///
/// assert!(is_invisible('\u{1b}') && is_invisible('\u{202e}') && is_invisible('\u{200b}'));
/// assert!(!is_invisible('é') && !is_invisible(' '));
/// ```
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Soft hyphen, Arabic letter mark, Mongolian vowel separator.
            '\u{ad}' | '\u{61c}' | '\u{180e}'
            // Zero-width space, non-joiner, joiner; left-to-right and
            // right-to-left marks.
            | '\u{200b}'..='\u{200f}'
            // Line and paragraph separators; the bidirectional embeddings
            // and overrides (U+202E turns the text around).
            | '\u{2028}'..='\u{202e}'
            // Word joiner, invisible operators, bidirectional isolates,
            // deprecated format characters.
            | '\u{2060}'..='\u{206f}'
            // Zero-width no-break space (byte order mark); interlinear
            // annotation controls.
            | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        )
}

/// `text` with every character that could act on a terminal, fake a line or
/// hide itself escaped: control characters (`\n`, `\t`, `\u{1b}` ...), the
/// Unicode bidirectional controls (`\u{202e}` ...) and the zero-width and
/// other invisible format characters (`\u{200b}` ...; see
/// [`is_invisible`]), written as Rust escapes. Everything else, other
/// scripts included, is as it was. Show untrusted text (a stream name, what
/// a server sends) through this; keep the exact value where it is data
/// (JSON, a file, a lookup).
///
/// The escaped text is not unambiguous (a name may hold a backslash); it is
/// for people to read, never to be parsed back.
///
/// ```
/// use framecast_net::printable;
///
/// assert_eq!(printable("Desk lamp é 名"), "Desk lamp é 名");
/// assert_eq!(printable("red\u{1b}[2J\nprice: 0"), "red\\u{1b}[2J\\nprice: 0");
/// assert_eq!(printable("cam\u{202e}4pm.exe"), "cam\\u{202e}4pm.exe");
/// assert_eq!(printable("do\u{200b}or"), "do\\u{200b}or");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_invisible) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(printable("Desk lamp é 名"), "Desk lamp é 名");
        assert!(matches!(printable("door"), Cow::Borrowed("door")));
        assert_eq!(
            printable("\u{1b}[2J\u{1b}[31mred"),
            "\\u{1b}[2J\\u{1b}[31mred"
        );
        assert_eq!(printable("a\nprice:       0"), "a\\nprice:       0");
        assert_eq!(printable("x\r\t\u{7f}\u{9b}"), "x\\r\\t\\u{7f}\\u{9b}");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
        for c in [
            '\u{ad}', '\u{61c}', '\u{180e}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}',
            '\u{200f}', '\u{2028}', '\u{2029}', '\u{202a}', '\u{2060}', '\u{2066}', '\u{2069}',
            '\u{feff}', '\u{fffb}',
        ] {
            let shown = printable(&format!("a{c}b")).into_owned();
            assert_eq!(shown, format!("a\\u{{{:x}}}b", c as u32), "{c:?}");
        }
    }
}
