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

#[cfg(test)]
mod tests {
    use super::*;

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
