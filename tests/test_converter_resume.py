"""Tests of a killed and resumed conversion, --overwrite rollback and --verify."""

import fnmatch
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from data import build_imagenet_tfrecord
from data import imagenet_tfrecord
from data import progress
from data import verify_shards
from data.image_files import InvalidInputError
from tests import shard_helpers

pytestmark = pytest.mark.keras3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Copies of each demo training image, so that one shard per image gives a run long enough
# (a few seconds) to be killed in the middle.
COPIES = 5
KILL_TIMEOUT_SECONDS = 120


def converter_command(input_dir, output_dir):
    return [sys.executable, "-m", "data.build_imagenet_tfrecord", "--input_dir=" + input_dir,
            "--output_dir=" + output_dir, "--train_shards=1000", "--validation_shards=1",
            "--num_workers=1"]


def finished_shards(output_dir):
    return fnmatch.filter(os.listdir(output_dir), "train-*-of-*")


@pytest.fixture(scope="module")
def many_images(demo_imagenet_dir, tmp_path_factory):
    input_dir = str(tmp_path_factory.mktemp("many") / "input")
    shutil.copytree(demo_imagenet_dir, input_dir)
    train_dir = os.path.join(input_dir, "train")
    for synset in os.listdir(train_dir):
        for name in os.listdir(os.path.join(train_dir, synset)):
            for copy in range(1, COPIES):
                shutil.copy(os.path.join(train_dir, synset, name),
                            os.path.join(train_dir, synset, "copy%d_%s" % (copy, name)))
    return input_dir


@pytest.fixture(scope="module")
def killed(many_images, tmp_path_factory):
    """An output folder of a conversion killed with SIGKILL after its first shards."""
    output_dir = str(tmp_path_factory.mktemp("killed") / "output")
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    process = subprocess.Popen(converter_command(many_images, output_dir), cwd=REPO_ROOT,
                               env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + KILL_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if os.path.isdir(output_dir) and len(finished_shards(output_dir)) >= 3:
                break
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return output_dir, process.returncode


@pytest.fixture()
def killed_copy(killed, tmp_path):
    return shutil.copytree(killed[0], str(tmp_path / "output"))


def test_kill_interrupted_run(killed):
    output_dir, returncode = killed
    assert returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(output_dir, "dataset_info.json"))


def test_kill_leaves_whole_shards(killed):
    output_dir, _ = killed
    names = finished_shards(output_dir)
    assert len(names) >= 3
    for name in names:
        records = list(tf.data.TFRecordDataset(os.path.join(output_dir, name)))
        assert len(records) == 1, name


def test_killed_folder_rejected(killed):
    with pytest.raises(imagenet_tfrecord.DataDirError, match="did not finish"):
        imagenet_tfrecord.find_shards(killed[0], "train")


def test_resume_matches_fresh(killed_copy, many_images, tmp_path):
    build_imagenet_tfrecord.convert(many_images, killed_copy, train_shards=1000,
                                    validation_shards=1, num_workers=2)
    build_imagenet_tfrecord.convert(many_images, str(tmp_path / "fresh"), train_shards=1000,
                                    validation_shards=1, num_workers=1)
    resumed_names = sorted(os.listdir(killed_copy))
    assert resumed_names == sorted(os.listdir(tmp_path / "fresh"))
    for name in resumed_names:
        if name == "dataset_info.json":
            continue
        with open(os.path.join(killed_copy, name), "rb") as resumed, open(
                tmp_path / "fresh" / name, "rb") as fresh:
            assert resumed.read() == fresh.read(), name


def test_resume_keeps_finished(killed_copy, many_images):
    before = {name: os.stat(os.path.join(killed_copy, name)).st_ino
              for name in finished_shards(killed_copy)}
    info = build_imagenet_tfrecord.convert(many_images, killed_copy, train_shards=1000,
                                           validation_shards=1, num_workers=1)
    after = {name: os.stat(os.path.join(killed_copy, name)).st_ino for name in before}
    assert after == before
    assert info["splits"]["train"]["num_images"] == 80 * COPIES


def test_resume_other_options_rejected(killed_copy, many_images):
    with pytest.raises(InvalidInputError, match="unfinished conversion with other input"):
        build_imagenet_tfrecord.convert(many_images, killed_copy, train_shards=1000,
                                        validation_shards=1, seed=7)


def test_overwrite_unfinished_starts_over(killed_copy, many_images):
    info = build_imagenet_tfrecord.convert(many_images, killed_copy, train_shards=50,
                                           validation_shards=1, num_workers=1, overwrite=True)
    assert info["splits"]["train"]["num_shards"] == 50
    assert len(finished_shards(killed_copy)) == 50


