"""Parameter and multiply-add counts of a Keras model, printed by the runner at start-up."""

import numpy as np
import tensorflow as tf


def _is_float(variable):
    return tf.as_dtype(variable.dtype).is_floating


def count_parameters(model):
    """Return (trainable, non_trainable) scalar counts.

    Non-trainable parameters are the batch-norm moving means and variances, which a checkpoint
    stores too. Integer counters (the dropout layer's call count) are state, not parameters,
    and are left out.
    """
    trainable = sum(int(np.prod(variable.shape)) for variable in model.trainable_weights)
    non_trainable = sum(int(np.prod(variable.shape))
                        for variable in model.non_trainable_weights if _is_float(variable))
    return trainable, non_trainable


def _spatial_size(shape, data_format):
    if data_format == "channels_first":
        return shape[2] * shape[3]
    return shape[1] * shape[2]


def count_multiply_adds(model):
    """Return the multiply-adds of one forward pass of one image through convolutions and
    dense layers.

    Batch norm, pooling and activations add under 1 % and are left out, as in the usual
    published figures (5.7 G for InceptionV3 at 299 x 299).
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            kernel_elements = int(np.prod(layer.kernel.shape))
            output_shape = layer.output.shape
            total += kernel_elements * _spatial_size(output_shape, layer.data_format)
        elif isinstance(layer, tf.keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total
