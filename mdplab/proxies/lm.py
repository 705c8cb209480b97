r"""Reference language models for the proxies: i.i.d., n-gram and random softmax-linear LMs.

A *reference LM* over a vocabulary :math:`\mathcal V` (tokens ``0 .. V-1``, one of which may be
the end-of-sequence token ``eos``) gives next-token probabilities
:math:`\pi_{\rm ref}(a \mid h)` for a prefix :math:`h = (y_1, \dots, y_t)`. The models here are
*Markov of order* :math:`k` (:attr:`TokenLM.order`): the probabilities depend on the last
:math:`k` tokens only, with positions before the start of the sequence filled by the
beginning-of-sequence marker :data:`BOS` (``-1``). This is what lets
:class:`~mdplab.proxies.TokenMDP` compress the prefix to the state :math:`(t, y_{t-k+1..t})`.

* :class:`MemorylessLM` -- :math:`\pi_{\rm ref}(a \mid h) = p(a)` (order 0).
* :class:`NGramLM` -- a character-level :math:`n`-gram model (order :math:`n-1`) fitted on
  text, one training sequence per non-empty line, ended by the EOS token ``"\n"``.
  Add-:math:`k` (Lidstone) smoothing,

  .. math:: \pi(a \mid c) = \frac{C(c, a) + k}{C(c) + k |\mathcal V|},

  or interpolated Kneser-Ney with absolute discount :math:`D` (Kneser & Ney 1995; Chen &
  Goodman 1999, "An empirical study of smoothing techniques for language modeling", Sec. 2.7)

  .. math:: \pi(a \mid c) = \frac{\max(C(c, a) - D, 0)}{C(c)}
            + \frac{D\, N_{1+}(c\,\bullet)}{C(c)}\, \pi(a \mid c'),

  where :math:`c'` drops the oldest token of :math:`c`, lower orders use continuation counts
  (the number of distinct tokens seen before :math:`(c', a)`), contexts never seen fall back
  to :math:`\pi(\cdot \mid c')`, and the order-0 model interpolates the continuation unigram
  with the uniform distribution, so every probability is positive.
* :class:`SoftmaxLinearLM` -- :math:`\pi(a \mid c) \propto \exp(b_a + u_a^\top \sum_{i}
  E_i[c_i])`, random embeddings for controlled experiments (:meth:`SoftmaxLinearLM.random`).

A small public-domain corpus ships with the package (``mdplab/proxies/data/fables.txt``, short
fables and rhymes written for mdplab, lower case); :meth:`NGramLM.default` fits on it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from .._utils import as_rng
from ..mdp import _as_float_array

__all__ = [
    "BOS",
    "EOS_SYMBOL",
    "TokenLM",
    "MemorylessLM",
    "NGramLM",
    "SoftmaxLinearLM",
    "default_corpus",
]

#: Marker for positions before the start of a sequence in a context array.
BOS = -1
#: The end-of-sequence token of character-level models (it ends a line of the corpus).
EOS_SYMBOL = "\n"


def default_corpus() -> str:
    """The text of the corpus shipped with the package (fables and rhymes, a few KB)."""
    return resources.files("mdplab.proxies").joinpath("data/fables.txt").read_text("utf-8")


def _check_vocab(vocab, name="vocab") -> tuple[str, ...]:
    if isinstance(vocab, str):
        vocab = tuple(vocab)
    try:
        vocab = tuple(vocab)
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of token strings, got "
                        f"{type(vocab).__name__}") from None
    if not vocab:
        raise ValueError(f"{name}: the vocabulary is empty")
    for i, tok in enumerate(vocab):
        if not isinstance(tok, str):
            raise TypeError(f"{name}[{i}] = {tok!r}: tokens must be strings")
    if len(set(vocab)) != len(vocab):
        seen = set()
        dup = next(t for t in vocab if t in seen or seen.add(t))
        raise ValueError(f"{name}: token {dup!r} appears more than once")
    return vocab


def _check_eos(eos, V) -> int | None:
    if eos is None:
        return None
    if isinstance(eos, bool) or not isinstance(eos, (int, np.integer)):
        raise TypeError(f"eos: expected a token index or None, got {type(eos).__name__}")
    if not 0 <= eos < V:
        raise ValueError(f"eos = {eos} is not a token index in [0, {V})")
    return int(eos)


class TokenLM:
    """Base class of the reference LMs (see the module docstring).

    Subclasses set :attr:`vocab` (tuple of token strings), :attr:`eos` (index of the
    end-of-sequence token, or ``None`` if sequences always run to the horizon) and
    :attr:`order` (context length :math:`k`), and implement :meth:`context_probs`.
    """

    vocab: tuple[str, ...]
    eos: int | None
    order: int

    @property
    def V(self) -> int:
        """Vocabulary size (the EOS token included)."""
        return len(self.vocab)

    def context_probs(self, contexts: np.ndarray) -> np.ndarray:
        """Next-token probabilities ``(N, V)`` for contexts ``(N, order)`` (``BOS`` = -1)."""
        raise NotImplementedError

    # -- helpers shared by all models ---------------------------------------------------
    def contexts_of(self, prefixes) -> np.ndarray:
        """The last :attr:`order` tokens of each prefix ``(N, t)``, padded on the left with
        :data:`BOS`."""
        prefixes = np.asarray(prefixes, dtype=np.int64)
        if prefixes.ndim != 2:
            raise ValueError(f"prefixes: expected a 2-D array (N, t), got shape {prefixes.shape}")
        N, t = prefixes.shape
        k = self.order
        out = np.full((N, k), BOS, dtype=np.int64)
        m = min(k, t)
        if m:
            out[:, k - m:] = prefixes[:, t - m:]
        return out

    def next_token_probs(self, prefixes) -> np.ndarray:
        """:math:`\\pi_{\\rm ref}(\\cdot \\mid h)` for each prefix ``(N, t)``, shape ``(N, V)``;
        validated (non-negative, rows sum to 1 within 1e-9)."""
        probs = np.asarray(self.context_probs(self.contexts_of(prefixes)), dtype=float)
        N = np.asarray(prefixes).shape[0]
        if probs.shape != (N, self.V):
            raise ValueError(f"{type(self).__name__}.context_probs returned shape {probs.shape}, "
                             f"expected ({N}, {self.V})")
        if not np.all(np.isfinite(probs)) or np.any(probs < 0):
            raise ValueError(f"{type(self).__name__}.context_probs returned negative or "
                             "non-finite probabilities")
        err = np.abs(probs.sum(1) - 1.0)
        if N and err.max() > 1e-9:
            raise ValueError(f"{type(self).__name__}.context_probs: row {int(err.argmax())} sums "
                             f"to {probs.sum(1)[err.argmax()]:.12g}, expected 1 within 1e-9")
        return probs

    def encode(self, text: str) -> np.ndarray:
        """Token indices of ``text`` for single-character vocabularies (the EOS token is not
        appended)."""
        index = {t: i for i, t in enumerate(self.vocab)}
        try:
            return np.array([index[c] for c in text], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"text: character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, tokens) -> str:
        """Concatenate the tokens (negative entries = padding, and the EOS token, are dropped)."""
        return "".join(self.vocab[t] for t in np.asarray(tokens).ravel()
                       if t >= 0 and t != self.eos)


class MemorylessLM(TokenLM):
    r"""I.i.d. tokens: :math:`\pi_{\rm ref}(a \mid h) = p(a)`.

    Parameters
    ----------
    probs : array_like ``(V,)``
        Token probabilities (non-negative, summing to 1 within 1e-9).
    vocab : sequence of str, optional
        Token strings; default ``"t0", "t1", ...``.
    eos : int, optional
        Index of the end-of-sequence token; ``None`` (default) means every sequence has
        exactly ``horizon`` tokens.
    """

    order = 0

    def __init__(self, probs, vocab=None, eos=None):
        p = _as_float_array("probs", probs)
        if p.ndim != 1 or p.size == 0:
            raise ValueError(f"probs: expected a non-empty 1-D array, got shape {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError("probs: entries must be finite and non-negative")
        if abs(p.sum() - 1) > 1e-9:
            raise ValueError(f"probs sums to {p.sum():.12g}, expected 1 within 1e-9")
        self.probs = p / p.sum()
        self.vocab = _check_vocab(vocab if vocab is not None
                                  else [f"t{i}" for i in range(p.size)])
        if len(self.vocab) != p.size:
            raise ValueError(f"vocab has {len(self.vocab)} tokens but probs has {p.size} entries")
        self.eos = _check_eos(eos, p.size)

    def context_probs(self, contexts):
        return np.broadcast_to(self.probs, (np.asarray(contexts).shape[0], self.V)).copy()

    def __repr__(self):
        return f"MemorylessLM(V={self.V}, eos={self.eos})"


class NGramLM(TokenLM):
    r"""Character-level :math:`n`-gram LM (order :math:`n-1`), add-:math:`k` or Kneser-Ney.

    Build it with :meth:`fit` (text or lines), :meth:`from_file` or :meth:`default` (the
    packaged corpus). The vocabulary is the sorted set of characters of the corpus followed by
    the EOS token ``"\n"`` (or the ``vocab`` given, which must contain every character).

    Attributes
    ----------
    n : int
    smoothing : {"add-k", "kneser-ney"}
    k : float
        Pseudo-count of add-:math:`k` smoothing.
    discount : float
        Absolute discount :math:`D \in (0, 1)` of Kneser-Ney.
    """

    def __init__(self, n: int, vocab, counts: list, *, smoothing="add-k", k=0.1, discount=0.75):
        self.n = int(n)
        self.order = self.n - 1
        self.vocab = tuple(vocab)
        self.eos = self.vocab.index(EOS_SYMBOL)
        self.smoothing = smoothing
        self.k = float(k)
        self.discount = float(discount)
        self._counts = counts  # per context length j = 0..order: (sorted codes, count rows)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def fit(cls, text, n: int = 3, *, smoothing: str = "add-k", k: float = 0.1,
            discount: float = 0.75, vocab=None) -> NGramLM:
        """Fit on ``text`` (a string, split into lines, or a sequence of lines).

        Each non-empty line (trailing whitespace stripped) is one training sequence; the
        model learns to end it with the EOS token.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n = {n!r}: expected an integer n >= 1")
        if smoothing not in ("add-k", "kneser-ney"):
            raise ValueError(f"smoothing = {smoothing!r}; expected 'add-k' or 'kneser-ney'")
        if smoothing == "add-k" and not (np.isfinite(k) and k > 0):
            raise ValueError(f"k = {k!r}: the add-k pseudo-count must be > 0")
        if smoothing == "kneser-ney" and not 0 < discount < 1:
            raise ValueError(f"discount = {discount!r}: expected 0 < D < 1")
        if isinstance(text, str):
            lines = text.splitlines()
        else:
            lines = list(text)
        lines = [ln.rstrip() for ln in lines if isinstance(ln, str) and ln.strip()]
        if not lines:
            raise ValueError("text: the corpus is empty (no non-empty line to train on)")
        chars = sorted(set("".join(lines)))
        if vocab is None:
            vocab = tuple(chars) + (EOS_SYMBOL,)
        else:
            vocab = _check_vocab(vocab)
            if EOS_SYMBOL not in vocab:
                vocab = vocab + (EOS_SYMBOL,)
            missing = [c for c in chars if c not in vocab]
            if missing:
                raise ValueError(f"vocab: corpus characters {missing[:10]!r} are not in it")
        V = len(vocab)
        index = {c: i for i, c in enumerate(vocab)}
        eos = index[EOS_SYMBOL]
        order = n - 1
        base = V + 1
        # all n-grams (context code of the full order, next token)
        ctx_codes, nexts = [], []
        for line in lines:
            toks = [BOS] * order + [index[c] for c in line] + [eos]
            arr = np.array(toks, dtype=np.int64)
            L = len(toks) - order
            if order:
                win = np.lib.stride_tricks.sliding_window_view(arr[:-1], order)[:L]
                ctx_codes.append(_codes(win, base))
            else:
                ctx_codes.append(np.zeros(L, dtype=np.int64))
            nexts.append(arr[order:])
        codes = np.concatenate(ctx_codes)
        nxt = np.concatenate(nexts)
        counts = [None] * (order + 1)
        counts[order] = _count_table(codes, nxt, V)
        # lower orders: raw counts (add-k never uses them; kept for inspection) or, for
        # Kneser-Ney, continuation counts = number of distinct (longer context, a) pairs
        pair_code, pair_next = codes, nxt
        for j in range(order - 1, -1, -1):
            if smoothing == "kneser-ney":
                keys, rows = counts[j + 1]
                r, a = np.nonzero(rows)
                pair_code, pair_next = keys[r], a
            short = pair_code % (base ** j)
            counts[j] = _count_table(short, pair_next, V)
        return cls(n, vocab, counts, smoothing=smoothing, k=k, discount=discount)

    @classmethod
    def from_file(cls, path, n: int = 3, *, encoding: str = "utf-8", **kwargs) -> NGramLM:
        """Fit on a text file (one training sequence per non-empty line)."""
        text = Path(path).read_text(encoding=encoding)
        return cls.fit(text, n, **kwargs)

    @classmethod
    def default(cls, n: int = 3, **kwargs) -> NGramLM:
        """Fit on the corpus shipped with the package (:func:`default_corpus`)."""
        return cls.fit(default_corpus(), n, **kwargs)

    # -- probabilities --------------------------------------------------------------------
    def counts(self, contexts) -> np.ndarray:
        """Raw counts :math:`C(c, a)` ``(N, V)`` of the full-order contexts (zeros if unseen)."""
        return self._lookup(self.order, _codes(np.asarray(contexts, np.int64), self.V + 1))

    def _lookup(self, j, codes):
        keys, rows = self._counts[j]
        pos = np.searchsorted(keys, codes)
        pos = np.minimum(pos, max(len(keys) - 1, 0))
        found = (keys[pos] == codes) if len(keys) else np.zeros(codes.shape, bool)
        out = np.zeros((codes.size, self.V))
        out[found] = rows[pos[found]]
        return out

    def context_probs(self, contexts):
        contexts = _contexts_2d(contexts, self.order)
        V, base = self.V, self.V + 1
        codes = _codes(contexts, base)
        if self.smoothing == "add-k":
            C = self._lookup(self.order, codes)
            return (C + self.k) / (C.sum(1, keepdims=True) + self.k * V)
        D = self.discount
        # order 0: continuation unigram interpolated with the uniform distribution
        C0 = self._counts[0][1][0] if len(self._counts[0][0]) else np.zeros(V)
        tot = C0.sum()
        p0 = (np.maximum(C0 - D, 0) + D * np.count_nonzero(C0) / V) / tot
        p = np.broadcast_to(p0, (codes.size, V)).copy()
        for j in range(1, self.order + 1):
            short = codes % (base ** j)
            C = self._lookup(j, short)
            tot = C.sum(1, keepdims=True)
            seen = tot[:, 0] > 0
            n1 = np.count_nonzero(C, axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                q = (np.maximum(C - D, 0) + D * n1 * p) / tot
            p = np.where(seen[:, None], q, p)
        return p

    def __repr__(self):
        return (f"NGramLM(n={self.n}, V={self.V}, smoothing={self.smoothing!r}, "
                f"contexts_seen={len(self._counts[self.order][0])})")


def _contexts_2d(contexts, k: int) -> np.ndarray:
    contexts = np.asarray(contexts, dtype=np.int64)
    if contexts.ndim != 2 or contexts.shape[1] != k:
        raise ValueError(f"contexts: expected an array of shape (N, {k}), got {contexts.shape}")
    return contexts


def _codes(contexts: np.ndarray, base: int) -> np.ndarray:
    """Integer code of each context row: digits ``token`` (BOS -> base - 1), most recent last."""
    contexts = np.asarray(contexts, dtype=np.int64)
    digits = np.where(contexts < 0, base - 1, contexts)
    code = np.zeros(contexts.shape[0], dtype=np.int64)
    for i in range(contexts.shape[1]):
        code = code * base + digits[:, i]
    return code


def _count_table(codes: np.ndarray, nxt: np.ndarray, V: int):
    keys, inv = np.unique(codes, return_inverse=True)
    rows = np.zeros((keys.size, V))
    np.add.at(rows, (inv.ravel(), nxt), 1.0)
    return keys, rows


class SoftmaxLinearLM(TokenLM):
    r"""Softmax-linear LM of order :math:`k`: :math:`\pi(a \mid c) \propto
    \exp(b_a + u_a^\top \sum_{i=1}^k E_i[c_i])`.

    Parameters
    ----------
    context_embeddings : array ``(k, V + 1, d)``
        Row ``V`` of each ``E_i`` embeds :data:`BOS`.
    output_embeddings : array ``(V, d)``
    bias : array ``(V,)``
    vocab, eos : as in :class:`MemorylessLM`.
    """

    def __init__(self, context_embeddings, output_embeddings, bias=None, vocab=None, eos=None):
        E = _as_float_array("context_embeddings", context_embeddings)
        U = _as_float_array("output_embeddings", output_embeddings)
        if U.ndim != 2:
            raise ValueError(f"output_embeddings: expected (V, d), got shape {U.shape}")
        V, d = U.shape
        if E.ndim != 3 or E.shape[1:] != (V + 1, d):
            raise ValueError(f"context_embeddings: expected (k, {V + 1}, {d}), got {E.shape}")
        b = np.zeros(V) if bias is None else _as_float_array("bias", bias)
        if b.shape != (V,):
            raise ValueError(f"bias: expected shape ({V},), got {b.shape}")
        for name, arr in (("context_embeddings", E), ("output_embeddings", U), ("bias", b)):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name}: entries must be finite")
        self.E, self.U, self.b = E, U, b
        self.order = E.shape[0]
        self.vocab = _check_vocab(vocab if vocab is not None else [f"t{i}" for i in range(V)])
        if len(self.vocab) != V:
            raise ValueError(f"vocab has {len(self.vocab)} tokens, expected {V}")
        self.eos = _check_eos(eos, V)

    @classmethod
    def random(cls, vocab_size: int, order: int = 1, dim: int = 8, scale: float = 1.0,
               eos: bool = True, eos_bias: float = 0.0, rng=None) -> SoftmaxLinearLM:
        r"""Gaussian embeddings with logit scale ``scale`` (entries
        :math:`\mathcal N(0, 1/\sqrt d)`); with ``eos=True`` the last token is EOS and gets the
        extra logit ``eos_bias`` (negative values make sequences longer)."""
        rng = as_rng(rng)
        if vocab_size < 1 or order < 0 or dim < 1:
            raise ValueError(f"vocab_size = {vocab_size}, order = {order}, dim = {dim}: expected "
                             "vocab_size >= 1, order >= 0, dim >= 1")
        E = rng.normal(0, 1 / dim ** 0.25, size=(order, vocab_size + 1, dim))
        U = rng.normal(0, scale / dim ** 0.25, size=(vocab_size, dim))
        b = rng.normal(0, scale, size=vocab_size)
        if eos:
            b[-1] += eos_bias
        return cls(E, U, b, eos=vocab_size - 1 if eos else None)

    def context_probs(self, contexts):
        contexts = _contexts_2d(contexts, self.order)
        V = self.V
        h = np.zeros((contexts.shape[0], self.U.shape[1]))
        for i in range(self.order):
            idx = np.where(contexts[:, i] < 0, V, contexts[:, i])
            h += self.E[i][idx]
        logits = h @ self.U.T + self.b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(1, keepdims=True)

    def __repr__(self):
        return f"SoftmaxLinearLM(V={self.V}, order={self.order}, eos={self.eos})"
