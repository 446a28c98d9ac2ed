"""Shared parts of the weight loaders: the error type, the load report and a checked assign.

The loaders themselves are `models.keras_h5.load_keras_weights` (Keras Applications' HDF5
files) and `models.slim_checkpoint.load_slim_checkpoint` (TF-Slim's checkpoint); both are
re-exported by `models.inception_v3`.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf


class WeightsError(ValueError):
    """A weights file that is missing, unreadable or does not fit the model."""


@dataclasses.dataclass
class LoadReport:
    """Result of one loader call: our layer names, by what happened to them."""

    path: str
    loaded: list  # layers that got values from the file
    missing: list  # layers with weights that the file has nothing for (they keep their values)
    skipped: list  # layers the caller asked to leave as they are
    unused: list  # names of file entries that no layer took

    def summary(self):
        """Return one line: the counts, then the layers that got nothing, by name."""
        text = "Loaded %d layers from %s" % (len(self.loaded), self.path)
        if self.skipped:
            text += "; left as initialized on request: %s" % ", ".join(self.skipped)
        if self.missing:
            text += "; not in the file, left as initialized: %s" % ", ".join(self.missing)
        return text + "."


def check_file_exists(path, what):
    """Raise WeightsError naming `path` unless it (or a V2 checkpoint's .index) exists."""
    if os.path.isfile(path) or os.path.isfile(path + ".index"):
        return
    raise WeightsError("%s %s not found. Check the path; download the file first if it is a "
                       "published one." % (what, path))


def variable_key(layer, weight):
    """Return "layer_name/weight_name" as tf_cnn_benchmarks.checkpoints keys variables."""
    # Keras 2 names a weight "layer/kernel:0", Keras 3 just "kernel".
    return "%s/%s" % (layer.name, weight.name.split("/")[-1].split(":")[0])


def float_weights(layer):
    # The dropout layer's call count is an integer variable, and no weights file contains it.
    return [weight for weight in layer.weights if tf.as_dtype(weight.dtype).is_floating]


def variables_by_key(model):
    """Return {"layer/weight": variable} for every float weight of `model`."""
    return {variable_key(layer, weight): weight
            for layer in model.layers for weight in float_weights(layer)}


def layers_with_weights(model):
    """Return the names of the layers that have float weights, in model order."""
    return [layer.name for layer in model.layers if float_weights(layer)]


class Assignment:
    """Values bound for model variables, checked in full before any variable changes.

    Checking first means a file that does not fit leaves the model as it was.
    """

    def __init__(self, model, path):
        self.path = path
        self.variables = variables_by_key(model)
        self.values = {}

    def add(self, key, value, source_name):
        """Queue `value` for variable `key`; raise WeightsError when the shapes differ."""
        variable = self.variables.get(key)
        if variable is None:
            raise WeightsError("%s: the model has no variable %s for file entry %s."
                               % (self.path, key, source_name))
        value = np.asarray(value)
        expected = tuple(variable.shape)
        if tuple(value.shape) != expected:
            raise WeightsError(
                "%s: %s has shape %s in the file but layer variable %s has shape %s. Build "
                "the model with the file's settings (--num_classes, --image_size), or leave "
                "that layer out." % (self.path, source_name, tuple(value.shape), key, expected))
        self.values[key] = value

    def apply(self):
        for key, value in self.values.items():
            variable = self.variables[key]
            # Keras 3 variables give their dtype as a string, Keras 2 ones as a tf.DType.
            numpy_dtype = tf.as_dtype(variable.dtype).as_numpy_dtype
            variable.assign(value.astype(numpy_dtype))

    def loaded_layers(self):
        return sorted({key.rsplit("/", 1)[0] for key in self.values})


def build_report(model, path, assignment, skipped, unused):
    """Return the LoadReport of `assignment` after it was applied to `model`."""
    loaded = set(assignment.loaded_layers())
    missing = [name for name in layers_with_weights(model)
               if name not in loaded and name not in skipped]
    return LoadReport(path=path, loaded=sorted(loaded), missing=missing,
                      skipped=sorted(skipped), unused=sorted(unused))
