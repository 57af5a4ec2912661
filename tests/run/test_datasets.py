"""Real data kinds: scikit-learn's digits and MNIST-1D, each with a fixed train/test split whose
test samples are never presented."""

import numpy as np

import asyncpc as ap
from asyncpc.datasets import digits, mnist1d
from asyncpc.runner import make_datasets


def _rows(a: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in a}


def test_digits_split_is_fixed_scaled_one_hot_and_disjoint():
    train, test = digits()
    assert (len(train), len(test)) == (1257, 540)
    assert train.arrays["input"].shape[1] == 64
    assert train.arrays["input"].min() == 0.0 and train.arrays["input"].max() == 1.0
    for ds in (train, test):
        y = ds.arrays["label"]
        assert np.array_equal(y.sum(axis=1), np.ones(len(ds))) and set(np.unique(y)) == {0, 1}
    # every class in both parts, and the split is the same on every call
    assert set(test.arrays["label"].argmax(axis=1)) == set(range(10))
    again, _ = digits()
    assert np.array_equal(again.arrays["input"], train.arrays["input"])
    # held-out images are not training images (the data set has no exact duplicates across)
    assert not _rows(train.arrays["input"]) & _rows(test.arrays["input"])


def test_mnist1d_is_generated_locally_and_leaves_global_random_state_alone():
    # the generator seeds numpy's global generator; the legacy API is what is being guarded
    np.random.seed(123)  # noqa: NPY002
    before = np.random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    train, test = mnist1d(low=-1.0, high=1.0)
    assert np.random.random() == before  # noqa: NPY002 (the global seeding was undone)
    assert (len(train), len(test)) == (4000, 1000)
    assert train.arrays["input"].shape[1] == 40
    assert abs(train.arrays["input"].mean()) < 0.05  # standardised by the generator
    assert set(np.unique(train.arrays["label"])) == {-1.0, 1.0}
    assert not _rows(train.arrays["input"]) & _rows(test.arrays["input"])


def test_the_digits_scenario_presents_only_training_digits_and_scores_the_test_split():
    scenario = ap.load_scenario("scenarios/digits.toml", ["data.train_count=100",
                                                          "data.test_count=50"])
    train, test = make_datasets(scenario)
    assert (len(train), len(test)) == (100, 50)
    full_train, full_test = digits()
    assert np.array_equal(train.arrays["input"], full_train.arrays["input"][:100])
    assert np.array_equal(test.arrays["input"], full_test.arrays["input"][:50])
    # the same split whatever the run's seed
    other, _ = make_datasets(scenario.with_overrides(["run.seed=7"]))
    assert np.array_equal(other.arrays["input"], train.arrays["input"])
