//! Every number the book states is accounted for: computed and checked by the chapter's own
//! code, quoted from a named source, or shown as a timing.
//!
//! The test reads every page listed in `book/SUMMARY.md` and fails on each number of its prose
//! that none of the three rules below accounts for, naming the page, the line and the number.
//!
//! # Which numbers are checked
//!
//! - **Prose only**: text and math (mdbook-katex math is plain text to the Markdown parser),
//!   headings, lists, tables and the worked solutions. Fenced code blocks, inline code spans,
//!   HTML (comments included) and link destinations are not prose.
//! - **Decimal numbers with three or more significant digits**: a number written with a decimal
//!   point or in scientific form whose digits, leading zeros dropped, number at least three
//!   (`0.243`, `61.917364`, `0.100`, `1.53e-8`; not `0.25`, `0.0013`, `1e-8`, `2.0`). Integers
//!   (`1500`, `5,000`, `2024`) are counts, sizes, step numbers and years, and are not checked.
//! - **Forms**: a sign (`-`, `−`, `+`) is part of the number but is ignored when comparing,
//!   since an assert may well write `x + 1.528` for x ≈ −1.528. Thousands separators (`12,345.6`,
//!   LaTeX `12\,345.6`) are read as one number. Scientific forms `1.53e-8`, `1.53E-8`,
//!   `1.53 × 10⁻⁸`, `1.53 \times 10^{-8}` and `1.53 \cdot 10^{-8}` are one number, compared by
//!   their value. A percentage (`12.5%`, `12.5\%`) may be pinned either as 12.5 or as 0.125.
//! - **Not numbers**: digits glued to a letter or `_` (`x1`, `f32`, `β2`; a LaTeX command such
//!   as `\times0.5` does not count as a letter), version strings with two or more dots
//!   (`0.5.4`), identifiers after a colon (`arXiv:1412.6980`), and references after `§`,
//!   "Section" or "Chapter" (`§12.6`).
//!
//! # What accounts for a number
//!
//! (a) **Pinned**: a numeric literal of the same page, in a hidden line (`# ...`) of a Rust block
//!     that contains `assert`, or anywhere in the visible code of a Rust block (an input the code
//!     sets, such as `0.999`), is equal to the number after rounding to the number's decimals:
//!     `0.2431` and `"0.060466"` pin "0.243" and "0.060466", `0.2436` does not pin "0.243".
//!     Scientific forms round at the decimals of their mantissa (`1.531e-8` pins "1.53e-8").
//! (b) **Quoted**: the number is listed in an HTML comment `<!-- quoted: 0.247 0.245 -->` in the
//!     same paragraph (a run of non-blank lines); the prose should say where it comes from.
//! (c) **A timing**: the number is listed in `<!-- timing: 0.420 1.67 -->` in the same
//!     paragraph. Timings are shown, never asserted.
//!
//! Markers are matched by value: `<!-- quoted: 1.5e-8 -->` covers "1.5 × 10⁻⁸".

use std::ops::Range;

/// A number as the prose writes it.
#[derive(Debug, Clone, PartialEq)]
struct Written {
    /// The text, as in the chapter.
    text: String,
    /// Byte range in the chapter.
    range: Range<usize>,
    /// All digits of the mantissa as one integer, sign dropped: 61.917364 → 61917364.
    digits: u128,
    /// Digits after the decimal point of the mantissa.
    decimals: i32,
    /// The power of ten of a scientific form, 0 otherwise.
    exp: i32,
    /// Significant digits of the mantissa.
    significant: usize,
    /// Written with a decimal point or an exponent (not a bare integer).
    decimal: bool,
    /// Followed by `%`.
    percent: bool,
}

impl Written {
    /// The magnitude as written (a percentage not divided by 100).
    fn value(&self) -> f64 {
        self.digits as f64 * 10f64.powi(self.exp - self.decimals)
    }

