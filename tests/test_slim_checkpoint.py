"""Loading TF-Slim's InceptionV3 checkpoint: a checkpoint written under TF-Slim's variable
names from one model loads into a fresh model with equal outputs.

The names come from the table below, written from TF-Slim's research/slim/nets/inception_v3.py
(tensorflow/models) in its construction order, independently of the loader's naming rule.
"""

import numpy as np
import pytest
import tensorflow as tf

from models import inception_v3
from models import slim_checkpoint
from models import weights
from tests import keras_reference

pytestmark = pytest.mark.keras3

MIXED_5 = ["Branch_0/Conv2d_0a_1x1", "Branch_1/Conv2d_0a_1x1", "Branch_1/Conv2d_0b_5x5",
           "Branch_2/Conv2d_0a_1x1", "Branch_2/Conv2d_0b_3x3", "Branch_2/Conv2d_0c_3x3",
           "Branch_3/Conv2d_0b_1x1"]
MIXED_5C = ["Branch_0/Conv2d_0a_1x1", "Branch_1/Conv2d_0b_1x1", "Branch_1/Conv_1_0c_5x5",
            "Branch_2/Conv2d_0a_1x1", "Branch_2/Conv2d_0b_3x3", "Branch_2/Conv2d_0c_3x3",
            "Branch_3/Conv2d_0b_1x1"]
MIXED_6A = ["Branch_0/Conv2d_1a_1x1", "Branch_1/Conv2d_0a_1x1", "Branch_1/Conv2d_0b_3x3",
            "Branch_1/Conv2d_1a_1x1"]
MIXED_6 = ["Branch_0/Conv2d_0a_1x1", "Branch_1/Conv2d_0a_1x1", "Branch_1/Conv2d_0b_1x7",
           "Branch_1/Conv2d_0c_7x1", "Branch_2/Conv2d_0a_1x1", "Branch_2/Conv2d_0b_7x1",
           "Branch_2/Conv2d_0c_1x7", "Branch_2/Conv2d_0d_7x1", "Branch_2/Conv2d_0e_1x7",
           "Branch_3/Conv2d_0b_1x1"]
MIXED_7A = ["Branch_0/Conv2d_0a_1x1", "Branch_0/Conv2d_1a_3x3", "Branch_1/Conv2d_0a_1x1",
            "Branch_1/Conv2d_0b_1x7", "Branch_1/Conv2d_0c_7x1", "Branch_1/Conv2d_1a_3x3"]
MIXED_7B = ["Branch_0/Conv2d_0a_1x1", "Branch_1/Conv2d_0a_1x1", "Branch_1/Conv2d_0b_1x3",
            "Branch_1/Conv2d_0b_3x1", "Branch_2/Conv2d_0a_1x1", "Branch_2/Conv2d_0b_3x3",
            "Branch_2/Conv2d_0c_1x3", "Branch_2/Conv2d_0d_3x1", "Branch_3/Conv2d_0b_1x1"]
MIXED_7C = [name.replace("Branch_1/Conv2d_0b_3x1", "Branch_1/Conv2d_0c_3x1")
            for name in MIXED_7B]

SLIM_BACKBONE_SCOPES = (
    ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
    + ["Mixed_5b/" + name for name in MIXED_5] + ["Mixed_5c/" + name for name in MIXED_5C]
    + ["Mixed_5d/" + name for name in MIXED_5] + ["Mixed_6a/" + name for name in MIXED_6A]
    + ["Mixed_6%s/%s" % (block, name) for block in "bcde" for name in MIXED_6]
    + ["Mixed_7a/" + name for name in MIXED_7A] + ["Mixed_7b/" + name for name in MIXED_7B]
    + ["Mixed_7c/" + name for name in MIXED_7C])


def backbone_convolutions(model):
    # Our TF-Slim-style names sort in TF-Slim's construction order.
    return sorted(layer.name for layer in model.layers
                  if isinstance(layer, tf.keras.layers.Conv2D)
                  and not layer.name.startswith("aux_logits"))


