"""Command-line flags, with tf_cnn_benchmarks' names and meanings where it has the flag.

Defaults follow the InceptionV3 training recipe (RMSProp, label smoothing, auxiliary loss),
not tf_cnn_benchmarks' benchmark defaults; the README lists each difference.
"""

import os

from absl import flags

from data import inception_preprocessing
from models import inception_v3
from tf_cnn_benchmarks import onednn_math

FLAGS = flags.FLAGS

SUPPORTED_MODELS = ("inception3", "inception_v3")
SUPPORTED_OPTIMIZERS = ("rmsprop", "momentum", "sgd", "adam")
SUPPORTED_DATA_NAMES = ("imagenet",)
SUPPORTED_LOSS_TYPES = ("total_loss", "base_loss")

# Input.
flags.DEFINE_string("data_name", None,
                    "Dataset name. Only 'imagenet' (the standard ImageNet TFRecord layout) is "
                    "supported; default: imagenet.")
flags.DEFINE_string("data_dir", None,
                    "Folder of ImageNet TFRecord shards (train-*-of-*, validation-*-of-*). "
                    "Without it the run trains on synthetic data.")
flags.DEFINE_integer("image_size", inception_v3.DEFAULT_IMAGE_SIZE,
                     "Height and width of the model input, in pixels (at least 75).")
flags.DEFINE_integer("num_classes", None,
                     "Number of logits. Default: from the converter's dataset_info.json in "
                     "--data_dir, else 1001 (1000 ImageNet synsets plus background).")
flags.DEFINE_boolean("datasets_use_caching", False,
                     "Cache the serialized records in memory after the first epoch.")
flags.DEFINE_boolean("datasets_use_prefetch", True,
                     "Prepare batches while the step runs. Off: each batch is prepared "
                     "when the step asks for it.")
flags.DEFINE_integer("datasets_prefetch_buffer_size", None,
                     "Batches prepared ahead. Default: tuned by tf.data.")
flags.DEFINE_integer("datasets_num_private_threads", None,
                     "Threads of a tf.data thread pool of the input pipeline's own; 0 or "
                     "unset uses TensorFlow's shared tf.data pool.")
flags.DEFINE_integer("datasets_parallel_interleave_cycle_length", None,
                     "Threads that read the shards, one shard each; 0 reads them without "
                     "threads. Default: tuned by tf.data, or 0 in a process with one usable "
                     "CPU core. Above 10, as many shards are read at once, in another order.")
flags.DEFINE_integer("label_offset", None,
                     "Label numbering of the shards: 1 when labels are 1..N with 0 for "
                     "background (the standard converter), 0 when they are 0..N-1. Default: as "
                     "dataset_info.json says, else as stored.")
flags.DEFINE_boolean("skip_corrupt_records", False,
                     "Skip the rest of a shard after a corrupt record, with a warning and a "
                     "count, instead of stopping with an error that names the shard.")
flags.DEFINE_float("eval_crop_fraction", 0.875,
                   "Fraction of the image side kept by the central evaluation crop.")
flags.DEFINE_string("resize_method", "bilinear",
                    "tf.image.resize method of training and evaluation crops, such as "
                    "bilinear, bicubic or area.")
flags.DEFINE_boolean("distort_color", False,
                     "Random brightness, saturation, hue and contrast in training "
                     "preprocessing.")
flags.DEFINE_boolean("flip_left_right", True,
                     "Mirror half of the training crops at random (Inception preprocessing). "
                     "Pass --noflip_left_right when a mirrored image is another class or no "
                     "valid example, as with digits, letters or text.")

# Model.
flags.DEFINE_string("model", "inception3", "Model name: inception3 (alias inception_v3).")
flags.DEFINE_string("data_format", None,
                    "Layout of the model's activations: NCHW or NHWC. Default: NCHW when a GPU "
                    "is visible, else NHWC (TensorFlow's CPU kernels need NHWC).")
