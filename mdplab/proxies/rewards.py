r"""Rewards on finished token sequences: verifiable checkers, additive scores, Bradley-Terry.

A reward maps a finished sequence :math:`y = (y_1, \dots, y_L)` (ended by the EOS token, or
truncated at the horizon :math:`H`) to a number :math:`r(y)`. Three kinds:

* **Verifiable** (:class:`VerifiableReward`): :math:`r(y) = f(\mathrm{text}(y))` for a checker
  function ``f`` on the decoded text (EOS dropped), usually ``0/1``: :func:`contains`,
  :func:`balanced_brackets`, :func:`arithmetic`. Optionally only EOS-terminated sequences can
  score (``require_eos=True``). A checker that raises is reported with the sequence it failed
  on.
* **Additive** (:class:`LinearReward`): :math:`r(y) = \sum_{t=1}^{L} s_t(y_t)` for per-token
  scores ``s`` of shape ``(V,)`` or time-indexed ``(H, V)``. Additive rewards are what the
  compressed (Markov-state) token MDP can carry as per-step rewards.
* **Learned Bradley-Terry** (:class:`BradleyTerryReward`, :func:`fit_bradley_terry`): a linear
  reward :math:`\hat r(y) = w^\top \phi(y)` on token-count features
  :math:`\phi(y)_a = \#\{t : y_t = a\}`, fitted by maximum likelihood on preference pairs
  :math:`(y, y')` labelled with probability :math:`\sigma(r^*(y) - r^*(y'))` (Bradley & Terry
  1952; the RLHF reward model of Christiano et al. 2017, arXiv:1706.03741, Sec. 2.2.3):

  .. math:: \min_w \; -\sum_i \log \sigma\big(z_i\, w^\top(\phi(y_i) - \phi(y'_i))\big)
            + \tfrac{\lambda}{2}\|w\|^2, \qquad z_i = \pm 1,

  a convex logistic regression solved with L-BFGS. With count features the learned reward is
  additive, so it works on every token MDP.

:func:`combine` forms weighted sums :math:`\sum_i w_i r_i` (additive when every part is).

Vocabulary: a reward may declare the vocabulary it was written for (``vocab=``);
:class:`~mdplab.proxies.TokenMDP` refuses an LM with a different one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .._utils import as_rng
from ..mdp import _as_float_array

__all__ = [
    "Reward",
    "VerifiableReward",
    "LinearReward",
    "BradleyTerryReward",
    "SumReward",
    "combine",
    "contains",
    "decode_many",
    "balanced_brackets",
    "arithmetic",
    "fit_bradley_terry",
    "token_counts",
]


class Reward:
    """Base class. Subclasses implement :meth:`evaluate`; additive ones also
    :meth:`token_scores` and set ``additive = True``."""

    name: str = "reward"
    vocab: tuple[str, ...] | None = None
    additive: bool = False

    def evaluate(self, tokens, lengths, vocab, eos) -> np.ndarray:
        """Rewards of finished sequences: ``tokens (N, L)`` (entries past ``lengths`` are
        padding), ``lengths (N,)``; ``vocab``/``eos`` are the LM's."""
        raise NotImplementedError

    def token_scores(self, vocab, eos, horizon) -> np.ndarray:
        """Per-step scores ``(horizon, V)`` of an additive reward."""
        raise TypeError(f"reward {self.name!r} is not additive (no per-token scores)")

    def check_vocab(self, vocab) -> None:
        """Raise ``ValueError`` if the reward declares a vocabulary different from ``vocab``."""
        if self.vocab is None:
            return
        mine, theirs = tuple(self.vocab), tuple(vocab)
        if mine != theirs:
            diff = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
                        min(len(mine), len(theirs)))
            raise ValueError(
                f"vocabulary mismatch: reward {self.name!r} was built for {len(mine)} tokens, "
                f"the LM has {len(theirs)}; first difference at index {diff} "
                f"({_tok(mine, diff)} vs {_tok(theirs, diff)})")

    def __call__(self, tokens, lengths, vocab, eos):
        return self.evaluate(tokens, lengths, vocab, eos)


