"""The benchmarks reject a bad folder, number or output path before they measure anything,
and write their JSON whole or not at all."""

import datetime
import json
import os
import subprocess
import sys
import time

import pytest

from benchmarks import common
from tests.conftest import REPO_ROOT

# A flag error comes before any measurement, so it takes a few seconds at most, an import of
# TensorFlow included. A run that measured first would take tens of seconds at these sizes.
MAX_REJECT_SECONDS = 15

SMALL_TRAINING = ["--image_size=75", "--batch_size=2", "--windows=1", "--warmup_steps=1"]


def run_benchmark(module, arguments):
    start = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", module] + arguments, cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=300, check=False)
    return completed, time.monotonic() - start


def assert_rejected(completed, seconds, *fragments):
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    for fragment in fragments:
        assert fragment in completed.stderr
    assert seconds < MAX_REJECT_SECONDS


@pytest.mark.parametrize("module,arguments", [
    ("benchmarks.train_throughput", SMALL_TRAINING + ["--skip_keras"]),
    ("benchmarks.pipeline_levers", ["--variants=ours"]),
    ("benchmarks.decode_levers", ["--variants=ours"]),
])
def test_empty_data_dir_rejected(tmp_path, module, arguments):
    completed, seconds = run_benchmark(module, arguments + ["--data_dir=%s" % tmp_path])

    assert_rejected(completed, seconds, "--data_dir=%s" % tmp_path, "no files matching",
                    "data.build_imagenet_tfrecord")


def test_missing_data_dir_rejected(tmp_path):
    missing = tmp_path / "nope"
    completed, seconds = run_benchmark("benchmarks.train_throughput",
                                       SMALL_TRAINING + ["--data_dir=%s" % missing])

    assert_rejected(completed, seconds, "--data_dir=%s is not a folder" % missing)


def test_evaluation_needs_validation_shards(tmp_path):
    (tmp_path / "train-00000-of-00001").write_bytes(b"")
    completed, seconds = run_benchmark(
        "benchmarks.pipeline_levers",
        ["--data_dir=%s" % tmp_path, "--variants=ours", "--modes=evaluation"])

    assert_rejected(completed, seconds, "validation-*-of-*")


@pytest.mark.parametrize("module,arguments", [
    ("benchmarks.train_throughput", SMALL_TRAINING + ["--skip_keras"]),
    ("benchmarks.levers", SMALL_TRAINING + ["--levers=bf16"]),
    ("benchmarks.inference", ["--batch_sizes=1", "--image_size=75", "--iterations=1"]),
    ("benchmarks.input_pipeline", ["--num_batches=1"]),
])
def test_json_output_in_missing_folder_rejected(tmp_path, module, arguments):
    path = tmp_path / "missing" / "figures.json"
    completed, seconds = run_benchmark(module, arguments + ["--json_output=%s" % path])

    assert_rejected(completed, seconds, "--json_output=%s" % path, "does not exist")
    assert not path.parent.exists()


def test_json_output_folder_rejected(tmp_path):
    completed, seconds = run_benchmark("benchmarks.levers",
                                       SMALL_TRAINING + ["--json_output=%s" % tmp_path])

    assert_rejected(completed, seconds, "is a folder")


@pytest.mark.parametrize("module,arguments,message", [
    ("benchmarks.levers", ["--batch_size=0"], "--batch_size must be at least 1, got 0."),
    ("benchmarks.levers", ["--warmup_steps=-1"], "--warmup_steps must be at least 0, got -1."),
    ("benchmarks.input_pipeline", ["--batch_size=0"], "--batch_size must be at least 1"),
    ("benchmarks.input_pipeline", ["--train_per_class=0"], "--train_per_class must be at"),
])
def test_bad_number_rejected(tmp_path, module, arguments, message):
    work_dir = tmp_path / "work"
    if module == "benchmarks.input_pipeline":
        arguments = arguments + ["--work_dir=%s" % work_dir]
    completed, seconds = run_benchmark(module, arguments)

    assert_rejected(completed, seconds, message)
    assert not work_dir.exists()


def test_decode_levers_rejects_zero_batch(demo_shards):
    completed, seconds = run_benchmark("benchmarks.decode_levers",
                                       ["--data_dir=" + demo_shards, "--batch_size=0"])

    assert_rejected(completed, seconds, "--batch_size must be at least 1, got 0.")


def test_write_json_replaces_whole_file(tmp_path):
    path = tmp_path / "figures.json"
    path.write_text("old", encoding="utf-8")

    common.write_json(str(path), {"images_per_sec": 5.61})

    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["images_per_sec"] == 5.61
    assert datetime.datetime.fromisoformat(written["written_at"]).utcoffset().total_seconds() == 0
    assert sorted(written) == ["images_per_sec", "written_at"]
    assert os.listdir(tmp_path) == ["figures.json"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_json_failure_keeps_old_file(tmp_path):
    path = tmp_path / "figures.json"
    path.write_text("old", encoding="utf-8")

    with pytest.raises(TypeError):
        common.write_json(str(path), {"not serializable": object()})

    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["figures.json"]


def test_pipeline_ratios_without_ours(capsys):
    from benchmarks import pipeline_levers

    report = {"baselines": {}, "modes": {"training": {
        "straightforward": {"images_per_sec": {"median": 800.0}},
        "runner": {"images_per_sec": {"median": 1200.0}}}}}
    pipeline_levers.print_ratios(report)

    assert report["baselines"] == {"training": "straightforward"}
    assert report["modes"]["training"]["runner"]["vs_baseline"] == 1.5
    assert "runner                training   1.50x straightforward" in capsys.readouterr().out


@pytest.mark.parametrize("mode, expected", [
    ("default", {}),
    ("bf16", {"TF_SET_ONEDNN_FPMATH_MODE": "BF16"}),
    ("strict", {"TF_SET_ONEDNN_FPMATH_MODE": None, "ONEDNN_DEFAULT_FPMATH_MODE": None,
                "DNNL_DEFAULT_FPMATH_MODE": None}),
])
def test_train_throughput_fpmath_mode_reaches_children(mode, expected):
    from benchmarks import train_throughput

    arguments = train_throughput.parse_arguments(["--onednn_fpmath_mode=" + mode])
    assert train_throughput.environment_overrides(arguments) == expected
