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
from .dp import solve
from .evaluate import evaluate, occupancy
from .result import PolicyValue, Solution

__all__ = [
    "PolicyValue",
    "Solution",
    "bellman_operator",
    "evaluate",
    "greedy_policy",
    "occupancy",
    "policy_reward",
    "q_values",
    "soft_max",
    "softmax_policy",
    "solve",
]
