"""The runner's --datasets_* flags: the dataset settings they give and the start-up line."""

import types

import pytest
import tensorflow as tf

from data import record_reading
from tf_cnn_benchmarks import dataset_options

pytestmark = pytest.mark.keras3


def flag_values(**overrides):
    values = {"datasets_use_prefetch": True, "datasets_prefetch_buffer_size": None,
              "datasets_num_private_threads": None,
              "datasets_parallel_interleave_cycle_length": None}
    values.update(overrides)
    return types.SimpleNamespace(**values)


def test_defaults_autotune_on_shared_pool():
    assert dataset_options.dataset_tuning(flag_values()) == {
        "prefetch_batches": tf.data.AUTOTUNE, "num_private_threads": None,
        "num_parallel_reads": None}


def test_flags_reach_settings():
    tuning = dataset_options.dataset_tuning(flag_values(
        datasets_prefetch_buffer_size=3, datasets_num_private_threads=4,
        datasets_parallel_interleave_cycle_length=0))
    assert tuning == {"prefetch_batches": 3, "num_private_threads": 4, "num_parallel_reads": 0}


def test_zero_private_threads_means_shared_pool():
    tuning = dataset_options.dataset_tuning(flag_values(datasets_num_private_threads=0))
    assert tuning["num_private_threads"] is None


def test_prefetch_off():
    tuning = dataset_options.dataset_tuning(flag_values(datasets_use_prefetch=False))
    assert tuning["prefetch_batches"] == 0
    assert dataset_options.describe(tuning).startswith("no prefetch, ")


def test_describe_names_each_setting():
    tuning = dataset_options.dataset_tuning(flag_values(
        datasets_prefetch_buffer_size=2, datasets_num_private_threads=3,
        datasets_parallel_interleave_cycle_length=12))
    assert dataset_options.describe(tuning) == (
        "2 batch(es) prefetched, private pool of 3 thread(s), shards read by 12 thread(s)")


def test_describe_reports_the_chosen_reading(monkeypatch):
    tuning = dataset_options.dataset_tuning(flag_values())
    monkeypatch.setattr(record_reading, "usable_cores", lambda: 1)
    assert dataset_options.describe(tuning) == (
        "prefetch autotuned, shared tf.data thread pool, shards read without threads")
    monkeypatch.setattr(record_reading, "usable_cores", lambda: 8)
    assert dataset_options.describe(tuning).endswith("shards read by autotuned threads")
