"""Training images/sec of our InceptionV3 recipe, Keras' model.fit and the matmul bound.

    python -m benchmarks.train_throughput [--batch_size=32] [--image_size=299]
        [--precision=fp32|bf16|fp16] [--xla] [--data_dir=SHARDS] [--warmup_steps=3] [--windows=5]

In one run, on the same batches: our training step (tf_cnn_benchmarks' TrainStep with the
auxiliary head, label smoothing and EMA), Keras Applications' InceptionV3 trained with
model.fit, and a 4096 x 4096 matmul in the compute dtype (float32, or bfloat16 or float16
with --precision). The matmul rate divided by the training FLOP per image (3 x forward,
forward = 2 x multiply-adds of the convolutions and dense layers) is the rate that training
would reach if every layer ran as fast as one large matmul.

Each figure is the median over measured windows after the warm-up steps, with min, max and
MAD. Each configuration runs in its own process, whose peak resident memory is printed.
Synthetic data always runs; --data_dir adds real JPEG shards.
"""

import os
import sys

from benchmarks import common
from tf_cnn_benchmarks import onednn_math

WORKER = "benchmarks.train_worker"

# A training step costs about three forward passes: the forward pass itself and the two
# products of the backward pass (gradients of activations and of weights).
TRAINING_TO_FORWARD_FLOP = 3.0


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--batch_size", type=int, default=32, help="Images per step.")
    parser.add_argument("--image_size", type=int, default=299,
                        help="Input height and width in pixels (at least 75).")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                        help="Compute dtype: Keras' float32, mixed_bfloat16 or mixed_float16 "
                             "policy (fp16 with loss scaling, for GPUs).")
    parser.add_argument("--xla", action="store_true",
                        help="Compile both training steps with XLA (jit_compile).")
    parser.add_argument("--data_dir", default=None,
                        help="Folder of TFRecord shards: also time training on real JPEGs.")
    parser.add_argument("--warmup_steps", type=int, default=3,
                        help="Steps before timing starts (tracing, compilation, caches).")
    parser.add_argument("--windows", type=int, default=5, help="Measured windows.")
    parser.add_argument("--steps_per_window", type=int, default=1,
                        help="Training steps in each measured window.")
    parser.add_argument("--skip_keras", action="store_true",
                        help="Leave out Keras' model.fit (and its ratio).")
    parser.add_argument("--matmul_size", type=int, default=4096,
                        help="Rows and columns of the square float32 matrices.")
    parser.add_argument("--matmul_repeats", type=int, default=5,
                        help="Timed matmuls before and after the training runs, each.")
    parser.add_argument("--intra_threads", type=int, default=0,
                        help="TensorFlow intra-op threads; 0 keeps TensorFlow's default.")
    parser.add_argument("--inter_threads", type=int, default=0,
                        help="TensorFlow inter-op threads; 0 keeps TensorFlow's default.")
    parser.add_argument("--onednn", choices=("default", "0", "1"), default="default",
                        help="TF_ENABLE_ONEDNN_OPTS for the children; default leaves the "
                             "environment as it is.")
    parser.add_argument("--onednn_fpmath_mode", choices=("default", "strict", "bf16"),
                        default="default",
                        help="oneDNN's math for float32 in every child (ours, Keras and the "
                             "matmul). bf16 lets it round float32 inputs to bfloat16 "
                             "(TF_SET_ONEDNN_FPMATH_MODE=BF16), strict keeps float32, and "
                             "default leaves the environment as it is.")
    parser.add_argument("--max_seconds", type=float, default=600.0,
                        help="Measuring time limit per configuration, in seconds.")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="Time limit of each child process, in seconds.")
    parser.add_argument("--json_output", default=None,
                        help="Also write every figure to this JSON file.")
    arguments = parser.parse_args(argv)
    if arguments.image_size < 75:
        parser.error("--image_size=%d is too small: InceptionV3 needs at least 75 pixels."
                     % arguments.image_size)
    common.check_at_least(parser, arguments, ["batch_size", "windows", "steps_per_window",
                                              "matmul_size", "matmul_repeats"])
    if arguments.data_dir is not None:
        common.check_shard_folder(parser, arguments.data_dir, ["train"])
    common.check_json_output(parser, arguments.json_output)
    return arguments


def environment_overrides(arguments):
    overrides = {}
    if arguments.onednn != "default":
        overrides["TF_ENABLE_ONEDNN_OPTS"] = arguments.onednn
    if arguments.onednn_fpmath_mode == "bf16":
        overrides[onednn_math.TENSORFLOW_VARIABLE] = "BF16"
    elif arguments.onednn_fpmath_mode == "strict":
        overrides.update(onednn_math.strict_environment())
    return overrides


def children_math(arguments):
    """Return "bf16" or "strict": oneDNN's float32 math in the children's environment."""
    environment = common.child_environment(environment_overrides(arguments))
    return "bf16" if onednn_math.bf16_math(environment) else "strict"


def base_config(arguments):
    return {"batch_size": arguments.batch_size, "image_size": arguments.image_size,
            "precision": arguments.precision, "xla": arguments.xla,
            "warmup_steps": arguments.warmup_steps, "windows": arguments.windows,
            "steps_per_window": arguments.steps_per_window,
            "intra_threads": arguments.intra_threads,
            "inter_threads": arguments.inter_threads, "max_seconds": arguments.max_seconds}


