"""The learning-rate schedule: linear scaling to the global batch, then staircase decay."""

import tensorflow as tf

# "Rethinking the Inception Architecture": learning rate 0.045 on 50 replicas of 32 images.
# The paper does not say whether updates were synchronous; this suite treats it as one global
# batch of 1600 images and scales the rate linearly to the actual global batch.
REFERENCE_LEARNING_RATE = 0.045
REFERENCE_GLOBAL_BATCH_SIZE = 50 * 32


def scaled_learning_rate(global_batch_size):
    """Return the paper's learning rate scaled linearly to `global_batch_size` images."""
    return REFERENCE_LEARNING_RATE * global_batch_size / REFERENCE_GLOBAL_BATCH_SIZE


class StaircaseDecay:
    """learning_rate(step) = initial * decay_factor ** floor(step / decay_steps),
    never below `minimum`."""

    def __init__(self, initial_learning_rate, decay_steps, decay_factor, minimum=0.0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = max(1, int(decay_steps))
        self.decay_factor = decay_factor
        self.minimum = minimum

    def __call__(self, step):
        decays = tf.math.floordiv(tf.cast(step, tf.int64), self.decay_steps)
        learning_rate = self.initial_learning_rate * tf.pow(
            tf.constant(self.decay_factor, tf.float64), tf.cast(decays, tf.float64))
        return tf.cast(tf.maximum(learning_rate, self.minimum), tf.float32)
