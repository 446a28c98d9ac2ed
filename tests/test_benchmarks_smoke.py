"""Smoke tests of the benchmarks: one tiny run of each must print its figures.

They check that the benchmarks run end to end, not how fast anything is. Tracing the training
step takes most of the training benchmark's time: its float32 and bfloat16 runs took 47 s
together on an idle 2-core AMD EPYC with AVX-512, and 11 minutes on a machine shared with
other test suites (load 5-7, at nice 19).
"""

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

@pytest.mark.parametrize("precision, matmul_dtype", [("fp32", "float32"), ("bf16", "bfloat16")])
def test_train_throughput_prints_figures(precision, matmul_dtype):
    command = [sys.executable, "-m", "benchmarks.train_throughput", "--skip_keras",
               "--batch_size=2", "--image_size=75", "--warmup_steps=1", "--windows=1",
               "--matmul_size=256", "--matmul_repeats=1", "--timeout=600",
               "--precision=" + precision]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=900, check=False)
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    assert re.search(r"^ours \(synthetic\): +[0-9.]+ images/sec \(median of 1", output,
                     re.MULTILINE), output
    assert re.search(r"^matmul 256x256 %s: [0-9.]+ GFLOP/s" % matmul_dtype, output,
                     re.MULTILINE), output
    assert re.search(r"matmul-bound [0-9.]+ images/sec, reached [0-9]+ %", output), output


def test_decode_levers_prints_each_variant(demo_shards):
    command = [sys.executable, "-m", "benchmarks.decode_levers", "--data_dir=" + demo_shards,
               "--image_size=75", "--batch_size=4", "--warmup_batches=1",
               "--batches_per_window=1", "--windows=2", "--timeout=300"]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=600, check=False)
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    for variant in ("ours", "crop_only", "crop_only_fast", "whole", "whole_fast"):
        assert re.search(r"^%s +[0-9.]+ images/sec \(median of 2" % variant, output,
                         re.MULTILINE), output


def test_decode_levers_rejects_unknown_variant(demo_shards):
    command = [sys.executable, "-m", "benchmarks.decode_levers", "--data_dir=" + demo_shards,
               "--variants=ours,png_fast"]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=120, check=False)

    assert completed.returncode == 2
    assert "unknown --variants png_fast" in completed.stderr


def test_pipeline_levers_prints_figures(demo_shards, tmp_path):
    json_path = tmp_path / "levers.json"
    variants = ["ours", "runner_threaded_reads", "uint8_output", "stage_decode"]
    command = [sys.executable, "-m", "benchmarks.pipeline_levers", "--data_dir=" + demo_shards,
               "--variants=" + ",".join(variants), "--image_size=75", "--batch_size=2",
               "--warmup_batches=1", "--batches_per_window=1", "--windows=2", "--timeout=300",
               "--json_output=" + str(json_path)]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=600, check=False)
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    for variant in variants:
        assert re.search(r"^%s +training +[0-9.]+ images/sec \(median of 2" % variant, output,
                         re.MULTILINE), output
    # The stage profile has no evaluation run.
    assert not re.search(r"^stage_decode +evaluation", output, re.MULTILINE), output

    report = json.loads(json_path.read_text())
    assert sorted(report["modes"]) == ["evaluation", "training"]
    assert sorted(report["modes"]["training"]) == sorted(variants)
    for mode, entries in report["modes"].items():
        for variant, entry in entries.items():
            assert entry["images_per_sec"]["median"] > 0, (mode, variant)
            assert entry["images_per_sec"]["min"] > 0, (mode, variant)
            assert entry["peak_memory_mib"] > 0, (mode, variant)
            assert entry["vs_baseline"] > 0, (mode, variant)
            assert len(entry["window_rates"]) == 2, (mode, variant)
    assert report["baselines"] == {"training": "ours", "evaluation": "ours"}
    assert "config" not in report["settings"]
    assert report["written_at"].endswith("+00:00")


@pytest.mark.parametrize("flag, message", [
    ("--variants=ours,parallel_9", "unknown --variants parallel_9"),
    ("--modes=inference", "unknown --modes inference"),
    ("--variants=", "--variants is empty"),
    ("--windows=0", "--windows must be at least 1, got 0"),
])
def test_pipeline_levers_rejects_bad_flag(demo_shards, flag, message):
    command = [sys.executable, "-m", "benchmarks.pipeline_levers", "--data_dir=" + demo_shards,
               flag]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=120, check=False)

    assert completed.returncode == 2
    assert message in completed.stderr


def test_pipeline_levers_requires_data_dir():
    command = [sys.executable, "-m", "benchmarks.pipeline_levers"]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=120, check=False)

    assert completed.returncode == 2
    assert "--data_dir is required" in completed.stderr


def test_input_pipeline_prints_ratios(tmp_path):
    json_path = tmp_path / "pipeline.json"
    command = [sys.executable, "-m", "benchmarks.input_pipeline",
               "--work_dir=" + str(tmp_path / "work"), "--train_per_class=4",
               "--val_per_class=2", "--num_batches=2", "--image_size=75", "--batch_size=4",
               "--json_output=" + str(json_path)]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=900, check=False)
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    assert re.search(r"^converter, 1 worker on 1 core: train [0-9.]+", output, re.MULTILINE), output
    for mode in ("training", "evaluation"):
        assert re.search(r"^ours / straightforward, %s, 1 core: [0-9.]+x$" % mode, output,
                         re.MULTILINE), output
    assert json_path.is_file()


@pytest.mark.parametrize("image_dtype", ["float32", "uint8"])
def test_benchmark_pipeline_prints_rates(demo_shards, image_dtype):
    command = [sys.executable, "-m", "data.benchmark_pipeline", "--data_dir=" + demo_shards,
               "--image_size=75", "--batch_size=4", "--num_batches=2", "--warmup_batches=1",
               "--windows=2", "--image_dtype=" + image_dtype]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=300, check=False)
    output = completed.stdout + completed.stderr

    assert completed.returncode == 0, output
    assert "%s images" % image_dtype in output
    for mode in ("training", "evaluation"):
        match = re.search(r"^%s preprocessing: ([0-9.]+) images/sec.*; 2 windows from "
                          r"([0-9.]+) to ([0-9.]+) images/sec\)$" % mode, output, re.MULTILINE)
        assert match, output
        assert float(match.group(1)) > 0
        assert float(match.group(2)) <= float(match.group(3))


def test_benchmark_pipeline_rejects_bad_dtype(demo_shards):
    command = [sys.executable, "-m", "data.benchmark_pipeline", "--data_dir=" + demo_shards,
               "--image_dtype=float16"]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True,
                               timeout=120, check=False)

    assert completed.returncode != 0
    assert "image_dtype" in completed.stderr
