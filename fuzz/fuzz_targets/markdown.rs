//! User-written Markdown and remote HTML: rendering and sanitizing never panic, and what
//! comes out carries no script, no `javascript:` link and no event handler attribute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lyceum::content::{markdown_to_html, sanitize_html};

fuzz_target!(|data: &str| {
    check(data, &markdown_to_html(data));
    check(data, &sanitize_html(data));
});

fn check(input: &str, html: &str) {
    for (tag, attributes) in start_tags(html) {
        let tag = tag.to_ascii_lowercase();
        assert!(
            !matches!(
                tag.as_str(),
                "script" | "iframe" | "style" | "object" | "embed"
            ),
            "<{tag}> in {html:?} from {input:?}"
        );
        for (name, value) in attributes {
            let name = name.to_ascii_lowercase();
            assert!(
                !name.starts_with("on"),
                "handler {name} in {html:?} from {input:?}"
            );
            assert!(
                name != "style",
                "style attribute in {html:?} from {input:?}"
            );
            if matches!(
                name.as_str(),
                "href" | "src" | "action" | "formaction" | "xlink:href"
            ) {
                // What a browser's URL parser sees: the value unescaped, leading and
                // trailing controls and spaces trimmed, tabs and newlines anywhere removed,
                // the scheme in any case. (Other controls inside make it no scheme at all.)
                let url: String = value
                    .replace("&quot;", "\"")
                    .replace("&nbsp;", "\u{a0}")
                    .replace("&amp;", "&")
                    .trim_matches(|c: char| c <= ' ')
                    .chars()
                    .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                    .collect::<String>()
                    .to_ascii_lowercase();
                assert!(
                    !url.starts_with("javascript:")
                        && !url.starts_with("vbscript:")
                        && !url.starts_with("data:"),
                    "unsafe {name} in {html:?} from {input:?}"
                );
            }
        }
    }
    // Belt and braces over the whole text, case-insensitive.
    let lower = html.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "<script in {html:?} from {input:?}"
    );
}

/// The start tags of serialized HTML with their attributes. The serializer (html5ever's,
/// through ammonia) escapes `<` in text as `&lt;`, quotes every attribute value with `"`
/// and escapes `"` inside it, and strips comments, so a small state machine reads it.
fn start_tags(html: &str) -> Vec<(&str, Vec<(&str, &str)>)> {
    let mut out = Vec::new();
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        if i < bytes.len() && bytes[i] == b'/' {
            // An end tag: no attributes.
            while i < bytes.len() && bytes[i] != b'>' {
                i += 1;
            }
            continue;
        }
        let name_start = i;
        while i < bytes.len() && !matches!(bytes[i], b'>' | b'/') && !bytes[i].is_ascii_whitespace()
        {
            i += 1;
        }
        let name = &html[name_start..i];
        let mut attributes = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == b'>' {
                break;
            }
            let attr_start = i;
            while i < bytes.len()
                && !matches!(bytes[i], b'=' | b'>')
                && !bytes[i].is_ascii_whitespace()
            {
                i += 1;
            }
            let attr = &html[attr_start..i];
            let mut value = "";
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                if i < bytes.len() && bytes[i] == b'"' {
                    i += 1;
                    let value_start = i;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += 1;
                    }
                    value = &html[value_start..i];
                    i += 1;
                } else {
                    let value_start = i;
                    while i < bytes.len() && bytes[i] != b'>' && !bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    value = &html[value_start..i];
                }
            }
            attributes.push((attr, value));
        }
        out.push((name, attributes));
    }
    out
}
