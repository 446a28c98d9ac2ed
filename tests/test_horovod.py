"""--variable_update=horovod with real Horovod processes on 127.0.0.1 (Gloo, no MPI).

Horovod 0.28.1 builds only against TensorFlow 2.15, so these tests run on that line. They skip
where Horovod is missing, unless REQUIRE_HOROVOD=1 (set by scripts/run_tests.sh for the
TensorFlow 2.15 line), which turns a missing Horovod into a failure.
"""

import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.test_main_job import read_dllogger_records
from tests.test_main_job import step_records

HOROVOD_INSTALLED = importlib.util.find_spec("horovod") is not None
HOROVODRUN = os.path.join(os.path.dirname(sys.executable), "horovodrun")
CHECK_SCRIPT = os.path.join(REPO_ROOT, "tests", "replica_check.py")

# Two processes that each build InceptionV3 on 2 shared cores; a hang shows up as a timeout.
TIMEOUT_SECONDS = 420

needs_horovod = pytest.mark.skipif(
    not HOROVOD_INSTALLED and os.environ.get("REQUIRE_HOROVOD") != "1",
    reason="Horovod is not installed (requirements-horovod.txt installs it)")


def run_processes(num_processes, command):
    """Run `command` in `num_processes` Horovod processes on this host; return the result."""
    launcher = [HOROVODRUN, "-np", str(num_processes), "-H", "localhost:%d" % num_processes,
                "--gloo", "--network-interface", "lo"]
    return subprocess.run(launcher + command, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT_SECONDS)


def check_success(result):
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def read_rank_results(output_dir, num_processes):
    results = []
    for rank in range(num_processes):
        with open(os.path.join(output_dir, "rank%d.json" % rank), encoding="utf-8") as file:
            results.append(json.load(file))
    return results


def rank_lines(stdout, rank):
    """Return the stdout lines horovodrun tagged with `rank`, without the tag."""
    tag = "[%d]<stdout>:" % rank
    return [line[len(tag):] for line in stdout.splitlines() if line.startswith(tag)]


