"""Loading Keras Applications' InceptionV3 HDF5 weights: outputs equal to Keras' own.

The reference files come from tests/keras_reference.py. Under Keras 2 (TensorFlow 2.15) Keras'
own `save_weights` writes them in this process. Under Keras 3 they come from a Keras 2
interpreter when one is found: $KERAS2_PYTHON, else the checkout's .venv-tf215, which
scripts/run_tests.sh creates. Without one, Keras 3's InceptionV3 is written in Keras 2's layout
with h5py. The test output names the source.
"""

import os
import re
import shutil
import subprocess

import h5py
import numpy as np
import pytest
import tensorflow as tf

from models import inception_v3
from models import keras_h5
from models import weights
from tests import keras_reference

pytestmark = pytest.mark.keras3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tolerance of the logits comparison with Keras.
MAX_LOGIT_DIFFERENCE = 1e-4

AUX_HEAD_LAYERS = ["aux_logits_conv2d_1b_1x1", "aux_logits_conv2d_1b_1x1_bn",
                   "aux_logits_conv2d_2a_5x5", "aux_logits_conv2d_2a_5x5_bn", "aux_logits"]


def keras_2_python():
    """Return a Python of a Keras 2 environment, or None."""
    for candidate in (os.environ.get("KERAS2_PYTHON"),
                      os.path.join(REPO_ROOT, ".venv-tf215", "bin", "python")):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("keras_reference"))
    python = keras_2_python()
    if keras_reference.is_keras_2() or python is None:
        keras_reference.write_reference(output_dir)
    else:
        subprocess.run([python, "-m", "tests.keras_reference", output_dir], cwd=REPO_ROOT,
                       check=True, timeout=600)
    with open(os.path.join(output_dir, "source.txt"), encoding="utf-8") as source_file:
        print("Keras reference files: %s" % source_file.read().strip())
    return output_dir


def reference(reference_dir, name):
    return np.load(os.path.join(reference_dir, name + ".npy"))


def top_path(reference_dir):
    return os.path.join(reference_dir, "inception_v3_top.h5")


def notop_path(reference_dir):
    return os.path.join(reference_dir, "inception_v3_notop.h5")


def rename_to_published_style(source, target):
    """Copy a Keras file, renumbering conv2d / batch_normalization layers from 1 as in the
    published file (`conv2d_1` ... `conv2d_94`), with their weight names."""
    shutil.copy(source, target)
    with h5py.File(target, "r+") as h5file:
        names = [name.decode() if isinstance(name, bytes) else name
                 for name in h5file.attrs["layer_names"]]
        renames = {}
        for kind in ("conv2d", "batch_normalization"):
            pattern = re.compile(r"^%s(?:_(\d+))?$" % kind)
            numbered = sorted((int(match.group(1) or 0), name) for name in names
                              for match in [pattern.match(name)] if match)
            renames.update({name: "%s_%d" % (kind, index)
                            for index, (_, name) in enumerate(numbered, start=1)})
        # Move to temporary names first, since new and old names overlap.
        for old in renames:
            h5file.move(old, "tmp_" + old)
        for old, new in renames.items():
            h5file.move("tmp_" + old, new)
            group = h5file[new]
            group.move(old, new)
            group.attrs["weight_names"] = np.array(
                [(name.decode() if isinstance(name, bytes) else name)
                 .replace(old + "/", new + "/").encode()
                 for name in group.attrs["weight_names"]])
        h5file.attrs["layer_names"] = np.array([renames.get(name, name).encode()
                                                for name in names])
    return renames


def test_top_logits_match_keras(reference_dir):
    model = inception_v3.inception_v3(1000, aux_logits=False)
    inception_v3.load_keras_weights(model, top_path(reference_dir))
    logits = model(reference(reference_dir, "images"), training=False).numpy()
    difference = float(np.max(np.abs(logits - reference(reference_dir, "logits"))))
    print("max |our logits - Keras logits| = %.3g" % difference)
    assert difference <= MAX_LOGIT_DIFFERENCE


def test_top_report_lists_aux_head(reference_dir):
    model = inception_v3.inception_v3(1000, aux_logits=True)
    report = inception_v3.load_keras_weights(model, top_path(reference_dir))
    assert report.missing == AUX_HEAD_LAYERS


def test_top_report_loads_backbone(reference_dir):
    model = inception_v3.inception_v3(1000, aux_logits=False)
    report = inception_v3.load_keras_weights(model, top_path(reference_dir))
    # 94 convolutions, their 94 batch norms and the logits.
    assert len(report.loaded) == 189


