r"""Claims about RL for language models, checked exactly on small LLM-policy proxies.

The proxies (:mod:`mdplab.proxies`) are token-level MDPs of small reference LMs (character
n-grams fitted on the packaged corpus, an arithmetic corpus, random LMs) with verifiable or
additive rewards; every optimum is computed exactly by backward induction by level.

* ``proxy-token-level-optimum`` -- Rafailov, Hejna, Park & Finn 2024, "From r to Q*: your
  language model is secretly a Q-function", arXiv:2404.12358, Sec. 3-4 (token-level MDP;
  numbering unverified): on a deterministic prefix tree the token-level soft-Bellman optimum
  induces the sequence-level optimum :math:`\pi_{\rm ref}(y)e^{r(y)/\beta}/Z`,
  :math:`V^*(\text{root}) = \beta\log Z`, and the sequence KL is the expected sum of per-token
  KLs (chain rule) for every policy.
* ``proxy-oreal-bon-bc`` -- Lyu et al. 2025 (OREAL), "Exploring the limit of outcome reward for
  learning mathematical reasoning", arXiv:2502.06781, Sec. 2 (abstract's claim; theorem
  numbering unverified): with a binary reward, best-of-:math:`N` over sequences is the
  KL-optimal LM at :math:`1/\beta_N = \log[(1-(1-p_c)^N)/(p_c(1-p_c)^{N-1})]` (our derivation);
  behaviour cloning on positive samples converges to :math:`\pi_{\rm ref}(\cdot\mid r=1)`,
  which is the :math:`\beta \to 0^+` optimum, at TV distance exactly :math:`(1-p_c)^N` from the
  :math:`\beta_N` optimum -- the mixing weight that OREAL's reshaping of negatives supplies.
* ``proxy-policy-cliff`` -- Xu 2025, "The policy cliff: a theoretical analysis of
  reward-policy maps in large language models", arXiv:2507.20150 (abstract's claims; theorem
  numbering unverified): without regularisation the optimal LM jumps under arbitrarily small
  reward perturbations when correct answers tie; with KL temperature :math:`\beta > 0` the map
  :math:`r \mapsto \pi^*_\beta` is Lipschitz: per prefix
  :math:`\|\pi^*_{r'}(\cdot|h) - \pi^*_r(\cdot|h)\|_1 \le \mathrm{osc}(r'-r)/(2\beta) \le
  \|r'-r\|_\infty/\beta`, and the same bound holds for the sequence law (our derivation: the
  softmax Jacobian satisfies :math:`\|J\delta\|_1 = \mathbb E_\pi|\delta - \mathbb E_\pi\delta|
  \le \mathrm{osc}(\delta)/2`, and :math:`Q^*_\beta` is 1-Lipschitz in :math:`r`, with values
  between :math:`\min(r'-r)` and :math:`\max(r'-r)`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import bon
from ..plot import (
    fit_loglog_slope,
    label_axes,
    new_figure,
    paper_style,
    plot_loglog_fit,
    save_figure,
)
from ..proxies import (
    NGramLM,
    TokenLM,
    TokenMDP,
    TokenPolicy,
    fit_policy,
    kl_optimal,
    sample_best_of_n,
)
from ..proxies import rewards as rw
from ..solvers import solve
from . import ClaimResult, register
from ._seeds import seed_sweep

RAFAILOV = ("Rafailov, Hejna, Park & Finn 2024, arXiv:2404.12358, Sec. 3-4 (token-level MDP; "
            "numbering unverified)")
OREAL = ("Lyu et al. 2025 (OREAL), arXiv:2502.06781, Sec. 2 (abstract's claim; numbering "
         "unverified)")
CLIFF = "Xu 2025 (The Policy Cliff), arXiv:2507.20150 (abstract's claims; numbering unverified)"


class _PrefixDirichletLM(TokenLM):
    """pi_ref(.|h) ~ Dirichlet(1) independently for every prefix h (order = H, no EOS): the
    catalogue's V = 3, H = 3 tree instance."""

    def __init__(self, V, H, rng):
        self.vocab = tuple("abcdefghij"[:V])
        self.eos = None
        self.order = H
        self._rng, self._table = rng, {}

    def context_probs(self, contexts):
        out = np.empty((len(contexts), self.V))
        for i, c in enumerate(np.asarray(contexts)):
            key = tuple(int(x) for x in c)
            if key not in self._table:
                self._table[key] = self._rng.dirichlet(np.ones(self.V))
            out[i] = self._table[key]
        return out


