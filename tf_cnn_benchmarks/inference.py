"""Rebuild a trained model from --train_dir for export and prediction.

The runner writes `model_config.json` into --train_dir; the model is rebuilt from it, channels
last and float32, and takes the latest checkpoint's weights. When the checkpoint stores a
moving average of the weights (variables under `ema/`), those values are used, as the run's
evaluation uses them.
"""

import os

import tensorflow as tf

from data import dataset_info
from models import inception_v3
from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import model_config

# Fraction of the height and width kept by the evaluation crop, as data.inception_preprocessing.
EVAL_CROP_FRACTION = 0.875

# The file in which the runner records the model settings of a run.
MODEL_CONFIG_FILENAME = model_config.MODEL_CONFIG_FILENAME

# Prefix of the moving-average variables in a training checkpoint.
EMA_PREFIX = "ema/"


class InferenceError(ValueError):
    """A --train_dir or input that export and prediction cannot use."""


def read_config(train_dir):
    """Return the run's model_config.json as a dict; raise InferenceError naming the folder."""
    if not os.path.isdir(train_dir):
        raise InferenceError("--train_dir=%s not found. Pass the folder of a training run."
                             % train_dir)
    config = model_config.read_model_config(train_dir)
    if config is None:
        raise InferenceError(
            "--train_dir=%s has no %s, so the model's settings are unknown. Pass the folder "
            "of a training run of this runner." % (train_dir, MODEL_CONFIG_FILENAME))
    return config


def build_model(config):
    return inception_v3.inception_v3(
        config["num_classes"], aux_logits=config["aux_logits"],
        image_size=config["image_size"], batchnorm_decay=config["batchnorm_decay"],
        batchnorm_epsilon=config["batchnorm_epsilon"])


def restore_latest(model, train_dir):
    """Load the latest checkpoint of `train_dir` into `model`; return (path, used_ema)."""
    path = tf.train.latest_checkpoint(train_dir)
    if path is None:
        raise InferenceError("--train_dir=%s contains no checkpoint. Train first." % train_dir)

    named = checkpoints.named_model_variables(model)
    tf.train.Checkpoint(model=named).restore(path).expect_partial()

    stored = [name for name, _ in tf.train.list_variables(path)]
    used_ema = any(name.startswith(EMA_PREFIX) for name in stored)
    if used_ema:
        # Keys the average does not cover keep the trained values restored above.
        tf.train.Checkpoint(ema=named).restore(path).expect_partial()
    return path, used_ema


def load_trained_model(train_dir):
    """Return (model, config, checkpoint path, used_ema) of the training run in `train_dir`."""
    config = read_config(train_dir)
    model = build_model(config)
    path, used_ema = restore_latest(model, train_dir)
    return model, config, path, used_ema


def preprocess_batch(images, image_size):
    """Map a uint8 or [0, 1] float image batch to the model's input: the central 87.5 %,
    bilinear resize to image_size, scaled to [-1, 1] (the evaluation preprocessing)."""
    images = tf.image.convert_image_dtype(images, tf.float32)
    images = tf.image.central_crop(images, EVAL_CROP_FRACTION)
    images = tf.image.resize(images, [image_size, image_size], method="bilinear")
    return images * 2.0 - 1.0


def logits_of(outputs):
    """Return the main logits of the model's output (a list when it has the auxiliary head)."""
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def class_labels(config):
    """Return [(synset, names)] by class index from the converter's JSON, or None."""
    data_dir = config.get("data_dir")
    if not data_dir or not os.path.isdir(data_dir):
        return None
    info = dataset_info.read_dataset_info(data_dir)
    if info is None:
        return None

    label_base = info.get("label_base", 0)
    names = info.get("names") or {}
    labels = [("background", "background")] * label_base
    labels += [(synset, names.get(synset, synset)) for synset in info["synsets"]]
    return labels
