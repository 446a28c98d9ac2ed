"""Entry point of `python -m tf_cnn_benchmarks`."""

import os
import re
import sys

# Hide TensorFlow's C++ start-up notices (oneDNN, CPU instructions) so the step table stays
# readable; warnings and errors still print. Must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
# Keep freed CPU memory in TensorFlow's BFC pool. The default allocator most likely hands
# large blocks (a float32 batch, most activations) back to the system and faults them in
# again each step. With the pool, training ran 7-9 % faster and the input pipeline about
# 40 % (benchmarks.levers and benchmarks.pipeline_levers, 2-core AMD EPYC). Set it to false
# to compare.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import tensorflow as tf  # noqa: E402

from tf_cnn_benchmarks import runner  # noqa: E402


def restart_with_fixed_hash_seed():
    """Restart this process with PYTHONHASHSEED=0 unless the hash seed is already fixed.

    Keras iterates over sets while it builds the model, so with Python's random string hashing
    the order of some ops, and with it the summation order of gradients, changes from one
    process to the next. --deterministic needs the same order in every run.
    """
    if os.environ.get("PYTHONHASHSEED", "random") != "random":
        return
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, "-m", "tf_cnn_benchmarks"] + sys.argv[1:])


def main(argv):
    if runner.FLAGS.deterministic:
        restart_with_fixed_hash_seed()

    # TensorFlow logs every checkpoint write at INFO through absl, and one warning per
    # variable when a restore is partial. The runner reports both itself, in one line each.
    logging.set_verbosity(logging.WARNING)
    tf.get_logger().setLevel("ERROR")
    runner.main(argv)


# absl words a bad boolean value as a tuple: "flag --NAME=VALUE: ('Non-boolean argument to
# boolean flag', 'VALUE')".
NON_BOOLEAN_VALUE = re.compile(r"^flag --(?P<name>\w+)=(?P<value>.*): \('Non-boolean argument")


def flag_error_text(error):
    """Return the text of an absl parse error, reworded where absl prints a tuple."""
    text = str(error)
    match = NON_BOOLEAN_VALUE.match(text)
    if match is None:
        return text
    name = match.group("name")
    return ("flag --%s=%s: invalid value for a boolean flag. Give true or false, or write "
            "--%s or --no%s" % (name, match.group("value"), name, name))


def parse_flags(argv):
    """Parse the command line; report a malformed or unknown flag like the runner's own checks.

    The runner's checks exit with status 2 and an "error:" line, and absl's parser would
    exit with status 1 and a "FATAL" line.
    """
    try:
        return runner.FLAGS(argv)
    except flags.Error as error:
        sys.stderr.write("error: %s\nPass --helpfull to list every flag.\n"
                         % flag_error_text(error))
        sys.exit(2)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
