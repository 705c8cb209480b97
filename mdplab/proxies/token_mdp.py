r"""The token-level MDP of a reference LM, its exact KL-regularized optimum, sampling and BoN.

**The MDP.** A state is a prefix :math:`h_t = (y_1, \dots, y_t)`, an action is the next token
:math:`a \in \mathcal V`, transitions are deterministic (:math:`h_{t+1} = h_t a`), and an
episode ends when the EOS token is emitted or after :math:`H` tokens. A finished sequence
:math:`y` has reference probability :math:`\pi_{\rm ref}(y) = \prod_t \pi_{\rm ref}(y_t \mid
h_{t-1})` and reward :math:`r(y)`. Two state representations, organised level by level
(:math:`t = 0, \dots, H`) with a child table ``child[t][s, a]`` (``-1`` = the episode ends):

* ``state="tree"`` -- the full prefix tree: level :math:`t` holds the :math:`B^t` unfinished
  prefixes (:math:`B` = number of non-EOS tokens), child :math:`s B + j`. Any reward; the
  reward of a finished sequence is paid when it finishes. Sized for up to :math:`\sim 10^7`
  leaves (nothing of size :math:`S \times S` is ever formed).
* ``state="markov"`` -- for an LM of order :math:`k` and an *additive* reward
  :math:`r(y) = \sum_t s_t(y_t)`: the state :math:`(t, y_{t-k+1..t})` (BOS-padded), so a bigram
  model over :math:`|\mathcal V| = 256` tokens has 257 states per level, whatever :math:`H`.

**Exact optimum** (:func:`kl_optimal`). Backward induction by level on the soft Bellman
equation (the design page's, with :math:`\gamma = 1`):

.. math::

    Q_t(s, a) = R_t(s, a) + V_{t+1}(\mathrm{child}(s, a)), \qquad
    V_t(s) = \beta \log \sum_a \pi_{\rm ref}(a|s)\, e^{Q_t(s,a)/\beta}, \qquad
    \pi^*(a|s) = \pi_{\rm ref}(a|s)\, e^{(Q_t(s,a) - V_t(s))/\beta},

(with :math:`V = 0` after EOS and :math:`V_H` = the reward of truncated sequences). On
deterministic transitions the induced law of whole sequences is the sequence-level tilt
:math:`\pi^*(y) = \pi_{\rm ref}(y) e^{r(y)/\beta} / Z` and :math:`V_0(\text{root}) = \beta\log Z`,
and the chain rule :math:`\mathrm{KL}(\pi\|\pi_{\rm ref}) = \mathbb E_\pi \sum_t
\mathrm{KL}(\pi(\cdot|h_t)\|\pi_{\rm ref}(\cdot|h_t))` holds for every token-level policy
(Rafailov, Hejna, Park & Finn 2024, "From r to Q*", arXiv:2404.12358, Sec. 3-4, token-level
MDP; numbering unverified). ``beta = 0`` is the limit :math:`\beta \to 0^+`: the maximal
reward, with ties between maximisers split in proportion to their reference mass, i.e.
:math:`\pi^*_{0^+}(y) = \pi_{\rm ref}(y \mid r(y) = \max r)` (ties are exact float equality).

**Sequences.** :meth:`TokenPolicy.sample` (vectorized, seeded), :meth:`TokenPolicy.log_prob`
(exact), :meth:`TokenMDP.sequences` (all finished sequences, for small tasks),
:func:`best_of_n` (exact BoN on the sequence law, via :mod:`mdplab.bon`),
:func:`sample_best_of_n`, :func:`fit_policy` (tabular behaviour cloning),
:meth:`TokenMDP.to_tabular` (a :class:`~mdplab.TabularMDP` for cross-checking with
:func:`mdplab.solve`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .._utils import as_rng
from .lm import BOS, TokenLM
from .rewards import Reward, VerifiableReward

__all__ = [
    "PAD",
    "Sequences",
    "SequenceDistribution",
    "TokenMDP",
    "TokenPolicy",
    "KLOptimal",
    "kl_optimal",
    "best_of_n",
    "sample_best_of_n",
    "fit_policy",
]

#: Padding after the end of a sequence in token arrays.
PAD = -1


@dataclass(frozen=True)
class Sequences:
    """Finished sequences: ``tokens (N, H)`` (:data:`PAD` after the end) and ``lengths (N,)``."""

    tokens: np.ndarray
    lengths: np.ndarray
    vocab: tuple[str, ...] = field(repr=False)
    eos: int | None = None

    def __len__(self):
        return int(self.lengths.size)

    def texts(self) -> list[str]:
        """Decoded strings (the EOS token dropped)."""
        v, e = self.vocab, self.eos
        return ["".join(v[t] for t in row[:L] if t != e)
                for row, L in zip(self.tokens, self.lengths, strict=True)]


@dataclass(frozen=True)
class SequenceDistribution:
    """A policy's exact law over all finished sequences of a task (enumerated)."""

    sequences: Sequences
    log_prob: np.ndarray
    reward: np.ndarray

    @property
    def prob(self) -> np.ndarray:
        return np.exp(self.log_prob)


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} = {value}: expected an integer >= {minimum}")
    return int(value)


