"""Rendering user and model text safely: Markdown without raw HTML, then sanitised."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# "commonmark" with html off: raw HTML in comments or model replies is shown as text.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable("table")

_ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "del",
}


# Comments are never edited, so their HTML can be cached: the task page and the live feed
# render the same texts again and again (500 comments: 215 ms per page uncached, the
# Markdown parser being 85 % of it). Long texts are rendered each time to bound memory
# (at most ~4096 x 8 KB of source per process).
_CACHE_MAX_SOURCE = 8 * 1024


def render_markdown(text: str) -> Markup:
    """Markdown to sanitised HTML; links get rel=noopener noreferrer nofollow."""
    text = text or ""
    if len(text) <= _CACHE_MAX_SOURCE:
        return Markup(_render_cached(text))
    return Markup(_render(text))


@functools.lru_cache(maxsize=4096)
def _render_cached(text: str) -> str:
    return _render(text)


def _render(text: str) -> str:
    html = _md.render(text)
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return clean


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def pretty_json(value: Any) -> str:
    """Indented JSON for display (e.g. the run log's request): non-ASCII text stays readable
    (`sk-…a1b2`, Cyrillic prompts) instead of `\\u2026` escapes. Returns plain text, so the
    template's autoescaping makes it safe HTML."""
    return json.dumps(value, indent=2, ensure_ascii=False)
