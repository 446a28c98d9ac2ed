"""The runner: validates flags, builds the input and the model, then trains or evaluates."""

import os
import subprocess
import sys

import tensorflow as tf

from data import dataset_info
from data import imagenet_tfrecord
from data import record_reading
from models import inception_v3
from models import model_stats
from tf_cnn_benchmarks import checkpoints
from tf_cnn_benchmarks import dataset_options
from tf_cnn_benchmarks import determinism
from tf_cnn_benchmarks import dllogger_log
from tf_cnn_benchmarks import eval_checkpoints
from tf_cnn_benchmarks import flags
from tf_cnn_benchmarks import forward_only
from tf_cnn_benchmarks import hardware
from tf_cnn_benchmarks import model_config
from tf_cnn_benchmarks import onednn_math
from tf_cnn_benchmarks import precision
from tf_cnn_benchmarks.replicas import DistributionError
from tf_cnn_benchmarks.replicas import create_replicas
from tf_cnn_benchmarks import training_loop

FLAGS = flags.FLAGS

# Logits of the standard ImageNet TFRecord labels: 1000 synsets plus background at 0.
IMAGENET_NUM_CLASSES = 1001

DLLOGGER_FILENAME = "dllogger.json"

# Errors caused by input the user can fix: printed as one line, without a traceback.
USER_ERRORS = (imagenet_tfrecord.DataDirError, imagenet_tfrecord.LabelRangeError,
               checkpoints.CheckpointError, training_loop.NonFiniteLossError, ValueError,
               DistributionError)


# Flags that tune the input pipeline, which runs only with --data_dir.
INPUT_PIPELINE_FLAGS = ("datasets_use_caching", "datasets_use_prefetch",
                        "datasets_prefetch_buffer_size", "datasets_num_private_threads",
                        "datasets_parallel_interleave_cycle_length", "skip_corrupt_records")


def log(message):
    print(message, flush=True)


def resolve_num_classes(flag_values, info):
    """Return the number of logits: the flag, else the converter's JSON, else 1001."""
    if flag_values.num_classes is not None:
        return flag_values.num_classes
    if info is not None:
        if flag_values.label_offset == 0:
            return len(info["synsets"])
        return dataset_info.num_classes_from_info(info)
    return IMAGENET_NUM_CLASSES


def dllogger_path(flag_values):
    if flag_values.dllogger_log:
        return flag_values.dllogger_log
    if flag_values.train_dir:
        return os.path.join(flag_values.train_dir, DLLOGGER_FILENAME)
    return None


def git_commit():
    """Return the commit of this checkout, or None outside a git checkout."""
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root, check=True,
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def runner_flag_values(flag_values):
    """Return {name: value} of the flags this runner defines (not absl's own)."""
    module_flags = flag_values.get_key_flags_for_module(sys.modules[flags.__name__])
    return {flag.name: flag.value for flag in module_flags}


def build_model(flag_values, num_classes, data_format):
    model = inception_v3.inception_v3(
        num_classes, aux_logits=flag_values.aux_logits, image_size=flag_values.image_size,
        data_format=data_format, batchnorm_decay=flag_values.batchnorm_decay,
        batchnorm_epsilon=flag_values.batchnorm_epsilon)

    trainable, non_trainable = model_stats.count_parameters(model)
    multiply_adds = model_stats.count_multiply_adds(model)
    log("Model:       InceptionV3, %d classes, %dx%d input, %s, auxiliary head %s"
        % (num_classes, flag_values.image_size, flag_values.image_size,
           "NCHW" if data_format == "channels_first" else "NHWC",
           "on" if flag_values.aux_logits else "off"))
    log("Parameters:  %s trainable + %s batch-norm moving statistics = %s"
        % (format(trainable, ","), format(non_trainable, ","),
           format(trainable + non_trainable, ",")))
    log("Multiply-adds per image: %.2f G" % (multiply_adds / 1e9))
    return model


def check_data_dir(flag_values, num_classes):
    """Validate the shard folder and the label range before any model is built."""
    imagenet_tfrecord.find_shards(flag_values.data_dir, "train")
    imagenet_tfrecord.check_label_range(flag_values.data_dir, num_classes,
                                        label_offset=flag_values.label_offset)


def log_run_metadata(logger, flag_values, num_classes, data_format, gpus, replicas):
    logger.log_parameters(runner_flag_values(flag_values))
    logger.log_parameters({
        "tensorflow_version": tf.__version__,
        "devices": hardware.device_description(gpus),
        "world_size": replicas.num_replicas,
        "num_workers": replicas.num_workers,
        "global_batch_size": flag_values.batch_size * replicas.num_replicas,
        "compute_dtype": "float16" if flag_values.use_fp16 else
                         "bfloat16" if flag_values.use_bf16 else "float32",
        "onednn_bf16_math": onednn_math.bf16_math(),
        "num_classes": num_classes,
        "data_format": "NCHW" if data_format == "channels_first" else "NHWC",
        "git_commit": git_commit(),
    })
    for metric, unit in (("images_per_sec", "images/s"), ("total_loss", None),
                         ("learning_rate", None), ("train.images_per_sec", "images/s"),
                         ("train.total_loss", None), ("train.time", "s"),
                         ("eval.top_1_accuracy", "fraction"), ("eval.top_5_accuracy", "fraction"),
                         ("eval_ema.top_1_accuracy", "fraction"),
                         ("eval_ema.top_5_accuracy", "fraction")):
        logger.log_metadata(metric, unit=unit)


