"""Shared fixtures: small random models in every layout (dense, sparse, finite horizon)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import mdplab as ml

settings.register_profile(
    "mdplab", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("mdplab")


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
