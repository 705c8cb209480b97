"""The documentation cannot rot: its code runs, its site builds, its front matter is valid.

* Every ```python block of ``docs/getting-started.md`` runs, in order, in one namespace, in a
  temporary working directory. A ```bash block runs too when each of its non-comment lines is an
  ``mdplab ...`` command: it is run in-process through the ``mdplab.cli:app`` entry point, in the
  same directory, and must exit with 0. Other shell blocks (installation) are not run.
* The ```python blocks of ``README.md``, ``docs/index.md`` and ``docs/solvers.md`` run (each
  page in its own namespace).
* ``examples/quickstart.py`` runs as a script.
* ``mkdocs build --strict`` succeeds (skipped when mkdocs is not installed next to Python).
* ``CITATION.cff`` has the structure of CFF 1.2.0; ``docs/api.md`` names every public object,
  with the code's signatures, and every qualified ``mdplab.x.y`` name it mentions exists (so a
  name removed from the code cannot linger on the page).
* The numbers ``docs/solvers.md`` and ``docs/design.md`` quote from the solver code (the budgets
  of ``method="auto"``, the dense-LU and parallel-kernel thresholds) are the code's.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import runpy
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def code_blocks(path: Path, languages=("python", "bash")) -> list[tuple[str, str, int]]:
    """``(language, code, line)`` of the fenced blocks of ``path`` in ``languages``; a block
    whose first line is ``# not run by the tests: <why>`` is skipped (a cluster, a GPU...)."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for m in FENCE.finditer(text):
        if m.group(2).startswith("# not run by the tests:"):
            continue
        if m.group(1) in languages:
            blocks.append((m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1))
    return blocks


def cli_commands(code: str) -> list[list[str]] | None:
    """The ``mdplab`` commands of a shell block, or None if it holds anything else."""
    lines = [ln.split("#", 1)[0].strip() for ln in code.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines or not all(ln.startswith("mdplab ") for ln in lines):
        return None
    return [shlex.split(ln) for ln in lines]


def run_python(code: str, namespace: dict, where: str) -> None:
    try:
        exec(compile(code, where, "exec"), namespace)
    except Exception as exc:  # name the block that broke
        raise AssertionError(f"{where} raised {type(exc).__name__}: {exc}") from exc


def run_cli(argv: list[str], where: str) -> None:
    """Run ``mdplab ARGS`` in this process (the ``mdplab.cli:app`` entry point)."""
    from typer.testing import CliRunner

    from mdplab.cli import app

    result = CliRunner().invoke(app, argv[1:])
    assert result.exit_code == 0, (
        f"{where}: `{shlex.join(argv)}` exited with {result.exit_code} "
        f"({result.exception!r})\n{result.output}"
    )


def test_getting_started_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = ROOT / "docs" / "getting-started.md"
    blocks = code_blocks(page)
    assert sum(lang == "python" for lang, _, _ in blocks) >= 8, "getting-started lost its code"
    namespace = {"__name__": "getting_started"}
    ran_cli = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the page must not warn by accident
        for lang, code, line in blocks:
            where = f"docs/getting-started.md:{line}"
            if lang == "python":
                run_python(code, namespace, where)
            else:
                for argv in cli_commands(code) or []:
                    run_cli(argv, where)
                    ran_cli += 1
    assert ran_cli >= 2
    assert (tmp_path / "report" / "index.md").is_file()


@pytest.mark.parametrize("page", ["README.md", "docs/index.md", "docs/solvers.md", "docs/bon.md",
                                  "docs/games.md", "docs/learn.md", "docs/sweep.md",
                                  "docs/proxies.md", "docs/offline.md",
                                  "docs/preference.md", "docs/adversarial.md", "docs/linear.md",
                                  "docs/verify-a-theorem.md"])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = code_blocks(ROOT / page, ("python",))
    assert blocks, f"{page} has no python example"
    namespace = {"__name__": "docs_page"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for _, code, line in blocks:
            run_python(code, namespace, f"{page}:{line}")


def test_readme_starts_with_make_report_and_make_test():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = FENCE.search(text)
    assert first_block is not None
    commands = [ln.split("#", 1)[0].strip() for ln in first_block.group(2).splitlines()]
    assert [c for c in commands if c] == ["make report", "make test"]
    assert text.index(first_block.group(0)) < text.index("\n## ")


def test_quickstart_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sols = runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="quickstart")[
        "main"
    ]()
    out = capsys.readouterr().out
    assert "J = " in out and "converged = True" in out
    assert all(sol.converged for sol in sols.values())


def test_mkdocs_build_strict(tmp_path):
    mkdocs = BIN / "mkdocs"
    if not mkdocs.exists():
        pytest.skip(f"mkdocs is not installed next to {sys.executable} (pip install -e .[dev])")
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "site" / "index.html").is_file()


