"""Notes as Markdown, rendered safe: no raw HTML, no images, links only to http(s) and mailto.

    render_markdown("**baseline**; see [the paper](https://arxiv.org/abs/1)")
"""

from __future__ import annotations

import functools
import re

from markdown_it import MarkdownIt

MAX_NOTE_CHARS = 20_000
_SAFE_LINK = re.compile(r"(?:https?://|mailto:)[^\s\x00-\x1f]*", re.IGNORECASE)


def _validate_link(url: str) -> bool:
    return bool(_SAFE_LINK.fullmatch(url.strip()))


@functools.lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")  # an image would be a network request from an offline report
    md.validateLink = _validate_link  # type: ignore[method-assign]
    return md


def render_markdown(text: str) -> str:
    """Safe HTML for a note: raw HTML is shown as text, unsafe links as plain text."""
    if len(text) > MAX_NOTE_CHARS:
        text = text[:MAX_NOTE_CHARS] + "\n\n(note shortened)"
    html = _renderer().render(text)
    return html.replace("<a href=", '<a rel="noopener noreferrer" href=')
