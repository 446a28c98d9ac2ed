"""Child process of benchmarks.train_throughput: one measurement, printed as one JSON line.

    python -m benchmarks.train_worker --config='{"kind": "ours", "batch_size": 32, ...}'

kind "ours" trains with the runner's own training step, "keras" trains Keras Applications'
InceptionV3 with model.fit, and "matmul" times a square matrix product in the compute dtype.
"""

import json
import time

from benchmarks import common

# Logits of the ImageNet TFRecord layout (1000 synsets and background). The demo shards have
# fewer classes, but their labels fit, and a 1001-way head costs what ImageNet training costs.
IMAGENET_NUM_CLASSES = 1001

SEED = 1234


def set_precision(precision):
    """Set Keras' global dtype policy; variables stay float32 in every mode."""
    import tensorflow as tf

    policy = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}[precision]
    tf.keras.mixed_precision.set_global_policy(policy)


def runner_flag_values(config):
    """Return the runner's FLAGS parsed with its defaults, which are the training recipe
    (RMSProp, label smoothing 0.1, auxiliary loss 0.4, weight decay, clipping, EMA 0.9999)."""
    from tf_cnn_benchmarks import flags as runner_flags

    arguments = ["train_throughput", "--batch_size=%d" % config["batch_size"],
                 "--image_size=%d" % config["image_size"],
                 "--num_classes=%d" % IMAGENET_NUM_CLASSES, "--tf_random_seed=%d" % SEED,
                 "--xla=%s" % ("true" if config["xla"] else "false"),
                 "--use_bf16=%s" % ("true" if config["precision"] == "bf16" else "false"),
                 "--use_fp16=%s" % ("true" if config["precision"] == "fp16" else "false")]
    if config.get("data_dir"):
        arguments.append("--data_dir=%s" % config["data_dir"])
    # A lever's changes to the recipe, such as --noaux_logits.
    arguments += config.get("runner_flags", [])
    runner_flags.FLAGS(arguments)
    return runner_flags.FLAGS


def time_windows(run_one_step, config):
    """Run the warm-up steps, then time `windows` windows of `steps_per_window` steps.

    Returns (list of seconds per window, warm-up seconds). Stops early, after at least one
    window, when max_seconds of measuring have passed.
    """
    warmup_start = time.perf_counter()
    for _ in range(config["warmup_steps"]):
        run_one_step()
    warmup_seconds = time.perf_counter() - warmup_start

    window_seconds = []
    measure_start = time.perf_counter()
    for _ in range(config["windows"]):
        start = time.perf_counter()
        for _ in range(config["steps_per_window"]):
            run_one_step()
        window_seconds.append(time.perf_counter() - start)
        if time.perf_counter() - measure_start > config["max_seconds"]:
            break
    return window_seconds, warmup_seconds


def rates_from_windows(window_seconds, config):
    images_per_window = config["batch_size"] * config["steps_per_window"]
    return [images_per_window / seconds for seconds in window_seconds]


def measure_ours(config):
    """Time the runner's TrainStep, built as tf_cnn_benchmarks' training loop builds it."""
    import tensorflow as tf

    from models import inception_v3
    from models import model_stats
    from tf_cnn_benchmarks import hardware
    from tf_cnn_benchmarks import training_loop
    from tf_cnn_benchmarks.replicas import Replicas

    if config.get("stock_batch_norm"):
        # Builds Keras' own BatchNormalization under Keras 3 as well, to time the fused kernel.
        from models import fused_batch_norm
        fused_batch_norm.KERAS_3 = False
    if config.get("memory_optimizer") is False:
        from tf_cnn_benchmarks import determinism
        determinism.turn_off_memory_optimizer()

    flag_values = runner_flag_values(config)
    # NCHW with a GPU and NHWC without one, the runner's default layout.
    data_format, _ = hardware.resolve_data_format(None, hardware.visible_gpus())
    tf.keras.utils.set_random_seed(SEED)
    model = inception_v3.inception_v3(
        IMAGENET_NUM_CLASSES, aux_logits=flag_values.aux_logits,
        image_size=config["image_size"], data_format=data_format,
        batchnorm_decay=flag_values.batchnorm_decay,
        batchnorm_epsilon=flag_values.batchnorm_epsilon)
    compute_dtype = {"fp32": "float32", "bf16": "bfloat16",
                     "fp16": "float16"}[config["precision"]]
    # NOTE: _Run is the training loop's private state class. It is used so that this
    # benchmark trains exactly what the runner trains: the same optimizer, schedule, EMA,
    # loss terms and dataset. If the training loop is refactored, this call follows it.
    run = training_loop._Run(flag_values, model, IMAGENET_NUM_CLASSES, compute_dtype,
                             Replicas())
    iterator = iter(run.dataset(0))

    def run_one_step():
        images, labels = next(iterator)
        terms = run.train_step(images, labels)
        # Reading the loss waits for the step, as the runner does after every step.
        return float(terms["total_loss"])

    window_seconds, warmup_seconds = time_windows(run_one_step, config)
    return {
        "window_seconds": window_seconds,
        "rates": rates_from_windows(window_seconds, config),
        "warmup_seconds": warmup_seconds,
        "multiply_adds_per_image": model_stats.count_multiply_adds(model),
        "data_format": data_format,
        "recipe": "aux head %s (weight %g), label smoothing %g, EMA decay %g, %s, "
                  "weight decay %g, gradient clip %g" % (
                      "on" if flag_values.aux_logits else "off", flag_values.aux_loss_weight,
                      flag_values.label_smoothing, flag_values.moving_average_decay,
                      flag_values.optimizer, flag_values.weight_decay,
                      flag_values.gradient_clip),
    }


