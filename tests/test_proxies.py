"""Tests of mdplab.proxies: LMs, rewards, the token MDP, its exact optimum, sampling and BoN.

Every exact quantity is compared with an independent computation: itertools enumeration of all
sequences with reference probabilities multiplied prefix by prefix, direct n-gram counting,
mdplab.solve on the tabular form, mdplab.bon on the enumerated law, simulation.
"""

import itertools
from collections import Counter

import numpy as np
import pytest
from scipy.stats import norm

import mdplab as ml
import mdplab.proxies as px
from mdplab.proxies import rewards as rw

TEXT = "abba cab\nbad cab abc\n\naab bca ba\n"


# ------------------------------------------------------------------ helpers (independent)
def enumerate_law(lm, H, reward):
    """All finished sequences by itertools; ref probability by multiplying next-token
    probabilities of each prefix; reward from the reward's own evaluate on one sequence."""
    V, eos = lm.V, lm.eos
    nonEOS = [a for a in range(V) if a != eos]
    if eos is None:
        seqs = list(itertools.product(nonEOS, repeat=H))
    else:
        seqs = [body + (eos,) for L in range(1, H + 1)
                for body in itertools.product(nonEOS, repeat=L - 1)]
        seqs += list(itertools.product(nonEOS, repeat=H))
    logp, r = [], []
    for y in seqs:
        lp = 0.0
        for t, a in enumerate(y):
            p = lm.next_token_probs(np.array([y[:t]], dtype=np.int64).reshape(1, t))[0, a]
            lp += np.log(p)
        logp.append(lp)
        r.append(reward.evaluate(np.array([y]), np.array([len(y)]), lm.vocab, eos)[0])
    return seqs, np.array(logp), np.array(r)


def as_seqs(task, seqs):
    tok = np.full((len(seqs), task.H), px.PAD, dtype=np.int64)
    for i, y in enumerate(seqs):
        tok[i, :len(y)] = y
    return px.Sequences(tok, np.array([len(y) for y in seqs]), task.vocab, task.eos)


def random_reward(vocab, rng):
    table = {}

    def check(text):
        if text not in table:
            table[text] = float(rng.normal())
        return table[text]
    return rw.VerifiableReward(check, name="gaussian")


def small_lms(rng):
    return [
        px.SoftmaxLinearLM.random(4, order=2, dim=3, scale=2.0, rng=rng),
        px.MemorylessLM(rng.dirichlet(np.ones(3)), vocab="xy$", eos=2),
        px.MemorylessLM(rng.dirichlet(np.ones(3)), vocab="xyz"),  # no EOS
        px.NGramLM.fit(TEXT, n=2),
        px.NGramLM.fit(TEXT, n=3, smoothing="kneser-ney"),
    ]


# ------------------------------------------------------------------ language models
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_ngram_add_k_matches_direct_counts(n):
    k = 0.3
    lm = px.NGramLM.fit(TEXT, n=n, k=k)
    lines = [ln for ln in TEXT.splitlines() if ln.strip()]
    assert lm.vocab == tuple(sorted(set("".join(lines)))) + ("\n",)
    counts, totals = Counter(), Counter()
    for ln in lines:
        seq = ["<s>"] * (n - 1) + list(ln) + ["\n"]
        for i in range(n - 1, len(seq)):
            ctx = tuple(seq[i - n + 1:i])
            counts[ctx, seq[i]] += 1
            totals[ctx] += 1
    ctxs = list(totals) + [tuple(["<s>"] * (n - 1)), tuple("c" * (n - 1))]  # "cc.." unseen
    idx = {c: i for i, c in enumerate(lm.vocab)}
    for ctx in ctxs:
        arr = np.array([[px.BOS if c == "<s>" else idx[c] for c in ctx]], dtype=np.int64)
        arr = arr.reshape(1, n - 1)
        got = lm.context_probs(arr)[0]
        want = np.array([(counts[ctx, a] + k) / (totals[ctx] + k * lm.V) for a in lm.vocab])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