@needs_horovod
def test_two_ranks_match_double_batch(tmp_path):
    single_dir = tmp_path / "single"
    ranks_dir = tmp_path / "ranks"
    single_dir.mkdir()
    ranks_dir.mkdir()

    single = subprocess.run([sys.executable, CHECK_SCRIPT, "update", "--batch_size=4",
                             "--output_dir=%s" % single_dir], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    check_success(single)
    ranks = run_processes(2, [sys.executable, CHECK_SCRIPT, "update", "--horovod",
                              "--batch_size=2", "--output_dir=%s" % ranks_dir])
    check_success(ranks)

    single_result = read_rank_results(single_dir, 1)[0]
    rank_results = read_rank_results(ranks_dir, 2)
    assert rank_results[0]["workers"] == 2
    # The step must move the weights, or equal weights would prove nothing.
    assert single_result["max_change"] > 1e-4
    # The logged loss is the mean over both ranks, so it equals the loss of the whole batch.
    assert rank_results[0]["total_loss"] == pytest.approx(single_result["total_loss"], rel=1e-5)

    single_weights = np.load(single_dir / "weights_rank0.npz")
    for rank in range(2):
        rank_weights = np.load(ranks_dir / ("weights_rank%d.npz" % rank))
        assert sorted(rank_weights) == sorted(single_weights)
        # The two runs sum the same gradients in a different order: float32 rounding only.
        worst = max(float(np.abs(rank_weights[key] - single_weights[key]).max())
                    for key in single_weights)
        assert worst < 1e-6, "rank %d differs from one process by %g" % (rank, worst)


@needs_horovod
def test_ranks_agree_after_training_and_restore(demo_shards, tmp_path):
    train_dir = str(tmp_path / "train")
    runner_flags = ["--variable_update=horovod", "--data_dir=" + demo_shards,
                    "--image_size=75", "--batch_size=2", "--train_dir=" + train_dir]
    digests = []
    for num_batches in (2, 3):
        output_dir = tmp_path / ("steps%d" % num_batches)
        output_dir.mkdir()
        result = run_processes(2, [sys.executable, CHECK_SCRIPT, "checksums",
                                   "--output_dir=%s" % output_dir, "--"] + runner_flags
                               + ["--num_batches=%d" % num_batches])
        check_success(result)
        digests.append(read_rank_results(output_dir, 2))

    first, resumed = digests
    assert [rank["global_step"] for rank in first] == [2, 2]
    assert [rank["start_step"] for rank in resumed] == [2, 2]
    assert [rank["global_step"] for rank in resumed] == [3, 3]
    for run in (first, resumed):
        # Everything after the restore: weights, batch-norm statistics, slots, EMA and step.
        assert run[0]["after_restore"] == run[1]["after_restore"]
        # After training only the batch-norm statistics may differ, since each rank keeps its
        # own; the trainable weights and the optimizer slots must not.
        assert run[0]["trained_and_slots"] == run[1]["trained_and_slots"]


@pytest.fixture(scope="module")
def uneven_shards(demo_imagenet_dir, tmp_path_factory):
    """18 training images in 3 shards, so one rank reads 2 shards and the other 1, and 12
    validation images in 3 shards."""
    from data import build_imagenet_tfrecord

    subset_dir = tmp_path_factory.mktemp("uneven_imagenet")
    for split, per_synset in (("train", 3), ("val", 2)):
        synsets = sorted(os.listdir(os.path.join(demo_imagenet_dir, split)))[:6]
        for synset in synsets:
            os.makedirs(subset_dir / split / synset)
            names = sorted(os.listdir(os.path.join(demo_imagenet_dir, split, synset)))
            for name in names[:per_synset]:
                shutil.copy(os.path.join(demo_imagenet_dir, split, synset, name),
                            subset_dir / split / synset / name)
    output_dir = str(tmp_path_factory.mktemp("uneven_shards"))
    build_imagenet_tfrecord.convert(str(subset_dir), output_dir, train_shards=3,
                                    validation_shards=3)
    return output_dir


@pytest.fixture(scope="module")
def horovod_run(uneven_shards, tmp_path_factory):
    """Two ranks train 2 epochs of the uneven shards (9 steps of 2 x 2 images) and evaluate."""
    train_dir = str(tmp_path_factory.mktemp("horovod_run") / "train")
    result = run_processes(2, [
        sys.executable, "-m", "tf_cnn_benchmarks", "--variable_update=horovod",
        "--data_dir=" + uneven_shards, "--train_dir=" + train_dir, "--image_size=75",
        "--batch_size=2", "--num_epochs=2", "--num_warmup_batches=1", "--display_every=1",
        "--eval_during_training_every_n_steps=9", "--batchnorm_decay=0.9"])
    return {"result": result, "train_dir": train_dir}


@needs_horovod
def test_uneven_data_finishes_on_all_ranks(horovod_run):
    check_success(horovod_run["result"])
    table = [line for line in rank_lines(horovod_run["result"].stdout, 0)
             if line.split("\t")[0].isdigit()]
    assert table[-1].startswith("9\t")


@needs_horovod
def test_only_rank_zero_prints(horovod_run):
    stdout = horovod_run["result"].stdout
    assert "total images/sec" in "\n".join(rank_lines(stdout, 0))
    assert rank_lines(stdout, 1) == []


@needs_horovod
def test_eval_counts_each_image_once(horovod_run):
    lines = rank_lines(horovod_run["result"].stdout, 0)
    accuracy_lines = [line for line in lines if line.startswith("Accuracy @ 1")]
    assert accuracy_lines
    for line in accuracy_lines:
        assert "[12 examples]" in line


@needs_horovod
def test_only_rank_zero_writes_files(horovod_run):
    check_success(horovod_run["result"])
    train_dir = horovod_run["train_dir"]
    assert len(glob.glob(os.path.join(train_dir, "events.out.tfevents.*"))) == 1
    assert os.path.isfile(os.path.join(train_dir, "model.ckpt-9.index"))
    records = step_records(train_dir, "total_loss")
    # One record per logged step, not one per rank.
    assert [record["step"][1] for record in records] == list(range(1, 10))
    parameters = {}
    for record in read_dllogger_records(train_dir):
        if record.get("step") == "PARAMETER":
            parameters.update(record["data"])
    assert parameters["world_size"] == 2
    assert parameters["global_batch_size"] == 4


def test_horovod_with_several_gpus_rejected():
    result = subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks",
                             "--variable_update=horovod", "--num_gpus=2"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 2
    assert "horovodrun -np 2" in result.stderr


@pytest.mark.keras3
@pytest.mark.skipif(HOROVOD_INSTALLED, reason="Horovod is installed here")
def test_missing_horovod_named():
    result = subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks",
                             "--variable_update=horovod", "--num_batches=1"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode != 0
    assert "needs Horovod with TensorFlow support" in result.stderr
    assert "requirements-horovod.txt" in result.stderr
    assert "Traceback" not in result.stderr
