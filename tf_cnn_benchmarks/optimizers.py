"""Optimizers with TensorFlow 1's update rules, as used by tf_cnn_benchmarks and TF-Slim.

Keras' RMSprop adds epsilon outside the square root and starts the mean square at 0; the
InceptionV3 recipe (epsilon 1.0) was tuned with TensorFlow 1's RMSProp, which adds epsilon
inside the square root and starts the mean square at 1. These classes call TensorFlow's fused
`ResourceApply*` kernels directly, so they behave the same under Keras 2 and Keras 3, and keep
their slots as plain variables that `tf.train.Checkpoint` saves.
"""

import tensorflow as tf


class _Optimizer(tf.Module):
    """Base class: for each slot name, a dict of slot variables keyed like the variables.

    `named_variables` is {key: variable} in the order `apply_gradients` receives them; the keys
    (layer and weight names) make the saved slots independent of that order.
    """

    slot_initial_values = {}

    def __init__(self, named_variables, name):
        super().__init__(name=name)
        self.keys = list(named_variables)
        self.slots = {}
        for slot, initial_value in self.slot_initial_values.items():
            self.slots[slot] = {
                key: tf.Variable(tf.fill(variable.shape, initial_value), trainable=False,
                                 name="%s/%s" % (key, slot))
                for key, variable in named_variables.items()}

    def slot(self, slot, index):
        return self.slots[slot][self.keys[index]]

    def apply_gradients(self, gradients, variables, learning_rate, step):
        """Update each variable in place with its gradient, at `learning_rate`."""
        learning_rate = tf.cast(learning_rate, tf.float32)
        for index, (gradient, variable) in enumerate(zip(gradients, variables)):
            if gradient is None:
                continue
            self._apply(index, gradient, variable, learning_rate, step)

    def _apply(self, index, gradient, variable, learning_rate, step):
        raise NotImplementedError


class GradientDescent(_Optimizer):
    """Plain SGD: variable -= learning_rate * gradient."""

    def __init__(self, named_variables):
        super().__init__(named_variables, "sgd")

    def _apply(self, index, gradient, variable, learning_rate, step):
        tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=learning_rate,
                                                delta=gradient)


class Momentum(_Optimizer):
    """Heavy-ball momentum: accumulation = momentum * accumulation + gradient, then
    variable -= learning_rate * accumulation."""

    slot_initial_values = {"momentum": 0.0}

    def __init__(self, named_variables, momentum):
        super().__init__(named_variables, "momentum")
        self.momentum = momentum

    def _apply(self, index, gradient, variable, learning_rate, step):
        tf.raw_ops.ResourceApplyMomentum(
            var=variable.handle, accum=self.slot("momentum", index).handle, lr=learning_rate,
            grad=gradient, momentum=tf.constant(self.momentum, tf.float32))


class RMSProp(_Optimizer):
    """TensorFlow 1's RMSProp:

        mean_square = decay * mean_square + (1 - decay) * gradient ** 2   (starts at 1)
        momentum = momentum_decay * momentum + lr * gradient / sqrt(mean_square + epsilon)
        variable -= momentum
    """

    slot_initial_values = {"rms": 1.0, "momentum": 0.0}

    def __init__(self, named_variables, decay, momentum, epsilon):
        super().__init__(named_variables, "rmsprop")
        self.decay = decay
        self.momentum = momentum
        self.epsilon = epsilon

    def _apply(self, index, gradient, variable, learning_rate, step):
        tf.raw_ops.ResourceApplyRMSProp(
            var=variable.handle, ms=self.slot("rms", index).handle,
            mom=self.slot("momentum", index).handle, lr=learning_rate,
            rho=tf.constant(self.decay, tf.float32),
            momentum=tf.constant(self.momentum, tf.float32),
            epsilon=tf.constant(self.epsilon, tf.float32), grad=gradient)


class Adam(_Optimizer):
    """Adam with bias correction from the step number (Kingma and Ba, 2014)."""

    slot_initial_values = {"m": 0.0, "v": 0.0}

    def __init__(self, named_variables, beta1, beta2, epsilon):
        super().__init__(named_variables, "adam")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def _apply(self, index, gradient, variable, learning_rate, step):
        # `step` counts updates already applied; the kernel wants beta ** (updates so far + 1).
        exponent = tf.cast(step, tf.float32) + 1.0
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self.slot("m", index).handle,
            v=self.slot("v", index).handle,
            beta1_power=tf.pow(tf.constant(self.beta1, tf.float32), exponent),
            beta2_power=tf.pow(tf.constant(self.beta2, tf.float32), exponent),
            lr=learning_rate, beta1=tf.constant(self.beta1, tf.float32),
            beta2=tf.constant(self.beta2, tf.float32),
            epsilon=tf.constant(self.epsilon, tf.float32), grad=gradient)


def create_optimizer(name, named_variables, flag_values):
    """Return the optimizer `name` (rmsprop, momentum, sgd, adam) for the {key: variable}
    dict `named_variables`."""
    if name == "rmsprop":
        return RMSProp(named_variables, flag_values.rmsprop_decay, flag_values.rmsprop_momentum,
                       flag_values.rmsprop_epsilon)
    if name == "momentum":
        return Momentum(named_variables, flag_values.momentum)
    if name == "sgd":
        return GradientDescent(named_variables)
    if name == "adam":
        return Adam(named_variables, flag_values.adam_beta1, flag_values.adam_beta2,
                    flag_values.adam_epsilon)
    raise ValueError("--optimizer=%s is not supported; use rmsprop, momentum, sgd or adam."
                     % name)
