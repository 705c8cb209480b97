r"""Theorem checks: a registry of claims from papers, each with a numerical check.

Each module of this package (one per paper or topic, e.g. ``soft_bellman.py``) registers its
claims with :func:`register`; :func:`registry` imports them all on first use. See
``docs/claims.md`` for how to write a claim and :mod:`mdplab.report` for the report built
from them.

.. code-block:: python

    from mdplab.claims import ClaimResult, register

    @register(id="soft-bellman-contraction", title="...", citation="...", statement="...",
              budget_seconds=60)
    def check(quick: bool, rng: numpy.random.Generator, out: pathlib.Path) -> ClaimResult:
        ...
"""

from ._registry import (
    Claim,
    ClaimResult,
    ClaimRun,
    claim_rng,
    get,
    register,
    registry,
    run_claim,
    source_hash,
    unregister,
)

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