def _gaussian_reward(rng):
    table = {}

    def check(text):
        if text not in table:
            table[text] = float(rng.normal())
        return table[text]
    return rw.VerifiableReward(check, name="N(0,1) per sequence")


def _seq_kl(lp, lq):
    p = np.exp(lp)
    return float(np.sum(np.where(p > 0, p * (lp - lq), 0.0)))


# ---------------------------------------------------------------------------------------------
@register(
    id="proxy-token-level-optimum",
    title="Token-level soft-Bellman optimum = sequence-level tilt, and the KL chain rule",
    citation=RAFAILOV,
    statement=(
        r"On the token-level MDP of a language model (state = prefix, deterministic "
        r"transitions, reward on finished sequences) the soft-Bellman optimum with temperature "
        r"$\beta$ induces exactly $\pi^*(y) = \pi_{\rm ref}(y)e^{r(y)/\beta}/Z$ over sequences, "
        r"$V^*(\mathrm{root}) = \beta\log Z$, and for every token-level policy "
        r"$\mathrm{KL}(\pi\|\pi_{\rm ref}) = \mathbb E_\pi\sum_t "
        r"\mathrm{KL}(\pi(\cdot|h_t)\|\pi_{\rm ref}(\cdot|h_t))$."
    ),
    budget_seconds=60,
)
def check_token_level(quick: bool, rng: np.random.Generator, out):
    H = 3 if quick else 4
    lm = NGramLM.default(n=3)
    rewards = {
        "contains 'he' (verifiable)": rw.contains("he"),
        "N(0,1) per sequence": _gaussian_reward(rng),
        "count of vowels (additive)": rw.LinearReward({c: 1.0 for c in "aeiou"}),
    }
    betas = [0.1, 0.5, 2.0]
    rows, scatter = [], None
    for rname, reward in rewards.items():
        task = TokenMDP(lm, H, reward, state="tree")
        ref = task.distribution()
        p = np.exp(ref.log_prob)
        for beta in betas:
            opt = kl_optimal(task, beta)
            lp = task.distribution(opt.policy).log_prob
            tilt = bon.tilt(p / p.sum(), ref.reward, beta)
            logZ = float(bon.log_partition(p / p.sum(), ref.reward, beta))
            seq_kl = _seq_kl(lp, ref.log_prob)
            tok_kl = opt.policy.kl()
            rows.append({"instance": f"3-gram, H={H}, {rname}", "beta": beta,
                         "sequences": len(task.sequences()),
                         "max_abs_err_law": float(np.max(np.abs(np.exp(lp) - tilt))),
                         "value_err": abs(opt.value - beta * logZ) / max(1, abs(opt.value)),
                         "chain_rule_err": abs(seq_kl - tok_kl) / max(1, seq_kl),
                         "kl": tok_kl})
            if rname.startswith("contains") and beta == 0.5:
                scatter = (np.log(tilt), lp, ref.reward)
        if reward.additive:  # compressed Markov state (t, last 2 tokens) gives the same law
            markov = TokenMDP(lm, H, reward, state="markov")
            for beta in betas:
                a = task.distribution(kl_optimal(task, beta).policy).log_prob
                b = kl_optimal(markov, beta).policy.log_prob(task.sequences())
                rows.append({"instance": f"markov state vs tree, {rname}", "beta": beta,
                             "sequences": len(a),
                             "max_abs_err_law": float(np.max(np.abs(np.exp(a) - np.exp(b)))),
                             "value_err": abs(kl_optimal(task, beta).value
                                              - kl_optimal(markov, beta).value),
                             "chain_rule_err": 0.0, "kl": np.nan})
    # chain rule for random token-level policies
    task = TokenMDP(lm, H, rewards["contains 'he' (verifiable)"], state="tree")
    ref_lp = task.ref_policy.log_prob(task.sequences())
    chain = []
    for _ in range(10 if quick else 40):
        conc = float(10 ** rng.uniform(-1, 1))
        probs = [rng.dirichlet(np.full(task.V, conc), size=S) for S in task.n_states[:-1]]
        pol = TokenPolicy(task, probs)
        seq = _seq_kl(pol.log_prob(task.sequences()), ref_lp)
        chain.append((seq, pol.kl()))
    chain = np.array(chain)
    chain_err = float(np.max(np.abs(chain[:, 0] - chain[:, 1]) / np.maximum(1, chain[:, 0])))
    rows.append({"instance": f"{len(chain)} random Dirichlet policies", "beta": np.nan,
                 "sequences": len(ref_lp), "max_abs_err_law": np.nan, "value_err": np.nan,
                 "chain_rule_err": chain_err, "kl": float(chain[:, 0].mean())})
    # the catalogue's instance: V = 3, H = 3, Dirichlet(1) reference per prefix, N(0,1) reward,
    # beta = 0.5, against mdplab.solve on the tabular form (an independent solver)
    small = TokenMDP(_PrefixDirichletLM(3, 3, rng), 3, _gaussian_reward(rng))
    mdp, ref_arr, off = small.to_tabular()
    sol = solve(mdp, beta=0.5, ref=ref_arr)
    opt = kl_optimal(small, 0.5)
    d = small.distribution()
    tilt = bon.tilt(np.exp(d.log_prob), d.reward, 0.5)
    solver_err = max(abs(sol.V[0][off[0] + small.root] - opt.value),
                     max(float(np.max(np.abs(sol.policy[t, off[t]:off[t + 1]]
                                             - opt.policy.probs[t]))) for t in range(3)))
    rows.append({"instance": "V=3, H=3 Dirichlet tree vs mdplab.solve", "beta": 0.5,
                 "sequences": 27,
                 "max_abs_err_law": float(np.max(np.abs(
                     np.exp(opt.policy.log_prob(small.sequences())) - tilt))),
                 "value_err": solver_err, "chain_rule_err": 0.0, "kl": opt.policy.kl()})
    table = pd.DataFrame(rows)
    tol = 1e-12
    worst = float(np.nanmax(table[["max_abs_err_law", "value_err", "chain_rule_err"]].to_numpy()))
    passed = worst <= tol

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        x, y, r = scatter
        for val, col, lab in ((0.0, "C0", "r = 0"), (1.0, "C1", "r = 1 (contains 'he')")):
            m = r == val
            ax1.plot(x[m], y[m], ".", ms=1.5, color=col, alpha=0.5, label=lab)
        lim = [x.min(), x.max()]
        ax1.plot(lim, lim, "k--", lw=0.6, label="y = x")
        label_axes(ax1, r"sequence level $\log[\pi_{\rm ref}(y)e^{r(y)/\beta}/Z]$",
                   r"token level $\log \pi^*(y)$",
                   f"3-gram LM, H = {H}, beta = 0.5: {len(x)} sequences")
        ax2.loglog(chain[:, 0], chain[:, 1], "o", ms=3, label="random token-level policies")
        opt_pts = table.dropna(subset=["kl"])
        opt_pts = opt_pts[opt_pts["instance"].str.startswith("3-gram")]
        ax2.loglog(opt_pts["kl"], opt_pts["kl"], "s", ms=3, label=r"optima $\pi^*_\beta$")
        lim = [min(chain.min(), opt_pts["kl"].min()) * 0.8, chain.max() * 1.2]
        ax2.loglog(lim, lim, "k--", lw=0.6)
        label_axes(ax2, r"sequence KL $\sum_y \pi(y)\log(\pi(y)/\pi_{\rm ref}(y))$ (nats)",
                   r"$\mathbb{E}_\pi\sum_t \mathrm{KL}(\pi(\cdot|h_t)\|\pi_{\rm ref})$ (nats)",
                   f"Chain rule, max relative error {chain_err:.1e}")
    figs = save_figure(fig, out / "proxy_token_level_optimum")
    summary = (f"3-gram LM on the packaged corpus, H = {H}, three rewards, beta in {betas}: "
               f"token-level optimum vs sequence tilt, V(root) vs beta log Z, chain rule, Markov "
               f"state vs tree and mdplab.solve on the catalogue's V=3,H=3 tree all agree within "
               f"{worst:.1e} (tolerance {tol:g}).")
    return ClaimResult(passed, table, figs, summary,
                       {"max_error": worst, "chain_rule_err": chain_err})