def keras_dataset(config):
    """Return the batches that the runner trains on for the same settings."""
    from data import imagenet_tfrecord

    if config.get("data_dir"):
        return imagenet_tfrecord.training_dataset(config["data_dir"], config["batch_size"],
                                                  config["image_size"], seed=SEED)
    return imagenet_tfrecord.synthetic_dataset(config["batch_size"], config["image_size"],
                                               IMAGENET_NUM_CLASSES, seed=SEED)


class _EpochTimer:
    """Keras callback that records the wall time of every epoch."""

    def __init__(self):
        import tensorflow as tf

        timer = self

        class Callback(tf.keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.seconds.append(time.perf_counter() - timer.start)

        self.start = None
        self.seconds = []
        self.callback = Callback()


def measure_keras(config):
    """Time Keras Applications' InceptionV3 trained with model.fit on the same batches.

    Each epoch is one window of steps_per_window steps, and the first epochs that cover the
    warm-up steps are left out. RMSprop with Keras' defaults, no auxiliary head, no label
    smoothing and no EMA: the plain Keras recipe that users compare against.
    """
    import math

    import tensorflow as tf

    tf.keras.utils.set_random_seed(SEED)
    model = tf.keras.applications.InceptionV3(
        weights=None, input_shape=(config["image_size"], config["image_size"], 3),
        classes=IMAGENET_NUM_CLASSES)
    # jit_compile is set explicitly because Keras 3's "auto" turns XLA off on CPU-only hosts.
    model.compile(optimizer=tf.keras.optimizers.RMSprop(),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(),
                  jit_compile=bool(config["xla"]))

    warmup_epochs = math.ceil(config["warmup_steps"] / config["steps_per_window"])
    timer = _EpochTimer()
    start = time.perf_counter()
    model.fit(keras_dataset(config), epochs=warmup_epochs + config["windows"],
              steps_per_epoch=config["steps_per_window"], verbose=0,
              callbacks=[timer.callback])
    total_seconds = time.perf_counter() - start
    window_seconds = timer.seconds[warmup_epochs:]

    from models import model_stats

    return {
        "window_seconds": window_seconds,
        "rates": rates_from_windows(window_seconds, config),
        "warmup_seconds": sum(timer.seconds[:warmup_epochs]),
        "fit_seconds": total_seconds,
        "multiply_adds_per_image": model_stats.count_multiply_adds(model),
        "recipe": "Keras Applications InceptionV3, model.fit, RMSprop defaults, "
                  "sparse cross entropy, no aux head, no label smoothing, no EMA",
    }


# The matmul's dtype for each --precision: the dtype that the convolutions compute in.
MATMUL_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def measure_matmul(config):
    """Time an [n, n] x [n, n] product in the compute dtype of config["precision"].

    Returns GFLOP/s per repeat (2 n^3 FLOP each) and the dtype's name.
    """
    import tensorflow as tf

    size = config["matmul_size"]
    dtype = MATMUL_DTYPES[config["precision"]]
    left = tf.cast(tf.random.stateless_uniform([size, size], seed=[SEED, 0]), dtype)
    right = tf.cast(tf.random.stateless_uniform([size, size], seed=[SEED, 1]), dtype)
    flops = 2.0 * size ** 3

    @tf.function
    def product():
        return tf.reduce_sum(tf.linalg.matmul(left, right))

    for _ in range(config["matmul_warmup"]):
        product().numpy()
    rates = []
    measure_start = time.perf_counter()
    for _ in range(config["matmul_repeats"]):
        start = time.perf_counter()
        product().numpy()
        rates.append(flops / (time.perf_counter() - start) / 1e9)
        if time.perf_counter() - measure_start > config["max_seconds"]:
            break
    return {"gflops": rates, "dtype": dtype}


MEASUREMENTS = {"ours": measure_ours, "keras": measure_keras, "matmul": measure_matmul}


def main():
    parser = common.argument_parser(__doc__)
    parser.add_argument("--config", required=True, help="JSON object of the settings.")
    config = json.loads(parser.parse_args().config)

    common.configure_threads(config.get("intra_threads"), config.get("inter_threads"))
    if config["kind"] != "matmul":
        set_precision(config["precision"])
    result = MEASUREMENTS[config["kind"]](config)

    import tensorflow as tf

    result["tensorflow_version"] = tf.__version__
    common.emit_result(result)


if __name__ == "__main__":
    main()
