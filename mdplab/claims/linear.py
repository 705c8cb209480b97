r"""Linear MDPs: LSVI-UCB exploits low feature dimension where tabular UCBVI cannot.

Jin, Yang, Wang & Jordan (2020), *Provably efficient reinforcement learning with linear function
approximation*, COLT, arXiv:1907.05388, Theorem 3.1 (numbering unverified): LSVI-UCB's regret is
:math:`\tilde O(\sqrt{d^3H^3T})`, :math:`T = KH`, independent of the number of states and
actions, whereas tabular optimism (UCBVI, Azar, Osband & Munos 2017, arXiv:1703.05449) pays
:math:`\tilde O(\sqrt{H^3SAK})` plus a burn-in polynomial in :math:`S` and :math:`A`. When
:math:`d \ll SA` the linear learner should therefore have the smaller regret.

* ``lsvi-ucb-beats-ucbvi`` -- instance: a random simplex-feature linear MDP
  (:func:`mdplab.envs.linear.random_linear_mdp`) with :math:`S = 50`, :math:`A = 4`,
  :math:`d = 4` (:math:`d = SA/50`), :math:`H = 5`, time-inhomogeneous. Both learners are run
  by the one runner (:func:`mdplab.learn.run`, exact regret) for :math:`K = 10^4` episodes, 10
  seeds, at two bonus scales: the papers' constants (LSVI-UCB :math:`\beta = dH\sqrt{\iota}`,
  i.e. the unspecified absolute constant :math:`c = 1`; UCBVI-BF ``scale = 1``) and both
  bonuses multiplied by 0.1. **Criterion** (fixed before running): at each scale the mean
  cumulative regret of LSVI-UCB is below UCBVI-BF's at every recorded :math:`K \ge K_{\max}/10`.
  The fitted slope of LSVI-UCB's regret is reported, not gated (the theorem's constants are not
  explicit).
"""

from __future__ import annotations

import numpy as np

from ..envs.linear import random_linear_mdp
from ..learn import UCBVI, run
from ..learn.linear import LSVIUCB
from ..plot import (
    confidence_band,
    fit_loglog_slope,
    label_axes,
    new_figure,
    paper_style,
    save_figure,
)
from . import ClaimResult, register
from ._seeds import seed_sweep

S, A, D, H = 50, 4, 4, 5


def lsvi_repetition(learner: str, scale: float, K: int, instance_seed: int, rng) -> list[dict]:
    """One run of ``lsvi-ucb-beats-ucbvi``: LSVI-UCB (with the true features) or tabular
    UCBVI-BF for ``K`` episodes on the claim's random linear MDP; exact cumulative regret at
    every recorded episode (rows for :func:`mdplab.sweep.sweep`)."""
    lin = random_linear_mdp(S, A, D, horizon=H, rng=np.random.default_rng(instance_seed))
    algo = LSVIUCB(lin, scale=scale) if learner == "LSVI-UCB" else UCBVI("bernstein",
                                                                         scale=scale)
    log = run(algo, lin.to_tabular(), K, rng=rng, record_every=max(1, K // 20))
    return [{"K_recorded": int(k), "cum_regret": float(c)}
            for k, c in zip(log["episode"], log["cum_regret"], strict=True)]


@register(
    id="lsvi-ucb-beats-ucbvi",
    title="LSVI-UCB beats tabular UCBVI on a linear MDP with d << SA",
    citation=("Jin, Yang, Wang & Jordan 2020, arXiv:1907.05388, Thm. 3.1 (numbering "
              "unverified); Azar, Osband & Munos 2017, arXiv:1703.05449"),
    statement=(
        r"LSVI-UCB's regret $\tilde O(\sqrt{d^3H^3T})$ does not depend on $S$, $A$: on a "
        r"random linear MDP with $S = 50$, $A = 4$, $d = 4$, $H = 5$ its exact cumulative "
        r"regret (mean of 10 seeds) is below tabular UCBVI-BF's at every $K \in "
        r"[10^3, 10^4]$, with the papers' bonus constants and with both bonuses $\times 0.1$."
    ),
    budget_seconds=150,
)
def check_lsvi_beats_ucbvi(quick: bool, rng: np.random.Generator, out):
    K, seeds = (1_000, 2) if quick else (10_000, 10)
    instance_seed = int(rng.integers(2**31))
    table = seed_sweep(lsvi_repetition, {"learner": ["LSVI-UCB", "UCBVI-BF"],
                                         "scale": [1.0, 0.1], "K": K,
                                         "instance_seed": instance_seed}, seeds, rng)
    table = table[["learner", "scale", "seed", "K_recorded", "cum_regret"]].rename(
        columns={"K_recorded": "K"})
    agg = table.groupby(["scale", "learner", "K"])["cum_regret"].agg(["mean", "std", "count"])
    passed, ratios, slopes = True, {}, {}
    with paper_style():
        fig, axes = new_figure("double", aspect=0.36, ncols=2)
        for ax, scale in zip(axes, (1.0, 0.1), strict=True):
            lsvi = agg.loc[(scale, "LSVI-UCB")]
            ucb = agg.loc[(scale, "UCBVI-BF")]
            window = lsvi.index >= K / 10
            ok = bool(np.all(lsvi["mean"][window] < ucb["mean"][window]))
            passed &= ok
            ratios[scale] = float(lsvi["mean"].iloc[-1] / ucb["mean"].iloc[-1])
            ks = lsvi.index.to_numpy(float)
            fit = fit_loglog_slope(ks[window], lsvi["mean"].to_numpy()[window])
            slopes[scale] = fit.slope
            for name, a in (("LSVI-UCB", lsvi), ("UCBVI-BF", ucb)):
                x = a.index.to_numpy(float)
                half = 1.96 * a["std"].fillna(0).to_numpy() / np.sqrt(a["count"].to_numpy())
                lab = f"{name} (d = {D})" if name == "LSVI-UCB" else f"{name} (SA = {S * A})"
                if name == "LSVI-UCB":
                    lab += f", slope {fit.slope:.2f}"
                ax.plot(x, a["mean"], label=lab)
                confidence_band(ax, x, np.maximum(a["mean"] - half, 1e-9), a["mean"] + half)
            ax.set_xscale("log")
            ax.set_yscale("log")
            label_axes(ax, "episodes $K$", "cumulative regret (exact; mean, 95% CI)",
                       "paper constants" if scale == 1.0 else r"both bonuses $\times 0.1$")
            ax.legend(fontsize=6, loc="upper left")
    figs = save_figure(fig, out / "lsvi_vs_ucbvi")
    summary = (
        f"K = {K}, {seeds} seeds, S = {S}, A = {A}, d = {D}, H = {H}. Ratio of mean cumulative "
        f"regret LSVI-UCB / UCBVI-BF at K: {ratios[1.0]:.3f} (paper constants), "
        f"{ratios[0.1]:.3f} (bonuses x 0.1); LSVI-UCB below UCBVI-BF at every K >= K/10 in "
        f"both: {passed}. LSVI-UCB regret slopes (not gated): {slopes[1.0]:.2f} / "
        f"{slopes[0.1]:.2f}."
    )
    key = {"ratio_paper_constants": ratios[1.0], "ratio_scale_0.1": ratios[0.1],
           "lsvi_slope_paper": slopes[1.0], "lsvi_slope_0.1": slopes[0.1], "K": K,
           "seeds": seeds}
    return ClaimResult(bool(passed), table, figs, summary, key)
