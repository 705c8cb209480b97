"""Tests of mdplab.learn.preference: BT MLE, DPO and IPO optima against direct minimisation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from mdplab.learn import games as g
from mdplab.learn import preference as pref


def dpo_population_loss(logits, P, W, beta, ref):
    logpi = logits - np.log(np.exp(logits).sum())
    h = beta * (logpi - np.log(ref))
    d = h[:, None] - h[None, :]
    return -np.sum(W * P * np.log(1 / (1 + np.exp(-d))))


def test_dpo_optimum_under_bt_is_kl_optimum_of_true_reward():
    rng = np.random.default_rng(0)
    r = rng.normal(size=5)
    ref = rng.dirichlet(np.ones(5))
    opt = pref.dpo_optimum(g.bradley_terry(r), 0.3, ref)
    target = ref * np.exp(r / 0.3)
    assert np.max(np.abs(opt.policy - target / target.sum())) <= 1e-12


def test_dpo_optimum_minimises_the_population_loss_directly():
    P = g.perturbed_rps()
    ref = np.array([0.5, 0.3, 0.2])
    W = np.full((3, 3), 1 / 9)
    beta = 0.5
    res = minimize(dpo_population_loss, np.zeros(3), args=(P, W, beta, ref), method="BFGS",
                   options={"gtol": 1e-12})
    direct = np.exp(res.x) / np.exp(res.x).sum()
    assert np.max(np.abs(pref.dpo_optimum(P, beta, ref).policy - direct)) <= 1e-6


def test_ipo_optimum_minimises_the_population_squared_loss():
    rng = np.random.default_rng(1)
    P, ref, tau = g.random_preference(4, rng), rng.dirichlet(np.ones(4)), 0.7
    mu = np.full(4, 0.25)

    def loss(z):
        lp = z - np.log(np.exp(z).sum())
        h = (lp - np.log(ref))[:, None] - (lp - np.log(ref))[None, :]
        return np.sum(np.outer(mu, mu) * P * (h - 1 / (2 * tau)) ** 2)

    res = minimize(loss, np.zeros(4), method="BFGS", options={"gtol": 1e-12})
    direct = np.exp(res.x) / np.exp(res.x).sum()
    assert np.max(np.abs(pref.ipo_optimum(P, tau, ref).policy - direct)) <= 1e-6


def test_sampled_data_and_finite_sample_dpo():
    P = g.bradley_terry(np.array([0.0, 1.0, 2.0]))
    data = pref.sample_preferences(P, 20_000, rng=0)
    C = data.counts()
    assert C.sum() == 20_000
    # empirical win rate of 2 over 0 matches sigma(2)
    assert C[2, 0] / (C[2, 0] + C[0, 2]) == pytest.approx(1 / (1 + np.exp(-2)), abs=0.03)
    opt = pref.dpo_optimum(P, 1.0, data=data)
    assert np.all(np.diff(opt.reward) > 0)
    assert pref.sample_preferences(P, 50, rng=3).winner.tolist() == \
        pref.sample_preferences(P, 50, rng=3).winner.tolist()


def test_deterministic_labels_have_no_dpo_minimiser():
    P = np.array([[0.5, 1.0], [0.0, 0.5]])
    with pytest.raises(ValueError, match="no finite minimiser"):
        pref.dpo_optimum(P, 0.1)
