"""Learning on real data: scikit-learn's handwritten digits -> ImageNet folder -> converter ->
shards -> the runner trains InceptionV3 from scratch at 75 x 75 -> `--eval` scores the held-out
digits in inference mode (batch-norm moving statistics, no dropout).

The accuracy that counts is the moving-average (EMA) weights' line, because those are the
weights that the recipe evaluates and exports. The trained weights' line is printed beside it.
About 3 to 7 minutes on 2 CPU cores. It runs on the TensorFlow 2.15 line only.
"""

import math
import re
import subprocess
import sys
import time

import pytest

from data import make_digits_imagenet
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

# Top-1 accuracy on the held-out digits that the moving-average weights must reach.
# Measured with TRAINING_FLAGS on 2 CPU cores (TF 2.15.1): 0.9805 and 0.9721 in two runs with
# different seeds. 20 epochs reached 0.9777-0.9805, and with the random flip the
# recipe ended between 0.947 and 0.972.
# NOTE: that leaves 7 to 10 of the 359 digits as margin (0.95 needs 342 right). The runs are
# not bitwise repeatable without --deterministic.
MIN_TOP_1_ACCURACY = 0.95

# Only catches a hung run: training took 3 minutes on a 2-core AMD EPYC with AVX-512, and the
# 20-epoch recipe took up to 11.5 minutes in CI on a slower 2-core AMD EPYC with AVX2.
TIMEOUT_SECONDS = 1800

# Written at 80 pixels, so the evaluation's 87.5 % central crop (70 pixels) is enlarged to 75.
DIGIT_IMAGE_SIZE = 80

# 12 epochs of 1,438 training digits, 540 steps. 20 epochs at a decay of 0.85 per epoch gained
# no accuracy and took up to 11.5 minutes of CI's 45.
NUM_EPOCHS = 12

# Measured on 2 CPU cores with TF 2.15.1: Adam reached 73 % (moving-average weights) after 4
# epochs, RMSProp with epsilon 1.0 at --init_learning_rate=0.045 only 19 %, and Adam at 0.002
# learned more slowly than at 0.001.
TRAINING_FLAGS = [
    "--image_size=75",
    "--batch_size=32",
    "--num_epochs=%d" % NUM_EPOCHS,
    "--optimizer=adam",
    "--init_learning_rate=0.001",
    "--num_learning_rate_warmup_epochs=1",
    # The rate falls to 0.001 * 0.75**11 = 4.2e-5 by the last epoch. At a constant rate,
    # Keras' InceptionV3 reached 96 % on these digits and then fell back (same machine).
    "--num_epochs_per_decay=1",
    "--learning_rate_decay_factor=0.75",
    # With 0.99, Keras' InceptionV3 still scored near chance in inference mode after a few
    # hundred steps, because the batch-norm moving statistics lag the weights. The default
    # 0.9997 lags more.
    "--batchnorm_decay=0.9",
    # An average over about the last 100 steps (2 epochs). The ramp
    # min(decay, (1 + step) / (10 + step)) lets it follow the fast early changes.
    "--moving_average_decay=0.99",
    # A mirrored digit is no valid digit, so the random flip of Inception preprocessing only
    # adds wrong training examples here. Turning it off raised top-1 (see MIN_TOP_1_ACCURACY).
    "--noflip_left_right",
    "--tf_random_seed=1",
    "--display_every=50",
]

ACCURACY_LINE = re.compile(
    r"^Accuracy @ 1 = (?P<top_1>[0-9.]+) Accuracy @ 5 = (?P<top_5>[0-9.]+) "
    r"\[(?P<num_images>\d+) examples\] \(step (?P<step>\d+), (?P<weights>[a-z -]+)\)$",
    re.MULTILINE)


def run_runner(args):
    return subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks"] + args, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=TIMEOUT_SECONDS)


def parse_accuracy_lines(stdout):
    """Parse the accuracy lines into {weights: {"top_1", "num_images", "step"}}.

    A later line for the same weight set replaces an earlier one.
    """
    results = {}
    for match in ACCURACY_LINE.finditer(stdout):
        results[match.group("weights")] = {"top_1": float(match.group("top_1")),
                                           "num_images": int(match.group("num_images")),
                                           "step": int(match.group("step"))}
    return results


def report(message):
    # pytest shows the captured stderr of a failed test. Pass -s or -rP to see the figures
    # of a passing run.
    print("test_learning_digits: %s" % message, file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Write the digits folder, convert it, train and evaluate. Return outputs and figures."""
    from data import build_imagenet_tfrecord

    work_dir = tmp_path_factory.mktemp("digits")
    raw_dir = str(work_dir / "raw")
    data_dir = str(work_dir / "shards")
    train_dir = str(work_dir / "train_dir")

    num_train, num_val = make_digits_imagenet.make_digits_imagenet(
        raw_dir, image_size=DIGIT_IMAGE_SIZE)
    build_imagenet_tfrecord.convert(raw_dir, data_dir, train_shards=4, validation_shards=2)

    start = time.time()
    training = run_runner(["--data_dir=" + data_dir, "--train_dir=" + train_dir]
                          + TRAINING_FLAGS)
    training_seconds = time.time() - start

    start = time.time()
    evaluation = run_runner(["--eval", "--data_dir=" + data_dir, "--train_dir=" + train_dir,
                             "--batch_size=100"])
    evaluation_seconds = time.time() - start

    accuracies = parse_accuracy_lines(evaluation.stdout)
    top_1_figures = ["%s %.4f" % (weights, result["top_1"])
                     for weights, result in sorted(accuracies.items())]
    report("%d training and %d validation digits, training %.0f s, evaluation %.0f s, "
           "top-1: %s" % (num_train, num_val, training_seconds, evaluation_seconds,
                          ", ".join(top_1_figures) or "no accuracy line printed"))
    return {"training": training, "evaluation": evaluation, "accuracies": accuracies,
            "num_train": num_train, "num_val": num_val}


def test_training_succeeds(digits_run):
    training = digits_run["training"]
    assert training.returncode == 0, training.stdout[-3000:] + training.stderr[-3000:]


def test_evaluation_succeeds(digits_run):
    evaluation = digits_run["evaluation"]
    assert evaluation.returncode == 0, evaluation.stdout[-3000:] + evaluation.stderr[-3000:]


def test_evaluation_prints_both_weight_sets(digits_run):
    weights = sorted(digits_run["accuracies"])
    assert weights == ["moving-average weights", "trained weights"], \
        digits_run["evaluation"].stdout[-3000:]


def test_evaluation_scores_every_held_out_digit(digits_run):
    result = digits_run["accuracies"]["moving-average weights"]
    assert result["num_images"] == digits_run["num_val"]


def test_evaluation_scores_last_step(digits_run):
    expected_step = math.ceil(NUM_EPOCHS * digits_run["num_train"] / 32)
    result = digits_run["accuracies"]["moving-average weights"]
    assert result["step"] == expected_step


def test_moving_average_weights_reach_accuracy(digits_run):
    top_1 = digits_run["accuracies"]["moving-average weights"]["top_1"]
    assert top_1 >= MIN_TOP_1_ACCURACY, digits_run["evaluation"].stdout[-3000:]