flags.DEFINE_boolean("aux_logits", True, "Train with InceptionV3's auxiliary classifier.")
flags.DEFINE_float("batchnorm_decay", inception_v3.DEFAULT_BATCHNORM_DECAY,
                   "Decay of the batch-norm moving averages (TF-Slim's 0.9997). Runs of a few "
                   "thousand steps need a smaller value, such as 0.9, or the moving averages "
                   "used at evaluation stay close to their initial values.")
flags.DEFINE_float("batchnorm_epsilon", inception_v3.DEFAULT_BATCHNORM_EPSILON,
                   "Batch-norm epsilon (TF-Slim's 0.001).")

# Run length and output.
flags.DEFINE_integer("batch_size", 32, "Images per device per step.")
flags.DEFINE_integer("num_gpus", 1,
                     "GPUs this process trains on. Above 1 the run uses MirroredStrategy over "
                     "them; without GPUs it splits the CPU into that many logical devices, "
                     "which tests the multi-device path but trains no faster. With "
                     "--variable_update=horovod each process drives one GPU: keep 1.")
flags.DEFINE_integer("num_batches", None,
                     "Training steps to run in total, counting steps of earlier runs that a "
                     "checkpoint in --train_dir holds. Default: 100 unless --num_epochs is set.")
flags.DEFINE_float("num_epochs", None,
                   "Training epochs to run in total; converted to steps with the number of "
                   "training images.")
flags.DEFINE_integer("num_warmup_batches", 10,
                     "Steps left out of the throughput figures (graph tracing and memory "
                     "allocation make the first steps slow).")
flags.DEFINE_integer("display_every", 10, "Print and log one line every this many steps.")
flags.DEFINE_string("train_dir", None,
                    "Folder of checkpoints. A run resumes from the latest checkpoint in it. "
                    "Without it nothing is saved.")
flags.DEFINE_integer("save_model_steps", None,
                     "Save a checkpoint every this many steps; checkpoints are always saved at "
                     "the end of training and at each evaluation.")
flags.DEFINE_integer("max_ckpts_to_keep", 5, "Number of recent checkpoints kept.")
flags.DEFINE_string("dllogger_log", None,
                    "Path of the dllogger JSON log. Default: dllogger.json in --train_dir; "
                    "no log without --train_dir.")
flags.DEFINE_integer("save_model_secs", None,
                     "Also save a checkpoint when this many seconds passed since the last one.")
flags.DEFINE_integer("save_summaries_steps", None,
                     "Write TensorBoard scalars to --train_dir every this many steps. Default: "
                     "every --display_every steps; 0 turns them off.")
flags.DEFINE_integer("tf_random_seed", 1234, "Seed of weight initialization and data order.")
flags.DEFINE_boolean("deterministic", False,
                     "Make runs reproducible, so a resumed run ends with the same weights as an "
                     "uninterrupted one, bit for bit: deterministic TensorFlow ops, 1 intra-op "
                     "and 1 inter-op thread unless the thread flags are given, "
                     "PYTHONHASHSEED=0 (the runner restarts itself to set it) and Grappler's "
                     "memory optimizer off. Much slower on CPU; some ops have no deterministic "
                     "GPU kernel.")
flags.DEFINE_boolean("print_training_accuracy", False,
                     "Add top-1 and top-5 accuracy on the training batch to each table row.")
flags.DEFINE_string("loss_type_to_report", "total_loss",
                    "Loss in the table: total_loss (with the auxiliary and weight-decay terms) "
                    "or base_loss (the main cross entropy alone).")
flags.DEFINE_boolean("forward_only", False,
                     "Benchmark inference only: time forward passes, no training.")

# Evaluation.
flags.DEFINE_boolean("eval", False,
                     "Evaluate the latest checkpoint in --train_dir on the validation shards "
                     "instead of training.")
flags.DEFINE_float("eval_during_training_every_n_epochs", None,
                   "Evaluate on the validation shards every this many epochs while training, "
                   "and at the last step; 0 turns periodic evaluation off.")
flags.DEFINE_float("num_eval_epochs", 1.0,
                   "Fraction of the validation set to score: values of 1 or more score every "
                   "validation image once (more passes would repeat the same numbers).")
