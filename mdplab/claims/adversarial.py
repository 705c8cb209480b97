r"""Adversarial MDPs with known transitions: O-REPS regret exponent and regret bound.

Zimin & Neu (2013), *Online learning in episodic Markovian decision processes by relative
entropy policy search*, NeurIPS 26 (no arXiv version). Abstract: with :math:`L` layers,
:math:`|X|` states in all and :math:`T` episodes, O-REPS has regret
:math:`2L\sqrt{T\log(|X||A|/L)}` with full information and
:math:`2\sqrt{L|X||A|T\log(|X||A|/L)}` with bandit feedback (in expectation); theorem numbers
unverified. In mdplab's layout (:math:`L = H`, :math:`|X| = HS`, :math:`T = K`) these read
:math:`2H\sqrt{K\log(SA)}` and :math:`2H\sqrt{SAK\log(SA)}`;
:mod:`mdplab.learn.adversarial` derives the slightly smaller :math:`H\log(SA)/\eta +
\eta K H c/2` (:math:`c = 1` full, :math:`SA` bandit), :math:`= H\sqrt{2cK\log(SA)}` at the tuned
:math:`\eta`, and more generally, for a fixed :math:`\eta`, regret after :math:`k` episodes
:math:`\le H\log(SA)/\eta + \eta k H c/2` against the best policy for those :math:`k` episodes.

Instance (the catalogue's E2.a): a layered MDP with :math:`H = 4` steps, :math:`S = 3` states per
step, :math:`A = 3` actions, a single start state, time-inhomogeneous Dirichlet(1) kernels known
to the learner. Regret is exact (:func:`mdplab.learn.adversarial.run_adversarial`): expected
losses of the played policies by forward propagation, the best fixed policy in hindsight by
backward induction on the realised loss tables.

* ``oreps-sqrt-k-regret`` -- **criterion** (fixed before running, following the catalogue's
  warning that slopes on benign instances may beat the exponent): on the K-dependent hard
  instance (:func:`~mdplab.learn.adversarial.hard_losses`, :math:`\Delta_K = 0.75\sqrt{SA/K}`)
  the fitted log-log slope of the mean regret (10 seeds) over
  :math:`K \in [200, 10^4]` lies in :math:`[0.4, 0.6]` (two-sided) for both feedback types, and
  on an oblivious instance with fixed random Bernoulli means it is :math:`\le 0.6`
  (one-sided); :math:`\eta` is tuned by formula for each :math:`K` (not reused); every
  projection satisfies the flow constraints to :math:`10^{-10}`.
* ``oreps-regret-bound`` -- **criterion**: with full information, for every adversary
  (oblivious, drifting, switching, hard, adaptive against the learner itself), every seed and
  every recorded :math:`k \le K = 10^4`, the exact regret against the best policy of the first
  :math:`k` episodes is :math:`\le H\log(SA)/\eta + \eta k H/2` (deterministic guarantee) and the
  regret at :math:`K` is below the abstract's :math:`2H\sqrt{K\log(SA)}`; with bandit feedback
  (oblivious adversaries only: the bound is in expectation), the mean over seeds is below
  :math:`H\log(SA)/\eta + \eta k HSA/2` at every recorded :math:`k` and below
  :math:`2H\sqrt{SAK\log(SA)}` at :math:`K`.
"""

from __future__ import annotations

import numpy as np

from .. import envs
from .._utils import spawn
from ..learn import adversarial as adv
from ..plot import (
    fit_loglog_slope,
    label_axes,
    new_figure,
    paper_style,
    plot_loglog_fit,
    save_figure,
)
from . import ClaimResult, register
from ._seeds import seed_sweep

ZN = ("Zimin & Neu 2013, NeurIPS 26 (no arXiv version), abstract bounds; O-REPS Sec. 3-4 "
      "(numbering unverified)")
H, S, A = 4, 3, 3
C_HARD = 0.75


def _instance(rng) -> object:
    mdp = envs.random_mdp(S, A, horizon=H, time_varying=True, rng=rng)
    mu = np.zeros(S)
    mu[0] = 1.0
    return mdp.with_(mu=mu)