def _check_beta(beta):
    """The solvers' rule: a real number (not a bool, a string or a complex) >= 0, finite."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)):
        raise TypeError(f"beta: expected a number, got {type(beta).__name__}")
    beta = float(beta)
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta = {beta}: expected a finite temperature >= 0")
    return beta


class TokenMDP:
    r"""The token-level MDP of ``lm`` with horizon ``horizon`` and reward ``reward``.

    Parameters
    ----------
    lm : TokenLM
        Reference LM (:class:`~mdplab.proxies.NGramLM`, :class:`~mdplab.proxies.MemorylessLM`,
        :class:`~mdplab.proxies.SoftmaxLinearLM` or any :class:`~mdplab.proxies.lm.TokenLM`).
    horizon : int
        Maximum number of tokens :math:`H \ge 1` (EOS included).
    reward : Reward or callable
        A :class:`~mdplab.proxies.rewards.Reward`; a plain callable ``f(text)`` is wrapped in a
        :class:`~mdplab.proxies.rewards.VerifiableReward`.
    state : {"auto", "tree", "markov"}
        ``"auto"``: ``"markov"`` for additive rewards, ``"tree"`` otherwise.
    max_leaves : int
        Largest prefix tree built (number of finished sequences).
    """

    def __init__(self, lm: TokenLM, horizon: int, reward, *, state: str = "auto",
                 max_leaves: int = 10_000_000):
        if not isinstance(lm, TokenLM):
            raise TypeError(f"lm: expected a TokenLM (NGramLM, MemorylessLM, ...), got "
                            f"{type(lm).__name__}")
        self.H = _check_int(horizon, "horizon", 1)
        if not isinstance(reward, Reward):
            if callable(reward):
                reward = VerifiableReward(reward)
            else:
                raise TypeError(f"reward: expected a Reward or a callable on text, got "
                                f"{type(reward).__name__}")
        reward.check_vocab(lm.vocab)
        if state not in ("auto", "tree", "markov"):
            raise ValueError(f"state = {state!r}; expected 'auto', 'tree' or 'markov'")
        if state == "auto":
            state = "markov" if reward.additive else "tree"
        if state == "markov" and not reward.additive:
            raise ValueError(f"state='markov' needs an additive reward (per-token scores); "
                             f"reward {reward.name!r} is not additive: use state='tree'")
        self.lm, self.reward, self.state = lm, reward, state
        self.vocab, self.eos, self.V = lm.vocab, lm.eos, lm.V
        self.tokens = np.array([a for a in range(self.V) if a != self.eos], dtype=np.int64)
        self.B = self.tokens.size
        if self.B == 0:
            raise ValueError("lm: the vocabulary holds only the EOS token")
        self.max_leaves = _check_int(max_leaves, "max_leaves", 1)
        self._seq_cache = None
        if state == "tree":
            self._build_tree()
        else:
            self._build_markov()
        self.ref_policy = TokenPolicy(self, self.ref, name="reference")

    # -- construction ---------------------------------------------------------------------
    def n_sequences(self) -> int:
        """Number of finished sequences (leaves of the prefix tree)."""
        B, H = self.B, self.H
        alive = [B ** t for t in range(H + 1)]
        return (sum(alive[:H]) if self.eos is not None else 0) + alive[H]

    def _build_tree(self):
        n_leaves = self.n_sequences()
        if n_leaves > self.max_leaves:
            raise ValueError(f"the prefix tree of {self.B} non-EOS tokens and horizon {self.H} "
                             f"has {n_leaves:.3g} leaves > max_leaves = {self.max_leaves}; use "
                             "state='markov' (additive reward) or a smaller horizon")
        H, V, B, eos = self.H, self.V, self.B, self.eos
        additive = self.reward.additive
        scores = self.reward.token_scores(self.vocab, eos, H) if additive else None
        prefixes = np.zeros((1, 0), dtype=np.int64)
        self.n_states, self.child, self.ref, self.R = [], [], [], []
        self._prefixes = []
        for t in range(H):
            S = prefixes.shape[0]
            self.n_states.append(S)
            self._prefixes.append(prefixes)
            child = np.full((S, V), -1, dtype=np.int64)
            child[:, self.tokens] = np.arange(S * B, dtype=np.int64).reshape(S, B)
            self.child.append(child)
            self.ref.append(self.lm.next_token_probs(prefixes))
            if additive:
                self.R.append(np.broadcast_to(scores[t], (S, V)))
            else:
                R = np.zeros((S, V))
                if eos is not None:
                    done = np.concatenate([prefixes, np.full((S, 1), eos)], axis=1)
                    R[:, eos] = self.reward.evaluate(done, np.full(S, t + 1), self.vocab, eos)
                self.R.append(R)
            prefixes = np.concatenate(
                [np.repeat(prefixes, B, axis=0), np.tile(self.tokens, S)[:, None]], axis=1)
        self.n_states.append(prefixes.shape[0])
        self._prefixes.append(prefixes)
        if additive:
            self.terminal = np.zeros(prefixes.shape[0])
        else:
            self.terminal = self.reward.evaluate(prefixes, np.full(prefixes.shape[0], H),
                                                 self.vocab, eos)
        self.root = 0

    def _build_markov(self):
        k, V, H = self.lm.order, self.V, self.H
        base = V + 1
        S = base ** k
        if S * V > 50_000_000:
            raise ValueError(f"state='markov': an order-{k} LM over {V} tokens has {S} context "
                             f"states x {V} tokens, too many; lower the order")
        codes = np.arange(S, dtype=np.int64)
        ctx = np.empty((S, k), dtype=np.int64)
        c = codes.copy()
        for i in range(k - 1, -1, -1):
            ctx[:, i] = c % base
            c //= base
        ctx[ctx == V] = BOS
        ref = np.asarray(self.lm.context_probs(ctx), dtype=float)
        if ref.shape != (S, V) or np.any(ref < 0) or np.max(np.abs(ref.sum(1) - 1)) > 1e-9:
            raise ValueError(f"{type(self.lm).__name__}.context_probs returned invalid "
                             f"probabilities for the {S} contexts")
        child = np.full((S, V), -1, dtype=np.int64)
        child[:, self.tokens] = (codes[:, None] * base + self.tokens[None, :]) % S
        scores = self.reward.token_scores(self.vocab, self.eos, H)
        self.n_states = [S] * (H + 1)
        self.child = [child] * H
        self.ref = [ref] * H
        self.R = [np.broadcast_to(scores[t], (S, V)) for t in range(H)]
        self.terminal = np.zeros(S)
        self.root = int(sum(V * base ** i for i in range(k)))
        self._prefixes = None

    def __repr__(self):
        return (f"TokenMDP(V={self.V}, H={self.H}, state={self.state!r}, "
                f"states={sum(self.n_states)}, reward={self.reward.name!r})")

    # -- sequences ------------------------------------------------------------------------
    def decode(self, tokens) -> str:
        return self.lm.decode(tokens)

    def sequences(self, max_sequences: int = 2_000_000) -> Sequences:
        """All finished sequences, by length: level :math:`t`'s prefixes followed by EOS,
        then the truncated ones of length :math:`H`."""
        if self._seq_cache is not None:
            return self._seq_cache
        n = self.n_sequences()
        if n > max_sequences:
            raise ValueError(f"the task has {n:.3g} finished sequences > max_sequences = "
                             f"{max_sequences}; enumerate a smaller task")
        H, B = self.H, self.B
        prefixes = self._prefixes
        if prefixes is None:
            prefixes, p = [], np.zeros((1, 0), dtype=np.int64)
            for _ in range(H):
                prefixes.append(p)
                p = np.concatenate([np.repeat(p, B, axis=0),
                                    np.tile(self.tokens, p.shape[0])[:, None]], axis=1)
            prefixes.append(p)
        blocks, lengths = [], []
        if self.eos is not None:
            for t in range(H):
                P = prefixes[t]
                blk = np.full((P.shape[0], H), PAD, dtype=np.int64)
                blk[:, :t] = P
                blk[:, t] = self.eos
                blocks.append(blk)
                lengths.append(np.full(P.shape[0], t + 1))
        blocks.append(prefixes[H].copy())
        lengths.append(np.full(prefixes[H].shape[0], H))
        self._seq_cache = Sequences(np.concatenate(blocks), np.concatenate(lengths),
                                    self.vocab, self.eos)
        return self._seq_cache

    def sequence_rewards(self, seqs: Sequences | None = None) -> np.ndarray:
        """:math:`r(y)` of finished sequences (default: all of them)."""
        seqs = self.sequences() if seqs is None else seqs
        return self.reward.evaluate(seqs.tokens, seqs.lengths, self.vocab, self.eos)

    def distribution(self, policy: TokenPolicy | None = None) -> SequenceDistribution:
        """Exact law of ``policy`` (default: the reference) over all finished sequences."""
        policy = self.ref_policy if policy is None else policy
        if policy.task is not self:
            raise ValueError("policy: a policy of a different task")
        seqs = self.sequences()
        if not hasattr(self, "_seq_rewards"):
            self._seq_rewards = self.sequence_rewards(seqs)
        if self.state == "tree":  # forward recursion over the tree, in sequences() order
            with np.errstate(divide="ignore"):
                blocks, lp = [], np.zeros(1)
                for t in range(self.H):
                    logp = np.log(policy.probs[t])
                    if self.eos is not None:
                        blocks.append(lp + logp[:, self.eos])
                    lp = (lp[:, None] + logp[:, self.tokens]).ravel()
                blocks.append(lp)
            log_prob = np.concatenate(blocks)
        else:
            log_prob = policy.log_prob(seqs)
        return SequenceDistribution(seqs, log_prob, self._seq_rewards)

    def walk(self, seqs: Sequences):
        """States visited by each sequence: ``(N, H)`` (``-1`` after the end), validated."""
        tokens = np.asarray(seqs.tokens, dtype=np.int64)
        lengths = np.asarray(seqs.lengths, dtype=np.int64)
        N = lengths.size
        if tokens.ndim != 2 or tokens.shape[0] != N:
            raise ValueError(f"tokens: expected shape ({N}, L), got {tokens.shape}")
        if np.any(lengths < 1) or np.any(lengths > self.H) or lengths.max(initial=1) > \
                tokens.shape[1]:
            raise ValueError(f"lengths: expected 1 <= length <= horizon {self.H}")
        states = np.full((N, self.H), -1, dtype=np.int64)
        s = np.full(N, self.root, dtype=np.int64)
        for t in range(int(lengths.max(initial=0))):
            alive = lengths > t
            a = tokens[alive, t]
            if np.any((a < 0) | (a >= self.V)):
                raise ValueError(f"tokens: entry outside [0, {self.V}) at position {t}")
            states[alive, t] = s[alive]
            nxt = self.child[t][s[alive], a]
            last = lengths[alive] == t + 1
            if self.eos is not None:
                if np.any((a == self.eos) & ~last):
                    raise ValueError(f"tokens: EOS before the end of a sequence (position {t})")
                if np.any(last & (a != self.eos) & (t + 1 < self.H)):
                    raise ValueError(f"a sequence of length {t + 1} < horizon {self.H} does not "
                                     "end with the EOS token")
            elif np.any(last & (t + 1 < self.H)):
                raise ValueError(f"the LM has no EOS token: every sequence has {self.H} tokens")
            s[alive] = np.where(nxt >= 0, nxt, 0)
        return states

    # -- cross-checking -------------------------------------------------------------------
    def to_tabular(self):
        """This task as a finite-horizon :class:`~mdplab.TabularMDP` (sparse ``P``), with the
        reference policy ``(H, S, A)`` and the offsets of each level's states. One absorbing
        state (the last) collects finished episodes. For small tasks (cross-checks)."""
        from ..mdp import TabularMDP

        H, V = self.H, self.V
        offsets = np.concatenate([[0], np.cumsum(self.n_states)])
        S = int(offsets[-1]) + 1
        done = S - 1
        if H * S * V > 20_000_000:
            raise ValueError(f"to_tabular: {H} x {S} x {V} is too large for a dense R")
        R = np.zeros((H, S, V))
        ref = np.full((H, S, V), 1.0 / V)
        cols = np.full((H, S, V), done, dtype=np.int64)
        for h in range(H):
            lo, hi = offsets[h], offsets[h + 1]
            child = self.child[h]
            R[h, lo:hi] = self.R[h]
            if h == H - 1:
                R[h, lo:hi] += np.where(child >= 0, self.terminal[np.maximum(child, 0)], 0.0)
            ref[h, lo:hi] = self.ref[h]
            cols[h, lo:hi] = np.where(child >= 0, offsets[h + 1] + child, done)
        P = sp.csr_array((np.ones(H * S * V), (np.arange(H * S * V), cols.ravel())),
                         shape=(H * S * V, S))
        mu = np.zeros(S)
        mu[offsets[0] + self.root] = 1.0
        return TabularMDP(P, R, horizon=H, mu=mu), ref, offsets


class TokenPolicy:
    """A token-level policy on a task's states: ``probs[t]`` is ``(n_states[t], V)``."""

    def __init__(self, task: TokenMDP, probs, name: str = "policy"):
        if len(probs) != task.H:
            raise ValueError(f"probs: expected {task.H} levels, got {len(probs)}")
        for t, p in enumerate(probs):
            if p.shape != (task.n_states[t], task.V):
                raise ValueError(f"probs[{t}]: expected shape ({task.n_states[t]}, {task.V}), "
                                 f"got {p.shape}")
        self.task, self.probs, self.name = task, list(probs), name

    def __repr__(self):
        return f"TokenPolicy({self.name!r}, {self.task!r})"

    # exact quantities ----------------------------------------------------------------------
    def occupancy(self) -> list[np.ndarray]:
        """State distributions :math:`d_t` of the (unfinished) prefixes, ``t = 0..H``."""
        task = self.task
        d = np.zeros(task.n_states[0])
        d[task.root] = 1.0
        out = [d]
        for t in range(task.H):
            w = d[:, None] * self.probs[t]
            child = task.child[t]
            mask = child >= 0
            d = np.bincount(child[mask], weights=w[mask], minlength=task.n_states[t + 1])
            out.append(d)
        return out

    def kl_per_step(self, other: TokenPolicy | None = None) -> np.ndarray:
        r""":math:`\mathbb E_\pi \mathrm{KL}(\pi(\cdot|h_t)\|\pi'(\cdot|h_t))` for each step
        ``t`` (``other`` default: the reference). Their sum is the sequence-level KL."""
        other = self.task.ref_policy if other is None else other
        if other.task is not self.task:
            raise ValueError("other: a policy of a different task")
        occ = self.occupancy()
        out = np.empty(self.task.H)
        for t in range(self.task.H):
            p, q = self.probs[t], other.probs[t]
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
            kl = terms.sum(1)
            live = occ[t] > 0
            out[t] = float(occ[t][live] @ kl[live])
        return out

    def kl(self, other: TokenPolicy | None = None) -> float:
        """Sequence-level :math:`\\mathrm{KL}(\\pi\\|\\pi')` by the chain rule."""
        return float(self.kl_per_step(other).sum())

    def expected_reward(self) -> float:
        """:math:`\\mathbb E_\\pi r(y)`, exact."""
        task = self.task
        occ = self.occupancy()
        total = 0.0
        for t in range(task.H):
            total += float(occ[t] @ (self.probs[t] * task.R[t]).sum(1))
        return total + float(occ[task.H] @ task.terminal)

    def objective(self, beta: float) -> float:
        r""":math:`J_\beta(\pi) = \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|\pi_{\rm ref})`."""
        return self.expected_reward() - _check_beta(beta) * self.kl()

    def log_prob(self, seqs: Sequences) -> np.ndarray:
        """Exact :math:`\\log \\pi(y)` of finished sequences (``-inf`` if impossible)."""
        states = self.task.walk(seqs)
        tokens = np.asarray(seqs.tokens, dtype=np.int64)
        lengths = np.asarray(seqs.lengths)
        out = np.zeros(lengths.size)
        for t in range(int(lengths.max(initial=0))):
            alive = lengths > t
            p = self.probs[t][states[alive, t], tokens[alive, t]]
            with np.errstate(divide="ignore"):
                out[alive] += np.log(p)
        return out

    def sample(self, n: int, rng=None) -> Sequences:
        """``n`` independent sequences, vectorized (inverse CDF per step)."""
        n = _check_int(n, "n", 0)
        rng = as_rng(rng)
        task = self.task
        tokens = np.full((n, task.H), PAD, dtype=np.int64)
        lengths = np.full(n, task.H, dtype=np.int64)
        s = np.full(n, task.root, dtype=np.int64)
        alive = np.arange(n)
        for t in range(task.H):
            if alive.size == 0:
                break
            a = _inverse_cdf(self.probs[t], s[alive], rng.random(alive.size))
            tokens[alive, t] = a
            nxt = task.child[t][s[alive], a]
            ended = nxt < 0
            lengths[alive[ended]] = t + 1
            s[alive] = np.maximum(nxt, 0)
            alive = alive[~ended]
        return Sequences(tokens, lengths, task.vocab, task.eos)


