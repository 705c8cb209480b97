"""Nash learning on perturbed rock-paper-scissors: the regularized equilibrium, the minimax
winner, and the last-iterate convergence of Nash-MP vs Nash-MD (mdplab.learn.games)."""

import numpy as np

from mdplab._utils import kl_divergence
from mdplab.learn import games

P = games.perturbed_rps()  # P[y, y'] = Pr(y beats y'), intransitive
beta = 0.1

eq = games.regularized_equilibrium(P, beta)  # uniform reference
mw = games.minimax_winner(P)
print("pi*_beta      :", np.round(eq.policy, 8), "certified l1 error", f"{eq.error_bound:.1e}")
print("minimax winner:", np.round(mw.policy, 8))
print("exploitability of uniform at beta:", round(games.exploitability(P, np.ones(3) / 3, beta), 6))

mp = games.nash_mp(P, beta, iterations=100)   # two preference queries per iteration
md = games.nash_md(P, beta, iterations=200)   # one query per iteration, eta_t = 2/(beta(t+2))
for name, tr in (("Nash-MP", mp), ("Nash-MD", md)):
    kl = kl_divergence(eq.policy, tr.policies)
    print(f"{name}: KL(pi*||pi) after 200 queries = {kl[tr.queries == 200][0]:.2e}")
