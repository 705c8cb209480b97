"""Speed of the occupancy-measure projection and of the adversarial episode loop (issue 7
target: the entropic projection for S = 50, A = 5, H = 10 in under 50 ms).

The projection is :func:`mdplab.learn.adversarial.project_occupancy`: dual Newton (Numba,
block-tridiagonal Hessian) and, for comparison, the primal exponential-cone program in cvxpy
(Clarabel). Timed cold (dual started at 0, random ``log w ~ N(0, 1)``) and warm (dual of the
previous O-REPS step, ``log w`` changed by one bandit loss estimate), which is what O-REPS pays
per episode. The UOB-REPS projection onto the occupancy measures of a confidence box
(:func:`mdplab.learn.adversarial_unknown.project_confidence_occupancy`, triples) by dual Newton
and by cvxpy, at H = 4, S = 3, A = 2 and at S = 10, A = 3, H = 5. Also: ``run_adversarial``
episodes per second for O-REPS and UOB-REPS on the claim instance (H = 4, S = 3, A = 3) and
for O-REPS on S = 50, A = 5, H = 10.

Usage::

    nice python benchmarks/adversarial_bench.py
    nice python benchmarks/adversarial_bench.py --repeats 20 --no-cvxpy

Numba's first call compiles (or loads the on-disk cache); one warm-up call is excluded.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

import mdplab as ml
from mdplab.learn import adversarial as adv
from mdplab.learn import adversarial_unknown as au


def _time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), float(np.max(times))


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-cvxpy", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows = []
    S, A, H = 50, 5, 10
    mdp = ml.envs.random_mdp(S, A, horizon=H, time_varying=True, rng=args.seed)
    logw = rng.normal(size=(H, S, A))
    adv.project_occupancy(mdp, logw=logw)  # JIT warm-up
    med, worst = _time(lambda: adv.project_occupancy(mdp, logw=logw), args.repeats)
    res = adv.project_occupancy(mdp, logw=logw)
    rows.append({"case": "newton cold", "S": S, "A": A, "H": H, "median_ms": 1e3 * med,
                 "max_ms": 1e3 * worst, "iterations": res.iterations,
                 "violation": res.violation})
    # warm start: one bandit update along a trajectory
    nxt = logw.copy()
    nxt[np.arange(H), rng.integers(0, S, H), rng.integers(0, A, H)] -= 0.5
    med, worst = _time(lambda: adv.project_occupancy(mdp, logw=nxt, v0=res.v), args.repeats)
    warm = adv.project_occupancy(mdp, logw=nxt, v0=res.v)
    rows.append({"case": "newton warm", "S": S, "A": A, "H": H, "median_ms": 1e3 * med,
                 "max_ms": 1e3 * worst, "iterations": warm.iterations,
                 "violation": warm.violation})
    if not args.no_cvxpy:
        med, worst = _time(lambda: adv.project_occupancy(mdp, logw=logw, method="cvxpy"),
                           max(1, args.repeats // 5))
        cv = adv.project_occupancy(mdp, logw=logw, method="cvxpy")
        rows.append({"case": "cvxpy (Clarabel)", "S": S, "A": A, "H": H,
                     "median_ms": 1e3 * med, "max_ms": 1e3 * worst, "iterations": 0,
                     "violation": cv.violation,
                     "max_abs_diff_vs_newton": float(np.abs(cv.q - res.q).max())})
    # UOB-REPS: projection onto the occupancy measures of a confidence box (triples)
    for (s, a, h) in ((3, 2, 4), (10, 3, 5)):
        P_bar = rng.dirichlet(np.ones(s), size=(h - 1, s, a))
        eps = rng.uniform(0, 0.2, size=(h - 1, s, a, s))
        mu = np.eye(s)[0]
        lw, ll = rng.normal(size=(h - 1, s, a, s)), rng.normal(size=(s, a))
        newton = partial(au.project_confidence_occupancy, mu, P_bar, eps, lw, ll)
        newton()  # JIT warm-up
        med, worst = _time(newton, args.repeats)
        nw = newton()
        rows.append({"case": "UOB newton cold", "S": s, "A": a, "H": h,
                     "median_ms": 1e3 * med, "max_ms": 1e3 * worst,
                     "iterations": nw.iterations, "violation": nw.violation})
        if not args.no_cvxpy:
            cvx = partial(newton, method="cvxpy")
            med, worst = _time(cvx, max(1, args.repeats // 5))
            cv = cvx()
            rows.append({"case": "UOB cvxpy (Clarabel)", "S": s, "A": a, "H": h,
                         "median_ms": 1e3 * med, "max_ms": 1e3 * worst, "iterations": 0,
                         "violation": cv.violation,
                         "max_abs_diff_vs_newton": float(np.abs(cv.q - nw.q).max())})
    # episode loop
    for (s, a, h, K) in ((3, 3, 4, 5000), (50, 5, 10, 200)):
        m = ml.envs.random_mdp(s, a, horizon=h, time_varying=True, rng=args.seed)
        losses = adv.oblivious_losses(m, K, rng=args.seed)
        for fb in ("full", "bandit"):
            adv.run_adversarial(adv.OREPS(feedback=fb), m, losses[:5], rng=0)
            t = time.perf_counter()
            adv.run_adversarial(adv.OREPS(feedback=fb), m, losses, rng=0, record_every=K)
            sec = time.perf_counter() - t
            rows.append({"case": f"O-REPS {fb} episode loop", "S": s, "A": a, "H": h,
                         "median_ms": 1e3 * sec / K, "max_ms": float("nan"), "iterations": K,
                         "violation": float("nan")})
    m = ml.envs.random_mdp(3, 3, horizon=4, time_varying=True, rng=args.seed)
    K = 2000
    losses = adv.oblivious_losses(m, K, rng=args.seed)
    adv.run_adversarial(au.UOBREPS(), m, losses[:5], rng=0)
    t = time.perf_counter()
    log = adv.run_adversarial(au.UOBREPS(), m, losses, rng=0, record_every=K)
    sec = time.perf_counter() - t
    rows.append({"case": "UOB-REPS episode loop", "S": 3, "A": 3, "H": 4,
                 "median_ms": 1e3 * sec / K, "max_ms": float("nan"), "iterations": K,
                 "violation": float(log.attrs["max_violation"])})
    for r in rows:
        print(f"{r['case']:28s} S={r['S']:>3d} A={r['A']:>2d} H={r['H']:>3d}  "
              f"median {r['median_ms']:8.3f} ms  max {r['max_ms']:8.3f} ms  "
              f"iters {r['iterations']:>5d}  violation {r['violation']:.1e}"
              + (f"  max|q - q_newton| {r['max_abs_diff_vs_newton']:.1e}"
                 if "max_abs_diff_vs_newton" in r else ""), flush=True)
    return rows


if __name__ == "__main__":
    main()