flags.DEFINE_integer("eval_during_training_every_n_steps", None,
                     "Evaluate on the validation shards every this many steps while training.")
flags.DEFINE_integer("num_eval_batches", None,
                     "Score only this many validation batches. Default: the whole set.")
flags.DEFINE_string("checkpoint", None,
                    "With --eval: the checkpoint to evaluate, as a prefix (model.ckpt-100), its "
                    ".index file, a `checkpoint` state file or a folder. Default: the latest in "
                    "--train_dir.")
flags.DEFINE_integer("eval_interval_secs", None,
                     "With --eval: keep evaluating each new checkpoint in --train_dir, polling "
                     "every this many seconds.")
flags.DEFINE_integer("eval_timeout_secs", None,
                     "With --eval_interval_secs: stop when no new checkpoint appears for this "
                     "many seconds. Default: wait until the training run's last step is "
                     "evaluated.")
flags.DEFINE_float("stop_at_top_1_accuracy", None,
                   "Stop training once an evaluation reaches this top-1 accuracy (0 to 1). "
                   "Needs --eval_during_training_every_n_epochs.")

# Optimizer and loss.
flags.DEFINE_string("optimizer", "rmsprop", "Optimizer: rmsprop, momentum, sgd or adam.")
flags.DEFINE_float("init_learning_rate", None,
                   "Learning rate at step 0. Default: 0.045 for a global batch of 1600 images "
                   "(the paper's 50 replicas x 32), scaled linearly to the actual global batch.")
flags.DEFINE_float("num_learning_rate_warmup_epochs", 0.0,
                   "Epochs of linear warm-up from 0 to the initial learning rate.")
flags.DEFINE_string("piecewise_learning_rate_schedule", None,
                    "tf_cnn_benchmarks' piecewise schedule 'lr0;epoch1;lr1;epoch2;lr2...': lr0 "
                    "until epoch1, then lr1 until epoch2, and so on. Replaces the staircase "
                    "decay and --init_learning_rate.")
flags.DEFINE_float("num_epochs_per_decay", 2.0,
                   "Epochs between learning-rate decays (staircase).")
flags.DEFINE_float("learning_rate_decay_factor", 0.94,
                   "Factor applied to the learning rate at each decay.")
flags.DEFINE_float("minimum_learning_rate", 0.0, "Floor of the decayed learning rate.")
flags.DEFINE_float("momentum", 0.9, "Momentum of the momentum optimizer.")
flags.DEFINE_float("rmsprop_decay", 0.9, "Decay of RMSProp's mean square.")
flags.DEFINE_float("rmsprop_momentum", 0.9, "Momentum of RMSProp.")
flags.DEFINE_float("rmsprop_epsilon", 1.0,
                   "RMSProp's epsilon, added inside the square root (TensorFlow 1's update). "
                   "The paper's value is 1.0.")
flags.DEFINE_float("adam_beta1", 0.9, "Adam's beta1.")
flags.DEFINE_float("adam_beta2", 0.999, "Adam's beta2.")
flags.DEFINE_float("adam_epsilon", 1e-8, "Adam's epsilon.")
flags.DEFINE_float("weight_decay", 4e-5,
                   "L2 factor: the loss adds weight_decay * sum(tf.nn.l2_loss(kernel)) over "
                   "convolution and dense kernels (TF-Slim's 4e-5).")
flags.DEFINE_float("gradient_clip", 2.0,
                   "Clip gradients to this global norm (the paper's 2.0); 0 turns clipping off.")
flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing of the cross entropy (paper: 0.1).")
flags.DEFINE_float("aux_loss_weight", 0.4,
                   "Weight of the auxiliary classifier's cross entropy in the loss.")

flags.DEFINE_float("moving_average_decay", 0.9999,
                   "Decay of the exponential moving average of the weights, ramped as "
                   "min(decay, (1 + step) / (10 + step)); evaluation and export use the "
                   "averaged weights. 0 turns it off.")

# Precision and compilation.
flags.DEFINE_boolean("use_fp16", False,
                     "Compute in float16 with float32 variables and dynamic loss scaling (GPUs "
                     "with tensor cores).")
