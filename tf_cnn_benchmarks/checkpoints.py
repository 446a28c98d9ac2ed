"""Checkpoints in --train_dir: the step, the model (with batch-norm statistics) and the
optimizer slots, through `tf.train.CheckpointManager`.

Model variables are saved under their layer and weight names (`mixed_5b_branch_0_conv2d_0a_1x1/
kernel`), not under Keras' object graph, whose paths differ between Keras 2 and Keras 3 and
depend on construction order. So a checkpoint written under TensorFlow 2.15 restores under 2.21
and the other way round.
"""

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


def create_checkpoint(global_step, model, optimizer=None):
    model_variables = named_model_variables(model)
    if optimizer is None:
        return tf.train.Checkpoint(step=global_step, model=model_variables)
    return tf.train.Checkpoint(step=global_step, model=model_variables, optimizer=optimizer)


def create_manager(checkpoint, train_dir, max_to_keep):
    return tf.train.CheckpointManager(checkpoint, train_dir, max_to_keep=max_to_keep,
                                      checkpoint_name="model.ckpt")


def restore_latest(checkpoint, manager, partial=False):
    """Restore the latest checkpoint of `manager`; return its path or None if there is none.

    `partial` allows checkpoint values that this run has no object for (the optimizer slots,
    when evaluating). Raises CheckpointError naming the checkpoint when a variable's shape
    differs, as when the checkpoint was trained with another --num_classes.
    """
    path = manager.latest_checkpoint
    if path is None:
        return None

    try:
        status = checkpoint.restore(path)
        if partial:
            status.expect_partial()
        else:
            status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.InvalidArgumentError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise CheckpointError(
            "cannot restore %s into this model: %s. Use the --num_classes, --image_size and "
            "--aux_logits of the run that wrote it, or another --train_dir to start over."
            % (path, first_line)) from error
    return path
