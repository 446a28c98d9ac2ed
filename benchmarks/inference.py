"""Forward-only images/sec and latency percentiles of our InceptionV3, by batch size.

    python -m benchmarks.inference [--batch_sizes=1,8,32] [--image_size=299]
        [--precision=fp32|bf16|fp16] [--xla] [--iterations=20]

Times model(images, training=False) on a fixed random batch, without the auxiliary head, as
an exported model runs. Each batch size runs in its own process, so its peak resident memory
is its own. Latency is the wall time of one call that returns the logits on the host.
"""

import argparse
import json
import sys
import time

import numpy as np

from benchmarks import common

SEED = 1234
NUM_CLASSES = 1001

# Keras mixed-precision policy of each --precision value.
POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--batch_sizes", default="1,8,32",
                        help="Comma-separated batch sizes, one process each.")
    parser.add_argument("--image_size", type=int, default=299,
                        help="Input height and width in pixels (at least 75).")
    parser.add_argument("--precision", choices=tuple(POLICIES), default="fp32",
                        help="Compute dtype: Keras' float32, mixed_bfloat16 or mixed_float16 "
                             "policy (fp16 is for GPUs, and slow on CPUs).")
    parser.add_argument("--xla", action="store_true", help="Compile the forward pass with XLA.")
    parser.add_argument("--warmup", type=int, default=3, help="Calls before timing starts.")
    parser.add_argument("--iterations", type=int, default=20, help="Timed calls per batch size.")
    parser.add_argument("--max_seconds", type=float, default=120.0,
                        help="Timing limit per batch size, in seconds (at least one call).")
    parser.add_argument("--intra_threads", type=int, default=0,
                        help="TensorFlow intra-op threads; 0 keeps TensorFlow's default.")
    parser.add_argument("--inter_threads", type=int, default=0,
                        help="TensorFlow inter-op threads; 0 keeps TensorFlow's default.")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="Time limit of each child process, in seconds.")
    parser.add_argument("--json_output", default=None, help="Also write the figures here.")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.config is None:
        try:
            arguments.batch_sizes = [int(size) for size in arguments.batch_sizes.split(",")]
        except ValueError:
            parser.error("--batch_sizes must be integers separated by commas, got %r."
                         % arguments.batch_sizes)
        if min(arguments.batch_sizes) < 1 or arguments.iterations < 1:
            parser.error("batch sizes and --iterations must be at least 1.")
        if arguments.image_size < 75:
            parser.error("--image_size=%d is too small: InceptionV3 needs at least 75 pixels."
                         % arguments.image_size)
        common.check_json_output(parser, arguments.json_output)
    return arguments


def measure(config):
    """Child process: time `iterations` forward passes of one batch size."""
    common.configure_threads(config["intra_threads"], config["inter_threads"])
    import tensorflow as tf

    from models import inception_v3

    tf.keras.mixed_precision.set_global_policy(POLICIES[config["precision"]])
    tf.keras.utils.set_random_seed(SEED)
    model = inception_v3.inception_v3(NUM_CLASSES, aux_logits=False,
                                      image_size=config["image_size"])
    images = tf.random.stateless_uniform(
        [config["batch_size"], config["image_size"], config["image_size"], 3],
        seed=[SEED, 0], minval=-1.0, maxval=1.0)

    @tf.function(jit_compile=config["xla"] or None)
    def forward(batch):
        return model(batch, training=False)

    for _ in range(config["warmup"]):
        forward(images).numpy()
    latencies = []
    measure_start = time.perf_counter()
    for _ in range(config["iterations"]):
        start = time.perf_counter()
        forward(images).numpy()
        latencies.append(time.perf_counter() - start)
        if time.perf_counter() - measure_start > config["max_seconds"]:
            break
    common.emit_result({"latencies": latencies, "tensorflow_version": tf.__version__})


def report_batch(batch_size, result):
    latencies_ms = 1000.0 * np.asarray(result["latencies"])
    p50, p90, p99 = np.percentile(latencies_ms, [50, 90, 99])
    rates = [batch_size / seconds for seconds in result["latencies"]]
    summary = common.summarize(rates)
    print("batch %3d: %s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms over %d calls; "
          "peak memory %.0f MiB; %s before"
          % (batch_size, common.format_rate(summary), p50, p90, p99, len(latencies_ms),
             result["child_peak_memory_mib"], common.format_load(result["load_before"])),
          flush=True)
    return {"images_per_sec": summary, "latency_ms": {"p50": p50, "p90": p90, "p99": p99},
            "calls": len(latencies_ms), "peak_memory_mib": result["child_peak_memory_mib"],
            "load_before": result["load_before"]}


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.config is not None:
        measure(json.loads(arguments.config))
        return

    print("CPU: %s; %s" % (common.cpu_model(), common.format_load()))
    print("settings: %dx%d, %s, XLA %s, warm-up %d calls, up to %d timed calls"
          % (arguments.image_size, arguments.image_size, arguments.precision,
             "on" if arguments.xla else "off", arguments.warmup, arguments.iterations),
          flush=True)
    report = {"settings": vars(arguments), "cpu": common.cpu_model(), "batches": {}}
    for batch_size in arguments.batch_sizes:
        config = {"batch_size": batch_size, "image_size": arguments.image_size,
                  "precision": arguments.precision, "xla": arguments.xla,
                  "warmup": arguments.warmup, "iterations": arguments.iterations,
                  "max_seconds": arguments.max_seconds,
                  "intra_threads": arguments.intra_threads,
                  "inter_threads": arguments.inter_threads}
        load = common.load_average()
        try:
            result = common.run_worker("benchmarks.inference", config, arguments.timeout)
        except common.ChildFailed as error:
            sys.exit("error: %s" % error)
        result["load_before"] = load
        report["tensorflow_version"] = result["tensorflow_version"]
        report["batches"][str(batch_size)] = report_batch(batch_size, result)
    print("TensorFlow %s" % report.get("tensorflow_version"))

    common.write_json(arguments.json_output, report)


if __name__ == "__main__":
    main()
