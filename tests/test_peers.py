"""Cross-checks against peer libraries (QuantEcon, pymdptoolbox), with the [bench] extra."""

import numpy as np
import pytest

import mdplab as ml
from tests.conftest import make_random_mdp


@pytest.mark.parametrize("seed", range(3))
def test_quantecon_policy_iteration_agrees(seed):
    qe = pytest.importorskip("quantecon", reason="quantecon not installed (pip install .[bench])")
    m = make_random_mdp(20, 4, rng=seed, gamma=0.95)
    res = qe.markov.DiscreteDP(m.R, m.P, 0.95).solve(method="policy_iteration")
    sol = ml.solve(m, method="pi")
    np.testing.assert_allclose(sol.V, res.v, atol=1e-9)
    np.testing.assert_array_equal(sol.policy.argmax(1), res.sigma)


def test_mdptoolbox_forest_policy_iteration_agrees():
    mdp_mod = pytest.importorskip("hiive.mdptoolbox.mdp", reason="mdptoolbox-hiive not installed")
    example = pytest.importorskip("hiive.mdptoolbox.example")
    P, R = example.forest(S=10, r1=4, r2=2, p=0.1)
    pi_tb = mdp_mod.PolicyIteration(P, R, 0.9)
    pi_tb.run()
    sol = ml.solve(ml.from_mdptoolbox(P, R, gamma=0.9), method="pi")
    np.testing.assert_allclose(sol.V, np.array(pi_tb.V), atol=1e-8)
    np.testing.assert_array_equal(sol.policy.argmax(1), np.array(pi_tb.policy))
