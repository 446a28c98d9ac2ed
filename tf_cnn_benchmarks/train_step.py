"""One training step: forward pass, loss, gradients, clipping and the optimizer update."""

import tensorflow as tf

from data import imagenet_tfrecord
from tf_cnn_benchmarks import losses
from tf_cnn_benchmarks.replicas import Replicas


class DynamicLossScale(tf.Module):
    """float16 loss scaling: multiply the loss before the gradients and divide them after.

    The scale halves whenever a gradient is not finite (that step is skipped) and doubles after
    `growth_steps` finite steps in a row, the scheme of TensorFlow's mixed-precision guide.
    """

    def __init__(self, initial_scale=2.0 ** 15, growth_steps=2000):
        super().__init__(name="loss_scale")
        self.scale = tf.Variable(initial_scale, dtype=tf.float32, trainable=False,
                                 name="current_loss_scale")
        self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="good_steps")
        self.growth_steps = growth_steps

    def update(self, gradients_are_finite):
        def grow_or_count():
            grow = self.good_steps + 1 >= self.growth_steps
            self.scale.assign(tf.where(grow, self.scale * 2.0, self.scale))
            self.good_steps.assign(tf.where(grow, tf.constant(0, tf.int64),
                                            self.good_steps + 1))

        def shrink():
            self.scale.assign(tf.maximum(self.scale / 2.0, 1.0))
            self.good_steps.assign(0)

        tf.cond(gradients_are_finite, grow_or_count, shrink)


class TrainStep:
    """Callable `tf.function` that trains the model on one batch and returns its loss terms."""

    def __init__(self, model, variables, optimizer, learning_rate_schedule, global_step,
                 label_smoothing, aux_loss_weight, weight_decay, gradient_clip,
                 weight_average=None, loss_scale=None, jit_compile=False, replicas=None):
        self.model = model
        self.variables = variables
        self.optimizer = optimizer
        self.learning_rate_schedule = learning_rate_schedule
        self.global_step = global_step
        self.label_smoothing = label_smoothing
        self.aux_loss_weight = aux_loss_weight
        self.weight_decay = weight_decay
        self.gradient_clip = gradient_clip
        self.weight_average = weight_average
        self.loss_scale = loss_scale
        self.replicas = replicas or Replicas()
        self.kernels = losses.regularized_kernels(model)
        self._step = tf.function(self._train_step, jit_compile=jit_compile or None)

    def __call__(self, images, labels):
        return self._step(images, labels)

    def _gradients(self, images, labels):
        with tf.GradientTape() as tape:
            outputs = self.model(imagenet_tfrecord.model_input(images), training=True)
            if isinstance(outputs, (list, tuple)):
                logits, aux_logits = outputs
            else:
                logits, aux_logits = outputs, None
            terms = losses.total_loss(labels, logits, aux_logits, self.kernels,
                                      self.label_smoothing, self.aux_loss_weight,
                                      self.weight_decay)
            loss_to_minimize = terms["total_loss"]
            if self.loss_scale is not None:
                loss_to_minimize = loss_to_minimize * self.loss_scale.scale

        gradients = self.replicas.average_gradients(tape).gradient(loss_to_minimize,
                                                                   self.variables)
        if self.loss_scale is not None:
            gradients = [None if gradient is None else
                         tf.cast(gradient, tf.float32) / self.loss_scale.scale
                         for gradient in gradients]

        terms["top_1_accuracy"] = tf.reduce_mean(
            tf.cast(tf.math.in_top_k(labels, tf.cast(logits, tf.float32), 1), tf.float32))
        terms["top_5_accuracy"] = tf.reduce_mean(tf.cast(
            tf.math.in_top_k(labels, tf.cast(logits, tf.float32), min(5, logits.shape[-1])),
            tf.float32))
        return gradients, terms

    def _replica_step(self, images, labels):
        """Compute this replica's gradients, average them over all replicas and update."""
        labels = tf.cast(labels, tf.int32)
        gradients, terms = self._gradients(images, labels)

        if self.gradient_clip:
            gradients, terms["gradient_norm"] = tf.clip_by_global_norm(gradients,
                                                                       self.gradient_clip)
        learning_rate = self.learning_rate_schedule(self.global_step)
        terms["learning_rate"] = learning_rate

        def apply():
            self.optimizer.apply_gradients(gradients, self.variables, learning_rate,
                                           self.global_step)

        if self.loss_scale is None:
            apply()
        else:
            # A float16 overflow makes some gradients infinite; skip that update.
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(gradient))
                                    for gradient in gradients if gradient is not None])
            tf.cond(finite, apply, lambda: None)
            terms["gradients_are_finite"] = tf.cast(finite, tf.float32)
        return terms

    def _train_step(self, images, labels):
        terms = self.replicas.run(self._replica_step, images, labels)

        # The steps below change variables that every replica shares, so they run once, after
        # the replicas have applied the same averaged gradients.
        finite = None
        if self.loss_scale is not None:
            # The averaged gradients are the same on every replica, so the mean is 0 or 1.
            finite = terms.pop("gradients_are_finite") > 0.5
        if self.weight_average is not None:
            if finite is None:
                self.weight_average.update(self.global_step)
            else:
                tf.cond(finite, lambda: self.weight_average.update(self.global_step),
                        lambda: None)
        if self.loss_scale is not None:
            self.loss_scale.update(finite)
            terms["loss_scale"] = self.loss_scale.scale

        self.global_step.assign_add(1)
        return terms
