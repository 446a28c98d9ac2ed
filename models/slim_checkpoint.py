"""TF-Slim's InceptionV3 checkpoint (`inception_v3.ckpt` of inception_v3_2016_08_28, 1001
classes) into our model, by variable name.

TF-Slim names variables by scope: `InceptionV3/Mixed_5b/Branch_1/Conv2d_0b_5x5/weights` and
`.../BatchNorm/beta|moving_mean|moving_variance` (no gamma, as its batch norm has no scale).
Our layer names are those scopes in lower case joined by underscores, except for the scopes
in SLIM_SCOPE_EXCEPTIONS. Source of the names: research/slim/nets/inception_v3.py in the
tensorflow/models repository.
"""

import re

import numpy as np
import tensorflow as tf

from models import weights

SLIM_ROOT_SCOPE = "InceptionV3"

# Scopes of TF-Slim's inception_v3 that do not follow its own naming pattern: Mixed_5c's
# branch 1 is named like no other block, Mixed_6a's stride-2 3x3 convolutions are called 1x1,
# and Mixed_7b's 3x1 convolution in branch 1 has the position code 0b, not 0c as in Mixed_7c.
SLIM_SCOPE_EXCEPTIONS = {
    "mixed_5c_branch_1_conv2d_0a_1x1": "Mixed_5c/Branch_1/Conv2d_0b_1x1",
    "mixed_5c_branch_1_conv2d_0b_5x5": "Mixed_5c/Branch_1/Conv_1_0c_5x5",
    "mixed_6a_branch_0_conv2d_1a_3x3": "Mixed_6a/Branch_0/Conv2d_1a_1x1",
    "mixed_6a_branch_1_conv2d_1a_3x3": "Mixed_6a/Branch_1/Conv2d_1a_1x1",
    "mixed_7b_branch_1_conv2d_0c_3x1": "Mixed_7b/Branch_1/Conv2d_0b_3x1",
}

# The two classifier layers: 1x1 convolutions with biases and without batch norm in TF-Slim.
SLIM_CLASSIFIER_SCOPES = {
    "logits": "Logits/Conv2d_1c_1x1",
    "aux_logits": "AuxLogits/Conv2d_2b_1x1",
}

# TF-Slim names the auxiliary head's 5x5 convolution by its kernel size, which shrinks below
# 299 x 299 (`Conv2d_2a_3x3`, ...).
AUX_HIDDEN_LAYER = "aux_logits_conv2d_2a_5x5"

_BLOCK_CONV = re.compile(r"^mixed_(\d[a-e])_branch_(\d)_conv2d_(\w+)$")
_STEM_CONV = re.compile(r"^conv2d_(\w+)$")
_AUX_CONV = re.compile(r"^aux_logits_conv2d_(\w+)$")

_BATCHNORM_WEIGHTS = ("beta", "moving_mean", "moving_variance")


def slim_scope(layer_name):
    """Return TF-Slim's scope (below InceptionV3/) of our convolution `layer_name`, or None."""
    if layer_name in SLIM_SCOPE_EXCEPTIONS:
        return SLIM_SCOPE_EXCEPTIONS[layer_name]
    if layer_name in SLIM_CLASSIFIER_SCOPES:
        return SLIM_CLASSIFIER_SCOPES[layer_name]

    match = _BLOCK_CONV.match(layer_name)
    if match:
        return "Mixed_%s/Branch_%s/Conv2d_%s" % match.groups()
    match = _AUX_CONV.match(layer_name)
    if match:
        return "AuxLogits/Conv2d_%s" % match.group(1)
    match = _STEM_CONV.match(layer_name)
    if match:
        return "Conv2d_%s" % match.group(1)
    return None


def _convolution_layers(model):
    return [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)
            or layer.name in SLIM_CLASSIFIER_SCOPES]


def _resolve_scope(layer, checkpoint_shapes):
    """Return the full checkpoint scope of `layer`, allowing for the aux kernel-size name."""
    scope = "%s/%s" % (SLIM_ROOT_SCOPE, slim_scope(layer.name))
    if layer.name != AUX_HIDDEN_LAYER or scope + "/weights" in checkpoint_shapes:
        return scope
    prefix = "%s/AuxLogits/Conv2d_2a_" % SLIM_ROOT_SCOPE
    candidates = sorted(name[:-len("/weights")] for name in checkpoint_shapes
                        if name.startswith(prefix) and name.endswith("/weights"))
    return candidates[0] if candidates else scope


