"""FAQ answers: Markdown rendered to HTML that is safe to insert into a page.

Two libraries, two layers: markdown-it-py renders CommonMark (plus tables and
strikethrough) with raw HTML turned off, so ``<script>`` in the source comes out as
text; then nh3 (the Ammonia sanitizer) keeps only the tags and attributes Markdown
produces, links with ``http``, ``https`` or ``mailto`` only, every link with
``rel="noopener noreferrer nofollow"``. A ``javascript:`` link, an ``onerror``
attribute, a ``style`` (the pages' policy forbids inline styles) or a ``<style>``
block never survives either layer. Images are not kept:
an answer cannot make readers' browsers fetch from elsewhere.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

#: Tags the rendered answer may keep.
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
        "code", "pre", "blockquote", "ul", "ol", "li", "a",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
#: Attributes kept, by tag (``rel`` on links is set by nh3).
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def render_markdown(source: str) -> str:
    """Render *source* (Markdown) to sanitised HTML.

    Args:
        source: CommonMark text; raw HTML in it is shown as text, not rendered.

    Returns:
        An HTML fragment with only :data:`ALLOWED_TAGS`, safe to insert as is.
    """
    html = _renderer.render(source)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
