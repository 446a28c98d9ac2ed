"""Weights out: the export command (SavedModel and .h5) and the predict command.

The training run is made in-process: a 75 x 75, 10-class model, a checkpoint with a moving
average of its weights under `ema` (as the runner stores it), model_config.json, and a data
folder whose dataset_info.json names the classes.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
import tensorflow as tf

from data import dataset_info
from data import inception_preprocessing
from models import inception_v3
from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import export
from tf_cnn_benchmarks import inference

pytestmark = pytest.mark.keras3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_SIZE = 75
NUM_CLASSES = 10
SYNSETS = ["n%08d" % index for index in range(1, NUM_CLASSES)]


def write_model_config(train_dir, data_dir):
    """Write model_config.json with the keys the runner writes."""
    os.makedirs(train_dir)
    config = {"model": "inception3", "num_classes": NUM_CLASSES, "image_size": IMAGE_SIZE,
              "aux_logits": True, "batchnorm_decay": 0.9997, "batchnorm_epsilon": 0.001,
              "data_dir": data_dir}
    with open(os.path.join(train_dir, "model_config.json"), "w", encoding="utf-8") as file:
        json.dump(config, file)


def write_data_dir(data_dir):
    os.makedirs(data_dir)
    dataset_info.write_dataset_info(data_dir, {
        "synsets": SYNSETS, "label_base": 1,
        "names": {synset: "class number %d" % index
                  for index, synset in enumerate(SYNSETS, start=1)}})


def averaged_values(model):
    """Return {key: value} differing from the model's weights, as a moving average would."""
    values = {}
    for key, variable in checkpoints.named_model_variables(model).items():
        value = variable.numpy()
        if np.issubdtype(value.dtype, np.floating):
            values[key] = value * 0.9 + 0.01
    # Small logits, so the probabilities compared below are not all 0 and 1.
    values["logits/kernel"] *= 1e-5
    return values


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """Return (train_dir, model carrying the averaged weights)."""
    root = tmp_path_factory.mktemp("export_run")
    data_dir, train_dir = str(root / "data"), str(root / "train")
    write_data_dir(data_dir)
    write_model_config(train_dir, data_dir)

    tf.keras.utils.set_random_seed(5)
    model = inception_v3.inception_v3(NUM_CLASSES, image_size=IMAGE_SIZE)
    averages = averaged_values(model)
    shadows = {key: tf.Variable(value) for key, value in averages.items()}
    checkpoint = tf.train.Checkpoint(step=tf.Variable(1, dtype=tf.int64),
                                     model=checkpoints.named_model_variables(model),
                                     ema=shadows)
    checkpoints.create_manager(checkpoint, train_dir, max_to_keep=1).save(checkpoint_number=1)

    named = checkpoints.named_model_variables(model)
    for key, value in averages.items():
        named[key].assign(value)
    return train_dir, model


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    export_dir = str(tmp_path_factory.mktemp("exports") / "inception_v3")
    result = subprocess.run(
        [sys.executable, "-m", "tf_cnn_benchmarks.export", "--train_dir=" + trained_run[0],
         "--export_dir=" + export_dir], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return export_dir, result.stdout


@pytest.fixture(scope="module")
def photo_jpeg(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("photos") / "astronaut.jpg")
    tf.io.write_file(path, tf.io.encode_jpeg(skimage.data.astronaut(), quality=95))
    return path


def expected_probabilities(model, jpeg_path):
    """Softmax of the model on the training pipeline's evaluation preprocessing."""
    image = inception_preprocessing.preprocess_for_eval(tf.io.read_file(jpeg_path), IMAGE_SIZE)
    logits = model(image[tf.newaxis], training=False)[0]
    return tf.nn.softmax(logits).numpy()[0]


def decoded(jpeg_path):
    return tf.io.decode_jpeg(tf.io.read_file(jpeg_path), channels=3)[tf.newaxis]


@pytest.fixture(scope="module")
def served(exported):
    return tf.saved_model.load(os.path.join(exported[0], "saved_model"))


@pytest.mark.parametrize("name", ["saved_model/saved_model.pb", "weights.h5",
                                  "model_config.json"])
def test_export_writes_file(exported, name):
    assert os.path.isfile(os.path.join(exported[0], name))


def test_export_leaves_no_temporary(exported):
    parent = os.path.dirname(exported[0])
    assert os.listdir(parent) == [os.path.basename(exported[0])]


def test_export_reports_ema(exported):
    assert "moving-average (EMA) weights" in exported[1]


def test_uint8_signature_matches_pipeline(served, trained_run, photo_jpeg):
    outputs = served.signatures["serving_default"](images=decoded(photo_jpeg))
    np.testing.assert_allclose(outputs["probabilities"].numpy()[0],
                               expected_probabilities(trained_run[1], photo_jpeg), atol=1e-5)


def test_float_signature_matches_uint8(served, photo_jpeg):
    images = decoded(photo_jpeg)
    from_uint8 = served.signatures["serving_default"](images=images)["probabilities"]
    from_float = served.signatures["serving_float"](
        images=tf.cast(images, tf.float32) / 255.0)["probabilities"]
    np.testing.assert_allclose(from_float.numpy(), from_uint8.numpy(), atol=1e-6)


def test_top_5_probabilities_of_classes(served, photo_jpeg):
    outputs = served.signatures["serving_default"](images=decoded(photo_jpeg))
    probabilities = outputs["probabilities"].numpy()[0]
    expected = probabilities[outputs["top_5_classes"].numpy()[0]]
    np.testing.assert_array_equal(outputs["top_5_probabilities"].numpy()[0], expected)


def test_top_5_probabilities_are_largest(served, photo_jpeg):
    outputs = served.signatures["serving_default"](images=decoded(photo_jpeg))
    expected = np.sort(outputs["probabilities"].numpy()[0])[::-1][:5]
    np.testing.assert_array_equal(outputs["top_5_probabilities"].numpy()[0], expected)


def test_weights_h5_holds_averages(exported, trained_run, photo_jpeg):
    model = inception_v3.inception_v3(NUM_CLASSES, image_size=IMAGE_SIZE)
    report = inception_v3.load_keras_weights(model, os.path.join(exported[0], "weights.h5"))
    assert report.missing == []
    np.testing.assert_allclose(expected_probabilities(model, photo_jpeg),
                               expected_probabilities(trained_run[1], photo_jpeg), atol=1e-6)


def test_existing_export_dir_rejected(trained_run, tmp_path):
    with pytest.raises(inference.InferenceError, match="already exists"):
        export.export(trained_run[0], str(tmp_path))


def test_train_dir_without_config_rejected(tmp_path):
    with pytest.raises(inference.InferenceError, match="has no model_config.json"):
        export.export(str(tmp_path), str(tmp_path / "out"))


def run_predict(arguments):
    return subprocess.run([sys.executable, "-m", "tf_cnn_benchmarks.predict"] + arguments,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_predict_prints_top_class(trained_run, photo_jpeg):
    result = run_predict(["--train_dir=" + trained_run[0], photo_jpeg])
    top_class = int(np.argmax(expected_probabilities(trained_run[1], photo_jpeg)))
    assert result.returncode == 0, result.stderr[-3000:]
    first_row = result.stdout.splitlines()[2]
    assert first_row.startswith("  1. class %4d" % top_class)
    if top_class >= 1:
        assert "%s  class number %d" % (SYNSETS[top_class - 1], top_class) in first_row


def test_predict_missing_image(trained_run, tmp_path):
    missing = str(tmp_path / "absent.jpg")
    result = run_predict(["--train_dir=" + trained_run[0], missing])
    assert result.returncode == 1
    assert "image %s not found" % missing in result.stderr