def _layer_entries(layer, scope):
    """Return [(our variable key, checkpoint name)] of one layer."""
    if layer.name in SLIM_CLASSIFIER_SCOPES:
        return [("%s/kernel" % layer.name, scope + "/weights"),
                ("%s/bias" % layer.name, scope + "/biases")]
    entries = [("%s/kernel" % layer.name, scope + "/weights")]
    for weight_name in _BATCHNORM_WEIGHTS:
        entries.append(("%s_bn/%s" % (layer.name, weight_name),
                        "%s/BatchNorm/%s" % (scope, weight_name)))
    return entries


def _open_reader(path):
    weights.check_file_exists(path, "TF-Slim checkpoint")
    try:
        return tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise weights.WeightsError("%s cannot be read as a TensorFlow checkpoint (%s)."
                                   % (path, first_line)) from error


def load_slim_checkpoint(model, path, skip_layers=()):
    """Load TF-Slim's InceptionV3 checkpoint into our model; return a weights.LoadReport.

    `path` is the checkpoint as TF-Slim names it (`inception_v3.ckpt`, a V1 file, or the
    prefix of a V2 checkpoint). The auxiliary head loads too. TF-Slim's logits are a 1x1
    convolution; our `logits` layer is dense, so its kernel is reshaped. `skip_layers` are our
    layer names left as they are, such as ("logits", "aux_logits") for another class count.

    Raises WeightsError, leaving the model unchanged, when the file is missing or unreadable,
    has no InceptionV3 variables, has batch-norm scales (another model), or a shape differs.
    """
    reader = _open_reader(path)
    checkpoint_shapes = reader.get_variable_to_shape_map()
    if not any(name.startswith(SLIM_ROOT_SCOPE + "/") for name in checkpoint_shapes):
        raise weights.WeightsError("%s has no %s/ variables, so it is not TF-Slim's "
                                   "InceptionV3 checkpoint." % (path, SLIM_ROOT_SCOPE))
    scaled = [name for name in checkpoint_shapes if name.endswith("/BatchNorm/gamma")]
    if scaled:
        raise weights.WeightsError(
            "%s has batch-norm scales (%s); InceptionV3's batch norm has none, so the "
            "checkpoint is from another model." % (path, scaled[0]))

    skipped = set(skip_layers)
    assignment = weights.Assignment(model, path)
    used = set()
    for layer in _convolution_layers(model):
        if layer.name in skipped or slim_scope(layer.name) is None:
            continue
        scope = _resolve_scope(layer, checkpoint_shapes)
        for key, name in _layer_entries(layer, scope):
            if name not in checkpoint_shapes:
                continue
            value = reader.get_tensor(name)
            if layer.name == "logits" and value.ndim == 4:
                value = np.reshape(value, value.shape[2:])
            assignment.add(key, value, name)
            used.add(name)
    assignment.apply()

    unused = [name for name in checkpoint_shapes if name not in used]
    our_layers = set(weights.layers_with_weights(model))
    return weights.build_report(model, path, assignment, skipped & our_layers, unused)


def checkpoint_num_classes(path):
    """Return the class count of TF-Slim's logits in the checkpoint, or None without them."""
    shapes = _open_reader(path).get_variable_to_shape_map()
    biases = shapes.get("%s/%s/biases" % (SLIM_ROOT_SCOPE, SLIM_CLASSIFIER_SCOPES["logits"]))
    return int(biases[0]) if biases else None


def aux_hidden_kernel_shape(path):
    """Return the shape of the auxiliary head's 5x5 kernel in the checkpoint, or None."""
    shapes = _open_reader(path).get_variable_to_shape_map()
    prefix = "%s/AuxLogits/Conv2d_2a_" % SLIM_ROOT_SCOPE
    for name in sorted(shapes):
        if name.startswith(prefix) and name.endswith("/weights"):
            return list(shapes[name])
    return None
