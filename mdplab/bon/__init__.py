r"""Best-of-:math:`n` and large-deviation analytics on discrete outcome distributions.

A reference pmf ``p`` over ``K`` outcomes with rewards ``r``. Everything here is exact (to
rounding, or to a stated quadrature accuracy for soft BoN) and works on the reward levels of
``(p, r)`` in ``O(K log K)``:

* :mod:`~mdplab.bon.bestofn` -- BoN pmf (ties split in proportion to ``p``, or a fixed
  tie-break rule; any real ``n >= 1``), :math:`\mathrm{KL}(\pi_n\|p)` and its bound
  :math:`\log n - (n-1)/n`, win rate and its bound :math:`n/(n+1)`, expected reward, quantiles.
* :mod:`~mdplab.bon.tilting` -- the KL-regularized optimum :math:`p e^{r/\beta}/Z`, its KL,
  reward and win rate, the temperature matching a given KL / reward / ``n``, frontiers.
* :mod:`~mdplab.bon.large_deviations` -- cumulant generating function, Cramér rate function,
  Rényi divergences and cross entropies, the exact law of a sum of i.i.d. token rewards, and
  BoN vs tilting on long sequences (Yang et al. 2024).
* :mod:`~mdplab.bon.variants` -- proxy-reward BoN, soft BoN, rejection sampling with a budget.
* :mod:`~mdplab.bon.estimators` -- plug-in and Monte Carlo estimates of the BoN KL.

Bad input (a pmf that is negative or does not sum to 1, NaN rewards, ``n < 1``,
``beta <= 0``) raises ``ValueError`` naming the argument; zero-probability outcomes are
allowed and handled exactly.
"""

from ._levels import RewardLevels, reward_levels
from .bestofn import (
    expected_reward,
    kl,
    kl_bound,
    pmf,
    reward_pmf,
    reward_quantile,
    summary,
    win_rate,
    win_rate_bound,
)
from .estimators import kl_monte_carlo, kl_plugin, sample_bon
from .large_deviations import (
    cgf,
    cgf_derivative,
    lambda_for_rate,
    rate_function,
    rate_function_argmax,
    renyi_cross_entropy,
    renyi_divergence,
    sequence_bon_vs_tilt,
    token_sum_levels,
)
from .tilting import (
    beta_for_kl,
    beta_for_reward,
    frontier,
    log_partition,
    matching_beta,
    tilt,
    tilt_kl,
    tilt_reward,
    tilt_win_rate,
)
from .variants import proxy_reward, rejection_sampling_pmf, soft_bon_pmf

__all__ = [
    "RewardLevels",
    "reward_levels",
    "pmf",
    "reward_pmf",
    "kl",
    "kl_bound",
    "win_rate",
    "win_rate_bound",
    "expected_reward",
    "reward_quantile",
    "summary",
    "tilt",
    "tilt_kl",
    "tilt_reward",
    "tilt_win_rate",
    "log_partition",
    "beta_for_kl",
    "beta_for_reward",
    "matching_beta",
    "frontier",
    "cgf",
    "cgf_derivative",
    "rate_function",
    "rate_function_argmax",
    "renyi_divergence",
    "renyi_cross_entropy",
    "token_sum_levels",
    "lambda_for_rate",
    "sequence_bon_vs_tilt",
    "proxy_reward",
    "soft_bon_pmf",
    "rejection_sampling_pmf",
    "kl_plugin",
    "kl_monte_carlo",
    "sample_bon",
]
