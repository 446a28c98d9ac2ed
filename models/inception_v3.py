"""InceptionV3 from "Rethinking the Inception Architecture for Computer Vision" (Szegedy et al.,
2015, arXiv:1512.00567), block for block as TF-Slim's `inception_v3` and Keras Applications'
`InceptionV3`.

Those reference implementations differ from the paper's table 1 in the stem (five 3x3 and 1x1
convolutions and two max pools instead of the table's six convolutions) and in the number of
17x17 modules (four, not five). Their layout is the one whose published weights users have, so
it is the one built here:

    299 x 299 x 3     stem: 3x3 convolutions (the factorized 7x7) and max pooling
    35 x 35 x 288     mixed_5b, mixed_5c, mixed_5d
    17 x 17 x 768     mixed_6a (grid reduction), mixed_6b .. mixed_6e (1x7 / 7x1 factorized)
    8 x 8 x 2048      mixed_7a (grid reduction), mixed_7b, mixed_7c
    1 x 1 x 2048      global average pooling, dropout, logits

Every convolution is followed by batch norm with an offset (beta) and no scale (gamma), as in
both references, so convolutions have no bias. The auxiliary classifier sits on the output of
mixed_6e and has batch norm on its convolutions (the paper's "BN-auxiliary"). Layer names
follow TF-Slim's scopes (`mixed_6b_branch_1_conv2d_0b_1x7`, with `_bn` for its batch norm), so
they do not depend on construction order.
"""

import tensorflow as tf

from models import fused_batch_norm
from models.seeded_dropout import SeededDropout

# The backbone's smallest input: three VALID stride-2 reductions leave a 1 x 1 map at 75 x 75.
MIN_IMAGE_SIZE = 75

DEFAULT_IMAGE_SIZE = 299

# TF-Slim's inception_v3 batch-norm values; the paper gives none.
DEFAULT_BATCHNORM_DECAY = 0.9997
DEFAULT_BATCHNORM_EPSILON = 0.001

# TF-Slim keeps 80 % of the pooled features before the logits.
DEFAULT_DROPOUT_KEEP_PROB = 0.8

# Channels of the auxiliary head's 1x1 and 5x5 convolutions (TF-Slim, Keras' paper figure 8).
AUX_BOTTLENECK_CHANNELS = 128
AUX_HIDDEN_CHANNELS = 768

# TF-Slim's initializers: He-style truncated normal for the network, small fixed scales for the
# auxiliary head so that it starts close to a uniform prediction.
AUX_HIDDEN_STDDEV = 0.01
AUX_LOGITS_STDDEV = 0.001


def _conv_initializer():
    return tf.keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_in", distribution="truncated_normal")


class _LayerFactory:
    """Builds the layers of one model with a shared data format and batch-norm setting."""

    def __init__(self, data_format, batchnorm_decay, batchnorm_epsilon):
        self.data_format = data_format
        self.channel_axis = 1 if data_format == "channels_first" else -1
        self.batchnorm_decay = batchnorm_decay
        self.batchnorm_epsilon = batchnorm_epsilon

    def conv_bn(self, inputs, filters, kernel_size, name, strides=1, padding="same",
                kernel_initializer=None):
        """Apply convolution (no bias), batch norm (beta, no gamma) and ReLU."""
        outputs = tf.keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding=padding, use_bias=False,
            data_format=self.data_format,
            kernel_initializer=kernel_initializer or _conv_initializer(),
            name=name)(inputs)

        outputs = fused_batch_norm.batch_normalization(
            axis=self.channel_axis, momentum=self.batchnorm_decay,
            epsilon=self.batchnorm_epsilon, center=True, scale=False,
            name=name + "_bn")(outputs)

        return tf.keras.layers.Activation("relu", name=name + "_relu")(outputs)

    def avg_pool(self, inputs, pool_size, name, strides=1, padding="same"):
        return tf.keras.layers.AveragePooling2D(
            pool_size, strides=strides, padding=padding, data_format=self.data_format,
            name=name)(inputs)

    def max_pool(self, inputs, name):
        """3x3 max pooling with stride 2 and no padding, the grid reduction of every block."""
        return tf.keras.layers.MaxPooling2D(
            3, strides=2, padding="valid", data_format=self.data_format, name=name)(inputs)

    def concat(self, inputs, name):
        return tf.keras.layers.Concatenate(axis=self.channel_axis, name=name)(inputs)

    def spatial_size(self, tensor):
        """Return (height, width) of a feature map in this model's data format."""
        if self.data_format == "channels_first":
            return tensor.shape[2], tensor.shape[3]
        return tensor.shape[1], tensor.shape[2]


