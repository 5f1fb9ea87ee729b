"""A job's instructions, written in Markdown, as a page shows them."""

from collections.abc import MutableMapping, Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

# CommonMark without raw HTML (shown as text) and with links checked (no javascript:).
_MARKDOWN = MarkdownIt("commonmark", {"html": False})

# How many links the renderer is inside, kept as it goes: counting them again from the start
# at each image made the rendering quadratic in the images.
_LINKS_OPEN = "links_open"


def _link_elsewhere(
    renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: MutableMapping[str, Any]
) -> str:
    """A link opens in a tab of its own: followed in the workbench's, it would leave the page
    and give the task back, with what was keyed."""
    tokens[index].attrSet("target", "_blank")
    tokens[index].attrSet("rel", "noopener noreferrer")
    env[_LINKS_OPEN] = env.get(_LINKS_OPEN, 0) + 1
    rendered: str = renderer.renderToken(tokens, index, options, env)
    return rendered


def _link_closed(
    renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: MutableMapping[str, Any]
) -> str:
    """The link ends: an image after it is a link of its own again."""
    env[_LINKS_OPEN] -= 1
    rendered: str = renderer.renderToken(tokens, index, options, env)
    return rendered


def _image_as_link(
    renderer: Any, tokens: Sequence[Token], index: int, options: Any, env: MutableMapping[str, Any]
) -> str:
    """An image from an address is a link to it (its text, or its address, then "(image)"),
    which opens in a tab of its own: the page's policy loads images from intake alone, so
    shown it would be broken. One written into the instructions (a data: address) is shown.
    Inside a link, the image is that link's text."""
    image = tokens[index]
    address = str(image.attrGet("src") or "")
    if address.startswith("data:"):
        shown: str = renderer.image(tokens, index, options, env)
        return shown
    text = renderer.renderInlineAsText(image.children, options, env) or address
    named = f"{escapeHtml(text)} (image)"
    if env.get(_LINKS_OPEN, 0):
        return named
    return f'<a href="{escapeHtml(address)}" target="_blank" rel="noopener noreferrer">{named}</a>'


_MARKDOWN.add_render_rule("link_open", _link_elsewhere)
_MARKDOWN.add_render_rule("link_close", _link_closed)
_MARKDOWN.add_render_rule("image", _image_as_link)


def as_html(markdown: str) -> str:
    """The Markdown as HTML; any HTML in it is escaped, never run."""
    html: str = _MARKDOWN.render(markdown)
    return html
