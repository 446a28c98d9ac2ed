"""Dropout whose masks a resumed run draws again exactly."""

import tensorflow as tf


class SeededDropout(tf.keras.layers.Layer):
    """Dropout with masks drawn from (seed, number of training calls so far).

    Keras' Dropout draws from a random-number state that a checkpoint does not save, so a
    resumed run would repeat the masks of the first steps. Here the call count is a weight of
    the layer, saved with the model, so step N gets the same mask whether or not the run was
    interrupted before it.
    """

    def __init__(self, rate, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = int(seed)

    def build(self, input_shape):
        self.calls = self.add_weight(name="calls", shape=(), dtype="int64",
                                     initializer="zeros", trainable=False)
        super().build(input_shape)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs

        self.calls.assign_add(1)
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.convert_to_tensor(self.calls)])
        keep = tf.random.stateless_uniform(tf.shape(inputs), seed=seed) >= self.rate
        return inputs * tf.cast(keep, inputs.dtype) / tf.cast(1.0 - self.rate, inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
