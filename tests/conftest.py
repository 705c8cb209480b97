"""Shared fixtures: small random models in every layout (dense, sparse, finite horizon)."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import mdplab as ml

# Two Hypothesis profiles. "mdplab" (local runs): random examples, so repeated runs explore
# new inputs; a failure prints the blob that reproduces it. "ci" (loaded when the CI variable
# is set, as .ci/run does): derandomized, so a CI run is reproducible and a red CI is not a
# matter of luck. Per-test @settings(...) inherit these defaults.
_COMMON = dict(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
               print_blob=True)
settings.register_profile("mdplab", **_COMMON)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.load_profile("ci" if os.environ.get("CI") else "mdplab")


def make_random_mdp(S, A, rng, gamma=0.9, horizon=None, time_varying=False, sparse=False):
    """A Dirichlet random model built with plain NumPy (independent of mdplab.envs)."""
    rng = np.random.default_rng(rng)
    lead = (horizon,) if time_varying else ()
    P = rng.dirichlet(np.ones(S), size=lead + (S, A))
    R = rng.random(lead + (S, A))
    if sparse:
        import scipy.sparse as sp

        P = sp.csr_array(P.reshape(-1, S))
    if horizon is not None:
        return ml.TabularMDP(P, R, horizon=horizon)
    return ml.TabularMDP(P, R, gamma=gamma)


@pytest.fixture
def small_mdp():
    return make_random_mdp(5, 3, rng=0, gamma=0.9)