flags.DEFINE_boolean("use_bf16", False,
                     "Compute in bfloat16 with float32 variables (GPUs since Ampere, CPUs with "
                     "AMX or AVX512-BF16).")
flags.DEFINE_boolean("xla", False, "Compile the training step with XLA (jit_compile).")
flags.DEFINE_enum("onednn_fpmath_mode", None, list(onednn_math.MODES),
                  "oneDNN's math for float32 ops on the CPU. bf16: round the inputs of "
                  "convolutions to bfloat16 and accumulate in float32, faster on CPUs with "
                  "AMX-BF16. strict: float32 math, whatever the environment sets. Default: as "
                  "TF_SET_ONEDNN_FPMATH_MODE or ONEDNN_DEFAULT_FPMATH_MODE sets it, else "
                  "strict.", case_sensitive=False)

# Distribution across devices and hosts.
flags.DEFINE_string("variable_update", None,
                    "How gradients are combined across devices: horovod (allreduce between "
                    "processes started by horovodrun), replicated or its alias mirrored "
                    "(MirroredStrategy over --num_gpus devices of one host), or "
                    "collective_all_reduce (MultiWorkerMirroredStrategy across hosts, which "
                    "needs --train_dir on a filesystem that every host reads). Unset means one "
                    "device, or replicated when --num_gpus is above 1.")
flags.DEFINE_string("all_reduce_spec", None,
                    "tf_cnn_benchmarks' all-reduce algorithm; accepted, but not used: Horovod "
                    "and tf.distribute choose their own.")
flags.DEFINE_boolean("horovod_fp16_allreduce", False,
                     "With --variable_update=horovod, send gradients as float16 in the "
                     "allreduce: half the traffic, at some precision cost.")
flags.DEFINE_string("worker_hosts", None,
                    "With --variable_update=collective_all_reduce and no TF_CONFIG: the "
                    "comma-separated host:port of every worker, the same list on each host.")
flags.DEFINE_integer("task_index", 0,
                     "With --worker_hosts: this worker's position in the list, 0 for the "
                     "chief.")
flags.DEFINE_integer("cluster_connect_timeout_secs", 900,
                     "With --variable_update=collective_all_reduce: seconds to wait for every "
                     "worker of the cluster to connect before stopping with an error; 0 waits "
                     "without a limit.")

# Initial weights and fine-tuning.
flags.DEFINE_string("keras_weights", None,
                    "Keras Applications' InceptionV3 HDF5 weights (with or without the top) to "
                    "start from when --train_dir has no checkpoint yet. With another "
                    "--num_classes the logits start fresh.")
flags.DEFINE_string("slim_checkpoint", None,
                    "TF-Slim's InceptionV3 checkpoint (inception_v3.ckpt, 1001 classes) to start "
                    "from when --train_dir has no checkpoint yet. With another --num_classes "
                    "the logits and auxiliary logits start fresh.")
flags.DEFINE_string("trainable_scopes", None,
                    "Comma-separated layer-name prefixes to train, such as logits,aux_logits "
                    "or mixed_7,logits; every other layer is frozen, its batch norm in "
                    "inference mode. Default: train all layers.")

# Threads.
flags.DEFINE_integer("num_intra_threads", None,
                     "Threads inside one op; 0 or unset lets TensorFlow choose.")
flags.DEFINE_integer("num_inter_threads", None,
                     "Ops run in parallel; 0 or unset lets TensorFlow choose.")


# Smallest valid value of each integer flag that has one. validate_flags checks them with the
# other flags (absl's lower_bound would stop at the first bad value).
LOWER_BOUNDS = {
    "batch_size": 1, "num_gpus": 1, "num_warmup_batches": 0, "display_every": 1,
    "save_model_steps": 1, "max_ckpts_to_keep": 1, "save_model_secs": 1,
    "save_summaries_steps": 0, "eval_during_training_every_n_steps": 1, "num_eval_batches": 1,
    "eval_interval_secs": 1, "eval_timeout_secs": 1, "task_index": 0,
    "datasets_prefetch_buffer_size": 1, "datasets_num_private_threads": 0,
    "datasets_parallel_interleave_cycle_length": 0, "cluster_connect_timeout_secs": 0,
}


