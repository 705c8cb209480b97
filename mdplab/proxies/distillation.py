r"""On-policy distillation on a token MDP, and prompted reference LMs.

**On-policy distillation (OPD).** A student :math:`\pi_S` samples its own sequences and is
rewarded, token by token, by the teacher's log-ratio

.. math:: r_t(h, a) = \log \pi_T(a \mid h) - \log \pi_S(a \mid h).

Its value under this reward (:func:`opd_values`, backward induction on the task's levels)

.. math:: V^S_t(h) = \sum_a \pi_S(a|h)\,[r_t(h, a) + V^S_{t+1}(ha)], \qquad V^S_H = 0,

is minus the reverse KL of the continuation laws from :math:`h`; at the root, by the chain
rule, :math:`V^S_0 = -\mathrm{KL}(\pi_S\|\pi_T) = -\mathbb E_{\pi_S}\sum_t
\mathrm{KL}(\pi_S(\cdot|h_t)\|\pi_T(\cdot|h_t))`, and the one-token expectation
:math:`\mathbb E_{a\sim\pi_S} r_t(h, a) = -\mathrm{KL}(\pi_S(\cdot|h)\|\pi_T(\cdot|h))` is the
closed-form baseline of vOPD (Oh, Song, Choi, Choi & Jo 2026, "KL for a KL: on-policy
distillation with control variate baseline", arXiv:2605.07865, abstract). OPD is therefore
KL-regularized RL with per-token reward :math:`\log(\pi_T/\pi_0)`, :math:`\beta = 1` and *any*
reference :math:`\pi_0` (the reading of G-OPD, "Learning beyond teacher: generalized on-policy
distillation with reward extrapolation", abstract; arXiv id not in the seeds): its optimum is
the teacher.

:func:`on_policy_distillation` runs the exact (expected) natural policy gradient on this
reward for tabular softmax students, i.e. the mirror-descent step
:math:`\pi_{k+1}(a|h) \propto \pi_k(a|h)\,e^{\eta A_k(h,a)}` with
:math:`A_k = Q^{S}_k - V^{S}_k` (Kakade 2001; Agarwal, Kakade, Lee & Mahajan 2021,
arXiv:1908.00261, Sec. 5.3). With :math:`\eta = 1` the update is
:math:`\pi_{k+1}(a|h) \propto \pi_T(a|h)\,e^{V^S_k(ha)}`, so the last level is exact after one
step and the student equals the teacher after at most :math:`H` steps (our derivation).

**Prompted LMs** (:class:`PromptedLM`): the continuation of a fixed prompt under a Markov LM
of order :math:`k`. The first :math:`k` context positions, which a plain LM fills with BOS,
are filled with the last tokens of the prompt, so the token MDP of the completion is exact
and keeps the compressed Markov state. A set of prompts gives a multi-prompt proxy (one
accuracy per prompt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lm import BOS, TokenLM
from .token_mdp import TokenMDP, TokenPolicy

__all__ = ["PromptedLM", "OPDResult", "opd_values", "on_policy_distillation"]


class PromptedLM(TokenLM):
    r"""The continuation LM :math:`\pi(\cdot \mid \text{prompt}, h)` of a Markov LM.

    Parameters
    ----------
    lm : TokenLM
        The base LM (any order :math:`k`).
    prompt : str or sequence of int
        The prompt, as text (encoded with ``lm.encode``) or token ids; it must not contain the
        EOS token. Only its last :math:`k` tokens matter.
    """

    def __init__(self, lm: TokenLM, prompt):
        if not isinstance(lm, TokenLM):
            raise TypeError(f"lm: expected a TokenLM, got {type(lm).__name__}")
        if isinstance(prompt, str):
            tokens = lm.encode(prompt)
        else:
            try:
                tokens = np.asarray(prompt, dtype=np.int64).ravel()
            except (TypeError, ValueError):
                raise TypeError(f"prompt: expected text or token ids, got "
                                f"{type(prompt).__name__}") from None
            if np.any((tokens < 0) | (tokens >= lm.V)):
                raise ValueError(f"prompt: token ids must lie in [0, {lm.V})")
        if lm.eos is not None and np.any(tokens == lm.eos):
            raise ValueError("prompt: contains the EOS token")
        self.lm, self.prompt = lm, tokens
        self.vocab, self.eos, self.order = lm.vocab, lm.eos, lm.order
        k = self.order
        tail = np.full(k, BOS, dtype=np.int64)
        m = min(k, tokens.size)
        if m:
            tail[k - m:] = tokens[tokens.size - m:]
        self._tail = tail

    def context_probs(self, contexts):
        c = np.asarray(contexts, dtype=np.int64)
        k = self.order
        if k == 0:
            return self.lm.context_probs(c)
        if c.ndim != 2 or c.shape[1] != k:
            raise ValueError(f"contexts: expected shape (N, {k}), got {c.shape}")
        j = (c == BOS).sum(1)  # BOS positions are the leading ones
        idx = k - j[:, None] + np.arange(k)[None, :]
        filled = np.where(c == BOS, self._tail[np.clip(idx, 0, k - 1)], c)
        return self.lm.context_probs(filled)

    def __repr__(self):
        return f"PromptedLM({self.lm.decode(self.prompt)!r}, order={self.order})"


def _check_pair(student, teacher):
    for name, pol in (("student", student), ("teacher", teacher)):
        if not isinstance(pol, TokenPolicy):
            raise TypeError(f"{name}: expected a TokenPolicy, got {type(pol).__name__}")
    if student.task is not teacher.task:
        raise ValueError("student and teacher: policies of different tasks (build both on the "
                         "same TokenMDP)")
    occ = student.occupancy()
    for t in range(student.task.H):
        live = occ[t] > 0
        bad = (student.probs[t] > 0) & (teacher.probs[t] <= 0) & live[:, None]
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"teacher: assigns probability 0 to token {a} at level {t}, state "
                             f"{s}, where the student does not; the reverse KL is infinite")


def _log_ratio(p, q):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, np.log(np.where(q > 0, q, 1.0)) - np.log(np.where(p > 0, p, 1.0)),
                        0.0)


def _q_values(student, teacher):
    task = student.task
    V = [None] * (task.H + 1)
    V[task.H] = np.zeros(task.n_states[task.H])
    Q = [None] * task.H
    for t in range(task.H - 1, -1, -1):
        child = task.child[t]
        cont = np.where(child >= 0, V[t + 1][np.maximum(child, 0)], 0.0)
        Q[t] = _log_ratio(student.probs[t], teacher.probs[t]) + cont
        V[t] = np.sum(np.where(student.probs[t] > 0, student.probs[t] * Q[t], 0.0), axis=1)
    return Q, V


def opd_values(student: TokenPolicy, teacher: TokenPolicy) -> list[np.ndarray]:
    r"""The student's value :math:`V^S_t` (per level ``t = 0..H``) under the OPD reward
    :math:`r_t = \log\pi_T - \log\pi_S` (module docstring);
    ``opd_values(s, t)[0][task.root]`` equals :math:`-\mathrm{KL}(\pi_S\|\pi_T)`."""
    _check_pair(student, teacher)
    return _q_values(student, teacher)[1]


@dataclass(frozen=True)
class OPDResult:
    """Result of :func:`on_policy_distillation`: the final ``policy`` and, per iteration
    (``0`` = the initial student), ``kl`` = :math:`\\mathrm{KL}(\\pi_k\\|\\pi_T)` and the
    student ``policies``."""

    policy: TokenPolicy
    kl: np.ndarray
    policies: list


def on_policy_distillation(teacher: TokenPolicy, student: TokenPolicy | None = None, *,
                           eta: float = 1.0, iterations: int = 20) -> OPDResult:
    r"""Exact natural-policy-gradient on-policy distillation toward ``teacher``:
    :math:`\pi_{k+1}(a|h) \propto \pi_k(a|h)\,e^{\eta A_k(h,a)}` under the OPD reward
    (module docstring). ``student`` defaults to the task's reference LM; ``eta > 0``."""
    if not isinstance(teacher, TokenPolicy):
        raise TypeError(f"teacher: expected a TokenPolicy, got {type(teacher).__name__}")
    student = teacher.task.ref_policy if student is None else student
    try:
        eta = float(eta)
    except (TypeError, ValueError):
        raise TypeError(f"eta: expected a number, got {type(eta).__name__}") from None
    if not (np.isfinite(eta) and eta > 0):
        raise ValueError(f"eta = {eta}: expected a finite step size > 0")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) \
            or iterations < 0:
        raise ValueError(f"iterations = {iterations!r}: expected an integer >= 0")
    _check_pair(student, teacher)
    task: TokenMDP = teacher.task
    pol, kls, pols = student, [], [student]
    for _ in range(int(iterations)):
        Q, V = _q_values(pol, teacher)
        kls.append(-float(V[0][task.root]))
        probs = []
        for t in range(task.H):
            p = pol.probs[t]
            with np.errstate(divide="ignore"):
                logits = np.where(p > 0, np.log(np.where(p > 0, p, 1.0))
                                  + eta * (Q[t] - V[t][:, None]), -np.inf)
            m = logits.max(1, keepdims=True)
            w = np.exp(logits - m)
            probs.append(w / w.sum(1, keepdims=True))
        pol = TokenPolicy(task, probs, name="opd-student")
        pols.append(pol)
    kls.append(-float(_q_values(pol, teacher)[1][0][task.root]))
    return OPDResult(pol, np.array(kls), pols)