def _tok(v, i):
    return repr(v[i]) if i < len(v) else "nothing"


def _as_seqs(tokens, lengths):
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 2:
        raise ValueError(f"tokens: expected a 2-D array (N, L), got shape {tokens.shape}")
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.shape != (tokens.shape[0],):
        raise ValueError(f"lengths: expected shape ({tokens.shape[0]},), got {lengths.shape}")
    return tokens, lengths


def decode_many(tokens, lengths, vocab, eos) -> np.ndarray:
    """Texts of many sequences as a NumPy string array (EOS and padding dropped); vectorized
    when every token is one character."""
    tokens, lengths = _as_seqs(tokens, lengths)
    N, L = tokens.shape
    V = len(vocab)
    keep = (np.arange(L)[None, :] < lengths[:, None]) & (tokens >= 0) & (tokens < V)
    if eos is not None:
        keep &= tokens != eos
    if all(len(t) == 1 and t != "\x00" for t in vocab) and L > 0:
        chars = np.array(list(vocab) + [""], dtype="U1")
        arr = np.ascontiguousarray(chars[np.where(keep, tokens, V)])
        # trailing empty cells are NUL characters, which NumPy strips; inner ones are removed
        if not (~keep[:, :-1] & keep[:, 1:]).any():  # no dropped token inside a row
            return arr.view(f"U{L}").ravel()
    texts = ["".join(vocab[t] for t, k in zip(row, kr, strict=True) if k)
             for row, kr in zip(tokens, keep, strict=True)]
    return np.array(texts, dtype=str) if texts else np.zeros(0, dtype="U1")


# ----------------------------------------------------------------------------- verifiable
class VerifiableReward(Reward):
    """:math:`r(y) = f(\\text{text}(y))` for a checker ``f(text) -> bool | float``.

    Parameters
    ----------
    checker : callable
        Called on the decoded text (EOS token dropped). ``True``/``False`` become ``1``/``0``.
    name : str, optional
    vocab : sequence of str, optional
        Vocabulary the checker was written for (checked against the LM's).
    require_eos : bool
        If ``True``, sequences truncated at the horizon (no EOS) get ``0`` without calling the
        checker.
    vectorized : bool
        If ``True`` the checker is called once on a NumPy array of texts and returns an array.
    """

    def __init__(self, checker: Callable[[str], float], name: str | None = None, vocab=None,
                 require_eos: bool = False, vectorized: bool = False):
        if not callable(checker):
            raise TypeError(f"checker: expected a callable, got {type(checker).__name__}")
        self.checker = checker
        self.name = name or getattr(checker, "__name__", "checker")
        self.vocab = None if vocab is None else tuple(vocab)
        self.require_eos = bool(require_eos)
        self.vectorized = bool(vectorized)

    def evaluate(self, tokens, lengths, vocab, eos):
        tokens, lengths = _as_seqs(tokens, lengths)
        N = tokens.shape[0]
        texts = decode_many(tokens, lengths, vocab, eos)
        if self.require_eos:
            ok = lengths > 0
            last = tokens[np.arange(N), np.maximum(lengths - 1, 0)]
            ok &= (last == eos) if eos is not None else False
        else:
            ok = np.ones(N, dtype=bool)
        out = np.zeros(N)
        idx = np.flatnonzero(ok)
        if self.vectorized:
            try:
                vals = np.asarray(self.checker(texts[idx]), dtype=float)
            except Exception as e:
                raise ValueError(f"reward checker {self.name!r} raised {type(e).__name__}: {e} "
                                 f"(vectorized, on {idx.size} sequences)") from e
            if vals.shape != idx.shape:
                raise ValueError(f"reward checker {self.name!r} returned shape {vals.shape}, "
                                 f"expected {idx.shape}")
            out[idx] = vals
        else:
            check = self.checker
            vals = []
            for text in texts[idx].tolist():
                try:
                    vals.append(check(text))
                except Exception as e:  # report the failing sequence, keep the cause
                    raise ValueError(f"reward checker {self.name!r} raised {type(e).__name__}: "
                                     f"{e} (on the sequence {text!r})") from e
            try:
                out[idx] = np.array(vals, dtype=float)
            except (TypeError, ValueError):
                bad = next(v for v in vals if not isinstance(v, (bool, int, float, np.number)))
                raise TypeError(f"reward checker {self.name!r} returned {bad!r}; expected a "
                                "bool or a number") from None
        if not np.all(np.isfinite(out)):
            i = int(np.flatnonzero(~np.isfinite(out))[0])
            raise ValueError(f"reward checker {self.name!r} returned {out[i]} on {texts[i]!r}; "
                             "expected a finite number")
        return out

    def __repr__(self):
        return f"VerifiableReward({self.name!r}, require_eos={self.require_eos})"


