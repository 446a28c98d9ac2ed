"""The fused batch-norm subclass against Keras' own BatchNormalization."""

import numpy as np
import pytest
import tensorflow as tf

from models import fused_batch_norm

pytestmark = pytest.mark.keras3

# Keras 2 trains its own layer with the fused kernel, so the subclass is used under Keras 3 only.
needs_keras_3 = pytest.mark.skipif(not fused_batch_norm.KERAS_3,
                                   reason="the subclass is used under Keras 3 only")

BATCH_SHAPE = (4, 6, 6, 8)
DECAY = 0.9


def make_pair(**kwargs):
    stock = tf.keras.layers.BatchNormalization(momentum=DECAY, epsilon=0.001, **kwargs)
    fused = fused_batch_norm.batch_normalization(momentum=DECAY, epsilon=0.001, **kwargs)
    stock.build(BATCH_SHAPE)
    fused.build(BATCH_SHAPE)
    # Non-trivial offsets, so that a wrong offset shows in the outputs.
    offset = np.linspace(-1.0, 1.0, BATCH_SHAPE[-1]).astype(np.float32)
    stock.beta.assign(offset)
    fused.beta.assign(offset)
    return stock, fused


def outputs_and_gradients(layer, inputs, upstream, training):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = layer(inputs, training=training)
        objective = tf.reduce_sum(outputs * upstream)
    input_gradient, beta_gradient = tape.gradient(objective, [inputs, layer.beta])
    return outputs, input_gradient, beta_gradient


def random_batch(seed):
    random = np.random.RandomState(seed)
    inputs = tf.constant(random.normal(2.0, 3.0, BATCH_SHAPE).astype(np.float32))
    upstream = tf.constant(random.normal(0.0, 1.0, BATCH_SHAPE).astype(np.float32))
    return inputs, upstream


@needs_keras_3
def test_training_matches_keras_layer():
    stock, fused = make_pair(scale=False)
    inputs, upstream = random_batch(0)

    stock_results = outputs_and_gradients(stock, inputs, upstream, training=True)
    fused_results = outputs_and_gradients(fused, inputs, upstream, training=True)

    for name, stock_value, fused_value in zip(("outputs", "input gradient", "beta gradient"),
                                              stock_results, fused_results):
        np.testing.assert_allclose(fused_value.numpy(), stock_value.numpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=name)


@needs_keras_3
def test_training_with_scale_matches():
    stock, fused = make_pair(scale=True)
    gamma = np.linspace(0.5, 2.0, BATCH_SHAPE[-1]).astype(np.float32)
    stock.gamma.assign(gamma)
    fused.gamma.assign(gamma)
    inputs, upstream = random_batch(1)

    stock_outputs = outputs_and_gradients(stock, inputs, upstream, training=True)[0]
    fused_outputs = outputs_and_gradients(fused, inputs, upstream, training=True)[0]

    np.testing.assert_allclose(fused_outputs.numpy(), stock_outputs.numpy(), rtol=1e-4,
                               atol=1e-5)


@needs_keras_3
def test_moving_statistics_update():
    stock, fused = make_pair(scale=False)
    inputs, _ = random_batch(2)
    stock(inputs, training=True)
    fused(inputs, training=True)

    np.testing.assert_allclose(fused.moving_mean.numpy(), stock.moving_mean.numpy(),
                               rtol=1e-5, atol=1e-6)
    # The fused kernel averages the unbiased variance: the biased one times n / (n - 1).
    count = BATCH_SHAPE[0] * BATCH_SHAPE[1] * BATCH_SHAPE[2]
    batch_variance = np.var(inputs.numpy(), axis=(0, 1, 2))
    expected = DECAY * 1.0 + (1.0 - DECAY) * batch_variance * count / (count - 1)
    np.testing.assert_allclose(fused.moving_variance.numpy(), expected, rtol=1e-4)


@needs_keras_3
def test_inference_uses_moving_statistics():
    stock, fused = make_pair(scale=False)
    for layer in (stock, fused):
        layer.moving_mean.assign(np.full(BATCH_SHAPE[-1], 0.5, np.float32))
        layer.moving_variance.assign(np.full(BATCH_SHAPE[-1], 4.0, np.float32))
    inputs, _ = random_batch(3)

    np.testing.assert_allclose(fused(inputs, training=False).numpy(),
                               stock(inputs, training=False).numpy(), rtol=1e-5, atol=1e-6)


@needs_keras_3
def test_frozen_layer_uses_moving_statistics():
    _, fused = make_pair(scale=False)
    fused.trainable = False
    inputs, _ = random_batch(4)
    before = fused.moving_mean.numpy().copy()

    outputs = fused(inputs, training=True)

    expected = (inputs.numpy() - 0.0) / np.sqrt(1.0 + 0.001) + fused.beta.numpy()
    np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(fused.moving_mean.numpy(), before)


@needs_keras_3
def test_bfloat16_inputs_keep_dtype():
    fused = fused_batch_norm.batch_normalization(scale=False, dtype="mixed_bfloat16")
    inputs, _ = random_batch(5)

    outputs = fused(tf.cast(inputs, tf.bfloat16), training=True)

    assert outputs.dtype == tf.bfloat16


@needs_keras_3
def test_variable_names_match_keras():
    stock, fused = make_pair(scale=False)
    assert ([variable.name for variable in fused.weights]
            == [variable.name for variable in stock.weights])


def test_keras_2_keeps_its_own_layer():
    layer = fused_batch_norm.batch_normalization(scale=False)
    if fused_batch_norm.KERAS_3:
        assert isinstance(layer, fused_batch_norm.FusedBatchNormalization)
    else:
        assert type(layer) is tf.keras.layers.BatchNormalization
