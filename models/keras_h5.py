"""Keras' HDF5 weights layout, as Keras 2 writes it with `model.save_weights("x.h5")`: read
Keras Applications' InceptionV3 files into our model, and write our model in that layout.

Layout: the root (or its `model_weights` group, in a whole-model file) has the attribute
`layer_names`; each layer's group has `weight_names` such as `conv2d_1/kernel:0`, and each
weight is a dataset at that path inside the layer's group. h5py reads it, so it loads the
same under Keras 2 and Keras 3.
"""

import os
import re

import numpy as np

from models import weights

# Keras Applications names its layers by a per-session counter: `conv2d`, `conv2d_1`, ... in a
# fresh save, `conv2d_1` ... `conv2d_94` in the published file. The counter follows the order in
# which `InceptionV3()` creates the layers.
KERAS_LAYER_NAME = re.compile(r"^(conv2d|batch_normalization)(?:_(\d+))?$")

# Keras Applications' 1000-class top layer.
KERAS_TOP_LAYER = "predictions"


def _read_attribute_list(group, name):
    """Return a string list attribute, also when Keras split it into `name0`, `name1`, ...

    Keras splits attributes over HDF5's 64 KiB header limit that way.
    """
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values = []
        for index in range(len(group.attrs)):
            chunk = "%s%d" % (name, index)
            if chunk not in group.attrs:
                break
            values.extend(group.attrs[chunk])
    return [value.decode("utf-8") if isinstance(value, bytes) else str(value)
            for value in values]


def _weights_group(h5file, path):
    if "layer_names" in h5file.attrs or "layer_names0" in h5file.attrs:
        return h5file
    if "model_weights" in h5file:
        return h5file["model_weights"]
    if "vars" in h5file or "layers" in h5file:
        raise weights.WeightsError(
            "%s is in Keras 3's .weights.h5 layout, not the HDF5 layout of Keras 2 that the "
            "published InceptionV3 files use. Save it with `model.save_weights('x.h5')` under "
            "Keras 2 (TensorFlow 2.15 or tf-keras)." % path)
    raise weights.WeightsError("%s has no 'layer_names' attribute, so it is not a Keras "
                               "HDF5 weights file." % path)


def read_keras_h5(path):
    """Return {layer_name: {weight_name: array}} for the layers with weights, in file order.

    Weight names are the last part without the ":0" suffix (`kernel`, `beta`, ...).
    Raises WeightsError naming the file when it is missing or not in Keras' HDF5 layout.
    """
    import h5py  # Only the HDF5 loaders need it; TensorFlow and Keras depend on it.

    weights.check_file_exists(path, "Keras weights file")
    try:
        h5file = h5py.File(path, "r")
    except OSError as error:
        raise weights.WeightsError("%s cannot be read as HDF5 (%s). Pass a Keras .h5 "
                                   "weights file." % (path, error)) from error

    layers = {}
    with h5file:
        group = _weights_group(h5file, path)
        for layer_name in _read_attribute_list(group, "layer_names"):
            layer_group = group[layer_name]
            layer_weights = {}
            for weight_name in _read_attribute_list(layer_group, "weight_names"):
                value = np.asarray(layer_group[weight_name])
                # Integer entries are random-number states (Dropout), not model weights.
                if np.issubdtype(value.dtype, np.floating):
                    layer_weights[weight_name.split("/")[-1].split(":")[0]] = value
            if layer_weights:
                layers[layer_name] = layer_weights
    return layers


def _backbone_convolutions(model):
    """Return our backbone's convolution layers in Keras Applications' creation order.

    Our names follow TF-Slim's scopes (stem `conv2d_1a_3x3` ... `conv2d_4a_3x3`, then
    `mixed_5b_branch_0_conv2d_0a_1x1` ...). Sorted as strings they come block by block, branch
    by branch and, within a branch, by TF-Slim's position code 0a < 0b < ... < 1a, which is
    the order in which Keras Applications' InceptionV3 creates its convolutions.
    """
    import tensorflow as tf

    return sorted(layer.name for layer in model.layers
                  if isinstance(layer, tf.keras.layers.Conv2D)
                  and not layer.name.startswith("aux_logits"))


