"""Images/sec bookkeeping and tf_cnn_benchmarks' step table.

The table reads as tf_cnn_benchmarks prints it:

    Step    Img/sec total_loss
    10      images/sec: 2.0 +/- 0.0 (jitter = 0.1)  7.245
    ----------------------------------------------------------------
    total images/sec: 1.98
    ----------------------------------------------------------------
"""

import numpy as np

RULE = "-" * 64
TABLE_HEADER = "Step\tImg/sec\ttotal_loss"


class ThroughputMeter:
    """Collects images/sec of each step after the warm-up steps."""

    def __init__(self, images_per_step, num_warmup_steps):
        self.images_per_step = images_per_step
        self.num_warmup_steps = num_warmup_steps
        self.steps_seen = 0
        self.step_speeds = []
        self.measured_seconds = 0.0
        self.last_speed = 0.0

    def record_step(self, seconds):
        """Record one training step that took `seconds` of wall time."""
        self.steps_seen += 1
        self.last_speed = self.images_per_step / max(seconds, 1e-9)
        if self.steps_seen <= self.num_warmup_steps:
            return
        self.measured_seconds += seconds
        self.step_speeds.append(self.last_speed)

    @property
    def measured_steps(self):
        return len(self.step_speeds)

    def speed_summary(self):
        """Return (mean, uncertainty, jitter) images/sec over the measured steps.

        Uncertainty is the standard error of the mean; jitter is 1.4826 times the median
        absolute deviation, a spread estimate that ignores outlier steps. During the warm-up
        it returns the speed of the latest step alone.
        """
        if not self.step_speeds:
            return self.last_speed, 0.0, 0.0
        speeds = np.asarray(self.step_speeds)
        mean = float(np.mean(speeds))
        uncertainty = float(np.std(speeds) / np.sqrt(len(speeds)))
        jitter = float(1.4826 * np.median(np.abs(speeds - np.median(speeds))))
        return mean, uncertainty, jitter

    def total_images_per_sec(self):
        """Return images / elapsed seconds over the steps after warm-up, or None if none."""
        if not self.step_speeds:
            return None
        return self.measured_steps * self.images_per_step / self.measured_seconds


def remaining_seconds(meter, remaining_steps):
    """Return the estimated seconds for `remaining_steps` at the measured speed, or None."""
    mean, _, _ = meter.speed_summary()
    if not meter.step_speeds or mean <= 0:
        return None
    return remaining_steps * meter.images_per_step / mean


def format_step_row(step, meter, loss):
    mean, uncertainty, jitter = meter.speed_summary()
    return "%d\timages/sec: %.1f +/- %.1f (jitter = %.1f)\t%.3f" % (
        step, mean, uncertainty, jitter, loss)


def format_total(meter):
    """Return the closing lines with the total images/sec, or why there is no figure."""
    total = meter.total_images_per_sec()
    if total is None:
        line = ("total images/sec: not measured (all %d step(s) of this run were within the "
                "%d warm-up steps; lower --num_warmup_batches or train longer)"
                % (meter.steps_seen, meter.num_warmup_steps))
    else:
        line = "total images/sec: %.2f" % total
    return "\n".join([RULE, line, RULE])
