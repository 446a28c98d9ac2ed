"""Exponential moving average (EMA) of the model's weights, used for evaluation and export.

As TF-Slim's InceptionV3 training, the average covers the trainable variables and the
batch-norm moving statistics, and its decay ramps up from the start of training:
decay(step) = min(decay, (1 + step) / (10 + step)).
"""

import contextlib

import tensorflow as tf


class WeightAverage(tf.Module):
    """Shadow copies of `named_variables` ({key: variable}), saved in checkpoints."""

    def __init__(self, named_variables, decay):
        super().__init__(name="weight_average")
        self.decay = decay
        # Integer state such as the dropout call count is not a weight to average.
        self.variables_by_key = {key: variable for key, variable in named_variables.items()
                                 if tf.as_dtype(variable.dtype).is_floating}
        self.shadows = {
            key: tf.Variable(tf.convert_to_tensor(variable), trainable=False,
                               name=key + "/average")
            for key, variable in self.variables_by_key.items()}

    def ramped_decay(self, step):
        step = tf.cast(step, tf.float32)
        return tf.minimum(tf.constant(self.decay, tf.float32), (1.0 + step) / (10.0 + step))

    def update(self, step):
        """Move each shadow towards its variable by (1 - decay(step))."""
        keep = self.ramped_decay(step)
        for key, variable in self.variables_by_key.items():
            shadow = self.shadows[key]
            shadow.assign_sub((1.0 - keep) * (shadow - tf.cast(variable, shadow.dtype)))

    def reset(self):
        """Copy the current weights into the shadows (after weights were loaded from a file)."""
        for key, variable in self.variables_by_key.items():
            self.shadows[key].assign(variable)

    @contextlib.contextmanager
    def swapped_in(self):
        """Use the averaged weights inside the block, and the trained ones again after it."""
        backups = {key: tf.identity(variable)
                   for key, variable in self.variables_by_key.items()}
        for key, variable in self.variables_by_key.items():
            variable.assign(self.shadows[key])
        try:
            yield
        finally:
            for key, variable in self.variables_by_key.items():
                variable.assign(backups[key])
