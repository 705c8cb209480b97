r"""Offline RL on finite-horizon tabular MDPs: pessimism (PEVI / VI-LCB), the naive plug-in,
behavior-KL regularization and a tabular PRDC.

Data sets, behavior policies, coverage and the empirical model :math:`(\hat P, \hat r, n)` are in
:mod:`mdplab.learn.offline_data` (re-exported here). Steps are :math:`h = 0, \dots, H-1`,
rewards lie in :math:`[0, 1]`, so :math:`0 \le V_h \le H - h`.

PEVI / VI-LCB
-------------
Jin, Yang & Wang (2021), *Is pessimism provably efficient for offline RL?*, ICML,
arXiv:2012.15085, Algorithm 1 (PEVI for a general MDP) and its data-dependent suboptimality
bound (Sec. 4; theorem numbering unverified here); Rashidinejad, Zhu, Ma, Jiao & Russell (2021),
arXiv:2103.12021 (VI-LCB, rate :math:`\tilde O(\sqrt{S C^*/N})`; numbering unverified).
With :math:`\hat V_H = 0`,

.. math::

    \hat Q_h(s,a) = \mathrm{clip}_{[0,\,H-h]}\big(\hat r_h(s,a) + \hat P_h(\cdot|s,a)^\top
    \hat V_{h+1} - \Gamma_h(s,a)\big), \quad \hat\pi_h(s) = \arg\max_a \hat Q_h(s,a), \quad
    \hat V_h(s) = \max_a \hat Q_h(s,a)

(exact ties, frequent when the clipped estimates are 0, go to the action seen most often at
:math:`(h, s)`; the guarantees hold for any tie-breaking).

Penalty ``bonus="l1"`` (default; rigorous). With :math:`\delta' = \delta / (2HSAN)` (a union
bound over steps, pairs, the possible counts :math:`n \le N` and the two inequalities) and
:math:`n = n_h(s,a) \ge 1`,

.. math::

    \Gamma_h(s,a) = \min\Big(H - h,\; c\Big[\sqrt{\tfrac{\log(2/\delta')}{2n}}
      + \tfrac{H-h-1}{2}\sqrt{\tfrac{2(S\log 2 + \log(1/\delta'))}{n}}\Big]\Big),

and :math:`\Gamma_h(s,a) = H - h` when :math:`n = 0`. The first term is Hoeffding's inequality for
the mean reward; the second bounds :math:`|(\hat P - P)V|` for **every** :math:`V` with values in
:math:`[0, H-h-1]` by :math:`\|\hat P - P\|_1 (H-h-1)/2`, with the :math:`L_1` deviation
inequality :math:`\Pr(\|\hat P - P\|_1 \ge \varepsilon) \le (2^S - 2) e^{-n\varepsilon^2/2}`
(Weissman, Ordentlich, Seroussi, Verdú & Weinberger 2003, HP Labs HPL-2003-97; numbering
unverified), so it also holds for the data-dependent :math:`\hat V_{h+1}`; the i.i.d. structure
of the :math:`k`-th visit to :math:`(h,s,a)` is the usual "stack of samples" argument. With
``scale = c = 1``, with probability at least :math:`1 - \delta`,
:math:`|(\hat B_h \hat V_{h+1} - B_h \hat V_{h+1})(s,a)| \le \Gamma_h(s,a)` everywhere
(:math:`\Gamma` is a :math:`\delta`-uncertainty quantifier in Jin et al.'s sense), hence

.. math::

    \hat V_0 \le V^{\hat\pi}_0 \quad\text{(the estimate is a lower bound)}, \qquad
    V^{\pi}_0(s) - V^{\hat\pi}_0(s) \le 2 \sum_{h} \mathbb E_{\pi}\big[\Gamma_h(s_h, a_h)
    \,\big|\, s_0 = s\big] \quad\text{for every comparator } \pi,

the data-dependent bound (:func:`pevi_bound`, with :math:`\pi = \pi^*`). ``bonus="hoeffding"``
is the common practical choice :math:`\Gamma = c\,(H-h)\sqrt{\log(2HSAN/\delta)/(2n)}`
(Hoeffding for a *fixed* :math:`V`; not a uniform bound over the data-dependent
:math:`\hat V`).

``bonus="bernstein"``: the Bernstein-style penalty of VI-LCB in Li, Shi, Chen, Chi & Wei (2022),
*Settling the sample complexity of model-based offline RL*, arXiv:2204.05275 (finite-horizon
VI-LCB; equation numbering unverified),

.. math::

    \Gamma_h(s,a) = \min\Big\{\max\Big\{\sqrt{\frac{c_b\,\iota\,\widehat{\mathrm{Var}}_h(s,a)}
      {n}},\; \frac{2 c_b (H-h)\,\iota}{n}\Big\},\; H-h\Big\}, \qquad
    \iota = \log\frac{4HSAN}{\delta},

with :math:`c_b = c` (``scale``, default 1) and :math:`\widehat{\mathrm{Var}}_h(s,a)` the unbiased
sample variance, over the :math:`n = n_h(s,a)` visits, of the one-step targets
:math:`y_i = r^i_h + \hat V_{h+1}(s^i_{h+1}) \in [0, H-h]` (whose mean is
:math:`\hat r_h + \hat P_h \hat V_{h+1}`; Li et al. state the variance of
:math:`\hat V_{h+1}` under :math:`\hat P_h`, with known rewards; we put the reward noise in the
same variance); :math:`\Gamma = H - h` when :math:`n \le 1`. The penalty is computed inside the
backward pass (it needs :math:`\hat V_{h+1}`), so :func:`pevi_bonus` does not offer it.
Li et al. take :math:`c_b` "large enough" and handle the data-dependent :math:`\hat V_{h+1}` by
a leave-one-out argument; we make no uniform guarantee for the default :math:`c_b = 1` (like
``"hoeffding"``, it is the practical choice; the lower-bound property is checked over seeds in
the tests). With ``scale >= 8``, since :math:`\max(x, y) \ge (x+y)/2`, :math:`\Gamma` is at least
the one-sided empirical Bernstein deviation of Maurer & Pontil (2009, *Empirical Bernstein
bounds and sample variance penalization*, COLT; theorem numbering unverified),
:math:`\sqrt{2\widehat{\mathrm{Var}}\,\iota/n} + 7(H-h)\iota/(3(n-1))` for :math:`n \ge 2`: a
valid quantifier for a *fixed* next-step value. The penalty is smaller than the ``"l1"`` and
``"hoeffding"`` ones when the targets have a small variance (nearly deterministic transitions
and rewards) and :math:`n \gg c_b\,\iota`; the :math:`1/n` term makes it larger for small
counts.

Coverage form (our derivation from the data-dependent bound). If every pair satisfies
:math:`n_h(s,a) \ge N d^\mu_h(s,a)/2` (true with high probability once
:math:`N d^\mu_h(s,a) \gtrsim \log(HSA/\delta)`, multiplicative Chernoff) and :math:`\pi^*` is
deterministic, then :math:`d^{\pi^*}_h \le C^* d^\mu_h` and Cauchy-Schwarz over the at most
:math:`S` pairs of :math:`\pi^*` at each step give

.. math::

    V^* - V^{\hat\pi} \le 2\sqrt{\frac{2 S C^*}{N}} \sum_h k_h, \qquad
    k_h = \sqrt{\tfrac{\log(2/\delta')}{2}} + \tfrac{H-h-1}{2}\sqrt{2(S\log 2 + \log(1/\delta'))}

(:func:`pevi_coverage_bound`): the :math:`\sqrt{C^*/N}` shape of VI-LCB.

Naive plug-in and behavior-KL regularization
--------------------------------------------
:func:`plugin` is value iteration on the empirical model (``Gamma = 0``); pairs absent from the
data get reward 0 and a self-loop, or, with ``unvisited="optimistic"``, the value
:math:`H - h` (the overestimation of unseen actions). :func:`behavior_regularized` solves the
KL-regularized problem on the empirical MDP toward the behavior estimate
:math:`\hat\mu_h(a|s) = (n_h(s,a) + \alpha)/(n_h(s) + A\alpha)` (uniform on unvisited states),

.. math:: \max_\pi \hat{\mathbb E}_\pi \Big[\sum_h \hat r_h - \beta\,\mathrm{KL}(\pi_h(\cdot|s_h)
          \,\|\, \hat\mu_h(\cdot|s_h))\Big],

with :func:`mdplab.solve` (``beta``, ``ref = mu_hat``): :math:`\beta \to \infty` gives behavior
cloning, :math:`\beta \to 0` the plug-in restricted to the support of :math:`\hat\mu` (with
``smoothing = 0``: the actions seen at each state).

PRDC (tabular analogue)
-----------------------
Ran, Li, Zhang, Zhang & Yu (2023), *Policy regularization with dataset constraint for offline
RL*, ICML, arXiv:2306.06569 (method and performance-gap analysis in Sec. 4; numbering
unverified). PRDC pulls the policy toward the nearest state-action pair of the whole data set in
the embedding :math:`x(s,a) = (\beta_{\rm prdc}\, e(s),\, g(a))` (official code: a KD-tree on
:math:`[\beta s, a]`, actor loss :math:`-\lambda Q(s,\pi(s)) + \|\pi(s) - \hat a\|^2` with
:math:`\lambda = \alpha / \overline{|Q|}`; defaults :math:`\alpha = 2.5`, :math:`\beta = 2`).
Tabular version (:func:`prdc`), per step :math:`h`, with :math:`D_h = \{(s,a): n_h(s,a) > 0\}`,
nearest data pair :math:`\nu_h(s,a) = \arg\min_{(\hat s,\hat a) \in D_h} \|x(s,a) - x(\hat s,\hat
a)\|` and distance :math:`c_h(s,a)`:

.. math::

    \hat Q_h(s,a) = \big[\hat r_h + \hat P_h \hat V_{h+1}\big](\nu_h(s,a)), \qquad
    \pi_h(s) = \arg\max_a \Big[\hat Q_h(s,a) - \frac{\overline{|\hat Q_h|}}{\alpha}\,
    c_h(s,a)^2\Big], \qquad \hat V_h(s) = \hat Q_h(s, \pi_h(s)).

(the Q-estimate of a pair is the one of its nearest data pair: the Lipschitz-generalisation
assumption of the paper made explicit). :math:`\beta_{\rm prdc} \to \infty`: the nearest pair
shares the state (a support constraint on actions seen at :math:`s`); :math:`\beta_{\rm prdc}
\to 0`: only the action matters.

Performance-gap bound (our tabular derivation of the paper's Lipschitz argument). Let
:math:`L_h` be the Lipschitz constant of the true :math:`Q^\pi_h` of the returned policy in the
embedding metric, :math:`e_h(\hat s,\hat a) = |\hat r_h - r_h + (\hat P_h - P_h)\hat V_{h+1}|`
the one-step statistical error at a data pair, and :math:`\Delta_h(s)` the recursion
:math:`\Delta_H = 0`,
:math:`\Delta_h(s) = L_h c_h(s,\pi_h(s)) + e_h(\nu) + P_h(\cdot|\nu)^\top \Delta_{h+1}` with
:math:`\nu = \nu_h(s, \pi_h(s))`. Then :math:`|\hat V_h - V^\pi_h| \le \Delta_h` (estimation gap,
linear in the constraint distances), and for every comparator :math:`\pi'` (performance
difference lemma plus the argmax property of :math:`\pi`), with
:math:`\delta_h(s,a) = L_h c_h(s,a) + e_h(\nu_h(s,a)) + P_h(\cdot|\nu_h(s,a))^\top\Delta_{h+1}`,

.. math::

    V^{\pi'}_0 - V^{\pi}_0 \le \sum_h \mathbb E_{s \sim d^{\pi'}_h}\Big[
      \kappa_h\big(c_h(s,\pi'(s))^2 - c_h(s,\pi(s))^2\big) + \delta_h(s,\pi'(s)) +
      \delta_h(s,\pi(s))\Big], \qquad \kappa_h = \overline{|\hat Q_h|}/\alpha

(:func:`prdc_bound`). As :math:`N \to \infty` the statistical terms vanish and the gap is linear
in the constraint distances, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mdp import TabularMDP, _as_float_array
from .offline_data import (
    Coverage,
    EmpiricalModel,
    OfflineDataset,
    _check_finite_horizon,
    _dense_P,
    _dense_R,
    _full_policy,
    adversarial_policy,
    behavior_policy,
    behavior_with_concentrability,
    check_dataset,
    concentrability,
    coverage,
    empirical_model,
    load_dataset,
    sample_dataset,
)

__all__ = [
    "Coverage",
    "EmpiricalModel",
    "OfflineDataset",
    "OfflineResult",
    "PRDCBound",
    "adversarial_policy",
    "behavior_estimate",
    "behavior_policy",
    "behavior_regularized",
    "behavior_with_concentrability",
    "check_dataset",
    "concentrability",
    "coverage",
    "empirical_model",
    "load_dataset",
    "pevi",
    "pevi_bonus",
    "pevi_bound",
    "pevi_coverage_bound",
    "plugin",
    "prdc",
    "prdc_bound",
    "sample_dataset",
]


@dataclass(frozen=True)
class OfflineResult:
    r"""A policy learned from a data set, with the learner's own value estimate.

    Attributes
    ----------
    policy : (H, S, A)
        The returned policy (deterministic except for :func:`behavior_regularized`).
    Q : (H, S, A)
        The learner's Q-estimate (pessimistic for PEVI; soft for behavior regularization).
    V : (H+1, S)
        The learner's value estimate of ``policy`` (``V[H] = 0``).
    penalty : (H, S, A)
        :math:`\Gamma` for PEVI, :math:`c_h(s,a)` (constraint distance) for PRDC, zeros else.
    counts : (H, S, A)
        :math:`n_h(s,a)`.
    method : str
    params : dict
        Hyper-parameters used.
    """

    policy: np.ndarray
    Q: np.ndarray
    V: np.ndarray
    penalty: np.ndarray
    counts: np.ndarray
    method: str
    params: dict

    def estimate(self, mu) -> float:
        """The learner's estimate of :math:`J = \\mu^\\top V_0`."""
        return float(np.asarray(mu, dtype=np.float64) @ self.V[0])


