"""The training loop: steps, the step table, periodic evaluation and checkpoints."""

import math
import signal
import time

import tensorflow as tf

from data import imagenet_tfrecord
from data import progress
from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import dataset_options
from tf_cnn_benchmarks import evaluation
from tf_cnn_benchmarks import initialization
from tf_cnn_benchmarks import learning_rate
from tf_cnn_benchmarks import model_config
from tf_cnn_benchmarks import moving_average
from tf_cnn_benchmarks import optimizers
from tf_cnn_benchmarks import throughput
from tf_cnn_benchmarks.replicas import Replicas
from tf_cnn_benchmarks.train_step import DynamicLossScale
from tf_cnn_benchmarks.train_step import TrainStep

# ILSVRC-2012 training images: the epoch length of synthetic data.
IMAGENET_NUM_TRAIN_IMAGES = 1281167

DEFAULT_NUM_BATCHES = 100


def log(message):
    print(message, flush=True)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite."""


class TrainingInterrupted(Exception):
    """SIGTERM or SIGINT arrived; a checkpoint was saved. `signal_number` is the signal."""

    def __init__(self, signal_number, message):
        super().__init__(message)
        self.signal_number = signal_number


def num_training_images(flag_values):
    if flag_values.data_dir is None:
        return IMAGENET_NUM_TRAIN_IMAGES
    return imagenet_tfrecord.num_examples(flag_values.data_dir, "train")


def total_training_steps(flag_values, num_images, global_batch_size):
    """Return the step count the whole run (earlier runs included) should reach."""
    if flag_values.num_batches is not None:
        return flag_values.num_batches
    if flag_values.num_epochs is not None:
        return max(1, math.ceil(flag_values.num_epochs * num_images / global_batch_size))
    return DEFAULT_NUM_BATCHES


def evaluate_validation_set(flag_values, model, replicas=None):
    """Score the validation shards: all of them, the --num_eval_epochs fraction below 1, or
    the first --num_eval_batches batches.

    Each worker scores its own part of the records and the counts are summed, so every image
    counts once and all workers return the same figures.
    """
    replicas = replicas or Replicas()
    dataset = imagenet_tfrecord.evaluation_dataset(
        flag_values.data_dir, flag_values.batch_size, flag_values.image_size,
        num_shards=replicas.num_workers, shard_index=replicas.worker_index,
        eval_crop_fraction=flag_values.eval_crop_fraction, label_offset=flag_values.label_offset,
        skip_corrupt_records=flag_values.skip_corrupt_records,
        resize_method=flag_values.resize_method,
        image_dtype=imagenet_tfrecord.RUNNER_IMAGE_DTYPE,
        **dataset_options.dataset_tuning(flag_values))
    max_images = None
    if flag_values.num_eval_epochs < 1.0:
        num_images = imagenet_tfrecord.num_examples(flag_values.data_dir, "validation")
        max_images = max(1, int(flag_values.num_eval_epochs * num_images))
    if flag_values.num_eval_batches is not None:
        batch_limit = flag_values.num_eval_batches * flag_values.batch_size
        max_images = batch_limit if max_images is None else min(max_images, batch_limit)
    if max_images is not None:
        max_images = replicas.shard_of_images(max_images)
    counts = evaluation.count_correct(evaluation.make_eval_step(model), dataset, max_images)
    return evaluation.accuracies(evaluation.sum_over_workers(counts, replicas))


def evaluate_with_average(flag_values, model, weight_average, replicas=None):
    """Return {"raw": results, "ema": results or None}: the trained and averaged weights."""
    results = {"raw": evaluate_validation_set(flag_values, model, replicas), "ema": None}
    if weight_average is not None:
        with weight_average.swapped_in():
            results["ema"] = evaluate_validation_set(flag_values, model, replicas)
    return results


def headline_results(results):
    """Return the results that count for early stopping and summaries: EMA when present."""
    return results["ema"] or results["raw"]


def report_evaluation(results, step, logger, epoch):
    """Print tf_cnn_benchmarks' accuracy line for each weight set and log an eval record."""
    record = {}
    for name, label in (("raw", "trained weights"), ("ema", "moving-average weights")):
        result = results.get(name)
        if result is None:
            continue
        log("Accuracy @ 1 = %.4f Accuracy @ 5 = %.4f [%d examples] (step %d, %s)"
            % (result["top_1_accuracy"], result["top_5_accuracy"], result["num_images"], step,
               label))
        prefix = "eval." if name == "raw" else "eval_ema."
        record.update({prefix + "top_1_accuracy": result["top_1_accuracy"],
                       prefix + "top_5_accuracy": result["top_5_accuracy"],
                       prefix + "num_images": result["num_images"],
                       prefix + "images_per_sec": result["images_per_sec"]})
    logger.log_step((epoch, step) if epoch is not None else (), record)