def _inverse_cdf(probs: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Token drawn from ``probs[rows[i]]`` with uniform ``u[i]``: one binary search per draw in
    the concatenated row CDFs (row ``s`` shifted by ``2 s``), O(n log(S V))."""
    used, inv = np.unique(rows, return_inverse=True)
    cdf = np.cumsum(probs[used], axis=1)
    cdf /= cdf[:, -1:]
    V = probs.shape[1]
    G = (cdf + 2.0 * np.arange(used.size)[:, None]).ravel()
    idx = np.searchsorted(G, 2.0 * inv + u, side="right")
    return np.minimum(idx - inv * V, V - 1)


# ---------------------------------------------------------------------------------- optimum
@dataclass(frozen=True)
class KLOptimal:
    r"""Result of :func:`kl_optimal`.

    Attributes
    ----------
    policy : TokenPolicy
        :math:`\pi^*_\beta`.
    V : list of arrays
        Soft values :math:`V_t` per level (``V[H]`` = terminal rewards).
    value : float
        :math:`V_0(\text{root}) = \max_\pi \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|\pi_{\rm ref})
        = \beta \log Z`.
    log_partition : float
        :math:`\log Z = \log \mathbb E_{\rm ref} e^{r/\beta}` (``nan`` at ``beta = 0``).
    beta : float
    """

    policy: TokenPolicy
    V: list
    value: float
    log_partition: float
    beta: float


def kl_optimal(task: TokenMDP, beta: float) -> KLOptimal:
    r"""The KL-regularized optimal LM of ``task`` by exact backward induction by level
    (module docstring); ``beta = 0`` is the limit :math:`\beta \to 0^+`."""
    if not isinstance(task, TokenMDP):
        raise TypeError(f"task: expected a TokenMDP, got {type(task).__name__}")
    beta = _check_beta(beta)
    H = task.H
    Vn = np.asarray(task.terminal, dtype=float)
    logm = np.zeros_like(Vn)  # beta = 0: log reference mass of the maximisers below
    values = [None] * (H + 1)
    values[H] = Vn
    probs = [None] * H
    for t in range(H - 1, -1, -1):
        child = task.child[t]
        cont = child >= 0
        idx = np.maximum(child, 0)
        Q = task.R[t] + np.where(cont, Vn[idx], 0.0)
        ref = task.ref[t]
        with np.errstate(divide="ignore"):
            logref = np.log(ref)
        if beta > 0:
            logits = logref + Q / beta
            m = logits.max(1, keepdims=True)
            w = np.exp(logits - m)
            tot = w.sum(1, keepdims=True)
            Vt = beta * (m[:, 0] + np.log(tot[:, 0]))
            pi = w / tot
        else:
            Qs = np.where(ref > 0, Q, -np.inf)
            Vt = Qs.max(1)
            lm_sa = logref + np.where(cont, logm[idx], 0.0)
            lm_sa = np.where(Qs == Vt[:, None], lm_sa, -np.inf)
            mm = lm_sa.max(1, keepdims=True)
            w = np.exp(lm_sa - mm)
            tot = w.sum(1, keepdims=True)
            pi = w / tot
            logm = mm[:, 0] + np.log(tot[:, 0])
        probs[t] = pi
        values[t] = Vt
        Vn = Vt
    value = float(values[0][task.root])
    policy = TokenPolicy(task, probs, name=f"kl-optimal(beta={beta:g})")
    return KLOptimal(policy, values, value, value / beta if beta > 0 else math.nan, beta)


# ---------------------------------------------------------------------------------- BoN
def best_of_n(task: TokenMDP, n, policy: TokenPolicy | None = None) -> np.ndarray:
    """Exact best-of-``n`` pmf over :meth:`TokenMDP.sequences` (ties split in proportion to
    the base policy's probabilities), from :func:`mdplab.bon.pmf` on the enumerated law of
    ``policy`` (default: the reference)."""
    from .. import bon

    dist = task.distribution(policy)
    return bon.pmf(dist.prob / dist.prob.sum(), dist.reward, n)


def sample_best_of_n(task: TokenMDP, n: int, size: int, rng=None,
                     policy: TokenPolicy | None = None) -> tuple[Sequences, np.ndarray]:
    """Simulate best-of-``n``: ``size`` times draw ``n`` sequences from ``policy`` and keep one
    of maximal reward (uniformly among tied draws). Returns the kept sequences and their
    rewards."""
    n = _check_int(n, "n", 1)
    size = _check_int(size, "size", 0)
    rng = as_rng(rng)
    policy = task.ref_policy if policy is None else policy
    draws = policy.sample(n * size, rng)
    r = task.reward.evaluate(draws.tokens, draws.lengths, task.vocab, task.eos).reshape(size, n)
    best = r.max(1, keepdims=True)
    key = np.where(r == best, rng.random((size, n)), -1.0)
    pick = np.arange(size) * n + key.argmax(1)
    return (Sequences(draws.tokens[pick], draws.lengths[pick], task.vocab, task.eos),
            r.ravel()[pick])


def fit_policy(task: TokenMDP, seqs: Sequences, *, pseudocount: float = 0.0,
               prior: TokenPolicy | None = None) -> TokenPolicy:
    r"""Tabular behaviour cloning: the maximum-likelihood token-level policy of ``seqs``,
    :math:`\hat\pi(a|s) = (N(s,a) + c\,\pi_0(a|s)) / (N(s) + c)`; states never visited get
    the ``prior`` :math:`\pi_0` (default: the reference)."""
    if not (np.isfinite(pseudocount) and pseudocount >= 0):
        raise ValueError(f"pseudocount = {pseudocount!r}: expected a number >= 0")
    prior = task.ref_policy if prior is None else prior
    states = task.walk(seqs)
    tokens = np.asarray(seqs.tokens, dtype=np.int64)
    lengths = np.asarray(seqs.lengths)
    probs = []
    for t in range(task.H):
        S = task.n_states[t]
        alive = lengths > t
        counts = np.bincount(states[alive, t] * task.V + tokens[alive, t],
                             minlength=S * task.V).reshape(S, task.V).astype(float)
        counts += pseudocount * prior.probs[t]
        tot = counts.sum(1, keepdims=True)
        probs.append(np.where(tot > 0, counts / np.where(tot > 0, tot, 1), prior.probs[t]))
    return TokenPolicy(task, probs, name="behaviour-cloned")
