"""Optimizers, loss, learning rate, throughput figures and the dllogger writer."""

import json
import types

import numpy as np
import pytest
import tensorflow as tf

from tf_cnn_benchmarks import dllogger_log
from tf_cnn_benchmarks import learning_rate
from tf_cnn_benchmarks import losses
from tf_cnn_benchmarks import model_config
from tf_cnn_benchmarks import optimizers
from tf_cnn_benchmarks import throughput

pytestmark = pytest.mark.keras3


def one_variable(values):
    variable = tf.Variable(np.asarray(values, np.float32))
    return {"layer/kernel": variable}, variable


def test_rmsprop_update_matches_tf1_formula():
    named, variable = one_variable([1.0, -2.0])
    optimizer = optimizers.RMSProp(named, decay=0.9, momentum=0.9, epsilon=1.0)
    gradient = np.array([0.5, -3.0], np.float32)

    optimizer.apply_gradients([tf.constant(gradient)], [variable], 0.1, step=0)

    # TensorFlow 1: mean square starts at 1, epsilon inside the square root.
    mean_square = 0.9 * 1.0 + 0.1 * gradient ** 2
    momentum = 0.1 * gradient / np.sqrt(mean_square + 1.0)
    np.testing.assert_allclose(variable.numpy(), np.array([1.0, -2.0]) - momentum, rtol=1e-6)


def test_rmsprop_second_update_uses_momentum():
    named, variable = one_variable([0.0])
    optimizer = optimizers.RMSProp(named, decay=0.9, momentum=0.9, epsilon=1.0)
    gradient = np.array([1.0], np.float32)

    optimizer.apply_gradients([tf.constant(gradient)], [variable], 0.1, step=0)
    optimizer.apply_gradients([tf.constant(gradient)], [variable], 0.1, step=1)

    mean_square_1 = 0.9 + 0.1
    momentum_1 = 0.1 / np.sqrt(mean_square_1 + 1.0)
    mean_square_2 = 0.9 * mean_square_1 + 0.1
    momentum_2 = 0.9 * momentum_1 + 0.1 / np.sqrt(mean_square_2 + 1.0)
    np.testing.assert_allclose(variable.numpy(), [-(momentum_1 + momentum_2)], rtol=1e-6)


def test_momentum_update():
    named, variable = one_variable([1.0])
    optimizer = optimizers.Momentum(named, momentum=0.9)
    for step in range(2):
        optimizer.apply_gradients([tf.constant([1.0])], [variable], 0.5, step=step)
    # Accumulation 1 then 1.9; variable 1 - 0.5 * (1 + 1.9).
    np.testing.assert_allclose(variable.numpy(), [1.0 - 0.5 * 2.9], rtol=1e-6)


def test_sgd_update():
    named, variable = one_variable([1.0])
    optimizers.GradientDescent(named).apply_gradients([tf.constant([2.0])], [variable], 0.25, 0)
    np.testing.assert_allclose(variable.numpy(), [0.5], rtol=1e-6)


def test_adam_first_update_is_learning_rate():
    named, variable = one_variable([1.0])
    optimizer = optimizers.Adam(named, beta1=0.9, beta2=0.999, epsilon=1e-8)
    optimizer.apply_gradients([tf.constant([4.0])], [variable], 0.01, step=0)
    # With bias correction the first step moves by lr * g / |g|.
    np.testing.assert_allclose(variable.numpy(), [0.99], rtol=1e-5)


def test_optimizer_slots_keyed_by_name():
    named, _ = one_variable([1.0])
    optimizer = optimizers.RMSProp(named, 0.9, 0.9, 1.0)
    assert list(optimizer.slots["rms"]) == ["layer/kernel"]


def test_rms_slot_starts_at_one():
    named, _ = one_variable([1.0, 2.0])
    optimizer = optimizers.RMSProp(named, 0.9, 0.9, 1.0)
    np.testing.assert_array_equal(optimizer.slots["rms"]["layer/kernel"].numpy(), [1.0, 1.0])


def test_label_smoothing_cross_entropy():
    logits = tf.constant([[2.0, 0.0, -1.0]])
    loss = losses.smoothed_cross_entropy(tf.constant([0]), logits, 0.1)
    log_probs = tf.nn.log_softmax(logits).numpy()[0]
    targets = np.array([0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3])
    assert float(loss) == pytest.approx(-np.sum(targets * log_probs), rel=1e-6)


def test_total_loss_weights_aux():
    labels = tf.constant([1])
    logits = tf.constant([[0.0, 1.0]])
    aux_logits = tf.constant([[1.0, 0.0]])
    terms = losses.total_loss(labels, logits, aux_logits, [], 0.0, 0.4, 0.0)
    expected = float(terms["cross_entropy"]) + 0.4 * float(terms["aux_cross_entropy"])
    assert float(terms["total_loss"]) == pytest.approx(expected, rel=1e-6)


def test_weight_decay_is_half_sum_of_squares():
    kernel = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    decay = losses.weight_decay_loss([kernel], 0.01)
    assert float(decay) == pytest.approx(0.01 * 30.0 / 2.0, rel=1e-6)


