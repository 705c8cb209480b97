"""MkDocs hooks of the mdplab site (registered in ``mkdocs.yml``).

* ``on_files``: publishes the committed figures of ``figures/<claim id>/*.png`` (written by
  ``make report``) under ``figures/`` in the site, so pages can show them without a copy in
  ``docs/``.
* ``on_files`` also turns every tutorial ``tutorials/*.py`` (jupytext "percent" format) and
  its solutions ``tutorials/solutions/*.py`` into pages ``tutorials/<name>.md``: markdown
  cells become text, code cells become Python blocks, and a figure saved by a cell
  (``save_figure(fig, FIGURES / "name")``) is shown after it from ``docs/tutorials/img/``
  (made by running the tutorials with ``MDPLAB_TUTORIAL_FIGURES=docs/tutorials/img``).
* ``on_page_markdown``: fills the ``<!-- gallery -->`` marker of ``gallery.md`` with every
  figure, grouped by the claim that made it, with the claim's title, verdict-independent
  statement and citation from the registry. The gallery therefore always matches ``figures/``
  (``tests/test_docs.py`` checks that every PNG appears).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
TUTORIALS = ROOT / "tutorials"
TUTORIAL_IMAGES = ROOT / "docs" / "tutorials" / "img"
MARKER = "<!-- gallery -->"
_SAVED = re.compile(r"save_figure\(\s*fig\s*,\s*FIGURES\s*/\s*[\"']([^\"']+)[\"']")


def tutorial_sources() -> list[Path]:
    """The tutorials and their solutions, in order."""
    return sorted(TUTORIALS.glob("*.py")) + sorted((TUTORIALS / "solutions").glob("*.py"))


def percent_to_markdown(source: str, image_prefix: str = "img/") -> str:
    """A jupytext percent-format script as a markdown page (text cells, code blocks, images
    of the figures each code cell saves, when they exist in ``docs/tutorials/img``)."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            cells.append(("code", [line]))
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if not lines:
            continue
        if kind == "markdown":
            out.append("\n".join(ln[2:] if ln.startswith("# ") else ln.lstrip("#")
                                 for ln in lines))
        else:
            code = "\n".join(lines)
            out.append(f"```python\n{code}\n```")
            for name in _SAVED.findall(code):
                if (TUTORIAL_IMAGES / f"{name}.png").exists():
                    out.append(f"![{name}]({image_prefix}{name}.png)")
    return "\n\n".join(out) + "\n"


def figure_files() -> list[Path]:
    """Every PNG under ``figures/<claim id>/``, sorted."""
    return sorted(FIGURES.glob("*/*.png"))


def gallery_markdown() -> str:
    """Markdown for the gallery: one section per claim with figures, in claim-id order."""
    from mdplab.claims import registry

    claims = {c.id: c for c in registry()}
    by_claim: dict[str, list[Path]] = {}
    for png in figure_files():
        by_claim.setdefault(png.parent.name, []).append(png)
    lines = []
    for cid in sorted(by_claim):
        claim = claims.get(cid)
        if claim is not None:
            title = claim.title
        elif cid == "examples":
            title = "Figures of the example scripts in `examples/` (not claims)"
        else:
            title = "(no registered claim of this id)"
        lines += [f"## `{cid}`", "", f"**{title}**", ""]
        if claim is not None:
            lines += [f"*{claim.citation}*", "", f"Module: `{claim.module}`.", ""]
        for png in by_claim[cid]:
            rel = png.relative_to(ROOT).as_posix()
            lines += [f"[![{cid}: {png.stem}]({rel})]({rel})", ""]
    return "\n".join(lines)


def on_files(files, config):
    from mkdocs.structure.files import File

    for src in tutorial_sources():
        solution = src.parent.name == "solutions"
        uri = f"tutorials/{'solutions/' if solution else ''}{src.stem}.md"
        rel = src.relative_to(ROOT).as_posix()
        note = (f"*This page is generated from `{rel}` in the repository: run it with "
                f"`python {rel}` (or open it as a notebook with jupytext); the test suite "
                f"runs it too.*\n")
        body = percent_to_markdown(src.read_text(encoding="utf-8"),
                                   image_prefix="../img/" if solution else "img/")
        files.append(File.generated(config, uri, content=body + "\n" + note))
    for png in figure_files():
        files.append(File(png.relative_to(ROOT).as_posix(), src_dir=str(ROOT),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "gallery.md" and MARKER in markdown:
        return markdown.replace(MARKER, gallery_markdown())
    return markdown


_RST_MATH = re.compile(r":math:<code>(.*?)</code>", re.S)


def on_page_content(html, page, config, files):
    """Docstrings use the reStructuredText role ``:math:`x```; mkdocstrings renders it as
    ``:math:<code>x</code>``. Turn it into inline MathJax, as the rest of the site writes it."""
    if ":math:<code>" not in html:
        return html
    return _RST_MATH.sub(lambda m: f'<span class="arithmatex">\\({m.group(1)}\\)</span>', html)