def ignored_flag_warnings(flag_values):
    """Return one warning naming the tf_cnn_benchmarks flags given here without effect."""
    ignored = []
    if flag_values.variable_update in flags.SINGLE_DEVICE_VARIABLE_UPDATES:
        ignored.append("--variable_update=%s (one device)" % flag_values.variable_update)
    if flag_values.all_reduce_spec is not None:
        ignored.append("--all_reduce_spec=%s (Horovod and tf.distribute choose their own "
                       "all-reduce)" % flag_values.all_reduce_spec)
    if flag_values.data_dir is None:
        unused_input_flags = [name for name in INPUT_PIPELINE_FLAGS
                              if flag_values[name].present]
        if unused_input_flags:
            ignored.append("%s (synthetic data has no input pipeline)"
                           % ", ".join("--" + name for name in unused_input_flags))
    if (flag_values["cluster_connect_timeout_secs"].present
            and flag_values.variable_update != "collective_all_reduce"):
        ignored.append("--cluster_connect_timeout_secs (only collective_all_reduce waits for "
                       "a cluster)")
    if not ignored:
        return []
    return ["WARNING: accepted but not used: %s." % ", ".join(ignored)]


# Kept for callers that read the model settings through the runner.
read_model_config = model_config.read_model_config


def periodic_eval_requested(flag_values):
    return bool(flag_values.eval_during_training_every_n_epochs or
                flag_values.eval_during_training_every_n_steps)


def prepare_data(flag_values):
    """Check --data_dir and return the number of logits."""
    info = None
    if flag_values.data_dir is not None:
        imagenet_tfrecord.find_shards(flag_values.data_dir, "train")
        info = dataset_info.read_dataset_info(flag_values.data_dir)
    num_classes = resolve_num_classes(flag_values, info)
    if flag_values.data_dir is None:
        return num_classes

    check_data_dir(flag_values, num_classes)
    if flag_values.eval or periodic_eval_requested(flag_values):
        try:
            imagenet_tfrecord.find_shards(flag_values.data_dir, "validation")
        except imagenet_tfrecord.DataDirError as error:
            raise imagenet_tfrecord.DataDirError(
                "%s Evaluation needs them; to train without periodic evaluation pass "
                "--eval_during_training_every_n_epochs=0." % error) from error
    return num_classes


def prepare_evaluation(flag_values):
    """Before --eval builds anything: take the model flags from the training run's
    model_config.json (next to --checkpoint, or in --train_dir) and make sure there is a
    checkpoint to score."""
    location = flag_values.checkpoint or flag_values.train_dir
    config_dir = eval_checkpoints.checkpoint_folder(location) if location else None
    if config_dir and os.path.isdir(config_dir):
        config = model_config.read_model_config(config_dir)
        applied = model_config.apply_model_config(flag_values, config) if config else []
        if applied:
            log("From %s: %s" % (os.path.join(config_dir, model_config.MODEL_CONFIG_FILENAME),
                                 " ".join(applied)))
    if not flag_values.eval_interval_secs:
        eval_checkpoints.checkpoints_to_evaluate(flag_values)


def forward_only_dataset(flag_values, num_classes):
    if flag_values.data_dir is None:
        return imagenet_tfrecord.synthetic_dataset(flag_values.batch_size,
                                                   flag_values.image_size, num_classes)
    return imagenet_tfrecord.evaluation_dataset(
        flag_values.data_dir, flag_values.batch_size, flag_values.image_size,
        eval_crop_fraction=flag_values.eval_crop_fraction, label_offset=flag_values.label_offset,
        skip_corrupt_records=flag_values.skip_corrupt_records,
        resize_method=flag_values.resize_method,
        image_dtype=imagenet_tfrecord.RUNNER_IMAGE_DTYPE,
        **dataset_options.dataset_tuning(flag_values)).repeat()


