r"""Claims about offline preference optimisation: chi-PO's mixed regularizer and its robustness to
over-optimization, against DPO.

* ``chi-mix-closed-form`` -- the optimum of :math:`\mathbb E_\pi r - \beta(D_{\chi^2} +
  \mathrm{KL})(\pi\|\pi_{\rm ref})` is :math:`\pi_{\rm ref}W_0(e^{(r-\lambda)/\beta})` (derived in
  :mod:`mdplab.learn.preference`): it matches direct numerical maximisation, the
  reparametrisation :math:`r = \beta\phi(\pi/\pi_{\rm ref}) + \lambda` holds, the ratio bounds
  :math:`e^{-R/\beta} \le \pi/\pi_{\rm ref} \le 1 + R/\beta` hold; and the population minimisers
  of the DPO / chi-PO / IPO losses are the closed forms (DPO = KL-regularized optimum of the true
  reward under BT; chi-PO = chi-mix optimum of it; IPO = :math:`\pi_{\rm ref}e^{P\mu/\tau}`),
  each checked against direct minimisation of the loss.
* ``chipo-overoptimization`` -- Huang et al. (2025), arXiv:2407.13399, Sec. 3 (guarantee) and
  Sec. 4 (bias / over-optimization trade-off); theorem numbering unverified: chi-PO's
  suboptimality against any comparator :math:`\pi^*` is bounded by
  :math:`\lesssim\sqrt{C^{\pi^*}/N}` (single-policy concentrability), whereas DPO's is not: with
  responses the reference (hence the data) barely covers, DPO over-optimizes spuriously high
  fitted rewards.

Instance of ``chipo-overoptimization`` (constructed for the toolkit, **not** the paper's own
instance; fixed before the first run, not tuned afterwards): 12 responses, 4 "common" ones with
:math:`\pi_{\rm ref} = (1-\varepsilon)/4` and true rewards :math:`(0.5, 0.4, 0.3, 0.2)`, 8 "rare"
ones with :math:`\pi_{\rm ref} = \varepsilon/8` and true reward 0, :math:`\varepsilon = 0.04`.
:math:`N` preference pairs drawn from :math:`\pi_{\rm ref}\otimes\pi_{\rm ref}`, labelled by
Bradley-Terry on the true reward. Both methods use the realizable bounded class of the paper
(:math:`r \in [0, R_{\max}]^n`, :math:`R_{\max} = 1`): each fits the same bounded BT MLE
:math:`\hat r` (ties from responses absent from the data broken towards :math:`R_{\max}/2`) and
returns its link optimum -- :math:`\pi_{\rm ref}e^{\hat r/\beta}/Z` (DPO) or the chi-mix optimum
(chi-PO) -- the exact minimisers of the two losses over the class. Comparator :math:`\pi^* =`
the best response (common, :math:`C^{\pi^*} = 4/(1-\varepsilon)`); regret
:math:`= r^*(y^*) - E_{\hat\pi}[r^*]`. :math:`\beta` is tuned per method and per
:math:`N` on the seed-averaged regret over a log grid (one :math:`\beta` for all seeds, i.e. a
data-independent choice as in the theorem).

Pass criteria (stated before running):

(P1) chi-PO: the 95% CI of the log-log slope of its tuned mean regret against :math:`N`
covers or lies below :math:`-1/2` (rate at least :math:`N^{-1/2}`, the theorem's form). The
interval is a percentile bootstrap over seeds (each resample re-tunes :math:`\beta`); until
2026-11-24 it was the least-squares interval of the fit over the :math:`N` grid, which treats
the curve's departures from a power law as noise and was uninformative (about
:math:`[-4, 0.3]`). The summary says whether the whole interval lies below :math:`-1/2`.
(P2) separation under limited coverage: at every :math:`N` at which a rare response is expected
in at most 10 pairs (:math:`2N\varepsilon/8 \le 10`), DPO's tuned regret exceeds chi-PO's, with
the paired (per seed) 95% CI of the difference above 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import minimize

from .._utils import kl_divergence
from ..learn import games
from ..learn import preference as pref
from ..plot import (
    confidence_band,
    fit_loglog_slope,
    label_axes,
    new_figure,
    paper_style,
    plot_loglog_fit,
    save_figure,
)
from . import ClaimResult, register
from ._seeds import seed_sweep

CHIPO = "Huang et al. 2025, arXiv:2407.13399, Sec. 3-4 (numbering unverified)"
DPO = "Rafailov et al. 2023, arXiv:2305.18290, Sec. 4-5"
IPO = "Azar et al. 2024, arXiv:2310.12036, Sec. 5"


# ---------------------------------------------------------------------------------------------
def _softmax(z):
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


def _direct_chi_mix(r, beta, ref):
    """Maximise E_pi r - beta D_mix(pi||ref) over logits by an exact-Hessian trust region
    (independent of the closed form)."""
    def parts(th):
        p = _softmax(th)
        gp = r - beta * (p / ref + np.log(p / ref) + 1.0)  # gradient in pi
        Hp = -beta * np.diag(1.0 / ref + 1.0 / p)
        J = np.diag(p) - np.outer(p, p)  # d pi / d theta
        H = J @ Hp @ J
        for k in range(len(p)):  # second derivatives of pi_k in theta
            e = -p.copy()
            e[k] += 1.0
            H += gp[k] * p[k] * (np.outer(e, e) - J)
        f = p @ r - beta * pref.mixed_divergence(p, ref)
        return -f, -(J @ gp), -H

    res = minimize(lambda t: parts(t)[0], np.log(ref), jac=lambda t: parts(t)[1],
                   hess=lambda t: parts(t)[2], method="trust-exact",
                   options={"gtol": 1e-13, "maxiter": 1000})
    return _softmax(res.x), -res.fun


def _direct_pair_loss(P, W, beta, ref, link):
    """Minimise the population DPO (link log) / chi-PO (link z + log z) loss over logits."""
    def loss(th):
        p = _softmax(th)
        z = p / ref
        h = beta * (np.log(z) if link == "kl" else z + np.log(z))
        d = h[:, None] - h[None, :]
        return np.sum(W * P * np.logaddexp(0.0, -d))

    res = minimize(loss, np.log(ref), method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
    return _softmax(res.x)


def _direct_ipo(P, mu, tau, ref):
    def loss(th):
        lp = th - np.logaddexp.reduce(th)
        g = lp - np.log(ref)
        h = g[:, None] - g[None, :]
        return np.sum(np.outer(mu, mu) * P * (h - 1 / (2 * tau)) ** 2)

    res = minimize(loss, np.log(ref), method="BFGS", options={"gtol": 1e-12, "maxiter": 5000})
    return _softmax(res.x)


@register(
    id="chi-mix-closed-form",
    title="Closed forms of chi-PO's mixed-regularized optimum and of the DPO / IPO optima",
    citation=f"{CHIPO}; {DPO}; {IPO}",
    statement=(
        r"$\arg\max_\pi \mathbb E_\pi r - \beta(D_{\chi^2} + \mathrm{KL})(\pi\|\pi_{\rm ref}) = "
        r"\pi_{\rm ref}W_0(e^{(r-\lambda)/\beta})$ with $\lambda$ the normaliser; "
        r"$r = \beta(\pi/\pi_{\rm ref} + \log(\pi/\pi_{\rm ref})) + \lambda$; for $r\in[0,R]$, "
        r"$e^{-R/\beta} \le \pi/\pi_{\rm ref} \le 1 + R/\beta$ (KL: up to $e^{R/\beta}$). Under "
        r"Bradley-Terry with all pairs covered, the DPO loss is minimised by "
        r"$\pi_{\rm ref}e^{r/\beta}/Z$, the chi-PO loss by the chi-mix optimum of $r$, and the "
        r"IPO loss by $\pi_{\rm ref}e^{P\mu/\tau}/Z$."
    ),
    budget_seconds=40,
)
def check_closed_form(quick: bool, rng: np.random.Generator, out) -> ClaimResult:
    rows = []
    # (a) closed form vs direct maximisation, (b) reparametrisation
    n_direct = 6 if quick else 40
    for i in range(n_direct):
        n = int(rng.integers(3, 9))
        beta = float(rng.choice([0.05, 0.2, 1.0]))
        r = rng.random(n)
        ref = rng.dirichlet(np.ones(n))
        opt = pref.chi_mix_optimum(r, beta, ref)
        p_dir, j_dir = _direct_chi_mix(r, beta, ref)
        j_cf = float(opt.policy @ r - beta * pref.mixed_divergence(opt.policy, ref))
        rep = beta * pref.chi_mix_link(opt.policy / ref) + opt.normalizer
        # resolution of any direct maximiser: J is beta-strongly concave in the chi^2 geometry,
        # J(pi*) - J(pi) >= beta/2 ||pi - pi*||_2^2, and J is only known to ~100 eps, so
        # positions are resolved to sqrt(200 eps / beta) at best
        rows.append({"check": "closed form vs trust region", "instance": i, "beta": beta,
                     "error": float(np.max(np.abs(opt.policy - p_dir))),
                     "tolerance": float(np.sqrt(200 * np.finfo(float).eps / beta)),
                     "objective_excess_of_direct": j_dir - j_cf})
        rows.append({"check": "reparametrisation", "instance": i, "beta": beta,
                     "error": float(np.max(np.abs(rep - r)))})
    # (c) ratio bounds, R = 1
    n_rand = 200 if quick else 2000
    ratio_rows = []
    for beta in (0.05, 0.1, 0.5):
        lo, hi, lo_kl, hi_kl = np.inf, 0.0, np.inf, 0.0
        for _ in range(n_rand):
            n = int(rng.integers(2, 11))
            r = rng.random(n)
            ref = rng.dirichlet(np.ones(n))
            z = pref.chi_mix_optimum(r, beta, ref).policy / ref
            zk = pref.kl_regularized_optimum(r, beta, ref).policy / ref
            lo, hi = min(lo, z.min()), max(hi, z.max())
            lo_kl, hi_kl = min(lo_kl, zk.min()), max(hi_kl, zk.max())
        ratio_rows.append({"beta": beta, "min_ratio": lo, "max_ratio": hi,
                           "lower_bound": np.exp(-1 / beta), "upper_bound": 1 + 1 / beta,
                           "kl_max_ratio": hi_kl, "kl_upper_bound": np.exp(1 / beta),
                           "kl_min_ratio": lo_kl})
    ratios = pd.DataFrame(ratio_rows)
    bounds_ok = bool(np.all(ratios["min_ratio"] >= ratios["lower_bound"] * (1 - 1e-12))
                     and np.all(ratios["max_ratio"] <= ratios["upper_bound"] * (1 + 1e-12)))
    # (d) population loss minimisers under BT
    for i in range(3 if quick else 10):
        n = int(rng.integers(3, 7))
        r = rng.random(n) * 2
        ref = rng.dirichlet(np.ones(n))
        mu = rng.dirichlet(np.ones(n))
        beta = float(rng.choice([0.3, 1.0]))
        P = games.bradley_terry(r)
        W = np.outer(mu, mu)
        kl_cf = pref.kl_regularized_optimum(r, beta, ref).policy
        chi_cf = pref.chi_mix_optimum(r, beta, ref).policy
        rows.append({"check": "DPO optimum = KL optimum of r (closed forms)", "instance": i,
                     "beta": beta, "error": float(np.max(np.abs(
                         pref.dpo_optimum(P, beta, ref, mu).policy - kl_cf)))})
        rows.append({"check": "chi-PO optimum = chi-mix optimum of r (closed forms)",
                     "instance": i, "beta": beta, "error": float(np.max(np.abs(
                         pref.chipo_optimum(P, beta, ref, mu).policy - chi_cf)))})
        rows.append({"check": "DPO loss: closed form vs BFGS", "instance": i, "beta": beta,
                     "error": float(np.max(np.abs(_direct_pair_loss(P, W, beta, ref, "kl")
                                                  - kl_cf)))})
        rows.append({"check": "chi-PO loss: closed form vs BFGS", "instance": i, "beta": beta,
                     "error": float(np.max(np.abs(_direct_pair_loss(P, W, beta, ref, "chi")
                                                  - chi_cf)))})
        Pg = games.random_preference(n, rng)
        rows.append({"check": "IPO loss: closed form vs BFGS", "instance": i, "beta": beta,
                     "error": float(np.max(np.abs(_direct_ipo(Pg, mu, beta, ref)
                                                  - pref.ipo_optimum(Pg, beta, ref, mu).policy)))})
    table = pd.DataFrame(rows)
    tol = {"reparametrisation": 1e-12,
           "DPO optimum = KL optimum of r (closed forms)": 1e-10,
           "chi-PO optimum = chi-mix optimum of r (closed forms)": 1e-10,
           "DPO loss: closed form vs BFGS": 1e-5, "chi-PO loss: closed form vs BFGS": 1e-5,
           "IPO loss: closed form vs BFGS": 1e-5}
    worst = table.groupby("check")["error"].max()
    excess = float(table["objective_excess_of_direct"].max())
    direct = table[table["check"] == "closed form vs trust region"]
    errors_ok = all(worst[k] <= v for k, v in tol.items() if k != "closed form vs trust region")
    errors_ok = errors_ok and bool(np.all(direct["error"] <= direct["tolerance"]))
    passed = errors_ok and bounds_ok and excess <= 1e-12

    with paper_style():
        fig, (ax1, ax2) = new_figure("double", aspect=0.33, ncols=2)
        b = np.geomspace(0.02, 5, 200)
        ax1.loglog(b, 1 + 1 / b, color="C0", label=r"$1 + R/\beta$ (chi-mix bound)")
        ax1.loglog(b, np.exp(np.minimum(1 / b, 700)), color="C1", label=r"$e^{R/\beta}$ (KL bound)")
        ax1.scatter(ratios["beta"], ratios["max_ratio"], color="C0", marker="o", zorder=3,
                    label="largest chi-mix ratio observed")
        ax1.scatter(ratios["beta"], ratios["kl_max_ratio"], color="C1", marker="x", zorder=3,
                    label="largest KL ratio observed")
        ax1.set_ylim(1, 1e6)
        label_axes(ax1, r"$\beta$ (rewards in $[0, R]$, $R = 1$)",
                   r"$\max_y \pi(y)/\pi_{\rm ref}(y)$", "How far the optimum leaves the reference")
        u = np.linspace(-3, 6, 300)
        ax2.plot(u, pref.chi_mix_link_inverse(u), color="C0", label=r"chi-mix: $W_0(e^u)$")
        ax2.plot(u, np.exp(u), color="C1", label=r"KL: $e^u$")
        ax2.set_ylim(0, 8)
        label_axes(ax2, r"$u = (r(y) - \lambda)/\beta$", r"ratio $\pi(y)/\pi_{\rm ref}(y)$",
                   "Inverse links")
    figs = save_figure(fig, out / "chi_mix_ratios")
    summary = (
        f"Closed form vs exact-Hessian trust region: max error "
        f"{worst['closed form vs trust region']:.1e} (tolerance: the solver's resolution "
        f"sqrt(200 eps/beta) >= {direct['tolerance'].min():.1e}), the direct solver "
        f"never better than the closed form (excess {excess:.1e}); reparametrisation residual "
        f"{worst['reparametrisation']:.1e}; ratio bounds hold on {3 * n_rand} random instances "
        f"({bounds_ok}); DPO/chi-PO population optima = closed forms within "
        f"{max(worst.iloc[[i for i, k in enumerate(worst.index) if 'closed forms' in k]]):.1e}; "
        f"loss minimisers vs BFGS within "
        f"{max(worst[k] for k in worst.index if 'loss' in k):.1e}."
    )
    return ClaimResult(passed, table, figs, summary,
                       {"max_closed_form_error": float(worst["closed form vs trust region"]),
                        "max_reparam_error": float(worst["reparametrisation"])})


# ---------------------------------------------------------------------------------------------
EPS_RARE = 0.04
R_COMMON = np.array([0.5, 0.4, 0.3, 0.2])
N_RARE = 8
R_MAX = 1.0
ZERO = 1e-9


def overopt_instance():
    """(true reward, reference) of the rare-response instance (module docstring)."""
    r = np.concatenate([R_COMMON, np.zeros(N_RARE)])
    ref = np.concatenate([np.full(4, (1 - EPS_RARE) / 4), np.full(N_RARE, EPS_RARE / N_RARE)])
    return r, ref


def _tci(x, level=0.95):
    x = np.asarray(x, dtype=float)
    m = x.mean()
    if len(x) < 2:
        return m, m, m
    h = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return m, m - h, m + h


def _tuned_slope(table: pd.DataFrame, method: str, Ns: list, rng: np.random.Generator,
                 n_boot: int = 1000, level: float = 0.95):
    """Log-log slope of the tuned mean regret against N (points above ``ZERO``) with a
    percentile bootstrap interval over seeds; each resample re-tunes beta per N (the tuning is
    part of the estimator). ``None`` with fewer than 3 positive points."""
    sub = table[table["method"] == method]
    arr = sub.pivot_table(index="seed", columns=["N", "beta"], values="regret").to_numpy()
    n_beta = sub["beta"].nunique()
    arr = arr.reshape(len(arr), len(Ns), n_beta)  # pivot_table sorts N, then beta

    def slope(a):
        tuned = a.mean(0).min(-1)
        keep = tuned > ZERO
        if keep.sum() < 3:
            return None
        return fit_loglog_slope(np.asarray(Ns, float)[keep], tuned[keep])

    fit = slope(arr)
    if fit is None:
        return None
    boots = [b.slope for b in (slope(arr[rng.integers(len(arr), size=len(arr))])
                               for _ in range(n_boot)) if b is not None]
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return dataclasses.replace(fit, ci=(float(lo), float(hi)))


def overopt_repetition(N: int, betas: list, rng) -> list[dict]:
    r"""One data set of ``N`` pairs from :math:`\pi_{\rm ref}\otimes\pi_{\rm ref}` on the
    over-optimization instance, its bounded BT fit, and the DPO / chi-PO optima for every
    ``beta`` (rows for :func:`mdplab.sweep.sweep`)."""
    r_true, ref = overopt_instance()
    best = float(r_true.max())
    data = pref.sample_preferences(games.bradley_terry(r_true), N, rng=rng, mu=ref)
    r_hat = pref.bradley_terry_mle_bounded(data.counts(), R_MAX).reward
    rows = []
    for beta in betas:
        for method, pi in (
            ("DPO", pref.kl_regularized_optimum(r_hat, beta, ref).policy),
            ("chi-PO", pref.chi_mix_optimum(r_hat, beta, ref).policy),
        ):
            rows.append({"beta": beta, "method": method, "regret": best - float(pi @ r_true),
                         "kl": float(kl_divergence(pi, ref)), "rare_mass": float(pi[4:].sum()),
                         "concentrability": float(pref.concentrability(pi, ref))})
    return rows


@register(
    id="chipo-overoptimization",
    title="chi-PO vs DPO: over-optimization with responses the data barely cover",
    citation=CHIPO,
    statement=(
        r"chi-PO's suboptimality against a comparator $\pi^*$ is $\lesssim "
        r"\sqrt{C^{\pi^*}/N}$ (single-policy concentrability $C^{\pi^*} = \sum \pi^{*2}/"
        r"\pi_{\rm ref}$), while DPO's is not bounded in terms of $C^{\pi^*}$: on a response set "
        r"where the reference (and so the data) rarely covers some bad responses, DPO puts "
        r"$\propto e^{\hat r/\beta}$ mass on spuriously high fitted rewards, chi-PO at most "
        r"$\pi_{\rm ref}(1 + R/\beta)$. Criteria (fixed before running): (P1) the 95% "
        r"bootstrap CI (over seeds) of the "
        r"log-log slope of chi-PO's tuned regret vs $N$ covers or lies below $-1/2$; (P2) where "
        r"a rare response is expected in $\le 10$ pairs, DPO's tuned regret exceeds chi-PO's "
        r"with the paired 95% CI above 0."
    ),
    budget_seconds=90,
)
def check_overoptimization(quick: bool, rng: np.random.Generator, out) -> ClaimResult:
    r_true, ref = overopt_instance()
    best = float(r_true.max())
    c_star = 1.0 / ref[np.argmax(r_true)]
    seeds = 10 if quick else 30
    Ns = [100, 1000, 10000] if quick else [100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    betas = np.geomspace(1e-3, 10, 21 if quick else 41)
    table = seed_sweep(overopt_repetition, {"N": Ns, "betas": [[float(b) for b in betas]]},
                       seeds, rng)
    table = table[["seed", "N", "beta", "method", "regret", "kl", "rare_mass",
                   "concentrability"]]
    mean = table.groupby(["method", "N", "beta"], as_index=False)[["regret", "kl",
                                                                    "rare_mass"]].mean()
    tuned = {}
    for (method, N), sub in mean.groupby(["method", "N"]):
        tuned[(method, N)] = float(sub.loc[sub["regret"].idxmin(), "beta"])
    summ_rows = []
    for N in Ns:
        per = {}
        for method in ("DPO", "chi-PO"):
            b = tuned[(method, N)]
            sel = table[(table["method"] == method) & (table["N"] == N) & (table["beta"] == b)]
            per[method] = sel.sort_values("seed")["regret"].to_numpy()
            m, lo, hi = _tci(per[method])
            summ_rows.append({"N": N, "method": method, "tuned_beta": b, "regret": m,
                              "regret_lo": lo, "regret_hi": hi,
                              "rare_mass": float(sel["rare_mass"].mean()),
                              "kl": float(sel["kl"].mean())})
        d, dlo, dhi = _tci(per["DPO"] - per["chi-PO"])
        summ_rows.append({"N": N, "method": "DPO - chi-PO", "tuned_beta": np.nan, "regret": d,
                          "regret_lo": dlo, "regret_hi": dhi, "rare_mass": np.nan,
                          "kl": np.nan})
    summary_table = pd.DataFrame(summ_rows)
    chi = summary_table[summary_table["method"] == "chi-PO"]
    dpo = summary_table[summary_table["method"] == "DPO"]
    diff = summary_table[summary_table["method"] == "DPO - chi-PO"]
    # a tuned regret of exactly 0 (below 1e-9: the best response is identified in every seed
    # and beta -> 0 is best) is a rate faster than any power; the slope is fitted on the
    # positive points, and with fewer than 3 of them (P1) holds if the regret reached 0.
    pos_chi = chi[chi["regret"] > ZERO]
    pos_dpo = dpo[dpo["regret"] > ZERO]
    fit_chi = _tuned_slope(table, "chi-PO", Ns, rng)
    fit_dpo = _tuned_slope(table, "DPO", Ns, rng)
    if fit_chi is not None:
        p1 = bool(fit_chi.ci[0] <= -0.5)
    else:
        p1 = bool(chi["regret"].iloc[-1] <= ZERO)
    limited = diff[2 * diff["N"] * EPS_RARE / N_RARE <= 10]
    p2 = bool(len(limited) > 0 and np.all(limited["regret_lo"] > 0))
    passed = p1 and p2

    with paper_style():
        fig, axes = new_figure("double", aspect=0.33, ncols=3)
        N_show = [Ns[0], Ns[len(Ns) // 2], Ns[-1]] if not quick else Ns
        ax = axes[0]
        for k, N in enumerate(N_show):
            for method, ls in (("DPO", "--"), ("chi-PO", "-")):
                sub = table[(table["method"] == method) & (table["N"] == N)]
                g = sub.groupby("beta")
                m = g["regret"].mean()
                kl = g["kl"].mean()
                val = best - m.to_numpy()
                half = (stats.t.ppf(0.975, seeds - 1) * g["regret"].std(ddof=1)
                        / np.sqrt(seeds)).to_numpy()
                order = np.argsort(kl.to_numpy())
                ax.plot(kl.to_numpy()[order], val[order], ls, color=f"C{k}",
                        label=f"{method}, N={N}")
                confidence_band(ax, kl.to_numpy()[order], (val - half)[order],
                                (val + half)[order], color=f"C{k}", alpha=0.15)
        ax.set_xscale("symlog", linthresh=1e-2)
        label_axes(ax, r"$\mathrm{KL}(\hat\pi\|\pi_{\rm ref})$ (nats; $\beta$ varies)",
                   r"true reward $E_{\hat\pi}[r^*]$", "True reward vs KL (95% bands)")
        ax.legend(fontsize=5)
        ax = axes[1]
        N_mid = N_show[len(N_show) // 2]
        for method, ls, col in (("DPO", "--", "C1"), ("chi-PO", "-", "C0")):
            sub = table[(table["method"] == method) & (table["N"] == N_mid)]
            g = sub.groupby("beta")["regret"]
            m = g.mean().to_numpy()
            half = (stats.t.ppf(0.975, seeds - 1) * g.std(ddof=1) / np.sqrt(seeds)).to_numpy()
            bs = np.array(sorted(sub["beta"].unique()))
            ax.semilogx(bs, best - m, ls, color=col, label=method)
            confidence_band(ax, bs, best - m - half, best - m + half, color=col)
        label_axes(ax, r"regularization $\beta$", r"true reward $E_{\hat\pi}[r^*]$",
                   rf"Over-optimization as $\beta$ falls (N={N_mid})")
        ax = axes[2]
        for lab, sub, fit, col in (("chi-PO", pos_chi, fit_chi, "C0"),
                                   ("DPO", pos_dpo, fit_dpo, "C1")):
            if fit is not None:
                plot_loglog_fit(ax, sub["N"].to_numpy(), sub["regret"].to_numpy(), fit=fit,
                                label=lab, color=col)
            elif len(sub):
                ax.loglog(sub["N"], sub["regret"], "o", color=col, label=lab)
            if len(sub):
                # lower end clipped at a fifth of the mean: a t-band reaching 0 on a log axis
                # would stretch it over decades (the intervals are in the table)
                y = sub["regret"].to_numpy()
                confidence_band(ax, sub["N"].to_numpy().astype(float),
                                np.maximum(sub["regret_lo"].to_numpy(), y / 5),
                                sub["regret_hi"].to_numpy(), color=col)
        Nn = np.array(Ns, dtype=float)
        ax.plot(Nn, np.sqrt(c_star / Nn), "k:", lw=0.8, label=r"$\sqrt{C^{\pi^*}/N}$")
        label_axes(ax, "preference pairs N", r"regret at tuned $\beta$",
                   "Regret vs data (95% bands)")
        ax.legend(fontsize=6, loc="lower left")
    figs = save_figure(fig, out / "chipo_vs_dpo_overoptimization")

    out_table = pd.concat([summary_table.assign(kind="tuned summary"),
                           mean.assign(kind="mean over seeds")], ignore_index=True)
    lim_txt = ", ".join(f"N={int(a)}: {b:.3f} [{c:.3f}, {d:.3f}]" for a, b, c, d in zip(
        limited["N"], limited["regret"], limited["regret_lo"], limited["regret_hi"],
        strict=True))
    def _fit_txt(fit, sub):
        if fit is None:
            last = sub["regret"].iloc[-1]
            return f"no slope (fewer than 3 positive points; last regret {last:.1e})"
        return f"slope {fit.slope:.2f} (95% CI [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}])"

    summary = (
        f"{seeds} seeds, N in {Ns}. (P1) chi-PO tuned regret: {_fit_txt(fit_chi, chi)}; "
        f"criterion: bootstrap CI covers or below -0.5 -> {'pass' if p1 else 'FAIL'}"
        f"{' (whole CI below -0.5)' if fit_chi is not None and fit_chi.ci[1] < -0.5 else ''}"
        f"; DPO: "
        f"{_fit_txt(fit_dpo, dpo)}. (P2) DPO minus chi-PO tuned regret where "
        f"rare responses are covered <= 10 times: {lim_txt} -> {'pass' if p2 else 'FAIL'}."
    )
    key = {"chipo_slope": fit_chi.slope if fit_chi else float("nan"),
           "chipo_slope_ci_lo": fit_chi.ci[0] if fit_chi else float("nan"),
           "dpo_slope": fit_dpo.slope if fit_dpo else float("nan"),
           "min_regret_gap_limited_coverage": float(limited["regret"].min())
           if len(limited) else float("nan")}
    return ClaimResult(passed, out_table, figs, summary, key)