def test_kneser_ney_bigram_matches_direct_formula():
    D = 0.75
    lm = px.NGramLM.fit(TEXT, n=2, smoothing="kneser-ney", discount=D)
    lines = [ln for ln in TEXT.splitlines() if ln.strip()]
    big = Counter()
    for ln in lines:
        seq = ["<s>"] + list(ln) + ["\n"]
        big.update(zip(seq[:-1], seq[1:], strict=True))
    V = lm.vocab
    cont = Counter(b for (_, b) in big)  # distinct left contexts of each token
    n_types = len(big)
    p_uni = {a: (max(cont[a] - D, 0) + D * len(cont) / len(V)) / n_types for a in V}
    for c in ["<s>"] + list(V[:-1]):
        tot = sum(v for (x, _), v in big.items() if x == c)
        n1 = sum(1 for (x, _) in big if x == c)
        if tot:
            want = [(max(big[c, a] - D, 0) + D * n1 * p_uni[a]) / tot for a in V]
        else:
            want = [p_uni[a] for a in V]
        ctx = np.array([[px.BOS if c == "<s>" else V.index(c)]])
        np.testing.assert_allclose(lm.context_probs(ctx)[0], want, atol=1e-15)


def test_lm_rows_are_distributions():
    rng = np.random.default_rng(0)
    for lm in small_lms(rng) + [px.NGramLM.default(4, smoothing="kneser-ney")]:
        prefixes = rng.integers(0, lm.V, size=(50, 5))
        prefixes[prefixes == (lm.eos if lm.eos is not None else -5)] = 0
        p = lm.next_token_probs(prefixes)
        assert p.shape == (50, lm.V) and np.all(p > 0)
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-12)


def test_default_corpus_is_packaged_and_decodes():
    text = px.default_corpus()
    assert len(text) > 3000
    lm = px.NGramLM.default(3)
    assert lm.decode(lm.encode("the fox")) == "the fox"