def _uniform_regret(mdp, L) -> float:
    """Exact regret of the uniform policy (a non-learning reference)."""
    return float(adv.fixed_policy_regret(mdp, np.full((H, S, A), 1.0 / A), L)[-1])


def _claim_instance(instance_seed: int):
    """The claims' MDP and the fixed means of the oblivious instance, from one integer seed
    (so a sweep task rebuilds them from its parameters)."""
    g = np.random.default_rng(instance_seed)
    mdp = _instance(g)
    return mdp, g.random((H, S, A))


def _losses(mdp, K, inst, g, benign_means):
    if inst == "hard":
        return adv.hard_losses(mdp, K, rng=g, c=C_HARD)
    return adv.oblivious_losses(mdp, K, rng=g, means=benign_means)


def oreps_slope_repetition(instance: str, Ks: list, instance_seed: int, rng) -> list[dict]:
    """One repetition of ``oreps-sqrt-k-regret``: for every ``K``, one loss sequence and the
    exact final regret of O-REPS with full information and with bandit feedback on it (common
    losses and learner seeds across the two feedbacks; rows for :func:`mdplab.sweep.sweep`)."""
    mdp, benign_means = _claim_instance(instance_seed)
    rows = []
    for K, g in zip(Ks, spawn(rng, len(Ks)), strict=True):
        loss_rng, run_rng = spawn(g, 2)
        L = _losses(mdp, K, instance, loss_rng, benign_means)
        run_seed = int(run_rng.integers(2**63))
        uniform = _uniform_regret(mdp, L)
        for fb in ("full", "bandit"):
            log = adv.run_adversarial(adv.OREPS(feedback=fb), mdp, L,
                                      rng=np.random.default_rng(run_seed), record_every=K)
            rows.append({"feedback": fb, "K": K, "regret": float(log["cum_regret"].iloc[-1]),
                         "uniform_regret": uniform,
                         "max_violation": float(log.attrs["max_violation"])})
    return rows


