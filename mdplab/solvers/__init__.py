"""Exact planning: dynamic programming (VI / PI / modified PI / backward induction, hard and
soft), the occupancy-measure convex program, exact policy evaluation and occupancy measures."""

from .bellman import (
    bellman_operator,
    greedy_policy,
    policy_reward,
    q_values,
    soft_max,
    softmax_policy,
)
from .dp import (
    backward_induction,
    modified_policy_iteration,
    policy_iteration,
    solve,
    value_iteration,
)
from .evaluate import evaluate, occupancy
from .result import PolicyValue, Solution

__all__ = [
    "PolicyValue",
    "Solution",
    "backward_induction",
    "bellman_operator",
    "evaluate",
    "greedy_policy",
    "modified_policy_iteration",
    "occupancy",
    "policy_iteration",
    "policy_reward",
    "q_values",
    "soft_max",
    "softmax_policy",
    "solve",
    "value_iteration",
]
