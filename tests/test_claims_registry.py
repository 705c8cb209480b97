"""Tests of the claims registry: registration, discovery, deterministic seeding, run_claim."""

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from mdplab import claims
from mdplab.claims import Claim, ClaimResult, _registry

META = {
    "title": "A test claim",
    "citation": "Doe and Roe (2024), arXiv:2401.00000, Theorem 1",
    "statement": r"For all $x$, $x^2 \ge 0$.",
    "budget_seconds": 5,
}


@pytest.fixture
def isolated():
    """An empty registry for the duration of a test (the real one is restored after)."""
    with _registry._isolated() as reg:
        yield reg


def _ok(quick, rng, out):
    return ClaimResult(passed=True, table=pd.DataFrame({"x": [rng.random()]}),
                       summary="fine", key_numbers={"x": 1})


# ---------------------------------------------------------------------- registration


def test_register_get_and_registry_sorted(isolated):
    claims.register(id="b-claim", **META)(_ok)
    fn = claims.register(id="a-claim", **META)(_ok)
    assert fn is _ok
    assert [c.id for c in claims.registry()] == ["a-claim", "b-claim"]
    c = claims.get("a-claim")
    assert isinstance(c, Claim)
    assert (c.title, c.citation, c.budget_seconds) == (META["title"], META["citation"], 5.0)
    assert c.check is _ok and c.module == __name__
    with pytest.raises(KeyError, match="known claims: a-claim, b-claim"):
        claims.get("c-claim")


def test_decorator_attaches_claim(isolated):
    @claims.register(id="attached", **META)
    def check(quick, rng, out):
        return None

    assert check.claim.id == "attached"


def test_duplicate_id_raises(isolated):
    claims.register(id="dup", **META)(_ok)

    def other(quick, rng, out):
        return None

    with pytest.raises(ValueError, match="registered twice"):
        claims.register(id="dup", **META)(other)


def test_reregistering_the_same_function_replaces(isolated):
    claims.register(id="same", **META)(_ok)
    claims.register(id="same", **{**META, "title": "New title"})(_ok)
    assert claims.get("same").title == "New title"


@pytest.mark.parametrize("bad", ["", "has space", "../up", "a/b", "-lead", 3])
def test_bad_ids_raise(isolated, bad):
    with pytest.raises(ValueError, match="not a valid claim id"):
        claims.register(id=bad, **META)


@pytest.mark.parametrize(
    ("field", "value", "exc"),
    [("title", "  ", ValueError), ("citation", None, ValueError),
     ("budget_seconds", 0, ValueError), ("budget_seconds", "60", TypeError)],
)
def test_bad_metadata_raises(isolated, field, value, exc):
    with pytest.raises(exc, match=field):
        claims.register(id="x", **{**META, field: value})


def test_check_must_accept_quick_rng_out(isolated):
    def two_args(quick, rng):
        return None

    with pytest.raises(TypeError, match=r"\(quick, rng, out\)"):
        claims.register(id="x", **META)(two_args)


def test_unregister(isolated):
    claims.register(id="gone", **META)(_ok)
    claims.unregister("gone")
    assert claims.registry() == []
    with pytest.raises(KeyError):
        claims.unregister("gone")


def test_isolation_restores_registry():
    before = dict(_registry._CLAIMS)
    with _registry._isolated():
        claims.register(id="temporary-claim", **META)(_ok)
    assert _registry._CLAIMS == before


# ---------------------------------------------------------------------- ClaimResult


def test_claim_result_coerces_and_validates(tmp_path):
    r = ClaimResult(passed=np.bool_(True), table=pd.DataFrame(), figures=[str(tmp_path / "f")],
                    summary="s", key_numbers={"a": np.float64(1.5), "b": 2})
    assert r.passed is True
    assert r.figures == [tmp_path / "f"]
    assert r.key_numbers == {"a": 1.5, "b": 2.0}
    assert all(type(v) is float for v in r.key_numbers.values())
    with pytest.raises(TypeError, match="passed"):
        ClaimResult(passed=1, table=pd.DataFrame())
    with pytest.raises(TypeError, match="table"):
        ClaimResult(passed=True, table=[1, 2])
    with pytest.raises(TypeError, match="key_numbers"):
        ClaimResult(passed=True, table=pd.DataFrame(), key_numbers={"a": "many"})
    with pytest.raises(TypeError, match="single path"):
        ClaimResult(passed=True, table=pd.DataFrame(), figures="fig.png")


# ---------------------------------------------------------------------- seeding


def test_claim_rng_depends_on_seed_and_id_only():
    a = claims.claim_rng("soft-bellman", 0).random(4)
    assert np.array_equal(a, claims.claim_rng("soft-bellman", 0).random(4))
    assert not np.array_equal(a, claims.claim_rng("soft-bellman", 1).random(4))
    assert not np.array_equal(a, claims.claim_rng("soft-bellman-2", 0).random(4))
    with pytest.raises(ValueError, match="seed"):
        claims.claim_rng("x", -1)


