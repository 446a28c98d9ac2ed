"""Entry point of `python -m tf_cnn_benchmarks`."""

import os

# Hide TensorFlow's C++ start-up notices (oneDNN, CPU instructions) so the step table stays
# readable; warnings and errors still print. Must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

from absl import app  # noqa: E402
from absl import logging  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_cnn_benchmarks import runner  # noqa: E402


def main(argv):
    # TensorFlow logs every checkpoint write at INFO through absl, and one warning per
    # variable when a restore is partial. The runner reports both itself, in one line each.
    logging.set_verbosity(logging.WARNING)
    tf.get_logger().setLevel("ERROR")
    runner.main(argv)


if __name__ == "__main__":
    app.run(main)
