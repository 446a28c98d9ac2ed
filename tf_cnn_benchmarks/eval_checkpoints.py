"""The --eval mode: score one checkpoint, or each new one while training writes them."""

import os

import tensorflow as tf

from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import moving_average
from tf_cnn_benchmarks import training_loop


def log(message):
    print(message, flush=True)


def _has_weight_average(path):
    try:
        names = [name for name, _ in tf.train.list_variables(path)]
    except checkpoints.READ_ERRORS as error:
        checkpoints.raise_read_error(path, error)
    return any(name.startswith("ema/") for name in names)


class _Evaluator:
    """Restores checkpoints into one model and scores the validation set."""

    def __init__(self, flag_values, model, logger):
        self.flags = flag_values
        self.model = model
        self.logger = logger
        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.weight_average = moving_average.WeightAverage(
            checkpoints.named_model_variables(model), decay=0.0)

    def evaluate(self, path):
        """Restore `path`, print and log top-1 and top-5, and return the headline results."""
        weight_average = None
        if _has_weight_average(path):
            weight_average = self.weight_average
        checkpoint = checkpoints.create_checkpoint(self.global_step, self.model,
                                                   weight_average=weight_average)
        checkpoints.restore(checkpoint, path, self.model, partial=True)

        step = int(self.global_step)
        log("Evaluating %s (step %d)" % (path, step))
        results = training_loop.evaluate_with_average(self.flags, self.model, weight_average)
        training_loop.report_evaluation(results, step, self.logger, epoch=None)
        return step


def _target_step(flag_values):
    """Return the last step of the training run when --num_batches gives it, else None."""
    if flag_values.num_batches is not None:
        return flag_values.num_batches
    return None


def _evaluate_new_checkpoints(flag_values, evaluator):
    """Evaluate every new checkpoint in --train_dir until the last step or the timeout."""
    target = _target_step(flag_values)
    log("Waiting for checkpoints in %s (polling every %d s%s)"
        % (flag_values.train_dir, flag_values.eval_interval_secs,
           "" if flag_values.eval_timeout_secs is None
           else ", at most %d s without a new one" % flag_values.eval_timeout_secs))
    for path in tf.train.checkpoints_iterator(flag_values.train_dir,
                                              min_interval_secs=flag_values.eval_interval_secs,
                                              timeout=flag_values.eval_timeout_secs):
        try:
            step = evaluator.evaluate(path)
        except checkpoints.CheckpointReadError as error:
            log("WARNING: %s; waiting for the next one." % error)
            continue
        if target is not None and step >= target:
            log("Evaluated step %d, the last of --num_batches=%d." % (step, target))
            return
    log("No new checkpoint for %d s; stopping." % flag_values.eval_timeout_secs)


def checkpoint_folder(location):
    """Return the training folder that a --checkpoint or --train_dir location is in."""
    if os.path.isdir(location):
        return location
    return os.path.dirname(os.path.abspath(location))


def checkpoints_to_evaluate(flag_values):
    """Return the checkpoint prefixes that --checkpoint or --train_dir names, newest first.

    A folder or its `checkpoint` state file names all of the folder's checkpoints, so an
    unreadable latest one can fall back to the one before. A prefix names only itself.
    Raises CheckpointError naming the location when there is none, before any file is written.
    """
    location = flag_values.checkpoint or flag_values.train_dir
    if not os.path.exists(location) and not os.path.exists(location + ".index"):
        raise checkpoints.CheckpointError(
            "%s not found. Give --train_dir or --checkpoint of an existing training run."
            % location)

    names_folder = os.path.isdir(location) or (
        os.path.basename(location) == "checkpoint" and os.path.isfile(location))
    try:
        if names_folder:
            candidates = checkpoints.folder_checkpoints(checkpoint_folder(location))
            if candidates:
                return candidates
        return [checkpoints.resolve_checkpoint_path(location)]
    except checkpoints.CheckpointError as error:
        raise checkpoints.CheckpointError(
            "%s Train first, or point --train_dir at the folder of a training run."
            % error) from error


def run_evaluation(flag_values, model, logger):
    """Evaluate --checkpoint, the latest readable checkpoint in --train_dir, or each new one."""
    evaluator = _Evaluator(flag_values, model, logger)
    if flag_values.eval_interval_secs:
        _evaluate_new_checkpoints(flag_values, evaluator)
        return

    candidates = checkpoints_to_evaluate(flag_values)
    for index, path in enumerate(candidates):
        try:
            evaluator.evaluate(path)
            return
        except checkpoints.CheckpointReadError as error:
            if index + 1 == len(candidates):
                raise checkpoints.CheckpointError(
                    "%s. Copy it again, or give --checkpoint of an earlier one." % error
                ) from error
            log("WARNING: %s; trying the previous one." % error)
