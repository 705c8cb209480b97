"""Hostile input to the LLM-policy proxies (mdplab.proxies): every bad input is rejected with
a ValueError / TypeError that names the argument or the cause; accepted variants (lists,
object arrays, float32) give the clean answer."""

import numpy as np
import pytest

import mdplab.proxies as px
from mdplab.proxies import rewards


@pytest.fixture(scope="module")
def lm():
    return px.NGramLM.default(n=2)


def task(lm, reward=None, horizon=2):
    return px.TokenMDP(lm, horizon=horizon, reward=reward or rewards.contains("a"))


@pytest.mark.parametrize("text, match", [("", "corpus is empty"), ("\n\n  \n", "corpus is empty")])
def test_empty_corpus(text, match):
    with pytest.raises(ValueError, match=match):
        px.NGramLM.fit(text, 2)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"n": 0}, ValueError, "n = 0"), ({"n": 1.5}, ValueError, "n = 1.5"),
    ({"n": 2, "smoothing": "foo"}, ValueError, "smoothing"),
    ({"n": 2, "k": -1}, ValueError, "k = -1"),
])
def test_bad_ngram_parameters(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        px.NGramLM.fit("abc\nabd\n", **kwargs)


@pytest.mark.parametrize("horizon, exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                          (True, TypeError), ("3", TypeError)])
def test_bad_horizon_names_it(lm, horizon, exc):
    with pytest.raises(exc, match="horizon"):
        task(lm, horizon=horizon)


def test_bad_lm_and_reward_objects(lm):
    with pytest.raises(TypeError, match="lm"):
        px.TokenMDP("abc", horizon=2, reward=rewards.contains("a"))
    with pytest.raises(TypeError, match="reward"):
        px.TokenMDP(lm, horizon=2, reward=3)
    with pytest.raises(ValueError, match="pattern"):
        rewards.contains("")


def test_vocabulary_mismatch_between_lm_and_reward(lm):
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        task(lm, rewards.LinearReward({"Z": 1.0}))


@pytest.mark.parametrize("scores, exc, match", [
    ({"a": float("nan")}, ValueError, "finite"), ({"a": float("inf")}, ValueError, "finite"),
    ({"a": 1 + 2j}, TypeError, "complex"), ({"a": "x"}, TypeError, "scores"),
])
def test_bad_linear_scores(scores, exc, match):
    with pytest.raises(exc, match=match):
        rewards.LinearReward(scores)


@pytest.mark.parametrize("checker, exc, match", [
    (lambda s: 1 / 0, ValueError, "raised ZeroDivisionError"),
    (lambda s: float("nan"), ValueError, "finite"),
    (lambda s: "yes", TypeError, "returned 'yes'"),
])
def test_reward_checker_that_misbehaves_is_named(lm, checker, exc, match):
    with pytest.raises(exc, match=match) as info:  # raised when the task evaluates rewards
        px.kl_optimal(task(lm, rewards.VerifiableReward(checker, name="bad-checker")), 0.5)
    assert "bad-checker" in str(info.value)


@pytest.mark.parametrize("beta, exc", [(float("nan"), ValueError), (-1.0, ValueError),
                                       (float("inf"), ValueError), ("0.5", TypeError),
                                       (True, TypeError), (1 + 0j, TypeError), ([0.5], TypeError)])
def test_bad_beta(lm, beta, exc):
    with pytest.raises(exc, match="beta"):
        px.kl_optimal(task(lm), beta)


@pytest.mark.parametrize("probs, exc, match", [
    ([0.5, float("nan")], ValueError, "probs"), ([1.5, -0.5], ValueError, "probs"),
    ([0.5, 0.4], ValueError, "sums to"), (np.array([0.5 + 0j, 0.5]), TypeError, "complex"),
    (["a", "b"], TypeError, "probs"), ([], ValueError, "probs"),
])
def test_bad_memoryless_probabilities(probs, exc, match):
    with pytest.raises(exc, match=match):
        px.MemorylessLM(probs, ["a", "b"])


@pytest.mark.parametrize("probs", [[0.25, 0.75], np.array([0.25, 0.75], dtype=object),
                                   np.array([0.25, 0.75], dtype=np.float32),
                                   np.array([0.25, 0.75])[::1].copy(order="F")])
def test_accepted_memoryless_variants_give_the_clean_answer(probs):
    lm = px.MemorylessLM(probs, ["a", "b"])
    np.testing.assert_array_equal(lm.probs, np.array([0.25, 0.75]))


def test_read_only_inputs_are_not_modified(lm):
    probs = np.array([0.25, 0.75])
    probs.setflags(write=False)
    m = px.MemorylessLM(probs, ["a", "b"])
    np.testing.assert_array_equal(m.probs, probs)


@pytest.mark.parametrize("n", [0, -1, float("nan"), float("inf")])
def test_bad_best_of_n(lm, n):
    with pytest.raises(ValueError, match="n"):
        px.best_of_n(task(lm), n)


def test_bad_sampling_arguments(lm):
    policy = task(lm).ref_policy
    with pytest.raises(ValueError, match="n = -1"):
        policy.sample(-1, rng=0)
    with pytest.raises(TypeError, match="rng"):
        policy.sample(2, rng="seed")