def _check_dataset_arg(dataset) -> OfflineDataset:
    if not isinstance(dataset, OfflineDataset):
        raise TypeError(f"dataset: expected an OfflineDataset, got {type(dataset).__name__}")
    return dataset


def _check_rewards01(dataset: OfflineDataset, what: str) -> None:
    r = dataset.rewards
    if r.min() < 0 or r.max() > 1:
        raise ValueError(
            f"dataset rewards span [{r.min():.6g}, {r.max():.6g}]; {what} assumes rewards in "
            "[0, 1]: rescale them"
        )


def _positive(name: str, value, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} = {value!r} must be {'>= 0' if allow_zero else '> 0'} and finite")
    return v


def _greedy_ties_to_data(Q: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """One-hot argmax of ``Q`` (S, A); exact ties go to the action seen most often in the data
    at that state (then the lowest index). PEVI's clipped estimates are often tied at 0 on
    small data sets, where "lowest index" would be an arbitrary choice."""
    best = Q >= Q.max(axis=-1, keepdims=True)
    score = np.where(best, counts, -1.0)
    return np.eye(Q.shape[-1])[np.argmax(score, axis=-1)]


# --------------------------------------------------------------------------- PEVI
def pevi_bonus(counts, S: int, N: int, *, delta: float = 0.05, bonus: str = "l1",
               scale: float = 1.0) -> np.ndarray:
    r"""The penalty :math:`\Gamma_h(s,a)` of :func:`pevi` for counts ``(H, S, A)`` (see the
    module docstring); ``N`` is the number of trajectories (for the union bound)."""
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 3:
        raise ValueError(f"counts has shape {n.shape}, expected (H, S, A)")
    delta = _positive("delta", delta)
    if delta >= 1:
        raise ValueError(f"delta = {delta!r} must lie in (0, 1)")
    scale = _positive("scale", scale)
    if bonus == "bernstein":
        raise ValueError("bonus = 'bernstein' depends on the next-step value estimates, not on "
                         "the counts alone: use pevi(dataset, bonus='bernstein')")
    if bonus not in ("l1", "hoeffding"):
        raise ValueError(f"bonus = {bonus!r}; expected 'l1' or 'hoeffding'")
    H, _, A = n.shape
    remaining = (H - np.arange(H, dtype=np.float64))[:, None, None]  # H - h
    safe = np.maximum(n, 1.0)
    if bonus == "l1":
        log_d = np.log(2.0 * H * S * A * max(int(N), 1) / delta)  # log(1/delta')
        eps_r = np.sqrt((np.log(2.0) + log_d) / (2.0 * safe))
        eps_p = np.sqrt(2.0 * (S * np.log(2.0) + log_d) / safe)
        g = scale * (eps_r + (remaining - 1.0) / 2.0 * eps_p)
    else:
        iota = np.log(2.0 * H * S * A * max(int(N), 1) / delta)
        g = scale * remaining * np.sqrt(iota / (2.0 * safe))
    g = np.minimum(g, remaining)
    return np.where(n > 0, g, np.broadcast_to(remaining, n.shape))


def _bernstein_bonus(counts, var, remaining, iota: float, scale: float = 1.0) -> np.ndarray:
    r"""The Bernstein-style penalty of Li, Shi, Chen, Chi & Wei (2022, arXiv:2204.05275,
    finite-horizon VI-LCB; numbering unverified), for one step (module docstring):

    .. math:: \Gamma = \min\{\max\{\sqrt{c_b\,\iota\,\widehat{\mathrm{Var}}/n},\;
              2 c_b B \iota / n\},\; B\}, \qquad c_b = \mathrm{scale},

    with ``B = remaining`` (:math:`H - h`, the range of the targets); :math:`\Gamma = B` where
    ``counts <= 1`` (no variance estimate). ``var`` is the unbiased sample variance of the
    one-step targets; arrays of the same shape."""
    n = np.asarray(counts, dtype=np.float64)
    v = np.maximum(np.asarray(var, dtype=np.float64), 0.0)  # rounding can give -1e-17
    B = np.broadcast_to(np.asarray(remaining, dtype=np.float64), n.shape)
    c_b = float(scale)
    safe = np.maximum(n, 1.0)
    g = np.maximum(np.sqrt(c_b * iota * v / safe), 2.0 * c_b * B * iota / safe)
    return np.where(n > 1, np.minimum(g, B), B)


def _target_moments(dataset: OfflineDataset, h: int, V_next: np.ndarray):
    r"""Per-pair sums of :math:`y_i = r^i_h + \hat V_{h+1}(s^i_{h+1})` and of :math:`y_i^2` at
    step ``h`` (arrays ``(S, A)``): the sample mean and variance of the one-step targets."""
    S, A = dataset.S, dataset.A
    sa = dataset.states[:, h] * A + dataset.actions[:, h]
    y = dataset.rewards[:, h] + V_next[dataset.states[:, h + 1]]
    s1 = np.bincount(sa, weights=y, minlength=S * A).reshape(S, A)
    s2 = np.bincount(sa, weights=y * y, minlength=S * A).reshape(S, A)
    return s1, s2


def _backward(model: EmpiricalModel, penalty, clip: bool,
              unvisited_value: str = "zero") -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    """Backward induction on the empirical model minus a penalty. ``penalty`` is an array
    ``(H, S, A)`` or a function ``(h, V_{h+1}) -> (S, A)`` (a value-dependent penalty);
    returns ``Q, V, policy, penalty array``."""
    P, R, n = model.P, model.R, model.counts
    H, S, A = R.shape
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    pol = np.empty((H, S, A))
    pen = np.empty((H, S, A))
    for h in range(H - 1, -1, -1):
        pen[h] = penalty(h, V[h + 1]) if callable(penalty) else penalty[h]
        q = R[h] + P[h] @ V[h + 1] - pen[h]
        unseen = n[h] == 0
        if unvisited_value == "optimistic":
            q = np.where(unseen, float(H - h), q)
        elif unvisited_value == "self":  # reward 0, self-loop: value V_{h+1}(s)
            q = np.where(unseen, V[h + 1][:, None] - pen[h], q)
        if clip:
            q = np.clip(q, 0.0, float(H - h))
        Q[h] = q
        pol[h] = _greedy_ties_to_data(q, n[h])
        V[h] = q.max(axis=1)
    return Q, V, pol, pen


def pevi(dataset: OfflineDataset, *, delta: float = 0.05, bonus: str = "l1",
         scale: float = 1.0) -> OfflineResult:
    r"""Pessimistic value iteration (PEVI / VI-LCB) on a finite-horizon data set.

    Parameters
    ----------
    dataset : OfflineDataset
        Rewards must lie in [0, 1].
    delta : float
        Failure probability of the uncertainty quantifier.
    bonus : {"l1", "hoeffding", "bernstein"}
        Penalty (module docstring); ``"l1"`` makes :math:`\hat V` a lower bound on the value of
        the returned policy with probability :math:`\ge 1 - \delta` when ``scale >= 1``;
        ``"bernstein"`` is the variance-aware penalty of Li et al. (2022, arXiv:2204.05275),
        recomputed at every step from the sample variance of
        :math:`r_h + \hat V_{h+1}(s_{h+1})`.
    scale : float
        Multiplier :math:`c` of the penalty (``"bernstein"``: the constant :math:`c_b`; ``>= 8``
        dominates the empirical Bernstein bound for a fixed next-step value).

    Examples
    --------
    >>> import mdplab as ml
    >>> from mdplab.learn import offline
    >>> mdp = ml.envs.random_mdp(4, 2, horizon=3, rng=0)
    >>> data = offline.sample_dataset(mdp, offline.behavior_policy(mdp), 2000, rng=1)
    >>> res = offline.pevi(data)
    >>> bool(res.estimate(mdp.mu) <= ml.evaluate(mdp, res.policy).J)
    True
    """
    _check_dataset_arg(dataset)
    _check_rewards01(dataset, "PEVI")
    model = empirical_model(dataset)
    if bonus == "bernstein":
        delta = _positive("delta", delta)
        if delta >= 1:
            raise ValueError(f"delta = {delta!r} must lie in (0, 1)")
        scale = _positive("scale", scale)
        H, S, A, N = dataset.H, dataset.S, dataset.A, dataset.N
        iota = float(np.log(4.0 * H * S * A * N / delta))
        n = model.counts

        def penalty(h, V_next):
            s1, s2 = _target_moments(dataset, h, V_next)
            with np.errstate(invalid="ignore", divide="ignore"):
                var = np.where(n[h] > 1, (s2 - s1 * s1 / np.maximum(n[h], 1.0))
                               / np.maximum(n[h] - 1.0, 1.0), 0.0)
            return _bernstein_bonus(n[h], var, float(H - h), iota, scale)

        Q, V, pol, gamma_ = _backward(model, penalty, clip=True)
    else:
        gamma_ = pevi_bonus(model.counts, dataset.S, dataset.N, delta=delta, bonus=bonus,
                            scale=scale)
        Q, V, pol, _ = _backward(model, gamma_, clip=True)
    return OfflineResult(pol, Q, V, gamma_, model.counts, "pevi",
                         {"delta": delta, "bonus": bonus, "scale": scale})


def plugin(dataset: OfflineDataset, *, unvisited: str = "zero") -> OfflineResult:
    r"""Naive (non-pessimistic) plug-in: backward induction on the empirical model.

    ``unvisited``: ``"zero"`` (reward 0 and a self-loop for pairs absent from the data, the
    completion of :meth:`EmpiricalModel.mdp`) or ``"optimistic"`` (their Q-value is ``H - h``).
    """
    _check_dataset_arg(dataset)
    if unvisited not in ("zero", "optimistic"):
        raise ValueError(f"unvisited = {unvisited!r}; expected 'zero' or 'optimistic'")
    model = empirical_model(dataset)
    zero = np.zeros_like(model.R)
    Q, V, pol, _ = _backward(model, zero, clip=False,
                             unvisited_value="self" if unvisited == "zero" else "optimistic")
    return OfflineResult(pol, Q, V, zero, model.counts, "plugin", {"unvisited": unvisited})


# --------------------------------------------------------------------------- behavior KL
def behavior_estimate(dataset: OfflineDataset, *, smoothing: float = 0.0) -> np.ndarray:
    r"""Behavior-cloning estimate :math:`\hat\mu_h(a|s) = (n_h(s,a)+\alpha)/(n_h(s)+A\alpha)`,
    uniform on states never visited at step ``h``; ``(H, S, A)``."""
    _check_dataset_arg(dataset)
    alpha = _positive("smoothing", smoothing, allow_zero=True)
    n = dataset.counts()
    if alpha > 1:  # divide through by alpha first: A * alpha may overflow
        n, alpha = n / alpha, 1.0
    tot = n.sum(-1, keepdims=True) + dataset.A * alpha
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(tot > 0, (n + alpha) / np.where(tot > 0, tot, 1.0), 1.0 / dataset.A)
    return mu


def behavior_regularized(dataset: OfflineDataset, beta: float, *, smoothing: float = 0.0,
                         mu=None) -> OfflineResult:
    r"""KL-regularized planning toward the behavior estimate on the empirical model.

    ``mdplab.solve(empirical_mdp, beta=beta, ref=behavior_estimate(dataset, smoothing))``: the
    soft Bellman backups are mdplab's. ``V`` and ``Q`` are the soft (regularized) values of the
    empirical MDP; ``mu`` (initial distribution of that MDP) defaults to the empirical one.
    """
    from ..solvers import solve

    _check_dataset_arg(dataset)
    beta = _positive("beta", beta, allow_zero=True)
    ref = behavior_estimate(dataset, smoothing=smoothing)
    model = empirical_model(dataset)
    sol = solve(model.mdp(mu=mu), beta=beta, ref=ref)
    return OfflineResult(np.asarray(sol.policy), np.asarray(sol.Q), np.asarray(sol.V),
                         np.zeros_like(model.R), model.counts, "behavior-kl",
                         {"beta": beta, "smoothing": smoothing})


# --------------------------------------------------------------------------- PRDC
def _embedding_keys(state_embedding, S: int, A: int, beta: float, action_embedding):
    e = _as_float_array("state_embedding", state_embedding)
    if e.ndim == 1:
        e = e[:, None]
    if e.ndim != 2 or e.shape[0] != S:
        raise ValueError(f"state_embedding has shape {e.shape}, expected ({S}, m)")
    g = np.eye(A) if action_embedding is None else _as_float_array("action_embedding",
                                                                   action_embedding)
    if g.ndim == 1:
        g = g[:, None]
    if g.ndim != 2 or g.shape[0] != A:
        raise ValueError(f"action_embedding has shape {g.shape}, expected ({A}, p)")
    for name, arr in (("state_embedding", e), ("action_embedding", g)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
    # x(s, a) = (beta e(s), g(a)); beta = inf: state distance dominates (handled by caller)
    return e, g


def _nearest(e, g, beta: float, data_mask: np.ndarray):
    """Nearest data pair (flat index s*A + a) and distance, for every (s, a); one step."""
    from scipy.spatial import cKDTree

    S, A = data_mask.shape
    ss, aa = np.meshgrid(np.arange(S), np.arange(A), indexing="ij")
    ss, aa = ss.ravel(), aa.ravel()
    if np.isinf(beta):
        # the nearest pair shares the state when the state has data; otherwise nearest state
        dist = np.full(S * A, np.inf)
        idx = np.zeros(S * A, dtype=np.int64)
        has = data_mask.any(1)
        d_state = np.linalg.norm(e[:, None, :] - e[None, :, :], axis=-1)
        for s in range(S):
            if has[s]:
                cand = np.flatnonzero(data_mask[s])
                dg = np.linalg.norm(g[:, None, :] - g[None, cand, :], axis=-1)  # (A, k)
                j = np.argmin(dg, axis=1)
                idx[s * A:(s + 1) * A] = s * A + cand[j]
                dist[s * A:(s + 1) * A] = dg[np.arange(A), j]
            else:  # infinitely far from every data state
                near = np.flatnonzero(has)[np.argmin(d_state[s, has])]
                cand = np.flatnonzero(data_mask[near])
                dg = np.linalg.norm(g[:, None, :] - g[None, cand, :], axis=-1)
                j = np.argmin(dg, axis=1)
                idx[s * A:(s + 1) * A] = near * A + cand[j]
                dist[s * A:(s + 1) * A] = np.inf
        return idx, dist
    keys = np.hstack([beta * e[ss], g[aa]])
    flat = np.flatnonzero(data_mask.ravel())
    tree = cKDTree(keys[flat])
    dist, j = tree.query(keys, k=1)
    idx = flat[np.asarray(j, dtype=np.int64)]
    own = data_mask.ravel()
    idx = np.where(own, np.arange(S * A), idx)  # a data pair is its own neighbour (ties)
    dist = np.where(own, 0.0, dist)
    return idx, np.asarray(dist, dtype=np.float64)


def _prdc_beta(beta) -> float:
    """PRDC's state weight: a number >= 0, or ``inf`` (the support constraint)."""
    if isinstance(beta, (int, float, np.integer, np.floating)) and not isinstance(beta, bool) \
            and beta == np.inf:
        return np.inf
    return _positive("beta", beta, allow_zero=True)


def _prdc_select(q: np.ndarray, dist: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    r"""PRDC's constrained greedy step at one :math:`h` (Ran et al. 2023, arXiv:2306.06569; the
    actor loss :math:`-\lambda Q + \|a - \hat a\|^2` with :math:`\lambda = \alpha /
    \overline{|Q|}`): :math:`\pi(s) = \arg\max_a [Q(s,a) - \kappa\, c(s,a)^2]`,
    :math:`\kappa = \overline{|Q|}/\alpha`, for ``q`` and distances ``dist`` of shape
    ``(S, A)``; infinite distances are excluded, and a state whose distances are all infinite
    (``beta = inf``, state absent from the data) takes the argmax of ``q``. Returns the chosen
    action per state and :math:`\kappa`."""
    kap = float(np.mean(np.abs(q))) / alpha
    with np.errstate(invalid="ignore"):
        obj = np.where(np.isinf(dist), -np.inf, q - kap * dist**2)
    none = ~np.isfinite(obj).any(1)
    obj[none] = q[none]
    return np.argmax(obj, axis=1), kap


def prdc(dataset: OfflineDataset, state_embedding, *, beta: float = 2.0, alpha: float = 2.5,
         action_embedding=None) -> OfflineResult:
    r"""Tabular PRDC (module docstring): dataset-constrained policy on the empirical model.

    Parameters
    ----------
    dataset : OfflineDataset
    state_embedding : array (S, m)
        :math:`e(s)`, e.g. grid coordinates.
    beta : float
        Weight of the state part of the embedding (``inf`` allowed: support constraint).
    alpha : float
        PRDC's :math:`\alpha`; the penalty on the squared constraint distance is
        :math:`\overline{|\hat Q_h|}/\alpha` (larger ``alpha``: weaker constraint).
    action_embedding : array (A, p), optional
        :math:`g(a)`; one-hot by default.

    ``penalty`` of the result holds the constraint distances :math:`c_h(s,a)`; ``params``
    holds ``nearest`` (``(H, S, A)`` flat index ``s*A + a`` of the nearest data pair) and
    ``kappa`` (``(H,)``).
    """
    _check_dataset_arg(dataset)
    beta = _prdc_beta(beta)
    alpha = _positive("alpha", alpha)
    S, A, H = dataset.S, dataset.A, dataset.H
    e, g = _embedding_keys(state_embedding, S, A, beta, action_embedding)
    model = empirical_model(dataset)
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    pol = np.empty((H, S, A))
    dist = np.empty((H, S, A))
    nearest = np.empty((H, S, A), dtype=np.int64)
    kappa = np.empty(H)
    for h in range(H - 1, -1, -1):
        idx, d = _nearest(e, g, beta, model.counts[h] > 0)
        q_data = (model.R[h] + model.P[h] @ V[h + 1]).ravel()
        q = q_data[idx].reshape(S, A)
        dd = d.reshape(S, A)
        a_star, kap = _prdc_select(q, dd, alpha)
        pol[h] = np.eye(A)[a_star]
        Q[h], dist[h], nearest[h], kappa[h] = q, dd, idx.reshape(S, A), kap
        V[h] = q[np.arange(S), a_star]
    return OfflineResult(pol, Q, V, dist, model.counts, "prdc",
                         {"beta": beta, "alpha": alpha, "nearest": nearest, "kappa": kappa})


@dataclass(frozen=True)
class PRDCBound:
    r"""The tabular PRDC bounds of :func:`prdc_bound` (all values :math:`\mu`-weighted).

    Attributes
    ----------
    estimation_gap : float
        :math:`|\mu^\top(\hat V_0 - V^\pi_0)|`.
    estimation_bound : float
        :math:`\mu^\top \Delta_0`.
    suboptimality : float
        :math:`J(\pi') - J(\pi)`.
    suboptimality_bound : float
        The performance-gap bound for the comparator :math:`\pi'`.
    lipschitz : (H,)
        :math:`L_h` of the true :math:`Q^\pi_h` in the embedding metric.
    constraint_distance : (H,)
        :math:`\varepsilon_h = \max_s c_h(s, \pi_h(s))` (the paper's :math:`\varepsilon_D`).
    statistical_error : (H,)
        :math:`\max e_h` over data pairs.
    """

    estimation_gap: float
    estimation_bound: float
    suboptimality: float
    suboptimality_bound: float
    lipschitz: np.ndarray
    constraint_distance: np.ndarray
    statistical_error: np.ndarray


def prdc_bound(mdp: TabularMDP, dataset: OfflineDataset, result: OfflineResult,
               state_embedding, *, comparator=None, action_embedding=None) -> PRDCBound:
    r"""Evaluate the tabular PRDC estimation-gap and performance-gap bounds exactly.

    Needs the true model (``mdp``) for :math:`L_h`, :math:`e_h` and the occupancy of the
    comparator (default: the optimal policy). See the module docstring for the statement.
    """
    from ..solvers import evaluate, occupancy, solve

    _check_finite_horizon(mdp)
    check_dataset(dataset, mdp)
    if not isinstance(result, OfflineResult) or result.method != "prdc":
        raise TypeError("result: expected the OfflineResult of prdc()")
    S, A, H = mdp.S, mdp.A, mdp.H
    beta = result.params["beta"]
    e, g = _embedding_keys(state_embedding, S, A, beta, action_embedding)
    if np.isinf(beta):
        raise ValueError("prdc_bound needs a finite beta (the embedding metric is infinite)")
    pi = result.policy
    P, R = _dense_P(mdp), _dense_R(mdp)
    model = empirical_model(dataset)
    Qpi = evaluate(mdp, pi).Q
    Vpi = evaluate(mdp, pi).V
    ss, aa = np.meshgrid(np.arange(S), np.arange(A), indexing="ij")
    keys = np.hstack([beta * e[ss.ravel()], g[aa.ravel()]])
    dmat = np.linalg.norm(keys[:, None, :] - keys[None, :, :], axis=-1)
    off = dmat > 0
    L = np.empty(H)
    for h in range(H):
        q = Qpi[h].ravel()
        dq = np.abs(q[:, None] - q[None, :])
        if np.any(~off & (dq > 1e-12) & ~np.eye(S * A, dtype=bool)):
            L[h] = np.inf  # two pairs at distance 0 with different values
        else:
            L[h] = float(np.max(np.where(off, dq / np.where(off, dmat, 1.0), 0.0)))
    nearest = result.params["nearest"]
    c = result.penalty
    a_pi = pi.argmax(-1)
    Delta = np.zeros((H + 1, S))
    delta_sa = np.empty((H, S, A))
    err_max = np.zeros(H)
    eps = np.zeros(H)
    for h in range(H - 1, -1, -1):
        e_flat = np.abs(model.R[h] - R[h] + (model.P[h] - P[h]) @ result.V[h + 1]).ravel()
        seen = (model.counts[h] > 0).ravel()
        err_max[h] = float(e_flat[seen].max()) if seen.any() else 0.0
        inf_next = np.isinf(Delta[h + 1])
        prop = (P[h] @ np.where(inf_next, 0.0, Delta[h + 1])).ravel()
        prop = np.where((P[h][..., inf_next] > 0).any(-1).ravel(), np.inf, prop)
        nu = nearest[h].ravel()
        own = nu == np.arange(S * A)  # a data pair is its own estimate: no Lipschitz term
        with np.errstate(invalid="ignore"):
            lip = np.where(own, 0.0, L[h] * c[h].ravel())
        lip = np.where(~own & np.isnan(lip), np.inf, lip)  # L = inf at distance 0: no bound
        delta_sa[h] = (lip + e_flat[nu] + prop[nu]).reshape(S, A)
        Delta[h] = delta_sa[h][np.arange(S), a_pi[h]]
        eps[h] = float(c[h][np.arange(S), a_pi[h]].max())
    comp = solve(mdp).policy if comparator is None else comparator
    comp = _full_policy(mdp, comp, "comparator")
    d = occupancy(mdp, comp)  # (H, S, A)
    kappa = result.params["kappa"]
    c_pi = np.take_along_axis(c, a_pi[..., None], axis=-1)  # (H, S, 1)
    d_pi = np.take_along_axis(delta_sa, a_pi[..., None], axis=-1)
    terms = kappa[:, None, None] * (c**2 - c_pi**2) + delta_sa + d_pi
    with np.errstate(invalid="ignore"):
        sub_bound = float(np.sum(np.where(d > 0, d * terms, 0.0)))
    mu = np.asarray(mdp.mu)
    J_comp = float(evaluate(mdp, comp).J)
    return PRDCBound(
        estimation_gap=float(abs(mu @ (result.V[0] - Vpi[0]))),
        estimation_bound=float(np.sum(mu[mu > 0] * Delta[0][mu > 0])),
        suboptimality=J_comp - float(mu @ Vpi[0]),
        suboptimality_bound=sub_bound,
        lipschitz=L,
        constraint_distance=eps,
        statistical_error=err_max,
    )


# --------------------------------------------------------------------------- bounds
def pevi_bound(mdp: TabularMDP, result: OfflineResult, policy=None) -> float:
    r"""Data-dependent bound :math:`2\sum_h \mathbb E_{\pi}[\Gamma_h(s_h,a_h)]` (from
    ``mdp.mu``) on :math:`J(\pi) - J(\hat\pi)` for the comparator ``policy`` (default
    :math:`\pi^*`), exact via :func:`mdplab.occupancy`."""
    from ..solvers import occupancy, solve

    _check_finite_horizon(mdp)
    if not isinstance(result, OfflineResult) or result.method != "pevi":
        raise TypeError("result: expected the OfflineResult of pevi()")
    pi = _full_policy(mdp, solve(mdp).policy if policy is None else policy, "policy")
    return float(2.0 * np.sum(occupancy(mdp, pi) * result.penalty))


def pevi_coverage_bound(S: int, H: int, A: int, N: int, C_star: float, *,
                        delta: float = 0.05) -> float:
    r""":math:`2\sqrt{2 S C^*/N}\sum_h k_h` (module docstring): PEVI's suboptimality bound in
    terms of the concentrability, valid when :math:`n_h(s,a) \ge N d^\mu_h(s,a)/2`."""
    for name, v in (("S", S), ("H", H), ("A", A), ("N", N)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} = {v!r}: expected an int >= 1")
    C = _positive("C_star", C_star)
    log_d = np.log(2.0 * H * S * A * N / delta)
    h = np.arange(H)
    k = np.sqrt((np.log(2.0) + log_d) / 2) + (H - h - 1) / 2 * np.sqrt(
        2 * (S * np.log(2.0) + log_d))
    return float(2.0 * np.sqrt(2.0 * S * C / N) * k.sum())