    /// Whether `literal` equals this number after rounding to its decimals.
    fn pinned_by(&self, literal: f64) -> bool {
        let shifts: &[i32] = if self.percent { &[0, 2] } else { &[0] };
        shifts.iter().any(|shift| {
            let scaled = literal.abs() * 10f64.powi(self.decimals - self.exp + shift);
            let target = self.digits as f64;
            (scaled - target).abs() <= 0.5 + 1e-9 * target.max(1.0)
        })
    }

    /// Needs accounting for: a decimal number with three or more significant digits.
    fn checked(&self) -> bool {
        self.decimal && self.significant >= 3
    }
}

const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

/// Every number in `text` (prose, already masked), with byte ranges into `text`.
fn numbers(text: &str) -> Vec<Written> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let (number, end) = read_number(text, i);
        if let Some(n) = number.filter(|_| !excluded_by_context(text, i)) {
            out.push(n);
        }
        i = end.max(i + 1);
    }
    out
}

/// What comes right before a number that makes it a name, a version or a reference.
fn excluded_by_context(text: &str, start: usize) -> bool {
    let before = &text[..start];
    // A sign belongs to the number; look at what precedes it.
    let unsigned = before.strip_suffix('-').or_else(|| before.strip_suffix('−')).unwrap_or(before);
    if let Some(c) = before.chars().next_back() {
        if c == '_' || c == '.' || c == '§' || c == ':' {
            return true;
        }
        if c.is_alphabetic() {
            // `\times0.5`: a LaTeX command is not a name the number belongs to.
            let letters = before.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            return !(letters.ends_with('\\') && letters.len() < before.len());
        }
    }
    let words = unsigned.trim_end();
    let lower = words.to_lowercase();
    words.ends_with('§') || lower.ends_with("section") || lower.ends_with("chapter")
}

/// Reads the number starting at byte `start` (an ASCII digit). Returns it (None for a version
/// string) and the byte where reading stopped.
fn read_number(text: &str, start: usize) -> (Option<Written>, usize) {
    let b = text.as_bytes();
    let digit_run = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        j
    };
    let mut mantissa = String::new();
    let mut j = digit_run(start);
    mantissa.push_str(&text[start..j]);
    // Thousands separators: only after a first group of one to three digits not starting with 0.
    if (1..=3).contains(&(j - start)) && b[start] != b'0' {
        loop {
            let sep_len = [",", "\\,", "\u{2009}", "\u{202f}"]
                .iter()
                .find(|s| text[j..].starts_with(**s))
                .map(|s| s.len());
            let Some(len) = sep_len else { break };
            let k = j + len;
            if digit_run(k) == k + 3 {
                mantissa.push_str(&text[k..k + 3]);
                j = k + 3;
            } else {
                break;
            }
        }
    }
    let mut decimals = 0;
    let mut decimal = false;
    if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
        let k = digit_run(j + 1);
        // `0.5.4` is a version, not a number.
        if b.get(k) == Some(&b'.') && b.get(k + 1).is_some_and(u8::is_ascii_digit) {
            let mut end = k;
            while end < b.len() && (b[end].is_ascii_digit() || b[end] == b'.') {
                end += 1;
            }
            return (None, end);
        }
        mantissa.push_str(&text[j + 1..k]);
        decimals = (k - j - 1) as i32;
        decimal = true;
        j = k;
    }
    let (exp, after_exp) = read_exponent(text, j);
    if after_exp > j {
        decimal = true;
        j = after_exp;
    }
    let mut percent = false;
    for suffix in ["%", "\\%", " %", "\\,\\%", "\u{202f}%"] {
        if text[j..].starts_with(suffix) {
            percent = true;
            j += suffix.len();
            break;
        }
    }
    let digits: u128 = mantissa.parse().unwrap_or(u128::MAX);
    let significant = mantissa.trim_start_matches('0').len();
    let mut begin = start;
    for sign in ["-", "−", "+"] {
        if text[..start].ends_with(sign) {
            begin = start - sign.len();
        }
    }
    let written = Written {
        text: text[begin..j].to_string(),
        range: begin..j,
        digits,
        decimals,
        exp,
        significant,
        decimal,
        percent,
    };
    (Some(written), j)
}

