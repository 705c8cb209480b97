r"""Preference optimisation on a finite response set: data sets, Bradley-Terry fits and the exact
population optima of KL-regularized RLHF, DPO and IPO.

Setting: responses :math:`\mathcal Y = \{0, \dots, n-1\}`, a preference matrix
:math:`P[y, y'] = \Pr(y \succ y')` (see :mod:`mdplab.learn.games`), a reference policy
:math:`\pi_{\rm ref}` and a pair-sampling distribution :math:`\mu` (pairs
:math:`y, y' \sim \mu` i.i.d.).

* **KL-regularized RLHF** (reward :math:`r`): :math:`\max_\pi \mathbb E_\pi r - \beta
  \mathrm{KL}(\pi\|\pi_{\rm ref})` has the optimum :math:`\pi_r \propto \pi_{\rm ref}e^{r/\beta}`.
* **Bradley-Terry MLE**: :math:`\hat r = \arg\max_r \sum_{y,y'} w(y,y')\,P[y,y']
  \log\sigma(r_y - r_{y'})` with pair weights :math:`w = \mu\mu^\top` (population) or pair counts
  (finite sample). Concave; unique up to a constant when the comparison graph is strongly
  connected in the win/loss sense (Ford 1957, Zermelo 1929); otherwise no finite maximiser.
* **DPO** (Rafailov et al. 2023, arXiv:2305.18290, Sec. 4-5): the loss
  :math:`-\mathbb E\log\sigma(\beta\log\frac{\pi(y_w)}{\pi_{\rm ref}(y_w)} -
  \beta\log\frac{\pi(y_l)}{\pi_{\rm ref}(y_l)})` is the BT negative log-likelihood in the implicit
  reward :math:`\beta\log\pi/\pi_{\rm ref}`; with all pairs covered its minimiser is
  :math:`\pi \propto \pi_{\rm ref}e^{\hat r/\beta}` (the KL-regularized optimum of the BT MLE;
  for BT data, of the true reward).
* **IPO** (Azar et al. 2024, arXiv:2310.12036, Sec. 5): the population squared loss
  :math:`\mathbb E[(h_\pi(y_w, y_l) - 1/(2\tau))^2]`,
  :math:`h_\pi = \log\frac{\pi(y_w)\pi_{\rm ref}(y_l)}{\pi(y_l)\pi_{\rm ref}(y_w)}`, is minimised by
  :math:`\pi \propto \pi_{\rm ref}\exp(P(y \succ \mu)/\tau)` on the support of :math:`\mu`
  (stationarity gives :math:`g(z) - \mathbb E_\mu g = (2P(z\succ\mu) - 1)/(2\tau)`).

The DPO optimum of an intransitive :math:`P` (a BT fit of a non-BT preference) is generally far
from the minimax winner: see the claim ``spo-minimax-winner``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._utils import as_rng
from .games import _number, _reference, check_preference_matrix

__all__ = [
    "BTFit",
    "PolicyOptimum",
    "PreferenceData",
    "bradley_terry_mle",
    "dpo_optimum",
    "ipo_optimum",
    "kl_regularized_optimum",
    "sample_preferences",
]


@dataclass(frozen=True)
class PreferenceData:
    """Pairwise preference data: ``winner[i]`` was preferred to ``loser[i]`` (prompt 0 only)."""

    winner: np.ndarray
    loser: np.ndarray
    n: int

    def counts(self) -> np.ndarray:
        """``C[y, y']`` = number of times ``y`` beat ``y'``."""
        C = np.zeros((self.n, self.n))
        np.add.at(C, (self.winner, self.loser), 1.0)
        return C

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"winner": self.winner, "loser": self.loser})


@dataclass(frozen=True)
class BTFit:
    """Bradley-Terry maximum-likelihood rewards (mean zero), with the solver's diagnostics."""

    reward: np.ndarray
    gradient_norm: float
    iterations: int
    converged: bool


@dataclass(frozen=True)
class PolicyOptimum:
    """An exact optimum of a preference-optimisation objective."""

    policy: np.ndarray
    beta: float
    method: str
    reward: np.ndarray | None = None

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.policy, dtype=dtype)


def _softmax(z):
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def sample_preferences(P, n_pairs: int, rng=None, mu=None) -> PreferenceData:
    r"""Draw ``n_pairs`` pairs :math:`y, y' \sim \mu` i.i.d. (``mu=None``: uniform; ``y = y'``
    allowed) and label them with :math:`\Pr(y \succ y') = P[y, y']`."""
    P = check_preference_matrix(P)
    if P.ndim != 2:
        raise ValueError("sample_preferences: P must be a single (n, n) matrix")
    n = P.shape[0]
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 0:
        raise ValueError(f"n_pairs = {n_pairs!r} must be a non-negative integer")
    rng = as_rng(rng)
    m = _reference(mu, n)
    y = rng.choice(n, size=n_pairs, p=m)
    yp = rng.choice(n, size=n_pairs, p=m)
    win = rng.random(n_pairs) < P[y, yp]
    return PreferenceData(np.where(win, y, yp), np.where(win, yp, y), n)


