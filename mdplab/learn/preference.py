r"""Preference optimisation on a finite response set: data sets, Bradley-Terry fits and the exact
optima of KL-regularized RLHF, DPO, IPO, chi-PO, XPO, HyPO and online IPO / IPO-MD.

Setting: responses :math:`\mathcal Y = \{0, \dots, n-1\}`, a preference matrix
:math:`P[y, y'] = \Pr(y \succ y')` (see :mod:`mdplab.learn.games`), a reference policy
:math:`\pi_{\rm ref}` and a pair-sampling distribution :math:`\mu` (pairs
:math:`y, y' \sim \mu` i.i.d.). Closed forms act on the last axis, so a leading prompt axis
(``r`` of shape ``(X, n)``, ``ref`` of shape ``(X, n)``) is handled at once.

* **KL-regularized RLHF** (reward :math:`r`): :math:`\max_\pi \mathbb E_\pi r - \beta
  \mathrm{KL}(\pi\|\pi_{\rm ref})` has the optimum :math:`\pi_r \propto \pi_{\rm ref}e^{r/\beta}`.
* **Bradley-Terry MLE**: :math:`\hat r = \arg\max_r \sum_{y,y'} w(y,y')\,P[y,y']
  \log\sigma(r_y - r_{y'})` with pair weights :math:`w = \mu\mu^\top` (population) or pair counts
  (finite sample). Concave; unique up to a constant when the comparison graph is strongly
  connected in the win/loss sense (Ford 1957, Zermelo 1929); otherwise no finite maximiser.
  :func:`bradley_terry_mle_bounded` maximises it over the bounded class
  :math:`r \in [0, R_{\max}]^n` (projected Newton; ties -- responses absent from the data --
  broken by a vanishing ridge towards ``anchor``, default :math:`R_{\max}/2`).
* **DPO** (Rafailov et al. 2023, arXiv:2305.18290, Sec. 4-5): the loss
  :math:`-\mathbb E\log\sigma(\beta\log\frac{\pi(y_w)}{\pi_{\rm ref}(y_w)} -
  \beta\log\frac{\pi(y_l)}{\pi_{\rm ref}(y_l)})` is the BT negative log-likelihood in the implicit
  reward :math:`\beta\log\pi/\pi_{\rm ref}`; with all pairs covered its minimiser is
  :math:`\pi \propto \pi_{\rm ref}e^{\hat r/\beta}` (the KL-regularized optimum of the BT MLE;
  for BT data, of the true reward). Over the policy class :math:`\{\pi_r : r\in[0,R_{\max}]^n\}`
  the minimiser is :math:`\pi_{\hat r}` with the bounded MLE :math:`\hat r`.
* **IPO** (Azar et al. 2024, arXiv:2310.12036, Sec. 5): the population squared loss
  :math:`\mathbb E[(h_\pi(y_w, y_l) - 1/(2\tau))^2]`,
  :math:`h_\pi = \log\frac{\pi(y_w)\pi_{\rm ref}(y_l)}{\pi(y_l)\pi_{\rm ref}(y_w)}`, is minimised by
  :math:`\pi \propto \pi_{\rm ref}\exp(P(y \succ \mu)/\tau)` on the support of :math:`\mu`
  (stationarity gives :math:`g(z) - \mathbb E_\mu g = (2P(z\succ\mu) - 1)/(2\tau)`). The
  empirical loss :math:`\sum_i (g_{w_i} - g_{l_i} - 1/(2\tau))^2` in
  :math:`g = \log\pi/\pi_{\rm ref} + c` is a least-squares problem on the comparison graph:
  :math:`L g = \tfrac{1}{2\tau}(\#\text{wins} - \#\text{losses})` with :math:`L` the graph
  Laplacian of the pair counts (minimum-norm solution: :math:`g = 0` on responses absent from
  the data, each connected component centred).

chi-PO (Huang et al. 2025, arXiv:2407.13399, Sec. 3; numbering unverified)
-------------------------------------------------------------------------
The **mixed** :math:`\chi^2` + KL regularizer
:math:`D_{\rm mix}(\pi\|\pi_{\rm ref}) = D_{\chi^2} + \mathrm{KL}
= \mathbb E_{\pi_{\rm ref}}[f(\pi/\pi_{\rm ref})]`, :math:`f(z) = \tfrac12(z-1)^2 + z\log z`,
:math:`D_{\chi^2}(\pi\|\pi_{\rm ref}) = \tfrac12\sum_y \pi_{\rm ref}(y)(\pi(y)/\pi_{\rm ref}(y)
- 1)^2 = \tfrac12(C^\pi - 1)` with the single-policy :math:`L_2` concentrability
:math:`C^\pi = \sum_y \pi(y)^2/\pi_{\rm ref}(y)`. The link is :math:`\phi(z) = f'(z) = z + \log z`
(strictly increasing from :math:`-\infty` to :math:`\infty` on :math:`(0, \infty)`), with inverse
:math:`\phi^{-1}(u) = W_0(e^u)` (Lambert W).

*Population optimum (derived here).* :math:`\max_\pi \mathbb E_\pi r - \beta D_{\rm mix}
(\pi\|\pi_{\rm ref})` is strictly concave; its Lagrange condition
:math:`r(y) - \beta\phi(\pi(y)/\pi_{\rm ref}(y)) - \lambda = 0` gives, per response,

.. math::

    \pi^{\rm mix}_\beta(y) = \pi_{\rm ref}(y)\, W_0\!\big(e^{(r(y) - \lambda)/\beta}\big),
    \qquad \sum_y \pi_{\rm ref}(y) W_0\big(e^{(r(y)-\lambda)/\beta}\big) = 1 ,

(interior: :math:`\phi(0^+) = -\infty`). :math:`\lambda \mapsto \sum_y \pi_{\rm ref} W_0(\cdot)`
is convex and strictly decreasing (:math:`\tfrac{d}{du}W_0(e^u) = w/(1+w)`), and the root lies in
:math:`[\min r - \beta, \max r - \beta]`, so Newton's method from the left end converges
monotonically. :math:`W_0(e^u)` is computed as :math:`e^t` with :math:`e^t + t = u` (Newton in
:math:`t`, convex increasing, started right of the root: no overflow for any :math:`u`).
Reparametrisation: :math:`r(y) = \beta\phi(\pi(y)/\pi_{\rm ref}(y)) + \lambda`. For
:math:`r \in [0, R]`, :math:`e^{-R/\beta} \le \pi^{\rm mix}_\beta/\pi_{\rm ref} \le 1 + R/\beta`
(KL: :math:`[e^{-R/\beta}, e^{R/\beta}]`) -- the heavier :math:`\chi^2` penalty caps how much mass
a response can gain over the reference, which is the source of chi-PO's robustness.

*chi-PO loss* (the paper's one-line change to DPO, Sec. 3):
:math:`-\frac1N\sum_i\log\sigma\big(\mathrm{clip}_{2R_{\max}}[\beta\phi(\pi(y_w)/\pi_{\rm ref}(y_w))
- \beta\phi(\pi(y_l)/\pi_{\rm ref}(y_l))]\big)`. It is the BT negative log-likelihood in the
implicit reward :math:`\beta\phi(\pi/\pi_{\rm ref})`, and every reward vector is the implicit
reward (up to the constant :math:`\lambda`) of its own mixed optimum. Hence the empirical
minimiser is :math:`\pi^{\rm mix}_{\hat r}` with :math:`\hat r` the BT MLE (unclipped loss), and,
over the class :math:`\{\pi^{\rm mix}_r : r \in [0, R_{\max}]^n\}` (where reward differences are
at most :math:`R_{\max}` so the clip is inactive), the bounded MLE. DPO and chi-PO therefore
differ only in the link applied to the same fitted reward.
Guarantee (Sec. 3, quoted by secondary sources; constants unverified): with a realizable,
bounded class and :math:`\beta` tuned, :math:`J(\pi^*) - J(\hat\pi) \lesssim
\sqrt{C^{\pi^*}\log(|\Pi|/\delta)/N}` for **every** comparator :math:`\pi^*` (single-policy
concentrability), whereas KL-regularized DPO can pay for responses the data barely cover
(Sec. 4, "bias-overoptimization trade-off").

XPO (Xie et al. 2025, arXiv:2405.21046, Sec. 3, Algorithm 1; numbering unverified)
---------------------------------------------------------------------------------
Online loop, round :math:`t`: draw :math:`y_t \sim \pi^t` and :math:`\tilde y_t \sim \tilde\pi`
(here :math:`\tilde\pi = \pi_{\rm ref}`), query a label from :math:`P`, append to :math:`D_t`,
and set

.. math::

    \pi^{t+1} = \arg\min_{\pi\in\Pi}\; \alpha\sum_{i\le t}\log\pi(\tilde y_i)
        - \sum_{(y_w, y_l)\in D_t}\log\sigma\Big(\beta\log\tfrac{\pi(y_w)}{\pi_{\rm ref}(y_w)}
        - \beta\log\tfrac{\pi(y_l)}{\pi_{\rm ref}(y_l)}\Big).

The exploration bonus :math:`\alpha\sum\log\pi(\tilde y_i)` rewards implicit reward models whose
regularized value exceeds their value on :math:`\tilde\pi`'s samples (optimism); :math:`\alpha = 0`
is online DPO. Over the unbounded tabular class the objective is unbounded below (the implicit
reward of an unseen response can grow forever), so, as in the paper's analysis, the class is
bounded: :math:`\Pi = \{\pi_r \propto \pi_{\rm ref} e^{r/\beta} : r \in [0, R_{\max}]^n\}`. The
objective is non-convex in :math:`r` (:math:`-\alpha t\log Z(r)` is concave); it is minimised by
L-BFGS-B from several starts (the previous solution, the bounded MLE, and optimistic vertices).

HyPO (Song et al. 2024, arXiv:2406.01462, Sec. 5; numbering unverified)
-----------------------------------------------------------------------
Offline DPO loss plus an on-policy reverse-KL term,
:math:`\min_\pi L_{\rm DPO}(\pi; D_{\rm off}) + \lambda\,\mathrm{KL}(\pi\|\pi_{\rm ref})` (the paper
estimates the KL from fresh policy samples; here it is exact). DPO alone leaves responses absent
from :math:`D_{\rm off}` unconstrained (any mass on them minimises the loss); the KL term selects
the minimiser closest to :math:`\pi_{\rm ref}`.

Online IPO and IPO-MD (Calandriello et al. 2024, arXiv:2403.08635, Sec. 4-5; numbering unverified)
----------------------------------------------------------------------------------------------
Gradient descent on the logits of the IPO population loss with pairs sampled from the
stop-gradient policy (online IPO) or from the geometric mixture
:math:`\pi_t^{1-m}\pi_{\rm ref}^{m}` (IPO-MD, mixture weight :math:`m`). Exact expected gradients
here. The fixed point of online IPO is the regularized Nash equilibrium
:math:`\pi^*_\tau \propto \pi_{\rm ref}e^{P\pi^*_\tau/\tau}`; for IPO-MD the mixture at the fixed
point is :math:`\pi^*_{\tau/(1-m)}`.

The DPO optimum of an intransitive :math:`P` (a BT fit of a non-BT preference) is generally far
from the minimax winner: see the claim ``spo-minimax-winner``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._utils import as_rng, kl_divergence
from .games import (
    GameTrajectory,
    _number,
    _Recorder,
    _reference,
    _setup,
    check_preference_matrix,
)

__all__ = [
    "BTFit",
    "OnlineRun",
    "PolicyOptimum",
    "PreferenceData",
    "bradley_terry_mle",
    "bradley_terry_mle_bounded",
    "chi_mix_link",
    "chi_mix_link_inverse",
    "chi_mix_optimum",
    "chipo_loss",
    "chipo_optimum",
    "concentrability",
    "dpo_loss",
    "dpo_optimum",
    "hypo_optimum",
    "implied_reward",
    "ipo_optimum",
    "kl_regularized_optimum",
    "mixed_divergence",
    "online_ipo",
    "sample_preferences",
    "xpo",
]


@dataclass(frozen=True)
class PreferenceData:
    """Pairwise preference data: ``winner[i]`` was preferred to ``loser[i]`` for the prompt
    ``prompt[i]``.

    ``n`` responses per prompt and ``n_prompts`` prompts; ``prompt=None`` (the default) means
    a single prompt, ``n_prompts = 1``. Indices are validated: integers in range, equal
    lengths."""

    winner: np.ndarray
    loser: np.ndarray
    n: int
    prompt: np.ndarray | None = None
    n_prompts: int = 1

    def __post_init__(self):
        n = _int("n", self.n, 1)
        X = _int("n_prompts", self.n_prompts, 1)
        w = _index_array("winner", self.winner, n)
        lo = _index_array("loser", self.loser, n)
        if w.shape != lo.shape:
            raise ValueError(f"winner has {w.size} entries but loser has {lo.size}")
        x = None
        if self.prompt is not None:
            x = _index_array("prompt", self.prompt, X)
            if x.shape != w.shape:
                raise ValueError(f"prompt has {x.size} entries but winner has {w.size}")
        elif X > 1:
            raise ValueError(f"n_prompts = {X} needs the prompt of every pair (prompt=None)")
        object.__setattr__(self, "winner", w)
        object.__setattr__(self, "loser", lo)
        object.__setattr__(self, "prompt", x)

    @property
    def prompts(self) -> np.ndarray:
        """The prompt of every pair (zeros for single-prompt data)."""
        return np.zeros(len(self.winner), dtype=int) if self.prompt is None else self.prompt

    def counts(self) -> np.ndarray:
        """``C[y, y']`` = number of times ``y`` beat ``y'``: ``(n, n)`` for single-prompt data,
        ``(X, n, n)`` (``C[x, y, y']``) when ``n_prompts > 1``."""
        C = np.zeros((self.n_prompts, self.n, self.n))
        np.add.at(C, (self.prompts, self.winner, self.loser), 1.0)
        return C[0] if self.n_prompts == 1 else C

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"prompt": self.prompts, "winner": self.winner,
                             "loser": self.loser})


@dataclass(frozen=True)
class BTFit:
    """Bradley-Terry maximum-likelihood rewards (mean zero; for the bounded fit, in
    ``[0, r_max]``), with the solver's diagnostics (``gradient_norm`` is the projected gradient
    for the bounded fit)."""

    reward: np.ndarray
    gradient_norm: float
    iterations: int
    converged: bool


@dataclass(frozen=True)
class PolicyOptimum:
    """An exact optimum of a preference-optimisation objective.

    ``normalizer`` is the Lagrange multiplier :math:`\\lambda` of the chi-mix optimum (``None``
    for the other methods)."""

    policy: np.ndarray
    beta: float
    method: str
    reward: np.ndarray | None = None
    normalizer: np.ndarray | float | None = None

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.policy, dtype=dtype)


