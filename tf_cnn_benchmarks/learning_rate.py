"""The learning-rate schedule: linear scaling to the global batch, linear warm-up, then
staircase decay or tf_cnn_benchmarks' piecewise-constant schedule."""

import tensorflow as tf

# Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (2015), section
# 8: learning rate 0.045 on 50 replicas of 32 images. The paper does not say whether updates
# were synchronous, so this suite treats it as one global batch of 1600 images and scales the
# rate linearly to the actual global batch.
REFERENCE_LEARNING_RATE = 0.045
REFERENCE_GLOBAL_BATCH_SIZE = 50 * 32


def scaled_learning_rate(global_batch_size):
    """Return 0.045 (for 1600 images) scaled linearly to `global_batch_size` images."""
    return REFERENCE_LEARNING_RATE * global_batch_size / REFERENCE_GLOBAL_BATCH_SIZE


def parse_piecewise_schedule(text):
    """Return (boundary_epochs, learning_rates) of 'lr0;epoch1;lr1;epoch2;lr2...'.

    Raises ValueError naming the flag and the value when the text is malformed.
    """
    parts = [part.strip() for part in text.split(";")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = None
    if numbers is None or len(numbers) % 2 == 0:
        raise ValueError(
            "--piecewise_learning_rate_schedule=%s is invalid; give learning rates and epochs "
            "alternating, starting and ending with a rate, such as '0.1;30;0.01;60;0.001'."
            % text)

    learning_rates = numbers[0::2]
    boundaries = numbers[1::2]
    if any(later <= earlier for earlier, later in zip(boundaries, boundaries[1:])) or \
            any(boundary <= 0 for boundary in boundaries):
        raise ValueError("--piecewise_learning_rate_schedule=%s is invalid; the epochs must be "
                         "positive and increasing." % text)
    if any(rate <= 0 for rate in learning_rates):
        raise ValueError("--piecewise_learning_rate_schedule=%s is invalid; learning rates "
                         "must be positive." % text)
    return boundaries, learning_rates


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


class PiecewiseConstant:
    """learning_rates[i] from boundary_steps[i - 1] (inclusive) to boundary_steps[i]."""

    def __init__(self, boundary_steps, learning_rates):
        self.boundary_steps = [int(step) for step in boundary_steps]
        self.learning_rates = list(learning_rates)
        self.initial_learning_rate = learning_rates[0]

    def __call__(self, step):
        step = tf.cast(step, tf.int64)
        index = tf.reduce_sum(tf.cast(
            step >= tf.constant(self.boundary_steps, tf.int64), tf.int32))
        return tf.gather(tf.constant(self.learning_rates, tf.float32), index)


class LinearWarmup:
    """Scale `schedule` by (step + 1) / warmup_steps during the first `warmup_steps` steps."""

    def __init__(self, schedule, warmup_steps):
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)
        self.initial_learning_rate = schedule.initial_learning_rate

    def __call__(self, step):
        learning_rate = self.schedule(step)
        if self.warmup_steps <= 0:
            return learning_rate
        fraction = tf.minimum(1.0, (tf.cast(step, tf.float32) + 1.0) / self.warmup_steps)
        return learning_rate * fraction


def create_schedule(flag_values, global_batch_size, steps_per_epoch):
    """Return the schedule the flags describe; its `initial_learning_rate` is the peak rate."""
    if flag_values.piecewise_learning_rate_schedule:
        boundary_epochs, learning_rates = parse_piecewise_schedule(
            flag_values.piecewise_learning_rate_schedule)
        schedule = PiecewiseConstant([epoch * steps_per_epoch for epoch in boundary_epochs],
                                     learning_rates)
    else:
        initial = flag_values.init_learning_rate or scaled_learning_rate(global_batch_size)
        schedule = StaircaseDecay(initial, flag_values.num_epochs_per_decay * steps_per_epoch,
                                  flag_values.learning_rate_decay_factor,
                                  flag_values.minimum_learning_rate)

    warmup_steps = round(flag_values.num_learning_rate_warmup_epochs * steps_per_epoch)
    return LinearWarmup(schedule, warmup_steps)
