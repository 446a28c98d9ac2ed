"""Checkpoints in --train_dir: the step, the model (with batch-norm statistics) and the
optimizer slots, through `tf.train.CheckpointManager`.

Model variables are saved under their layer and weight names (`mixed_5b_branch_0_conv2d_0a_1x1/
kernel`), not under Keras' object graph, whose paths differ between Keras 2 and Keras 3 and
depend on construction order. So a checkpoint written under TensorFlow 2.15 restores under 2.21
and the other way round.
"""

import glob
import os
import re

import tensorflow as tf

# File name of the checkpoints that CheckpointManager writes: model.ckpt-<step>.
CHECKPOINT_NAME = "model.ckpt"

# What TensorFlow raises when checkpoint files are truncated, damaged or missing: an OpError
# subclass that depends on the damage, or IndexError from the reader of a truncated data file.
# Running out of memory while restoring is not damage, so it is raised as it is.
READ_ERRORS = (tf.errors.OpError, IndexError)

# The only model variable whose shape depends on --image_size.
AUX_SIZED_KERNEL = "aux_logits_conv2d_2a_5x5/"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be restored into the model this run built."""


class CheckpointReadError(CheckpointError):
    """A checkpoint whose files cannot be read."""


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
                                      checkpoint_name=CHECKPOINT_NAME)


def checkpoints_in_folder(directory, listed=()):
    """Return the checkpoint prefixes in `directory`, newest step first.

    `listed` are the ones the `checkpoint` state file names. Prefixes whose .index file is in
    the folder are added, so a damaged or deleted state file loses no checkpoint. A warning
    reports that case.
    """
    found = {path[:-len(".index")] for path in
             glob.glob(os.path.join(glob.escape(directory), CHECKPOINT_NAME + "-*.index"))}
    if found and not listed:
        print("WARNING: the `checkpoint` state file in %s is missing or lists no checkpoint; "
              "using the %d checkpoint(s) found in the folder." % (directory, len(found)),
              flush=True)
    prefixes = set(listed) | found
    return sorted(prefixes, key=lambda path: checkpoint_step(path) or -1, reverse=True)


def folder_checkpoints(directory):
    """Return the checkpoint prefixes of a training folder, newest step first."""
    state = tf.train.get_checkpoint_state(directory)
    listed = [] if state is None else [
        path if os.path.isabs(path) else os.path.join(directory, path)
        for path in state.all_model_checkpoint_paths]
    return checkpoints_in_folder(directory, listed)


def resolve_checkpoint_path(path):
    """Return the checkpoint prefix that `path` names: a prefix (model.ckpt-100), its .index or
    .data file, a `checkpoint` state file (its latest entry) or a folder (its latest).

    Raises CheckpointError naming the path when it names no checkpoint.
    """
    if os.path.isdir(path):
        candidates = folder_checkpoints(path)
        if not candidates:
            raise CheckpointError("%s contains no checkpoint. Give a folder with a `checkpoint` "
                                  "file, or a prefix such as model.ckpt-100." % path)
        return candidates[0]

    if os.path.basename(path) == "checkpoint" and os.path.isfile(path):
        return resolve_checkpoint_path(os.path.dirname(os.path.abspath(path)))

    prefix = re.sub(r"\.(index|data-\d+-of-\d+)$", "", path)
    if not os.path.isfile(prefix + ".index"):
        raise CheckpointError("%s is not a checkpoint: %s.index not found. Give a prefix such "
                              "as model.ckpt-100, its .index file, or the folder."
                              % (path, prefix))
    return prefix


def raise_read_error(path, error):
    """Raise CheckpointReadError for `path` with the first line of TensorFlow's `error`, or
    `error` itself when it is an out-of-memory error."""
    if isinstance(error, tf.errors.ResourceExhaustedError):
        raise error
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    raise CheckpointReadError("checkpoint %s cannot be read (%s: %s)"
                              % (path, type(error).__name__, first_line)) from error


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
    elif all(key.startswith(AUX_SIZED_KERNEL) for key in mismatches):
        hint = ("The auxiliary head's kernel shrinks below 5 x 5 with the image, so the run "
                "that wrote it used another --image_size; pass that one (its "
                "model_config.json records it).")
    key = mismatches[0]
    raise CheckpointError(
        "%s does not fit this model: %s has shape %s in the checkpoint and %s here (%d "
        "variables differ). %s" % (path, key, stored[key], expected[key], len(mismatches), hint))


def restore(checkpoint, path, model, partial=False):
    """Restore `path` into `checkpoint`. `partial` allows values this run has no object for
    (the optimizer slots, when evaluating).

    Raises CheckpointReadError when the files of `path` cannot be read, and CheckpointError
    when they do not fit `model`.
    """
    try:
        check_shapes(path, model)
        status = checkpoint.restore(path)
    except READ_ERRORS as error:
        raise_read_error(path, error)
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
    candidates = checkpoints_in_folder(manager.directory, manager.checkpoints)
    failures = []
    for path in candidates:
        try:
            restore(checkpoint, path, model, partial)
        except CheckpointReadError as error:
            print("WARNING: %s; trying the previous one." % error, flush=True)
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