def _stem(layers, images):
    """299 x 299 x 3 -> 35 x 35 x 192: the factorized 7x7 stem of 3x3 convolutions."""
    net = layers.conv_bn(images, 32, 3, "conv2d_1a_3x3", strides=2, padding="valid")
    net = layers.conv_bn(net, 32, 3, "conv2d_2a_3x3", padding="valid")
    net = layers.conv_bn(net, 64, 3, "conv2d_2b_3x3")
    net = layers.max_pool(net, "maxpool_3a_3x3")
    net = layers.conv_bn(net, 80, 1, "conv2d_3b_1x1", padding="valid")
    net = layers.conv_bn(net, 192, 3, "conv2d_4a_3x3", padding="valid")
    return layers.max_pool(net, "maxpool_5a_3x3")


def _block_35x35(layers, inputs, pool_channels, name):
    """35 x 35 x 288 (256 for mixed_5b): 1x1, 5x5, double 3x3 and pool branches."""
    branch_0 = layers.conv_bn(inputs, 64, 1, name + "_branch_0_conv2d_0a_1x1")

    branch_1 = layers.conv_bn(inputs, 48, 1, name + "_branch_1_conv2d_0a_1x1")
    branch_1 = layers.conv_bn(branch_1, 64, 5, name + "_branch_1_conv2d_0b_5x5")

    branch_2 = layers.conv_bn(inputs, 64, 1, name + "_branch_2_conv2d_0a_1x1")
    branch_2 = layers.conv_bn(branch_2, 96, 3, name + "_branch_2_conv2d_0b_3x3")
    branch_2 = layers.conv_bn(branch_2, 96, 3, name + "_branch_2_conv2d_0c_3x3")

    branch_3 = layers.avg_pool(inputs, 3, name + "_branch_3_avgpool_0a_3x3")
    branch_3 = layers.conv_bn(branch_3, pool_channels, 1, name + "_branch_3_conv2d_0b_1x1")

    return layers.concat([branch_0, branch_1, branch_2, branch_3], name)


def _reduction_35_to_17(layers, inputs):
    """35 x 35 x 288 -> 17 x 17 x 768: the first grid reduction (mixed_6a)."""
    name = "mixed_6a"
    branch_0 = layers.conv_bn(inputs, 384, 3, name + "_branch_0_conv2d_1a_3x3", strides=2,
                              padding="valid")

    branch_1 = layers.conv_bn(inputs, 64, 1, name + "_branch_1_conv2d_0a_1x1")
    branch_1 = layers.conv_bn(branch_1, 96, 3, name + "_branch_1_conv2d_0b_3x3")
    branch_1 = layers.conv_bn(branch_1, 96, 3, name + "_branch_1_conv2d_1a_3x3", strides=2,
                              padding="valid")

    branch_2 = layers.max_pool(inputs, name + "_branch_2_maxpool_1a_3x3")

    return layers.concat([branch_0, branch_1, branch_2], name)


def _block_17x17(layers, inputs, channels_7x7, name):
    """17 x 17 x 768 with the 7x7 convolutions factorized into 1x7 and 7x1."""
    branch_0 = layers.conv_bn(inputs, 192, 1, name + "_branch_0_conv2d_0a_1x1")

    branch_1 = layers.conv_bn(inputs, channels_7x7, 1, name + "_branch_1_conv2d_0a_1x1")
    branch_1 = layers.conv_bn(branch_1, channels_7x7, (1, 7), name + "_branch_1_conv2d_0b_1x7")
    branch_1 = layers.conv_bn(branch_1, 192, (7, 1), name + "_branch_1_conv2d_0c_7x1")

    branch_2 = layers.conv_bn(inputs, channels_7x7, 1, name + "_branch_2_conv2d_0a_1x1")
    branch_2 = layers.conv_bn(branch_2, channels_7x7, (7, 1), name + "_branch_2_conv2d_0b_7x1")
    branch_2 = layers.conv_bn(branch_2, channels_7x7, (1, 7), name + "_branch_2_conv2d_0c_1x7")
    branch_2 = layers.conv_bn(branch_2, channels_7x7, (7, 1), name + "_branch_2_conv2d_0d_7x1")
    branch_2 = layers.conv_bn(branch_2, 192, (1, 7), name + "_branch_2_conv2d_0e_1x7")

    branch_3 = layers.avg_pool(inputs, 3, name + "_branch_3_avgpool_0a_3x3")
    branch_3 = layers.conv_bn(branch_3, 192, 1, name + "_branch_3_conv2d_0b_1x1")

    return layers.concat([branch_0, branch_1, branch_2, branch_3], name)