# ---------------------------------------------------------------------------------------------
def _arithmetic_lm(rng, lines=400):
    """4-gram LM on a generated corpus of sums "a+b=c" (digits 0-5, a+b <= 5), a fifth of
    them with a wrong answer: the reference solves about 60 % of its attempts."""
    corpus = []
    for _ in range(lines):
        a = int(rng.integers(0, 6))
        b = int(rng.integers(0, 6 - a))
        c = a + b
        if rng.random() < 0.2:
            c = int(rng.integers(0, 6))
        corpus.append(f"{a}+{b}={c}")
    return NGramLM.fit(corpus, n=4, k=0.05, vocab=tuple("012345+="))


def _inverse_beta_n(pc, N):
    return np.log((1 - (1 - pc) ** N) / (pc * (1 - pc) ** (N - 1)))


def _oreal_task(lm_seed: int):
    """The arithmetic task of ``proxy-oreal-bon-bc``: (task, reference law p, rewards r,
    accuracy p_c, the reference conditional on success)."""
    lm = _arithmetic_lm(np.random.default_rng(lm_seed))
    task = TokenMDP(lm, 6, rw.arithmetic(require_eos=True))
    ref = task.distribution()
    p = np.exp(ref.log_prob)
    r = ref.reward
    pc = float(p[r == 1].sum())
    return task, p, r, pc, np.where(r == 1, p, 0.0) / pc