def test_from_file(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text(TEXT)
    a, b = px.NGramLM.from_file(f, 2), px.NGramLM.fit(TEXT, 2)
    ctx = np.array([[0], [1], [px.BOS]])
    np.testing.assert_array_equal(a.context_probs(ctx), b.context_probs(ctx))


# ------------------------------------------------------------------ exact optimum
@pytest.mark.parametrize("H", [1, 2, 3])
@pytest.mark.parametrize("beta", [0.05, 0.5, 5.0])
def test_token_level_optimum_is_sequence_tilt(H, beta):
    rng = np.random.default_rng(H)
    for lm in small_lms(rng):
        reward = random_reward(lm.vocab, np.random.default_rng(7))
        seqs, logp, r = enumerate_law(lm, H, reward)
        task = px.TokenMDP(lm, H, reward)
        opt = px.kl_optimal(task, beta)
        w = logp + r / beta
        logZ = np.logaddexp.reduce(w)
        got = opt.policy.log_prob(as_seqs(task, seqs))
        np.testing.assert_allclose(np.exp(got), np.exp(w - logZ), rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.exp(task.ref_policy.log_prob(as_seqs(task, seqs))),
                                   np.exp(logp), atol=1e-14)
        assert abs(opt.value - beta * logZ) <= 1e-12 * max(1, abs(opt.value))
        assert len(seqs) == task.n_sequences()


def test_chain_rule_of_kl_for_random_policies():
    rng = np.random.default_rng(3)
    for lm in small_lms(rng):
        task = px.TokenMDP(lm, 3, random_reward(lm.vocab, rng))
        seqs = task.sequences()
        ref_lp = task.ref_policy.log_prob(seqs)
        for conc in (0.3, 1.0, 5.0):
            probs = [rng.dirichlet(np.full(task.V, conc), size=S) for S in task.n_states[:-1]]
            pol = px.TokenPolicy(task, probs)
            lp = pol.log_prob(seqs)
            np.testing.assert_allclose(task.distribution(pol).log_prob, lp, atol=1e-12)
            p = np.exp(lp)
            assert abs(p.sum() - 1) < 1e-12
            seq_kl = float(np.sum(p * (lp - ref_lp)))
            assert abs(pol.kl() - seq_kl) <= 1e-12 * max(1, seq_kl)
            r = task.sequence_rewards(seqs)
            assert abs(pol.expected_reward() - p @ r) <= 1e-12


def test_optimum_beats_random_policies_and_identity():
    """J(pi*) - J(pi) = beta KL(pi || pi*) at the sequence level (Korbak et al. identity)."""
    rng = np.random.default_rng(4)
    lm = px.NGramLM.fit(TEXT, n=2)
    task = px.TokenMDP(lm, 3, random_reward(lm.vocab, rng))
    beta = 0.3
    opt = px.kl_optimal(task, beta)
    for _ in range(5):
        pol = px.TokenPolicy(task, [rng.dirichlet(np.ones(task.V), size=S)
                                    for S in task.n_states[:-1]])
        gap = opt.policy.objective(beta) - pol.objective(beta)
        assert abs(gap - beta * pol.kl(opt.policy)) < 1e-11
    assert abs(opt.policy.objective(beta) - opt.value) < 1e-12


@pytest.mark.parametrize("beta", [0.0, 0.2, 2.0])
def test_tabular_form_matches_mdplab_solve(beta):
    rng = np.random.default_rng(5)
    lm = px.SoftmaxLinearLM.random(3, order=1, dim=2, rng=rng)
    for reward in (random_reward(lm.vocab, rng), rw.LinearReward(rng.normal(size=3))):
        for state in ("tree", "markov") if reward.additive else ("tree",):
            task = px.TokenMDP(lm, 3, reward, state=state)
            mdp, ref, off = task.to_tabular()
            sol = ml.solve(mdp, beta=beta, ref=ref)
            opt = px.kl_optimal(task, beta)
            assert abs(sol.V[0][off[0] + task.root] - opt.value) < 1e-12
            if beta > 0:  # beta = 0: mdplab breaks ties by argmax, we by the 0+ limit
                for t in range(task.H):
                    np.testing.assert_allclose(sol.policy[t, off[t]:off[t + 1]],
                                               opt.policy.probs[t], atol=1e-12)


def test_markov_state_equals_prefix_tree():
    rng = np.random.default_rng(6)
    lm = px.NGramLM.fit(TEXT, n=3)
    reward = rw.LinearReward({"a": 1.0, "b": -0.5, "\n": 0.3})
    tree = px.TokenMDP(lm, 4, reward, state="tree")
    markov = px.TokenMDP(lm, 4, reward, state="markov")
    for beta in (0.0, 0.1, 1.0):
        a, b = px.kl_optimal(tree, beta), px.kl_optimal(markov, beta)
        assert abs(a.value - b.value) < 1e-12
        seqs = tree.sequences()
        np.testing.assert_allclose(a.policy.log_prob(seqs), b.policy.log_prob(seqs),
                                   atol=1e-11)
        assert abs(a.policy.kl() - b.policy.kl()) < 1e-12
    del rng


def test_beta_zero_is_the_limit():
    rng = np.random.default_rng(8)
    lm = px.NGramLM.fit(TEXT, n=2)
    task = px.TokenMDP(lm, 3, rw.contains("ab"))
    d0 = task.distribution()
    want = np.where(d0.reward == 1, d0.prob, 0)
    want /= want.sum()
    got = np.exp(px.kl_optimal(task, 0.0).policy.log_prob(task.sequences()))
    np.testing.assert_allclose(got, want, atol=1e-14)
    small = np.exp(px.kl_optimal(task, 0.01).policy.log_prob(task.sequences()))
    np.testing.assert_allclose(small, want, atol=1e-14)
    assert small[want == 0].max() < 1e-40  # failures keep mass of order e^{-1/beta}
    del rng


def test_extreme_temperatures_are_stable():
    lm = px.NGramLM.fit(TEXT, n=2)
    task = px.TokenMDP(lm, 3, rw.LinearReward(np.linspace(-1e6, 1e6, lm.V)))
    for beta in (1e-8, 1e8):
        opt = px.kl_optimal(task, beta)
        assert np.isfinite(opt.value)
        for p in opt.policy.probs:
            assert np.all(np.isfinite(p)) and np.allclose(p.sum(1), 1)


# ------------------------------------------------------------------ sampling, BoN, BC
def test_sampling_frequencies_match_exact_probabilities():
    rng = np.random.default_rng(9)
    lm = px.NGramLM.fit(TEXT, n=2)
    task = px.TokenMDP(lm, 2, rw.contains("a"))
    opt = px.kl_optimal(task, 0.4)
    dist = task.distribution(opt.policy)
    n = 200_000
    s = opt.policy.sample(n, rng)
    lp = opt.policy.log_prob(s)  # every sample is a valid sequence
    assert np.all(np.isfinite(lp))
    key = {tuple(row[:L]): i for i, (row, L) in
           enumerate(zip(dist.sequences.tokens, dist.sequences.lengths, strict=True))}
    idx = np.array([key[tuple(row[:L])] for row, L in zip(s.tokens, s.lengths, strict=True)])
    emp = np.bincount(idx, minlength=len(key)) / n
    p = dist.prob
    z = np.abs(emp - p) / np.sqrt(p * (1 - p) / n)
    assert z.max() < norm.ppf(1 - 0.001 / (2 * p.size))
    assert px.kl_optimal(task, 0.4).policy.sample(5, 1).tokens.tolist() == \
        opt.policy.sample(5, 1).tokens.tolist()


def test_best_of_n_on_sequences_matches_bon_and_simulation():
    rng = np.random.default_rng(10)
    lm = px.NGramLM.fit(TEXT, n=2)
    reward = random_reward(lm.vocab, np.random.default_rng(1))
    seqs, logp, r = enumerate_law(lm, 2, reward)
    task = px.TokenMDP(lm, 2, reward)
    order = {tuple(y): i for i, y in enumerate(seqs)}
    perm = np.array([order[tuple(row[:L])] for row, L in
                     zip(task.sequences().tokens, task.sequences().lengths, strict=True)])
    for n in (1, 3, 8):
        want = ml.bon.pmf(np.exp(logp) / np.exp(logp).sum(), r, n)
        np.testing.assert_allclose(px.best_of_n(task, n), want[perm], atol=1e-14)
    n, draws = 4, 100_000
    kept, kept_r = px.sample_best_of_n(task, n, draws, rng)
    idx = np.array([order[tuple(row[:L])]
                    for row, L in zip(kept.tokens, kept.lengths, strict=True)])
    emp = np.bincount(idx, minlength=len(seqs)) / draws
    p = ml.bon.pmf(np.exp(logp) / np.exp(logp).sum(), r, n)
    se = np.sqrt(p * (1 - p) / draws)
    z = np.where(se > 0, np.abs(emp - p) / np.where(se > 0, se, 1), 0)
    assert z.max() < norm.ppf(1 - 0.001 / (2 * p.size))


def test_binary_reward_bon_is_kl_optimum_token_level():
    """OREAL reduction: BoN_N over sequences = token-level optimum at beta_N."""
    lm = px.NGramLM.fit(TEXT, n=2)
    task = px.TokenMDP(lm, 3, rw.contains("ab"))
    d0 = task.distribution()
    pc = d0.prob[d0.reward == 1].sum()
    for N in (2, 5, 20):
        beta = 1 / np.log((1 - (1 - pc) ** N) / (pc * (1 - pc) ** (N - 1)))
        got = np.exp(px.kl_optimal(task, beta).policy.log_prob(task.sequences()))
        np.testing.assert_allclose(got, px.best_of_n(task, N), atol=1e-13)


def test_fit_policy_recovers_empirical_law_exactly():
    rng = np.random.default_rng(11)
    lm = px.NGramLM.fit(TEXT, n=2)
    task = px.TokenMDP(lm, 2, rw.contains("a"))
    all_seqs = task.sequences()
    mult = rng.integers(0, 4, size=len(all_seqs))
    rows = np.repeat(np.arange(len(all_seqs)), mult)
    data = px.Sequences(all_seqs.tokens[rows], all_seqs.lengths[rows], task.vocab, task.eos)
    bc = px.fit_policy(task, data)
    np.testing.assert_allclose(np.exp(bc.log_prob(all_seqs)), mult / mult.sum(), atol=1e-14)


def test_bradley_terry_recovers_additive_reward():
    rng = np.random.default_rng(12)
    lm = px.MemorylessLM([0.3, 0.3, 0.2, 0.2], vocab="abc$", eos=3)
    true = rw.LinearReward([1.0, -1.0, 0.5, 0.0])
    task = px.TokenMDP(lm, 5, true)
    bt = rw.fit_bradley_terry(task, 40_000, rng, l2=1e-6)
    assert bt.fit.converged and bt.additive
    # weights of a BT model on counts are identified (lengths vary); compare with a tolerance
    # of about 5 standard errors of a logistic regression on 4e4 pairs
    np.testing.assert_allclose(bt.weights, true.scores, atol=0.08)
    seqs = task.sequences()
    r_hat = bt.evaluate(seqs.tokens, seqs.lengths, task.vocab, task.eos)
    assert np.corrcoef(r_hat, task.sequence_rewards())[0, 1] > 0.99


def test_verifiable_rewards():
    lm = px.MemorylessLM(np.full(15, 1 / 15), vocab=list("0123456789+-*=$"), eos=14)
    ev = rw.arithmetic()
    seqs = ["2+3=5$", "2+3=6$", "12*3=36$", "1-4=-3", "=$"]
    tok = [lm.encode(s.replace("$", "")).tolist() + ([14] if s.endswith("$") else [])
           for s in seqs]
    L = max(map(len, tok))
    arr = np.array([t + [-1] * (L - len(t)) for t in tok])
    lens = np.array([len(t) for t in tok])
    np.testing.assert_array_equal(ev.evaluate(arr, lens, lm.vocab, 14), [1, 0, 1, 1, 0])
    ev2 = rw.arithmetic(require_eos=True)
    np.testing.assert_array_equal(ev2.evaluate(arr, lens, lm.vocab, 14), [1, 0, 1, 0, 0])
    bb = rw.balanced_brackets("()")
    lm2 = px.MemorylessLM(np.full(3, 1 / 3), vocab="()x")
    texts = ["(x)", ")(", "xx", "(()())"]
    arr = np.array([list(lm2.encode(t)) + [-1] * (6 - len(t)) for t in texts])
    np.testing.assert_array_equal(bb.evaluate(arr, np.array([3, 2, 2, 6]), lm2.vocab, None),
                                  [1, 0, 0, 1])
    assert rw.contains("b.", regex=True).evaluate(arr[:1], [3], ("(", ")", "x"), None)[0] == 0


# ------------------------------------------------------------------ bad input
def test_bad_input_errors_name_the_cause():
    lm = px.NGramLM.fit(TEXT, n=2)
    with pytest.raises(ValueError, match="corpus is empty"):
        px.NGramLM.fit("  \n\n ", n=2)
    with pytest.raises(ValueError, match="corpus is empty"):
        px.NGramLM.fit([], n=2)
    with pytest.raises(ValueError, match="horizon = 0"):
        px.TokenMDP(lm, 0, rw.contains("a"))
    with pytest.raises(TypeError, match="horizon"):
        px.TokenMDP(lm, 2.5, rw.contains("a"))
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        px.TokenMDP(lm, 2, rw.LinearReward(np.ones(lm.V + 1)))
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        px.TokenMDP(lm, 2, rw.LinearReward({"Z": 1.0}))
    with pytest.raises(ValueError, match="vocabulary mismatch.*index 0"):
        px.TokenMDP(lm, 2, rw.contains("a", vocab=("q",) + lm.vocab[1:]))

    def broken(text):
        if "b" in text:
            raise KeyError("no table entry")
        return 1.0
    with pytest.raises(ValueError, match="checker 'broken' raised KeyError.*on the sequence"):
        px.TokenMDP(lm, 2, rw.VerifiableReward(broken))
    with pytest.raises(TypeError, match="returned"):
        px.TokenMDP(lm, 1, rw.VerifiableReward(lambda t: "yes"))
    task = px.TokenMDP(lm, 2, rw.contains("a"))
    with pytest.raises(ValueError, match="beta = -1"):
        px.kl_optimal(task, -1)
    with pytest.raises(ValueError, match="not additive"):
        px.TokenMDP(lm, 2, rw.contains("a"), state="markov")
    with pytest.raises(ValueError, match="max_leaves"):
        px.TokenMDP(lm, 12, rw.contains("a"))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        lm.encode("xyz")
    with pytest.raises(ValueError, match="EOS"):
        bad = np.array([[lm.eos, 0]])
        task.ref_policy.log_prob(px.Sequences(bad, np.array([2]), task.vocab, task.eos))
    with pytest.raises(ValueError, match="sums to"):
        px.MemorylessLM([0.5, 0.6])
