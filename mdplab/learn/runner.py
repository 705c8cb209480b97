r"""One episode runner for every online learner, with exact (not Monte-Carlo) regret.

For episode :math:`k = 1, \dots, K` the runner asks the learner for its policy
:math:`\pi_k` (``(H, S, A)``), samples one trajectory from the true finite-horizon MDP with
``rng``, hands it to the learner, and records the **exact** value of :math:`\pi_k`

.. math::

    J_\beta(\pi_k) = \mathbb E_{\pi_k}\Big[\sum_{h=0}^{H-1} R_h(s_h, a_h)
        - \beta\, \mathrm{KL}\big(\pi_{k,h}(\cdot|s_h) \,\|\, \pi_{\rm ref,h}(\cdot|s_h)\big)\Big],
    \qquad s_0 \sim \mu,

computed by forward propagation of the state distribution (a Numba kernel,
:math:`O(H S^2 \bar A)` per episode, :math:`\bar A` = actions in the policy's support), and

* ``value`` :math:`= J_\beta(\pi_k)` (the plain expected return when ``beta = 0``);
* ``regret`` :math:`= J_\beta^* - J_\beta(\pi_k)`, with :math:`J^*_\beta = \mu^\top V^*_{\beta,0}`
  from :func:`mdplab.solve` (backward induction; the KL-regularized regret when ``beta > 0``);
* ``cum_regret`` :math:`= \sum_{j \le k} \mathrm{regret}_j`, always over **every** episode;
* ``kl`` :math:`= \mathbb E_{\pi_k}[\sum_h \mathrm{KL}(\pi_{k,h}\|\pi_{\rm ref,h})(s_h)]`, the
  exact trajectory KL of the played policy to ``ref`` (uniform when ``ref`` is ``None``), so the
  plain return is ``value + beta * kl``;
* ``seconds`` -- wall time since the start of the run (learner, sampling and evaluation).

The regret is the pseudo-regret (expected value of the played policy, not the realised
return), so curves are exact rather than estimated. A regret can be negative by rounding
when the optimal policy is played: about ``1e-14`` at ``beta = 0``, and up to
``64 eps H (1 + beta)`` (``eps`` = machine epsilon) at temperature ``beta``, because a float
policy sums to one only within ~``1e-16``, so ``beta * KL`` is only defined to ~``beta * 1e-16``
per step (``tests/test_extremes_learn.py`` checks values against mpmath).
``record_every = m > 1`` keeps only the rows of episodes ``k`` with ``k % m == 0``, of a
geometric grid (about 20 points per decade) and of the last episode; every episode is still
evaluated exactly and ``cum_regret`` is exact on every row kept.

Observed rewards are the expected rewards ``R_h(s, a)`` (``rewards="expected"``) or
Bernoulli draws with that mean (``rewards="bernoulli"``); both need ``R`` in [0, 1].

Interruption and resume: with ``checkpoint=path`` the runner writes its whole state (the
agent, the environment generator, the block of pre-drawn uniforms and the records so far) every
``checkpoint_every`` episodes, atomically (temporary file in the same folder, ``fsync``, then
``os.replace``). Calling :func:`run` again with the same arguments resumes from the last block
and produces the same log bit for bit (the ``seconds`` column aside); the checkpoint carries a
SHA-256 fingerprint of the arguments and initial generator states, so a different run refuses it.
A checkpoint that cannot be unpickled, misses or adds keys, or holds values of the wrong type,
shape or dtype (hand-edited, truncated) raises ``ValueError`` naming the file before anything is
used. Checkpoints are pickles: resume only from files you wrote.

The runner checks every policy a learner proposes before the compiled kernels read it: a real
``(H, S, A)`` array whose rows are distributions within ``1e-9`` (lists and other real dtypes
are converted); anything else raises ``TypeError`` / ``ValueError`` naming the learner and the
episode, instead of out-of-bounds reads or NaN values in the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .._utils import as_rng, process_peak_rss_mb, spawn
from ..mdp import TabularMDP
from ..solvers import solve
from ..solvers.bellman import _check_beta, check_ref
from . import _kernels as _k
from .online import Learner

__all__ = ["run", "record_grid"]

#: Largest dense kernel (entries of ``(H, S, A, S)`` or ``(S, A, S)``) the runner builds.
MAX_DENSE_ENTRIES = 50_000_000
#: Episodes of uniforms drawn per call to the generator.
_BLOCK = 512
COLUMNS = ["episode", "value", "regret", "cum_regret", "kl", "seconds"]


def record_grid(episodes: int, every: int) -> np.ndarray:
    """Episodes (1-based) whose rows :func:`run` keeps with ``record_every=every``: multiples of
    ``every``, a geometric grid with ~20 points per decade, and the last episode."""
    K = int(episodes)
    if every <= 1:
        return np.arange(1, K + 1)
    geo = np.unique(np.round(np.geomspace(1, K, max(2, int(20 * np.log10(max(K, 10))) + 1))))
    keep = np.union1d(np.arange(every, K + 1, every), geo.astype(np.int64))
    return np.union1d(keep, [K]).astype(np.int64)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} = {value} must be >= {minimum}")
    return int(value)


def _check_mdp_for_learning(mdp) -> None:
    """A finite-horizon :class:`TabularMDP` with rewards in [0, 1] (what the learners assume)."""
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp: expected a TabularMDP, got {type(mdp).__name__}")
    if mdp.discounted:
        raise ValueError(
            f"mdp is discounted (gamma = {mdp.gamma}); online learners need a finite-horizon "
            "model: build it with horizon=H (e.g. ml.envs.riverswim(6, horizon=20))"
        )
    R_min, R_max = float(np.min(mdp.R)), float(np.max(mdp.R))
    if R_min < 0.0 or R_max > 1.0:
        raise ValueError(
            f"mdp.R spans [{R_min:.6g}, {R_max:.6g}]; the learners' confidence bonuses assume "
            "rewards in [0, 1]: rescale R (e.g. mdp.with_(R=(R - R.min()) / (R.max() - R.min())))"
        )


def _fingerprint(*parts) -> str:
    """SHA-256 of the run arguments (learner, model, options, initial generator states): a
    checkpoint is only resumed by the run that wrote it."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(repr((part.dtype.str, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(pickle.dumps(part, protocol=4))
    return h.hexdigest()


