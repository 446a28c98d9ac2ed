"""Learning-rate schedules, the weight average, loss scaling, seeded dropout and checkpoint
selection, in process."""

import os

import numpy as np
import pytest
import tensorflow as tf

from models import inception_v3
from models.seeded_dropout import SeededDropout
from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import learning_rate
from tf_cnn_benchmarks import moving_average
from tf_cnn_benchmarks.train_step import DynamicLossScale

pytestmark = pytest.mark.keras3


def test_piecewise_parse():
    boundaries, rates = learning_rate.parse_piecewise_schedule("0.1;30;0.01;60;0.001")
    assert boundaries == [30.0, 60.0]
    assert rates == [0.1, 0.01, 0.001]


@pytest.mark.parametrize("text", ["0.1;30", "0.1;x;0.01", "0.1;60;0.01;30;0.001", "0;10;0.1"])
def test_piecewise_parse_rejects(text):
    with pytest.raises(ValueError, match="--piecewise_learning_rate_schedule"):
        learning_rate.parse_piecewise_schedule(text)


def test_piecewise_values():
    schedule = learning_rate.PiecewiseConstant([10, 20], [0.1, 0.01, 0.001])
    values = [float(schedule(step)) for step in (0, 9, 10, 19, 20, 100)]
    np.testing.assert_allclose(values, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_warmup_ramps_linearly():
    schedule = learning_rate.LinearWarmup(learning_rate.StaircaseDecay(0.4, 100, 0.5), 4)
    values = [float(schedule(step)) for step in range(6)]
    np.testing.assert_allclose(values, [0.1, 0.2, 0.3, 0.4, 0.4, 0.4], rtol=1e-6)


def test_weight_average_ramped_update():
    variable = tf.Variable([1.0, 2.0])
    average = moving_average.WeightAverage({"layer/kernel": variable}, decay=0.9999)
    variable.assign([3.0, 6.0])

    average.update(step=0)

    # At step 0 the ramp gives min(0.9999, 1 / 10) = 0.1.
    expected = 0.1 * np.array([1.0, 2.0]) + 0.9 * np.array([3.0, 6.0])
    np.testing.assert_allclose(average.shadows["layer/kernel"].numpy(), expected, rtol=1e-6)


def test_weight_average_full_decay_later():
    average = moving_average.WeightAverage({"w": tf.Variable([0.0])}, decay=0.5)
    assert float(average.ramped_decay(1000)) == pytest.approx(0.5)


def test_weight_average_swap_restores():
    variable = tf.Variable([5.0])
    average = moving_average.WeightAverage({"w": variable}, decay=0.9)
    average.shadows["w"].assign([1.0])
    with average.swapped_in():
        assert float(variable.numpy()[0]) == 1.0
    assert float(variable.numpy()[0]) == 5.0


def test_weight_average_skips_integers():
    average = moving_average.WeightAverage(
        {"w": tf.Variable([1.0]), "dropout/calls": tf.Variable(3, dtype=tf.int64)}, 0.9)
    assert list(average.shadows) == ["w"]


def test_loss_scale_halves_on_overflow():
    loss_scale = DynamicLossScale(initial_scale=1024.0, growth_steps=3)
    loss_scale.update(tf.constant(False))
    assert float(loss_scale.scale) == 512.0


def test_loss_scale_grows_after_finite_steps():
    loss_scale = DynamicLossScale(initial_scale=1024.0, growth_steps=3)
    for _ in range(3):
        loss_scale.update(tf.constant(True))
    assert float(loss_scale.scale) == 2048.0


def test_seeded_dropout_mask_follows_call_count():
    layer = SeededDropout(0.5, seed=7)
    inputs = tf.ones([4, 64])
    first = layer(inputs, training=True).numpy()
    layer.calls.assign(0)
    again = layer(inputs, training=True).numpy()
    np.testing.assert_array_equal(first, again)


def test_seeded_dropout_new_mask_each_call():
    layer = SeededDropout(0.5, seed=7)
    inputs = tf.ones([4, 64])
    first = layer(inputs, training=True).numpy()
    second = layer(inputs, training=True).numpy()
    assert not np.array_equal(first, second)


def test_seeded_dropout_identity_in_inference():
    layer = SeededDropout(0.5)
    inputs = tf.ones([2, 8])
    np.testing.assert_array_equal(layer(inputs, training=False).numpy(), inputs.numpy())


def small_model(num_classes):
    inputs = tf.keras.Input((4,))
    outputs = tf.keras.layers.Dense(num_classes, name="logits")(inputs)
    return tf.keras.Model(inputs, outputs)


@pytest.fixture()
def two_checkpoints(tmp_path):
    """A folder with checkpoints at steps 1 and 2 of a small model."""
    model = small_model(3)
    step = tf.Variable(0, dtype=tf.int64)
    checkpoint = checkpoints.create_checkpoint(step, model)
    manager = checkpoints.create_manager(checkpoint, str(tmp_path), max_to_keep=5)
    for number in (1, 2):
        step.assign(number)
        manager.save(checkpoint_number=number)
    return str(tmp_path)


@pytest.mark.parametrize("suffix", ["", ".index", ".data-00000-of-00001"])
def test_resolve_prefix_forms(two_checkpoints, suffix):
    path = os.path.join(two_checkpoints, "model.ckpt-1") + suffix
    assert checkpoints.resolve_checkpoint_path(path).endswith("model.ckpt-1")


def test_resolve_folder_and_state_file(two_checkpoints):
    state_file = os.path.join(two_checkpoints, "checkpoint")
    assert checkpoints.resolve_checkpoint_path(two_checkpoints).endswith("model.ckpt-2")
    assert checkpoints.resolve_checkpoint_path(state_file).endswith("model.ckpt-2")


def test_resolve_missing_prefix(two_checkpoints):
    with pytest.raises(checkpoints.CheckpointError, match="model.ckpt-9.index not found"):
        checkpoints.resolve_checkpoint_path(os.path.join(two_checkpoints, "model.ckpt-9"))


def test_shape_mismatch_names_classes(two_checkpoints):
    path = os.path.join(two_checkpoints, "model.ckpt-2")
    with pytest.raises(checkpoints.CheckpointError) as error:
        checkpoints.check_shapes(path, small_model(5))
    assert "logits/" in str(error.value)
    assert "--num_classes=3" in str(error.value)


def restore_latest_of(folder):
    """Restore the newest readable checkpoint of `folder`; return its path and step."""
    step = tf.Variable(0, dtype=tf.int64)
    checkpoint = checkpoints.create_checkpoint(step, small_model(3))
    manager = checkpoints.create_manager(checkpoint, folder, max_to_keep=5)
    path = checkpoints.restore_latest(checkpoint, manager, small_model(3))
    return path, int(step)


def damage_truncate_data(folder):
    with open(os.path.join(folder, "model.ckpt-2.data-00000-of-00001"), "r+b") as data_file:
        data_file.truncate(3)


def damage_truncate_index(folder):
    with open(os.path.join(folder, "model.ckpt-2.index"), "r+b") as index_file:
        index_file.truncate(10)


def damage_delete_data(folder):
    os.remove(os.path.join(folder, "model.ckpt-2.data-00000-of-00001"))


@pytest.mark.parametrize("damage", [damage_truncate_data, damage_truncate_index,
                                    damage_delete_data])
def test_damaged_latest_falls_back(two_checkpoints, damage, capsys):
    damage(two_checkpoints)

    path, step = restore_latest_of(two_checkpoints)

    assert path.endswith("model.ckpt-1")
    assert step == 1
    assert "model.ckpt-2 cannot be read" in capsys.readouterr().out


def test_damaged_state_file_keeps_checkpoints(two_checkpoints, capsys):
    with open(os.path.join(two_checkpoints, "checkpoint"), "w", encoding="utf-8") as state:
        state.write("model_checkpoint_path: \"model.ck")

    path, step = restore_latest_of(two_checkpoints)

    assert path.endswith("model.ckpt-2")
    assert step == 2
    assert "state file" in capsys.readouterr().out
    assert checkpoints.resolve_checkpoint_path(two_checkpoints).endswith("model.ckpt-2")


def test_every_checkpoint_unreadable(two_checkpoints):
    for number in (1, 2):
        os.remove(os.path.join(two_checkpoints, "model.ckpt-%d.data-00000-of-00001" % number))

    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint in .* can be read"):
        restore_latest_of(two_checkpoints)


def test_shape_mismatch_names_image_size(tmp_path):
    # The auxiliary head's last kernel is 1 x 1 at 75 x 75 and 5 x 5 at 299 x 299.
    small = inception_v3.inception_v3(11, image_size=75)
    step = tf.Variable(3, dtype=tf.int64)
    manager = checkpoints.create_manager(checkpoints.create_checkpoint(step, small),
                                         str(tmp_path), max_to_keep=1)
    path = manager.save(checkpoint_number=3)

    with pytest.raises(checkpoints.CheckpointError) as error:
        checkpoints.check_shapes(path, inception_v3.inception_v3(11, image_size=299))
    assert "aux_logits_conv2d_2a_5x5/kernel" in str(error.value)
    assert "--image_size" in str(error.value)


def test_read_error_keeps_out_of_memory():
    out_of_memory = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating")
    with pytest.raises(tf.errors.ResourceExhaustedError):
        checkpoints.raise_read_error("model.ckpt-2", out_of_memory)

    damaged = tf.errors.DataLossError(None, None, "not an sstable (bad magic number)")
    with pytest.raises(checkpoints.CheckpointReadError, match="model.ckpt-2 cannot be read"):
        checkpoints.raise_read_error("model.ckpt-2", damaged)