def _validate_lower_bounds(flag_values):
    errors = []
    for name, bound in LOWER_BOUNDS.items():
        value = getattr(flag_values, name)
        if value is not None and value < bound:
            errors.append("--%s=%d is invalid; use %d or more." % (name, value, bound))
    return errors


def validate_flags(flag_values):
    """Return a list of messages, one for each invalid flag or invalid combination.

    The runner reports them together at start-up, so a user fixes a command line in one go.
    """
    errors = _validate_lower_bounds(flag_values)
    if flag_values.model not in SUPPORTED_MODELS:
        errors.append("--model=%s is not supported; use --model=inception3."
                      % flag_values.model)
    if flag_values.optimizer not in SUPPORTED_OPTIMIZERS:
        errors.append("--optimizer=%s is not supported; use one of %s."
                      % (flag_values.optimizer, ", ".join(SUPPORTED_OPTIMIZERS)))
    if flag_values.data_name is not None and flag_values.data_name not in SUPPORTED_DATA_NAMES:
        errors.append("--data_name=%s is not supported; use --data_name=imagenet."
                      % flag_values.data_name)
    if flag_values.data_format is not None and flag_values.data_format not in ("NCHW", "NHWC"):
        errors.append("--data_format=%s is invalid; use NCHW or NHWC." % flag_values.data_format)
    if flag_values.image_size < inception_v3.MIN_IMAGE_SIZE:
        errors.append("--image_size=%d is too small: InceptionV3 needs at least %d. Use "
                      "--image_size=%d or larger." % (flag_values.image_size,
                                                      inception_v3.MIN_IMAGE_SIZE,
                                                      inception_v3.MIN_IMAGE_SIZE))
    if flag_values.num_classes is not None and flag_values.num_classes < 2:
        errors.append("--num_classes=%d is invalid; a classifier needs at least 2."
                      % flag_values.num_classes)
    errors += _validate_distribution(flag_values)

    if flag_values.loss_type_to_report not in SUPPORTED_LOSS_TYPES:
        errors.append("--loss_type_to_report=%s is invalid; use total_loss or base_loss."
                      % flag_values.loss_type_to_report)
    if flag_values.label_offset not in (None, 0, 1):
        errors.append("--label_offset=%d is invalid; use 1 (labels 1..N, 0 for background) or "
                      "0 (labels 0..N-1)." % flag_values.label_offset)
    if not 0.0 < flag_values.eval_crop_fraction <= 1.0:
        errors.append("--eval_crop_fraction=%g is invalid; use a fraction in (0, 1], such as "
                      "0.875." % flag_values.eval_crop_fraction)
    if flag_values.resize_method not in inception_preprocessing.RESIZE_METHODS:
        errors.append("--resize_method=%s is invalid; use one of %s."
                      % (flag_values.resize_method,
                         ", ".join(inception_preprocessing.RESIZE_METHODS)))
    if (flag_values.datasets_prefetch_buffer_size is not None
            and not flag_values.datasets_use_prefetch):
        errors.append("--datasets_prefetch_buffer_size=%d sets how many batches to prefetch, "
                      "but --datasets_use_prefetch is false, which turns prefetching off. Drop "
                      "one of the two." % flag_values.datasets_prefetch_buffer_size)
    if flag_values.use_fp16 and flag_values.use_bf16:
        errors.append("--use_fp16 and --use_bf16 both set the compute precision; give one.")

    errors.extend(_validate_run_length(flag_values))
    errors.extend(_validate_evaluation(flag_values))
    errors.extend(_validate_ranges(flag_values))
    errors.extend(_validate_initial_weights(flag_values))
    return errors


