"""A job's instructions, written in Markdown, as a page shows them."""

from markdown_it import MarkdownIt

# CommonMark without raw HTML (shown as text) and with links checked (no javascript:).
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def as_html(markdown: str) -> str:
    """The Markdown as HTML; any HTML in it is escaped, never run."""
    html: str = _MARKDOWN.render(markdown)
    return html
