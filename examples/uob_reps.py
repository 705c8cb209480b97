"""UOB-REPS: an adversarial layered MDP whose transitions the learner does not know.

One run of K episodes with oblivious Bernoulli losses. On the same losses and learner seed it
compares UOB-REPS (Jin et al. 2020, arXiv:1912.01192; unknown kernel, empirical-Bernstein
confidence set, upper-occupancy-bound loss estimates) with two references: O-REPS with bandit
feedback and the *known* kernel, and the uniform policy. It plots the exact cumulative regret
against the best fixed policy in hindsight (``uob_reps.pdf`` / ``.png``) and prints the
learner's diagnostics (epochs, Newton iterations, final confidence width).

    python examples/uob_reps.py            # K = 5000, a few seconds
    python examples/uob_reps.py 20000
"""

from __future__ import annotations

import sys

import numpy as np

import mdplab as ml
from mdplab.learn import adversarial as adv
from mdplab.learn.adversarial_unknown import UOBREPS
from mdplab.plot import label_axes, new_figure, paper_style, save_figure


def main(K: int = 5_000, out: str = "uob_reps") -> dict:
    H, S, A = 4, 3, 3
    mdp = ml.envs.random_mdp(S, A, horizon=H, time_varying=True, rng=0).with_(mu=[1.0, 0, 0])
    means = np.random.default_rng(1).random((H, S, A))
    losses = adv.oblivious_losses(mdp, K, rng=2, means=means)
    every = max(1, K // 200)
    uob = adv.run_adversarial(UOBREPS(), mdp, losses, rng=3, record_every=every)
    oreps = adv.run_adversarial(adv.OREPS(feedback="bandit"), mdp, losses, rng=3,
                                record_every=every)
    uniform = adv.fixed_policy_regret(mdp, np.full((H, S, A), 1.0 / A), losses)
    diag = uob.attrs["diagnostics"]
    visited = diag["counts"][:-1] > 0
    print(f"K = {K}: regret UOB-REPS {uob['cum_regret'].iloc[-1]:.1f}, O-REPS (P known) "
          f"{oreps['cum_regret'].iloc[-1]:.1f}, uniform policy {uniform[-1]:.1f}")
    print(f"UOB-REPS: {diag['epochs']} epochs, {diag['mean_newton_iterations']:.1f} Newton "
          f"iterations per projection, largest flow violation {uob.attrs['max_violation']:.1e}, "
          f"median final confidence width over visited pairs "
          f"{np.median(np.minimum(diag['eps'][:-1], 1.0)[visited]):.3f}")
    with paper_style():
        fig, ax = new_figure("single", aspect=0.75)
        ax.plot(uob["episode"], uob["cum_regret"], label="UOB-REPS ($P$ unknown)")
        ax.plot(oreps["episode"], oreps["cum_regret"], label="O-REPS ($P$ known)")
        ax.plot(np.arange(1, K + 1), uniform, ":", color="0.3", label="uniform policy")
        label_axes(ax, "episode $k$", "cumulative regret (exact)",
                   f"H = {H}, S = {S}, A = {A}, bandit feedback")
        ax.legend(fontsize=6)
    for path in save_figure(fig, out):
        print("wrote", path)
    return {"uob": uob, "oreps": oreps}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
