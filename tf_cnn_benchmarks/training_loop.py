"""The training loop: steps, the step table, periodic evaluation and checkpoints."""

import math
import time

import tensorflow as tf

from data import imagenet_tfrecord
from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import evaluation
from tf_cnn_benchmarks import learning_rate
from tf_cnn_benchmarks import optimizers
from tf_cnn_benchmarks import throughput
from tf_cnn_benchmarks.train_step import TrainStep

# ILSVRC-2012 training images: the epoch length of synthetic data.
IMAGENET_NUM_TRAIN_IMAGES = 1281167

DEFAULT_NUM_BATCHES = 100


def log(message):
    print(message, flush=True)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite."""


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


def evaluate_validation_set(flag_values, model):
    """Score the validation shards (all of them, or the --num_eval_epochs fraction below 1)."""
    dataset = imagenet_tfrecord.evaluation_dataset(flag_values.data_dir, flag_values.batch_size,
                                                   flag_values.image_size)
    max_images = None
    if flag_values.num_eval_epochs < 1.0:
        num_images = imagenet_tfrecord.num_examples(flag_values.data_dir, "validation")
        max_images = max(1, int(flag_values.num_eval_epochs * num_images))
    return evaluation.evaluate(evaluation.make_eval_step(model), dataset, max_images)


def report_evaluation(results, step, logger, epoch):
    """Print tf_cnn_benchmarks' accuracy line and log an eval record."""
    log("Accuracy @ 1 = %.4f Accuracy @ 5 = %.4f [%d examples] (step %d)"
        % (results["top_1_accuracy"], results["top_5_accuracy"], results["num_images"], step))
    if epoch is not None:
        logger.log_step((epoch, step), {"eval.top_1_accuracy": results["top_1_accuracy"],
                                        "eval.top_5_accuracy": results["top_5_accuracy"],
                                        "eval.num_images": results["num_images"],
                                        "eval.images_per_sec": results["images_per_sec"]})


