r"""Learning algorithms with regret / sample-complexity accounting (see the design page).

Online exploration (:mod:`mdplab.learn.online`, :mod:`mdplab.learn.runner`): learners are small
hyper-parameter objects; one runner drives them all and records the exact regret::

    import mdplab as ml
    mdp = ml.envs.riverswim(6, horizon=20, variant="osband")
    log = ml.learn.run(ml.learn.UCBVI(bonus="bernstein"), mdp, episodes=10_000, rng=0)

KL-regularized exploration (:mod:`mdplab.learn.regularized`): ``RegularizedUCBVI`` and the
certified best-policy identification loop ``identify``; behavior cloning and
demonstration-regularized RL in :mod:`mdplab.learn.demo` (``ml.learn.demo``), and its RLHF
variant in :mod:`mdplab.learn.demo_rlhf`.

Preference games live in :mod:`mdplab.learn.games` (``ml.learn.games``), imported on first
use like the other submodules.
"""

from .online import PSRL, UCBVI, EpsilonGreedy, Greedy, Learner, OptimisticQLearning
from .regularized import RegularizedUCBVI, identify
from .runner import record_grid, run

__all__ = [
    "EpsilonGreedy",
    "Greedy",
    "Learner",
    "OptimisticQLearning",
    "PSRL",
    "RegularizedUCBVI",
    "UCBVI",
    "identify",
    "record_grid",
    "run",
]


_SUBMODULES = ("games", "preference", "demo", "demo_rlhf", "adversarial", "linear", "offline",
               "offline_linear", "adversarial_unknown")


def __getattr__(name):  # ml.learn.games, ml.learn.preference, ... imported on first use
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mdplab.learn' has no attribute {name!r}")