def _validate_run_length(flag_values):
    errors = []
    if flag_values.num_batches is not None and flag_values.num_epochs is not None:
        errors.append("--num_batches=%d and --num_epochs=%g both set the run length; "
                      "give only one." % (flag_values.num_batches, flag_values.num_epochs))
    if flag_values.num_batches is not None and flag_values.num_batches < 1:
        errors.append("--num_batches=%d is invalid; use 1 or more." % flag_values.num_batches)
    if flag_values.num_epochs is not None and flag_values.num_epochs <= 0:
        errors.append("--num_epochs=%g is invalid; use a positive number."
                      % flag_values.num_epochs)
    return errors


def _validate_evaluation(flag_values):
    errors = []
    every_n_epochs = flag_values.eval_during_training_every_n_epochs
    if every_n_epochs is not None and every_n_epochs < 0:
        errors.append("--eval_during_training_every_n_epochs=%g is invalid; use a positive "
                      "number of epochs, or 0 to turn periodic evaluation off."
                      % every_n_epochs)
    if every_n_epochs == 0:
        every_n_epochs = None
    if every_n_epochs is not None and flag_values.data_dir is None:
        errors.append("--eval_during_training_every_n_epochs needs --data_dir with validation "
                      "shards; synthetic data has no validation set.")
    if flag_values.eval and flag_values.train_dir is None and flag_values.checkpoint is None:
        errors.append("--eval needs --train_dir or --checkpoint, the checkpoints to evaluate.")
    if flag_values.eval and flag_values.data_dir is None:
        errors.append("--eval needs --data_dir with validation shards.")

    every_n_steps = flag_values.eval_during_training_every_n_steps
    if every_n_epochs is not None and every_n_steps is not None:
        errors.append("--eval_during_training_every_n_epochs and "
                      "--eval_during_training_every_n_steps both set the evaluation period; "
                      "give one.")
    if every_n_steps is not None and flag_values.data_dir is None:
        errors.append("--eval_during_training_every_n_steps needs --data_dir with validation "
                      "shards.")
    if flag_values.checkpoint is not None and not flag_values.eval:
        errors.append("--checkpoint selects what --eval evaluates; add --eval, or use "
                      "--train_dir to resume training.")
    if flag_values.eval_interval_secs is not None and not flag_values.eval:
        errors.append("--eval_interval_secs needs --eval.")

    target = flag_values.stop_at_top_1_accuracy
    if target is not None and not 0.0 < target <= 1.0:
        errors.append("--stop_at_top_1_accuracy=%g is invalid; give a fraction in (0, 1], "
                      "such as 0.78." % target)
    if target is not None and every_n_epochs is None and every_n_steps is None:
        errors.append("--stop_at_top_1_accuracy needs periodic evaluation: add "
                      "--eval_during_training_every_n_epochs.")
    if flag_values.num_eval_epochs <= 0:
        errors.append("--num_eval_epochs=%g is invalid; use a positive number."
                      % flag_values.num_eval_epochs)
    return errors


def _validate_ranges(flag_values):
    errors = []
    if flag_values.init_learning_rate is not None and flag_values.init_learning_rate <= 0:
        errors.append("--init_learning_rate=%g is invalid; use a positive number."
                      % flag_values.init_learning_rate)
    if not 0.0 <= flag_values.label_smoothing < 1.0:
        errors.append("--label_smoothing=%g is invalid; use a value in [0, 1)."
                      % flag_values.label_smoothing)
    if not 0.0 < flag_values.batchnorm_decay < 1.0:
        errors.append("--batchnorm_decay=%g is invalid; use a value in (0, 1), such as 0.9997."
                      % flag_values.batchnorm_decay)
    if flag_values.weight_decay < 0:
        errors.append("--weight_decay=%g is invalid; use 0 or a positive number."
                      % flag_values.weight_decay)
    if flag_values.gradient_clip < 0:
        errors.append("--gradient_clip=%g is invalid; use 0 (off) or a positive global norm."
                      % flag_values.gradient_clip)
    if not 0.0 <= flag_values.moving_average_decay < 1.0:
        errors.append("--moving_average_decay=%g is invalid; use a value in [0, 1), such as "
                      "0.9999, or 0 to turn it off." % flag_values.moving_average_decay)
    if flag_values.num_learning_rate_warmup_epochs < 0:
        errors.append("--num_learning_rate_warmup_epochs=%g is invalid; use 0 or more."
                      % flag_values.num_learning_rate_warmup_epochs)
    if flag_values.piecewise_learning_rate_schedule is not None:
        from tf_cnn_benchmarks import learning_rate
        try:
            learning_rate.parse_piecewise_schedule(flag_values.piecewise_learning_rate_schedule)
        except ValueError as error:
            errors.append(str(error))
    if flag_values.num_epochs_per_decay <= 0:
        errors.append("--num_epochs_per_decay=%g is invalid; use a positive number."
                      % flag_values.num_epochs_per_decay)
    return errors


