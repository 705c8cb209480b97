"""On-policy distillation, prompted LMs and the closed forms behind the RL-for-LLMs claims,
cross-checked by brute-force enumeration of sequences and by closed forms."""

import itertools

import numpy as np
import pytest

from mdplab import bon
from mdplab.claims.rl_for_llms import improvement_closed_form
from mdplab.proxies import (
    MemorylessLM,
    NGramLM,
    PromptedLM,
    TokenMDP,
    TokenPolicy,
    kl_optimal,
    on_policy_distillation,
    opd_values,
)
from mdplab.proxies import rewards as rw


def _random_policy(task, rng, conc=1.0):
    return TokenPolicy(task, [rng.dirichlet(np.full(task.V, conc), size=S)
                              for S in task.n_states[:-1]])


def _tiny_task():
    lm = NGramLM.fit(["abba", "baab", "ab", "ba"], n=2, k=0.5)
    return TokenMDP(lm, 3, rw.contains("ab"), state="tree")


def _brute_force_law(policy):
    """Sequence probabilities by walking every token string by hand (no task machinery)."""
    task = policy.task
    out = {}
    alphabet = range(task.V)
    for L in range(1, task.H + 1):
        for toks in itertools.product(alphabet, repeat=L):
            if any(t == task.eos for t in toks[:-1]):
                continue
            if L < task.H and toks[-1] != task.eos:
                continue
            prob, s = 1.0, task.root
            for t, a in enumerate(toks):
                prob *= policy.probs[t][s, a]
                s = task.child[t][s, a]
            out[toks] = prob
    return out


def test_prompted_lm_matches_the_base_lm_on_prompt_plus_prefix():
    lm = NGramLM.default(n=4)
    prompt = "the f"
    plm = PromptedLM(lm, prompt)
    rng = np.random.default_rng(0)
    base_tokens = lm.encode(prompt)
    for t in range(5):
        pre = rng.integers(0, lm.V, size=(7, t))
        pre[pre == lm.eos] = 0
        full = np.concatenate([np.tile(base_tokens, (7, 1)), pre], axis=1)
        np.testing.assert_allclose(plm.next_token_probs(pre), lm.next_token_probs(full),
                                   rtol=0, atol=1e-15)


def test_prompted_lm_short_prompt_keeps_bos_padding():
    lm = NGramLM.default(n=3)
    plm = PromptedLM(lm, "a")
    pre = np.zeros((1, 0), dtype=np.int64)
    np.testing.assert_allclose(plm.next_token_probs(pre),
                               lm.next_token_probs(lm.encode("a")[None, :]), atol=1e-15)


def test_prompted_lm_bad_input():
    lm = NGramLM.default(n=2)
    with pytest.raises(ValueError, match="EOS"):
        PromptedLM(lm, [lm.eos])
    with pytest.raises(ValueError, match=r"prompt: token ids"):
        PromptedLM(lm, [lm.V + 3])
    with pytest.raises(TypeError, match="lm"):
        PromptedLM("not an lm", "ab")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        PromptedLM(lm, "ABC")


def test_opd_value_is_minus_the_sequence_reverse_kl_by_enumeration():
    task = _tiny_task()
    rng = np.random.default_rng(1)
    for _ in range(5):
        S, T = _random_policy(task, rng), _random_policy(task, rng)
        pS, pT = _brute_force_law(S), _brute_force_law(T)
        assert abs(sum(pS.values()) - 1) < 1e-12
        kl = sum(p * np.log(p / pT[y]) for y, p in pS.items() if p > 0)
        V = opd_values(S, T)
        assert abs(V[0][task.root] + kl) < 1e-12
        assert abs(S.kl(T) - kl) < 1e-12
        assert np.all(np.concatenate(V) <= 1e-12)  # every continuation value is -KL <= 0


def test_opd_with_step_one_reaches_the_teacher_in_h_steps():
    task = _tiny_task()
    teacher = kl_optimal(task, 0.3).policy
    res = on_policy_distillation(teacher, eta=1.0, iterations=task.H)
    law, target = _brute_force_law(res.policy), _brute_force_law(teacher)
    assert max(abs(law[y] - target[y]) for y in target) < 1e-13
    assert res.kl[0] > 1e-3 and res.kl[-1] < 1e-13
    # with a smaller step the reverse KL decreases monotonically (mirror descent)
    slow = on_policy_distillation(teacher, eta=0.3, iterations=30)
    assert np.all(np.diff(slow.kl) <= 1e-14) and slow.kl[-1] < 1e-3 * slow.kl[0]


