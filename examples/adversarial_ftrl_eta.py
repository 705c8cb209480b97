"""Why per-state log-barrier FTRL has a regret slope near 0.77 on a benign instance.

The claim ``policy-ftrl-log-barrier`` gives the log-barrier and exponential weights one learning
rate, :math:`\\eta = c \\cdot 4/(H\\sqrt{KA})` with :math:`c = 1`. This script sweeps the scale
:math:`c` on an oblivious instance with fixed Bernoulli means (the claims' layered MDP,
:math:`H = 4`, :math:`S = A = 3`). For every :math:`(c, K)` it records the exact regret of
both regularisers (same one-hot importance-weighted Q estimates, no bonus) and plots the fitted
log-log slope against :math:`c` (``adversarial_ftrl_eta.pdf`` / ``.png``).

With the log-barrier a bad action keeps probability :math:`p \\approx 1/(\\eta\\Delta k)`: the
decay is polynomial, where exponential weights decay exponentially. On a fixed gap
:math:`\\Delta` the regret is therefore about :math:`(1/\\eta)\\log(\\eta\\Delta K)`, whose local
slope is :math:`1/2 + 1/(2\\log(\\eta\\Delta K))` for :math:`\\eta \\propto K^{-1/2}`. That is
well above 1/2 unless :math:`\\eta` is large. The log-barrier's own tuning (penalty
:math:`A\\log K/\\eta`, a stability term :math:`A` times smaller than the entropy's) gives a rate
about :math:`A\\sqrt{\\log K/\\log A}` times the entropy's; our derivation, numbering of Dai et
al. 2023 (arXiv:2301.12942) unverified.

    python examples/adversarial_ftrl_eta.py          # K up to 1e4, 3 seeds, about 30 s
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from mdplab._utils import spawn
from mdplab.claims.adversarial import A, H, _claim_instance
from mdplab.learn import adversarial as adv
from mdplab.plot import fit_loglog_slope, label_axes, new_figure, paper_style, save_figure


def main(K_max: int = 10_000, seeds: int = 3, scales=(0.25, 1.0, 4.0, 16.0),
         out: str | None = "adversarial_ftrl_eta", instance_seed: int = 4242) -> pd.DataFrame:
    """Regret table (``regularizer, scale, seed, K, regret``) and, when ``out`` is given,
    the figure of the fitted slopes against the scale."""
    mdp, means = _claim_instance(instance_seed)
    Ks = [int(k) for k in np.geomspace(200, K_max, 6).round()]
    rows = []
    for seed in range(seeds):
        for K, g in zip(Ks, spawn(np.random.default_rng(seed), len(Ks)), strict=True):
            loss_rng, run_rng = spawn(g, 2)
            L = adv.oblivious_losses(mdp, K, rng=loss_rng, means=means)
            run_seed = int(run_rng.integers(2**63))
            for c in scales:
                eta = c * 4.0 / (H * np.sqrt(K * A))
                for reg in ("logbarrier", "entropy"):
                    log = adv.run_adversarial(adv.PolicyFTRL(reg, eta=eta), mdp, L,
                                              rng=np.random.default_rng(run_seed),
                                              record_every=K)
                    rows.append({"regularizer": reg, "scale": c, "seed": seed, "K": K,
                                 "regret": float(log["cum_regret"].iloc[-1])})
    table = pd.DataFrame(rows)
    mean = table.groupby(["regularizer", "scale", "K"])["regret"].mean()
    slopes = {(reg, c): fit_loglog_slope(np.asarray(Ks, float), mean.loc[(reg, c)].to_numpy())
              for reg in ("logbarrier", "entropy") for c in scales}
    for (reg, c), fit in slopes.items():
        print(f"{reg:10s} c = {c:5g}: slope {fit.slope:.3f}, mean regret at K = {Ks[-1]}: "
              f"{mean.loc[(reg, c, Ks[-1])]:.0f}")
    if out is not None:
        with paper_style():
            fig, ax = new_figure("single", aspect=0.75)
            for reg, marker in (("logbarrier", "o"), ("entropy", "s")):
                ax.semilogx(scales, [slopes[(reg, c)].slope for c in scales], marker=marker,
                            label=reg)
            ax.axhline(0.5, color="k", ls="--", lw=0.8, label="1/2")
            ax.axhline(0.6, color="0.5", ls=":", lw=0.8, label="claim's benign criterion")
            label_axes(ax, r"scale $c$ of $\eta = 4c/(H\sqrt{KA})$",
                       f"fitted slope over K in [{Ks[0]}, {Ks[-1]}]",
                       "oblivious instance, bandit feedback")
            ax.legend(fontsize=6)
        save_figure(fig, out)
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
