"""The tiny markup of education pages, rendered safely.

Blank lines separate paragraphs, "- " starts a bullet and "## " a heading.
Everything else is text: it is escaped, so no HTML or script gets through.
"""

# Kept over Markdown + nh3: staff write only these forms, and escaping all is stricter than allow-then-strip.

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def render(text: str, heading_level: int = 2) -> SafeString:
    html: list[str] = []
    bullets: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{escape(' '.join(paragraph))}</p>")
            paragraph.clear()
        if bullets:
            html.append("<ul>" + "".join(f"<li>{escape(item)}</li>" for item in bullets) + "</ul>")
            bullets.clear()

    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            html.append(f"<h{heading_level}>{escape(line[3:].strip())}</h{heading_level}>")
        elif line.startswith("- "):
            if paragraph:
                flush()
            bullets.append(line[2:].strip())
        else:
            if bullets:
                flush()
            paragraph.append(line)
    flush()
    return mark_safe("\n".join(html))  # noqa: S308 - every piece of text above is escaped


def plain_text(text: str) -> str:
    """The words only, for reading-level checks."""
    lines = (line.strip().removeprefix("## ").removeprefix("- ") for line in text.splitlines())
    return "\n".join(line for line in lines if line)