class _StopSignal:
    """Remembers SIGTERM or SIGINT so the loop can save a checkpoint before it exits."""

    def __init__(self):
        self.signal_number = None
        self.previous_handlers = {}

    def __enter__(self):
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            self.previous_handlers[signal_number] = signal.signal(signal_number, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signal_number, handler in self.previous_handlers.items():
            signal.signal(signal_number, handler)

    def _handle(self, signal_number, frame):
        del frame
        self.signal_number = signal_number


class _Run:
    """State of one training run: the step function, the checkpoint and the schedule."""

    def __init__(self, flag_values, model, num_classes, compute_dtype, replicas):
        self.flags = flag_values
        self.model = model
        self.num_classes = num_classes
        self.replicas = replicas
        self.global_batch_size = flag_values.batch_size * replicas.num_replicas
        self.num_images = num_training_images(flag_values)
        self.steps_per_epoch = max(1, self.num_images // self.global_batch_size)
        self.total_steps = total_training_steps(flag_values, self.num_images,
                                                self.global_batch_size)
        self.schedule = learning_rate.create_schedule(flag_values, self.global_batch_size,
                                                      self.steps_per_epoch)
        self.initial_learning_rate = self.schedule.initial_learning_rate

        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        initialization.apply_trainable_scopes(model, flag_values.trainable_scopes)
        trainable = checkpoints.named_trainable_variables(model)
        self.optimizer = optimizers.create_optimizer(flag_values.optimizer, trainable,
                                                     flag_values)
        self.weight_average = None
        if flag_values.moving_average_decay:
            self.weight_average = moving_average.WeightAverage(
                checkpoints.named_model_variables(model), flag_values.moving_average_decay)
        self.loss_scale = DynamicLossScale() if compute_dtype == "float16" else None
        self.train_step = TrainStep(
            model, list(trainable.values()), self.optimizer, self.schedule, self.global_step,
            flag_values.label_smoothing, flag_values.aux_loss_weight, flag_values.weight_decay,
            flag_values.gradient_clip, self.weight_average, self.loss_scale,
            jit_compile=flag_values.xla, replicas=replicas)

        self.manager = None
        if flag_values.train_dir:
            self.checkpoint = checkpoints.create_checkpoint(
                self.global_step, model, self.optimizer, self.weight_average, self.loss_scale)
            self.manager = replicas.create_checkpoint_manager(
                self.checkpoint, flag_values.train_dir, flag_values.max_ckpts_to_keep)
        self.last_save_time = time.time()
        self.eval_every_steps = self._eval_period()

    def _eval_period(self):
        if self.flags.eval_during_training_every_n_steps:
            return self.flags.eval_during_training_every_n_steps
        if self.flags.eval_during_training_every_n_epochs:
            return max(1, round(self.flags.eval_during_training_every_n_epochs
                                * self.steps_per_epoch))
        return None

    def restore(self):
        """Resume from the latest readable checkpoint; return the step to continue after.

        Every worker then takes the chief's variables, so all start from the same weights,
        optimizer slots and step whether or not they can read --train_dir.
        """
        if self.replicas.is_chief or self.manager is not None:
            self._restore_on_this_worker()
        self.replicas.broadcast_variables(self.variables())
        # int() rejects a tf.distribute MirroredVariable, and .numpy() works for every variable.
        return int(self.global_step.numpy())

    def variables(self):
        """Return every variable a checkpoint holds: weights, batch-norm statistics, optimizer
        slots, EMA, loss scale and the step."""
        modules = (self.optimizer, self.weight_average, self.loss_scale)
        extra = [variable for module in modules if module is not None
                 for variable in module.variables]
        return list(self.model.variables) + extra + [self.global_step]

    def _restore_on_this_worker(self):
        if self.manager is None:
            initialization.initialize_run(self.flags, self.model, self.weight_average)
            return 0
        path = checkpoints.restore_latest(self.checkpoint, self.manager, self.model)
        if path is None:
            log("No checkpoint in %s: training from step 0." % self.flags.train_dir)
            initialization.initialize_run(self.flags, self.model, self.weight_average)
            return 0
        initialization.note_ignored_initial_weights(self.flags)
        step = int(self.global_step.numpy())
        if step < self.total_steps:
            log("Resuming from checkpoint %s at step %d; continuing at step %d."
                % (path, step, step + 1))
        else:
            log("Restored checkpoint %s at step %d." % (path, step))
        return step

    def save(self, step):
        if self.manager is None:
            return None
        path = self.manager.save(checkpoint_number=step)
        self.last_save_time = time.time()
        log("Saved checkpoint %s" % path)
        return path

    def latest_saved_step(self):
        if self.manager is None or self.manager.latest_checkpoint is None:
            return -1
        return checkpoints.checkpoint_step(self.manager.latest_checkpoint)

    def dataset(self, start_step):
        return self.replicas.training_batches(self._input_pipeline, start_step)

    def _input_pipeline(self, num_shards, shard_index, skip_batches):
        if self.flags.data_dir is None:
            return imagenet_tfrecord.synthetic_dataset(self.flags.batch_size,
                                                       self.flags.image_size, self.num_classes,
                                                       seed=self.flags.tf_random_seed)
        # The same seed on every resume, and the batches of earlier runs skipped before they
        # are decoded, so a resumed run trains on the batches an uninterrupted one would use.
        # Each shard reads its own records with its own seed (the seed plus shard_index).
        return imagenet_tfrecord.training_dataset(
            self.flags.data_dir, self.flags.batch_size, self.flags.image_size,
            num_shards=num_shards, shard_index=shard_index,
            seed=self.flags.tf_random_seed, use_caching=self.flags.datasets_use_caching,
            skip_batches=skip_batches, label_offset=self.flags.label_offset,
            skip_corrupt_records=self.flags.skip_corrupt_records,
            resize_method=self.flags.resize_method, distort_color=self.flags.distort_color,
            flip_left_right=self.flags.flip_left_right,
            image_dtype=imagenet_tfrecord.RUNNER_IMAGE_DTYPE,
            **dataset_options.dataset_tuning(self.flags))

    def epoch_of(self, step):
        return (step - 1) // self.steps_per_epoch

    def save_due(self, step):
        if self.flags.save_model_steps and step % self.flags.save_model_steps == 0:
            return True
        return bool(self.flags.save_model_secs and
                    time.time() - self.last_save_time >= self.flags.save_model_secs)

    def eval_due(self, step):
        return bool(self.eval_every_steps) and (step % self.eval_every_steps == 0
                                                or step == self.total_steps)


def _log_start(run, start_step):
    log("Batch size:  %d global (%d per device, %s)"
        % (run.global_batch_size, run.flags.batch_size, run.replicas.description))
    log("Optimizer:   %s, initial learning rate %g" % (run.flags.optimizer,
                                                     run.initial_learning_rate))
    log("Steps:       %d to run (steps %d to %d), %d per epoch of %d images"
        % (run.total_steps - start_step, start_step + 1, run.total_steps, run.steps_per_epoch,
           run.num_images))
    log("Running warm up")


def _step_record(run, step, terms, meter):
    record = {name: float(value) for name, value in terms.items()}
    mean_speed, _, _ = meter.speed_summary()
    record["images_per_sec"] = mean_speed
    record["epoch"] = run.epoch_of(step)
    return record


def _reported_loss(flag_values, terms):
    if flag_values.loss_type_to_report == "base_loss":
        return float(terms["cross_entropy"])
    return float(terms["total_loss"])


def _check_finite(loss, step, run):
    if math.isfinite(loss):
        return
    last = run.manager.latest_checkpoint if run.manager else None
    raise NonFiniteLossError(
        "the loss is %s at step %d. The last good checkpoint is %s. Lower "
        "--init_learning_rate or check the input data." % (loss, step, last or "(none saved)"))


class _Summaries:
    """TensorBoard scalars in --train_dir, every --save_summaries_steps steps."""

    def __init__(self, flag_values, is_chief):
        self.every = flag_values.save_summaries_steps
        if self.every is None:
            self.every = flag_values.display_every
        self.writer = None
        if flag_values.train_dir and self.every and is_chief:
            self.writer = tf.summary.create_file_writer(flag_values.train_dir)

    def write(self, step, scalars):
        if self.writer is None or step % self.every:
            return
        with self.writer.as_default():
            for name, value in scalars.items():
                tf.summary.scalar(name, value, step=step)

    def close(self):
        if self.writer is not None:
            self.writer.flush()


def _row(run, step, meter, terms):
    """Return the table row: step, images/sec, loss, then optional accuracy and the ETA."""
    row = throughput.format_step_row(step, meter, _reported_loss(run.flags, terms))
    if run.flags.print_training_accuracy:
        row += "\t%.4f\t%.4f" % (float(terms["top_1_accuracy"]), float(terms["top_5_accuracy"]))
    remaining = throughput.remaining_seconds(meter, run.total_steps - step)
    if remaining is not None:
        row += "\tETA %s" % progress.format_duration(remaining)
    return row


def train(flag_values, model, num_classes, logger, compute_dtype="float32", replicas=None):
    """Train to --num_batches or --num_epochs, resuming from --train_dir when it has one.

    Call it inside replicas.scope(), where the model was built. Raises TrainingInterrupted
    after saving a checkpoint when SIGTERM or SIGINT arrives.
    """
    run = _Run(flag_values, model, num_classes, compute_dtype, replicas or Replicas())
    start_step = run.restore()
    # Written only once the checkpoint (if any) fits the model, so the file always describes
    # the checkpoints next to it.
    if flag_values.train_dir and run.replicas.is_chief:
        for change in model_config.write_model_config(flag_values, num_classes):
            log(change)
    if start_step >= run.total_steps:
        log("The checkpoint is at step %d and this run asks for %d steps in total: nothing "
            "to train. Raise --num_batches or --num_epochs to train further."
            % (start_step, run.total_steps))
        return

    logger.log_parameters({"initial_learning_rate": run.initial_learning_rate,
                           "total_steps": run.total_steps,
                           "steps_per_epoch": run.steps_per_epoch,
                           "start_step": start_step})
    _log_start(run, start_step)
    with _StopSignal() as stop_signal:
        _train_steps(run, start_step, logger, stop_signal)


def _log_shares(total_speed, replicas):
    """Print the images/sec of one worker and of one device, where there are several."""
    if total_speed is None:
        return
    if replicas.num_workers > 1:
        log("per worker: %.2f images/sec (%d workers)"
            % (total_speed / replicas.num_workers, replicas.num_workers))
    if replicas.replicas_per_worker > 1:
        log("per device: %.2f images/sec (%d devices)"
            % (total_speed / replicas.num_replicas, replicas.num_replicas))


def _train_steps(run, start_step, logger, stop_signal):
    flag_values = run.flags
    meter = throughput.ThroughputMeter(run.global_batch_size, flag_values.num_warmup_batches)
    summaries = _Summaries(flag_values, run.replicas.is_chief)
    iterator = iter(run.dataset(start_step))
    last_results = None
    loss = float("nan")
    run_start = time.time()
    header = throughput.TABLE_HEADER.replace("total_loss", flag_values.loss_type_to_report)
    if flag_values.print_training_accuracy:
        header += "\ttop_1_accuracy\ttop_5_accuracy"
    log(header)

    for step in range(start_step + 1, run.total_steps + 1):
        step_start = time.time()
        images, labels = next(iterator)
        terms = run.train_step(images, labels)
        loss = _reported_loss(flag_values, terms)
        meter.record_step(time.time() - step_start)
        _check_finite(loss, step, run)

        if step == start_step + 1 or step % flag_values.display_every == 0 or \
                step == run.total_steps:
            log(_row(run, step, meter, terms))
            logger.log_step((run.epoch_of(step), step), _step_record(run, step, terms, meter))
        summaries.write(step, {"loss/total_loss": terms["total_loss"],
                               "loss/cross_entropy": terms["cross_entropy"],
                               "learning_rate": terms["learning_rate"],
                               "images_per_sec": meter.last_speed})

        if run.replicas.any_worker(stop_signal.signal_number is not None):
            # All workers stop at the same step, so none waits on an allreduce.
            signal_number = stop_signal.signal_number or signal.SIGTERM
            path = run.save(step)
            summaries.close()
            name = signal.Signals(signal_number).name
            raise TrainingInterrupted(
                signal_number,
                "%s received: stopped after step %d; checkpoint %s. Rerun the same command "
                "to resume." % (name, step, path or "not saved (no --train_dir)"))

        if run.eval_due(step):
            # Saved first, so a failing evaluation never costs the trained steps.
            run.save(step)
            results = evaluate_with_average(flag_values, run.model, run.weight_average,
                                            run.replicas)
            summaries.write(step, {"eval/top_1_accuracy": results["raw"]["top_1_accuracy"]})
            report_evaluation(results, step, logger, run.epoch_of(step))
            last_results = results
            headline = headline_results(results)
            target = flag_values.stop_at_top_1_accuracy
            if target is not None and headline["top_1_accuracy"] >= target:
                log("Top-1 accuracy %.4f reached --stop_at_top_1_accuracy=%g at step %d; "
                    "stopping." % (headline["top_1_accuracy"], target, step))
                break
        elif run.save_due(step):
            run.save(step)

    log(throughput.format_total(meter))
    _log_shares(meter.total_images_per_sec(), run.replicas)
    if run.manager is not None and run.latest_saved_step() != int(run.global_step.numpy()):
        run.save(int(run.global_step.numpy()))
    summaries.close()

    summary = {"train.total_loss": loss, "train.time": time.time() - run_start,
               "global_step": int(run.global_step.numpy())}
    total_speed = meter.total_images_per_sec()
    if total_speed is not None:
        summary["train.images_per_sec"] = total_speed
    # The same keys as the eval records: eval.* for the trained weights, eval_ema.* for the
    # moving average.
    for name, prefix in (("raw", "eval."), ("ema", "eval_ema.")):
        if last_results is not None and last_results[name] is not None:
            summary[prefix + "top_1_accuracy"] = last_results[name]["top_1_accuracy"]
            summary[prefix + "top_5_accuracy"] = last_results[name]["top_5_accuracy"]
    logger.log_step((), summary)