/// An exponent right after a mantissa ending at `j`: `e-8`, `E+3`, ` × 10⁻⁸`, `\times 10^{-8}`,
/// `\cdot 10^-8`. Returns the exponent and where it ends (`j` when there is none).
fn read_exponent(text: &str, j: usize) -> (i32, usize) {
    let rest = &text[j..];
    let signed_int = |s: &str| -> Option<(i32, usize)> {
        let (neg, skip) = if let Some(r) = s.strip_prefix('-') {
            (true, s.len() - r.len())
        } else if let Some(r) = s.strip_prefix('−') {
            (true, s.len() - r.len())
        } else if let Some(r) = s.strip_prefix('+') {
            (false, s.len() - r.len())
        } else {
            (false, 0)
        };
        let n = s[skip..].bytes().take_while(u8::is_ascii_digit).count();
        let value: i32 = s[skip..skip + n].parse().ok()?;
        Some((if neg { -value } else { value }, skip + n))
    };
    if let Some(r) = rest.strip_prefix(['e', 'E']) {
        if let Some((e, len)) = signed_int(r) {
            let end = j + 1 + len;
            if !text[end..].starts_with(|c: char| c.is_alphanumeric()) {
                return (e, end);
            }
        }
        return (0, j);
    }
    let trimmed = rest.trim_start();
    let mut k = rest.len() - trimmed.len();
    let Some(op) = ["×", "\\times", "\\cdot", "·"].iter().find(|op| trimmed.starts_with(**op)) else {
        return (0, j);
    };
    k += op.len();
    let after_op = &rest[k..];
    let after_space = after_op.trim_start();
    k += after_op.len() - after_space.len();
    let Some(power) = after_space.strip_prefix("10") else { return (0, j) };
    k += 2;
    if let Some(p) = power.strip_prefix('^') {
        k += 1;
        let (inner, braces) = match p.strip_prefix('{') {
            Some(inner) => (inner, 1),
            None => (p, 0),
        };
        let Some((e, len)) = signed_int(inner) else { return (0, j) };
        if braces == 1 && !inner[len..].starts_with('}') {
            return (0, j);
        }
        return (e, j + k + len + 2 * braces);
    }
    // Unicode superscripts: 10⁻⁸, 10¹².
    let mut chars = power.char_indices().peekable();
    let mut neg = false;
    if let Some((_, c)) = chars.peek().copied().filter(|(_, c)| *c == '⁻' || *c == '⁺') {
        neg = c == '⁻';
        chars.next();
    }
    let (mut value, mut len, mut any) = (0i32, 0, false);
    for (idx, c) in chars {
        match SUPERSCRIPTS.iter().position(|s| *s == c) {
            Some(d) => {
                value = value * 10 + d as i32;
                len = idx + c.len_utf8();
                any = true;
            }
            None => break,
        }
    }
    if !any {
        return (0, j);
    }
    (if neg { -value } else { value }, j + k + len)
}

/// The chapter with everything but its prose blanked out (newlines kept, so lines and byte
/// offsets are the chapter's).
fn prose_only(markdown: &str) -> String {
    let mut masked: Vec<u8> = markdown.bytes().map(|c| if c == b'\n' { b'\n' } else { b' ' }).collect();
    for r in xtask::chapter::prose_ranges(markdown) {
        masked[r.clone()].copy_from_slice(&markdown.as_bytes()[r]);
    }
    String::from_utf8(masked).expect("prose ranges fall on character boundaries")
}