def test_claim_rng_is_stable_across_versions():
    # pinned: SeedSequence([0, sha256("soft-bellman")[:8]]) -> PCG64; guards the seeding story
    value = claims.claim_rng("soft-bellman", 0).integers(0, 2**31)
    expected = np.random.default_rng(
        np.random.SeedSequence([0, int.from_bytes(
            __import__("hashlib").sha256(b"soft-bellman").digest()[:8], "little")])
    ).integers(0, 2**31)
    assert value == expected


# ---------------------------------------------------------------------- run_claim


def test_run_claim_pass(isolated, tmp_path):
    seen = {}

    @claims.register(id="passes", **META)
    def check(quick, rng, out):
        seen.update(quick=quick, rng=rng, out=out)
        return _ok(quick, rng, out)

    run = claims.run_claim(claims.get("passes"), quick=True, seed=3, out=tmp_path / "o")
    assert run.passed and run.error is None
    assert run.seconds >= 0 and run.quick and run.seed == 3 and run.mode == "quick"
    assert seen["quick"] is True and seen["out"] == tmp_path / "o" and seen["out"].is_dir()
    expected = claims.claim_rng("passes", 3).random()
    assert run.result.table["x"].iloc[0] == expected


def test_run_claim_failed_verdict_is_not_an_error(isolated, tmp_path):
    @claims.register(id="fails", **META)
    def check(quick, rng, out):
        return ClaimResult(passed=False, table=pd.DataFrame(), summary="off by 2")

    run = claims.run_claim(claims.get("fails"), False, 0, tmp_path)
    assert not run.passed and run.error is None and run.result.summary == "off by 2"


def test_run_claim_exception_is_a_failure_with_traceback(isolated, tmp_path):
    @claims.register(id="raises", **META)
    def check(quick, rng, out):
        raise ZeroDivisionError("no luck")

    run = claims.run_claim(claims.get("raises"), True, 0, tmp_path)
    assert not run.passed
    assert run.result.summary.startswith("check raised ZeroDivisionError: no luck")
    assert "Traceback" in run.result.summary and "test_claims_registry.py" in run.error


def test_run_claim_invalid_return_is_a_failure(isolated, tmp_path):
    @claims.register(id="returns-dict", **META)
    def check(quick, rng, out):
        return {"passed": True}

    run = claims.run_claim(claims.get("returns-dict"), True, 0, tmp_path)
    assert not run.passed and "returned dict" in run.result.summary


def test_run_claim_missing_figure_is_a_failure(isolated, tmp_path):
    @claims.register(id="ghost-figure", **META)
    def check(quick, rng, out):
        return ClaimResult(passed=True, table=pd.DataFrame(), figures=[out / "nope.png"])

    run = claims.run_claim(claims.get("ghost-figure"), True, 0, tmp_path)
    assert not run.passed and "does not exist" in run.result.summary


def test_run_claim_copies_figures_written_elsewhere(isolated, tmp_path):
    elsewhere = tmp_path / "elsewhere.png"
    elsewhere.write_bytes(b"png")

    @claims.register(id="figure-elsewhere", **META)
    def check(quick, rng, out):
        inside = out / "inside.pdf"
        inside.write_bytes(b"%PDF")
        return ClaimResult(passed=True, table=pd.DataFrame(), figures=[inside, elsewhere])

    out = tmp_path / "out"
    run = claims.run_claim(claims.get("figure-elsewhere"), True, 0, out)
    assert run.passed
    assert run.result.figures == [out / "inside.pdf", out / "elsewhere.png"]
    assert (out / "elsewhere.png").read_bytes() == b"png"


def test_keyboard_interrupt_propagates(isolated, tmp_path):
    @claims.register(id="interrupted", **META)
    def check(quick, rng, out):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        claims.run_claim(claims.get("interrupted"), True, 0, tmp_path)


# ---------------------------------------------------------------------- discovery


def test_discovery_imports_public_modules_and_reports_broken_ones(tmp_path, monkeypatch):
    pkg = tmp_path / "fake_claims_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(textwrap.dedent(f"""
        import pandas as pd
        from mdplab.claims import ClaimResult, register

        @register(id="discovered", **{META!r})
        def check(quick, rng, out):
            return ClaimResult(passed=True, table=pd.DataFrame())
    """))
    (pkg / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    (pkg / "broken.py").write_text("import this_module_does_not_exist_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with _registry._isolated(discovered=True) as reg:
            _registry._discover("fake_claims_pkg")
            _registry._discover("fake_claims_pkg")  # only once
            assert sorted(reg) == ["discovered", "import-error.broken"]
            broken = reg["import-error.broken"]
            run = claims.run_claim(broken, True, 0, tmp_path / "o")
            assert not run.passed
            assert "this_module_does_not_exist_anywhere" in run.result.summary
            assert "fake_claims_pkg._private" not in sys.modules
    finally:
        for name in [m for m in sys.modules if m.startswith("fake_claims_pkg")]:
            del sys.modules[name]


def test_real_registry_has_unique_sorted_ids():
    found = claims.registry()
    ids = [c.id for c in found]
    assert ids == sorted(set(ids))
    assert all(isinstance(c, Claim) and c.citation and c.statement for c in found)