def oreps_bound_repetition(feedback: str, adversary: str, K: int, instance_seed: int, rng
                           ) -> list[dict]:
    """One run of ``oreps-regret-bound``: O-REPS at the tuned fixed ``eta`` against one
    adversary; the regret against the best policy so far and the bound at every recorded
    episode (rows for :func:`mdplab.sweep.sweep`)."""
    mdp, _ = _claim_instance(instance_seed)
    eta = adv._tuned_eta(K, S, A, feedback)
    learner = adv.OREPS(eta=eta, feedback=feedback)
    loss_rng, run_rng = spawn(rng, 2)
    run_seed = int(run_rng.integers(2**63))
    if adversary == "adaptive":  # replays the learner with the run's own randomness
        L = adv.adaptive_losses(learner, mdp, K, rng=np.random.default_rng(run_seed))
    else:
        L = {"oblivious": adv.oblivious_losses, "drifting": adv.drifting_losses,
             "switching": adv.switching_losses,
             "hard": lambda m, k, rng: adv.hard_losses(m, k, rng=rng, c=C_HARD)}[adversary](
                 mdp, K, rng=loss_rng)
    log = adv.run_adversarial(learner, mdp, L, rng=np.random.default_rng(run_seed),
                              record_every=max(1, K // 50))
    return [{"k": int(k), "regret": float(r),
             "bound": float(adv.oreps_bound(k, S, A, H, feedback, eta=eta))}
            for k, r in zip(log["episode"], log["hindsight_regret"], strict=True)]


@register(
    id="oreps-sqrt-k-regret",
    title="O-REPS regret grows as sqrt(K) (full information and bandit feedback)",
    citation=ZN,
    statement=(
        r"O-REPS (entropic mirror descent over the occupancy polytope, known transitions) has "
        r"regret $O(H\sqrt{K\log(SA)})$ (full information) and $O(H\sqrt{SAK\log(SA)})$ "
        r"(bandit feedback): on a K-dependent hard instance (gap $0.75\sqrt{SA/K}$) the fitted "
        r"log-log slope of the exact regret over $K \in [200, 10^4]$ (mean of 10 seeds) lies in "
        r"$[0.4, 0.6]$, and on a benign oblivious instance it is at most 0.6."
    ),
    budget_seconds=150,
)
def check_oreps_slope(quick: bool, rng: np.random.Generator, out):
    if quick:
        Ks, seeds = [200, 400, 800, 1600], 4
    else:
        Ks, seeds = [int(k) for k in np.geomspace(200, 10_000, 7).round()], 10
    instance_seed = int(rng.integers(2**31))
    full_table = seed_sweep(oreps_slope_repetition, {
        "instance": ["hard", "oblivious"], "Ks": [Ks], "instance_seed": instance_seed},
        seeds, rng)
    worst_violation = float(full_table["max_violation"].max())
    table = full_table[["instance", "feedback", "seed", "K", "regret", "uniform_regret"]]
    fits, passed = {}, worst_violation <= 1e-10
    with paper_style():
        fig, axes = new_figure("double", aspect=0.36, ncols=2)
        for ax, inst in zip(axes, ("hard", "oblivious"), strict=True):
            for fb in ("full", "bandit"):
                sub = table[(table.instance == inst) & (table.feedback == fb)]
                mean = sub.groupby("K")["regret"].mean()
                x, y = mean.index.to_numpy(float), mean.to_numpy()
                if np.all(y > 0):
                    fit = fit_loglog_slope(x, y)
                    plot_loglog_fit(ax, x, y, fit=fit, label=f"{fb}")
                    ax.plot(x, adv.oreps_bound(x, S, A, H, fb, paper=True), "--", lw=0.8,
                            label=f"Zimin & Neu bound ({fb})")
                    if fb == "bandit":
                        uni = sub.groupby("K")["uniform_regret"].mean()
                        ax.plot(x, uni.to_numpy(), ":", color="0.3", lw=1,
                                label="uniform policy (no learning)")
                else:
                    fit = None
                fits[(inst, fb)] = fit
                if inst == "hard":
                    ok = fit is not None and 0.4 <= fit.slope <= 0.6
                else:
                    ok = fit is not None and fit.slope <= 0.6
                passed &= ok
            label_axes(ax, "episodes $K$ ($\\eta$ tuned for each $K$)",
                       "regret vs best fixed policy (exact, mean)",
                       "hard instance ($\\Delta_K \\propto K^{-1/2}$)" if inst == "hard"
                       else "oblivious Bernoulli losses")
            ax.legend(fontsize=5.5, loc="upper left")
    figs = save_figure(fig, out / "oreps_regret_slope")

    def sl(i, f):
        return fits[(i, f)].slope if fits[(i, f)] is not None else float("nan")

    uni_last = table[(table.K == Ks[-1]) & (table.feedback == "full")].groupby(
        "instance")["uniform_regret"].mean()
    summary = (
        f"Fitted slopes of the mean exact regret over K in [{Ks[0]}, {Ks[-1]}] ({seeds} seeds): "
        f"hard instance full {sl('hard', 'full'):.3f}, bandit {sl('hard', 'bandit'):.3f} "
        f"(criterion [0.4, 0.6]); oblivious full {sl('oblivious', 'full'):.3f}, bandit "
        f"{sl('oblivious', 'bandit'):.3f} (criterion <= 0.6). Largest flow violation of a "
        f"projection: {worst_violation:.1e} (criterion <= 1e-10). Caveat: on the hard instance "
        f"the uniform policy's regret also grows as sqrt(K) (mean {uni_last['hard']:.0f} at "
        f"K = {Ks[-1]}, vs {uni_last['oblivious']:.0f} on the oblivious instance, where learning "
        f"is what keeps the slope below 1)."
    )
    key = {"slope_hard_full": sl("hard", "full"), "slope_hard_bandit": sl("hard", "bandit"),
           "slope_oblivious_full": sl("oblivious", "full"),
           "slope_oblivious_bandit": sl("oblivious", "bandit"),
           "max_violation": worst_violation, "K_max": Ks[-1], "seeds": seeds}
    return ClaimResult(bool(passed), table, figs, summary, key)


@register(
    id="oreps-regret-bound",
    title="O-REPS stays below its regret bound against every adversary",
    citation=ZN,
    statement=(
        r"With a fixed $\eta$, O-REPS's regret after $k$ episodes against the best policy for "
        r"those episodes is at most $H\log(SA)/\eta + \eta k H c/2$ ($c = 1$ full information, "
        r"deterministically; $c = SA$ bandit, in expectation), hence below Zimin & Neu's "
        r"$2H\sqrt{cK\log(SA)}$ at the tuned $\eta$ -- for oblivious, drifting, switching, "
        r"hard and (full information) adaptive adversaries."
    ),
    budget_seconds=150,
)
def check_oreps_bound(quick: bool, rng: np.random.Generator, out):
    K, seeds = (400, 3) if quick else (10_000, 10)
    instance_seed = int(rng.integers(2**31))
    adversaries = ["oblivious", "drifting", "switching", "hard"]
    points = ([{"feedback": "full", "adversary": a} for a in adversaries + ["adaptive"]]
              + [{"feedback": "bandit", "adversary": a} for a in adversaries])
    table = seed_sweep(oreps_bound_repetition, [{**p, "K": K, "instance_seed": instance_seed}
                                                for p in points], seeds, rng)
    table = table[["feedback", "adversary", "seed", "k", "regret", "bound"]]
    paper_full = float(adv.oreps_bound(K, S, A, H, "full", paper=True))
    paper_bandit = float(adv.oreps_bound(K, S, A, H, "bandit", paper=True))
    full = table[table.feedback == "full"]
    ok_full = bool(np.all(full.regret <= full.bound))
    last_full = full[full.k == K]
    ok_full_paper = bool(np.all(last_full.regret <= paper_full))
    band = table[table.feedback == "bandit"].groupby(["adversary", "k"])[["regret", "bound"]]
    band = band.mean().reset_index()
    ok_band = bool(np.all(band.regret <= band.bound))
    ok_band_paper = bool(np.all(band[band.k == K].regret <= paper_bandit))
    passed = ok_full and ok_full_paper and ok_band and ok_band_paper
    ratio_full = float((full.regret / full.bound).max())
    ratio_band = float((band.regret / band.bound).max())

    with paper_style():
        fig, axes = new_figure("double", aspect=0.36, ncols=2)
        for ax, fb in zip(axes, ("full", "bandit"), strict=True):
            sub = table[table.feedback == fb]
            agg = sub.groupby(["adversary", "k"])[["regret", "bound"]].agg(["mean", "max"])
            for name in sub.adversary.unique():
                a = agg.loc[name]
                ax.plot(a.index, a[("regret", "max" if fb == "full" else "mean")],
                        label=f"{name}")
            ks = np.array(sorted(sub.k.unique()), dtype=float)
            ax.plot(ks, adv.oreps_bound(ks, S, A, H, fb, eta=adv._tuned_eta(K, S, A, fb)),
                    "k--", lw=1, label=r"$H\log(SA)/\eta + \eta k H c/2$")
            ax.axhline(paper_full if fb == "full" else paper_bandit, color="0.5", ls=":",
                       label="Zimin & Neu at $K$")
            label_axes(ax, "episode $k$", "regret vs best policy so far",
                       "full information (max over seeds)" if fb == "full"
                       else "bandit feedback (mean over seeds)")
            ax.legend(fontsize=5.5, loc="best")
    figs = save_figure(fig, out / "oreps_regret_bound")
    summary = (
        f"K = {K}, {seeds} seeds. Full information: largest regret/bound ratio "
        f"{ratio_full:.3f} over every adversary, seed and k (criterion <= 1), final regret "
        f"<= Zimin & Neu's {paper_full:.1f}: {ok_full_paper}. Bandit: largest ratio of the mean "
        f"regret to the bound {ratio_band:.3f}; below {paper_bandit:.1f} at K: {ok_band_paper}."
    )
    key = {"ratio_full": ratio_full, "ratio_bandit": ratio_band, "K": K, "seeds": seeds,
           "max_regret_full": float(last_full.regret.max()),
           "bound_full_paper": paper_full, "bound_bandit_paper": paper_bandit}
    return ClaimResult(bool(passed), table, figs, summary, key)



DAI = ("Dai, Luo, Wei & Zimmert 2023, arXiv:2301.12942 (abstract: log-barrier FTRL tolerating "
       "arbitrarily negative estimates, regret O(sqrt K) with a simulator); tabular ingredients "
       "only, algorithm details unverified")
VARIANTS = {
    "log-barrier": ("logbarrier", "none"),
    "log-barrier, baseline": ("logbarrier", "max"),
    "entropy": ("entropy", "none"),
    "entropy, baseline": ("entropy", "max"),
}


def ftrl_repetition(instance: str, Ks: list, instance_seed: int, rng) -> list[dict]:
    """One repetition of ``policy-ftrl-log-barrier``: for every ``K``, one loss sequence and the
    exact final regret of every variant of ``VARIANTS`` on it (on the oblivious instance the
    log-barrier variants and, as a reported control, entropy without baseline; common losses
    and learner seeds; rows for :func:`mdplab.sweep.sweep`)."""
    mdp, benign_means = _claim_instance(instance_seed)
    rows = []
    for K, g in zip(Ks, spawn(rng, len(Ks)), strict=True):
        loss_rng, run_rng = spawn(g, 2)
        L = _losses(mdp, K, instance, loss_rng, benign_means)
        run_seed = int(run_rng.integers(2**63))
        uniform = _uniform_regret(mdp, L)
        eta = 4.0 / (H * np.sqrt(K * A))
        for name, (reg, base) in VARIANTS.items():
            if instance == "oblivious" and name == "entropy, baseline":
                continue
            log = adv.run_adversarial(adv.PolicyFTRL(reg, eta=eta, baseline=base), mdp, L,
                                      rng=np.random.default_rng(run_seed), record_every=K)
            rows.append({"variant": name, "K": K, "regret": float(log["cum_regret"].iloc[-1]),
                         "uniform_regret": uniform})
    return rows


@register(
    id="policy-ftrl-log-barrier",
    title="Per-state log-barrier FTRL: sqrt(K) regret, robust to negative loss estimates",
    citation=DAI,
    statement=(
        r"Policy optimisation by per-state FTRL on importance-weighted (linear-Q with one-hot "
        r"features, exact covariance) estimates, with the log-barrier regulariser, has "
        r"$\sqrt K$ regret on the K-dependent hard instance (fitted slope over "
        r"$K \in [200, 10^4]$, 10 seeds, in $[0.4, 0.6]$), also when a baseline makes every "
        r"estimate negative and large; with the same shifted estimates, exponential weights "
        r"have a larger spread of regret across seeds; on an oblivious instance with fixed "
        r"means the log-barrier slope is at most 0.6. The simulator-free $K^{8/9}$ variant is "
        r"not implemented."
    ),
    budget_seconds=150,
)
def check_policy_ftrl(quick: bool, rng: np.random.Generator, out):
    if quick:
        Ks, seeds = [200, 400, 800, 1600], 4
    else:
        Ks, seeds = [int(k) for k in np.geomspace(200, 10_000, 7).round()], 10
    instance_seed = int(rng.integers(2**31))
    table = seed_sweep(ftrl_repetition, {"instance": ["hard", "oblivious"], "Ks": [Ks],
                                         "instance_seed": instance_seed}, seeds, rng)
    table = table[["instance", "variant", "seed", "K", "regret", "uniform_regret"]]
    benign = table[table.instance == "oblivious"]
    table_hard = table[table.instance == "hard"]
    fits = {}
    with paper_style():
        fig, axes = new_figure("double", aspect=0.36, ncols=2)
        for name in VARIANTS:
            sub = table_hard[table_hard.variant == name]
            mean = sub.groupby("K")["regret"].mean()
            x, y = mean.index.to_numpy(float), mean.to_numpy()
            fits[name] = fit_loglog_slope(x, y) if np.all(y > 0) else None
            if fits[name] is not None:
                plot_loglog_fit(axes[0], x, y, fit=fits[name], label=name)
        uni = table_hard.groupby("K")["uniform_regret"].mean()
        axes[0].plot(uni.index, uni.to_numpy(), ":", color="0.3", lw=1,
                     label="uniform policy (no learning)")
        for name in ("log-barrier", "log-barrier, baseline", "entropy"):
            mean = benign[benign.variant == name].groupby("K")["regret"].mean()
            x, y = mean.index.to_numpy(float), mean.to_numpy()
            fits[("benign", name)] = fit_loglog_slope(x, y) if np.all(y > 0) else None
            if fits[("benign", name)] is not None:
                plot_loglog_fit(axes[0], x, y, fit=fits[("benign", name)], marker="s",
                                label=f"{name} (oblivious instance)")
        label_axes(axes[0], "episodes $K$", "regret vs best fixed policy (exact, mean)",
                   "bandit feedback: hard (circles), oblivious (squares)")
        axes[0].legend(fontsize=5.5, loc="upper left")
        last = table_hard[table_hard.K == Ks[-1]]
        data = [last[last.variant == n]["regret"].to_numpy() for n in VARIANTS]
        axes[1].boxplot(data, tick_labels=[n.replace(", ", "\n") for n in VARIANTS])
        label_axes(axes[1], None, f"regret at K = {Ks[-1]} (one point per seed)",
                   "spread across seeds")
    figs = save_figure(fig, out / "policy_ftrl_log_barrier")
    spread = last.groupby("variant")["regret"].std()
    ratio = float(spread["entropy, baseline"] / spread["log-barrier, baseline"])

    def sl(n):
        return fits[n].slope if fits[n] is not None else float("nan")

    ok_slopes = all(0.4 <= sl(n) <= 0.6 for n in ("log-barrier", "log-barrier, baseline"))
    ok_benign = all(sl(("benign", n)) <= 0.6 for n in ("log-barrier", "log-barrier, baseline"))
    passed = ok_slopes and ok_benign and ratio > 1.0
    summary = (
        f"Slopes over K in [{Ks[0]}, {Ks[-1]}] ({seeds} seeds), hard instance: log-barrier "
        f"{sl('log-barrier'):.3f}, "
        f"log-barrier with baseline {sl('log-barrier, baseline'):.3f} (criterion [0.4, 0.6]); "
        f"entropy {sl('entropy'):.3f}, entropy with baseline {sl('entropy, baseline'):.3f} "
        f"(reported). Std of the regret across seeds at K = {Ks[-1]} with the baseline-shifted "
        f"estimates: entropy / log-barrier = {ratio:.2f} (criterion > 1). Oblivious instance "
        f"(learning needed for a slope below 1): log-barrier "
        f"{sl(('benign', 'log-barrier')):.3f}, with baseline "
        f"{sl(('benign', 'log-barrier, baseline')):.3f} (criterion <= 0.6); control (reported): "
        f"entropy with the same estimator, eta and no bonus {sl(('benign', 'entropy')):.3f}. "
        f"Uniform play on the hard instance: regret {uni.iloc[-1]:.0f} at K = {Ks[-1]}. "
        f"Simulator-free K^(8/9) variant: not implemented. Why the benign slope "
        f"(docs/adversarial.md; examples/adversarial_ftrl_eta.py sweeps the scale of eta): "
        f"with the log-barrier a bad action keeps probability about "
        f"1/(eta*gap*k) (polynomial, not exponential, decay), so the regret is about "
        f"(1/eta)*log(eta*gap*K), whose local slope is 0.5 + 0.5/log(eta*gap*K) for eta ~ "
        f"K^(-1/2): pre-asymptotic at this eta, which is shared with exponential weights and "
        f"about A*sqrt(log K/log A) smaller than the log-barrier's own tuning (its penalty is "
        f"A log K / eta, its stability term A times smaller)."
    )
    key = {"slope_logbarrier": sl("log-barrier"), "slope_logbarrier_baseline":
           sl("log-barrier, baseline"), "slope_entropy": sl("entropy"),
           "slope_entropy_baseline": sl("entropy, baseline"), "spread_ratio": ratio,
           "slope_benign_logbarrier": sl(("benign", "log-barrier")),
           "slope_benign_logbarrier_baseline": sl(("benign", "log-barrier, baseline")),
           "slope_benign_entropy": sl(("benign", "entropy")),
           "K_max": Ks[-1], "seeds": seeds}
    return ClaimResult(bool(passed), table, figs, summary, key)