def measure_matmul(arguments):
    config = dict(base_config(arguments), kind="matmul", matmul_size=arguments.matmul_size,
                  matmul_warmup=1, matmul_repeats=arguments.matmul_repeats)
    return common.run_worker(WORKER, config, arguments.timeout,
                             environment_overrides(arguments))


def measure_training(arguments, kind, data_dir):
    config = dict(base_config(arguments), kind=kind, data_dir=data_dir)
    environment = environment_overrides(arguments)
    if kind == "ours":
        # The runner's allocator (tf_cnn_benchmarks/__main__.py sets it unless the environment
        # does). Keras runs with TensorFlow's default, as users run it.
        environment["TF_CPU_ALLOCATOR_USE_BFC"] = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC",
                                                                 "true")
    load = common.load_average()
    result = common.run_worker(WORKER, config, arguments.timeout, environment)
    result["load_before"] = load
    result["summary"] = common.summarize(result["rates"])
    return result


def matmul_bound(gflops, multiply_adds_per_image):
    """Return images/sec at `gflops` when a training step costs 3 forward passes."""
    training_flop = TRAINING_TO_FORWARD_FLOP * 2.0 * multiply_adds_per_image
    return gflops * 1e9 / training_flop


def print_training(label, result):
    print("%-26s %s, peak memory %.0f MiB, warm-up %.1f s, %s before"
          % (label, common.format_rate(result["summary"]), result["child_peak_memory_mib"],
             result["warmup_seconds"], common.format_load(result["load_before"])))


def run_data_source(arguments, source, data_dir, report):
    """Measure ours and Keras on one data source; add the figures to `report`."""
    ours = measure_training(arguments, "ours", data_dir)
    print_training("ours (%s):" % source, ours)
    report["runs"]["ours_" + source] = ours
    if arguments.skip_keras:
        return
    keras = measure_training(arguments, "keras", data_dir)
    print_training("keras model.fit (%s):" % source, keras)
    report["runs"]["keras_" + source] = keras
    ratio = ours["summary"]["median"] / keras["summary"]["median"]
    print("ours / keras model.fit (%s): %.2fx" % (source, ratio))
    report["ratios"]["ours_over_keras_" + source] = ratio


def print_bounds(report, gflops_summary):
    gflops = gflops_summary["median"]
    for name, result in report["runs"].items():
        multiply_adds = result["multiply_adds_per_image"]
        bound = matmul_bound(gflops, multiply_adds)
        fraction = result["summary"]["median"] / bound
        report["ratios"][name + "_fraction_of_matmul_bound"] = fraction
        print("%-26s %.2f G multiply-adds/image forward, %.1f GFLOP/image training, "
              "matmul-bound %.2f images/sec, reached %.0f %%"
              % (name + ":", multiply_adds / 1e9,
                 TRAINING_TO_FORWARD_FLOP * 2 * multiply_adds / 1e9, bound, 100 * fraction))


def main(argv=None):
    arguments = parse_arguments(argv)
    print("CPU: %s, %d cores; %s" % (common.cpu_model(), os.cpu_count() or 1,
                                     common.format_load()))
    print("settings: batch %d, %dx%d, %s, XLA %s, warm-up %d step(s), %d windows of %d step(s), "
          "intra/inter threads %s/%s, TF_ENABLE_ONEDNN_OPTS %s, oneDNN float32 math %s"
          % (arguments.batch_size, arguments.image_size, arguments.image_size,
             arguments.precision, "on" if arguments.xla else "off", arguments.warmup_steps,
             arguments.windows, arguments.steps_per_window, arguments.intra_threads or "default",
             arguments.inter_threads or "default", arguments.onednn,
             children_math(arguments)), flush=True)
    report = {"settings": vars(arguments), "cpu": common.cpu_model(), "runs": {}, "ratios": {}}

    try:
        # The matmul runs before and after the training runs, so that a change of the load
        # on a shared machine shows as a spread of the bound.
        matmul_before = measure_matmul(arguments)
        sources = [("synthetic", None)]
        if arguments.data_dir:
            sources.append(("real JPEG", arguments.data_dir))
        for source, data_dir in sources:
            run_data_source(arguments, source.replace(" ", "_"), data_dir, report)
        matmul_after = measure_matmul(arguments)
    except common.ChildFailed as error:
        sys.exit("error: %s" % error)

    gflops_summary = common.summarize(matmul_before["gflops"] + matmul_after["gflops"])
    report["matmul_gflops"] = gflops_summary
    report["matmul_dtype"] = matmul_before["dtype"]
    report["tensorflow_version"] = matmul_before["tensorflow_version"]
    print("matmul %dx%d %s: %s" % (arguments.matmul_size, arguments.matmul_size,
                                  matmul_before["dtype"],
                                  common.format_rate(gflops_summary, "GFLOP/s")))
    print_bounds(report, gflops_summary)
    print("TensorFlow %s; %s at the end" % (report["tensorflow_version"],
                                            common.format_load()))

    common.write_json(arguments.json_output, report)


if __name__ == "__main__":
    main()