def _validate_initial_weights(flag_values):
    errors = []
    if flag_values.keras_weights and flag_values.slim_checkpoint:
        errors.append("--keras_weights and --slim_checkpoint both set the initial weights; "
                      "give one.")
    for flag_name in ("keras_weights", "slim_checkpoint"):
        path = getattr(flag_values, flag_name)
        if path and not (os.path.isfile(path) or os.path.isfile(path + ".index")):
            errors.append("--%s=%s not found. Check the path." % (flag_name, path))
        if path and flag_values.eval:
            errors.append("--%s sets the weights a training run starts from; --eval evaluates "
                          "checkpoints in --train_dir. Drop one of them." % flag_name)
    return errors


# --variable_update values this runner acts on, and the tf_cnn_benchmarks values that mean the
# same as one device when --num_gpus=1.
VARIABLE_UPDATES = ("horovod", "replicated", "mirrored", "collective_all_reduce")
SINGLE_DEVICE_VARIABLE_UPDATES = ("parameter_server", "independent", "distributed_replicated",
                                  "distributed_all_reduce")


def _validate_distribution(flag_values):
    errors = []
    update = flag_values.variable_update
    if update is not None and update not in VARIABLE_UPDATES + SINGLE_DEVICE_VARIABLE_UPDATES:
        errors.append("--variable_update=%s is invalid; use one of %s."
                      % (update, ", ".join(VARIABLE_UPDATES)))
    elif update in SINGLE_DEVICE_VARIABLE_UPDATES and flag_values.num_gpus > 1:
        errors.append("--variable_update=%s is not supported; with --num_gpus=%d use "
                      "--variable_update=replicated, or horovod with one process per GPU."
                      % (update, flag_values.num_gpus))
    if update == "horovod" and flag_values.num_gpus > 1:
        errors.append("--num_gpus=%d with --variable_update=horovod: each Horovod process "
                      "drives one GPU. Keep --num_gpus=1 and start one process per GPU with "
                      "`horovodrun -np %d`." % (flag_values.num_gpus, flag_values.num_gpus))
    distributed = update in ("horovod", "collective_all_reduce") or flag_values.num_gpus > 1
    for mode in ("eval", "forward_only"):
        if distributed and getattr(flag_values, mode):
            errors.append("--%s runs on one device in one process; use --num_gpus=1 without "
                          "--variable_update, and start one process." % mode)
    if flag_values.xla and distributed and update != "horovod":
        # NOTE: compiling only the per-replica step might work on GPUs, where MirroredStrategy
        # all-reduces without merge_call under XLA. No GPU run has tried it.
        errors.append("--xla cannot compile a step whose replicas run on several devices "
                      "(--num_gpus=%d, --variable_update=%s). Drop --xla."
                      % (flag_values.num_gpus, update or "replicated"))
    if flag_values.horovod_fp16_allreduce and update != "horovod":
        errors.append("--horovod_fp16_allreduce needs --variable_update=horovod.")
    if flag_values.worker_hosts and update != "collective_all_reduce":
        errors.append("--worker_hosts needs --variable_update=collective_all_reduce.")
    if flag_values.worker_hosts:
        num_hosts = len(flag_values.worker_hosts.split(","))
        if flag_values.task_index >= num_hosts:
            errors.append("--task_index=%d is out of range for the %d host(s) in "
                          "--worker_hosts; use 0 to %d."
                          % (flag_values.task_index, num_hosts, num_hosts - 1))
    return errors
