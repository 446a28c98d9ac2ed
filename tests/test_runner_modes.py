"""The runner as users drive it: exact resume, SIGTERM, evaluation modes, precision modes,
forward-only timing, TensorBoard scalars and the plot of the dllogger log."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT

# Small enough for 2 CPU cores; a higher learning rate than the recipe's so that weights move.
SMALL_FLAGS = ["--image_size=75", "--batch_size=2", "--num_warmup_batches=1",
               "--display_every=1", "--batchnorm_decay=0.9", "--init_learning_rate=0.01"]

TIMEOUT_SECONDS = 600

# Address-space limit (RLIMIT_AS) of the runner in the out-of-memory test, so the test can
# never take much of the machine's memory. Importing TensorFlow and building InceptionV3 at
# 75 x 75 peaked at about 2.5 GiB of address space (VmPeak, TF 2.15.1, 2 CPU cores).
OOM_ADDRESS_SPACE_BYTES = 6 * 2**30

# The synthetic batch is 1,000,000 x 75 x 75 x 3 float32 values, 67.5 GB, far over the limit,
# so TensorFlow fails to allocate it before any page is touched.
OOM_BATCH_SIZE = 1000000

# Python code that sets the address-space limit and then execs the runner with the arguments
# that follow. subprocess' preexec_fn could set the limit too, but it is unsafe in a process
# that runs threads, as pytest does once TensorFlow is imported.
LIMITED_RUNNER = ("import os, resource, sys; "
                  "resource.setrlimit(resource.RLIMIT_AS, (%d, %d)); "
                  "os.execv(sys.executable, [sys.executable, '-m', 'tf_cnn_benchmarks'] "
                  "+ sys.argv[1:])" % (OOM_ADDRESS_SPACE_BYTES, OOM_ADDRESS_SPACE_BYTES))


def run_runner(args):
    return subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks"] + args, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS)


def learning_rates_by_step(train_dir):
    rates = {}
    with open(os.path.join(train_dir, "dllogger.json"), encoding="utf-8") as log_file:
        for line in log_file:
            record = json.loads(line[len("DLLL "):])
            step = record.get("step")
            if isinstance(step, list) and len(step) == 2 and "learning_rate" in record["data"]:
                rates[step[1]] = record["data"]["learning_rate"]
    return rates


@pytest.fixture(scope="module")
def resumed_runs(demo_shards, tmp_path_factory):
    """Four steps in one run, and the same four steps split over two runs."""
    work_dir = tmp_path_factory.mktemp("resume")
    straight = str(work_dir / "straight")
    split = str(work_dir / "split")
    common = ["--data_dir=" + demo_shards, "--num_epochs_per_decay=0.05",
              "--deterministic"] + SMALL_FLAGS
    outputs = {
        "straight": run_runner(common + ["--train_dir=" + straight, "--num_batches=4",
                                         "--print_training_accuracy"]),
        "first_half": run_runner(common + ["--train_dir=" + split, "--num_batches=2"]),
        "second_half": run_runner(common + ["--train_dir=" + split, "--num_batches=4"]),
    }
    return {"straight": straight, "split": split, "outputs": outputs}


def test_resume_runs_succeed(resumed_runs):
    for name, result in resumed_runs["outputs"].items():
        assert result.returncode == 0, name + ": " + result.stdout + result.stderr


def test_resume_logs_same_learning_rates(resumed_runs):
    straight = learning_rates_by_step(resumed_runs["straight"])
    split = learning_rates_by_step(resumed_runs["split"])
    assert sorted(split) == [1, 2, 3, 4]
    assert split == straight


def checkpoint_values(checkpoint_prefix):
    """Return {name: array} of every numeric tensor in a checkpoint, without the save
    counter, which counts the saves of one run and so differs after a resume."""
    reader = tf.train.load_checkpoint(checkpoint_prefix)
    values = {}
    for name, _ in tf.train.list_variables(checkpoint_prefix):
        value = np.asarray(reader.get_tensor(name))
        if name.startswith("save_counter/") or value.dtype.kind not in "fiu":
            continue
        values[name] = value
    return values


@pytest.mark.keras3
def test_resume_bitwise_exact(resumed_runs):
    straight = checkpoint_values(os.path.join(resumed_runs["straight"], "model.ckpt-4"))
    split = checkpoint_values(os.path.join(resumed_runs["split"], "model.ckpt-4"))

    assert sorted(split) == sorted(straight)
    # Weights (the auxiliary head's too), batch-norm statistics, EMA, optimizer slots and the
    # step.
    assert any(name.startswith("model/aux_logits") for name in straight)
    assert any(name.startswith("optimizer/slots/") for name in straight)
    assert any(name.startswith("ema/") for name in straight)
    differing = [name for name in straight if not np.array_equal(straight[name], split[name])]
    assert differing == []


@pytest.mark.keras3
def test_deterministic_turns_off_memory_optimizer():
    # Grappler's memory optimizer adds gradients in the order they arrive, which changes
    # with thread timing; --deterministic relies on it staying off for tf.function calls.
    code = ("from tensorflow.core.protobuf import config_pb2, rewriter_config_pb2\n"
            "from tensorflow.python.eager import context\n"
            "from tf_cnn_benchmarks import determinism\n"
            "determinism.enable_determinism()\n"
            "config = config_pb2.ConfigProto()\n"
            "config.ParseFromString(\n"
            "    context.context().function_call_options.config_proto_serialized)\n"
            "print(config.graph_options.rewrite_options.memory_optimization\n"
            "      == rewriter_config_pb2.RewriterConfig.NO_MEM_OPT)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


def test_training_accuracy_columns(resumed_runs):
    stdout = resumed_runs["outputs"]["straight"].stdout
    assert "Step\tImg/sec\ttotal_loss\ttop_1_accuracy\ttop_5_accuracy" in stdout


def test_tensorboard_events_written(resumed_runs):
    assert glob.glob(os.path.join(resumed_runs["straight"], "events.out.tfevents.*"))


def test_plot_log_writes_png(resumed_runs, tmp_path):
    output = str(tmp_path / "curves.png")
    result = subprocess.run(
        [sys.executable, "-m", "tf_cnn_benchmarks.plot_log",
         os.path.join(resumed_runs["straight"], "dllogger.json"), "--output=" + output],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    assert result.returncode == 0, result.stderr
    with open(output, "rb") as image_file:
        assert image_file.read(8) == b"\x89PNG\r\n\x1a\n"


def test_eval_of_checkpoint_prefix(resumed_runs, demo_shards):
    prefix = os.path.join(resumed_runs["split"], "model.ckpt-2")
    result = run_runner(["--eval", "--checkpoint=" + prefix, "--data_dir=" + demo_shards,
                         "--image_size=75", "--batch_size=4"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model.ckpt-2 (step 2)" in result.stdout
    assert "moving-average weights" in result.stdout


def test_eval_folder_skips_damaged_latest(resumed_runs, demo_shards, tmp_path):
    # --checkpoint names the folder and no model flags: they come from its model_config.json.
    folder = str(tmp_path / "split")
    shutil.copytree(resumed_runs["split"], folder)
    with open(os.path.join(folder, "model.ckpt-4.index"), "r+b") as index_file:
        index_file.truncate(10)

    result = run_runner(["--eval", "--checkpoint=" + folder, "--data_dir=" + demo_shards,
                         "--batch_size=4"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "model_config.json: " in result.stdout
    assert "model.ckpt-4 cannot be read" in result.stdout
    assert "model.ckpt-2 (step 2)" in result.stdout


def test_eval_with_wrong_class_count(resumed_runs, demo_shards):
    result = run_runner(["--eval", "--train_dir=" + resumed_runs["split"], "--num_classes=5",
                         "--data_dir=" + demo_shards])
    assert result.returncode != 0
    assert "--num_classes=11" in result.stderr


def test_eval_interval_stops_after_timeout(resumed_runs, demo_shards):
    result = run_runner(["--eval", "--train_dir=" + resumed_runs["straight"],
                         "--data_dir=" + demo_shards, "--eval_interval_secs=1",
                         "--eval_timeout_secs=2", "--batch_size=4"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model.ckpt-4 (step 4)" in result.stdout
    assert "No new checkpoint for 2 s; stopping." in result.stdout


def test_sigterm_saves_and_resumes(demo_shards, tmp_path):
    train_dir = str(tmp_path / "train")
    args = [sys.executable, "-m", "tf_cnn_benchmarks", "--data_dir=" + demo_shards,
            "--train_dir=" + train_dir, "--num_batches=200"] + SMALL_FLAGS
    process = subprocess.Popen(args, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.time() + TIMEOUT_SECONDS
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("2\timages/sec"):
            process.send_signal(signal.SIGTERM)
            break
    output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    lines.append(output)
    text = "".join(lines)

    assert process.returncode == 128 + signal.SIGTERM, text
    assert "SIGTERM received: stopped after step" in text
    assert tf.train.latest_checkpoint(train_dir) is not None


def test_non_finite_loss_stops(demo_shards, tmp_path):
    result = run_runner(["--data_dir=" + demo_shards, "--train_dir=" + str(tmp_path),
                         "--num_batches=6", "--image_size=75", "--batch_size=2",
                         "--init_learning_rate=1e30", "--gradient_clip=0"])
    assert result.returncode != 0
    assert "the loss is nan" in result.stderr or "the loss is inf" in result.stderr


# XLA is tested in process on a small model (test_training_parts.py): compiling InceptionV3
# with XLA takes minutes on 2 CPU cores.
@pytest.mark.parametrize("precision_flag", ["--use_bf16", "--use_fp16"])
def test_precision_modes_train(precision_flag):
    result = run_runner([precision_flag, "--num_batches=2", "--image_size=75",
                         "--batch_size=2", "--num_warmup_batches=1"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "total images/sec: " in result.stdout


def test_fp16_on_cpu_says_so():
    result = run_runner(["--use_fp16", "--num_batches=1", "--image_size=75", "--batch_size=2"])
    assert "--use_fp16 without a GPU" in result.stdout


def test_forward_only_reports_throughput():
    result = run_runner(["--forward_only", "--num_batches=3", "--image_size=75",
                         "--batch_size=2", "--num_warmup_batches=1"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "total images/sec: " in result.stdout


def test_periodic_eval_needs_validation_shards(demo_shards, tmp_path):
    data_dir = tmp_path / "train_only"
    data_dir.mkdir()
    for path in glob.glob(os.path.join(demo_shards, "train-*")):
        shutil.copy(path, data_dir)
    result = run_runner(["--data_dir=" + str(data_dir), "--num_batches=1", "--image_size=75",
                         "--eval_during_training_every_n_epochs=1"])
    assert result.returncode != 0
    assert "--eval_during_training_every_n_epochs=0" in result.stderr


# NOTE: the allocation that fails here is the synthetic batch's, outside the training step.
# Under the same limit, a failed allocation inside the step (--batch_size=4096) crashed or
# hung the runner instead of reaching its message: SIGSEGV in a oneDNN convolution with TF
# 2.15.1, a hang with TF 2.21, and std::bad_alloc with TF 2.21 and TF_ENABLE_ONEDNN_OPTS=0.
@pytest.mark.keras3
def test_out_of_memory_names_batch_size():
    result = subprocess.run(
        [sys.executable, "-c", LIMITED_RUNNER, "--image_size=75",
         "--batch_size=%d" % OOM_BATCH_SIZE, "--num_batches=1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    output = result.stdout[-3000:] + result.stderr[-3000:]

    assert result.returncode == 1, output
    assert "error: out of memory at --batch_size=%d" % OOM_BATCH_SIZE in result.stderr, output
    assert "Lower the batch size." in result.stderr, output
    assert "OOM when allocating tensor with shape" in result.stderr, output
    assert "Traceback" not in result.stderr, output