def oreal_bc_repetition(lm_seed: int, N: int, Ms: list, rng) -> list[dict]:
    """Behaviour cloning on the first ``M`` positive best-of-``N`` samples, for every ``M``:
    the exact TV distance of the cloned LM's sequence law to the reference conditional on
    success (rows for :func:`mdplab.sweep.sweep`)."""
    task, _, _, pc, cond = _oreal_task(lm_seed)
    kept, kept_r = sample_best_of_n(task, N, int(max(Ms) / (1 - (1 - pc) ** N) * 1.3), rng)
    pos = np.flatnonzero(kept_r == 1)
    rows = []
    for M in Ms:
        sel = pos[:M]
        data = type(kept)(kept.tokens[sel], kept.lengths[sel], kept.vocab, kept.eos)
        law = np.exp(task.distribution(fit_policy(task, data)).log_prob)
        rows.append({"M": M, "tv_to_cond": 0.5 * float(np.abs(law - cond).sum())})
    return rows


@register(
    id="proxy-oreal-bon-bc",
    title=("Binary reward: BoN over sequences is a KL-optimal LM; BC on positives is its "
           "beta->0 limit"),
    citation=f"{OREAL}; exact reduction our derivation",
    statement=(
        r"With $r \in \{0,1\}$ and reference accuracy $p_c$, best-of-$N$ over whole sequences "
        r"equals the token-level KL-optimal LM at $1/\beta_N = \log[(1-(1-p_c)^N)/"
        r"(p_c(1-p_c)^{N-1})]$; its conditional on success is $\pi_{\rm ref}(\cdot|r=1)$ for "
        r"every $N$. Behaviour cloning on positive samples converges (TV $\propto M^{-1/2}$ in "
        r"the number of positives $M$) to $\pi_{\rm ref}(\cdot|r=1) = \pi^*_{0^+}$, which is "
        r"at TV distance exactly $(1-p_c)^N$ from $\pi^*_{\beta_N}$."
    ),
    budget_seconds=90,
)
def check_oreal(quick: bool, rng: np.random.Generator, out):
    lm_seed = int(rng.integers(2**31))
    task, p, r, pc, cond = _oreal_task(lm_seed)
    seqs = task.sequences()
    zero = np.exp(task.distribution(kl_optimal(task, 0.0).policy).log_prob)
    rows = []
    for N in [2, 4, 8, 16, 64]:
        beta = 1.0 / _inverse_beta_n(pc, N)
        tok = np.exp(task.distribution(kl_optimal(task, beta).policy).log_prob)
        pbon = bon.pmf(p / p.sum(), r, N)
        rows.append({"part": "BoN = token-level optimum", "N": N, "beta_N": beta,
                     "p_c": pc, "success_bon": float(pbon[r == 1].sum()),
                     "max_abs_err": float(np.max(np.abs(tok - pbon))),
                     "cond_err": float(np.max(np.abs(pbon * (r == 1) / pbon[r == 1].sum()
                                                     - cond))),
                     "tv_to_beta0": 0.5 * float(np.abs(tok - zero).sum()),
                     "tv_formula": (1 - pc) ** N})
    exact = pd.DataFrame(rows)
    err_exact = float(exact[["max_abs_err", "cond_err"]].to_numpy().max())
    err_tv = float(np.max(np.abs(exact["tv_to_beta0"] - exact["tv_formula"])))
    err_zero = float(np.max(np.abs(zero - cond)))

    # behaviour cloning on positive best-of-N samples
    N_bc = 4
    Ms = [100, 300, 1000, 3000] if quick else [100, 300, 1000, 3000, 10_000, 30_000]
    seeds = 3 if quick else 8
    bc_tab = seed_sweep(oreal_bc_repetition, {"lm_seed": lm_seed, "N": N_bc, "Ms": [Ms]},
                        seeds, rng)[["seed", "M", "tv_to_cond"]]
    mean_tv = bc_tab.groupby("M")["tv_to_cond"].mean()
    fit = fit_loglog_slope(mean_tv.index.to_numpy(float), mean_tv.to_numpy())
    lo, hi = fit.ci
    slope_ok = lo <= -0.4 and hi >= -0.6
    tol = 1e-12
    passed = err_exact <= tol and err_tv <= tol and err_zero <= tol and slope_ok
    table = pd.concat([exact, bc_tab.assign(part="BC on positives of BoN-4")],
                      ignore_index=True)

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        Ns = np.unique(np.round(np.geomspace(2, 256, 40)))
        for q in (0.05, 0.2, 0.5, 0.8):
            ax1.loglog(Ns, 1 / _inverse_beta_n(q, Ns), lw=1, label=f"$p_c$ = {q}")
        ax1.loglog(Ns, 1 / _inverse_beta_n(pc, Ns), "k-", lw=1.5,
                   label=f"arithmetic proxy, $p_c$ = {pc:.3f}")
        ax1.loglog(exact["N"], exact["beta_N"], "ko", ms=3.5, mfc="none",
                   label="token-level optimum = BoN (checked)")
        label_axes(ax1, "number of samples N", r"equivalent temperature $\beta_N$",
                   "Best-of-N with a binary reward is a KL optimum")
        plot_loglog_fit(ax2, mean_tv.index.to_numpy(float), mean_tv.to_numpy(), fit=fit,
                        label="BC on positives (mean of seeds)")
        for i, N in enumerate((2, 4, 8)):
            ax2.axhline((1 - pc) ** N, ls=":", lw=0.8, color="0.4",
                        label=r"$(1-p_c)^N$ = TV to $\pi^*_{\beta_N}$, N = 2, 4, 8" if i == 0
                        else None)
        ax2.legend(loc="lower left", fontsize=6)
        label_axes(ax2, "positive samples M",
                   r"TV(BC$_M$, $\pi_{\rm ref}(\cdot|r=1)$)",
                   "BC on positives converges to the $\\beta \\to 0^+$ optimum", legend=False)
    figs = save_figure(fig, out / "proxy_oreal_bon_bc")
    summary = (f"Arithmetic proxy (4-gram LM on sums 'a+b=c', H = 6, {len(seqs)} sequences, "
               f"p_c = {pc:.4f}): BoN_N = token-level optimum at beta_N within {err_exact:.1e} "
               f"for N in {list(exact['N'])} (beta_N = "
               f"{', '.join(f'{b:.3f}' for b in exact['beta_N'])}); TV(pi*_beta_N, "
               f"pi_ref(.|r=1)) = (1-p_c)^N within {err_tv:.1e}; BC on positives: TV slope "
               f"{fit.slope:.3f} (95% CI [{lo:.3f}, {hi:.3f}], criterion: overlaps "
               f"[-0.6, -0.4]).")
    return ClaimResult(passed, table, figs, summary,
                       {"p_c": pc, "max_error": max(err_exact, err_tv, err_zero),
                        "bc_slope": fit.slope})