def _reduction_17_to_8(layers, inputs):
    """17 x 17 x 768 -> 8 x 8 x 1280: the second grid reduction (mixed_7a)."""
    name = "mixed_7a"
    branch_0 = layers.conv_bn(inputs, 192, 1, name + "_branch_0_conv2d_0a_1x1")
    branch_0 = layers.conv_bn(branch_0, 320, 3, name + "_branch_0_conv2d_1a_3x3", strides=2,
                              padding="valid")

    branch_1 = layers.conv_bn(inputs, 192, 1, name + "_branch_1_conv2d_0a_1x1")
    branch_1 = layers.conv_bn(branch_1, 192, (1, 7), name + "_branch_1_conv2d_0b_1x7")
    branch_1 = layers.conv_bn(branch_1, 192, (7, 1), name + "_branch_1_conv2d_0c_7x1")
    branch_1 = layers.conv_bn(branch_1, 192, 3, name + "_branch_1_conv2d_1a_3x3", strides=2,
                              padding="valid")

    branch_2 = layers.max_pool(inputs, name + "_branch_2_maxpool_1a_3x3")

    return layers.concat([branch_0, branch_1, branch_2], name)


def _block_8x8(layers, inputs, name):
    """8 x 8 x 2048 with the 3x3 convolutions split into parallel 1x3 and 3x1."""
    branch_0 = layers.conv_bn(inputs, 320, 1, name + "_branch_0_conv2d_0a_1x1")

    branch_1 = layers.conv_bn(inputs, 384, 1, name + "_branch_1_conv2d_0a_1x1")
    branch_1 = layers.concat([
        layers.conv_bn(branch_1, 384, (1, 3), name + "_branch_1_conv2d_0b_1x3"),
        layers.conv_bn(branch_1, 384, (3, 1), name + "_branch_1_conv2d_0c_3x1"),
    ], name + "_branch_1")

    branch_2 = layers.conv_bn(inputs, 448, 1, name + "_branch_2_conv2d_0a_1x1")
    branch_2 = layers.conv_bn(branch_2, 384, 3, name + "_branch_2_conv2d_0b_3x3")
    branch_2 = layers.concat([
        layers.conv_bn(branch_2, 384, (1, 3), name + "_branch_2_conv2d_0c_1x3"),
        layers.conv_bn(branch_2, 384, (3, 1), name + "_branch_2_conv2d_0d_3x1"),
    ], name + "_branch_2")

    branch_3 = layers.avg_pool(inputs, 3, name + "_branch_3_avgpool_0a_3x3")
    branch_3 = layers.conv_bn(branch_3, 192, 1, name + "_branch_3_conv2d_0b_1x1")

    return layers.concat([branch_0, branch_1, branch_2, branch_3], name)


def _auxiliary_head(layers, inputs, num_classes):
    """Auxiliary classifier on the 17 x 17 x 768 output of mixed_6e.

    5x5 average pooling with stride 3 gives 5 x 5 x 768 at 299 x 299. A 1x1 convolution to
    128 channels and a 5x5 VALID convolution to 768 channels follow, both with batch norm; the
    second is the paper's fully connected layer. The logits come last. Below 299 x 299 the map is smaller, so the
    pooling window and the 5x5 kernel shrink to the map as TF-Slim shrinks the kernel
    (TF-Slim keeps the 5x5 pooling window and so fails below about 139 x 139).
    """
    height, width = layers.spatial_size(inputs)
    pool_size = (min(5, height), min(5, width))
    net = layers.avg_pool(inputs, pool_size, "aux_logits_avgpool_1a_5x5", strides=3,
                          padding="valid")
    net = layers.conv_bn(net, AUX_BOTTLENECK_CHANNELS, 1, "aux_logits_conv2d_1b_1x1")

    height, width = layers.spatial_size(net)
    kernel_size = (min(5, height), min(5, width))
    net = layers.conv_bn(
        net, AUX_HIDDEN_CHANNELS, kernel_size, "aux_logits_conv2d_2a_5x5", padding="valid",
        kernel_initializer=tf.keras.initializers.TruncatedNormal(stddev=AUX_HIDDEN_STDDEV))

    net = tf.keras.layers.Conv2D(
        num_classes, 1, data_format=layers.data_format,
        kernel_initializer=tf.keras.initializers.TruncatedNormal(stddev=AUX_LOGITS_STDDEV),
        name="aux_logits")(net)

    # Above 299 x 299 the map after the 5x5 kernel is larger than 1 x 1; average it.
    return tf.keras.layers.GlobalAveragePooling2D(
        data_format=layers.data_format, name="aux_logits_pool")(net)


