"""Input pipeline levers: images/sec on CPU 0 for tf.data settings and preprocessing variants.

    python -m benchmarks.pipeline_levers --data_dir=SHARDS [--variants=all]
        [--modes=training,evaluation] [--image_size=299] [--windows=7]

Each variant runs in its own process pinned to CPU 0 and reads the training shards
(training mode: Inception crop and flip, seed 0) or the validation shards, repeated
(evaluation mode: central 87.5 % crop) of --data_dir. A figure is the median of
--windows windows of --batches_per_window batches, with min, max and MAD.

  ours                data/imagenet_tfrecord.py's datasets with their defaults: tf.data
                      AUTOTUNE map parallelism and prefetch depth, shared thread pool
  straightforward     benchmarks/input_pipeline.py's reference pipeline: decode_jpeg of the
                      whole image, then crop, flip, resize and scale
  private_threadpool  ours with a private tf.data thread pool of one thread per usable core
  parallel_1          ours with num_parallel_calls=1 instead of AUTOTUNE
  parallel_2          ours with num_parallel_calls=2
  prefetch_0          ours without the prefetch after the batch
  prefetch_1          ours prefetching 1 batch instead of AUTOTUNE
  prefetch_4          ours prefetching 4 batches
  whole_decode        ours, but decode_jpeg of the whole image, then slice the same crop
  dct_ratio           ours, but decode at 1/2, 1/4 or 1/8 scale (JPEG DCT scaling) when the
                      crop's shorter side is at least 2, 4 or 8 times --image_size. This
                      changes the pixels, so it is a lever only.
  uint8_output        ours with image_dtype=tf.uint8: the resized image is rounded to uint8
                      and not scaled, so a batch is 4x smaller and the model step must
                      cast and scale it
  bfc_allocator       ours in a process with TF_CPU_ALLOCATOR_USE_BFC=true, which keeps
                      freed CPU memory in TensorFlow's pool (a 299 x 299 float32 batch of
                      32 is 34 MB, above glibc's largest mmap threshold of 32 MB, so by
                      default every batch is mapped and page-faulted anew)
  straightforward_bfc straightforward with TF_CPU_ALLOCATOR_USE_BFC=true
  runner              what the runner feeds: uint8_output in a process with the BFC allocator
  threaded_reads      ours reading the shards from tf.data threads (num_parallel_reads=
                      AUTOTUNE), which ours leaves out on a single usable core
  unthreaded_reads    ours reading the shards in the thread that requests the records
                      (num_parallel_reads=0), which ours does on a single usable core
  runner_threaded_reads
                      runner with threaded_reads
  stage_parse ... stage_scale
                      training mode only: ours stopped after one stage, for a profile of
                      the per-image time (see STAGES)
"""

import argparse
import json
import sys
import time

from benchmarks import common
from benchmarks import pipeline_variants

VARIANTS = (("ours", "straightforward", "private_threadpool", "parallel_1", "parallel_2",
            "prefetch_0", "prefetch_1", "prefetch_4", "whole_decode", "dct_ratio",
            "uint8_output", "bfc_allocator", "straightforward_bfc", "runner", "threaded_reads",
            "unthreaded_reads", "runner_threaded_reads")
            + pipeline_variants.STAGE_VARIANTS)

MODES = ("training", "evaluation")


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--data_dir", default=None,
                        help="Folder of train-* and validation-* TFRecord shards (required).")
    parser.add_argument("--variants", default="all",
                        help="Comma-separated names from: %s; or all." % ", ".join(VARIANTS))
    parser.add_argument("--modes", default="training,evaluation",
                        help="Comma-separated modes from: %s; or all." % ", ".join(MODES))
    parser.add_argument("--image_size", type=int, default=299,
                        help="Output height and width in pixels.")
    parser.add_argument("--batch_size", type=int, default=32, help="Images per batch.")
    parser.add_argument("--warmup_batches", type=int, default=5,
                        help="Batches read before the timing starts.")
    parser.add_argument("--batches_per_window", type=int, default=8,
                        help="Batches in one measured window.")
    parser.add_argument("--windows", type=int, default=7,
                        help="Measured windows per variant and mode.")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="Time limit of each variant's process, in seconds.")
    parser.add_argument("--json_output", default=None, help="Also write the figures here.")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)

    if arguments.config is None:
        check_arguments(parser, arguments)
    return arguments


def check_arguments(parser, arguments):
    """Call parser.error (exit status 2) for a missing folder or an invalid number or name."""
    if arguments.data_dir is None:
        parser.error("--data_dir is required: a folder of TFRecord shards, such as "
                     "data.build_imagenet_tfrecord writes.")
    common.check_at_least(parser, arguments, ["image_size", "batch_size", "batches_per_window",
                                              "windows"])
    common.check_at_least(parser, arguments, ["warmup_batches"], minimum=0)
    arguments.variants = common.parse_name_list(parser, arguments.variants, VARIANTS,
                                                "variants")
    arguments.modes = common.parse_name_list(parser, arguments.modes, MODES, "modes")
    splits = {"training": "train", "evaluation": "validation"}
    common.check_shard_folder(parser, arguments.data_dir,
                              [splits[mode] for mode in arguments.modes])
    common.check_json_output(parser, arguments.json_output)