def test_opd_bad_input():
    task = _tiny_task()
    other = _tiny_task()
    teacher = kl_optimal(task, 0.5).policy
    with pytest.raises(ValueError, match="eta"):
        on_policy_distillation(teacher, eta=0.0)
    with pytest.raises(ValueError, match="iterations"):
        on_policy_distillation(teacher, iterations=-1)
    with pytest.raises(TypeError, match="teacher"):
        on_policy_distillation("teacher")
    with pytest.raises(ValueError, match="different tasks"):
        opd_values(other.ref_policy, teacher)
    zero = [p.copy() for p in teacher.probs]
    zero[0][task.root] = 0.0
    zero[0][task.root, task.eos] = 1.0
    with pytest.raises(ValueError, match="probability 0"):
        opd_values(task.ref_policy, TokenPolicy(task, zero))


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
def test_improvement_closed_form_and_jeffreys_identity(beta):
    rng = np.random.default_rng(2)
    for _ in range(20):
        p = rng.dirichlet(np.ones(12))
        r = (rng.random(12) < rng.random()).astype(float)
        if r.max() == r.min():
            continue
        acc = float(p @ r)
        q = bon.tilt(p, r, beta)
        delta = float(q @ r) - acc
        assert abs(delta - improvement_closed_form(acc, beta)) < 1e-13
        kl_fwd = float(np.sum(q * np.log(q / p)))
        kl_rev = float(np.sum(p * np.log(p / q)))
        assert abs(delta - beta * (kl_fwd + kl_rev)) < 1e-13
        assert acc * (1 - acc) * -np.expm1(-1 / beta) <= delta + 1e-15
        assert kl_fwd >= 2 * delta ** 2 - 1e-15
    # the Jeffreys identity holds for any reward, not only binary ones
    p, r = rng.dirichlet(np.ones(9)), rng.normal(size=9)
    q = bon.tilt(p, r, beta)
    jeff = float(np.sum(q * np.log(q / p)) + np.sum(p * np.log(p / q)))
    assert abs(float(q @ r - p @ r) - beta * jeff) < 1e-12


def test_improvement_peak_location():
    for beta in (0.25, 1.0, 4.0):
        grid = np.linspace(1e-4, 1 - 1e-4, 200001)
        peak = grid[np.argmax(improvement_closed_form(grid, beta))]
        assert abs(peak - 1 / (1 + np.exp(1 / (2 * beta)))) < 1e-4


def test_memoryless_token_optimum_is_the_product_tilt():
    p, r = np.array([0.5, 0.3, 0.2]), np.array([0.0, 1.0, 2.0])
    lm = MemorylessLM(p, vocab=("a", "b", "c"))
    task = TokenMDP(lm, 5, rw.LinearReward(r), state="markov")
    opt = kl_optimal(task, 0.7)
    tilt = p * np.exp(r / 0.7)
    tilt /= tilt.sum()
    for P in opt.policy.probs:
        np.testing.assert_allclose(P, np.broadcast_to(tilt, P.shape), atol=1e-15)
    kl_token = float(np.sum(tilt * np.log(tilt / p)))
    assert abs(opt.policy.kl() - 5 * kl_token) < 1e-13


def _dirichlet_task(seed=3, H=3):
    from mdplab.claims.llm_proxies import _gaussian_reward, _PrefixDirichletLM

    rng = np.random.default_rng(seed)
    return TokenMDP(_PrefixDirichletLM(3, H, rng), H, _gaussian_reward(rng))


def test_genarm_constructive_arm_decodes_to_the_tilt_by_enumeration():
    from mdplab.claims.rl_for_llms import _gibbs_factorised, _guided

    task = _dirichlet_task()
    seqs = task.sequences()
    R = task.sequence_rewards(seqs)
    p = np.exp(task.ref_policy.log_prob(seqs))
    for beta in (0.3, 1.0):
        tilt = bon.tilt(p, R, beta)  # sequence-level closed form, independent of kl_optimal
        opt = kl_optimal(task, beta).policy
        arm = TokenPolicy(task, [(P / Q) ** beta / ((P / Q) ** beta).sum(1, keepdims=True)
                                 for P, Q in zip(opt.probs, task.ref, strict=True)])
        dec = np.exp(_guided(task, arm, beta).log_prob(seqs))
        assert np.max(np.abs(dec - tilt)) < 1e-13
    gibbs, logZ = _gibbs_factorised(task)
    gl = np.exp(gibbs.log_prob(seqs))
    np.testing.assert_allclose(gl, np.exp(R) / np.exp(R).sum(), atol=1e-14)
    naive = np.exp(_guided(task, gibbs, 1.0).log_prob(seqs))
    assert 0.5 * np.abs(naive - bon.tilt(p, R, 1.0)).sum() > 0.01


def test_vimpo_implied_values_by_brute_force():
    from mdplab.claims.rl_for_llms import _implied_values

    task = _dirichlet_task(seed=4)
    seqs = task.sequences()
    R = task.sequence_rewards(seqs)
    p = np.exp(task.ref_policy.log_prob(seqs))
    beta = 0.7
    logZ = float(np.log(p @ np.exp(R / beta)))
    vals, _ = _implied_values(task, kl_optimal(task, beta).policy, beta)
    assert np.max(np.abs(vals[:, 0] - beta * logZ)) < 1e-12  # V*(root) = beta log Z
    q = _random_policy(task, np.random.default_rng(5))
    v0 = _implied_values(task, q, beta)[0][:, 0]
    lq = q.log_prob(seqs)
    brute = R - beta * (lq - np.log(p))
    np.testing.assert_allclose(v0, brute, atol=1e-12)


@pytest.mark.parametrize("claim_id", ["proxy-on-policy-distillation", "proxy-difficulty-filtering",
                                      "proxy-bon-kl-equivalence", "proxy-reward-overoptimization",
                                      "proxy-genarm-expressivity", "proxy-vimpo-implied-value"])
def test_claims_pass_in_quick_mode(claim_id, tmp_path):
    from mdplab.claims import get, run_claim

    run = run_claim(get(claim_id), quick=True, seed=0, out=tmp_path)
    assert run.passed, run.result.summary
    assert run.seconds < 10
    assert all(f.is_file() for f in run.result.figures)