def run(flag_values):
    gpus = hardware.visible_gpus()
    replicas = create_replicas(flag_values, gpus)
    if not replicas.is_chief:
        # The chief prints the step table for all workers; the others print only errors,
        # which go to stderr.
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    # Horovod leaves each process one GPU.
    gpus = hardware.visible_gpus()
    data_format, note = hardware.resolve_data_format(flag_values.data_format, gpus)
    compute_dtype, precision_notes = precision.configure_precision(flag_values, gpus)
    math_text, math_notes = onednn_math.describe(hardware.cpu_flags(), gpus)
    precision_notes += math_notes
    for line in ([note] + precision_notes + ignored_flag_warnings(flag_values)
                 + list(replicas.notes)):
        if line:
            log(line)
    if flag_values.deterministic:
        determinism.enable_determinism()

    if flag_values.eval:
        prepare_evaluation(flag_values)
    num_classes = prepare_data(flag_values)
    log("TensorFlow:  %s" % tf.__version__)
    log("Device:      %s" % hardware.device_description(gpus))
    log("CPU memory:  %s" % hardware.cpu_allocator_description())
    log("Data:        %s" % (flag_values.data_dir or "synthetic"))
    if flag_values.data_dir:
        log("Input:       %s"
            % dataset_options.describe(dataset_options.dataset_tuning(flag_values)))
    log("Precision:   %s compute, float32 variables%s%s"
        % (compute_dtype, math_text, ", XLA" if flag_values.xla else ""))
    # Seeds Python, NumPy, TensorFlow and Keras 3's own generator (its initializers ignore
    # tf.random.set_seed).
    tf.keras.utils.set_random_seed(flag_values.tf_random_seed)
    with replicas.scope():
        model = build_model(flag_values, num_classes, data_format)

        if flag_values.forward_only:
            forward_only.run_forward_only(flag_values, model,
                                          forward_only_dataset(flag_values, num_classes))
            return

        logger = dllogger_log.DlloggerLog(
            dllogger_path(flag_values) if replicas.is_chief else None)
        try:
            log_run_metadata(logger, flag_values, num_classes, data_format, gpus, replicas)
            if flag_values.eval:
                eval_checkpoints.run_evaluation(flag_values, model, logger)
            else:
                training_loop.train(flag_values, model, num_classes, logger, compute_dtype,
                                    replicas)
        finally:
            logger.close()

    if logger.path:
        log("dllogger log: %s" % logger.path)


def allocation_failure(error):
    """Return the line of an out-of-memory error that names the tensor shape that failed.

    TensorFlow's first line is often only "Graph execution error:"; the "OOM when allocating
    tensor with shape[...]" part comes later, after a function name.
    """
    for line in str(error).splitlines():
        if "OOM when allocating" in line:
            return line[line.index("OOM when allocating"):].split(" [Op:")[0].strip()
    return str(error).strip().splitlines()[0]


def input_failure(error, data_dir):
    """Return a one-line message for an error of the input pipeline, or None for others.

    A corrupt shard gives the message that names the shard. An image that does not decode
    gives TensorFlow's reason: the pipeline does not know the record's shard.
    """
    text = str(error)
    corrupt_shard = record_reading.corrupt_shard_message(text)
    if corrupt_shard is not None:
        return corrupt_shard.replace("--output_dir=<shard folder>",
                                     "--output_dir=%s" % (data_dir or "<shard folder>"))
    # Iterator ops (IteratorGetNext, MultiDeviceIteratorGetNextFromShard) raise the errors
    # of the input pipeline.
    if data_dir is None or "GetNext" not in text:
        return None
    reason = record_reading.tensorflow_reason(text)
    return ("a record in --data_dir=%s failed in the input pipeline: %s. Run `python -m "
            "data.build_imagenet_tfrecord --verify --output_dir=%s` to find the record and "
            "convert its image again, or pass --skip_corrupt_records to skip images that do "
            "not decode." % (data_dir, reason, data_dir))


def main(argv):
    if len(argv) > 1:
        sys.exit("error: unexpected argument(s) %s; every setting is a --flag=value."
                 % " ".join(argv[1:]))

    errors = flags.validate_flags(FLAGS)
    if errors:
        for error in errors:
            print("error: %s" % error, file=sys.stderr)
        sys.exit(2)

    num_intra_threads, num_inter_threads = FLAGS.num_intra_threads, FLAGS.num_inter_threads
    if FLAGS.deterministic:
        # Several threads split a reduction in a different way from run to run, which changes
        # its float summation order.
        num_intra_threads = num_intra_threads or 1
        num_inter_threads = num_inter_threads or 1
        log("--deterministic: %d intra-op and %d inter-op thread(s), PYTHONHASHSEED=%s."
            % (num_intra_threads, num_inter_threads, os.environ.get("PYTHONHASHSEED")))
    hardware.configure_threads(num_intra_threads, num_inter_threads)
    onednn_math.set_mode(FLAGS.onednn_fpmath_mode)
    try:
        run(FLAGS)
    except USER_ERRORS as error:
        sys.exit("error: %s" % error)
    except training_loop.TrainingInterrupted as interruption:
        log(str(interruption))
        # The shell convention for a process ended by a signal, after a clean save.
        sys.exit(128 + interruption.signal_number)
    except tf.errors.DataLossError as error:
        sys.exit("error: a TFRecord file in --data_dir=%s is corrupt or truncated (%s). Copy or "
                 "convert it again; `python -m data.build_imagenet_tfrecord --verify "
                 "--output_dir=%s` names the damaged shard."
                 % (FLAGS.data_dir, str(error).strip().splitlines()[0], FLAGS.data_dir))
    except tf.errors.InvalidArgumentError as error:
        message = input_failure(error, FLAGS.data_dir)
        if message is None:
            raise
        sys.exit("error: %s" % message)
    except tf.errors.ResourceExhaustedError as error:
        sys.exit("error: out of memory at --batch_size=%d (BATCH_SIZE in the scripts): %s. "
                 "Lower the batch size." % (FLAGS.batch_size, allocation_failure(error)))
