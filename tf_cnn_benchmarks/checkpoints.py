"""Checkpoints in --train_dir: the step, the model (with batch-norm statistics) and the
optimizer slots, through `tf.train.CheckpointManager`.

Model variables are saved under their layer and weight names (`mixed_5b_branch_0_conv2d_0a_1x1/
kernel`), not under Keras' object graph, whose paths differ between Keras 2 and Keras 3 and
depend on construction order. So a checkpoint written under TensorFlow 2.15 restores under 2.21
and the other way round.
"""

import os
import re

import tensorflow as tf


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be restored into the model this run built."""


def variable_key(layer, weight):
    """Return "layer_name/weight_name", the same under Keras 2 and Keras 3."""
    # Keras 2 names are "layer/kernel:0"; Keras 3 names are "kernel".
    weight_name = weight.name.split("/")[-1].split(":")[0]
    return "%s/%s" % (layer.name, weight_name)


def named_model_variables(model):
    """Return {variable_key: variable} for every weight of the model, trainable or not."""
    variables = {}
    for layer in model.layers:
        for weight in layer.weights:
            variables[variable_key(layer, weight)] = weight
    return variables


def named_trainable_variables(model):
    """Return {variable_key: variable} for the trainable variables, in the order of
    `model.trainable_variables`."""
    keys_by_id = {id(variable): key for key, variable in named_model_variables(model).items()}
    return {keys_by_id[id(variable)]: variable for variable in model.trainable_variables}


def create_checkpoint(global_step, model, optimizer=None, weight_average=None,
                      loss_scale=None):
    """Return a `tf.train.Checkpoint` of the step, the model and the optional training state."""
    parts = {"step": global_step, "model": named_model_variables(model)}
    if optimizer is not None:
        parts["optimizer"] = optimizer
    if weight_average is not None:
        parts["ema"] = weight_average.shadows
    if loss_scale is not None:
        parts["loss_scale"] = loss_scale
    return tf.train.Checkpoint(**parts)


def create_manager(checkpoint, train_dir, max_to_keep):
    return tf.train.CheckpointManager(checkpoint, train_dir, max_to_keep=max_to_keep,
                                      checkpoint_name="model.ckpt")


def resolve_checkpoint_path(path):
    """Return the checkpoint prefix that `path` names: a prefix (model.ckpt-100), its .index or
    .data file, a `checkpoint` state file (its latest entry) or a folder (its latest).

    Raises CheckpointError naming the path when it names no checkpoint.
    """
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise CheckpointError("%s contains no checkpoint. Give a folder with a `checkpoint` "
                                  "file, or a prefix such as model.ckpt-100." % path)
        return latest

    if os.path.basename(path) == "checkpoint" and os.path.isfile(path):
        return resolve_checkpoint_path(os.path.dirname(os.path.abspath(path)))

    prefix = re.sub(r"\.(index|data-\d+-of-\d+)$", "", path)
    if not os.path.isfile(prefix + ".index"):
        raise CheckpointError("%s is not a checkpoint: %s.index not found. Give a prefix such "
                              "as model.ckpt-100, its .index file, or the folder."
                              % (path, prefix))
    return prefix


def checkpoint_step(path):
    """Return the step number in a prefix such as .../model.ckpt-100, or None."""
    match = re.search(r"-(\d+)$", path)
    return int(match.group(1)) if match else None


def _stored_model_shapes(path):
    """Return {variable_key: shape} of the model variables stored at `path`."""
    shapes = {}
    prefix = "model/"
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    for name, shape in tf.train.list_variables(path):
        if name.startswith(prefix) and name.endswith(suffix):
            # tf.train.Checkpoint escapes "/" inside a dict key as ".S".
            key = name[len(prefix):-len(suffix)].replace(".S", "/")
            shapes[key] = list(shape)
    return shapes


def check_shapes(path, model):
    """Raise CheckpointError naming a variable, both shapes and the flag to change when the
    checkpoint at `path` does not fit `model`."""
    stored = _stored_model_shapes(path)
    expected = {key: list(variable.shape)
                for key, variable in named_model_variables(model).items()}
    mismatches = [key for key in expected if key in stored and stored[key] != expected[key]]
    if not mismatches:
        return

    hint = "Use the --num_classes, --image_size and --aux_logits of the run that wrote it."
    if "logits/bias" in mismatches:
        hint = "It was trained with --num_classes=%d; pass that." % stored["logits/bias"][0]
    key = mismatches[0]
    raise CheckpointError(
        "%s does not fit this model: %s has shape %s in the checkpoint and %s here (%d "
        "variables differ). %s" % (path, key, stored[key], expected[key], len(mismatches), hint))


def restore(checkpoint, path, model, partial=False):
    """Restore `path` into `checkpoint`. `partial` allows values this run has no object for
    (the optimizer slots, when evaluating)."""
    check_shapes(path, model)
    status = checkpoint.restore(path)
    if partial:
        status.expect_partial()
    else:
        status.assert_existing_objects_matched()


def restore_latest(checkpoint, manager, model, partial=False):
    """Restore the newest readable checkpoint of `manager` and return its path, or None.

    A checkpoint that cannot be read (truncated or deleted files) is reported in a warning and
    the previous one is tried. Raises CheckpointError when none can be read, or when one does
    not fit the model.
    """
    candidates = list(reversed(manager.checkpoints))
    failures = []
    for path in candidates:
        try:
            restore(checkpoint, path, model, partial)
        except (tf.errors.DataLossError, tf.errors.NotFoundError, tf.errors.OutOfRangeError,
                tf.errors.InvalidArgumentError, IndexError) as error:
            # A truncated data file raises IndexError from TensorFlow's checkpoint reader.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            print("WARNING: checkpoint %s cannot be read (%s); trying the previous one."
                  % (path, first_line), flush=True)
            failures.append(path)
            continue
        except AssertionError as error:
            raise CheckpointError(
                "%s does not match this run's training state (%s). Use the flags of the run "
                "that wrote it (for example --moving_average_decay, --use_fp16, --optimizer), "
                "or another --train_dir to start over." % (path, str(error).splitlines()[0])
            ) from error
        return path

    if failures:
        raise CheckpointError("no checkpoint in %s can be read (tried %s). Delete them or use "
                              "another --train_dir." % (manager.directory, ", ".join(failures)))
    return None
