r"""The claims registry: what a claim is, how it is registered, found and run.

A *claim* is a checkable statement from a paper (design page, section 4). It carries an ``id``,
a ``title``, a ``citation`` (authors, arXiv id, theorem/equation), a ``statement`` (one
paragraph, LaTeX allowed) and a ``check`` function

.. code-block:: python

    check(quick: bool, rng: numpy.random.Generator, out: pathlib.Path) -> ClaimResult

which compares what the paper says with what mdplab computes on concrete instances, under an
explicit tolerance or a fitted-slope criterion. ``quick=True`` runs in seconds (tests);
``quick=False`` is the full experiment (``make report``), expected to finish within
``budget_seconds``. ``out`` is an existing directory where the check writes its figures (an
addition to the design page's ``check(quick, rng)``, so that figures land in the report folder).

Claims are registered with the :func:`register` decorator in modules of the
:mod:`mdplab.claims` package (one module per paper or topic). :func:`registry` imports every
module of the package whose name does not start with an underscore the first time it is called
and returns the claims sorted by id. A module that fails to import is not skipped: it appears as
a claim ``import-error.<module>`` whose check fails with the import traceback.

:func:`run_claim` runs one check with a generator derived from ``(seed, claim id)`` only
(:func:`claim_rng`: a ``SeedSequence`` keyed by a SHA-256 of the id), so a claim's randomness
does not depend on which other claims run or in what order. An exception raised by a check, a
malformed result, or a figure that does not exist makes a *failed* claim whose summary holds the
traceback -- never a skipped one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import math
import pkgutil
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import PeakMemory

__all__ = [
    "Claim",
    "ClaimResult",
    "ClaimRun",
    "claim_rng",
    "get",
    "register",
    "registry",
    "run_claim",
    "source_hash",
    "unregister",
]

#: Package searched for claim modules by :func:`registry`.
CLAIMS_PACKAGE = "mdplab.claims"

_ID_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")

CheckFn = Callable[[bool, np.random.Generator, Path], "ClaimResult"]


# ---------------------------------------------------------------------- data types


@dataclass(frozen=True)
class ClaimResult:
    """What a check returns.

    Attributes
    ----------
    passed : bool
        The claim holds on the instances checked, within the stated tolerance.
    table : pandas.DataFrame
        The numbers behind the verdict (tidy: one row per instance / parameter value).
    figures : list[pathlib.Path]
        Figure files written by the check (normally under its ``out`` directory; both the PDF
        and the PNG that :func:`mdplab.plot.save_figure` returns).
    summary : str
        One or two sentences: what was compared and how it came out.
    key_numbers : dict[str, float]
        A few headline numbers for the report's summary table (e.g. a fitted slope, a maximum
        error), by name.
    """

    passed: bool
    table: pd.DataFrame
    figures: list[Path] = field(default_factory=list)
    summary: str = ""
    key_numbers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        set_ = object.__setattr__
        if not isinstance(self.passed, (bool, np.bool_)):
            raise TypeError(f"passed: expected a bool, got {type(self.passed).__name__}")
        set_(self, "passed", bool(self.passed))
        if not isinstance(self.table, pd.DataFrame):
            raise TypeError(f"table: expected a pandas DataFrame, got {type(self.table).__name__}")
        if isinstance(self.figures, (str, Path)):
            raise TypeError("figures: expected a list of paths, got a single path")
        set_(self, "figures", [Path(f) for f in self.figures])
        if not isinstance(self.summary, str):
            raise TypeError(f"summary: expected a str, got {type(self.summary).__name__}")
        if not isinstance(self.key_numbers, Mapping):
            raise TypeError(
                f"key_numbers: expected a dict of floats, got {type(self.key_numbers).__name__}"
            )
        numbers = {}
        for k, v in self.key_numbers.items():
            try:
                numbers[str(k)] = float(v)
            except (TypeError, ValueError):
                raise TypeError(
                    f"key_numbers[{k!r}]: expected a number, got {type(v).__name__}"
                ) from None
        set_(self, "key_numbers", numbers)


@dataclass(frozen=True)
class Claim:
    """A registered claim (see the module docstring). Created by :func:`register`."""

    id: str
    title: str
    citation: str
    statement: str
    check: CheckFn = field(repr=False, compare=False)
    budget_seconds: float = 60.0
    module: str = ""


@dataclass(frozen=True)
class ClaimRun:
    """One execution of a claim's check by :func:`run_claim`.

    ``error`` is the traceback text when the check raised (or returned something invalid);
    the ``result`` is then a failed :class:`ClaimResult` whose summary contains it.
    """

    claim: Claim
    result: ClaimResult
    seconds: float
    quick: bool
    seed: int
    out: Path
    error: str | None = None
    peak_rss_mb: float | None = None  # peak resident memory of the process during the run

    @property
    def passed(self) -> bool:
        return self.error is None and self.result.passed

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


# ---------------------------------------------------------------------- registration

_CLAIMS: dict[str, Claim] = {}
_DISCOVERED: set[str] = set()


def _require_text(name: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"register: {name} must be a non-empty string, got {value!r}")
    return value.strip()


def _check_signature(fn) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return
    try:
        sig.bind(True, None, None)
    except TypeError:
        raise TypeError(
            f"register: {fn.__module__}.{getattr(fn, '__qualname__', fn)} has signature {sig}; "
            "a check must accept (quick, rng, out) -- see docs/claims.md"
        ) from None


def _add(claim: Claim) -> None:
    old = _CLAIMS.get(claim.id)
    if old is not None:
        same = old.module == claim.module and getattr(old.check, "__qualname__", None) == getattr(
            claim.check, "__qualname__", object()
        )
        if not same:  # re-importing the same module (importlib.reload) replaces quietly
            raise ValueError(
                f"claim id {claim.id!r} is registered twice: by {old.module} and by "
                f"{claim.module}; ids must be unique"
            )
    _CLAIMS[claim.id] = claim


def register(
    *,
    id: str,
    title: str,
    citation: str,
    statement: str,
    budget_seconds: float = 60.0,
) -> Callable[[CheckFn], CheckFn]:
    """Decorator registering ``check(quick, rng, out) -> ClaimResult`` as a claim.

    The function is returned unchanged (with the :class:`Claim` as its ``.claim`` attribute),
    so it can still be called directly in tests. ``id`` must be unique and file-name safe
    (letters, digits, ``-``, ``_``, ``.``; lower-case kebab-case by convention); registering an
    id twice raises ``ValueError``.

    Examples
    --------
    >>> import pandas as pd
    >>> from mdplab.claims import register, ClaimResult, unregister
    >>> @register(id="doc-example", title="1 + 1 = 2", citation="Peano (1889)",
    ...           statement="$1 + 1 = 2$.", budget_seconds=1)
    ... def check(quick, rng, out):
    ...     return ClaimResult(passed=1 + 1 == 2, table=pd.DataFrame({"sum": [2]}),
    ...                        figures=[], summary="1 + 1 = 2 exactly.")
    >>> check.claim.id
    'doc-example'
    >>> unregister("doc-example")
    """
    if not isinstance(id, str) or not _ID_RE.match(id) or ".." in id:
        raise ValueError(
            f"register: id {id!r} is not a valid claim id; use letters, digits, '-', '_' and "
            "'.' (e.g. 'soft-bellman-contraction')"
        )
    title = _require_text("title", title)
    citation = _require_text("citation", citation)
    statement = _require_text("statement", statement)
    if isinstance(budget_seconds, bool) or not isinstance(budget_seconds, (int, float)):
        raise TypeError(f"register: budget_seconds must be a number, got {budget_seconds!r}")
    if not (budget_seconds > 0 and math.isfinite(budget_seconds)):
        raise ValueError(f"register: budget_seconds = {budget_seconds!r} must be positive")

    def decorator(fn: CheckFn) -> CheckFn:
        if not callable(fn):
            raise TypeError(f"register: expected a function, got {type(fn).__name__}")
        _check_signature(fn)
        claim = Claim(
            id=id,
            title=title,
            citation=citation,
            statement=statement,
            check=fn,
            budget_seconds=float(budget_seconds),
            module=getattr(fn, "__module__", "") or "",
        )
        _add(claim)
        with contextlib.suppress(AttributeError, TypeError):
            fn.claim = claim
        return fn

    return decorator


def unregister(id: str) -> None:
    """Remove a claim from the registry (for tests and notebooks); unknown ids raise KeyError."""
    if id not in _CLAIMS:
        raise KeyError(f"no claim {id!r} is registered")
    del _CLAIMS[id]


class ClaimImportError(ImportError):
    """A claim module could not be imported; carries the original traceback text."""


def _import_failure_claim(module_name: str, tb: str) -> Claim:
    short = module_name.rsplit(".", 1)[-1]

    def check(quick, rng, out):
        raise ClaimImportError(f"importing {module_name} failed:\n{tb}")

    return Claim(
        id=f"import-error.{short}",
        title=f"claim module {module_name} failed to import",
        citation="-",
        statement=(
            f"The module `{module_name}` raised while being imported, so the claims it "
            "registers could not be checked. It is reported as a failed claim, not skipped."
        ),
        check=check,
        budget_seconds=1.0,
        module=module_name,
    )


def _discover(package: str = CLAIMS_PACKAGE) -> None:
    """Import every non-underscore module of ``package`` once (registering their claims)."""
    if package in _DISCOVERED:
        return
    _DISCOVERED.add(package)
    pkg = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        name = f"{package}.{info.name}"
        try:
            importlib.import_module(name)
        except Exception:  # reported as a failed claim
            claim = _import_failure_claim(name, traceback.format_exc())
            _CLAIMS.setdefault(claim.id, claim)


def registry() -> list[Claim]:
    """All registered claims, sorted by id (claim modules are imported on the first call)."""
    _discover()
    return [_CLAIMS[k] for k in sorted(_CLAIMS)]


def get(id: str) -> Claim:
    """The claim with this id; an unknown id raises ``KeyError`` listing the known ids."""
    _discover()
    try:
        return _CLAIMS[id]
    except KeyError:
        known = ", ".join(sorted(_CLAIMS)) or "(none)"
        raise KeyError(f"no claim with id {id!r}; known claims: {known}") from None


@contextlib.contextmanager
def _isolated(discovered: bool = True) -> Iterator[dict[str, Claim]]:
    """Temporarily replace the registry by an empty one (for tests); restores it on exit.

    With ``discovered=True`` the package is treated as already imported, so only claims
    registered inside the block are visible.
    """
    global _CLAIMS, _DISCOVERED
    saved = _CLAIMS, _DISCOVERED
    _CLAIMS = {}
    _DISCOVERED = {CLAIMS_PACKAGE} if discovered else set()
    try:
        yield _CLAIMS
    finally:
        _CLAIMS, _DISCOVERED = saved


# ---------------------------------------------------------------------- running


def claim_rng(claim_id: str, seed: int = 0) -> np.random.Generator:
    """The generator a claim's check receives: ``SeedSequence([seed, sha256(id)[:8]])``.

    Stable across machines and Python processes (no use of ``hash()``), and independent of
    which other claims run.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    digest = hashlib.sha256(claim_id.encode("utf-8")).digest()
    key = int.from_bytes(digest[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([int(seed), key]))


def source_hash(claim: Claim) -> str:
    """SHA-256 of the source file of the claim's module (falls back to the check's source)."""
    h = hashlib.sha256()
    module = sys.modules.get(claim.module)
    path = getattr(module, "__file__", None)
    try:
        if path is None:
            raise OSError
        h.update(Path(path).read_bytes())
    except OSError:
        try:
            h.update(inspect.getsource(claim.check).encode("utf-8"))
        except (OSError, TypeError):
            h.update(f"{claim.module}:{getattr(claim.check, '__qualname__', '')}".encode())
    return h.hexdigest()


def _failed(summary: str) -> ClaimResult:
    return ClaimResult(passed=False, table=pd.DataFrame(), figures=[], summary=summary)


def _collect_figures(figures: list[Path], out: Path) -> tuple[list[Path], list[str]]:
    """Make every figure live under ``out`` (copying those written elsewhere)."""
    kept, problems = [], []
    out_resolved = out.resolve()
    for f in figures:
        f = f if f.is_absolute() or f.exists() else out / f
        if not f.is_file():
            problems.append(f"the check listed figure {f} but the file does not exist")
            continue
        if out_resolved not in f.resolve().parents:
            target = out / f.name
            shutil.copy2(f, target)
            f = target
        kept.append(f)
    return kept, problems


def run_claim(claim: Claim, quick: bool, seed: int, out: Path | str) -> ClaimRun:
    """Run ``claim.check(quick, claim_rng(claim.id, seed), out)`` and time it.

    The peak resident memory of the process during the check is sampled
    (:class:`mdplab._utils.PeakMemory`) and reported as ``ClaimRun.peak_rss_mb``.
    ``out`` (created if needed) receives the figures; figures the check wrote elsewhere are
    copied into it. Exceptions are caught and turned into a failed result whose summary starts with
    ``"check raised ..."`` and holds the traceback; so are results that are not a
    :class:`ClaimResult` and listed figures that do not exist. ``KeyboardInterrupt`` propagates.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = claim_rng(claim.id, seed)
    error = None
    memory = PeakMemory()
    start = time.perf_counter()
    try:
        with memory:
            result = claim.check(bool(quick), rng, out)
    except Exception as exc:  # a raising check is a failed claim
        seconds = time.perf_counter() - start
        error = traceback.format_exc()
        result = _failed(f"check raised {type(exc).__name__}: {exc}\n\n{error}")
    else:
        seconds = time.perf_counter() - start
        if not isinstance(result, ClaimResult):
            error = (
                f"check returned {type(result).__name__}, expected mdplab.claims.ClaimResult"
            )
            result = _failed(error)
        else:
            figures, problems = _collect_figures(result.figures, out)
            if problems:
                error = "; ".join(problems)
                result = replace(result, passed=False, figures=figures,
                                 summary=f"{result.summary}\n\nFAILED: {error}".strip())
            else:
                result = replace(result, figures=figures)
    return ClaimRun(claim=claim, result=result, seconds=seconds, quick=bool(quick),
                    seed=int(seed), out=out, error=error, peak_rss_mb=memory.peak_mb)
