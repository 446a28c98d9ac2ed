"""Keras Applications' InceptionV3 weights in Keras 2's HDF5 layout, with reference outputs.

`write_reference(output_dir)` builds `tf.keras.applications.InceptionV3(weights=None,
classifier_activation=None)` with random batch-norm statistics (so that a wrong batch-norm
mapping changes the logits), then writes into `output_dir`:

    inception_v3_top.h5    the weights with the 1000-class top (layers conv2d, conv2d_1, ...)
    inception_v3_notop.h5  the same backbone without the top (include_top=False)
    images.npy             a random batch [2, 299, 299, 3] in [-1, 1]
    logits.npy             Keras' logits in inference mode
    features.npy           Keras' globally pooled features (the notop model's use)
    source.txt             which Keras wrote the files

Under Keras 2 (TensorFlow 2.15) Keras' own `save_weights` writes the files. Under Keras 3,
`python -m tests.keras_reference OUTPUT_DIR` runs this in a Keras 2 interpreter when the tests
find one; otherwise `write_reference` writes Keras 3's model in Keras 2's layout with h5py.
"""

import os
import sys

import numpy as np
import tensorflow as tf

SEED = 7
IMAGE_SIZE = 299
BATCH_SIZE = 2


def keras_version():
    import keras  # The package behind tf.keras on both lines (2.15 and 3.x).

    return keras.__version__


def is_keras_2():
    return keras_version().startswith("2.")


def randomize_batchnorm(model, rng):
    """Give every batch norm random beta, moving mean and moving variance."""
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.BatchNormalization):
            continue
        channels = layer.beta.shape[0]
        layer.beta.assign(rng.normal(0.0, 0.1, channels).astype(np.float32))
        layer.moving_mean.assign(rng.normal(0.0, 0.1, channels).astype(np.float32))
        layer.moving_variance.assign(rng.uniform(0.5, 1.5, channels).astype(np.float32))


def _weighted_layers(model):
    return [layer for layer in model.layers if layer.weights]


def _write_h5_keras_2_layout(model, path):
    """Write `model` as Keras 2's `save_weights` does: for Keras 3, which writes another layout."""
    import h5py

    with h5py.File(path, "w") as h5file:
        h5file.attrs["backend"] = b"tensorflow"
        h5file.attrs["keras_version"] = b"2.15.0"
        h5file.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        for layer in model.layers:
            group = h5file.create_group(layer.name)
            names = ["%s/%s:0" % (layer.name, weight.name.split("/")[-1].split(":")[0])
                     for weight in layer.weights]
            group.attrs["weight_names"] = np.array([name.encode() for name in names])
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight.numpy()))


def _save(model, path):
    if is_keras_2():
        model.save_weights(path)
    else:
        _write_h5_keras_2_layout(model, path)


def write_reference(output_dir):
    """Write the files listed in the module docstring; return `output_dir`."""
    os.makedirs(output_dir, exist_ok=True)
    tf.keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)

    model = tf.keras.applications.InceptionV3(weights=None, classifier_activation=None)
    randomize_batchnorm(model, rng)
    _save(model, os.path.join(output_dir, "inception_v3_top.h5"))

    # Built second, so its layers are conv2d_94 ... in Keras 2: a counter offset to map.
    notop = tf.keras.applications.InceptionV3(weights=None, include_top=False)
    for target, source in zip(_weighted_layers(notop), _weighted_layers(model)):
        target.set_weights(source.get_weights())
    _save(notop, os.path.join(output_dir, "inception_v3_notop.h5"))

    images = rng.uniform(-1.0, 1.0, [BATCH_SIZE, IMAGE_SIZE, IMAGE_SIZE, 3]).astype(np.float32)
    pooled = tf.keras.Model(model.input, model.get_layer("avg_pool").output)
    np.save(os.path.join(output_dir, "images.npy"), images)
    np.save(os.path.join(output_dir, "logits.npy"), model(images, training=False).numpy())
    np.save(os.path.join(output_dir, "features.npy"), pooled(images, training=False).numpy())

    source = ("Keras %s save_weights (TensorFlow %s)" % (keras_version(), tf.__version__)
              if is_keras_2() else
              "Keras %s model written in Keras 2's layout with h5py (TensorFlow %s)"
              % (keras_version(), tf.__version__))
    with open(os.path.join(output_dir, "source.txt"), "w", encoding="utf-8") as source_file:
        source_file.write(source + "\n")
    return output_dir


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.keras_reference OUTPUT_DIR")
    write_reference(sys.argv[1])
