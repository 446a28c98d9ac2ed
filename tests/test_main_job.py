"""The main job end to end on real photos: shards -> two training steps with the one-GPU
script -> evaluation -> checkpoint -> a resumed run -> the dllogger file. Also the errors that
the runner gives for bad input."""

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests import shard_helpers
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.keras3

SCRIPT = os.path.join(REPO_ROOT, "run_train_inceptionV3_imagenet.sh")

# Small enough for 2 CPU cores: the 75-pixel minimum of InceptionV3 and 2 images per step.
SMALL_RUN_FLAGS = ["--image_size=75", "--num_warmup_batches=1", "--display_every=1",
                   "--batchnorm_decay=0.9"]

# A run that never reaches training should fail well inside this many seconds.
TIMEOUT_SECONDS = 600


def run_script(args, data_dir, train_dir, log_dir):
    environment = dict(os.environ, DATA_DIR=data_dir, TRAIN_DIR=train_dir, LOG_DIR=log_dir,
                       BATCH_SIZE="2", PYTHON=sys.executable)
    return subprocess.run(["bash", SCRIPT] + args, env=environment, capture_output=True,
                          text=True, timeout=TIMEOUT_SECONDS)


def run_runner(args):
    return subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks"] + args, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def main_job(demo_shards, tmp_path_factory):
    """Train 2 steps, evaluate, then resume to step 3; return the outputs and folders."""
    work_dir = tmp_path_factory.mktemp("main_job")
    train_dir = str(work_dir / "train_dir")
    log_dir = str(work_dir / "logs")

    first = run_script(["--num_batches=2"] + SMALL_RUN_FLAGS, demo_shards, train_dir, log_dir)
    # The evaluation also runs the input pipeline with tf_cnn_benchmarks' tuning flags.
    evaluation = run_runner(["--eval", "--data_dir=" + demo_shards, "--train_dir=" + train_dir,
                             "--image_size=75", "--batch_size=3",
                             "--datasets_prefetch_buffer_size=1",
                             "--datasets_num_private_threads=1",
                             "--datasets_parallel_interleave_cycle_length=0"])
    second = run_script(["--num_batches=3"] + SMALL_RUN_FLAGS, demo_shards, train_dir, log_dir)
    return {"first": first, "evaluation": evaluation, "second": second,
            "train_dir": train_dir, "log_dir": log_dir}


def test_first_run_succeeds(main_job):
    assert main_job["first"].returncode == 0, main_job["first"].stdout + main_job["first"].stderr


def test_first_run_prints_step_table(main_job):
    stdout = main_job["first"].stdout
    assert "Step\tImg/sec\ttotal_loss" in stdout
    assert "\n1\timages/sec: " in stdout
    assert "\n2\timages/sec: " in stdout


def test_first_run_prints_total_images_per_sec(main_job):
    assert "total images/sec: " in main_job["first"].stdout


def test_first_run_writes_checkpoint(main_job):
    assert os.path.exists(os.path.join(main_job["train_dir"], "model.ckpt-2.index"))


def test_script_copies_output_to_log(main_job):
    logs = glob.glob(os.path.join(main_job["log_dir"], "*_default_2_rmsprop.log"))
    assert len(logs) == 2
    with open(sorted(logs)[0], encoding="utf-8") as log_file:
        assert "total images/sec" in log_file.read()


def test_run_uses_bfc_cpu_allocator(main_job):
    assert "CPU memory:  TensorFlow's BFC pool" in main_job["first"].stdout


def test_cpu_run_falls_back_to_nhwc(main_job):
    assert "--data_format=NCHW needs a GPU" in main_job["first"].stdout


def test_evaluation_scores_every_validation_image(main_job):
    evaluation = main_job["evaluation"]
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    assert "[20 examples]" in evaluation.stdout


def test_dataset_flags_reach_input_pipeline(main_job):
    assert ("Input:       1 batch(es) prefetched, private pool of 1 thread(s), shards read "
            "without threads") in main_job["evaluation"].stdout
    assert "Input:       prefetch autotuned, shared tf.data thread pool" in (
        main_job["first"].stdout)


def test_evaluation_reports_top_1_and_top_5(main_job):
    assert "Accuracy @ 1 = " in main_job["evaluation"].stdout
    assert "Accuracy @ 5 = " in main_job["evaluation"].stdout


