"""Offline RL on a random finite-horizon MDP: PEVI vs the plug-in vs behavior-KL, against N.

Run: python examples/offline_pessimism.py  (writes offline_pessimism.pdf/.png, ~10 s)
"""

import pandas as pd

import mdplab as ml
from mdplab.learn import offline
from mdplab.plot import label_axes, line_plot, new_figure, paper_style, save_figure

mdp = ml.envs.random_mdp(8, 3, horizon=5, rng=0)
J_star = ml.solve(mdp).V[0] @ mdp.mu
behavior, _ = offline.behavior_with_concentrability(mdp, 8.0, uniform_share=0.3)
rows = []
for seed in range(10):
    data = offline.sample_dataset(mdp, behavior, 20_000, rng=seed, rewards="bernoulli")
    for n in (50, 200, 1000, 5000, 20_000):
        sub = data.subset(n)
        for name, res in (("PEVI (l1)", offline.pevi(sub)),
                          ("PEVI (hoeffding)", offline.pevi(sub, bonus="hoeffding")),
                          ("PEVI (bernstein)", offline.pevi(sub, bonus="bernstein")),
                          ("plug-in", offline.plugin(sub)),
                          ("behavior-KL (beta=0.1)", offline.behavior_regularized(sub, 0.1))):
            rows.append({"N": n, "method": name, "seed": seed,
                         "subopt": J_star - ml.evaluate(mdp, res.policy).J})
df = pd.DataFrame(rows)
with paper_style():
    fig, ax = new_figure()
    line_plot(df, "N", "subopt", hue="method", ax=ax, marker="o", logx=True)
    label_axes(ax, "trajectories $N$", r"$V^* - V^{\hat\pi}$ (mean, 95% CI)",
               r"Random MDP, $S$ = 8, $A$ = 3, $H$ = 5, $C^*$ = 8")
print(save_figure(fig, "offline_pessimism"))
print(df.groupby(["method", "N"])["subopt"].mean().unstack().round(4))