def check_image_size(image_size):
    """Raise ValueError unless `image_size` is a size InceptionV3 can take."""
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(
            "--image_size=%d is too small: InceptionV3 needs at least %d x %d pixels. "
            "Use --image_size=%d or larger." % (image_size, MIN_IMAGE_SIZE, MIN_IMAGE_SIZE,
                                                MIN_IMAGE_SIZE))


def inception_v3(num_classes, aux_logits=True, image_size=DEFAULT_IMAGE_SIZE,
                 data_format="channels_last", batchnorm_decay=DEFAULT_BATCHNORM_DECAY,
                 batchnorm_epsilon=DEFAULT_BATCHNORM_EPSILON,
                 dropout_keep_prob=DEFAULT_DROPOUT_KEEP_PROB, dropout_seed=0,
                 name="inception_v3"):
    """Return InceptionV3 as a Keras model.

    Input: float images [batch, image_size, image_size, 3], always channels-last (the model
    transposes them itself when `data_format` is "channels_first", NCHW, the faster layout
    on NVIDIA GPUs). Output: logits [batch, num_classes], or the list [logits, aux_logits]
    when `aux_logits` is true.

    `dropout_seed` and the dropout layer's saved call count decide its masks, so a resumed
    run draws the masks an uninterrupted one would have drawn.

    Raises ValueError for `num_classes` below 2 or `image_size` below 75.
    """
    if num_classes < 2:
        raise ValueError("--num_classes=%d is invalid: a classifier needs at least 2 classes."
                         % num_classes)
    check_image_size(image_size)
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first', not %r."
                         % data_format)

    layers = _LayerFactory(data_format, batchnorm_decay, batchnorm_epsilon)
    images = tf.keras.Input(shape=(image_size, image_size, 3), name="images")
    net = images
    if data_format == "channels_first":
        net = tf.keras.layers.Permute((3, 1, 2), name="to_channels_first")(net)

    net = _stem(layers, net)
    for block_name, pool_channels in (("mixed_5b", 32), ("mixed_5c", 64), ("mixed_5d", 64)):
        net = _block_35x35(layers, net, pool_channels, block_name)

    net = _reduction_35_to_17(layers, net)
    for block_name, channels_7x7 in (("mixed_6b", 128), ("mixed_6c", 160), ("mixed_6d", 160),
                                     ("mixed_6e", 192)):
        net = _block_17x17(layers, net, channels_7x7, block_name)
    aux_input = net

    net = _reduction_17_to_8(layers, net)
    for block_name in ("mixed_7b", "mixed_7c"):
        net = _block_8x8(layers, net, block_name)

    net = tf.keras.layers.GlobalAveragePooling2D(data_format=data_format,
                                                 name="global_avgpool")(net)
    net = SeededDropout(1.0 - dropout_keep_prob, seed=dropout_seed, name="dropout")(net)
    logits = tf.keras.layers.Dense(num_classes, kernel_initializer=_conv_initializer(),
                                   name="logits")(net)

    if not aux_logits:
        return tf.keras.Model(images, logits, name=name)

    aux = _auxiliary_head(layers, aux_input, num_classes)
    return tf.keras.Model(images, [logits, aux], name=name)


# The weight loaders live in their own modules; importing them here lets callers find them
# beside the model, as `models.inception_v3.load_keras_weights`.
from models.keras_h5 import load_keras_weights  # noqa: E402,F401
from models.slim_checkpoint import load_slim_checkpoint  # noqa: E402,F401