def test_second_run_resumes_at_next_step(main_job):
    second = main_job["second"]
    assert second.returncode == 0, second.stdout + second.stderr
    assert "at step 2; continuing at step 3" in second.stdout
    assert "\n3\timages/sec: " in second.stdout


def test_second_run_writes_next_checkpoint(main_job):
    assert os.path.exists(os.path.join(main_job["train_dir"], "model.ckpt-3.index"))


def read_dllogger_records(train_dir):
    path = os.path.join(train_dir, "dllogger.json")
    with open(path, encoding="utf-8") as log_file:
        lines = log_file.read().splitlines()
    records = []
    for line in lines:
        assert line.startswith("DLLL "), line
        records.append(json.loads(line[len("DLLL "):]))
    return records


def test_dllogger_lines_are_dllogger_json(main_job):
    for record in read_dllogger_records(main_job["train_dir"]):
        assert {"timestamp", "datetime", "type"} <= set(record)
        assert record["type"] in ("LOG", "METADATA")


def test_dllogger_logs_flags_as_parameter(main_job):
    parameters = [record["data"] for record in read_dllogger_records(main_job["train_dir"])
                  if record.get("step") == "PARAMETER"]
    assert any(data.get("batch_size") == 2 for data in parameters)


def step_records(train_dir, metric):
    """Return the (epoch, step) LOG records of `train_dir`'s log that contain `metric`."""
    return [record for record in read_dllogger_records(train_dir)
            if record["type"] == "LOG" and isinstance(record["step"], list)
            and len(record["step"]) == 2 and metric in record["data"]]


def test_dllogger_has_training_step_records(main_job):
    records = step_records(main_job["train_dir"], "total_loss")
    assert [record["step"] for record in records] == [[0, 1], [0, 2], [0, 3]]


def test_dllogger_has_eval_records(main_job):
    records = step_records(main_job["train_dir"], "eval.top_1_accuracy")
    assert [record["step"] for record in records] == [[0, 2], [0, 3]]


def test_dllogger_has_summary(main_job):
    summaries = [record["data"] for record in read_dllogger_records(main_job["train_dir"])
                 if record["type"] == "LOG" and record["step"] == []]
    # First training run, the evaluation, the resumed run.
    assert len(summaries) == 3
    assert "eval.top_1_accuracy" in summaries[1]


def test_missing_data_dir_named(tmp_path):
    missing = str(tmp_path / "no_such_folder")
    result = run_runner(["--data_dir=" + missing, "--num_batches=1"])
    assert result.returncode != 0
    assert missing in result.stderr
    assert "train-*-of-*" in result.stderr


def test_data_dir_without_shards_named(tmp_path):
    result = run_runner(["--data_dir=" + str(tmp_path), "--num_batches=1"])
    assert result.returncode != 0
    assert "train-*-of-*" in result.stderr
    assert "Traceback" not in result.stderr


def test_label_out_of_range_names_flag(demo_shards):
    result = run_runner(["--data_dir=" + demo_shards, "--num_classes=5", "--num_batches=1",
                         "--image_size=75"])
    assert result.returncode != 0
    assert "--num_classes" in result.stderr
    assert "10" in result.stderr


def test_unknown_model_one_line():
    result = run_runner(["--model=resnet50"])
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "error: --model=resnet50 is not supported; use --model=inception3.")


def test_malformed_flag_value_without_traceback():
    result = run_runner(["--batch_size=abc"])
    assert result.returncode == 2
    assert "error: flag --batch_size=abc:" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_boolean_flag_in_words():
    result = run_runner(["--use_bf16=maybe"])
    assert result.returncode == 2
    assert ("error: flag --use_bf16=maybe: invalid value for a boolean flag. Give true or "
            "false, or write --use_bf16 or --nouse_bf16") in result.stderr
    assert "Non-boolean" not in result.stderr


def test_unknown_flag_exits_like_checks():
    result = run_runner(["--batch_sise=2"])
    assert result.returncode == 2
    assert "error: Unknown command line flag 'batch_sise'" in result.stderr