def _write_atomic(path: Path, state: dict) -> None:
    """Pickle ``state`` to ``path`` through a temporary file in the same folder + rename, so
    a crash leaves either the previous checkpoint or the new one, never a torn file."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: Tolerance on the row sums of a learner's policy (that of :func:`mdplab.mdp.check_policy`).
_POLICY_TOL = 1e-9
_STATE_KEYS = ("fingerprint", "k", "elapsed", "agent", "env_rng", "u_block", "values", "kls",
               "seconds")


def _checked_policy(pi, shape: tuple, k: int, learner) -> np.ndarray:
    """The policy a learner proposed for episode ``k``, checked before the compiled kernels
    read it: a real ``(H, S, A)`` array (converted to contiguous float64 if needed) whose rows
    are distributions. A bad policy raises instead of being sampled from (out-of-bounds reads
    or a NaN value in the log)."""
    if type(pi) is not np.ndarray or pi.dtype != np.float64 or not pi.flags.c_contiguous:
        arr = np.asarray(pi) if isinstance(pi, (np.ndarray, list, tuple)) else None
        if arr is not None and arr.dtype.kind == "O":  # object array of numbers: like a list
            with contextlib.suppress(TypeError, ValueError):
                arr = np.array(arr.tolist())
        if arr is None or arr.dtype.kind not in "biuf":
            what = type(pi).__name__ if arr is None else f"dtype {arr.dtype}"
            raise TypeError(f"learner {type(learner).__name__}: the policy of "
                            f"episode {k} must be a real array of shape {shape}, got {what}")
        pi = np.ascontiguousarray(arr, dtype=np.float64)
    if pi.shape != shape:
        raise ValueError(f"learner {type(learner).__name__}: the policy of episode "
                         f"{k} has shape {pi.shape}, expected (H, S, A) = {shape}")
    bad = _k.first_invalid_row(pi, _POLICY_TOL)
    if bad >= 0:
        h, s = divmod(int(bad), shape[1])
        raise ValueError(
            f"learner {type(learner).__name__}: the policy of episode {k} is not a "
            f"distribution at step {h}, state {s}: pi[{h}, {s}, :] = {pi[h, s].tolist()} "
            f"(entries must lie in [0, 1] and sum to 1 within {_POLICY_TOL:g})")
    return pi


def _load_checkpoint(path: Path, fingerprint: str, learner, sizes: tuple) -> dict:
    """Read and validate a checkpoint written by :func:`run` (everything is checked before
    anything is used: a torn, hand-edited or foreign file raises ``ValueError`` naming it).

    Checkpoints are pickles: only resume from files you wrote yourself."""
    S, A, H, K = sizes
    bad = f"checkpoint = {str(path)!r} is not a valid mdplab learning checkpoint"
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as exc:  # truncated, corrupted, not a pickle, unknown classes, ...
        raise ValueError(f"{bad}: it cannot be read ({type(exc).__name__}: {exc}); delete it "
                         "to start afresh") from None
    if not isinstance(state, dict):
        raise ValueError(f"{bad}: it holds a {type(state).__name__}, expected a dict")
    missing = [key for key in _STATE_KEYS if key not in state]
    extra = sorted(str(key) for key in state if key not in _STATE_KEYS)
    if missing or extra:
        raise ValueError(f"{bad}: missing keys {missing}, unexpected keys {extra}")
    if state["fingerprint"] != fingerprint:
        raise ValueError(
            f"checkpoint = {str(path)!r} was written by a run with different "
            "arguments (learner, model, episodes, record_every, beta, ref, rewards or rng); "
            "delete it or pass another path"
        )
    k = state["k"]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= K:
        raise ValueError(f"{bad}: 'k' = {k!r}, expected an episode count in [1, {K}]")
    k = int(k)
    el = state["elapsed"]
    if isinstance(el, bool) or not isinstance(el, (int, float, np.floating)) or not (
            np.isfinite(el) and el >= 0):
        raise ValueError(f"{bad}: 'elapsed' = {el!r}, expected a finite number >= 0")
    for key in ("values", "kls", "seconds"):
        arr = state[key]
        if not (isinstance(arr, np.ndarray) and arr.dtype == np.float64 and arr.shape == (k,)):
            what = (f"dtype {arr.dtype}, shape {arr.shape}" if isinstance(arr, np.ndarray)
                    else type(arr).__name__)
            raise ValueError(f"{bad}: {key!r} must be a float64 array of shape ({k},), got "
                             f"{what}")
        if np.isnan(arr).any():
            raise ValueError(f"{bad}: {key!r} contains NaN")
    if not isinstance(state["env_rng"], np.random.Generator):
        raise ValueError(f"{bad}: 'env_rng' is a {type(state['env_rng']).__name__}, expected a "
                         "numpy Generator")
    if k < K and k % _BLOCK:
        u = state["u_block"]
        rows = min(_BLOCK, K - (k // _BLOCK) * _BLOCK)
        if not (isinstance(u, np.ndarray) and u.dtype == np.float64
                and u.shape == (rows, 3 * H + 1) and np.all((u >= 0) & (u < 1))):
            raise ValueError(f"{bad}: 'u_block' must be a float64 array of shape "
                             f"({rows}, {3 * H + 1}) of uniforms in [0, 1)")
    # the agent: same class as a fresh one, same array attributes (shape, dtype), no NaN
    agent, fresh = state["agent"], learner.start(S, A, H, K, np.random.default_rng(0))
    if type(agent) is not type(fresh):
        raise ValueError(f"{bad}: its agent is a {type(agent).__name__}, expected "
                         f"{type(fresh).__name__}")
    own = getattr(agent, "__dict__", {})
    for name, ref in getattr(fresh, "__dict__", {}).items():
        if not isinstance(ref, np.ndarray):
            continue
        got = own.get(name)
        if not (isinstance(got, np.ndarray) and got.dtype == ref.dtype
                and got.shape == ref.shape):
            raise ValueError(f"{bad}: agent attribute {name!r} must be a {ref.dtype} array of "
                             f"shape {ref.shape}")
        if got.dtype.kind == "f" and np.isnan(got).any():
            raise ValueError(f"{bad}: agent attribute {name!r} contains NaN")
    return state


def _dense_model(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    """``P (Hp, S, A, S)`` and ``R (Hr, S, A)`` as contiguous float arrays."""
    S, A = mdp.S, mdp.A
    if mdp.is_sparse:
        Hp = mdp.P.shape[0] // (S * A)
    else:
        Hp = mdp.P.shape[0] if mdp.P.ndim == 4 else 1
    if Hp * S * A * S > MAX_DENSE_ENTRIES:
        raise ValueError(
            f"mdp: the runner needs a dense kernel of {Hp * S * A * S:,} entries "
            f"(S = {S}, A = {A}), more than MAX_DENSE_ENTRIES = {MAX_DENSE_ENTRIES:,}"
        )
    P = mdp.P.toarray() if mdp.is_sparse else np.asarray(mdp.P)
    P = np.ascontiguousarray(P, dtype=np.float64).reshape(Hp, S, A, S)
    R = np.ascontiguousarray(mdp.R, dtype=np.float64).reshape(-1, S, A)
    return P, R


def _progress_bar(enabled: bool, total: int, description: str):
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
    bar.start()
    task = bar.add_task(description, total=total)
    return bar, task


def run(
    learner: Learner,
    mdp: TabularMDP,
    episodes: int,
    *,
    rng=None,
    beta: float = 0.0,
    ref=None,
    record_every: int = 1,
    rewards: str = "expected",
    progress: bool | None = None,
    callback=None,
    checkpoint=None,
    checkpoint_every: int = 1000,
) -> pd.DataFrame:
    """Run ``learner`` for ``episodes`` episodes on ``mdp``; return the per-episode log.

    Parameters
    ----------
    learner : Learner
        A hyper-parameter object such as ``UCBVI(bonus="bernstein")``.
    mdp : TabularMDP
        A finite-horizon model (``horizon=H``) with rewards in [0, 1].
    episodes : int
        Number of episodes ``K >= 1``.
    rng : int or numpy.random.Generator, optional
        Seed. Two independent streams are spawned from it: the environment's (initial states,
        transitions, policy draws, reward noise) and the learner's (e.g. PSRL's samples). Same
        seed, same log (``seconds`` aside).
    beta, ref
        KL temperature and reference policy (``None``: uniform) of the regularized objective;
        the regret is against the regularized optimum when ``beta > 0``.
    record_every : int
        Keep every row (1) or a subset (see :func:`record_grid`); all episodes are evaluated.
    rewards : {"expected", "bernoulli"}
        What the learner observes: ``R_h(s, a)`` itself or a Bernoulli draw with that mean.
    progress : bool, optional
        Show a progress bar (rich); ``None`` shows one only when stderr is a terminal.
    callback : callable, optional
        ``callback(k, agent, policy)`` after the policy of episode ``k`` (1-based) is
        proposed and before its trajectory is sampled (for diagnostics such as checking
        optimism; must not modify ``policy``).
    checkpoint : str or path-like, optional
        File where the run saves its state (agent, generators, per-episode records) every
        ``checkpoint_every`` episodes and at the end, atomically (temporary file + rename).
        If the file exists, the run **resumes** from it: same arguments, same log, bit for
        bit (``seconds`` aside). A checkpoint written with other arguments (learner, model,
        ``episodes``, ``rng``, ...) raises ``ValueError``. The agent must be picklable.
    checkpoint_every : int
        Episodes per checkpoint block.

    Returns
    -------
    pandas.DataFrame
        Columns ``episode, value, regret, cum_regret, kl, seconds`` (see the module docstring).
        ``log.attrs`` holds ``learner`` (repr), ``optimal_value`` (``J*``), ``beta``,
        ``episodes``, ``rewards``, ``resumed_from`` (episodes read from a checkpoint) and
        ``peak_rss_mb`` (peak resident memory of the process so far, MiB).
    """
    if not isinstance(learner, Learner):
        raise TypeError(
            f"learner: expected an mdplab.learn learner such as UCBVI(), got "
            f"{type(learner).__name__}"
        )
    _check_mdp_for_learning(mdp)
    K = _check_int("episodes", episodes, 1)
    every = _check_int("record_every", record_every, 1)
    beta = _check_beta(beta)
    if rewards not in ("expected", "bernoulli"):
        raise ValueError(f"rewards = {rewards!r}: expected 'expected' or 'bernoulli'")
    ckpt_every = _check_int("checkpoint_every", checkpoint_every, 1)
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint: expected a path, got {type(checkpoint).__name__}")
        checkpoint = Path(checkpoint)
        if not checkpoint.parent.is_dir():
            raise ValueError(f"checkpoint = {str(checkpoint)!r}: folder "
                             f"{str(checkpoint.parent)!r} does not exist")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable, got {type(callback).__name__}")
    H, S, A = mdp.H, mdp.S, mdp.A
    ref_arr = check_ref(mdp, ref)
    with np.errstate(divide="ignore"):
        logref = np.ascontiguousarray(np.log(ref_arr.reshape(-1, S, A)))
    sol = solve(mdp, beta=beta, ref=ref)
    J_star = float(mdp.mu @ sol.V[0])

    P, R = _dense_model(mdp)
    Pcdf = np.cumsum(P, axis=-1)
    mu = np.ascontiguousarray(mdp.mu, dtype=np.float64)
    mu_cdf = np.cumsum(mu)
    bern = rewards == "bernoulli"

    env_rng, agent_rng = spawn(as_rng(rng), 2)
    values = np.empty(K)
    kls = np.empty(K)
    seconds = np.empty(K)
    k0, elapsed0, u_block = 0, 0.0, None
    fingerprint = None
    if checkpoint is not None:
        fingerprint = _fingerprint(learner, P, R, mu, ref_arr, (K, every, beta, rewards),
                                   env_rng.bit_generator.state, agent_rng.bit_generator.state)
    if checkpoint is not None and checkpoint.exists():
        state = _load_checkpoint(checkpoint, fingerprint, learner, (S, A, H, K))
        k0, elapsed0 = state["k"], state["elapsed"]
        agent, env_rng, u_block = state["agent"], state["env_rng"], state["u_block"]
        values[:k0], kls[:k0], seconds[:k0] = state["values"], state["kls"], state["seconds"]
    else:
        agent = learner.start(S, A, H, K, agent_rng)

    states = np.empty(H + 1, dtype=np.int64)
    actions = np.empty(H, dtype=np.int64)
    obs = np.empty(H)
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    bar = _progress_bar(bool(progress), K, getattr(learner, "name", type(learner).__name__))
    if bar is not None and k0:
        bar[0].update(bar[1], completed=k0)
    tick = max(1, K // 200)
    t0 = time.perf_counter()

    def save(k):
        _write_atomic(checkpoint, {
            "fingerprint": fingerprint, "k": k, "elapsed": time.perf_counter() - t0 + elapsed0,
            "agent": agent, "env_rng": env_rng, "u_block": u_block, "values": values[:k].copy(),
            "kls": kls[:k].copy(), "seconds": seconds[:k].copy(),
        })

    try:
        for k in range(k0, K):
            if checkpoint is not None and k > k0 and k % ckpt_every == 0:
                save(k)
            if k % _BLOCK == 0:
                u_block = env_rng.random((min(_BLOCK, K - k), 3 * H + 1))
            pi = agent.policy()
            if callback is not None:
                callback(k + 1, agent, pi)
            pi = _checked_policy(pi, (H, S, A), k + 1, learner)
            _k.sample_episode(Pcdf, R, mu_cdf, pi, u_block[k % _BLOCK], bern, states, actions,
                              obs)
            J, kl = _k.policy_value(P, R, mu, pi, logref)
            agent.update(states, actions, obs)
            values[k] = J - beta * kl if beta > 0 else J
            kls[k] = kl
            seconds[k] = time.perf_counter() - t0 + elapsed0
            if bar is not None and (k + 1) % tick == 0:
                bar[0].update(bar[1], completed=k + 1)
        if checkpoint is not None and k0 < K:
            save(K)
    finally:
        if bar is not None:
            bar[0].update(bar[1], completed=K)
            bar[0].stop()

    regret = J_star - values
    cum = np.cumsum(regret)
    rows = record_grid(K, every) - 1
    log = pd.DataFrame(
        {
            "episode": rows + 1,
            "value": values[rows],
            "regret": regret[rows],
            "cum_regret": cum[rows],
            "kl": kls[rows],
            "seconds": seconds[rows],
        }
    )
    log.attrs.update(
        learner=repr(learner), optimal_value=J_star, beta=beta, episodes=K, rewards=rewards,
        resumed_from=k0, peak_rss_mb=process_peak_rss_mb(),
    )
    return log