def _pair_keras_applications(model, file_layers, path):
    """Return [(our layer, file layer)] for a Keras Applications file, by order and shape."""
    counted = {"conv2d": [], "batch_normalization": []}
    others = []
    for name in file_layers:
        match = KERAS_LAYER_NAME.match(name)
        if match is None:
            others.append(name)
        else:
            counted[match.group(1)].append((int(match.group(2) or 0), name))

    unknown = [name for name in others if name != KERAS_TOP_LAYER]
    if unknown:
        raise weights.WeightsError(
            "%s has layers %s that are neither ours nor Keras Applications' InceptionV3 "
            "(conv2d_N, batch_normalization_N, predictions)." % (path, ", ".join(unknown[:5])))

    ours = _backbone_convolutions(model)
    for kind, found in counted.items():
        if len(found) != len(ours):
            raise weights.WeightsError(
                "%s has %d %s layers; InceptionV3 has %d. Pass Keras Applications' "
                "InceptionV3 weights file." % (path, len(found), kind, len(ours)))

    pairs = []
    convolutions = [name for _, name in sorted(counted["conv2d"])]
    norms = [name for _, name in sorted(counted["batch_normalization"])]
    for our_name, conv_name, norm_name in zip(ours, convolutions, norms):
        if "gamma" in file_layers[norm_name]:
            raise weights.WeightsError(
                "%s: batch norm %s has a scale (gamma); InceptionV3's batch norm has none, "
                "so this file is from another model." % (path, norm_name))
        pairs.append((our_name, conv_name))
        pairs.append((our_name + "_bn", norm_name))

    if KERAS_TOP_LAYER in file_layers:
        pairs.append(("logits", KERAS_TOP_LAYER))
    return pairs


def load_keras_weights(model, path, skip_layers=()):
    """Load a Keras HDF5 weights file into our InceptionV3; return a weights.LoadReport.

    Takes Keras Applications' `inception_v3_weights_tf_dim_ordering_tf_kernels.h5` (1000
    classes) and its `_notop` variant, a fresh Keras 2 `save_weights` of
    `keras.applications.InceptionV3`, and files that `save_keras_h5` wrote. Keras Applications'
    layers are matched by creation order and checked by shape, since their names depend on
    the Keras session that saved them. The report's `missing` lists our layers that got
    nothing (the auxiliary head; `logits` too for a `_notop` file). `skip_layers` are our
    layer names left as they are, such as ("logits",) for another class count.

    Raises WeightsError, leaving the model unchanged, when the file is missing, in another
    layout, or a shape differs (the message names the layer and both shapes).
    """
    file_layers = read_keras_h5(path)
    our_layers = set(weights.layers_with_weights(model))
    if set(file_layers) <= our_layers:
        pairs = [(name, name) for name in file_layers]
    else:
        pairs = _pair_keras_applications(model, file_layers, path)

    skipped = set(skip_layers)
    assignment = weights.Assignment(model, path)
    for our_name, file_name in pairs:
        if our_name in skipped:
            continue
        for weight_name, value in file_layers[file_name].items():
            assignment.add("%s/%s" % (our_name, weight_name), value,
                           "%s/%s" % (file_name, weight_name))
    assignment.apply()

    paired = {file_name for _, file_name in pairs}
    unused = [name for name in file_layers if name not in paired]
    return weights.build_report(model, path, assignment, skipped & our_layers, unused)


def save_keras_h5(model, path):
    """Write the model's weights to `path` in Keras 2's HDF5 layout, under our layer names.

    The same Keras version reads the file back with `model.load_weights(path)` into a model
    built by `models.inception_v3.inception_v3` with the same settings; `load_keras_weights`
    reads it by name under Keras 2 and Keras 3. The file appears complete or not at all (written aside, then renamed).
    """
    import h5py

    temporary_path = "%s.tmp-%d" % (path, os.getpid())
    with h5py.File(temporary_path, "w") as h5file:
        h5file.attrs["backend"] = b"tensorflow"
        # Keras' loaders convert files of Keras 1; any 2.x version means no conversion.
        h5file.attrs["keras_version"] = b"2.15.0"
        h5file.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        for layer in model.layers:
            group = h5file.create_group(layer.name)
            # All weights, the integer Dropout state too, since Keras' `load_weights` counts
            # them; `read_keras_h5` ignores that state.
            names = [weights.variable_key(layer, weight) + ":0" for weight in layer.weights]
            group.attrs["weight_names"] = np.array([name.encode() for name in names])
            for name, weight in zip(names, layer.weights):
                group.create_dataset(name, data=np.asarray(weight.numpy()))
    os.replace(temporary_path, path)


def file_num_classes(path):
    """Return the class count of a Keras weights file's top layer, or None for a _notop file."""
    file_layers = read_keras_h5(path)
    for name in (KERAS_TOP_LAYER, "logits"):
        if name in file_layers and "kernel" in file_layers[name]:
            return int(file_layers[name]["kernel"].shape[-1])
    return None