def bradley_terry_mle(W, *, tol: float = 1e-12, max_iter: int = 200) -> BTFit:
    r"""Bradley-Terry MLE from a win-weight matrix ``W[y, y']`` (how often / with what weight
    ``y`` beat ``y'``): :math:`\max_r \sum W[y,y']\log\sigma(r_y - r_{y'})`, by Newton's method
    with the gauge :math:`\sum r = 0`. ``converged=False`` when no finite maximiser exists
    (Ford's condition: the directed graph "y beat y'" is not strongly connected; the rewards
    then diverge)."""
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W has shape {W.shape}, expected (n, n)")
    if np.any(W < 0) or not np.all(np.isfinite(W)):
        raise ValueError("W must be finite and non-negative")
    from scipy.sparse.csgraph import connected_components

    n = W.shape[0]
    # Ford's condition: a finite maximiser exists (and is unique up to a constant) iff the
    # "y beat y'" graph is strongly connected
    n_strong = connected_components(W > 0, directed=True, connection="strong")[0]
    r = np.zeros(n)
    N = W + W.T
    it = 0
    gn = np.inf
    for it in range(1, max_iter + 1):  # noqa: B007 - reported below
        d = r[:, None] - r[None, :]
        s = 0.5 * (1 + np.tanh(0.5 * d))  # sigma(r_y - r_y')
        grad = (W * (1 - s)).sum(1) - (W.T * s).sum(1)  # d/dr_y of the log-likelihood
        gn = float(np.max(np.abs(grad)))
        if gn <= tol * max(1.0, N.sum()):
            break
        H = N * s * (1 - s)  # Hessian of the negative log-likelihood is a weighted Laplacian
        L = np.diag(H.sum(1)) - H
        L += np.ones((n, n)) / n  # gauge: fixes the mean (the Laplacian's null direction)
        step = np.linalg.solve(L, grad)
        r = r + step
        r -= r.mean()
        if np.max(np.abs(r)) > 1e3:
            break
    ok = n_strong == 1 and gn <= tol * max(1.0, N.sum()) and np.max(np.abs(r)) <= 1e3
    return BTFit(r, gn, it, bool(ok))


def kl_regularized_optimum(r, beta: float, ref=None) -> PolicyOptimum:
    r""":math:`\pi_r \propto \pi_{\rm ref}e^{r/\beta}`, the optimum of
    :math:`\mathbb E_\pi r - \beta\mathrm{KL}(\pi\|\pi_{\rm ref})` (``beta > 0``)."""
    beta = _number("beta", beta, positive=True)
    r = np.asarray(r, dtype=float)
    ref = _reference(ref, r.shape[-1])
    with np.errstate(divide="ignore"):
        return PolicyOptimum(_softmax(np.log(ref) + r / beta), beta, "kl-rlhf", r)


def dpo_optimum(P, beta: float, ref=None, mu=None, data: PreferenceData | None = None
                ) -> PolicyOptimum:
    r"""Minimiser of the DPO loss: the population loss (pairs from :math:`\mu\otimes\mu`, labels
    from ``P``), or the empirical loss of ``data`` when given. Equals the KL-regularized optimum of
    the Bradley-Terry MLE reward (finite when the comparison graph is strongly connected;
    otherwise a ``ValueError`` explains that no minimiser exists)."""
    P = check_preference_matrix(P)
    n = P.shape[-1]
    if data is not None:
        W = data.counts()
    else:
        m = _reference(mu, n)
        W = np.outer(m, m) * P
    fit = bradley_terry_mle(W)
    if not fit.converged:
        raise ValueError(
            "dpo_optimum: the DPO loss has no finite minimiser (some responses win or lose every "
            "comparison they appear in: the Bradley-Terry likelihood is maximised at infinity)"
        )
    out = kl_regularized_optimum(fit.reward, beta, ref)
    return PolicyOptimum(out.policy, out.beta, "dpo", fit.reward)


def ipo_optimum(P, tau: float, ref=None, mu=None) -> PolicyOptimum:
    r"""Minimiser of the population IPO loss: :math:`\pi \propto \pi_{\rm ref}
    \exp(P(y\succ\mu)/\tau)` on the support of :math:`\mu` (``mu=None``: uniform)."""
    P = check_preference_matrix(P)
    tau = _number("tau", tau, positive=True)
    n = P.shape[-1]
    m = _reference(mu, n)
    ref = _reference(ref, n)
    with np.errstate(divide="ignore"):
        return PolicyOptimum(_softmax(np.log(ref) + (P @ m) / tau), tau, "ipo", P @ m)
