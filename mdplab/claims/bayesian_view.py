r"""KL-regularized RL is variational inference towards a Bayesian posterior.

Korbak, Perez & Buckley, "RL with KL penalties is better viewed as Bayesian inference",
Findings of EMNLP 2022, arXiv:2205.11275, Section 3: for a reference (prior) :math:`\pi_0` over
outputs :math:`y` and a reward :math:`r`,

.. math::

    J(\pi) = \mathbb E_\pi[r] - \beta\,\mathrm{KL}(\pi\|\pi_0)
           = \beta \log Z - \beta\,\mathrm{KL}(\pi \| \pi^*), \qquad
    \pi^*(y) = \pi_0(y) e^{r(y)/\beta} / Z,

so maximising :math:`J` is minimising the KL to the posterior :math:`\pi^*` (the evidence
:math:`e^{r/\beta}` acting as a likelihood), and :math:`\max J = \beta\log Z`. Without the KL
term (:math:`\beta \to 0`) the optimum collapses onto the reward maximiser ("distribution
collapse", their Section 2).

The check uses mdplab's MDP solver, not the formula: the sequence-level case is a one-step
finite-horizon MDP, and the multi-step case is a deterministic prefix tree (state = prefix,
action = next token) whose soft-optimal *token-level* policy must induce exactly the
sequence-level posterior over whole trajectories (control as inference; Levine 2018,
arXiv:1805.00909, Section 2.3).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .._utils import kl_divergence
from ..mdp import TabularMDP
from ..plot import label_axes, new_figure, paper_style, save_figure
from ..solvers import solve
from . import ClaimResult, register


def _bandit(p0, r, beta):
    """The sequence-level problem as a one-step MDP solved by backward induction."""
    mdp = TabularMDP(np.ones((1, len(r), 1)), r[None, :], horizon=1)
    sol = solve(mdp, beta=beta, ref=p0[None, :])
    return sol.policy[0, 0], sol.V[0, 0]


def _prefix_tree(depth, vocab, rng):
    """Deterministic tree MDP: state = prefix (node index), action = token; leaves absorb.

    Returns the model, the reference policy, and for each full sequence its reward and its
    reference probability (computed here by multiplying token probabilities along the path).
    """
    nodes = [()]
    for d in range(depth):
        nodes += [p for p in itertools.product(range(vocab), repeat=d + 1)]
    index = {p: i for i, p in enumerate(nodes)}
    S, A = len(nodes), vocab
    P = np.zeros((depth, S, A, S))
    R = np.zeros((depth, S, A))
    token_reward = rng.normal(size=(S, A))
    ref = rng.dirichlet(np.ones(A), size=S)
    for prefix, i in index.items():
        for a in range(A):
            child = prefix + (a,)
            P[:, i, a, index.get(child, i)] = 1.0  # leaves stay put
            if len(prefix) < depth:
                R[len(prefix), i, a] = token_reward[i, a]
    mu = np.zeros(S)
    mu[0] = 1.0
    mdp = TabularMDP(P, R, horizon=depth, mu=mu)
    seqs = list(itertools.product(range(vocab), repeat=depth))
    seq_r, seq_p = [], []
    for y in seqs:
        rew, prob, prefix = 0.0, 1.0, ()
        for a in y:
            i = index[prefix]
            rew += token_reward[i, a]
            prob *= ref[i, a]
            prefix = prefix + (a,)
        seq_r.append(rew)
        seq_p.append(prob)
    return mdp, ref, index, seqs, np.array(seq_r), np.array(seq_p)


def _sequence_probs(policy, index, seqs):
    out = []
    for y in seqs:
        prob, prefix = 1.0, ()
        for h, a in enumerate(y):
            prob *= policy[h, index[prefix], a]
            prefix = prefix + (a,)
        out.append(prob)
    return np.array(out)


@register(
    id="kl-rl-bayesian-posterior",
    title="KL-regularized RL is variational inference towards the posterior ref e^{r/beta}/Z",
    citation=(
        "Korbak, Perez & Buckley 2022, arXiv:2205.11275, Section 3 (KL-regularised RL as "
        "variational inference); Levine 2018, arXiv:1805.00909, Section 2.3"
    ),
    statement=(
        r"With prior $\pi_0$ and reward $r$, $J(\pi) = \mathbb E_\pi r - \beta\,"
        r"\mathrm{KL}(\pi\|\pi_0) = \beta\log Z - \beta\,\mathrm{KL}(\pi\|\pi^*)$ for every "
        r"$\pi$, where $\pi^* = \pi_0 e^{r/\beta}/Z$ is the Bayesian posterior; hence the "
        r"KL-regularized optimum is $\pi^*$ with value $\beta \log Z$, token-level soft-optimal "
        r"policies on a prefix tree induce exactly $\pi^*$ over sequences, and as "
        r"$\beta \to 0$ the optimum collapses onto the reward maximiser."
    ),
    budget_seconds=30,
)
def check(quick: bool, rng: np.random.Generator, out):
    beta, K = 0.7, 12
    p0 = rng.dirichlet(np.ones(K))
    r = rng.normal(size=K)
    pi_star, V = _bandit(p0, r, beta)
    logw = np.log(p0) + r / beta
    posterior = np.exp(logw - logw.max())
    posterior /= posterior.sum()
    logZ = logw.max() + np.log(np.exp(logw - logw.max()).sum())
    err_policy = float(np.max(np.abs(pi_star - posterior)))
    err_value = abs(V - beta * logZ)

    n = 200 if quick else 1000
    qs = rng.dirichlet(np.full(K, 0.3), size=n)
    J = qs @ r - beta * kl_divergence(qs, p0)
    rhs = beta * logZ - beta * kl_divergence(qs, pi_star)
    err_identity = float(np.max(np.abs(J - rhs)))

    depth, vocab = (3, 3) if quick else (4, 4)
    mdp, ref, index, seqs, seq_r, seq_p = _prefix_tree(depth, vocab, rng)
    tree = solve(mdp, beta=beta, ref=ref)
    induced = _sequence_probs(tree.policy, index, seqs)
    target = seq_p * np.exp((seq_r - seq_r.max()) / beta)
    target /= target.sum()
    err_tree = float(np.max(np.abs(induced - target)))
    seq_logZ = np.log(np.sum(seq_p * np.exp((seq_r - seq_r.max()) / beta))) + seq_r.max() / beta
    err_tree_value = abs(tree.V[0, 0] - beta * seq_logZ)

    betas = np.logspace(-3, 1, 25)
    entropy = []
    for b in betas:
        pol, _ = _bandit(p0, r, float(b))
        entropy.append(float(-kl_divergence(pol, np.ones(K))))  # H(p) = -KL(p || 1)
    collapse = float(_bandit(p0, r, 1e-3)[0][np.argmax(r)])

    table = pd.DataFrame(
        [
            {"check": "bandit policy = posterior", "max_abs_error": err_policy},
            {"check": "bandit value = beta log Z", "max_abs_error": err_value},
            {"check": f"identity on {n} random q", "max_abs_error": err_identity},
            {
                "check": f"tree (depth {depth}, vocab {vocab}) sequence law = posterior",
                "max_abs_error": err_tree,
            },
            {"check": "tree value = beta log Z_seq", "max_abs_error": err_tree_value},
            {"check": "mass on argmax r at beta=1e-3 (collapse)", "max_abs_error": 1 - collapse},
        ]
    )
    passed = (
        max(err_policy, err_value, err_identity, err_tree, err_tree_value) <= 1e-10
        and collapse > 0.999
    )

    t = np.linspace(0, 1, 101)
    fam = (1 - t)[:, None] * p0 + t[:, None] * np.eye(K)[np.argmax(r)]
    fam_J = fam @ r - beta * kl_divergence(fam, p0)
    fam_rhs = beta * logZ - beta * kl_divergence(fam, pi_star)
    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.33, ncols=2)
        ax1.plot(
            t, fam_J, lw=2.5, alpha=0.6, label=r"$\mathbb{E}_q r - \beta\,\mathrm{KL}(q\|\pi_0)$"
        )
        ax1.plot(t, fam_rhs, "k--", lw=1, label=r"$\beta\log Z - \beta\,\mathrm{KL}(q\|\pi^*)$")
        ax1.axhline(beta * logZ, color="0.5", lw=0.6, ls=":", label=r"$\max = \beta \log Z$")
        label_axes(
            ax1,
            r"$t$ in $q_t = (1-t)\,\pi_0 + t\,\delta_{\arg\max r}$",
            "objective (reward units)",
            rf"Identity, $|Y|$ = {K}, $\beta$ = {beta}",
        )
        ax2.semilogx(betas, entropy, "o-", ms=2.5)
        ax2.axhline(
            -np.sum(p0 * np.log(p0)), color="0.5", ls=":", lw=0.8, label=r"entropy of $\pi_0$"
        )
        label_axes(
            ax2,
            r"temperature $\beta$",
            r"entropy of $\pi^*_\beta$ (nats)",
            "Distribution collapse as $\\beta \\to 0$",
        )
    figs = save_figure(fig, out / "bayesian_view")
    summary = (
        f"Solver optimum vs posterior: {err_policy:.1e}; value vs beta log Z: {err_value:.1e}; "
        f"identity over {n} random q: {err_identity:.1e}; prefix tree ({vocab}^{depth} "
        f"sequences) token-level optimum induces the sequence posterior within {err_tree:.1e}; "
        f"at beta = 1e-3 the optimum puts {collapse:.6f} on the reward maximiser."
    )
    return ClaimResult(
        passed,
        table,
        figs,
        summary,
        {
            "max_error": max(err_policy, err_value, err_identity, err_tree),
            "collapse_mass": collapse,
        },
    )
