"""Every tutorial and every solution in tutorials/ runs, makes its figures, and renders as a
docs page (docs/hooks.py); the figures shown in the docs are the ones the tutorials make."""

import importlib.util
import re
import runpy
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.py"))
SOLUTIONS = sorted((ROOT / "tutorials" / "solutions").glob("*.py"))
SAVED = re.compile(r"save_figure\(\s*fig\s*,\s*FIGURES\s*/\s*[\"']([^\"']+)[\"']")


def _hooks():
    spec = importlib.util.spec_from_file_location("mdplab_docs_hooks", ROOT / "docs" / "hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_tutorials_with_solutions():
    assert len(TUTORIALS) >= 3
    assert [p.name for p in SOLUTIONS] == [p.name for p in TUTORIALS]


@pytest.mark.parametrize("path", TUTORIALS + SOLUTIONS,
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_tutorial_runs_and_makes_its_figures(path, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MDPLAB_TUTORIAL_FIGURES", str(tmp_path / "figs"))
    runpy.run_path(str(path), run_name="__main__")
    for name in SAVED.findall(path.read_text(encoding="utf-8")):
        assert (tmp_path / "figs" / f"{name}.png").exists(), f"{path.name} did not make {name}"
        assert (tmp_path / "figs" / f"{name}.pdf").exists()
        # the docs show a committed copy of every tutorial figure
        assert (ROOT / "docs" / "tutorials" / "img" / f"{name}.png").exists(), (
            f"docs/tutorials/img/{name}.png is missing: run the tutorials with "
            f"MDPLAB_TUTORIAL_FIGURES=docs/tutorials/img")


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_page_keeps_text_code_figures_and_exercises(path):
    source = path.read_text(encoding="utf-8")
    page = _hooks().percent_to_markdown(source)
    assert page.startswith("# Tutorial"), "a tutorial opens with its title"
    assert "## Exercises" in page and "Solutions:" in page
    assert page.count("```python") == source.count("# %%\n") + source.startswith("import")
    for name in SAVED.findall(source):
        assert f"](img/{name}.png)" in page
