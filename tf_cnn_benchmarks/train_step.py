"""One training step: forward pass, loss, gradients, clipping and the optimizer update."""

import tensorflow as tf

from tf_cnn_benchmarks import losses


class TrainStep:
    """Callable `tf.function` that trains the model on one batch and returns its loss terms."""

    def __init__(self, model, optimizer, learning_rate_schedule, global_step, label_smoothing,
                 aux_loss_weight, weight_decay, gradient_clip):
        self.model = model
        self.optimizer = optimizer
        self.learning_rate_schedule = learning_rate_schedule
        self.global_step = global_step
        self.label_smoothing = label_smoothing
        self.aux_loss_weight = aux_loss_weight
        self.weight_decay = weight_decay
        self.gradient_clip = gradient_clip
        self.kernels = losses.regularized_kernels(model)
        self.variables = model.trainable_variables
        self._step = tf.function(self._train_step)

    def __call__(self, images, labels):
        return self._step(images, labels)

    def _train_step(self, images, labels):
        labels = tf.cast(labels, tf.int32)
        with tf.GradientTape() as tape:
            outputs = self.model(images, training=True)
            logits, aux_logits = outputs if isinstance(outputs, (list, tuple)) else (outputs,
                                                                                     None)
            terms = losses.total_loss(labels, logits, aux_logits, self.kernels,
                                      self.label_smoothing, self.aux_loss_weight,
                                      self.weight_decay)

        gradients = tape.gradient(terms["total_loss"], self.variables)
        if self.gradient_clip:
            gradients, terms["gradient_norm"] = tf.clip_by_global_norm(gradients,
                                                                       self.gradient_clip)

        learning_rate = self.learning_rate_schedule(self.global_step)
        self.optimizer.apply_gradients(gradients, self.variables, learning_rate,
                                       self.global_step)
        self.global_step.assign_add(1)

        terms["learning_rate"] = learning_rate
        return terms