/// Numeric literals of Rust code: `0.2431`, `5e-4`, `1_000`, `0.9f32`, and the digits of
/// strings such as `"0.060466"`.
fn literals(code: &str) -> Vec<f64> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let glued = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.');
        if !b[i].is_ascii_digit() || glued {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut lit = String::new();
        let take_digits = |j: &mut usize, lit: &mut String| {
            while *j < b.len() && (b[*j].is_ascii_digit() || b[*j] == b'_') {
                if b[*j] != b'_' {
                    lit.push(b[*j] as char);
                }
                *j += 1;
            }
        };
        take_digits(&mut j, &mut lit);
        if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
            lit.push('.');
            j += 1;
            take_digits(&mut j, &mut lit);
        }
        if matches!(b.get(j), Some(b'e' | b'E')) {
            let mut k = j + 1;
            let mut exp = String::from("e");
            if matches!(b.get(k), Some(b'-' | b'+')) {
                exp.push(b[k] as char);
                k += 1;
            }
            if b.get(k).is_some_and(u8::is_ascii_digit) {
                while k < b.len() && b[k].is_ascii_digit() {
                    exp.push(b[k] as char);
                    k += 1;
                }
                lit.push_str(&exp);
                j = k;
            }
        }
        if let Ok(v) = lit.parse::<f64>() {
            out.push(v);
        }
        i = j.max(i + 1);
    }
    out
}

/// The literals that may pin a number of the chapter: those of hidden lines with `assert`,
/// and all those of visible code, in every Rust block.
fn pinning_literals(markdown: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for block in xtask::chapter::blocks(markdown) {
        if block.info.split([',', ' ']).next() != Some("rust") {
            continue;
        }
        for line in block.code.lines() {
            let t = line.trim_start();
            let hidden = t == "#" || t.starts_with("# ");
            if hidden && t.contains("assert") {
                out.extend(literals(t));
            }
        }
        out.extend(literals(&block.visible_code()));
    }
    out
}

/// Byte ranges of paragraphs: maximal runs of non-blank lines.
fn paragraphs(markdown: &str) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut offset = 0;
    let mut open: Option<usize> = None;
    for line in markdown.split_inclusive('\n') {
        match (line.trim().is_empty(), open) {
            (true, Some(start)) => {
                out.push(start..offset);
                open = None;
            }
            (false, None) => open = Some(offset),
            _ => {}
        }
        offset += line.len();
    }
    out.extend(open.map(|start| start..markdown.len()));
    out
}

/// The numbers listed in `<!-- KIND: ... -->` comments of `paragraph`.
fn marked(paragraph: &str, kind: &str) -> Vec<Written> {
    let mut out = Vec::new();
    let mut rest = paragraph;
    while let Some(open) = rest.find("<!--") {
        let after = &rest[open + 4..];
        let Some(close) = after.find("-->") else { break };
        let body = after[..close].trim_start();
        if let Some(list) = body.strip_prefix(kind).and_then(|b| b.trim_start().strip_prefix(':')) {
            out.extend(numbers(list));
        }
        rest = &after[close + 3..];
    }
    out
}

/// One number that nothing accounts for.
#[derive(Debug, PartialEq)]
struct Offender {
    line: usize,
    number: String,
}