def slim_values(model, aux_kernel_name="Conv2d_2a_5x5"):
    """Return {TF-Slim variable name: value} of `model`, and a global_step as the real file."""
    values = {"global_step": np.array(1000, np.int64)}

    def add_conv(layer_name, scope):
        values[scope + "/weights"] = model.get_layer(layer_name).kernel.numpy()
        norm = model.get_layer(layer_name + "_bn")
        for weight_name in ("beta", "moving_mean", "moving_variance"):
            values["%s/BatchNorm/%s" % (scope, weight_name)] = getattr(norm, weight_name).numpy()

    convolutions = backbone_convolutions(model)
    assert len(convolutions) == len(SLIM_BACKBONE_SCOPES)
    for layer_name, scope in zip(convolutions, SLIM_BACKBONE_SCOPES):
        add_conv(layer_name, "InceptionV3/" + scope)

    add_conv("aux_logits_conv2d_1b_1x1", "InceptionV3/AuxLogits/Conv2d_1b_1x1")
    add_conv("aux_logits_conv2d_2a_5x5", "InceptionV3/AuxLogits/" + aux_kernel_name)
    aux = model.get_layer("aux_logits")
    values["InceptionV3/AuxLogits/Conv2d_2b_1x1/weights"] = aux.kernel.numpy()
    values["InceptionV3/AuxLogits/Conv2d_2b_1x1/biases"] = aux.bias.numpy()
    logits = model.get_layer("logits")
    values["InceptionV3/Logits/Conv2d_1c_1x1/weights"] = logits.kernel.numpy()[None, None]
    values["InceptionV3/Logits/Conv2d_1c_1x1/biases"] = logits.bias.numpy()
    return values


def write_v2(values, prefix):
    names = sorted(values)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(values[name]) for name in names])
    return prefix


def write_v1(values, path):
    """Write a single-file V1 checkpoint, the format of the published inception_v3.ckpt."""
    graph = tf.Graph()
    with graph.as_default():
        feeds = {}
        variables = []
        for name, value in values.items():
            placeholder = tf.compat.v1.placeholder(tf.as_dtype(value.dtype), value.shape)
            variables.append(tf.compat.v1.Variable(placeholder, name=name))
            feeds[placeholder] = value
        saver = tf.compat.v1.train.Saver(variables,
                                         write_version=tf.compat.v1.train.SaverDef.V1)
        with tf.compat.v1.Session() as session:
            session.run([variable.initializer for variable in variables], feed_dict=feeds)
            saver.save(session, path, write_meta_graph=False, write_state=False)
    return path


def random_model(num_classes, image_size, seed):
    tf.keras.utils.set_random_seed(seed)
    model = inception_v3.inception_v3(num_classes, aux_logits=True, image_size=image_size)
    keras_reference.randomize_batchnorm(model, np.random.default_rng(seed))
    return model


def outputs(model, image_size, seed=1):
    images = tf.random.stateless_uniform([2, image_size, image_size, 3], seed=[seed, 2],
                                         minval=-1, maxval=1)
    logits, aux_logits = model(images, training=False)
    return logits.numpy(), aux_logits.numpy()


@pytest.fixture(scope="module")
def source_299():
    return random_model(1001, 299, seed=11)


@pytest.fixture(scope="module")
def checkpoint_299(source_299, tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("slim") / "inception_v3.ckpt")
    return write_v2(slim_values(source_299), prefix)


@pytest.fixture(scope="module")
def loaded_299(checkpoint_299):
    model = inception_v3.inception_v3(1001, aux_logits=True)
    report = inception_v3.load_slim_checkpoint(model, checkpoint_299)
    return model, report


def test_logits_equal(source_299, loaded_299):
    np.testing.assert_array_equal(outputs(loaded_299[0], 299)[0], outputs(source_299, 299)[0])


def test_aux_logits_equal(source_299, loaded_299):
    np.testing.assert_array_equal(outputs(loaded_299[0], 299)[1], outputs(source_299, 299)[1])


