//! User-written text: Markdown to HTML (pulldown-cmark), then sanitized (ammonia).
//!
//! Every stored HTML field goes through [`sanitize_html`], local Markdown and remote HTML
//! alike, so pages and federated JSON never carry scripts, event handlers or unsafe links.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser};

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .link_rel(Some("nofollow ugc noopener"))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .add_generic_attributes(["lang"])
        .add_tag_attributes("code", ["class"])
        .add_tag_attributes("span", ["class"]);
    builder
});

/// Renders Markdown (CommonMark with tables, strikethrough and task lists) to safe HTML.
/// Raw HTML in the Markdown is sanitized like everything else, not passed through.
pub fn markdown_to_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let parser = Parser::new_ext(markdown, options);
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, parser);
    sanitize_html(&html)
}

/// Removes everything unsafe from HTML: scripts, styles, event handlers, `javascript:`
/// links; links get `rel="nofollow ugc noopener"`.
pub fn sanitize_html(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

pub const TAG_MAX_CHARS: usize = 30;

/// Normalizes a tag as people type it (`#Rust Async` -> `rust-async`) and checks the result
/// is lower-case `[a-z0-9-]`, 1-30 characters. `Err` carries the tag as given.
pub fn normalize_tag(raw: &str) -> Result<String, String> {
    let tag: String = raw
        .trim()
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '_' {
                '-'
            } else {
                c
            }
        })
        .collect();
    let valid = !tag.is_empty()
        && tag.chars().count() <= TAG_MAX_CHARS
        && tag
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !tag.starts_with('-')
        && !tag.ends_with('-');
    if valid { Ok(tag) } else { Err(raw.to_owned()) }
}

/// The `@name@domain` (person) and `!name@domain` (community) mentions in a text, in order
/// of first appearance, lower-cased and without repeats.
pub fn find_mentions(text: &str) -> Vec<crate::db::mention::MentionTarget> {
    use crate::db::mention::MentionTarget;
    use crate::db::types::MentionKind;
    let mut found: Vec<MentionTarget> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let is_domain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    let mut i = 0;
    while i < chars.len() {
        let kind = match chars[i] {
            '@' => MentionKind::Person,
            '!' => MentionKind::Community,
            _ => {
                i += 1;
                continue;
            }
        };
        // A mention starts a word: not `a@b` inside an email address or `x!y`.
        if i > 0 && (is_name(chars[i - 1]) || chars[i - 1] == '@') {
            i += 1;
            continue;
        }
        let name_start = i + 1;
        let mut j = name_start;
        while j < chars.len() && is_name(chars[j]) {
            j += 1;
        }
        if j == name_start || j >= chars.len() || chars[j] != '@' {
            i = j.max(i + 1);
            continue;
        }
        let domain_start = j + 1;
        let mut k = domain_start;
        while k < chars.len() && is_domain(chars[k]) {
            k += 1;
        }
        // Sentence punctuation after a mention is not part of the domain.
        while k > domain_start && matches!(chars[k - 1], '.' | ':' | '-') {
            k -= 1;
        }
        let domain: String = chars[domain_start..k].iter().collect();
        if domain.contains('.') || domain.starts_with("localhost") {
            let target = MentionTarget {
                kind,
                name: chars[name_start..j]
                    .iter()
                    .collect::<String>()
                    .to_lowercase(),
                domain: domain.to_lowercase(),
            };
            if !found.contains(&target) {
                found.push(target);
            }
        }
        i = k.max(i + 1);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::types::MentionKind;

    #[test]
    fn tags_are_normalized_or_refused() {
        assert_eq!(normalize_tag("Rust").as_deref(), Ok("rust"));
        assert_eq!(
            normalize_tag(" #Async Await ").as_deref(),
            Ok("async-await")
        );
        assert_eq!(normalize_tag("k8s_ops").as_deref(), Ok("k8s-ops"));
        for bad in ["", "c++", "ünïcode", "-lead", &"x".repeat(31)] {
            assert!(normalize_tag(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mentions_of_people_and_communities_are_found() {
        let found = find_mentions(
            "Ask @Alice@Learn.Acme.Example or post in !rust@lemmy.ml. Mail bob@example.org; @carol@localhost:8541 too, and @alice@learn.acme.example again",
        );
        let got: Vec<(MentionKind, &str, &str)> = found
            .iter()
            .map(|m| (m.kind, m.name.as_str(), m.domain.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (MentionKind::Person, "alice", "learn.acme.example"),
                (MentionKind::Community, "rust", "lemmy.ml"),
                (MentionKind::Person, "carol", "localhost:8541"),
            ]
        );
        assert!(find_mentions("no mentions, just @ and ! here").is_empty());
    }

    #[test]
    fn markdown_renders_common_formatting() {
        let html =
            markdown_to_html("**bold** and `code`\n\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(html.contains("<li>item</li>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        let html = markdown_to_html(
            "<script>alert(1)</script><img src=x onerror=alert(2)>\n\n[x](javascript:alert(3)) <a href=\"https://ok.example\" onclick=\"alert(4)\">ok</a>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://ok.example\""), "{html}");
        assert!(html.contains("rel=\"nofollow ugc noopener\""), "{html}");
    }

    #[test]
    fn remote_html_is_sanitized_too() {
        let html = sanitize_html(
            "<p style=\"x\" onmouseover=\"y\">hi<iframe src=\"https://e.example\"></iframe></p>",
        );
        assert_eq!(html, "<p>hi</p>");
    }
}