# ---------------------------------------------------------------------------------------------
@register(
    id="proxy-policy-cliff",
    title=("Policy cliff: the unregularized optimal LM jumps, the KL-regularized one is "
           "1/beta-Lipschitz"),
    citation=f"{CLIFF}; bound constants our derivation",
    statement=(
        r"With tied correct answers, the $\beta = 0$ optimal LM (limit $\beta\to 0^+$) moves by "
        r"a total-variation distance bounded away from 0 under reward perturbations "
        r"$\varepsilon g$ with $\varepsilon \to 0$. For $\beta > 0$, for every prefix $h$, "
        r"$\|\pi^*_{r'}(\cdot|h) - \pi^*_r(\cdot|h)\|_1 \le \mathrm{osc}(r' - r)/(2\beta) \le "
        r"\|r' - r\|_\infty/\beta$, and the same bound holds for the sequence law."
    ),
    budget_seconds=60,
)
def check_cliff(quick: bool, rng: np.random.Generator, out):
    lm = NGramLM.default(n=2)
    H = 3
    base = rw.contains("e")
    g = rw.LinearReward({"t": 1.0}, name="count of 't'")

    def task_for(eps, extra=None):
        parts, w = [base, g], [1.0, eps]
        if extra is not None:
            parts.append(extra)
            w.append(1.0)
        return TokenMDP(lm, H, rw.combine(*parts, weights=w), state="tree")

    t0 = task_for(0.0)
    seqs = t0.sequences()
    g_seq = g.evaluate(seqs.tokens, seqs.lengths, t0.vocab, t0.eos)
    # (a) the cliff: beta = 0 and small beta, as eps crosses 0
    eps_grid = np.concatenate([-np.geomspace(1e-1, 1e-9, 9), [0.0], np.geomspace(1e-9, 1e-1, 9)])
    curve = []
    for beta in (0.0, 0.01, 0.1, 1.0):
        for eps in eps_grid:
            pol = kl_optimal(task_for(eps), beta).policy
            law = np.exp(pol.task.distribution(pol).log_prob)
            curve.append({"beta": beta, "eps": eps, "mean_t_count": float(law @ g_seq),
                          "law": law})
    cdf = pd.DataFrame(curve)
    zero_law = cdf[(cdf.beta == 0) & (cdf.eps == 0)]["law"].iloc[0]
    jumps = [0.5 * float(np.abs(row.law - zero_law).sum())
             for row in cdf[(cdf.beta == 0) & (cdf.eps > 0)].itertuples()]
    jump_small = jumps[0]  # eps = 1e-9
    jump_spread = max(jumps) - min(jumps)
    # (b) Lipschitz bound for beta > 0: random sequence-level perturbations
    betas = [0.01, 0.1, 1.0]
    n_pert = 6 if quick else 30
    rows = []
    for beta in betas:
        opt0 = kl_optimal(t0, beta)
        law0 = np.exp(opt0.policy.log_prob(seqs))
        for _ in range(n_pert):
            scale = float(10 ** rng.uniform(-4, 0))
            kind = rng.choice(["additive", "per-sequence"])
            if kind == "additive":
                extra = rw.LinearReward(scale * rng.uniform(-1, 1, size=lm.V))
            else:
                table = {}
                sub = np.random.default_rng(int(rng.integers(2**32)))

                def pert(text, table=table, sub=sub, scale=scale):
                    if text not in table:
                        table[text] = scale * float(sub.uniform(-1, 1))
                    return table[text]
                extra = rw.VerifiableReward(pert, name="perturbation")
            t1 = TokenMDP(lm, H, rw.combine(base, extra), state="tree")
            dr = extra.evaluate(seqs.tokens, seqs.lengths, t0.vocab, t0.eos)
            osc = float(dr.max() - dr.min())
            opt1 = kl_optimal(t1, beta)
            law1 = np.exp(opt1.policy.log_prob(seqs))
            occ = opt0.policy.occupancy()
            per_state = max(float(np.max(np.abs(a - b).sum(1)[occ[t] >= 0]))
                            for t, (a, b) in enumerate(zip(opt1.policy.probs,
                                                           opt0.policy.probs, strict=True)))
            seq_l1 = float(np.abs(law1 - law0).sum())
            bound = osc / (2 * beta)
            rows.append({"beta": beta, "kind": kind, "sup_dr": float(np.abs(dr).max()),
                         "osc_dr": osc, "bound": bound, "seq_l1": seq_l1,
                         "per_state_l1": per_state, "ratio_seq": seq_l1 / bound,
                         "ratio_state": per_state / bound,
                         "ratio_sup": per_state / (float(np.abs(dr).max()) / beta)})
    lip = pd.DataFrame(rows)
    max_ratio = float(lip[["ratio_seq", "ratio_state", "ratio_sup"]].to_numpy().max())
    passed = jump_small >= 0.5 and jump_spread <= 1e-12 and max_ratio <= 1 + 1e-9
    table = pd.concat([cdf.drop(columns="law").assign(part="eps sweep"),
                       lip.assign(part="Lipschitz")], ignore_index=True)

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        for beta, sub in cdf.groupby("beta"):
            x = np.sign(sub["eps"]) * np.log10(np.maximum(np.abs(sub["eps"]), 1e-12) / 1e-10)
            x[sub["eps"] == 0] = 0
            ax1.plot(x, sub["mean_t_count"], "o-" if beta == 0 else "-", ms=2.5,
                     label=rf"$\beta$ = {beta:g}")
        ticks = [-8, -4, 0, 4, 8]
        ax1.set_xticks(ticks, ["-1e-2", "-1e-6", "0", "1e-6", "1e-2"])
        label_axes(ax1, r"$\varepsilon$ in $r$ = [y contains e] + $\varepsilon\,\cdot$ "
                   "(number of t) (symlog)",
                   r"expected number of t under $\pi^*$",
                   f"The cliff: TV jump {jump_small:.3f} at $\\varepsilon = 10^{{-9}}$")
        for beta, sub in lip.groupby("beta"):
            ax2.loglog(sub["bound"], sub["per_state_l1"], "o", ms=3,
                       label=rf"per prefix, $\beta$ = {beta:g}")
            ax2.loglog(sub["bound"], sub["seq_l1"], "x", ms=3,
                       label=rf"sequence law, $\beta$ = {beta:g}")
        lim = [lip["bound"].min() * 0.5, lip["bound"].max() * 2]
        ax2.loglog(lim, lim, "k--", lw=0.6, label="bound")
        ax2.legend(fontsize=5, ncol=2)
        label_axes(ax2, r"$\mathrm{osc}(\Delta r)/(2\beta)$",
                   r"measured $\|\Delta\pi\|_1$", f"Lipschitz bound, max ratio {max_ratio:.3f}",
                   legend=False)
    figs = save_figure(fig, out / "proxy_policy_cliff")
    summary = (f"Bigram LM, H = 3, r = contains 'e' + eps * count of 't': at beta = 0 the "
               f"optimal LM moves by TV {jump_small:.4f} for every eps in [1e-9, 1e-1] (spread "
               f"{jump_spread:.1e}); for beta in {betas} over {len(lip)} random perturbations the "
               f"largest ratio of measured L1 change to osc(dr)/(2 beta) is {max_ratio:.4f} "
               f"(criterion: jump >= 0.5 and ratio <= 1).")
    return ClaimResult(passed, table, figs, summary,
                       {"jump_tv": jump_small, "max_ratio": max_ratio})