def test_citation_cff_structure():
    yaml = pytest.importorskip("yaml", reason="PyYAML is installed with mkdocs ([dev] extra)")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    for key in ("cff-version", "message", "title", "authors", "version", "date-released",
                "license", "type", "keywords"):
        assert key in cff, f"CITATION.cff has no {key!r}"
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert cff["license"] == "BSD-3-Clause"
    assert isinstance(cff["authors"], list) and cff["authors"]
    for author in cff["authors"]:
        assert isinstance(author, dict) and ("name" in author or "family-names" in author)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(cff["date-released"]))
    assert isinstance(cff["keywords"], list) and all(isinstance(k, str) for k in cff["keywords"])
    import mdplab

    assert str(cff["version"]) == mdplab.__version__


def test_license_is_bsd3():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, the mdplab developers" in text


@pytest.mark.parametrize(
    "module",
    ["mdplab", "mdplab.solvers", "mdplab.solvers.lp", "mdplab.envs", "mdplab.claims",
     "mdplab.plot", "mdplab.report", "mdplab.bon", "mdplab.learn", "mdplab.learn.games",
     "mdplab.learn.preference", "mdplab.learn.demo", "mdplab.learn.demo_rlhf",
     "mdplab.learn.offline", "mdplab.learn.offline_linear", "mdplab.sweep",
     "mdplab.proxies", "mdplab.proxies.rewards", "mdplab.learn.linear", "mdplab.learn.adversarial",
     "mdplab.learn.adversarial_unknown",
     "mdplab.envs.linear"],
)
def test_api_page_lists_public_names(module):
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    mod = importlib.import_module(module)
    missing = [n for n in mod.__all__ if not re.search(rf"`(?:[\w.]+\.)?{re.escape(n)}\b", api)]
    assert not missing, f"docs/api.md does not document {module}: {missing}"


def _documented_signatures(api: str, name: str, module: str = "") -> list[str]:
    """Argument lists of the table rows that start with `` `name(...)` ``. A qualified row
    (`` `offline.name(...)` ``) applies only to the module whose dotted name ends with the
    qualifier, so two modules may document functions of the same name."""
    found = []
    for m in re.finditer(rf"^\| `([\w.]+\.)?{re.escape(name)}\(", api, re.MULTILINE):
        qualifier = (m.group(1) or "").rstrip(".")
        if qualifier and module and not ("." + module).endswith("." + qualifier):
            continue
        depth, i = 1, m.end()
        while depth and i < len(api) and api[i] != "`":
            depth += {"(": 1, ")": -1}.get(api[i], 0)
            i += 1
        if depth == 0:
            found.append(api[m.end():i - 1])
    return found


def _same_default(doc_default: ast.expr, actual) -> bool:
    try:
        value = ast.literal_eval(doc_default)
    except ValueError:
        return True  # an expression we do not interpret
    if isinstance(actual, Path):
        return str(actual) == str(value)
    return value == actual and type(value) is type(actual)


@pytest.mark.parametrize(
    "module",
    ["mdplab", "mdplab.solvers", "mdplab.solvers.lp", "mdplab.envs", "mdplab.claims",
     "mdplab.plot", "mdplab.report", "mdplab.bon", "mdplab.learn", "mdplab.learn.games",
     "mdplab.learn.preference", "mdplab.learn.demo", "mdplab.learn.demo_rlhf",
     "mdplab.learn.offline", "mdplab.learn.offline_linear", "mdplab.sweep",
     "mdplab.proxies", "mdplab.proxies.rewards", "mdplab.learn.linear", "mdplab.learn.adversarial",
     "mdplab.learn.adversarial_unknown",
     "mdplab.envs.linear"],
)
def test_api_page_signatures_match_the_code(module):
    """Parameter names, kinds and literal defaults written on docs/api.md are the code's."""
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    mod = importlib.import_module(module)
    problems = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if not callable(obj):
            continue
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        for written in _documented_signatures(api, name, module):
            if "..." in written:
                continue  # abbreviated on purpose
            try:
                doc = ast.parse(f"def f({written}): pass").body[0].args
            except SyntaxError:
                problems.append(f"{name}({written}): not a valid signature")
                continue
            positional = [a.arg for a in doc.posonlyargs + doc.args]
            kwonly = [a.arg for a in doc.kwonlyargs]
            params = list(sig.parameters.values())
            P = inspect.Parameter
            code_pos = [p.name for p in params if p.kind in (P.POSITIONAL_ONLY,
                                                             P.POSITIONAL_OR_KEYWORD)]
            code_kw = [p.name for p in params if p.kind is P.KEYWORD_ONLY]
            if positional != code_pos or kwonly != code_kw:
                problems.append(f"{name}({written}) vs code {sig}")
                continue
            defaults = dict(zip(positional[len(positional) - len(doc.defaults):], doc.defaults,
                                strict=True))
            defaults.update({a.arg: d for a, d in zip(doc.kwonlyargs, doc.kw_defaults,
                                                      strict=True) if d is not None})
            for pname, node in defaults.items():
                actual = sig.parameters[pname].default
                if actual is P.empty or not _same_default(node, actual):
                    problems.append(f"{name}: default of {pname} is {actual!r} in the code")
    assert not problems, "docs/api.md is out of date:\n" + "\n".join(problems)


QUALIFIED = re.compile(r"`(mdplab(?:\.\w+)+)")


