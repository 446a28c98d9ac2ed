"""Screen cheap speed levers of our training step, one process per setting.

    python -m benchmarks.levers [--image_size=150] [--batch_size=32] [--levers=all]

Each lever changes one setting of the baseline, which trains as the runner does: float32, no
XLA, TensorFlow's default thread pools, TF_ENABLE_ONEDNN_OPTS unset and the BFC allocator.
The baseline runs first and again last, so a drift of the machine's load shows in the table.
The default image size of 150 pixels cuts the step time about 4x against 299 pixels, so a
screen fits in minutes. Confirm a kept lever at 299 pixels with benchmarks.train_throughput.
"""

import sys

from benchmarks import common
from tf_cnn_benchmarks import onednn_math

WORKER = "benchmarks.train_worker"

# name: (description, config changes, environment changes)
LEVERS = {
    "xla": ("XLA (jit_compile) on", {"xla": True}, {}),
    "bf16": ("mixed bfloat16", {"precision": "bf16"}, {}),
    "bf16_xla": ("mixed bfloat16 and XLA", {"precision": "bf16", "xla": True}, {}),
    "threads_2_1": ("intra-op 2, inter-op 1 threads",
                    {"intra_threads": 2, "inter_threads": 1}, {}),
    "threads_1_2": ("intra-op 1, inter-op 2 threads",
                    {"intra_threads": 1, "inter_threads": 2}, {}),
    "onednn_off": ("TF_ENABLE_ONEDNN_OPTS=0", {}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "onednn_on": ("TF_ENABLE_ONEDNN_OPTS=1", {}, {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    # oneDNN may then round the float32 inputs of its convolutions to bfloat16 and keep
    # float32 results. It did so on a CPU with AMX-BF16, and on an AMD EPYC with AVX512_BF16
    # alone the results stayed bitwise float32.
    "fpmath_bf16": ("oneDNN bfloat16 math for float32 (TF_SET_ONEDNN_FPMATH_MODE=BF16)", {},
                    {onednn_math.TENSORFLOW_VARIABLE: "BF16"}),
    "stock_batch_norm": ("Keras' own BatchNormalization (unfused under Keras 3)",
                         {"stock_batch_norm": True}, {}),
    "memory_optimizer_off": ("Grappler's memory optimizer off", {"memory_optimizer": False},
                             {}),
    "default_allocator": ("TensorFlow's default CPU allocator", {},
                          {"TF_CPU_ALLOCATOR_USE_BFC": None}),
    # The recipe's own costs: each turns off one part of the work that Keras' model.fit
    # does not do, to show how much of a gap to Keras the recipe's extra work explains.
    "no_aux_head": ("without the auxiliary head", {"runner_flags": ["--noaux_logits"]}, {}),
    "no_moving_average": ("without the EMA of the weights",
                          {"runner_flags": ["--moving_average_decay=0"]}, {}),
    "no_clipping": ("without gradient clipping", {"runner_flags": ["--gradient_clip=0"]}, {}),
    "keras_recipe": ("Keras' recipe: none of the extras",
                     {"runner_flags": ["--noaux_logits", "--moving_average_decay=0",
                                       "--gradient_clip=0", "--label_smoothing=0",
                                       "--weight_decay=0"]}, {}),
}

# The runner's own set-up (tf_cnn_benchmarks/__main__.py): TensorFlow's BFC pool for CPU
# memory, TF_ENABLE_ONEDNN_OPTS as TensorFlow defaults it, and float32 math in oneDNN.
BASELINE_ENVIRONMENT = dict(onednn_math.strict_environment(), TF_ENABLE_ONEDNN_OPTS=None,
                            TF_CPU_ALLOCATOR_USE_BFC="true")


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--image_size", type=int, default=150,
                        help="Input height and width in pixels (at least 75).")
    parser.add_argument("--batch_size", type=int, default=32, help="Images per step.")
    parser.add_argument("--warmup_steps", type=int, default=3, help="Steps before timing.")
    parser.add_argument("--windows", type=int, default=5, help="Measured one-step windows.")
    parser.add_argument("--levers", default="all",
                        help="Comma-separated names from: %s; or all." % ", ".join(LEVERS))
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="Time limit of each child process, in seconds.")
    parser.add_argument("--json_output", default=None, help="Also write the figures here.")
    arguments = parser.parse_args(argv)
    arguments.levers = common.parse_name_list(parser, arguments.levers, list(LEVERS), "levers")
    common.check_at_least(parser, arguments, ["batch_size", "windows"])
    common.check_at_least(parser, arguments, ["warmup_steps"], minimum=0)
    common.check_json_output(parser, arguments.json_output)
    if arguments.image_size < 75:
        parser.error("--image_size=%d is too small: InceptionV3 needs at least 75 pixels."
                     % arguments.image_size)
    return arguments


def measure(arguments, config_changes, environment_changes):
    config = {"kind": "ours", "batch_size": arguments.batch_size,
              "image_size": arguments.image_size, "precision": "fp32", "xla": False,
              "warmup_steps": arguments.warmup_steps, "windows": arguments.windows,
              "steps_per_window": 1, "intra_threads": 0, "inter_threads": 0,
              "max_seconds": 600.0, "data_dir": None}
    config.update(config_changes)
    environment = dict(BASELINE_ENVIRONMENT)
    environment.update(environment_changes)
    load = common.load_average()
    result = common.run_worker(WORKER, config, arguments.timeout, environment)
    result["load_before"] = load
    result["summary"] = common.summarize(result["rates"])
    return result


def print_row(name, description, result, baseline_median):
    summary = result["summary"]
    change = "" if baseline_median is None else \
        "%+.0f %% vs first baseline" % (100 * (summary["median"] / baseline_median - 1))
    print("%-20s %-34s %7.2f images/sec (min %.2f, max %.2f), warm-up %5.1f s, %5.0f MiB, "
          "load %.2f  %s" % (name, description, summary["median"], summary["min"],
                             summary["max"], result["warmup_seconds"],
                             result["child_peak_memory_mib"], result["load_before"][0],
                             change), flush=True)


def main(argv=None):
    arguments = parse_arguments(argv)
    print("CPU: %s; %s" % (common.cpu_model(), common.format_load()))
    print("levers of our training step: batch %d, %dx%d, synthetic data, %d warm-up step(s), "
          "median of %d steps" % (arguments.batch_size, arguments.image_size,
                                  arguments.image_size, arguments.warmup_steps,
                                  arguments.windows), flush=True)
    report = {"settings": vars(arguments), "cpu": common.cpu_model(), "results": {}}
    plan = [("baseline", "the runner's settings", {}, {})]
    plan += [(name,) + LEVERS[name] for name in arguments.levers]
    plan.append(("baseline_end", "baseline again", {}, {}))

    baseline_median = None
    for name, description, config_changes, environment_changes in plan:
        try:
            result = measure(arguments, config_changes, environment_changes)
        except common.ChildFailed as error:
            print("%-20s %-34s failed: %s" % (name, description, error), flush=True)
            continue
        print_row(name, description, result, baseline_median)
        if baseline_median is None and name == "baseline":
            baseline_median = result["summary"]["median"]
        result["description"] = description
        report["results"][name] = result
        report["tensorflow_version"] = result["tensorflow_version"]
    print("TensorFlow %s; %s at the end" % (report.get("tensorflow_version"),
                                            common.format_load()))

    common.write_json(arguments.json_output, report)
    if "baseline" not in report["results"]:
        sys.exit("error: the baseline run failed, so no lever can be compared.")


if __name__ == "__main__":
    main()