def test_regularized_kernels_skip_batchnorm_and_bias():
    inputs = tf.keras.Input((8, 8, 3))
    net = tf.keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    net = tf.keras.layers.BatchNormalization(name="bn")(net)
    net = tf.keras.layers.GlobalAveragePooling2D()(net)
    outputs = tf.keras.layers.Dense(2, name="dense")(net)
    model = tf.keras.Model(inputs, outputs)

    kernels = losses.regularized_kernels(model)
    assert sorted(tuple(kernel.shape) for kernel in kernels) == [(3, 3, 3, 4), (4, 2)]


def test_scaled_learning_rate_for_batch_32():
    assert learning_rate.scaled_learning_rate(32) == pytest.approx(0.045 * 32 / 1600)


def test_staircase_decay():
    schedule = learning_rate.StaircaseDecay(0.1, decay_steps=10, decay_factor=0.5)
    values = [float(schedule(step)) for step in (0, 9, 10, 25)]
    np.testing.assert_allclose(values, [0.1, 0.1, 0.05, 0.025], rtol=1e-6)


def test_staircase_decay_minimum():
    schedule = learning_rate.StaircaseDecay(0.1, decay_steps=1, decay_factor=0.1, minimum=0.01)
    assert float(schedule(5)) == pytest.approx(0.01)


def test_throughput_skips_warmup():
    meter = throughput.ThroughputMeter(images_per_step=32, num_warmup_steps=2)
    for seconds in (100.0, 50.0, 16.0, 16.0):
        meter.record_step(seconds)
    assert meter.total_images_per_sec() == pytest.approx(2.0)


def test_throughput_row_format():
    meter = throughput.ThroughputMeter(images_per_step=32, num_warmup_steps=0)
    meter.record_step(16.0)
    row = throughput.format_step_row(10, meter, 7.25)
    assert row == "10\timages/sec: 2.0 +/- 0.0 (jitter = 0.0)\t7.250"


def test_throughput_short_run_says_so():
    meter = throughput.ThroughputMeter(images_per_step=32, num_warmup_steps=10)
    meter.record_step(1.0)
    assert "not measured" in throughput.format_total(meter)


def test_dllogger_lines_parse(tmp_path):
    path = tmp_path / "log" / "dllogger.json"
    log = dllogger_log.DlloggerLog(str(path))
    log.log_parameters({"batch_size": 32})
    log.log_metadata("train.images_per_sec", unit="images/s")
    log.log_step((0, 10), {"train.total_loss": 7.5})
    log.log_step((), {"train.images_per_sec": 2.0})
    log.close()

    records = [json.loads(line[len("DLLL "):]) for line in path.read_text().splitlines()]
    assert [record["type"] for record in records] == ["LOG", "METADATA", "LOG", "LOG"]
    assert records[0]["step"] == "PARAMETER"
    assert records[2]["step"] == [0, 10]
    assert records[3]["step"] == []


def test_dllogger_without_path_writes_nothing(tmp_path):
    log = dllogger_log.DlloggerLog(None)
    log.log_step((0, 1), {"loss": 1.0})
    log.close()
    assert list(tmp_path.iterdir()) == []


def tiny_classifier():
    inputs = tf.keras.Input((8, 8, 3))
    net = tf.keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    net = tf.keras.layers.BatchNormalization(scale=False, name="conv_bn")(net)
    net = tf.keras.layers.GlobalAveragePooling2D()(net)
    outputs = tf.keras.layers.Dense(3, name="logits")(net)
    return tf.keras.Model(inputs, outputs)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_train_step_lowers_loss(jit_compile):
    from tf_cnn_benchmarks import checkpoints
    from tf_cnn_benchmarks.train_step import TrainStep

    tf.keras.utils.set_random_seed(0)
    model = tiny_classifier()
    trainable = checkpoints.named_trainable_variables(model)
    global_step = tf.Variable(0, dtype=tf.int64)
    optimizer = optimizers.Momentum(trainable, momentum=0.9)
    step = TrainStep(model, list(trainable.values()), optimizer,
                     learning_rate.StaircaseDecay(0.05, 1000, 1.0), global_step,
                     label_smoothing=0.0, aux_loss_weight=0.0, weight_decay=0.0,
                     gradient_clip=2.0, jit_compile=jit_compile)
    images = tf.random.stateless_uniform([6, 8, 8, 3], seed=[1, 2])
    labels = tf.constant([0, 1, 2, 0, 1, 2])

    first = float(step(images, labels)["total_loss"])
    for _ in range(20):
        last = float(step(images, labels)["total_loss"])
    assert last < first
    assert int(global_step) == 21


def run_flags(train_dir, batchnorm_decay):
    return types.SimpleNamespace(
        train_dir=str(train_dir), image_size=75, aux_logits=True,
        batchnorm_decay=batchnorm_decay, batchnorm_epsilon=0.001, data_dir=None)


def test_model_config_reports_changed_decay(tmp_path):
    assert model_config.write_model_config(run_flags(tmp_path, 0.9997), 11) == []

    changes = model_config.write_model_config(run_flags(tmp_path, 0.9), 11)

    assert len(changes) == 1
    assert "batchnorm_decay is 0.9 in this run and was 0.9997" in changes[0]
    assert model_config.read_model_config(str(tmp_path))["batchnorm_decay"] == 0.9


def test_model_config_replaces_invalid_file(tmp_path):
    (tmp_path / model_config.MODEL_CONFIG_FILENAME).write_text("{not json", encoding="utf-8")

    assert model_config.write_model_config(run_flags(tmp_path, 0.9), 11) == []
    assert model_config.read_model_config(str(tmp_path))["num_classes"] == 11