def test_overwrite_error_restores(demo_imagenet_dir, tmp_path):
    input_dir = shard_helpers.make_small_input(tmp_path / "input", demo_imagenet_dir, 2, 2)
    output_dir = str(tmp_path / "output")
    build_imagenet_tfrecord.convert(input_dir, output_dir, num_workers=1)
    before = {name: open(os.path.join(output_dir, name), "rb").read()
              for name in os.listdir(output_dir)}

    synset = sorted(os.listdir(os.path.join(input_dir, "train")))[0]
    open(os.path.join(input_dir, "train", synset, "zero.JPEG"), "wb").close()
    with pytest.raises(InvalidInputError, match="zero.JPEG cannot be decoded"):
        build_imagenet_tfrecord.convert(input_dir, output_dir, num_workers=1, overwrite=True,
                                        strict=True, train_shards=3)
    after = {name: open(os.path.join(output_dir, name), "rb").read()
             for name in os.listdir(output_dir)}
    assert after == before


@pytest.fixture()
def shard_copy(demo_shards, tmp_path):
    return shutil.copytree(demo_shards, str(tmp_path / "shards"))


def test_verify_clean(shard_copy):
    lines, problems = verify_shards.verify(shard_copy)
    assert problems == []
    assert lines == ["train: 80 records read, 0 problems",
                     "validation: 20 records read, 0 problems"]


def test_verify_bit_flip(shard_copy):
    path = shard_helpers.shard_paths(shard_copy, "train")[1]
    shard_helpers.flip_bit(path, record_index=3)
    _, problems = verify_shards.verify(shard_copy)
    assert any(problem.startswith(path + " record 3: corrupt") for problem in problems)


def test_verify_cut_shard(shard_copy):
    path = shard_helpers.shard_paths(shard_copy, "validation")[0]
    shard_helpers.cut_shard(path, record_index=5, extra_bytes=100)
    _, problems = verify_shards.verify(shard_copy)
    assert len(problems) == 1
    assert problems[0].startswith(path + " record 5: corrupt or truncated (")
    assert problems[0].endswith("; the rest of the shard cannot be read, so 5 of its 10 "
                                "records are lost")
    assert "function_node" not in problems[0]
    assert "[Op:" not in problems[0]


def test_verify_count_mismatch(shard_copy):
    info_path = os.path.join(shard_copy, "dataset_info.json")
    with open(info_path) as info_file:
        info = json.load(info_file)
    info["splits"]["train"]["images_per_shard"][2] = 21
    with open(info_path, "w") as info_file:
        json.dump(info, info_file)
    path = shard_helpers.shard_paths(shard_copy, "train")[2]
    _, problems = verify_shards.verify(shard_copy)
    assert problems == ["%s: 20 records, dataset_info.json lists 21" % path]


def test_verify_label_out_of_range(shard_copy):
    info_path = os.path.join(shard_copy, "dataset_info.json")
    with open(info_path) as info_file:
        info = json.load(info_file)
    info["synsets"] = info["synsets"][:9]
    with open(info_path, "w") as info_file:
        json.dump(info, info_file)
    _, problems = verify_shards.verify(shard_copy)
    assert problems
    assert all("label 10 is outside [1, 10)" in problem for problem in problems)


def test_verify_command_fails(shard_copy):
    path = shard_helpers.shard_paths(shard_copy, "train")[0]
    shard_helpers.flip_bit(path, record_index=0)
    completed = subprocess.run(
        [sys.executable, "-m", "data.build_imagenet_tfrecord", "--verify",
         "--output_dir=" + shard_copy], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), check=False)
    assert completed.returncode != 0
    assert "problem: %s record 0: corrupt" % path in completed.stdout
    assert "train: 60 records read, 1 problem\n" in completed.stdout
    assert "error: 1 problem found in %s" % shard_copy in completed.stderr


def test_progress_line_rate_and_eta():
    now = [0.0]
    stream = io.StringIO()
    line_printer = progress.Progress("train", 100, stream=stream, clock=lambda: now[0])
    now[0] = 2.0
    line_printer.advance(20)
    assert line_printer.line() == "train: 20/100 images (20.0 %), 10.0 images/sec, ETA unknown"
    assert stream.getvalue() == line_printer.line() + "\n"

    now[0] = 3.0
    line_printer.advance(40)
    assert line_printer.line() == "train: 60/100 images (60.0 %), 20.0 images/sec, ETA 0:00:01"


def test_progress_eta_leaves_out_start_up():
    # The workers took 10 s to start, then decode 100 images/sec.
    now = [0.0]
    line_printer = progress.Progress("train", 1000, stream=io.StringIO(), clock=lambda: now[0])
    now[0] = 10.0
    line_printer.advance(1)
    now[0] = 11.0
    line_printer.advance(100)
    assert line_printer.line() == "train: 101/1000 images (10.1 %), 9.2 images/sec, ETA 0:00:09"
    line_printer.advance(899)
    assert line_printer.line().endswith("ETA 0:00:00")


def test_progress_resumed_images_not_timed():
    now = [0.0]
    line_printer = progress.Progress("train", 300, stream=io.StringIO(), clock=lambda: now[0])
    line_printer.advance(200, resumed=True)
    now[0] = 1.0
    line_printer.advance(10)
    now[0] = 2.0
    line_printer.advance(50)
    assert line_printer.steady_rate() == 50.0
    assert line_printer.line().endswith("ETA 0:00:01")
