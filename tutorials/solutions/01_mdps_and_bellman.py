# %% [markdown]
# # Solutions to the exercises of tutorial 1

# %%
import numpy as np

import mdplab as ml

LAYOUT = """
........
.##.....
...#.##.
.#.#...G
"""

# %% [markdown]
# **1.** The worst-case rate of value iteration is gamma per sweep, which would mean about
# five times more sweeps at 0.99 than at 0.95. Here it needs only a few more (47 -> 51): the
# stopping rule certifies with the *span* of TV - V, and once the goal's value has spread
# over the grid the span shrinks much faster than gamma^k (the bend in the tutorial's
# residual plot). Policy iteration still stops after 3 evaluations, when the greedy policy
# repeats.

# %%
for gamma in (0.95, 0.99):
    mdp = ml.envs.gridworld(layout=LAYOUT, slip=0.1, gamma=gamma)
    vi = ml.solve(mdp, method="vi", tol=1e-10)
    pi = ml.solve(mdp, method="pi", tol=1e-10)
    print(f"gamma={gamma}: VI {vi.iterations} sweeps, PI {pi.iterations} evaluations")
    assert pi.iterations < vi.iterations

# %% [markdown]
# **2.** In this layout no optimal action changes: every route to the goal is equally
# exposed to slipping. The values fall everywhere except at the (absorbing) goal, least next
# to the goal and most in the pocket on the left, whose paths to the goal are the longest:
# each extra step is one more chance to slip away.

# %%
low = ml.solve(ml.envs.gridworld(layout=LAYOUT, slip=0.1, gamma=0.95))
high = ml.solve(ml.envs.gridworld(layout=LAYOUT, slip=0.3, gamma=0.95))
print("states whose optimal action changes:",
      np.flatnonzero(low.policy.argmax(1) != high.policy.argmax(1)))
drop = low.V - high.V
print("value drop per state:", np.round(drop, 3))
print("largest drop at state", int(drop.argmax()), "; smallest (non-goal) at state",
      int(np.argmin(np.where(drop > 1e-9, drop, np.inf))))
assert np.all(drop >= -1e-9)

# %% [markdown]
# **3.** The occupancy-measure linear program gives the same value (to the solver's
# tolerance, about 1e-8 here; dynamic programming certifies 1e-10).

# %%
mdp = ml.envs.gridworld(layout=LAYOUT, slip=0.1, gamma=0.95)
lp = ml.solve(mdp, method="lp")
pi = ml.solve(mdp, method="pi", tol=1e-12)
print("max |V_lp - V_pi| =", np.max(np.abs(lp.V - pi.V)))
assert np.max(np.abs(lp.V - pi.V)) < 1e-6