def test_report_nothing_missing(loaded_299):
    assert loaded_299[1].missing == []


def test_report_only_global_step_unused(loaded_299):
    assert loaded_299[1].unused == ["global_step"]


@pytest.mark.parametrize("name", [
    "InceptionV3/Mixed_5c/Branch_1/Conv_1_0c_5x5/weights",
    "InceptionV3/Mixed_6a/Branch_0/Conv2d_1a_1x1/BatchNorm/moving_variance",
    "InceptionV3/Mixed_7b/Branch_1/Conv2d_0b_3x1/weights",
    "InceptionV3/AuxLogits/Conv2d_2a_5x5/BatchNorm/beta",
])
def test_quirk_names_consumed(checkpoint_299, loaded_299, name):
    stored = {stored_name for stored_name, _ in tf.train.list_variables(checkpoint_299)}
    assert name in stored
    assert name not in loaded_299[1].unused


def test_v1_file_at_75_pixels(tmp_path):
    # At 75 x 75 the auxiliary kernel shrinks to 1x1 and TF-Slim names it Conv2d_2a_1x1.
    source = random_model(1001, 75, seed=12)
    path = write_v1(slim_values(source, aux_kernel_name="Conv2d_2a_1x1"),
                    str(tmp_path / "inception_v3.ckpt"))
    target = inception_v3.inception_v3(1001, aux_logits=True, image_size=75)
    inception_v3.load_slim_checkpoint(target, path)
    np.testing.assert_array_equal(outputs(target, 75)[1], outputs(source, 75)[1])


def test_other_class_count_names_shapes(checkpoint_299):
    model = inception_v3.inception_v3(10, aux_logits=True)
    with pytest.raises(weights.WeightsError,
                       match=r"AuxLogits/Conv2d_2b_1x1/weights.*\(1, 1, 768, 1001\).*"
                             r"aux_logits/kernel.*\(1, 1, 768, 10\)"):
        inception_v3.load_slim_checkpoint(model, checkpoint_299)


def test_skip_classifier_layers(checkpoint_299):
    model = inception_v3.inception_v3(10, aux_logits=True)
    report = inception_v3.load_slim_checkpoint(model, checkpoint_299,
                                               skip_layers=("logits", "aux_logits"))
    assert report.skipped == ["aux_logits", "logits"]


def test_checkpoint_num_classes(checkpoint_299):
    assert slim_checkpoint.checkpoint_num_classes(checkpoint_299) == 1001


def test_aux_hidden_kernel_shape(checkpoint_299):
    assert slim_checkpoint.aux_hidden_kernel_shape(checkpoint_299) == [5, 5, 128, 768]


def test_missing_checkpoint_named(tmp_path):
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    with pytest.raises(weights.WeightsError, match="absent.ckpt not found"):
        inception_v3.load_slim_checkpoint(model, str(tmp_path / "absent.ckpt"))


def test_other_checkpoint_rejected(tmp_path):
    prefix = write_v2({"resnet/conv1/weights": np.zeros([1, 1, 3, 4], np.float32)},
                      str(tmp_path / "resnet.ckpt"))
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    with pytest.raises(weights.WeightsError, match="no InceptionV3/ variables"):
        inception_v3.load_slim_checkpoint(model, prefix)


def test_batchnorm_scale_rejected(tmp_path):
    prefix = write_v2({"InceptionV3/Conv2d_1a_3x3/BatchNorm/gamma": np.ones([32], np.float32)},
                      str(tmp_path / "scaled.ckpt"))
    model = inception_v3.inception_v3(10, aux_logits=False, image_size=75)
    with pytest.raises(weights.WeightsError, match="batch-norm scales"):
        inception_v3.load_slim_checkpoint(model, prefix)


def test_slim_scope_rule():
    assert slim_checkpoint.slim_scope("mixed_6b_branch_2_conv2d_0e_1x7") == \
        "Mixed_6b/Branch_2/Conv2d_0e_1x7"