def test_conflicting_flags_reported_together():
    result = run_runner(["--num_batches=2", "--num_epochs=1", "--image_size=60",
                         "--batch_size=0", "--display_every=-3"])
    assert result.returncode == 2
    assert "--num_batches=2 and --num_epochs=1" in result.stderr
    assert "--image_size=60" in result.stderr
    assert "--batch_size=0 is invalid; use 1 or more." in result.stderr
    assert "--display_every=-3 is invalid; use 1 or more." in result.stderr


def test_bad_dataset_flags_reported_together():
    result = run_runner(["--datasets_prefetch_buffer_size=0", "--nodatasets_use_prefetch",
                         "--datasets_num_private_threads=-1",
                         "--datasets_parallel_interleave_cycle_length=-2"])
    assert result.returncode == 2
    assert "--datasets_prefetch_buffer_size=0 is invalid; use 1 or more." in result.stderr
    assert ("but --datasets_use_prefetch is false, which turns prefetching off. Drop one of "
            "the two.") in result.stderr
    assert "--datasets_num_private_threads=-1 is invalid; use 0 or more." in result.stderr
    assert ("--datasets_parallel_interleave_cycle_length=-2 is invalid; use 0 or more."
            in result.stderr)


def test_unused_flags_warned():
    result = run_runner(["--num_batches=1", "--num_warmup_batches=0", "--image_size=75",
                         "--batch_size=2", "--datasets_num_private_threads=2",
                         "--cluster_connect_timeout_secs=5"])
    assert result.returncode == 0, result.stderr
    assert ("WARNING: accepted but not used: --datasets_num_private_threads (synthetic data "
            "has no input pipeline), --cluster_connect_timeout_secs (only "
            "collective_all_reduce waits for a cluster).") in result.stdout


def test_corrupt_shard_one_line(demo_shards, tmp_path):
    data_dir = shutil.copytree(demo_shards, str(tmp_path / "shards"))
    path = shard_helpers.shard_paths(data_dir, "validation")[0]
    shard_helpers.flip_bit(path, record_index=1)

    # The check runs at the end of the shard's good records, which the second batch passes.
    result = run_runner(["--forward_only", "--data_dir=" + data_dir, "--image_size=75",
                         "--batch_size=4", "--num_batches=2", "--num_warmup_batches=0"])
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith('error: Corrupt or truncated record in shard "%s"' % path)
    assert "--verify --output_dir=%s`" % data_dir in last_line
    assert "Traceback" not in result.stderr

    skipping = run_runner(["--forward_only", "--data_dir=" + data_dir, "--image_size=75",
                           "--batch_size=4", "--num_batches=2", "--num_warmup_batches=0",
                           "--skip_corrupt_records"])
    assert skipping.returncode == 0, skipping.stderr
    assert "Skipped the rest of shard %s after 1 records" % path in skipping.stderr


def test_undecodable_image_one_line(demo_shards, tmp_path):
    data_dir = shutil.copytree(demo_shards, str(tmp_path / "shards"))
    path = shard_helpers.shard_paths(data_dir, "validation")[0]
    shard_helpers.replace_image(path, record_index=0, encoded=b"\xff\xd8\xff not a JPEG")

    result = run_runner(["--forward_only", "--data_dir=" + data_dir, "--image_size=75",
                         "--batch_size=2", "--num_batches=1", "--num_warmup_batches=0"])
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: a record in --data_dir=%s failed in the input "
                                "pipeline: " % data_dir)
    assert "JPEG" in last_line
    assert "--skip_corrupt_records" in last_line
    assert "Traceback" not in result.stderr


def test_stop_at_accuracy_needs_eval():
    result = run_runner(["--stop_at_top_1_accuracy=0.5"])
    assert result.returncode == 2
    assert "--eval_during_training_every_n_epochs" in result.stderr


def test_eval_without_checkpoint(demo_shards, tmp_path):
    result = run_runner(["--eval", "--data_dir=" + demo_shards, "--train_dir=" + str(tmp_path),
                         "--image_size=75"])
    assert result.returncode != 0
    assert "contains no checkpoint" in result.stderr


def test_script_epoch_needs_value(tmp_path):
    result = run_script(["--epoch"], str(tmp_path), str(tmp_path / "train"),
                        str(tmp_path / "logs"))
    assert result.returncode == 2
    assert "--epoch needs a value" in result.stderr
