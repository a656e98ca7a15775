//! HTML bodies reduced to text for the case: `ammonia` (html5ever) sanitises the markup down
//! to a few block elements with no attributes, and that small, well-formed vocabulary is
//! turned into lines. Scripts, styles and their content are gone before any text is taken.

use std::collections::HashSet;

/// The text of an HTML body.
pub fn to_text(html: &str) -> String {
    let blocks: HashSet<&str> = [
        "p",
        "br",
        "div",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
    ]
    .into_iter()
    .collect();
    let clean = ammonia::Builder::default()
        .tags(blocks)
        .generic_attributes(HashSet::new())
        .tag_attributes(Default::default())
        .link_rel(None)
        .url_schemes(HashSet::new())
        .clean(html)
        .to_string();
    let mut out = String::with_capacity(clean.len());
    let mut rest = clean.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            break;
        };
        let tag = &rest[start + 1..start + end];
        let name = tag.trim_start_matches('/').trim_end_matches('/').trim();
        if name == "br" || tag.starts_with('/') || name == "li" {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    if !rest.contains('<') {
        out.push_str(rest);
    }
    let decoded = decode_entities(&out);
    // At most one blank line in a row, no trailing spaces.
    let mut text = String::with_capacity(decoded.len());
    let mut blank = 0;
    for line in decoded.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim().to_owned()
}

/// The entities ammonia writes (it escapes `&`, `<`, `>`, `"`, `'` and keeps the rest as
/// characters), plus non-breaking spaces.
fn decode_entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace('\u{a0}', " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn markup_scripts_and_styles_go_text_and_lines_stay() {
        let html = "<html><head><style>p{color:red}</style><script>alert('x')</script></head>\
                    <body><p>Bună ziua,</p><p>am pierdut <b>pașaportul</b> &amp; buletinul.<br>Ana</p>\
                    <img src=x onerror=alert(1)><a href=\"javascript:alert(1)\">link</a></body></html>";
        let text = to_text(html);
        assert_eq!(
            text,
            "Bună ziua,\nam pierdut pașaportul & buletinul.\nAna\nlink"
        );
        assert!(!text.contains("alert"));
    }

    #[test]
    fn escaped_markup_stays_text() {
        assert_eq!(
            to_text("<p>&lt;script&gt;x&lt;/script&gt;</p>"),
            "<script>x</script>"
        );
    }
}