@dataclass(frozen=True)
class OnlineRun:
    """An online preference-optimisation run (:func:`xpo`): policies before each round and the
    data collected.

    Attributes
    ----------
    algorithm : str
        ``"xpo"`` (``alpha > 0``) or ``"online-dpo"`` (``alpha = 0``).
    policies : ndarray
        ``(T + 1, n)``: :math:`\\pi^0 = \\pi_{\\rm ref}` and the policy after each round.
    rewards : ndarray
        ``(T + 1, n)``: the fitted rewards :math:`r` with :math:`\\pi^t = \\pi_r` (``rewards[0]``
        is constant).
    data : PreferenceData
        The ``T`` labelled pairs (policy sample vs exploration sample).
    explore : ndarray
        ``(T,)``: the samples :math:`\\tilde y_t \\sim \\tilde\\pi` entering the bonus.
    beta, alpha, r_max : float
        Hyper-parameters.
    ref : ndarray
        Reference policy.
    """

    algorithm: str
    policies: np.ndarray
    rewards: np.ndarray
    data: PreferenceData
    explore: np.ndarray
    beta: float
    alpha: float
    r_max: float
    ref: np.ndarray
    params: dict = field(default_factory=dict)

    def to_frame(self, reward, beta: float | None = None):
        """Tidy table per round: ``round``, ``value`` :math:`\\mathbb E_{\\pi^t} r^*`,
        ``kl`` to the reference, ``regularized_gap`` :math:`J_\\beta(\\pi^*_\\beta) -
        J_\\beta(\\pi^t)` for the true reward ``reward`` (at ``beta``, default the run's)."""
        import pandas as pd

        r = np.asarray(reward, dtype=float)
        b = self.beta if beta is None else float(beta)
        kl = kl_divergence(self.policies, self.ref)
        val = self.policies @ r
        opt = kl_regularized_optimum(r, b, self.ref).policy
        j_opt = float(opt @ r - b * kl_divergence(opt, self.ref))
        return pd.DataFrame({
            "algorithm": self.algorithm,
            "round": np.arange(len(self.policies)),
            "value": val,
            "kl": kl,
            "regularized_gap": j_opt - (val - b * kl),
        })