def cpu_busy_fraction(cpu, seconds=1.0):
    """Return the fraction of `seconds` that CPU `cpu` spent outside idle and I/O wait.

    Reads /proc/stat (Linux) before and after a sleep, so it shows whether other processes
    use the CPU that the measurement is pinned to. Returns None where /proc/stat is missing.
    """
    def cpu_times():
        with open("/proc/stat", encoding="ascii") as stat:
            for line in stat:
                fields = line.split()
                if fields[0] == "cpu%d" % cpu:
                    values = [int(value) for value in fields[1:]]
                    return sum(values), values[3] + values[4]
        return None

    try:
        before = cpu_times()
        time.sleep(seconds)
        after = cpu_times()
    except OSError:
        return None
    if before is None or after is None or after[0] == before[0]:
        return None
    total, idle = after[0] - before[0], after[1] - before[1]
    return 1.0 - idle / total


def time_windows(dataset, config):
    """Return the images/sec of each measured window after the warm-up batches."""
    iterator = iter(dataset)
    for _ in range(config["warmup_batches"]):
        next(iterator)

    rates = []
    for _ in range(config["windows"]):
        images = 0
        start = time.perf_counter()
        for _ in range(config["batches_per_window"]):
            _, labels = next(iterator)
            images += int(labels.shape[0])
        rates.append(images / (time.perf_counter() - start))
    return rates


def measure(config):
    """Child process: time one variant in one mode and print the result line."""
    import tensorflow as tf

    dataset = pipeline_variants.build_dataset(config["variant"], config["mode"], config)
    rates = time_windows(dataset, config)
    common.emit_result({"rates": rates, "tensorflow_version": tf.__version__})


def run_variant(arguments, variant, mode):
    """Run one variant in its own process on CPU 0; return its report entry."""
    config = {"variant": variant, "mode": mode, "data_dir": arguments.data_dir,
              "image_size": arguments.image_size, "batch_size": arguments.batch_size,
              "warmup_batches": arguments.warmup_batches,
              "batches_per_window": arguments.batches_per_window,
              "windows": arguments.windows}
    load = common.load_average()
    busy = cpu_busy_fraction(0)
    env_overrides = pipeline_variants.ENV_VARIANTS.get(variant, (None, None))[1]
    result = common.run_worker("benchmarks.pipeline_levers", config, arguments.timeout,
                               env_overrides=env_overrides, cpus={0})
    summary = common.summarize(result["rates"])
    busy_text = "unknown" if busy is None else "%.0f %%" % (100.0 * busy)
    print("%-21s %-10s %s; peak memory %.0f MiB; CPU 0 busy %s and %s before"
          % (variant, mode, common.format_rate(summary), result["child_peak_memory_mib"],
             busy_text, common.format_load(load)), flush=True)
    return {"images_per_sec": summary, "window_rates": result["rates"],
            "load_before": load, "cpu0_busy_before": busy,
            "peak_memory_mib": result["child_peak_memory_mib"],
            "tensorflow_version": result["tensorflow_version"]}


def print_ratios(report):
    """Print each variant's median relative to the baseline's in the same mode.

    The baseline is ours where it ran, else the first variant of the mode.
    """
    for mode, variants in report["modes"].items():
        if not variants:
            continue
        baseline = "ours" if "ours" in variants else next(iter(variants))
        report["baselines"][mode] = baseline
        baseline_rate = variants[baseline]["images_per_sec"]["median"]
        for variant, entry in variants.items():
            ratio = entry["images_per_sec"]["median"] / baseline_rate
            entry["vs_baseline"] = ratio
            print("%-21s %-10s %.2fx %s" % (variant, mode, ratio, baseline))


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.config is not None:
        measure(json.loads(arguments.config))
        return

    print("CPU: %s; %s" % (common.cpu_model(), common.format_load()))
    print("pipelines on CPU 0, %dx%d output, batch %d, %d windows of %d batches"
          % (arguments.image_size, arguments.image_size, arguments.batch_size,
             arguments.windows, arguments.batches_per_window), flush=True)
    settings = {name: value for name, value in vars(arguments).items() if name != "config"}
    report = {"settings": settings, "cpu": common.cpu_model(), "modes": {}, "baselines": {}}
    for mode in arguments.modes:
        report["modes"][mode] = {}
        for variant in arguments.variants:
            if not pipeline_variants.supports(variant, mode):
                continue
            try:
                entry = run_variant(arguments, variant, mode)
            except common.ChildFailed as error:
                sys.exit("error: %s" % error)
            report["tensorflow_version"] = entry.pop("tensorflow_version")
            report["modes"][mode][variant] = entry
    print_ratios(report)
    print("TensorFlow %s" % report.get("tensorflow_version"))

    common.write_json(arguments.json_output, report)


if __name__ == "__main__":
    main()
