//! Fitting lines to the terminal: the demo's text is broken at spaces so that no line is wider
//! than the width chosen, with continuation lines indented under the text they continue. ANSI
//! colour sequences take no room on screen and are never broken.

/// Columns `text` takes on screen: characters outside ANSI `ESC [ ... m` sequences.
pub fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// `text` as lines of at most `width` visible columns, broken at spaces; continuation lines
/// start with `indent` spaces. A word too long for a line of its own is cut (plain words only:
/// a coloured one is left whole rather than broken inside an escape sequence).
pub fn wrap(text: &str, width: usize, indent: usize) -> Vec<String> {
    let indent = indent.min(width / 2);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    let mut at_line_start = true;
    // `split(' ')` keeps the empty words between runs of spaces, so alignment survives.
    for word in text.split(' ') {
        let mut word = word.to_string();
        let mut room = visible_width(&word);
        let separator = usize::from(!at_line_start);
        if used + separator + room > width && used > indent {
            lines.push(std::mem::take(&mut line));
            line = " ".repeat(indent);
            used = indent;
        } else if !at_line_start {
            line.push(' ');
            used += 1;
        }
        while used + room > width && !word.contains('\x1b') && room > 1 {
            let take = width.saturating_sub(used).max(1);
            let head: String = word.chars().take(take).collect();
            word = word.chars().skip(take).collect();
            line.push_str(&head);
            lines.push(std::mem::take(&mut line));
            line = " ".repeat(indent);
            used = indent;
            room = visible_width(&word);
        }
        line.push_str(&word);
        used += room;
        at_line_start = false;
    }
    lines.push(line);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_take_no_room() {
        assert_eq!(visible_width("\x1b[1m\x1b[31mFalse\x1b[0m"), 5);
        assert_eq!(visible_width("  plain"), 7);
    }

    #[test]
    fn long_lines_break_at_spaces_under_an_indent() {
        let lines = wrap(
            "  9.8s   event Warning BecameAtRisk host demo-db-01 became at risk",
            30,
            9,
        );
        for line in &lines {
            assert!(visible_width(line) <= 30, "{line:?}");
        }
        assert_eq!(lines[0], "  9.8s   event Warning");
        assert!(lines[1].starts_with("         BecameAtRisk"), "{lines:?}");
        assert_eq!(lines.join(" ").split_whitespace().count(), 9);
    }

    #[test]
    fn short_lines_and_alignment_are_kept() {
        assert_eq!(wrap("a   b", 80, 4), vec!["a   b"]);
        assert_eq!(wrap("", 80, 4), vec![""]);
    }

    #[test]
    fn overlong_words_are_cut() {
        let lines = wrap("x /a/very/long/path/that/does/not/fit", 12, 2);
        assert!(lines.iter().all(|l| visible_width(l) <= 12), "{lines:?}");
        assert_eq!(
            lines.concat().replace(' ', ""),
            "x/a/very/long/path/that/does/not/fit"
        );
    }
}