class _Run:
    """State of one training run: the step function, the checkpoint and the schedule."""

    def __init__(self, flag_values, model, num_classes):
        self.flags = flag_values
        self.model = model
        self.num_classes = num_classes
        self.global_batch_size = flag_values.batch_size
        self.num_images = num_training_images(flag_values)
        self.steps_per_epoch = max(1, self.num_images // self.global_batch_size)
        self.total_steps = total_training_steps(flag_values, self.num_images,
                                                self.global_batch_size)

        self.initial_learning_rate = (flag_values.init_learning_rate
                                      or learning_rate.scaled_learning_rate(
                                          self.global_batch_size))
        self.schedule = learning_rate.StaircaseDecay(
            self.initial_learning_rate,
            flag_values.num_epochs_per_decay * self.steps_per_epoch,
            flag_values.learning_rate_decay_factor, flag_values.minimum_learning_rate)

        self.global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        trainable = checkpoints.named_trainable_variables(model)
        self.optimizer = optimizers.create_optimizer(flag_values.optimizer, trainable,
                                                     flag_values)
        self.train_step = TrainStep(model, self.optimizer, self.schedule, self.global_step,
                                    flag_values.label_smoothing, flag_values.aux_loss_weight,
                                    flag_values.weight_decay, flag_values.gradient_clip)

        self.manager = None
        if flag_values.train_dir:
            self.checkpoint = checkpoints.create_checkpoint(self.global_step, model,
                                                            self.optimizer)
            self.manager = checkpoints.create_manager(self.checkpoint, flag_values.train_dir,
                                                      flag_values.max_ckpts_to_keep)

        self.eval_every_steps = None
        if flag_values.eval_during_training_every_n_epochs:
            self.eval_every_steps = max(1, round(
                flag_values.eval_during_training_every_n_epochs * self.steps_per_epoch))

    def restore(self):
        """Resume from the latest checkpoint; return the step to continue after."""
        if self.manager is None:
            return 0
        path = checkpoints.restore_latest(self.checkpoint, self.manager)
        if path is None:
            log("No checkpoint in %s: training from step 0." % self.flags.train_dir)
            return 0
        step = int(self.global_step)
        log("Resuming from checkpoint %s at step %d; continuing at step %d."
            % (path, step, step + 1))
        return step

    def save(self, step):
        if self.manager is None:
            return None
        path = self.manager.save(checkpoint_number=step)
        log("Saved checkpoint %s" % path)
        return path

    def dataset(self, start_step):
        if self.flags.data_dir is None:
            return imagenet_tfrecord.synthetic_dataset(self.flags.batch_size,
                                                       self.flags.image_size, self.num_classes,
                                                       seed=self.flags.tf_random_seed)
        # A different seed after each resume, so a resumed run does not replay the batches
        # that the first run started with.
        return imagenet_tfrecord.training_dataset(
            self.flags.data_dir, self.flags.batch_size, self.flags.image_size,
            seed=self.flags.tf_random_seed + start_step,
            use_caching=self.flags.datasets_use_caching)

    def epoch_of(self, step):
        return (step - 1) // self.steps_per_epoch


def _log_start(run, start_step):
    log("Batch size:  %d global (%d per device, 1 device)"
        % (run.global_batch_size, run.flags.batch_size))
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


def _check_finite(loss, step, run):
    if math.isfinite(loss):
        return
    last = run.manager.latest_checkpoint if run.manager else None
    raise NonFiniteLossError(
        "the loss is %s at step %d. The last good checkpoint is %s. Lower "
        "--init_learning_rate or check the input data." % (loss, step, last or "(none saved)"))


def train(flag_values, model, num_classes, logger):
    """Train to --num_batches or --num_epochs, resuming from --train_dir when it has one."""
    run = _Run(flag_values, model, num_classes)
    start_step = run.restore()
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
    meter = throughput.ThroughputMeter(run.global_batch_size, flag_values.num_warmup_batches)
    iterator = iter(run.dataset(start_step))
    last_eval = None
    run_start = time.time()
    log(throughput.TABLE_HEADER)

    for step in range(start_step + 1, run.total_steps + 1):
        step_start = time.time()
        images, labels = next(iterator)
        terms = run.train_step(images, labels)
        loss = float(terms["total_loss"])
        meter.record_step(time.time() - step_start)
        _check_finite(loss, step, run)

        if step == start_step + 1 or step % flag_values.display_every == 0 or \
                step == run.total_steps:
            log(throughput.format_step_row(step, meter, loss))
            logger.log_step((run.epoch_of(step), step), _step_record(run, step, terms, meter))

        if flag_values.save_model_steps and step % flag_values.save_model_steps == 0:
            run.save(step)

        if run.eval_every_steps and (step % run.eval_every_steps == 0
                                     or step == run.total_steps):
            last_eval = evaluate_validation_set(flag_values, model)
            report_evaluation(last_eval, step, logger, run.epoch_of(step))
            run.save(step)
            target = flag_values.stop_at_top_1_accuracy
            if target is not None and last_eval["top_1_accuracy"] >= target:
                log("Top-1 accuracy %.4f reached --stop_at_top_1_accuracy=%g at step %d; "
                    "stopping." % (last_eval["top_1_accuracy"], target, step))
                break

    log(throughput.format_total(meter))
    if run.manager is not None and _checkpoint_step(run) != int(run.global_step):
        run.save(int(run.global_step))

    summary = {"train.total_loss": loss, "train.time": time.time() - run_start,
               "global_step": int(run.global_step)}
    total_speed = meter.total_images_per_sec()
    if total_speed is not None:
        summary["train.images_per_sec"] = total_speed
    if last_eval is not None:
        summary["eval.top_1_accuracy"] = last_eval["top_1_accuracy"]
        summary["eval.top_5_accuracy"] = last_eval["top_5_accuracy"]
    logger.log_step((), summary)


def _checkpoint_step(run):
    """Return the step of the latest checkpoint, or -1 when there is none."""
    path = run.manager.latest_checkpoint
    if path is None:
        return -1
    return int(path.rsplit("-", 1)[-1])
