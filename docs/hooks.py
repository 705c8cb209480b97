"""MkDocs hooks of the mdplab site (registered in ``mkdocs.yml``).

* ``on_files``: publishes the committed figures of ``figures/<claim id>/*.png`` (written by
  ``make report``) under ``figures/`` in the site, so pages can show them without a copy in
  ``docs/``.
* ``on_page_markdown``: fills the ``<!-- gallery -->`` marker of ``gallery.md`` with every
  figure, grouped by the claim that made it, with the claim's title, verdict-independent
  statement and citation from the registry. The gallery therefore always matches ``figures/``
  (``tests/test_docs.py`` checks that every PNG appears).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
MARKER = "<!-- gallery -->"


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

    for png in figure_files():
        files.append(File(png.relative_to(ROOT).as_posix(), src_dir=str(ROOT),
                          dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "gallery.md" and MARKER in markdown:
        return markdown.replace(MARKER, gallery_markdown())
    return markdown