# ------------------------------------------------------------------------- helpers


def _softmax(z):
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _index_array(name: str, x, n: int) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} has shape {arr.shape}, expected a 1-d array of indices")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not (np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr))
                and np.all(arr == np.round(arr))):
            raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(int)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        bad = int(arr[(arr < 0) | (arr >= n)][0])
        raise ValueError(f"{name} holds {bad}, outside [0, {n - 1}]")
    return arr


def _check_data(data, n: int) -> PreferenceData:
    if not isinstance(data, PreferenceData):
        raise TypeError(f"data: expected a PreferenceData, got {type(data).__name__}")
    if data.n != n:
        raise ValueError(f"data.n = {data.n} does not match the {n} responses of P / ref")
    return data


def _int(name, value, minimum=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} = {value!r} must be an integer >= {minimum}")
    return int(value)


def _reward(r, name="r") -> np.ndarray:
    try:
        arr = np.asarray(r, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array of numbers ({exc})") from None
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} has shape {arr.shape}, expected (n,) or (X, n)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


# ------------------------------------------------------------------------- data


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws, one per row of ``cdf`` (last axis)."""
    return np.minimum((cdf < u[:, None]).sum(-1), cdf.shape[-1] - 1)


def sample_preferences(P, n_pairs: int, rng=None, mu=None, rho=None) -> PreferenceData:
    r"""Draw ``n_pairs`` labelled pairs.

    Single prompt (``P`` of shape ``(n, n)``): :math:`y, y' \sim \mu` i.i.d. (``mu=None``:
    uniform; ``y = y'`` allowed), labelled with :math:`\Pr(y \succ y') = P[y, y']`.
    Several prompts (``P`` of shape ``(X, n, n)``): the prompt :math:`x \sim \rho`
    (``rho=None``: uniform), then :math:`y, y' \sim \mu(\cdot|x)` (``mu`` ``(n,)`` or
    ``(X, n)``) labelled with :math:`P[x, y, y']`."""
    P = check_preference_matrix(P)
    n = P.shape[-1]
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 0:
        raise ValueError(f"n_pairs = {n_pairs!r} must be a non-negative integer")
    rng = as_rng(rng)
    if P.ndim == 2:
        if rho is not None:
            raise ValueError("sample_preferences: rho (the prompt distribution) needs P of "
                             "shape (X, n, n)")
        m = _reference(mu, n, (), "mu")
        y = rng.choice(n, size=n_pairs, p=m)
        yp = rng.choice(n, size=n_pairs, p=m)
        win = rng.random(n_pairs) < P[y, yp]
        return PreferenceData(np.where(win, y, yp), np.where(win, yp, y), n)
    X = P.shape[0]
    r_x = _reference(rho, X, (), "rho")
    m = _reference(mu, n, (X,), "mu")
    x = _draw(np.cumsum(r_x)[None, :], rng.random(n_pairs))
    cdf = np.cumsum(m, -1)[x]
    y = _draw(cdf, rng.random(n_pairs))
    yp = _draw(cdf, rng.random(n_pairs))
    win = rng.random(n_pairs) < P[x, y, yp]
    return PreferenceData(np.where(win, y, yp), np.where(win, yp, y), n, x, X)


# ------------------------------------------------------------------------- Bradley-Terry


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


def _bt_objective(W, r, kappa, anchor):
    """Negative log-likelihood + ridge, its gradient and Hessian."""
    d = r[:, None] - r[None, :]
    s = _sigmoid(d)
    f = -np.sum(W * _log_sigmoid(d)) + 0.5 * kappa * np.sum((r - anchor) ** 2)
    g = -((W * (1 - s)).sum(1) - (W.T * s).sum(1)) + kappa * (r - anchor)
    N = W + W.T
    Hw = N * s * (1 - s)
    H = np.diag(Hw.sum(1)) - Hw + kappa * np.eye(len(r))
    return f, g, H


def bradley_terry_mle_bounded(
    W, r_max: float, *, anchor=None, ridge: float = 1e-9, tol: float = 1e-12,
    max_iter: int = 200,
) -> BTFit:
    r"""Bradley-Terry MLE over the bounded class :math:`r \in [0, R_{\max}]^n`.

    Minimises :math:`-\sum W[y,y']\log\sigma(r_y - r_{y'}) + \tfrac\kappa2\|r - a\|^2` over the
    box by projected Newton (Bertsekas 1982) with :math:`\kappa =` ``ridge`` :math:`\cdot
    \max(1, \sum W)` and anchor :math:`a` (default :math:`R_{\max}/2`): the vanishing ridge only
    breaks ties -- a response absent from the data stays at its anchor, a response that won (lost)
    all its comparisons goes to the upper (lower) bound. Always has a solution (compact set).
    ``converged`` when the projected gradient is below ``tol * max(1, sum W)``.
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W has shape {W.shape}, expected (n, n)")
    if np.any(W < 0) or not np.all(np.isfinite(W)):
        raise ValueError("W must be finite and non-negative")
    r_max = _number("r_max", r_max, positive=True)
    ridge = _number("ridge", ridge, positive=True)
    n = W.shape[0]
    a = np.full(n, r_max / 2) if anchor is None else np.broadcast_to(
        np.asarray(anchor, dtype=float), (n,)).copy()
    if not np.all(np.isfinite(a)):
        raise ValueError("anchor must be finite")
    W = W.copy()
    np.fill_diagonal(W, 0.0)  # self-comparisons carry no information
    scale = max(1.0, W.sum())
    kappa = ridge * scale
    r = np.clip(a, 0.0, r_max)
    f, g, H = _bt_objective(W, r, kappa, a)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - reported below
        pg = float(np.max(np.abs(r - np.clip(r - g, 0.0, r_max))))
        eps = min(1e-9 * r_max, pg)
        active = ((r <= eps) & (g > 0)) | ((r >= r_max - eps) & (g < 0))
        free = ~active
        d = np.zeros(n)
        if free.any():
            d[free] = -np.linalg.solve(H[np.ix_(free, free)], g[free])
        diag = np.maximum(np.diag(H), kappa)
        d[active] = -g[active] / diag[active]
        step = 1.0
        for _ in range(60):
            rn = np.clip(r + step * d, 0.0, r_max)
            fn, gn_, Hn = _bt_objective(W, rn, kappa, a)
            decrease = -(g[free] @ (step * d[free])) + g[active] @ (r[active] - rn[active])
            if fn <= f - 1e-4 * decrease or abs(fn - f) <= 1e-15 * max(1.0, abs(f)):
                break
            step *= 0.5
        moved = float(np.max(np.abs(rn - r)))
        r, f, g, H = rn, fn, gn_, Hn
        if moved <= 1e-14 * r_max:
            break
    pg = float(np.max(np.abs(r - np.clip(r - g, 0.0, r_max))))
    return BTFit(r, pg, it, bool(pg <= tol * scale))


def _win_weights(P, mu, data, who) -> np.ndarray:
    """Pair weights ``W`` of the BT likelihood: ``(n, n)``, or ``(X, n, n)`` with prompts."""
    P = check_preference_matrix(P)
    n = P.shape[-1]
    if data is not None:
        data = _check_data(data, n)
        if P.ndim == 3 and data.n_prompts != P.shape[0]:
            raise ValueError(f"{who}: data has {data.n_prompts} prompt(s) but P has "
                             f"{P.shape[0]}")
        return data.counts()
    m = _reference(mu, n, P.shape[:-2], "mu")
    return m[..., :, None] * m[..., None, :] * P


def _fit_reward(P, mu, data, r_max, anchor=None, who="dpo_optimum"):
    W = _win_weights(P, mu, data, who)
    if W.ndim == 3:  # one independent fit per prompt (tabular policies)
        return np.stack([_fit_reward_one(w, r_max, anchor, f"{who} (prompt {x})")
                         for x, w in enumerate(W)])
    return _fit_reward_one(W, r_max, anchor, who)


def _fit_reward_one(W, r_max, anchor, who):
    if r_max is not None:
        return bradley_terry_mle_bounded(W, r_max, anchor=anchor).reward
    fit = bradley_terry_mle(W)
    if not fit.converged:
        raise ValueError(
            f"{who}: the loss has no finite minimiser (some responses win or lose every "
            "comparison they appear in: the Bradley-Terry likelihood is maximised at infinity); "
            "pass r_max to optimise over the bounded class r in [0, r_max]^n"
        )
    return fit.reward


# ------------------------------------------------------------------------- KL / DPO / IPO


def kl_regularized_optimum(r, beta: float, ref=None) -> PolicyOptimum:
    r""":math:`\pi_r \propto \pi_{\rm ref}e^{r/\beta}`, the optimum of
    :math:`\mathbb E_\pi r - \beta\mathrm{KL}(\pi\|\pi_{\rm ref})` (``beta > 0``)."""
    beta = _number("beta", beta, positive=True)
    r = _reward(r)
    ref = _reference(ref, r.shape[-1], r.shape[:-1])
    with np.errstate(divide="ignore"):
        return PolicyOptimum(_softmax(np.log(ref) + r / beta), beta, "kl-rlhf", r)


def dpo_optimum(P, beta: float, ref=None, mu=None, data: PreferenceData | None = None,
                r_max: float | None = None) -> PolicyOptimum:
    r"""Minimiser of the DPO loss: the population loss (pairs from :math:`\mu\otimes\mu`, labels
    from ``P``), or the empirical loss of ``data`` when given. Equals the KL-regularized optimum of
    the Bradley-Terry MLE reward (finite when the comparison graph is strongly connected;
    otherwise a ``ValueError`` explains that no minimiser exists). With ``r_max``, the minimiser
    over the bounded class :math:`\{\pi_r: r \in [0, R_{\max}]^n\}`, i.e. the KL optimum of
    :func:`bradley_terry_mle_bounded` (always exists)."""
    r = _fit_reward(P, mu, data, r_max, who="dpo_optimum")
    out = kl_regularized_optimum(r, beta, ref)
    return PolicyOptimum(out.policy, out.beta, "dpo", r)


def ipo_optimum(P, tau: float, ref=None, mu=None, data: PreferenceData | None = None
                ) -> PolicyOptimum:
    r"""Minimiser of the IPO loss: population (:math:`\pi \propto \pi_{\rm ref}
    \exp(P(y\succ\mu)/\tau)` on the support of :math:`\mu`, ``mu=None``: uniform), or the
    empirical squared loss of ``data`` (the minimum-norm least-squares solution on the comparison
    graph, see the module docstring; ``reward`` holds :math:`\tau g`)."""
    P = check_preference_matrix(P)
    tau = _number("tau", tau, positive=True)
    n = P.shape[-1]
    if data is not None:
        C = _win_weights(P, None, data, "ipo_optimum")
        g = np.stack([_ipo_least_squares(c, tau) for c in C.reshape(-1, n, n)])
        g = g.reshape(C.shape[:-1])
        ref = _reference(ref, n, g.shape[:-1])
        with np.errstate(divide="ignore"):
            return PolicyOptimum(_softmax(np.log(ref) + g), tau, "ipo", tau * g)
    m = _reference(mu, n, P.shape[:-2], "mu")
    pm = np.einsum("...ij,...j->...i", P, m)
    ref = _reference(ref, n, pm.shape[:-1])
    with np.errstate(divide="ignore"):
        return PolicyOptimum(_softmax(np.log(ref) + pm / tau), tau, "ipo", pm)


def _ipo_least_squares(C, tau):
    """Minimum-norm solution of the IPO normal equations L g = (wins - losses) / (2 tau)."""
    C = C.copy()
    np.fill_diagonal(C, 0.0)  # y = y' pairs: h = 0, a constant in the loss
    N = C + C.T
    L = np.diag(N.sum(1)) - N
    b = (C.sum(1) - C.sum(0)) / (2.0 * tau)
    return np.linalg.lstsq(L, b, rcond=None)[0]


def dpo_loss(pi, data: PreferenceData, beta: float, ref=None) -> np.ndarray | float:
    r"""Mean empirical DPO loss :math:`-\frac1N\sum_i \log\sigma(\beta\log\frac{\pi(y_{w,i})}
    {\pi_{\rm ref}(y_{w,i})} - \beta\log\frac{\pi(y_{l,i})}{\pi_{\rm ref}(y_{l,i})})`; ``pi`` may
    carry leading axes (several policies)."""
    return _pair_loss(pi, data, beta, ref, "kl", None)


def chipo_loss(pi, data: PreferenceData, beta: float, ref=None, r_max: float | None = None
               ) -> np.ndarray | float:
    r"""Mean empirical chi-PO loss :math:`-\frac1N\sum_i\log\sigma(\mathrm{clip}_{2R_{\max}}
    [\beta\phi(\pi(y_w)/\pi_{\rm ref}(y_w)) - \beta\phi(\pi(y_l)/\pi_{\rm ref}(y_l))])`,
    :math:`\phi(z) = z + \log z` (no clipping when ``r_max`` is ``None``)."""
    return _pair_loss(pi, data, beta, ref, "chi-mix", r_max)


def _pair_loss(pi, data, beta, ref, link, r_max):
    beta = _number("beta", beta, positive=True)
    pi = np.asarray(pi, dtype=float)
    n = pi.shape[-1]
    data = _check_data(data, n)
    h = implied_reward(pi, beta, ref, link=link)
    if data.n_prompts > 1:
        if pi.ndim < 2 or pi.shape[-2] != data.n_prompts:
            raise ValueError(f"pi has shape {pi.shape}; data with {data.n_prompts} prompts "
                             f"needs (..., {data.n_prompts}, {n})")
        d = h[..., data.prompt, data.winner] - h[..., data.prompt, data.loser]
    else:
        d = h[..., data.winner] - h[..., data.loser]
    if r_max is not None:
        r_max = _number("r_max", r_max, positive=True)
        d = np.clip(d, -2 * r_max, 2 * r_max)
    out = -np.mean(_log_sigmoid(d), axis=-1) if len(data.winner) else np.zeros(pi.shape[:-1])
    return float(out) if np.ndim(out) == 0 else out


# ------------------------------------------------------------------------- chi-PO


def chi_mix_link(z) -> np.ndarray:
    r""":math:`\phi(z) = z + \log z` (:math:`z > 0`), the derivative of
    :math:`f(z) = \tfrac12(z-1)^2 + z\log z`."""
    z = np.asarray(z, dtype=float)
    with np.errstate(divide="ignore"):
        return z + np.log(z)


def chi_mix_link_inverse(u) -> np.ndarray:
    r""":math:`\phi^{-1}(u) = W_0(e^u)`: the solution :math:`z > 0` of :math:`z + \log z = u`,
    for any finite ``u`` (no overflow: Newton on :math:`e^t + t = u`, :math:`z = e^t`)."""
    u = np.asarray(u, dtype=float)
    t, _ = _chi_inverse_log(u)
    return np.exp(t)


def _chi_inverse_log(u):
    """t with e^t + t = u (Newton from the right of the root: monotone, quadratic)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(u <= 1.0, u, np.log(np.maximum(u, 1.0)))
    for it in range(100):  # noqa: B007
        e = np.exp(t)
        step = (e + t - u) / (e + 1.0)
        t = t - step
        if np.all(np.abs(step) <= 4e-16 * np.maximum(1.0, np.abs(t))):
            break
    return t, it


def chi_mix_optimum(r, beta: float, ref=None, *, max_iter: int = 200) -> PolicyOptimum:
    r"""The optimum of :math:`\mathbb E_\pi r - \beta D_{\rm mix}(\pi\|\pi_{\rm ref})`
    (:math:`D_{\rm mix} = D_{\chi^2} + \mathrm{KL}`):
    :math:`\pi(y) = \pi_{\rm ref}(y)\,W_0(e^{(r(y)-\lambda)/\beta})` with the normaliser
    :math:`\lambda` (``normalizer``) found by monotone Newton (see the module docstring).

    ``r`` is ``(n,)`` or ``(X, n)`` (one reward vector per prompt); ``ref`` ``(n,)`` or
    ``(X, n)``; ``beta > 0``. Responses with :math:`\pi_{\rm ref} = 0` get no mass.
    """
    beta = _number("beta", beta, positive=True)
    r = _reward(r)
    n = r.shape[-1]
    ref = _reference(ref, n, r.shape[:-1])
    r = np.broadcast_to(r, ref.shape)
    supp = ref > 0
    rmin = np.min(np.where(supp, r, np.inf), -1, keepdims=True)
    rmax = np.max(np.where(supp, r, -np.inf), -1, keepdims=True)
    lam = rmin - beta  # left end of the bracket: the constraint function is >= 0 there
    hi = rmax - beta
    for _ in range(max_iter):
        t, _ = _chi_inverse_log((r - lam) / beta)
        z = np.exp(t)
        g = np.sum(ref * z, -1, keepdims=True) - 1.0
        dg = -np.sum(ref * z / (1.0 + z), -1, keepdims=True) / beta
        step = -g / dg
        lam_new = np.minimum(lam + step, hi)  # convex decreasing: Newton increases monotonically
        done = np.abs(lam_new - lam) <= 4e-16 * (np.abs(lam) + beta)
        lam = np.where(done, lam, lam_new)
        if np.all(done):
            break
    t, _ = _chi_inverse_log((r - lam) / beta)
    pi = ref * np.exp(t)
    pi = pi / pi.sum(-1, keepdims=True)  # removes the last ~1e-16 of the root's residual
    return PolicyOptimum(pi, beta, "chi-mix", np.array(r), lam[..., 0] if lam.ndim > 1
                         else float(lam[0]))


def chipo_optimum(P, beta: float, ref=None, mu=None, data: PreferenceData | None = None,
                  r_max: float | None = None) -> PolicyOptimum:
    r"""Minimiser of the chi-PO loss: population (pairs :math:`\mu\otimes\mu`, labels ``P``) or
    empirical (``data``). It is the chi-mix optimum :func:`chi_mix_optimum` of the Bradley-Terry
    MLE reward -- the same fitted reward as :func:`dpo_optimum`, with the link
    :math:`\phi(z) = z + \log z` instead of :math:`\log z`. ``r_max=None`` minimises the
    unclipped loss over all policies (needs a finite MLE); with ``r_max`` the class is
    :math:`\{\pi^{\rm mix}_r : r\in[0,R_{\max}]^n\}`, on which the clip at :math:`2R_{\max}` is
    inactive."""
    r = _fit_reward(P, mu, data, r_max, who="chipo_optimum")
    out = chi_mix_optimum(r, beta, ref)
    return PolicyOptimum(out.policy, out.beta, "chipo", r, out.normalizer)


def implied_reward(pi, beta: float, ref=None, *, link: str = "kl") -> np.ndarray:
    r"""Implicit reward of a policy: :math:`\beta\log(\pi/\pi_{\rm ref})` (``link="kl"``, DPO) or
    :math:`\beta\phi(\pi/\pi_{\rm ref})` (``link="chi-mix"``, chi-PO); for the optimum of a reward
    :math:`r` it equals :math:`r` minus a constant (:math:`\beta\log Z`, resp. :math:`\lambda`)."""
    beta = _number("beta", beta, positive=True)
    pi = np.asarray(pi, dtype=float)
    ref = _reference(ref, pi.shape[-1], np.shape(ref)[:-1] if np.ndim(ref) > 1 else ())
    with np.errstate(divide="ignore"):
        z = pi / ref
        if link == "kl":
            return beta * np.log(z)
        if link == "chi-mix":
            return beta * chi_mix_link(z)
    raise ValueError(f"link = {link!r}: expected 'kl' or 'chi-mix'")


def mixed_divergence(pi, ref=None) -> np.ndarray | float:
    r""":math:`D_{\rm mix}(\pi\|\pi_{\rm ref}) = \tfrac12(\sum_y\pi^2/\pi_{\rm ref} - 1)
    + \mathrm{KL}(\pi\|\pi_{\rm ref})` (chi-PO's regularizer; last axis)."""
    pi = np.asarray(pi, dtype=float)
    ref = _reference(ref, pi.shape[-1])
    out = 0.5 * (concentrability(pi, ref) - 1.0) + kl_divergence(pi, ref)
    return float(out) if np.ndim(out) == 0 else out


def concentrability(pi, ref=None) -> np.ndarray | float:
    r"""Single-policy :math:`L_2` concentrability :math:`C^\pi = \mathbb E_\pi[\pi/\pi_{\rm ref}]
    = \sum_y \pi(y)^2/\pi_{\rm ref}(y) = 1 + 2D_{\chi^2}(\pi\|\pi_{\rm ref})` (``inf`` when
    :math:`\pi` puts mass where :math:`\pi_{\rm ref} = 0`)."""
    pi = np.asarray(pi, dtype=float)
    ref = _reference(ref, pi.shape[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pi > 0, pi**2 / ref, 0.0)
    out = terms.sum(-1)
    return float(out) if np.ndim(out) == 0 else out


# ------------------------------------------------------------------------- HyPO


def hypo_optimum(data: PreferenceData, beta: float, lam: float, ref=None, *,
                 tol: float = 1e-12, max_iter: int = 500) -> PolicyOptimum:
    r"""Minimiser of :math:`\sum_i -\log\sigma(\beta\log\frac{\pi(y_{w,i})}{\pi_{\rm ref}(y_{w,i})}
    - \beta\log\frac{\pi(y_{l,i})}{\pi_{\rm ref}(y_{l,i})}) / N + \lambda\,\mathrm{KL}(\pi\|
    \pi_{\rm ref})` over the simplex (HyPO with the exact reverse KL), by damped Newton on the
    logits started at :math:`\pi_{\rm ref}`. ``lam > 0``; ``ref`` must be positive."""
    beta = _number("beta", beta, positive=True)
    lam = _number("lam", lam, positive=True)
    n = data.n
    data = _check_data(data, n)
    if data.n_prompts > 1:
        raise ValueError("hypo_optimum: single-prompt data only (call it once per prompt)")
    ref = _reference(ref, n)
    if np.any(ref <= 0):
        raise ValueError("hypo_optimum: ref must be strictly positive")
    C = data.counts()
    np.fill_diagonal(C, 0.0)
    Nd = max(len(data.winner), 1)
    logref = np.log(ref)

    def parts(theta):
        lp = theta - np.logaddexp.reduce(theta)
        pi = np.exp(lp)
        g = lp - logref  # log pi/ref
        d = beta * (g[:, None] - g[None, :])
        f_dpo = -np.sum(C * _log_sigmoid(d)) / Nd
        kl = float(pi @ g)
        s = _sigmoid(-d)  # sigma(-d)
        # d f_dpo / d g_y  (g as free coordinates)
        Gg = -beta * ((C * s).sum(1) - (C.T * s.T).sum(1)) / Nd
        Hg_w = beta**2 * (C + C.T) * s * (1 - s) / Nd
        Hg = np.diag(Hg_w.sum(1)) - Hg_w
        J = np.eye(n) - pi[None, :]  # dg/dtheta
        grad = J.T @ Gg + lam * pi * (g - kl)  # grad of KL(softmax(theta)||ref) in theta
        Hkl = lam * (np.diag(pi * (g - kl + 1)) - np.outer(pi, pi) * (1 + (g - kl)[:, None]
                                                                    + (g - kl)[None, :]))
        # exact Hessian of the DPO part: J^T Hg J (the second-derivative term of g vanishes
        # because sum_y Gg_y = 0)
        H = J.T @ Hg @ J + Hkl
        return f_dpo + lam * kl, grad, H

    theta = logref.copy()
    f, g, H = parts(theta)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        if np.max(np.abs(g)) <= tol:
            break
        # Newton on the gauge-fixed system (theta has a null direction 1)
        A = H + np.outer(np.ones(n), np.ones(n)) / n
        try:
            d = -np.linalg.solve(A, g)
        except np.linalg.LinAlgError:  # pragma: no cover
            d = -g
        if g @ d >= 0:
            d = -g
        step = 1.0
        for _ in range(60):
            fn, gn, Hn = parts(theta + step * d)
            if fn <= f + 1e-4 * step * (g @ d) or abs(fn - f) <= 1e-16 * max(1.0, abs(f)):
                break
            step *= 0.5
        theta = theta + step * d
        f, g, H = fn, gn, Hn
    pi = _softmax(theta)
    return PolicyOptimum(pi, beta, "hypo", beta * (theta - logref - np.mean(theta - logref)))


# ------------------------------------------------------------------------- XPO


def _xpo_objective(r, C, expl_counts, alpha, beta, logref):
    """XPO objective in the reward parametrisation pi_r = ref e^{r/beta}/Z and its gradient."""
    d = r[:, None] - r[None, :]
    f = -np.sum(C * _log_sigmoid(d))
    s = _sigmoid(-d)
    g = -((C * s).sum(1) - (C.T * s.T).sum(1))
    if alpha > 0:
        z = logref + r / beta
        lz = np.logaddexp.reduce(z)
        pi = np.exp(z - lz)
        T = expl_counts.sum()
        f += alpha * (expl_counts @ (r / beta) - T * lz)
        g = g + alpha * (expl_counts - T * pi) / beta
    return f, g


def xpo(
    reward=None, beta: float = 0.1, alpha: float = 0.0, rounds: int = 100, ref=None, *,
    P=None, r_max: float = 1.0, rng=None, restarts: int | None = None,
) -> OnlineRun:
    r"""Exploratory preference optimisation (Xie et al., arXiv:2405.21046, Algorithm 1) on a finite
    response set, exact policies, simulated preferences.

    Each round draws :math:`y_t \sim \pi^t` and :math:`\tilde y_t \sim \pi_{\rm ref}`, labels the
    pair with :math:`P` (Bradley-Terry of ``reward`` unless ``P`` is given), and minimises the XPO
    objective (module docstring) over :math:`\{\pi_r: r\in[0, R_{\max}]^n\}` by L-BFGS-B from
    the previous solution, the bounded MLE and ``restarts`` optimistic vertices (one response at
    :math:`R_{\max}`, the others at 0; default: all ``n``). ``alpha = 0`` is online DPO: the
    objective is convex and its minimiser is the bounded MLE
    (:func:`bradley_terry_mle_bounded`) with the tie-breaking ridge anchored at the previous
    rewards, so responses absent from the data keep their previous reward and the level of
    each connected part of the comparison graph moves as little as possible. Returns an
    :class:`OnlineRun`.
    """
    from scipy.optimize import minimize

    from .games import bradley_terry

    beta = _number("beta", beta, positive=True)
    alpha = _number("alpha", alpha)
    r_max = _number("r_max", r_max, positive=True)
    rounds = _int("rounds", rounds)
    if P is None:
        if reward is None:
            raise ValueError("xpo: give the true reward or a preference matrix P")
        P = bradley_terry(_reward(reward, "reward"))
    P = check_preference_matrix(P)
    if P.ndim != 2:
        raise ValueError("xpo: P must be a single (n, n) matrix")
    n = P.shape[0]
    ref = _reference(ref, n)
    if np.any(ref <= 0):
        raise ValueError("xpo: ref must be strictly positive")
    restarts = n if restarts is None else _int("restarts", restarts)
    logref = np.log(ref)
    rng = as_rng(rng)
    C = np.zeros((n, n))
    expl = np.zeros(n)
    r = np.full(n, r_max / 2)
    pols = [ref.copy()]
    rews = [r.copy()]
    win, lose, ex = [], [], []
    bounds = [(0.0, r_max)] * n
    for _ in range(rounds):
        pi = _softmax(logref + r / beta)
        y = int(rng.choice(n, p=pi))
        yt = int(rng.choice(n, p=ref))
        if rng.random() < P[y, yt]:
            w, l_ = y, yt
        else:
            w, l_ = yt, y
        win.append(w)
        lose.append(l_)
        ex.append(yt)
        if w != l_:
            C[w, l_] += 1.0
        expl[yt] += 1.0
        # the bounded MLE with its tie-breaking ridge anchored at the previous rewards: the
        # exact minimiser for alpha = 0 (convex), responses absent from the data unchanged
        mle = bradley_terry_mle_bounded(C, r_max, anchor=r).reward
        if alpha > 0:
            starts = [r.copy(), mle]
            # optimistic vertices: one response at the top, the rest at the bottom
            for k in rng.choice(n, size=min(restarts, n), replace=False):
                s0 = np.zeros(n)
                s0[k] = r_max
                starts.append(s0)
            best = None
            for s0 in starts:
                res = minimize(_xpo_objective, s0, args=(C, expl, alpha, beta, logref),
                               jac=True, method="L-BFGS-B", bounds=bounds,
                               options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
                if best is None or res.fun < best.fun:
                    best = res
            mle = best.x
        r = np.clip(mle, 0.0, r_max)
        pols.append(_softmax(logref + r / beta))
        rews.append(r.copy())
    data = PreferenceData(np.array(win, dtype=int), np.array(lose, dtype=int), n)
    return OnlineRun("xpo" if alpha > 0 else "online-dpo", np.array(pols), np.array(rews), data,
                     np.array(ex, dtype=int), beta, alpha, r_max, ref,
                     {"restarts": restarts, "explore_policy": "ref"})


# ------------------------------------------------------------------------- online IPO


def online_ipo(
    P, tau: float, ref=None, *, mixture: float = 0.0, eta: float = 1.0, iterations: int = 1000,
    pi0=None, record_every: int = 1,
) -> GameTrajectory:
    r"""Online IPO (``mixture = 0``) and IPO-MD (Calandriello et al., arXiv:2403.08635):
    gradient descent with step ``eta`` on the logits of the exact IPO population loss
    :math:`\sum_{y,y'}\mu(y)\mu(y')P[y,y'](g_y - g_{y'} - \tfrac1{2\tau})^2`,
    :math:`g = \log\pi/\pi_{\rm ref}`, with the sampling distribution frozen at
    :math:`\mu = \pi_t^{1-m}\pi_{\rm ref}^{m}` (stop-gradient; :math:`m` = ``mixture``).
    Fixed point: :math:`\pi \propto \pi_{\rm ref}e^{P\mu/\tau}`; for ``mixture = 0`` the
    regularized equilibrium :math:`\pi^*_\tau`. Vectorized over prompts (``P`` ``(X, n, n)``).
    Returns a :class:`~mdplab.learn.games.GameTrajectory` (``beta`` = ``tau``).
    """
    P, tau, r, p0, T, every = _setup(P, tau, ref, pi0, iterations, record_every)
    m = _number("mixture", mixture)
    if m >= 1:
        raise ValueError(f"mixture = {m!r} must lie in [0, 1)")
    eta = _number("eta", eta, positive=True)
    c = 1.0 / (2.0 * tau)
    logr = np.log(r)
    theta = np.log(p0)
    rec = _Recorder(p0, T, every, 1)
    pi = p0
    PT = np.swapaxes(P, -1, -2)
    for t in range(T):
        mz = (1 - m) * theta + m * logr
        mu = _softmax(mz)
        g = theta - np.logaddexp.reduce(theta, axis=-1, keepdims=True) - logr
        D = g[..., :, None] - g[..., None, :] - c  # g_y - g_y' - c
        E = g[..., None, :] - g[..., :, None] - c  # g_y' - g_y - c  (y' wins)
        # dL/dg_z = 2 mu_z sum_y' mu_y' [P[z,y'] (g_z-g_y'-c) - P[y',z] (g_y'-g_z-c)]
        G = 2 * mu * np.sum(mu[..., None, :] * (P * D - PT * E), axis=-1)
        grad = G - pi * G.sum(-1, keepdims=True)
        theta = theta - eta * grad
        theta = theta - np.max(theta, -1, keepdims=True)
        pi = _softmax(theta)
        rec.step(t + 1, pi)
    return rec.result("ipo-md" if m > 0 else "online-ipo", pi, tau, r,
                      {"eta": eta, "mixture": m})

