"""MkDocs hook: a results page ends with its run's own summary.

``docs/results/<name>/index.md`` is written by hand (how the run was made, how to read it);
``docs/results/<name>/run/`` is what ``scripts/publish-results`` copied from the run: its
``summary.md`` (``rs3l summary``, the workflow's rule ``summary``) and the figures it shows. The
summary is appended to the page as it was written, one heading level down (the page has its own
title), with its links made relative to the page and its ``<details>`` blocks (the cut-flows)
marked to hold Markdown, as GitHub reads them; so its tables are never pasted by hand.
A results page without its run's summary fails the build.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.exceptions import PluginError

PAGE = re.compile(r"^results/([^/]+)/index\.md$")
#: a Markdown link or image target relative to the summary (not a URL, an anchor or absolute)
RELATIVE_LINK = re.compile(r"(\]\()(?![a-z]+:|#|/)")


def on_page_markdown(markdown, page, config, files):
    match = PAGE.match(page.file.src_uri)
    if not match:
        return markdown
    summary = Path(config.docs_dir) / "results" / match[1] / "run" / "summary.md"
    if not summary.is_file():
        raise PluginError(f"{page.file.src_uri}: its run's summary {summary} is missing "
                          f"(scripts/publish-results RUN_DIR --name {match[1]} writes it)")
    return markdown.rstrip() + "\n\n" + "\n".join(as_part(summary.read_text(), "run/")) + "\n"


def as_part(text: str, folder: str) -> list[str]:
    """``text`` one heading level down, its relative links prefixed with ``folder``, the
    Markdown inside its ``<details>`` read as Markdown (md_in_html)."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            line = "#" + line if re.match(r"^#{1,5} ", line) else line
            line = RELATIVE_LINK.sub(rf"\g<1>{folder}", line)
            line = line.replace("<details>", '<details markdown="1">')
        out.append(line)
    return out