def test_notop_features_match_keras(reference_dir):
    model = inception_v3.inception_v3(10, aux_logits=True)
    inception_v3.load_keras_weights(model, notop_path(reference_dir))
    pooled = tf.keras.Model(model.input, model.get_layer("global_avgpool").output)
    features = pooled(reference(reference_dir, "images"), training=False).numpy()
    difference = np.max(np.abs(features - reference(reference_dir, "features")))
    assert difference <= MAX_LOGIT_DIFFERENCE


def test_notop_report_lists_logits(reference_dir):
    model = inception_v3.inception_v3(10, aux_logits=True)
    report = inception_v3.load_keras_weights(model, notop_path(reference_dir))
    assert report.missing == AUX_HEAD_LAYERS + ["logits"]


def test_published_names_logits_match(reference_dir, tmp_path):
    renamed = str(tmp_path / "published_style.h5")
    renames = rename_to_published_style(top_path(reference_dir), renamed)
    assert sorted(renames.values())[:2] == ["batch_normalization_1", "batch_normalization_10"]

    model = inception_v3.inception_v3(1000, aux_logits=False)
    inception_v3.load_keras_weights(model, renamed)
    logits = model(reference(reference_dir, "images"), training=False).numpy()
    difference = np.max(np.abs(logits - reference(reference_dir, "logits")))
    assert difference <= MAX_LOGIT_DIFFERENCE


def test_other_class_count_names_shapes(reference_dir):
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    with pytest.raises(weights.WeightsError, match=r"predictions/kernel.*\(2048, 1000\).*"
                                                   r"logits/kernel.*\(2048, 10\)"):
        inception_v3.load_keras_weights(model, top_path(reference_dir))


def test_failed_load_leaves_model_unchanged(reference_dir):
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    before = model.get_layer("conv2d_1a_3x3").kernel.numpy()
    with pytest.raises(weights.WeightsError):
        inception_v3.load_keras_weights(model, top_path(reference_dir))
    np.testing.assert_array_equal(model.get_layer("conv2d_1a_3x3").kernel.numpy(), before)


def test_skip_layers_keeps_logits(reference_dir):
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    before = model.get_layer("logits").kernel.numpy()
    report = inception_v3.load_keras_weights(model, top_path(reference_dir),
                                             skip_layers=("logits",))
    assert report.skipped == ["logits"]
    np.testing.assert_array_equal(model.get_layer("logits").kernel.numpy(), before)


def test_file_num_classes(reference_dir):
    assert keras_h5.file_num_classes(top_path(reference_dir)) == 1000


def test_file_num_classes_notop(reference_dir):
    assert keras_h5.file_num_classes(notop_path(reference_dir)) is None


def test_missing_file_named(tmp_path):
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    missing = str(tmp_path / "absent.h5")
    with pytest.raises(weights.WeightsError, match="absent.h5 not found"):
        inception_v3.load_keras_weights(model, missing)


def test_keras_3_layout_rejected(tmp_path):
    path = str(tmp_path / "model.weights.h5")
    with h5py.File(path, "w") as h5file:
        h5file.create_group("vars")
        h5file.create_group("layers")
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    with pytest.raises(weights.WeightsError, match="Keras 3's .weights.h5 layout"):
        inception_v3.load_keras_weights(model, path)


def test_not_hdf5_rejected(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_text("not HDF5")
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    with pytest.raises(weights.WeightsError, match="cannot be read as HDF5"):
        inception_v3.load_keras_weights(model, str(path))


def test_own_h5_roundtrip_by_name(tmp_path):
    source = inception_v3.inception_v3(10, aux_logits=True, image_size=75)
    target = inception_v3.inception_v3(10, aux_logits=True, image_size=75)
    path = str(tmp_path / "weights.h5")
    keras_h5.save_keras_h5(source, path)

    report = inception_v3.load_keras_weights(target, path)
    images = tf.random.stateless_uniform([2, 75, 75, 3], seed=[3, 4], minval=-1, maxval=1)
    expected = source(images, training=False)[0].numpy()
    assert report.missing == []
    np.testing.assert_array_equal(target(images, training=False)[0].numpy(), expected)


def test_own_h5_loads_with_keras_load_weights(tmp_path):
    source = inception_v3.inception_v3(10, aux_logits=True, image_size=75)
    target = inception_v3.inception_v3(10, aux_logits=True, image_size=75)
    path = str(tmp_path / "weights.h5")
    keras_h5.save_keras_h5(source, path)

    target.load_weights(path)
    images = tf.random.stateless_uniform([2, 75, 75, 3], seed=[5, 6], minval=-1, maxval=1)
    expected = source(images, training=False)[0].numpy()
    np.testing.assert_array_equal(target(images, training=False)[0].numpy(), expected)

