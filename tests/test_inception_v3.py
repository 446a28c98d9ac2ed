"""InceptionV3 architecture: parameter counts, shapes, layer names and input checks."""

import numpy as np
import pytest
import tensorflow as tf

from models import inception_v3
from models import model_stats

pytestmark = pytest.mark.keras3

# Keras Applications' InceptionV3 with its 1000-class top: trainable weights plus batch-norm
# moving statistics.
KERAS_APPLICATIONS_TOTAL = 23851784


def total_parameters(model):
    return sum(model_stats.count_parameters(model))


def conv_bn_parameters(kernel_height, kernel_width, in_channels, out_channels):
    """Convolution without bias, then batch norm with beta, moving mean and moving variance."""
    return kernel_height * kernel_width * in_channels * out_channels + 3 * out_channels


@pytest.fixture(scope="module")
def model_1000_without_aux():
    return inception_v3.inception_v3(1000, aux_logits=False)


@pytest.fixture(scope="module")
def model_1001_with_aux():
    return inception_v3.inception_v3(1001, aux_logits=True)


def test_total_without_aux_matches_keras_applications(model_1000_without_aux):
    assert total_parameters(model_1000_without_aux) == KERAS_APPLICATIONS_TOTAL


def test_total_with_aux_1001_classes(model_1001_with_aux):
    # One more class adds a row of 2048 logits weights and one bias.
    backbone_1001 = KERAS_APPLICATIONS_TOTAL + 2048 + 1
    aux_head = (conv_bn_parameters(1, 1, 768, 128)
                + conv_bn_parameters(5, 5, 128, 768)
                + 768 * 1001 + 1001)
    assert total_parameters(model_1001_with_aux) == backbone_1001 + aux_head


def test_total_with_aux_1001_classes_documented(model_1001_with_aux):
    # The README quotes this figure.
    assert total_parameters(model_1001_with_aux) == 27182194


def test_batchnorm_statistics_count(model_1000_without_aux):
    _, non_trainable = model_stats.count_parameters(model_1000_without_aux)
    assert non_trainable == 34432


def test_multiply_adds_at_299(model_1000_without_aux):
    multiply_adds = model_stats.count_multiply_adds(model_1000_without_aux)
    assert 5.6e9 < multiply_adds < 5.8e9


def test_outputs_at_299(model_1001_with_aux):
    logits, aux_logits = model_1001_with_aux(tf.zeros([1, 299, 299, 3]), training=False)
    assert logits.shape == (1, 1001)
    assert aux_logits.shape == (1, 1001)


def test_aux_head_kernel_at_299(model_1001_with_aux):
    kernel = model_1001_with_aux.get_layer("aux_logits_conv2d_2a_5x5").kernel
    assert tuple(kernel.shape) == (5, 5, 128, 768)


@pytest.mark.parametrize("image_size", [75, 107])
def test_small_image_sizes_train(image_size):
    model = inception_v3.inception_v3(10, image_size=image_size)
    logits, aux_logits = model(tf.zeros([2, image_size, image_size, 3]), training=True)
    assert logits.shape == (2, 10)
    assert aux_logits.shape == (2, 10)


def test_aux_kernel_shrinks_at_75():
    model = inception_v3.inception_v3(10, image_size=75)
    kernel = model.get_layer("aux_logits_conv2d_2a_5x5").kernel
    assert tuple(kernel.shape) == (1, 1, 128, 768)


def test_image_size_below_minimum_rejected():
    with pytest.raises(ValueError, match="at least 75"):
        inception_v3.inception_v3(10, image_size=74)


def test_single_class_rejected():
    with pytest.raises(ValueError, match="num_classes=1"):
        inception_v3.inception_v3(1, image_size=75)


def test_block_names_present(model_1001_with_aux):
    names = {layer.name for layer in model_1001_with_aux.layers}
    expected = {"mixed_5b", "mixed_5c", "mixed_5d", "mixed_6a", "mixed_6b", "mixed_6c",
                "mixed_6d", "mixed_6e", "mixed_7a", "mixed_7b", "mixed_7c", "aux_logits",
                "logits", "conv2d_1a_3x3"}
    assert expected <= names


def test_convolutions_have_no_bias(model_1001_with_aux):
    convolutions = [layer for layer in model_1001_with_aux.layers
                    if isinstance(layer, tf.keras.layers.Conv2D) and layer.name != "aux_logits"]
    assert all(not layer.use_bias for layer in convolutions)


def test_batchnorm_has_offset_without_scale(model_1001_with_aux):
    batch_norms = [layer for layer in model_1001_with_aux.layers
                   if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert len(batch_norms) == 96
    assert all(layer.center and not layer.scale for layer in batch_norms)


def test_aux_head_has_batchnorm(model_1001_with_aux):
    names = {layer.name for layer in model_1001_with_aux.layers}
    assert "aux_logits_conv2d_1b_1x1_bn" in names
    assert "aux_logits_conv2d_2a_5x5_bn" in names


def test_batchnorm_settings_applied():
    model = inception_v3.inception_v3(10, image_size=75, batchnorm_decay=0.9,
                                      batchnorm_epsilon=0.01)
    batch_norm = model.get_layer("conv2d_1a_3x3_bn")
    assert batch_norm.momentum == pytest.approx(0.9)
    assert batch_norm.epsilon == pytest.approx(0.01)


def test_channels_first_same_variables():
    # NCHW cannot run on CPU kernels, but building it checks the layout code.
    nhwc = inception_v3.inception_v3(10, image_size=107, data_format="channels_last")
    nchw = inception_v3.inception_v3(10, image_size=107, data_format="channels_first")
    nhwc_shapes = {(layer.name, tuple(weight.shape))
                   for layer in nhwc.layers for weight in layer.weights}
    nchw_shapes = {(layer.name, tuple(weight.shape))
                   for layer in nchw.layers for weight in layer.weights}
    assert nhwc_shapes == nchw_shapes


def test_channels_first_output_shape():
    model = inception_v3.inception_v3(10, image_size=107, data_format="channels_first")
    assert [tuple(output.shape) for output in model.outputs] == [(None, 10), (None, 10)]


def test_inference_is_deterministic(model_1001_with_aux):
    images = tf.random.stateless_uniform([1, 299, 299, 3], seed=[1, 2], minval=-1, maxval=1)
    first = model_1001_with_aux(images, training=False)[0].numpy()
    second = model_1001_with_aux(images, training=False)[0].numpy()
    np.testing.assert_array_equal(first, second)


@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"),
                    reason="TensorFlow's CPU kernels do not run max pooling and fused batch norm "
                           "in NCHW; this comparison needs a GPU")
def test_channels_first_matches_channels_last_on_gpu():
    nhwc = inception_v3.inception_v3(10, image_size=107, data_format="channels_last")
    nchw = inception_v3.inception_v3(10, image_size=107, data_format="channels_first")
    nchw.set_weights(nhwc.get_weights())
    images = tf.random.stateless_uniform([2, 107, 107, 3], seed=[3, 4], minval=-1, maxval=1)

    with tf.device("/GPU:0"):
        expected = nhwc(images, training=False)[0].numpy()
        actual = nchw(images, training=False)[0].numpy()
    assert np.max(np.abs(expected - actual)) <= 1e-4
