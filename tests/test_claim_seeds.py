"""Claims' multi-seed experiments go through mdplab.sweep (mdplab/claims/_seeds.py)."""

import numpy as np
import pandas as pd
import pytest

from mdplab.claims._seeds import seed_list, seed_sweep
from tests import sweep_tasks


def test_seed_list_is_deterministic_and_distinct():
    a = seed_list(np.random.default_rng(5), 50)
    assert a == seed_list(np.random.default_rng(5), 50)
    assert len(set(a)) == 50 and all(s >= 0 for s in a)


def test_seed_sweep_does_not_depend_on_the_number_of_workers():
    one = seed_sweep(sweep_tasks.noisy_square, {"x": [1, 2]}, 4, np.random.default_rng(0))
    two = seed_sweep(sweep_tasks.noisy_square, {"x": [1, 2]}, 4, np.random.default_rng(0),
                     workers=2)
    pd.testing.assert_frame_equal(one.drop(columns="pid"), two.drop(columns="pid"))
    assert len(one) == 8 and one["seed"].nunique() == 4


def test_seed_sweep_raises_when_a_repetition_fails():
    with pytest.raises(RuntimeError, match="repetitions failed"):
        seed_sweep(sweep_tasks.fails_on_three, {"x": [1, 3]}, 2, np.random.default_rng(0))