/// The numbers of `markdown` that are neither pinned, quoted nor timings.
fn unaccounted(markdown: &str) -> Vec<Offender> {
    let prose = prose_only(markdown);
    let literals = pinning_literals(markdown);
    let paragraphs = paragraphs(markdown);
    let same_value = |a: &Written, b: &Written| {
        let (x, y) = (a.value(), b.value());
        (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
    };
    numbers(&prose)
        .into_iter()
        .filter(Written::checked)
        .filter(|n| !literals.iter().any(|&l| n.pinned_by(l)))
        .filter(|n| {
            let Some(p) = paragraphs.iter().find(|p| p.contains(&n.range.start)) else { return true };
            let text = &markdown[p.clone()];
            !["quoted", "timing"].iter().any(|kind| marked(text, kind).iter().any(|m| same_value(m, n)))
        })
        .map(|n| Offender { line: markdown[..n.range.start].matches('\n').count() + 1, number: n.text })
        .collect()
}

/// The pages of `book/SUMMARY.md`, in order.
fn summary_pages() -> Vec<String> {
    let summary = std::fs::read_to_string(xtask::root().join("book/SUMMARY.md")).expect("book/SUMMARY.md");
    summary
        .lines()
        .filter_map(|l| Some(l.split("](").nth(1)?.split(')').next()?.to_string()))
        .filter(|t| t.ends_with(".md"))
        .collect()
}

#[test]
fn every_number_of_every_chapter_is_pinned_quoted_or_a_timing() {
    let pages = summary_pages();
    assert!(pages.iter().any(|p| p == "gd.md"), "SUMMARY.md lists the chapters");
    let mut report = Vec::new();
    for page in &pages {
        let path = xtask::root().join("book").join(page);
        let markdown = match std::fs::read_to_string(&path) {
            Ok(markdown) => markdown,
            Err(e) => {
                report.push(format!("book/{page}: {e}"));
                continue;
            }
        };
        for o in unaccounted(&markdown) {
            report.push(format!("book/{page}:{}: {}", o.line, o.number));
        }
    }
    assert!(
        report.is_empty(),
        "{} number(s) neither pinned by an assert or a code literal, nor marked \
         <!-- quoted: ... --> or <!-- timing: ... --> in their paragraph:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[cfg(test)]
mod rules {
    use super::*;

    fn block(code: &str) -> String {
        format!("```rust\n{code}\n```\n")
    }

    fn offenders(md: &str) -> Vec<String> {
        unaccounted(md).into_iter().map(|o| o.number).collect()
    }

    #[test]
    fn a_number_pinned_by_a_hidden_assert_passes() {
        let code = block("let loss = 0.2431;\n# assert!((loss - 0.2431f64).abs() < 5e-4);");
        assert!(offenders(&format!("The loss ends at 0.243.\n\n{code}")).is_empty());
        let fmt = block("# assert_eq!(format!(\"{:.6}\", x), \"0.060466\");");
        assert!(offenders(&format!("It ends at 0.060466.\n\n{fmt}")).is_empty());
        assert!(offenders(&format!("A sign is ignored: −0.060466.\n\n{fmt}")).is_empty());
    }

    #[test]
    fn rounding_is_to_the_prose_decimals() {
        let code = block("# assert!((x - 0.2436).abs() < 1e-3);");
        assert_eq!(offenders(&format!("About 0.243.\n\n{code}")), ["0.243"]);
        assert!(offenders(&format!("About 0.244.\n\n{code}")).is_empty());
        assert!(offenders(&format!("Exactly 0.24360.\n\n{code}")).is_empty());
        assert_eq!(offenders(&format!("Exactly 0.24361.\n\n{code}")), ["0.24361"]);
    }

    #[test]
    fn an_unpinned_number_fails_with_its_line() {
        let md = format!("Title\n\nThe loss ends at 0.248.\n\n{}", block("# assert!(x < 0.5);"));
        assert_eq!(unaccounted(&md), [Offender { line: 3, number: "0.248".into() }]);
    }

    #[test]
    fn only_assert_lines_among_hidden_lines_pin() {
        let code = block("# let source = 0.248;\nlet y = 1;");
        assert_eq!(offenders(&format!("It ends at 0.248.\n\n{code}")), ["0.248"]);
    }

    #[test]
    fn a_visible_literal_is_an_input() {
        let code = block("let beta2 = 0.999;\nlet lr = 1_000.5;");
        assert!(offenders(&format!("With β₂ = 0.999 and $\\eta = 1,000.5$.\n\n{code}")).is_empty());
    }

    #[test]
    fn quoted_and_timing_markers_cover_their_paragraph_only() {
        let md = "The source reports 0.247 and 0.245.\n<!-- quoted: 0.247 0.245 -->\n\nIt took 0.420 s.\n<!-- timing: 0.420 -->\n\nAgain 0.247.\n";
        assert_eq!(offenders(md), ["0.247"]);
        assert_eq!(offenders("Took 0.420 s. <!-- quoted: 0.42 -->"), Vec::<String>::new(), "by value");
        assert_eq!(offenders("Took 0.420 s. <!-- other: 0.420 -->"), ["0.420"]);
    }

    #[test]
    fn code_and_html_are_not_prose() {
        let md = "Text `0.555` here.\n\n```text\n0.777\n```\n\n```rust\nlet a = 1; // 0.888\n```\n\n<!-- 0.999 -->\n";
        assert!(offenders(md).is_empty(), "{:?}", offenders(md));
        let link = "See [the paper](https://arxiv.org/abs/1412.6980) and <https://x.org/1.234>.";
        assert!(offenders(link).is_empty());
    }

    #[test]
    fn only_decimals_with_three_significant_digits_are_checked() {
        let md = "Values 0.25, 0.0013, 2.0, 1e-8, 1500, 5,000, 2024, x1, f32.";
        assert!(offenders(md).is_empty(), "{:?}", offenders(md));
        assert_eq!(offenders("Three: 0.100 and 0.00125 and 10.0."), ["0.100", "0.00125", "10.0"]);
    }

    #[test]
    fn references_versions_and_identifiers_are_not_numbers() {
        let md = "Dive into Deep Learning, §12.6; Section 11.10; mdbook 0.5.4; arXiv:1412.6980; v0.22.1.";
        assert!(offenders(md).is_empty(), "{:?}", offenders(md));
    }

    #[test]
    fn scientific_forms_are_one_number() {
        let forms = ["1.53e-8", "1.53E-8", "1.53 × 10⁻⁸", "$1.53 \\times 10^{-8}$", "$1.53\\cdot 10^-8$"];
        for form in forms {
            let n = numbers(form);
            assert_eq!(n.len(), 1, "{form}: {n:?}");
            assert_eq!(n[0].exp, -8, "{form}");
            assert!((n[0].value() - 1.53e-8).abs() < 1e-20, "{form}");
            let pinned = format!("It is {form}.\n\n{}", block("# assert!((x - 1.531e-8).abs() < 1e-10);"));
            assert!(offenders(&pinned).is_empty(), "{form}");
            let quoted = format!("It is {form}. <!-- quoted: 1.53e-8 -->");
            assert!(offenders(&quoted).is_empty(), "{form}");
            assert_eq!(offenders(&format!("It is {form}.")).len(), 1, "{form}");
        }
    }

    #[test]
    fn percentages_pin_as_percent_or_fraction() {
        let fraction = block("# assert!((r - 0.2251).abs() < 1e-3);");
        let percent = block("# assert!((r - 22.51).abs() < 0.1);");
        for code in [fraction, percent] {
            assert!(offenders(&format!("A drop of 22.5%.\n\n{code}")).is_empty());
            assert!(offenders(&format!("A drop of $22.5\\%$.\n\n{code}")).is_empty());
        }
        assert_eq!(offenders("A drop of 22.5%."), ["22.5%"]);
    }

    #[test]
    fn thousands_separators_join_the_groups() {
        let n = numbers("12,345.67 and 1\\,234.5");
        assert_eq!(n.len(), 2, "{n:?}");
        assert!((n[0].value() - 12345.67).abs() < 1e-9 && (n[1].value() - 1234.5).abs() < 1e-9);
        assert_eq!(numbers("(0.5,0.125)").len(), 2, "a comma between numbers is not a separator");
    }

    #[test]
    fn rust_literals_are_read_with_suffixes_and_underscores() {
        assert_eq!(
            literals("let a = 1_000.5f64; let b = 5e-4; let c = x1; \"0.060466\""),
            [1000.5, 5e-4, 0.060466]
        );
    }
}
