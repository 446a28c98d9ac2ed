"""Starting a runner training run from TF-Slim's checkpoint with other classes and frozen
layers (--slim_checkpoint, --num_classes, --trainable_scopes)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from models import inception_v3
from tests import test_slim_checkpoint
from tf_cnn_benchmarks import initialization

pytestmark = pytest.mark.keras3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RUN_FLAGS = ["--num_batches=1", "--batch_size=2", "--image_size=75", "--num_classes=10",
             "--display_every=1", "--num_warmup_batches=0", "--batchnorm_decay=0.9",
             "--trainable_scopes=logits,aux_logits"]


def run_runner(arguments, timeout=600):
    return subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks"] + arguments,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def stored_value(train_dir, key):
    """Return model variable `key` ("layer/weight") of the latest checkpoint in train_dir."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(train_dir))
    return reader.get_tensor("model/%s/.ATTRIBUTES/VARIABLE_VALUE" % key.replace("/", ".S"))


@pytest.fixture(scope="module")
def slim_checkpoint(tmp_path_factory):
    """TF-Slim-named checkpoint of a 1001-class model at 299 x 299 and its values."""
    source = test_slim_checkpoint.random_model(1001, 299, seed=21)
    values = test_slim_checkpoint.slim_values(source)
    prefix = str(tmp_path_factory.mktemp("slim_source") / "inception_v3.ckpt")
    return test_slim_checkpoint.write_v2(values, prefix), values


@pytest.fixture(scope="module")
def fine_tuned(slim_checkpoint, tmp_path_factory):
    train_dir = str(tmp_path_factory.mktemp("fine_tuned"))
    result = run_runner(RUN_FLAGS + ["--train_dir=" + train_dir,
                                     "--slim_checkpoint=" + slim_checkpoint[0]])
    assert result.returncode == 0, result.stderr[-3000:]
    return train_dir, result.stdout


def test_fresh_classifier_one_line(fine_tuned):
    lines = [line for line in fine_tuned[1].splitlines()
             if line.startswith("Fine-tuning:") and "1001 classes" in line]
    assert len(lines) == 1
    assert lines[0].endswith("left freshly initialized: logits, aux_logits")


def test_shrunk_aux_kernel_logged(fine_tuned):
    assert "aux_logits_conv2d_2a_5x5 has kernel (5, 5, 128, 768)" in fine_tuned[1]


def test_frozen_kernel_unchanged(fine_tuned, slim_checkpoint):
    expected = slim_checkpoint[1]["InceptionV3/Mixed_7c/Branch_0/Conv2d_0a_1x1/weights"]
    stored = stored_value(fine_tuned[0], "mixed_7c_branch_0_conv2d_0a_1x1/kernel")
    np.testing.assert_array_equal(stored, expected)


def test_frozen_batchnorm_statistics_unchanged(fine_tuned, slim_checkpoint):
    # A frozen batch norm runs in inference mode, so a training step leaves its mean as loaded.
    expected = slim_checkpoint[1]["InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_mean"]
    stored = stored_value(fine_tuned[0], "conv2d_1a_3x3_bn/moving_mean")
    np.testing.assert_array_equal(stored, expected)


def test_optimizer_slots_only_classifier(fine_tuned):
    path = tf.train.latest_checkpoint(fine_tuned[0])
    slot_names = [name for name, _ in tf.train.list_variables(path)
                  if name.startswith("optimizer/")
                  and name.endswith("/.ATTRIBUTES/VARIABLE_VALUE")]
    assert slot_names
    assert all("logits" in name for name in slot_names)


def test_resume_ignores_initial_weights(fine_tuned, slim_checkpoint):
    result = run_runner([flag.replace("--num_batches=1", "--num_batches=2")
                         for flag in RUN_FLAGS]
                        + ["--train_dir=" + fine_tuned[0],
                           "--slim_checkpoint=" + slim_checkpoint[0]])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "--slim_checkpoint ignored" in result.stdout


def test_missing_weights_file_rejected(tmp_path):
    missing = str(tmp_path / "absent.h5")
    result = run_runner(["--num_batches=1", "--keras_weights=" + missing], timeout=300)
    assert result.returncode == 2
    assert "--keras_weights=%s not found" % missing in result.stderr


def test_both_weight_flags_rejected(slim_checkpoint):
    result = run_runner(["--num_batches=1", "--keras_weights=" + slim_checkpoint[0] + ".index",
                         "--slim_checkpoint=" + slim_checkpoint[0]], timeout=300)
    assert "give one" in result.stderr


def test_unknown_scope_rejected():
    model = inception_v3.inception_v3(10, image_size=75)
    with pytest.raises(ValueError, match="'mixed_9' matches no layer"):
        initialization.apply_trainable_scopes(model, "logits,mixed_9")


def test_scopes_freeze_other_layers():
    model = inception_v3.inception_v3(10, image_size=75)
    initialization.apply_trainable_scopes(model, "mixed_7c, logits")
    trainable_layers = {layer.name for layer in model.layers
                        if layer.trainable and layer.weights}
    assert "conv2d_1a_3x3" not in trainable_layers
    assert "mixed_7c_branch_0_conv2d_0a_1x1_bn" in trainable_layers
    assert "logits" in trainable_layers
