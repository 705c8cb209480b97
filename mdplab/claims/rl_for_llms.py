r"""Claims about RL for language models, checked exactly on LLM-policy proxies (part 2).

Every optimum below is computed exactly on a token MDP (:mod:`mdplab.proxies`) by backward
induction by level; every law over sequences is enumerated.

* ``proxy-on-policy-distillation`` -- Oh, Song, Choi, Choi & Jo 2026, "KL for a KL: on-policy
  distillation with control variate baseline", arXiv:2605.07865 (abstract's claim: the OPD
  value is the per-token negative reverse KL; numbering unverified). Under the per-token
  reward :math:`\log\pi_T - \log\pi_S` the student's value at the root is
  :math:`-\mathrm{KL}(\pi_S\|\pi_T) = -\mathbb E_{\pi_S}\sum_t \mathrm{KL}_t`; the optimum of
  this KL-regularized problem (any reference, :math:`\beta = 1`) is the teacher, and exact
  natural-gradient OPD toward the KL-optimal LM :math:`\pi^*_\beta` recovers it (in at most
  :math:`H` steps with step size 1; our derivation).
* ``proxy-difficulty-filtering`` -- Bae, Hong, Lee, Kim, Nam & Kwak 2025, "Online difficulty
  filtering for reasoning oriented reinforcement learning", arXiv:2504.03380 (abstract's
  claim: the improvement is lower-bounded through the variance :math:`p(1-p)` of the
  accuracy; the exact form of their bound is not available here, so the bounds are our
  reconstruction). For a binary reward and the KL-regularized update
  :math:`\pi_1 = \pi_{\rm ref}e^{r/\beta}/Z` of a prompt with accuracy :math:`p`:
  :math:`\Delta = p_1 - p = p(1-p)(e^{1/\beta}-1)/Z` exactly, so
  :math:`p(1-p)(1-e^{-1/\beta}) \le \Delta \le p(1-p)(e^{1/\beta}-1)`;
  :math:`\Delta = \beta[\mathrm{KL}(\pi_1\|\pi_{\rm ref}) + \mathrm{KL}(\pi_{\rm ref}\|\pi_1)]`
  for every reward; and :math:`\mathrm{KL}(\pi_1\|\pi_{\rm ref}) \ge 2\Delta^2 \ge
  2(1-e^{-1/\beta})^2 p^2(1-p)^2` (Pinsker). The exact improvement peaks at
  :math:`p = 1/(1+e^{1/(2\beta)})`, which tends to :math:`1/2` only as :math:`\beta` grows.
* ``proxy-bon-kl-equivalence`` -- Yang, Salamatian, Sun, Suresh & Beirami 2024, "Asymptotics
  of language model alignment", arXiv:2404.01730 (memoryless LM, linear reward; theorem
  numbering unverified): on the token MDP of an i.i.d. LM, best-of-:math:`e^{H\delta}` and the
  token-level KL-optimal LM at budget :math:`H\delta` have per-token rewards whose ratio tends
  to 1, with :math:`\mathrm{KL}(\pi_N\|\phi)/H \to 0` and the reward gap close to
  :math:`\log H/(2\lambda H)` (our Bahadur-Rao derivation).
* ``proxy-reward-overoptimization`` -- Gao, Schulman & Hilton 2022, "Scaling laws for reward
  model overoptimization", arXiv:2210.10760 (Sec. 3, functional forms
  :math:`d(\alpha - \beta d)` for BoN and :math:`d(\alpha - \beta\log d)` for RL with
  :math:`d = \sqrt{\mathrm{KL}}`; numbering unverified): a Bradley-Terry reward model on token
  counts, fitted on preference pairs labelled by a non-additive true reward, is optimised by
  exact BoN and by the exact KL-optimal LM; the true reward rises, peaks and falls while the
  proxy reward keeps rising (Goodhart).
* ``proxy-genarm-expressivity`` -- Xu, Sehwag, Koppel, Zhu, An, Huang & Ganesh 2025 (GenARM),
  arXiv:2410.08193 (abstract's expressivity claim; numbering unverified): the autoregressive
  reward model :math:`\pi_r(a|h) \propto (\pi^*(a|h)/\pi_{\rm ref}(a|h))^\beta` makes guided
  decoding :math:`\pi \propto \pi_{\rm ref}\pi_r^{1/\beta}` equal to :math:`\pi^*_\beta`
  exactly; the factorised Gibbs model :math:`\pi_r(y) \propto e^{R(y)}` is in the same reward
  equivalence class but its per-token guided decoding is exact only when :math:`H = 1`.
* ``proxy-vimpo-implied-value`` -- Kang, Feng, Levine, Song & Zhao 2026 (VIMPO),
  arXiv:2606.20008 (abstract's value recurrence; numbering unverified):
  :math:`\hat V_t(y) = R(y) - \beta\sum_{k\ge t}\log(\pi/\pi_{\rm ref})(y_k|h_k)` equals
  :math:`V^*(h_t)` for every completion at :math:`\pi^*_\beta`; for any policy
  :math:`\mathbb E_\pi \hat V_0 = J_\beta(\pi)`, and for the tilt at :math:`\beta'` the spread
  over completions is :math:`|1-\beta/\beta'|\,\mathrm{osc}(R)` (our derivation).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import bon
from ..mdp import TabularMDP
from ..plot import label_axes, new_figure, paper_style, save_figure
from ..proxies import (
    MemorylessLM,
    NGramLM,
    PromptedLM,
    TokenMDP,
    TokenPolicy,
    kl_optimal,
    on_policy_distillation,
    opd_values,
)
from ..proxies import rewards as rw
from ..solvers import solve
from . import ClaimResult, register

VOPD = ("Oh, Song, Choi, Choi & Jo 2026 (vOPD), arXiv:2605.07865 (abstract's claim; numbering "
        "unverified)")
BAE = ("Bae, Hong, Lee, Kim, Nam & Kwak 2025, arXiv:2504.03380 (abstract's claim; the exact form "
       "of the bound unverified)")
YANG = ("Yang, Salamatian, Sun, Suresh & Beirami 2024, arXiv:2404.01730 (memoryless LM, linear "
        "reward; numbering unverified)")
GAO = ("Gao, Schulman & Hilton 2022, arXiv:2210.10760, Sec. 3 (functional forms; numbering "
       "unverified)")


def _seq_kl(lp, lq):
    p = np.exp(lp)
    with np.errstate(invalid="ignore"):
        return float(np.sum(np.where(p > 0, p * (lp - lq), 0.0)))


def _random_policy(task, rng, conc=1.0):
    return TokenPolicy(task, [rng.dirichlet(np.full(task.V, conc), size=S)
                              for S in task.n_states[:-1]], name="random student")


def _solve_opd_tabular(task, teacher, ref):
    """Optimum of KL-regularized RL with reward log(pi_T / ref), beta = 1, reference ``ref``,
    by mdplab.solve on the tabular form (an independent solver)."""
    mdp, _, off = task.to_tabular()
    H = task.H
    ref_arr = np.full((H, mdp.S, mdp.A), 1.0 / mdp.A)
    R = np.zeros((H, mdp.S, mdp.A))
    for h in range(H):
        ref_arr[h, off[h]:off[h + 1]] = ref.probs[h]
        R[h, off[h]:off[h + 1]] = np.log(teacher.probs[h]) - np.log(ref.probs[h])
    sol = solve(TabularMDP(mdp.P, R, horizon=H, mu=mdp.mu), beta=1.0, ref=ref_arr)
    err = max(float(np.max(np.abs(sol.policy[h, off[h]:off[h + 1]] - teacher.probs[h])))
              for h in range(H))
    return err, float(sol.V[0][off[0] + task.root])


# ---------------------------------------------------------------------------------------------
@register(
    id="proxy-on-policy-distillation",
    title=("On-policy distillation: the student's value is minus the per-token reverse KL, and "
           "OPD toward the KL-optimal LM recovers it"),
    citation=f"{VOPD}; NPG convergence in H steps our derivation",
    statement=(
        r"With the per-token reward $r_t = \log\pi_T(a_t|h_t) - \log\pi_S(a_t|h_t)$, the "
        r"student's value is $V^S(\mathrm{root}) = -\mathrm{KL}(\pi_S\|\pi_T) = "
        r"-\mathbb E_{\pi_S}\sum_t\mathrm{KL}(\pi_S(\cdot|h_t)\|\pi_T(\cdot|h_t))$ and "
        r"$\mathbb E_{a\sim\pi_S}r_t = -\mathrm{KL}(\pi_S(\cdot|h)\|\pi_T(\cdot|h))$. "
        r"Maximising it (KL-regularized RL with reward $\log(\pi_T/\pi_0)$, $\beta=1$, any "
        r"reference $\pi_0$) gives the teacher; exact natural-gradient OPD with step 1 toward "
        r"$\pi^*_\beta$ reaches it in at most $H$ steps, with $J_\beta = \beta\log Z$."
    ),
    budget_seconds=60,
)
def check_opd(quick: bool, rng: np.random.Generator, out):
    lm = NGramLM.default(n=3)
    H = 3
    task = TokenMDP(lm, H, rw.contains("he"), state="tree")
    seqs = task.sequences()
    rows = []
    n_pairs = 6 if quick else 30
    for i in range(n_pairs):  # (a) value identity for random student / teacher pairs
        conc = float(10 ** rng.uniform(-0.5, 1))
        S, T = _random_policy(task, rng, conc), _random_policy(task, rng, conc)
        V = opd_values(S, T)
        lS, lT = S.log_prob(seqs), T.log_prob(seqs)
        seq = _seq_kl(lS, lT)  # by enumeration of all sequences
        tok = S.kl_per_step(T)
        occ = S.occupancy()
        # one-token expectation of the OPD reward = -KL at every reachable prefix
        per_tok = max(float(np.max(np.abs(
            (S.probs[t] * (np.log(T.probs[t]) - np.log(S.probs[t]))).sum(1)
            + (S.probs[t] * (np.log(S.probs[t]) - np.log(T.probs[t]))).sum(1))[occ[t] > 0]))
            for t in range(H))
        rows.append({"part": "value identity", "instance": i, "kl_seq": seq,
                     "err": max(abs(V[0][task.root] + seq), abs(tok.sum() - seq),
                                per_tok) / max(1.0, seq)})
    # (b) the optimum of OPD-as-RL is the teacher, for any reference (mdplab.solve)
    betas = [0.2, 1.0] if quick else [0.1, 0.2, 0.5, 1.0, 2.0]
    curves = {}
    for beta in betas:
        opt = kl_optimal(task, beta)
        for ref_name, ref in (("reference LM", task.ref_policy),
                              ("random reference", _random_policy(task, rng))):
            err, val = _solve_opd_tabular(task, opt.policy, ref)
            rows.append({"part": "optimum is the teacher (ml.solve)", "beta": beta,
                         "instance": ref_name, "err": max(err, abs(val))})
        # (c) NPG-OPD toward pi*_beta from the reference LM
        for eta in (1.0, 0.5):
            res = on_policy_distillation(opt.policy, eta=eta, iterations=H if eta == 1 else 40)
            curves[(beta, eta)] = res.kl
            final = res.policy
            gap = abs(final.objective(beta) - opt.value)
            law = np.max(np.abs(np.exp(final.log_prob(seqs)) - np.exp(opt.policy.log_prob(seqs))))
            rows.append({"part": f"NPG-OPD eta={eta:g}", "beta": beta,
                         "iterations": len(res.kl) - 1, "kl_seq": float(res.kl[-1]),
                         "err": max(gap, law) if eta == 1 else float(res.kl[-1]),
                         "kl_after_10": float(res.kl[min(10, len(res.kl) - 1)])})
    table = pd.DataFrame(rows)
    tol = 1e-12
    exact = table[table["part"].isin(["value identity", "optimum is the teacher (ml.solve)",
                                      "NPG-OPD eta=1"])]
    worst = float(exact["err"].max())
    slow = table[table["part"] == "NPG-OPD eta=0.5"]
    monotone = all(np.all(np.diff(c) <= 1e-13) for (b, e), c in curves.items() if e != 1)
    passed = worst <= tol and monotone and bool((slow["kl_seq"] <= 1e-8).all())

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        ident = table[table["part"] == "value identity"]
        ax1.plot(ident["kl_seq"], ident["kl_seq"] * (1 + ident["err"]), "o", ms=3,
                   label=r"$-V^S(\mathrm{root})$ by backward induction")
        lim = [0, ident["kl_seq"].max() * 1.1]
        ax1.plot(lim, lim, "k--", lw=0.6, label="y = x")
        label_axes(ax1, r"$\mathrm{KL}(\pi_S\|\pi_T)$ over all sequences (nats)",
                   r"$-V^S(\mathrm{root})$ (OPD reward)",
                   f"{len(ident)} random student/teacher pairs, "
                   f"max rel. error {ident['err'].max():.0e}")
        for k, beta in enumerate(betas):
            for eta, ls in ((1.0, "o-"), (0.5, "--")):
                c = curves[(beta, eta)]
                it = np.arange(len(c))
                ax2.semilogy(it, np.maximum(c, 1e-17), ls, ms=3, color=f"C{k}",
                             label=rf"$\beta$ = {beta:g}, $\eta$ = {eta:g}")
        ax2.axvline(H, color="0.5", lw=0.6, ls=":")
        ax2.legend(fontsize=5, ncol=2)
        label_axes(ax2, "NPG-OPD iteration k", r"$\mathrm{KL}(\pi_k\|\pi^*_\beta)$ (nats)",
                   f"Distilling the KL-optimal LM (H = {H}; dotted: k = H)", legend=False)
    figs = save_figure(fig, out / "proxy_on_policy_distillation")
    summary = (f"3-gram LM, H = {H}, reward contains 'he' ({len(seqs)} sequences): V^S(root) = "
               f"-KL(pi_S||pi_T) = -sum of per-token KLs for {n_pairs} random pairs; ml.solve "
               f"with reward log(pi_T/pi_0), beta = 1 returns the teacher for two references; "
               f"NPG-OPD with eta = 1 reaches pi*_beta (beta in {betas}) in H = {H} steps and "
               f"J_beta = beta log Z -- worst error {worst:.1e} (tolerance {tol:g}); with "
               f"eta = 0.5 the KL decreases monotonically to {slow['kl_seq'].max():.1e} in 40 "
               f"steps.")
    return ClaimResult(passed, table, figs, summary, {"max_error": worst,
                                                      "kl_after_40_eta_half": float(
                                                          slow["kl_seq"].max())})


# ---------------------------------------------------------------------------------------------
def _arithmetic_prompts(rng, lines=3000):
    """A 5-gram LM on sums 'a+b=c' (a + b <= 9) whose error rate differs per problem (uniform
    in [0, 1]), so that prompts 'a+b=' have accuracies spread over (0, 1)."""
    pairs = [(a, b) for a in range(10) for b in range(10) if a + b < 10]
    err = {pq: float(rng.uniform(0, 1)) for pq in pairs}
    corpus = []
    for _ in range(lines):
        a, b = pairs[int(rng.integers(len(pairs)))]
        c = a + b
        if rng.random() < err[(a, b)]:
            c = int(rng.integers(0, 10))
        corpus.append(f"{a}+{b}={c}")
    lm = NGramLM.fit(corpus, n=5, k=0.01, vocab=tuple("0123456789+="))
    return lm, [f"{a}+{b}=" for a, b in pairs]


def _prompt_task(lm, prompt, H=3):
    check = rw.arithmetic().checker

    def correct(text, prompt=prompt):
        return check(prompt + text)
    reward = rw.VerifiableReward(correct, name=f"correct answer to {prompt}", require_eos=True)
    return TokenMDP(PromptedLM(lm, prompt), H, reward, state="tree")


def improvement_closed_form(p, beta):
    """Exact one-step improvement of the accuracy for a binary reward (module docstring)."""
    c = np.expm1(1.0 / beta)
    return p * (1 - p) * c / (1 + p * c)


@register(
    id="proxy-difficulty-filtering",
    title=("Difficulty filtering: the KL-regularized update improves a prompt by about "
           "p(1-p), bounded by KLs; balanced prompts help most when beta is not small"),
    citation=f"{BAE}; bounds our reconstruction",
    statement=(
        r"For a prompt with accuracy $p$ (binary reward) and the update "
        r"$\pi_1 = \pi_{\rm ref}e^{r/\beta}/Z$: $\Delta = p_1 - p = p(1-p)(e^{1/\beta}-1)/Z$, "
        r"$p(1-p)(1-e^{-1/\beta}) \le \Delta \le p(1-p)(e^{1/\beta}-1)$, "
        r"$\Delta = \beta[\mathrm{KL}(\pi_1\|\pi_{\rm ref}) + \mathrm{KL}(\pi_{\rm ref}\|\pi_1)]$"
        r" and $\mathrm{KL}(\pi_1\|\pi_{\rm ref}) \ge 2\Delta^2 \ge "
        r"2(1-e^{-1/\beta})^2p^2(1-p)^2$. The lower bound is largest at $p = 1/2$; the exact "
        r"$\Delta$ peaks at $p = 1/(1+e^{1/(2\beta)})$, so a balanced batch "
        r"($0.25 \le p \le 0.75$) improves more on average than an unfiltered one once "
        r"$1/(1+e^{1/(2\beta)}) \ge 0.25$."
    ),
    budget_seconds=60,
)
def check_difficulty(quick: bool, rng: np.random.Generator, out):
    lm, prompts = _arithmetic_prompts(rng)
    if quick:
        prompts = prompts[::3]
    betas = [0.25, 0.5, 1.0, 2.0, 4.0]
    rows = []
    for prompt in prompts:
        task = _prompt_task(lm, prompt)
        p = task.ref_policy.expected_reward()
        d = task.distribution()
        for beta in betas:
            opt = kl_optimal(task, beta)
            pi1 = opt.policy
            delta = pi1.expected_reward() - p
            kl_fwd = pi1.kl()
            kl_rev = task.ref_policy.kl(pi1)
            lp1 = pi1.log_prob(task.sequences())
            kl_enum = _seq_kl(lp1, d.log_prob)
            var = p * (1 - p)
            lower = var * -np.expm1(-1 / beta)
            rows.append({"prompt": prompt, "p": p, "beta": beta, "improvement": delta,
                         "closed_form_err": abs(delta - improvement_closed_form(p, beta)),
                         "jeffreys_err": abs(delta - beta * (kl_fwd + kl_rev)),
                         "chain_rule_err": abs(kl_fwd - kl_enum),
                         "lower": lower, "upper": var * np.expm1(1 / beta),
                         "kl": kl_fwd, "pinsker": 2 * delta ** 2, "kl_lower": 2 * lower ** 2,
                         "small_signal_kl": var / (2 * beta ** 2)})
    table = pd.DataFrame(rows)
    tol = 1e-12
    exact_err = float(table[["closed_form_err", "jeffreys_err", "chain_rule_err"]].max().max())
    bounds_ok = bool(((table["lower"] <= table["improvement"] + tol)
                      & (table["improvement"] <= table["upper"] + tol)
                      & (table["kl"] + tol >= table["pinsker"])
                      & (table["pinsker"] + tol >= table["kl_lower"])).all())
    batches = []
    for beta, sub in table.groupby("beta"):
        bal = sub[(sub["p"] >= 0.25) & (sub["p"] <= 0.75)]
        ext = sub[(sub["p"] < 0.25) | (sub["p"] > 0.75)]
        best = sub.loc[sub["improvement"].idxmax()]
        batches.append({"beta": beta, "p_peak": 1 / (1 + np.exp(1 / (2 * beta))),
                        "p_best_prompt": float(best["p"]),
                        "mean_all": float(sub["improvement"].mean()),
                        "mean_balanced": float(bal["improvement"].mean()),
                        "mean_extreme": float(ext["improvement"].mean()),
                        "lower_all": float(sub["lower"].mean()),
                        "lower_balanced": float(bal["lower"].mean()),
                        "n_balanced": len(bal), "n_all": len(sub)})
    batches = pd.DataFrame(batches)
    regime = batches["p_peak"] >= 0.25
    order_ok = bool((batches["lower_balanced"] > batches["lower_all"]).all()
                    and (batches.loc[regime, "mean_balanced"]
                         > batches.loc[regime, "mean_all"]).all())
    passed = exact_err <= tol and bounds_ok and order_ok

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        grid = np.linspace(0.001, 0.999, 300)
        for k, beta in enumerate(betas):
            sub = table[table["beta"] == beta]
            scale = -np.expm1(-1 / beta)
            ax1.plot(sub["p"], sub["improvement"] / scale, "o", ms=2.5, color=f"C{k}",
                     label=rf"$\beta$ = {beta:g}")
            ax1.plot(grid, improvement_closed_form(grid, beta) / scale, "-", lw=0.7,
                     color=f"C{k}")
        ax1.plot(grid, grid * (1 - grid), "k--", lw=1, label=r"lower bound $p(1-p)$")
        ax1.legend(fontsize=5)
        label_axes(ax1, "accuracy p of the prompt under the reference LM",
                   r"improvement $\Delta / (1 - e^{-1/\beta})$",
                   f"{len(prompts)} arithmetic prompts, exact one-step update", legend=False)
        x = np.arange(len(betas))
        w = 0.27
        ax2.bar(x - w, batches["mean_balanced"], w, label="balanced (0.25 <= p <= 0.75)")
        ax2.bar(x, batches["mean_all"], w, label="unfiltered")
        ax2.bar(x + w, batches["mean_extreme"], w, label="extreme (p < 0.25 or > 0.75)")
        ax2.set_xticks(x, [f"{b:g}" for b in betas])
        label_axes(ax2, r"$\beta$", "mean improvement of the batch",
                   "Balanced filtering (exact)")
    figs = save_figure(fig, out / "proxy_difficulty_filtering")
    summary = (f"{len(prompts)} prompts 'a+b=' continued by a 5-gram LM (accuracies "
               f"{table['p'].min():.2f}-{table['p'].max():.2f}), beta in {betas}: exact "
               f"improvement = closed form = beta x (KL(pi1||ref) + KL(ref||pi1)) within "
               f"{exact_err:.1e}; variance and Pinsker bounds hold for every prompt: {bounds_ok}. "
               "Best prompt's p per beta: "
               + ", ".join(f"{b:g}: {q:.2f} (peak {pk:.2f})" for b, q, pk in
                           zip(batches["beta"], batches["p_best_prompt"], batches["p_peak"],
                               strict=True))
               + ". Balanced batch mean improvement / unfiltered: "
               + ", ".join(f"{a / b:.2f}" for a, b in zip(batches["mean_balanced"],
                                                         batches["mean_all"], strict=True))
               + " (criterion: > 1 wherever the peak is >= 0.25, and the mean lower bound is "
                 "larger on the balanced batch for every beta).")
    return ClaimResult(passed, pd.concat([table, batches.assign(prompt="batch")],
                                         ignore_index=True), figs, summary,
                       {"max_error": exact_err,
                        "balanced_over_all_beta1": float(
                            (batches["mean_balanced"] / batches["mean_all"])[
                                batches["beta"] == 1.0].iloc[0])})


# ---------------------------------------------------------------------------------------------
@register(
    id="proxy-bon-kl-equivalence",
    title=("Yang et al. on a memoryless proxy: BoN and the token-level KL-optimal LM become "
           "equivalent as H grows"),
    citation=f"{YANG}; gap rate our derivation (Bahadur-Rao)",
    statement=(
        r"On the token MDP of an i.i.d. LM with a linear reward, best-of-$N$ with "
        r"$N = e^{H\delta}$ and the token-level KL-optimal LM $\phi$ with "
        r"$\mathrm{KL}(\phi\|p) = H\delta$ satisfy $\mathbb E_{\pi_N}S_H/\mathbb E_\phi S_H \to 1$"
        r" and $\mathrm{KL}(\pi_N\|\phi)/H \to 0$ as $H$ grows, with the per-token reward gap "
        r"$\approx \log H/(2\lambda H)$. Enumerating the proxy's sequences (small $H$) gives "
        r"the same numbers as the reward-level computation."
    ),
    budget_seconds=60,
)
def check_yang(quick: bool, rng: np.random.Generator, out):
    p = np.array([0.5, 0.3, 0.2])
    r = np.array([0.0, 1.0, 2.0])
    lm = MemorylessLM(p, vocab=("a", "b", "c"))
    reward = rw.LinearReward(r)
    deltas = [0.05, 0.2, 0.5]
    H_enum = [1, 2, 4, 6] if quick else [1, 2, 4, 6, 8, 10]
    Hs = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    tol = 1e-10
    rows = []
    for d in deltas:
        lam = float(bon.lambda_for_rate(p, r, d))
        p_lam = p * np.exp(lam * r)
        p_lam /= p_lam.sum()
        levels = bon.sequence_bon_vs_tilt(p, r, H_enum, d).set_index("L")
        for H in H_enum:  # (a) enumeration of the proxy vs the level computation
            task = TokenMDP(lm, H, reward, state="markov")
            opt = kl_optimal(task, 1 / lam)
            seqs = task.sequences()
            lp_ref = task.ref_policy.log_prob(seqs)
            lp_phi = opt.policy.log_prob(seqs)
            R = task.sequence_rewards(seqs)
            q = bon.pmf(np.exp(lp_ref), R, np.exp(H * d))
            with np.errstate(divide="ignore"):
                lq = np.log(q)
            lev = levels.loc[H]
            err = max(abs(q @ R / H - lev["bon_reward"]),
                      abs(_seq_kl(lq, lp_ref) / H - lev["bon_kl"]),
                      abs(_seq_kl(lq, lp_phi) - lev["kl_bon_tilt"]),
                      abs(opt.policy.kl() - H * d), abs(opt.policy.expected_reward() / H
                                                        - lev["tilt_reward"]),
                      max(float(np.max(np.abs(P - p_lam))) for P in opt.policy.probs))
            rows.append({"part": "enumerated proxy vs levels", "delta": d, "H": H,
                         "sequences": len(seqs), "err": err})
        for H in [16, 64]:  # the token-level optimum on longer proxies (Markov state)
            task = TokenMDP(lm, H, reward, state="markov")
            opt = kl_optimal(task, 1 / lam)
            rows.append({"part": "token-level optimum, KL = H delta", "delta": d, "H": H,
                         "err": max(abs(opt.policy.kl() - H * d) / H,
                                    abs(opt.policy.expected_reward() / H
                                        - float(p_lam @ r)))})
    exact = pd.DataFrame(rows)
    worst = float(exact["err"].max())
    asym = bon.sequence_bon_vs_tilt(p, r, Hs, deltas)
    asym["reward_ratio"] = asym["bon_reward"] / asym["tilt_reward"]
    asym["gap_ratio"] = asym["reward_gap"] / asym["predicted_gap"]
    checks = []
    for d, sub in asym.groupby("delta"):
        sub = sub.sort_values("L")
        checks.append({
            "delta": d,
            "ratio_increasing": bool(np.all(np.diff(sub["reward_ratio"]) > 0)),
            "kl_per_token_decreasing": bool(np.all(np.diff(sub["kl_bon_tilt_per_token"]) < 0)),
            "ratio_last": float(sub["reward_ratio"].iloc[-1]),
            "gap_ratio_last": float(sub["gap_ratio"].iloc[-1]),
            "kl_per_token_last": float(sub["kl_bon_tilt_per_token"].iloc[-1])})
    checks = pd.DataFrame(checks)
    passed = (worst <= tol and checks["ratio_increasing"].all()
              and checks["kl_per_token_decreasing"].all()
              and (checks["ratio_last"] >= 0.99).all()
              and ((checks["gap_ratio_last"] - 1).abs() <= 0.25).all())

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        for k, (d, sub) in enumerate(asym.groupby("delta")):
            ax1.semilogx(sub["L"], sub["reward_ratio"], "o-", ms=3, color=f"C{k}",
                         label=rf"$\delta$ = {d:g}")
            ax2.loglog(sub["L"], sub["reward_gap"], "o", ms=3, color=f"C{k}",
                       label=rf"gap, $\delta$ = {d:g}")
            g = sub[sub["L"] > 1]
            ax2.loglog(g["L"], g["predicted_gap"], "-", lw=0.7, color=f"C{k}")
        en = exact[exact["part"] == "enumerated proxy vs levels"]
        for H in sorted(set(en["H"])):
            ax1.axvline(H, color="0.85", lw=0.5, zorder=0)
        ax1.axhline(1, color="k", lw=0.6, ls="--")
        label_axes(ax1, "horizon H (tokens)", r"$\mathbb{E}_{\pi_N}S_H / \mathbb{E}_\phi S_H$",
                   "BoN ($N = e^{H\\delta}$) / KL-optimal LM (grey: enumerated)")
        ax2.plot([], [], "k-", lw=0.7, label=r"$\log H / (2\lambda H)$")
        label_axes(ax2, "horizon H (tokens)", "per-token reward gap",
                   "Gap vs the predicted rate")
    figs = save_figure(fig, out / "proxy_bon_kl_equivalence")
    summary = (f"Memoryless LM p = (.5,.3,.2), r = (0,1,2), delta in {deltas}: on the token MDP "
               f"(H <= {max(H_enum)}, enumerated) BoN and the token-level optimum match the "
               f"level computation within {worst:.1e}, and the optimum's KL is H delta up to "
               f"H = 64; as H grows to {max(Hs)} the reward ratio BoN/optimum rises "
               f"monotonically to " + ", ".join(f"{v:.4f}" for v in checks["ratio_last"])
               + ", KL(BoN||phi)/H falls to "
               + ", ".join(f"{v:.1e}" for v in checks["kl_per_token_last"])
               + ", and the gap / (log H / (2 lambda H)) is "
               + ", ".join(f"{v:.2f}" for v in checks["gap_ratio_last"])
               + " (criteria: errors <= 1e-10, monotone, ratio >= 0.99, gap ratio within 25%).")
    return ClaimResult(passed, pd.concat([exact, asym.assign(part="asymptotics")],
                                         ignore_index=True), figs, summary,
                       {"max_error": worst, "ratio_last_min": float(checks["ratio_last"].min()),
                        "gap_ratio_last_min": float(checks["gap_ratio_last"].min())})


# ---------------------------------------------------------------------------------------------
def _gao_fit(kl, gain, form):
    """Least-squares fit of Gao et al.'s forms to (KL, true-reward gain): BoN d(a - b d), RL
    d(a - b log d), d = sqrt(KL); returns (a, b, R^2)."""
    d = np.sqrt(np.asarray(kl))
    m = d > 1e-6
    d, y = d[m], np.asarray(gain)[m]
    X = np.column_stack([d, -(d ** 2 if form == "bon" else d * np.log(d))])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ coef
    r2 = 1 - float(res @ res) / float(((y - y.mean()) ** 2).sum())
    return float(coef[0]), float(coef[1]), r2


@register(
    id="proxy-reward-overoptimization",
    title=("Reward over-optimization: with a learned Bradley-Terry reward the true reward "
           "peaks then falls, for BoN and for the KL-optimal LM"),
    citation=f"{GAO}; BT reward model: Christiano et al. 2017, arXiv:1706.03741",
    statement=(
        r"A Bradley-Terry reward on token counts, fitted from preference pairs of reference "
        r"samples labelled by a non-additive true reward, is optimised by exact best-of-$n$ "
        r"and by the exact KL-optimal LM. As the KL to the reference grows, the proxy reward "
        r"increases monotonically, while the true reward rises, peaks and falls (Goodhart), "
        r"for at least one of the two methods."
    ),
    budget_seconds=90,
)
def check_overoptimization(quick: bool, rng: np.random.Generator, out):
    lm = NGramLM.default(n=3)
    H = 3 if quick else 4
    true = rw.contains("he")
    task = TokenMDP(lm, H, true, state="tree")
    n_pairs = 2000
    bt = rw.fit_bradley_terry(task, n_pairs, rng=rng)
    ref = task.distribution()
    p = np.exp(ref.log_prob)
    p /= p.sum()
    seqs = task.sequences()
    rp = bt.evaluate(seqs.tokens, seqs.lengths, task.vocab, task.eos)
    rt = ref.reward
    ns = np.unique(np.round(np.geomspace(1, 1e5, 40 if quick else 60)))
    bon_tab = pd.DataFrame({"method": "BoN (proxy-selected)", "n": ns,
                            "kl": bon.kl(p, rp, ns), "true": bon.proxy_reward(p, rt, rp, ns),
                            "proxy": bon.expected_reward(p, rp, ns)})
    ptask = TokenMDP(lm, H, bt, state="markov")
    betas = np.geomspace(20, 0.01, 30 if quick else 50)
    rl, law_err = [], 0.0
    for beta in betas:
        opt = kl_optimal(ptask, beta)
        q = np.exp(opt.policy.log_prob(seqs))
        law_err = max(law_err, float(np.max(np.abs(q - bon.tilt(p, rp, beta)))))
        rl.append({"method": "KL-optimal LM (learned reward)", "beta": beta,
                   "kl": opt.policy.kl(), "true": float(q @ rt), "proxy": float(q @ rp)})
    rl_tab = pd.DataFrame(rl)
    table = pd.concat([bon_tab, rl_tab], ignore_index=True)
    verdicts = {}
    for name, sub in table.groupby("method", sort=False):
        sub = sub.sort_values("kl")
        i = int(sub["true"].to_numpy().argmax())
        peak, last = float(sub["true"].iloc[i]), float(sub["true"].iloc[-1])
        gain = sub["true"] - float(rt @ p)
        fit = _gao_fit(sub["kl"], gain, "bon" if name.startswith("BoN") else "rl")
        after = float(sub["true"].iloc[i:].min())
        verdicts[name] = {"peak_true": peak, "kl_at_peak": float(sub["kl"].iloc[i]),
                          "min_true_after_peak": after,
                          "true_at_max_kl": last, "max_kl": float(sub["kl"].iloc[-1]),
                          "proxy_monotone": bool(np.all(np.diff(sub["proxy"]) >= -1e-12)),
                          "goodhart": bool(peak - after >= 0.1 and 0 < i < len(sub) - 1),
                          "gao_r2": fit[2]}
    ver = pd.DataFrame(verdicts).T
    tol = 1e-12
    passed = bool(law_err <= tol and ver["proxy_monotone"].all() and ver["goodhart"].any())

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.36, ncols=2)
        for k, (name, sub) in enumerate(table.groupby("method", sort=False)):
            sub = sub.sort_values("kl")
            ax1.plot(sub["kl"], sub["true"], "o-" if k == 0 else "s-", ms=2, color=f"C{k}",
                     label=name)
            ax2.plot(sub["kl"], sub["proxy"], "o-" if k == 0 else "s-", ms=2, color=f"C{k}",
                     label=name)
        ax1.axhline(float(rt @ p), color="0.5", lw=0.6, ls=":", label="reference LM")
        ax1.set_xscale("symlog", linthresh=0.1)
        ax2.set_xscale("symlog", linthresh=0.1)
        ax1.set_xlim(left=0)
        ax2.set_xlim(left=0)
        label_axes(ax1, r"$\mathrm{KL}(\pi\|\pi_{\rm ref})$ (nats)",
                   "true reward P(text contains 'he')", "True reward (Goodhart)")
        label_axes(ax2, r"$\mathrm{KL}(\pi\|\pi_{\rm ref})$ (nats)",
                   "learned BT reward (token counts)", "Proxy reward keeps rising")
    figs = save_figure(fig, out / "proxy_reward_overoptimization")
    summary = (f"3-gram LM, H = {H} ({len(seqs)} sequences), true reward 'contains he', BT reward "
               f"on token counts from {n_pairs} pairs (train accuracy "
               f"{bt.fit.train_accuracy:.3f}): "
               + "; ".join(f"{m}: true reward peaks at {v['peak_true']:.3f} (KL "
                           f"{v['kl_at_peak']:.2f}), then falls to {v['min_true_after_peak']:.3f}"
                           f" and ends at {v['true_at_max_kl']:.3f} (KL {v['max_kl']:.1f}), "
                           f"proxy monotone {v['proxy_monotone']}, R^2 of Gao et al.'s form "
                           f"{v['gao_r2']:.2f}" for m, v in verdicts.items())
               + f"; token-level optimum = sequence tilt within {law_err:.1e}. Criterion: proxy "
               "monotone for both, and for at least one an interior peak of the true reward "
               "followed by a drop >= 0.1. As beta -> 0 the KL-optimal LM concentrates on the "
               "proxy's maximisers, so its true reward at the largest KL is whatever those "
               "sequences score (it can recover).")
    keys = ("peak_true", "min_true_after_peak", "true_at_max_kl")
    numbers = {f"{'bon' if m.startswith('BoN') else 'rl'}_{k}": float(v[k])
               for m, v in verdicts.items() for k in keys}
    return ClaimResult(passed, table, figs, summary, numbers | {"law_err": law_err})


# ---------------------------------------------------------------------------------------------
GENARM = ("Xu, Sehwag, Koppel, Zhu, An, Huang & Ganesh 2025 (GenARM), arXiv:2410.08193 "
          "(abstract's expressivity claim; numbering unverified)")
VIMPO = ("Kang, Feng, Levine, Song & Zhao 2026 (VIMPO), arXiv:2606.20008 (abstract's value "
         "recurrence; numbering unverified)")


def _tree_instances(rng, quick):
    """The catalogue's V = 3, H = 3 Dirichlet tree with a N(0,1) reward per sequence, and a
    3-gram LM on the corpus with a verifiable reward (EOS, sequences of several lengths)."""
    from .llm_proxies import _gaussian_reward, _PrefixDirichletLM

    out = {"Dirichlet tree V=3, H=3": TokenMDP(_PrefixDirichletLM(3, 3, rng), 3,
                                               _gaussian_reward(rng)),
           "Dirichlet tree V=3, H=1": TokenMDP(_PrefixDirichletLM(3, 1, rng), 1,
                                               _gaussian_reward(rng))}
    H = 2 if quick else 3
    out[f"3-gram LM, H={H}, contains 'e'"] = TokenMDP(NGramLM.default(n=3), H,
                                                     rw.contains("e"), state="tree")
    return out


def _gibbs_factorised(task):
    """Token conditionals of the sequence law proportional to e^{R(y)} (no reference)."""
    from scipy.special import logsumexp

    Vn = np.asarray(task.terminal, dtype=float)
    probs = [None] * task.H
    for t in range(task.H - 1, -1, -1):
        child = task.child[t]
        Q = task.R[t] + np.where(child >= 0, Vn[np.maximum(child, 0)], 0.0)
        W = logsumexp(Q, axis=1)
        probs[t] = np.exp(Q - W[:, None])
        Vn = W
    return TokenPolicy(task, probs, name="Gibbs e^R, factorised"), float(Vn[task.root])


def _guided(task, pi_r, beta):
    """GenARM decoding: pi(a|h) proportional to pi_ref(a|h) pi_r(a|h)^(1/beta)."""
    probs = []
    for t in range(task.H):
        with np.errstate(divide="ignore"):
            logits = np.log(task.ref[t]) + np.log(pi_r.probs[t]) / beta
        logits -= logits.max(1, keepdims=True)
        w = np.exp(logits)
        probs.append(w / w.sum(1, keepdims=True))
    return TokenPolicy(task, probs, name="guided")


@register(
    id="proxy-genarm-expressivity",
    title=("GenARM: an autoregressive reward model reproduces the KL-optimal LM exactly; the "
           "factorised Gibbs reward does not"),
    citation=f"{GENARM}; construction and counterexample our derivation",
    statement=(
        r"For every sequence reward $R$ and $\beta > 0$, the autoregressive reward model "
        r"$\pi_r(a|h) \propto (\pi^*(a|h)/\pi_{\rm ref}(a|h))^\beta$ makes guided decoding "
        r"$\pi(a|h) \propto \pi_{\rm ref}(a|h)\pi_r(a|h)^{1/\beta}$ equal to "
        r"$\pi^* = \pi_{\rm ref}e^{R/\beta}/Z$ exactly. The factorised Gibbs model "
        r"$\pi_r(y) \propto e^{R(y)}$ is in $R$'s equivalence class "
        r"($\sum_t\log\pi_r(y_t|h_t) = R(y) - \mathrm{const}$) but its guided decoding differs "
        r"from $\pi^*$ unless $H = 1$."
    ),
    budget_seconds=60,
)
def check_genarm(quick: bool, rng: np.random.Generator, out):
    betas = [0.25, 0.5, 1.0, 2.0] if quick else list(np.geomspace(0.1, 10, 11))
    rows = []
    for name, task in _tree_instances(rng, quick).items():
        seqs = task.sequences()
        R = task.sequence_rewards(seqs)
        gibbs, logZ1 = _gibbs_factorised(task)
        offset = gibbs.log_prob(seqs) - (R - logZ1)
        for beta in betas:
            opt = kl_optimal(task, beta).policy
            probs = []
            for t in range(task.H):  # constructive ARM
                w = (opt.probs[t] / task.ref[t]) ** beta
                probs.append(w / w.sum(1, keepdims=True))
            arm = TokenPolicy(task, probs, name="constructive ARM")
            law = np.exp(opt.log_prob(seqs))
            dec = np.exp(_guided(task, arm, beta).log_prob(seqs))
            naive = np.exp(_guided(task, gibbs, beta).log_prob(seqs))
            rows.append({"instance": name, "H": task.H, "beta": float(beta),
                         "constructive_err": float(np.max(np.abs(dec - law))),
                         "equivalence_err": float(np.max(np.abs(offset))),
                         "naive_tv": 0.5 * float(np.abs(naive - law).sum())})
    table = pd.DataFrame(rows)
    tol = 1e-12
    exact = float(table[["constructive_err", "equivalence_err"]].max().max())
    h1 = table[table["H"] == 1]["naive_tv"].max()
    deep = table[table["H"] > 1].groupby("instance")["naive_tv"].max()
    passed = bool(exact <= tol and h1 <= tol and (deep >= 0.01).all())

    with paper_style():
        fig, ax = new_figure("single", aspect=0.75)
        for k, (name, sub) in enumerate(table.groupby("instance")):
            ax.loglog(sub["beta"], np.maximum(sub["naive_tv"], 1e-17), "o-", ms=3,
                      color=f"C{k}", label=f"factorised Gibbs, {name}")
            ax.loglog(sub["beta"], np.maximum(sub["constructive_err"], 1e-17), "x", ms=4,
                      color=f"C{k}")
        ax.plot([], [], "kx", label="constructive ARM (max abs error)")
        ax.legend(fontsize=5)
        label_axes(ax, r"$\beta$", r"distance of guided decoding to $\pi^*$",
                   "GenARM guided decoding", legend=False)
    figs = save_figure(fig, out / "proxy_genarm_expressivity")
    summary = (f"{table['instance'].nunique()} prefix-tree tasks, beta in "
               f"[{min(betas):g}, {max(betas):g}]: the constructive ARM decodes to pi* within "
               f"{exact:.1e}, and the factorised Gibbs model is in R's equivalence class within "
               f"the same error; its guided decoding is exact at H = 1 (TV {h1:.1e}) but not "
               "for H > 1 (largest TV: "
               + ", ".join(f"{k}: {v:.3f}" for k, v in deep.items())
               + "; criterion: exact parts <= 1e-12, TV >= 0.01 when H > 1).")
    return ClaimResult(passed, table, figs, summary,
                       {"max_error": exact, "naive_tv_max": float(deep.max())})


def _implied_values(task, policy, beta):
    r"""VIMPO's policy-implied values on every finished sequence ``y`` and step ``t``:
    :math:`\hat V_t(y) = R(y) - \beta\sum_{k \ge t}\log(\pi/\pi_{\rm ref})(y_k|h_k)`
    (``nan`` after the end); with the states visited, ``(N, H)`` each."""
    seqs = task.sequences()
    states = task.walk(seqs)
    R = task.sequence_rewards(seqs)
    toks = np.asarray(seqs.tokens)
    lr = np.zeros(toks.shape, dtype=float)
    for t in range(task.H):
        alive = seqs.lengths > t
        s, a = states[alive, t], toks[alive, t]
        lr[alive, t] = np.log(policy.probs[t][s, a]) - np.log(task.ref[t][s, a])
    suffix = np.cumsum(lr[:, ::-1], axis=1)[:, ::-1]
    vals = R[:, None] - beta * suffix
    vals[np.arange(task.H)[None, :] >= seqs.lengths[:, None]] = np.nan
    return vals, states


@register(
    id="proxy-vimpo-implied-value",
    title=("VIMPO: the policy-implied value recurrence is exact at the KL-optimal LM and its "
           "spread over completions certifies optimality"),
    citation=f"{VIMPO}; identities our derivation",
    statement=(
        r"With a reward paid on finished sequences, $\hat V_t(y) = R(y) - \beta\sum_{k\ge t}"
        r"\log(\pi/\pi_{\rm ref})(y_k|h_k)$ equals $V^*(h_t)$ for every completion $y$ of "
        r"$h_t$ when $\pi = \pi^*_\beta$. For any $\pi$, $\mathbb E_\pi\hat V_0 = J_\beta(\pi)$; "
        r"for the tilt at another temperature $\beta'$ the spread of $\hat V_0$ over sequences "
        r"is $|1 - \beta/\beta'|\,\mathrm{osc}(R)$, zero only at $\beta' = \beta$."
    ),
    budget_seconds=60,
)
def check_vimpo(quick: bool, rng: np.random.Generator, out):
    beta = 0.5
    rows, path = [], {}
    for name, task in _tree_instances(rng, quick).items():
        opt = kl_optimal(task, beta)
        vals, states = _implied_values(task, opt.policy, beta)
        ref_v = np.full(vals.shape, np.nan)
        for t in range(task.H):
            live = states[:, t] >= 0
            ref_v[live, t] = opt.V[t][states[live, t]]
        rows.append({"instance": name, "part": "recurrence at pi*",
                     "err": float(np.nanmax(np.abs(vals - ref_v)))})
        seqs = task.sequences()
        R = task.sequence_rewards(seqs)
        osc = float(R.max() - R.min())
        for _ in range(4 if quick else 20):  # E_pi V_0 = J_beta(pi) for random policies
            q = _random_policy(task, rng, float(10 ** rng.uniform(-0.5, 1)))
            v0 = _implied_values(task, q, beta)[0][:, 0]
            w = np.exp(q.log_prob(seqs))
            rows.append({"instance": name, "part": "E_pi V0 = J(pi)",
                         "err": abs(float(w @ v0) - q.objective(beta)) / max(1, abs(v0).max()),
                         "spread": float(v0.max() - v0.min())})
        spreads = []
        for b2 in np.geomspace(beta / 8, beta * 8, 9 if quick else 25):
            v0 = _implied_values(task, kl_optimal(task, b2).policy, beta)[0][:, 0]
            sp = float(v0.max() - v0.min())
            pred = abs(1 - beta / b2) * osc
            spreads.append((b2, sp, pred))
            rows.append({"instance": name, "part": "spread on the beta' path", "beta2": b2,
                         "spread": sp, "predicted": pred, "err": abs(sp - pred)})
        path[name] = np.array(spreads)
    table = pd.DataFrame(rows)
    tol = 1e-12
    worst = float(table["err"].max())
    rand = table[table["part"] == "E_pi V0 = J(pi)"]
    passed = bool(worst <= 1e-10 and (rand["spread"] > 0.1).all()
                  and float(table[table["part"] == "recurrence at pi*"]["err"].max()) <= tol)

    with paper_style():
        fig, ax = new_figure("single", aspect=0.75)
        for k, (name, arr) in enumerate(path.items()):
            ax.plot(arr[:, 0], arr[:, 1], "o", ms=3, color=f"C{k}", label=name)
            ax.plot(arr[:, 0], arr[:, 2], "-", lw=0.7, color=f"C{k}")
        ax.set_xscale("log")
        ax.axvline(beta, color="0.5", lw=0.6, ls=":")
        ax.plot([], [], "k-", lw=0.7, label=r"$|1-\beta/\beta'|\,\mathrm{osc}(R)$")
        ax.legend(fontsize=5)
        label_axes(ax, r"temperature $\beta'$ of the policy $\pi^*_{\beta'}$",
                   r"spread of $\hat V_0(y)$ over sequences",
                   rf"Implied root value at $\beta$ = {beta:g}", legend=False)
    figs = save_figure(fig, out / "proxy_vimpo_implied_value")
    summary = (f"{len(path)} prefix-tree tasks, beta = {beta}: the implied values equal V*(h_t) "
               f"for every completion and step within "
               f"{table[table['part'] == 'recurrence at pi*']['err'].max():.1e}; E_pi V0 = "
               f"J_beta(pi) for {len(rand)} random policies and the spread on the beta' path "
               f"matches |1 - beta/beta'| osc(R), worst error {worst:.1e}; random policies "
               f"have spreads {rand['spread'].min():.2f}-{rand['spread'].max():.2f} "
               "(criteria: 1e-12 at pi*, 1e-10 otherwise, random spreads > 0.1).")
    return ClaimResult(passed, table, figs, summary, {"max_error": worst})
