"""A job's instructions, written in Markdown, as a page shows them."""

from collections.abc import MutableMapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

# CommonMark without raw HTML (shown as text) and with links checked (no javascript:).
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def _link_elsewhere(
    renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: MutableMapping[str, Any]
) -> str:
    """A link opens in a tab of its own: followed in the workbench's, it would leave the page
    and give the task back, with what was keyed."""
    tokens[index].attrSet("target", "_blank")
    tokens[index].attrSet("rel", "noopener noreferrer")
    rendered: str = renderer.renderToken(tokens, index, options, env)
    return rendered


_MARKDOWN.add_render_rule("link_open", _link_elsewhere)


def as_html(markdown: str) -> str:
    """The Markdown as HTML; any HTML in it is escaped, never run."""
    html: str = _MARKDOWN.render(markdown)
    return html