def _resolve(dotted: str):
    """Import the longest module prefix of ``dotted`` and getattr the rest."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_api_page_qualified_names_exist():
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = []
    for name in sorted(set(QUALIFIED.findall(api))):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"docs/api.md names objects the code does not have: {missing}"


def test_api_page_documents_only_exported_solvers():
    """The DP methods behind ``solve(method=...)`` are private; the API page must not list them."""
    import mdplab.solvers

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for name in ("value_iteration", "policy_iteration", "modified_policy_iteration",
                 "backward_induction"):
        assert name not in mdplab.solvers.__all__
        assert not re.search(rf"`(?:[\w.]+\.)?{name}\(", api), f"docs/api.md still lists {name}"


def test_solver_numbers_quoted_in_docs_are_the_code(monkeypatch):
    import mdplab as ml
    from mdplab.solvers import _kernels, dp

    evaluate = importlib.import_module("mdplab.solvers.evaluate")  # the module, not the function

    solvers = (ROOT / "docs" / "solvers.md").read_text(encoding="utf-8")
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    flat = " ".join(solvers.split())  # line breaks do not matter
    problems = []

    # the first phase of method="auto": record the max_iter it is given, on a slow chain
    budgets = {}
    for fn_name in ("modified_policy_iteration", "value_iteration"):
        original = getattr(dp, fn_name)

        def spy(op, tol, max_iter, *args, _original=original, _name=fn_name, **kwargs):
            budgets.setdefault(_name, max_iter)
            return _original(op, tol, max_iter, *args, **kwargs)

        monkeypatch.setattr(dp, fn_name, spy)
    slow = ml.envs.chain(400, gamma=0.999, slip=0.3, sparse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hard, soft = ml.solve(slow), ml.solve(slow, beta=0.1)
    assert hard.method == "auto (mpi, then pi)" and soft.method == "auto (vi, then pi)"
    if f"at most {budgets['modified_policy_iteration']} improvements" not in flat:
        problems.append(f"auto's MPI budget is {budgets['modified_policy_iteration']}")
    if f"at most {budgets['value_iteration']} sweeps" not in flat:
        problems.append(f"auto's VI budget is {budgets['value_iteration']}")
    warm = inspect.signature(dp._auto).parameters["warm_pairs"].default
    if f"up to {warm} pairs" not in flat:
        problems.append(f"auto's Gauss-Seidel warm-up is up to {warm} pairs")

    dense_limit = f"{evaluate.DENSE_LIMIT} states"
    parallel = f"{_kernels.PARALLEL_MIN_WORK:,} entries"
    for page, text in (("solvers", flat), ("design", " ".join(design.split()))):
        if dense_limit not in text:
            problems.append(f"docs/{page}.md: dense LU is used up to {dense_limit}")
        if parallel not in text:
            problems.append(f"docs/{page}.md: kernels run serially below {parallel}")
    assert not problems, "docs quote numbers the code no longer has:\n" + "\n".join(problems)


def test_claims_page_lists_every_registered_claim():
    """Every registered claim has a row on docs/claims.md, and every row is a registered claim."""
    from mdplab.claims import registry

    page = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `([a-z0-9-]+)` \| `\w+\.py` \|", page, re.MULTILINE))
    ids = {c.id for c in registry()}
    assert ids - rows == set(), f"docs/claims.md lacks rows for {sorted(ids - rows)}"
    assert rows - ids == set(), f"docs/claims.md lists unregistered claims {sorted(rows - ids)}"


def test_gallery_shows_every_committed_figure_with_its_claim():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mdplab_docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    pngs = sorted((ROOT / "figures").glob("*/*.png"))
    assert pngs, "figures/ holds no PNG: run make report"
    md = hooks.gallery_markdown()
    ids = {c.id for c in registry_ids()}
    for png in pngs:
        assert f"({png.relative_to(ROOT).as_posix()})" in md, f"{png} is missing from the gallery"
        assert png.parent.name in ids | {"examples"}, (
            f"figures/{png.parent.name} belongs to no registered claim")
    assert "<!-- gallery -->" in (ROOT / "docs" / "gallery.md").read_text(encoding="utf-8")


def registry_ids():
    from mdplab.claims import registry

    return registry()


def test_cite_page_matches_citation_cff():
    yaml = pytest.importorskip("yaml", reason="PyYAML is installed with mkdocs ([dev] extra)")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    for page in (ROOT / "docs" / "cite.md", ROOT / "README.md"):
        text = page.read_text(encoding="utf-8")
        assert f"title   = {{{cff['title']}}}" in text, f"{page.name}: BibTeX title != CITATION.cff"
        assert f"version = {{{cff['version']}}}" in text, f"{page.name}: version != CITATION.cff"


def test_docs_have_no_control_characters():
    """A LaTeX backslash written into a Python string (\\v, \\r, \\f, \\b) ends up in a page as a
    control character and breaks its math; this happened once in docs/api.md."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        bad = [c for c in set(text) if ord(c) < 32 and c not in "\n\t"]
        assert not bad, f"{page.relative_to(ROOT)} contains control characters {bad!r}"