def contains(pattern: str, *, regex: bool = False, **kwargs) -> VerifiableReward:
    """1 if the text contains ``pattern`` (a substring, or a regular expression)."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"pattern: expected a non-empty string, got {pattern!r}")
    if regex:
        compiled = re.compile(pattern)

        def check(text):
            return compiled.search(text) is not None
        return VerifiableReward(check, name=kwargs.pop("name", f"contains({pattern!r})"),
                                **kwargs)

    def check_all(texts):
        return np.strings.find(texts.astype(str), pattern) >= 0
    return VerifiableReward(check_all, name=kwargs.pop("name", f"contains({pattern!r})"),
                            vectorized=True, **kwargs)


def balanced_brackets(pairs: str = "()", *, nonempty: bool = True, **kwargs) -> VerifiableReward:
    """1 if the brackets of the text are balanced and properly nested (``pairs`` lists
    opening/closing characters in turn, e.g. ``"()[]"``); other characters are ignored. With
    ``nonempty=True`` a text without brackets scores 0."""
    if len(pairs) % 2 or not pairs:
        raise ValueError(f"pairs = {pairs!r}: expected opening/closing characters in pairs")
    closing = {pairs[i + 1]: pairs[i] for i in range(0, len(pairs), 2)}
    opening = set(closing.values())

    def check(text):
        stack, seen = [], False
        for c in text:
            if c in opening:
                stack.append(c)
                seen = True
            elif c in closing:
                if not stack or stack.pop() != closing[c]:
                    return False
                seen = True
        return not stack and (seen or not nonempty)
    return VerifiableReward(check, name=kwargs.pop("name", f"balanced({pairs!r})"), **kwargs)


_ARITH = re.compile(r"^\s*(\d+)\s*([-+*])\s*(\d+)\s*=\s*(-?\d+)\s*$")


def arithmetic(**kwargs) -> VerifiableReward:
    """1 if the text reads ``a+b=c``, ``a-b=c`` or ``a*b=c`` (non-negative integers
    ``a, b``) and the equation is correct; 0 otherwise (also for malformed text)."""
    def check(text):
        m = _ARITH.match(text)
        if m is None:
            return False
        a, op, b, c = int(m[1]), m[2], int(m[3]), int(m[4])
        return {"+": a + b, "-": a - b, "*": a * b}[op] == c
    return VerifiableReward(check, name=kwargs.pop("name", "arithmetic"), **kwargs)


# ----------------------------------------------------------------------------- additive
class LinearReward(Reward):
    r""":math:`r(y) = \sum_t s_t(y_t)` (the EOS token's score included when it is emitted).

    Parameters
    ----------
    scores : array ``(V,)``, array ``(H, V)`` (time-indexed) or dict ``{token: score}``
        A dict gives 0 to the tokens it does not name; its keys must be in the LM vocabulary.
    vocab : sequence of str, optional
        Vocabulary of an array of scores (checked against the LM's).
    """

    additive = True

    def __init__(self, scores, vocab=None, name: str = "linear"):
        self.name = name
        self.vocab = None if vocab is None else tuple(vocab)
        if isinstance(scores, dict):
            values = _as_float_array("scores", list(scores.values()))
            if not np.all(np.isfinite(values)):
                raise ValueError("scores: entries must be finite")
            self._dict = {str(k): float(v) for k, v in zip(scores, values, strict=True)}
            self.scores = None
        else:
            s = _as_float_array("scores", scores)
            if s.ndim not in (1, 2) or s.size == 0:
                raise ValueError(f"scores: expected shape (V,) or (H, V), got {s.shape}")
            if not np.all(np.isfinite(s)):
                raise ValueError("scores: entries must be finite")
            if self.vocab is not None and s.shape[-1] != len(self.vocab):
                raise ValueError(f"scores has {s.shape[-1]} columns, vocab has "
                                 f"{len(self.vocab)} tokens")
            self._dict = None
            self.scores = s

    def token_scores(self, vocab, eos, horizon):
        vocab = tuple(vocab)
        V = len(vocab)
        if self._dict is not None:
            unknown = [k for k in self._dict if k not in vocab]
            if unknown:
                raise ValueError(f"vocabulary mismatch: reward {self.name!r} scores tokens "
                                 f"{unknown[:5]!r} that are not in the LM vocabulary")
            s = np.zeros(V)
            for k, v in self._dict.items():
                s[vocab.index(k)] = v
        else:
            s = self.scores
            if s.shape[-1] != V:
                raise ValueError(f"vocabulary mismatch: reward {self.name!r} has scores for "
                                 f"{s.shape[-1]} tokens, the LM has {V}")
        if s.ndim == 1:
            return np.broadcast_to(s, (horizon, V))
        if s.shape[0] < horizon:
            raise ValueError(f"scores: time-indexed with {s.shape[0]} steps, the horizon is "
                             f"{horizon}")
        return s[:horizon]

    def evaluate(self, tokens, lengths, vocab, eos):
        tokens, lengths = _as_seqs(tokens, lengths)
        L = tokens.shape[1]
        s = self.token_scores(vocab, eos, max(L, 1))
        t = np.arange(L)
        mask = t[None, :] < lengths[:, None]
        vals = s[t[None, :], np.where(mask, tokens, 0)]
        return np.where(mask, vals, 0.0).sum(1)

    def __repr__(self):
        return f"LinearReward({self.name!r})"


class SumReward(Reward):
    r""":math:`r(y) = \sum_i w_i r_i(y)` (additive if every part is); see :func:`combine`."""

    def __init__(self, parts, weights=None, name: str | None = None):
        parts = list(parts)
        if not parts or not all(isinstance(p, Reward) for p in parts):
            raise TypeError("parts: expected one or more Reward objects")
        w = np.ones(len(parts)) if weights is None else _as_float_array("weights", weights)
        if w.shape != (len(parts),) or not np.all(np.isfinite(w)):
            raise ValueError(f"weights: expected {len(parts)} finite numbers, got {weights!r}")
        self.parts, self.weights = parts, w
        self.additive = all(p.additive for p in parts)
        self.name = name or " + ".join(f"{x:g}*{p.name}" for x, p in zip(w, parts, strict=True))
        vocabs = {p.vocab for p in parts if p.vocab is not None}
        if len(vocabs) > 1:
            raise ValueError("vocabulary mismatch between the parts of a combined reward")
        self.vocab = vocabs.pop() if vocabs else None

    def check_vocab(self, vocab):
        for p in self.parts:
            p.check_vocab(vocab)

    def evaluate(self, tokens, lengths, vocab, eos):
        return sum(x * p.evaluate(tokens, lengths, vocab, eos)
                   for x, p in zip(self.weights, self.parts, strict=True))

    def token_scores(self, vocab, eos, horizon):
        if not self.additive:
            return super().token_scores(vocab, eos, horizon)
        return sum(x * p.token_scores(vocab, eos, horizon)
                   for x, p in zip(self.weights, self.parts, strict=True))


def combine(*rewards: Reward, weights=None, name: str | None = None) -> SumReward:
    """The weighted sum of rewards (e.g. a verifiable reward plus a small additive one)."""
    return SumReward(rewards, weights, name)


def token_counts(tokens, lengths, V: int) -> np.ndarray:
    r"""Count features :math:`\phi(y)_a = \#\{t < L : y_t = a\}`, shape ``(N, V)``."""
    tokens, lengths = _as_seqs(tokens, lengths)
    mask = np.arange(tokens.shape[1])[None, :] < lengths[:, None]
    rows = np.broadcast_to(np.arange(tokens.shape[0])[:, None], tokens.shape)
    out = np.zeros((tokens.shape[0], V))
    np.add.at(out, (rows[mask], tokens[mask]), 1.0)
    return out


@dataclass(frozen=True)
class BTFit:
    """Diagnostics of a Bradley-Terry fit."""

    n_pairs: int
    l2: float
    log_loss: float
    train_accuracy: float
    converged: bool


class BradleyTerryReward(LinearReward):
    r"""A learned linear reward :math:`\hat r(y) = w^\top \phi(y)` on token counts (additive).
    Build it with :func:`fit_bradley_terry`; ``fit`` holds the diagnostics."""

    def __init__(self, weights, vocab, fit: BTFit | None = None, name: str = "bradley-terry"):
        super().__init__(weights, vocab=vocab, name=name)
        self.weights = self.scores
        self.fit = fit

    def __repr__(self):
        return f"BradleyTerryReward(V={self.weights.size}, fit={self.fit})"


def fit_bradley_terry(task, n_pairs: int, rng=None, *, policy=None, true_reward=None,
                      l2: float = 1e-3) -> BradleyTerryReward:
    r"""Fit a Bradley-Terry reward model on ``n_pairs`` sampled preference pairs.

    Pairs :math:`(y, y')` are drawn independently from ``policy`` (default: the task's
    reference LM); the label says :math:`y \succ y'` with probability
    :math:`\sigma(r^*(y) - r^*(y'))` where :math:`r^*` is ``true_reward`` (default: the
    task's reward). Returns a :class:`BradleyTerryReward` on token-count features.
    """
    from scipy.special import expit, log_expit

    rng = as_rng(rng)
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"n_pairs = {n_pairs!r}: expected a positive integer")
    if not (np.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 = {l2!r}: expected a finite number >= 0")
    pol = task.ref_policy if policy is None else policy
    rew = task.reward if true_reward is None else true_reward
    a = pol.sample(n_pairs, rng)
    b = pol.sample(n_pairs, rng)
    ra = rew.evaluate(a.tokens, a.lengths, task.vocab, task.eos)
    rb = rew.evaluate(b.tokens, b.lengths, task.vocab, task.eos)
    z = np.where(rng.random(n_pairs) < expit(ra - rb), 1.0, -1.0)
    X = (token_counts(a.tokens, a.lengths, task.V) - token_counts(b.tokens, b.lengths, task.V))
    Xz = X * z[:, None]

    def f(w):
        m = Xz @ w
        loss = -log_expit(m).sum() + 0.5 * l2 * w @ w
        grad = -(Xz * expit(-m)[:, None]).sum(0) + l2 * w
        return loss, grad

    res = minimize(f, np.zeros(task.V), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 1e-10})
    w = res.x
    fit = BTFit(n_pairs=int(n_pairs), l2=float(l2), log_loss=float(res.fun) / n_pairs,
                train_accuracy=float(np.mean(Xz @ w > 0)), converged=bool(res.success))
    return BradleyTerryReward(w, task.vocab, fit=fit)
