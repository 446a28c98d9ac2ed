"""Converter and input pipeline speed on a folder of real JPEGs, per CPU core.

    python -m benchmarks.input_pipeline [--work_dir=/tmp/pipeline_benchmark]
        [--shorter_side=350] [--train_per_class=60] [--image_size=299]

1. Builds an ImageNet-layout folder of real photos with data.make_demo_imagenet (crops of
   scikit-image's photos, JPEG quality 90) and prints their mean size in pixels and bytes.
2. Times the converter (data.build_imagenet_tfrecord) with one worker on one core and with
   one worker per core.
3. Times our training and evaluation preprocessing with data.benchmark_pipeline (uint8
   batches and the BFC allocator, as the runner runs it), and a straightforward tf.data pipeline (decode the
   whole JPEG, then crop, float32 batches) on the same shards, on one core and on all cores.
   Each runs in its own process; the one-core runs pin it to CPU 0.
"""

import argparse
import json
import os
import re
import shutil
import sys
import time

import numpy as np

from benchmarks import common

# Lines that data.benchmark_pipeline prints, for example
# "training preprocessing: 310.2 images/sec, 155.1 images/sec per core (1280 images in 4.1 s)".
PIPELINE_LINE = re.compile(r"^(training|evaluation) preprocessing: ([0-9.]+) images/sec, "
                           r"([0-9.]+) images/sec per core")

# The converter's summary line per split, for example
# "train: 600 images in 4 shards, 0 skipped, 0 re-encoded, 114.5 images/sec".
CONVERTER_LINE = re.compile(r"^(train|validation): (\d+) images in .* ([0-9.]+) images/sec")

SEED = 1234


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--work_dir", default="/tmp/pipeline_benchmark",
                        help="Folder for the JPEGs and shards; its raw/ and shards*/ "
                             "subfolders are replaced on each run.")
    parser.add_argument("--shorter_side", type=int, default=350,
                        help="Shorter side of the generated JPEGs, in pixels.")
    parser.add_argument("--train_per_class", type=int, default=60,
                        help="Training JPEGs per class (10 classes).")
    parser.add_argument("--val_per_class", type=int, default=10,
                        help="Validation JPEGs per class (10 classes).")
    parser.add_argument("--image_size", type=int, default=299,
                        help="Output height and width of the preprocessing, in pixels.")
    parser.add_argument("--batch_size", type=int, default=32, help="Images per batch.")
    parser.add_argument("--num_batches", type=int, default=40, help="Batches timed per mode.")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="Time limit of each child process, in seconds.")
    parser.add_argument("--json_output", default=None, help="Also write the figures here.")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)

    if arguments.config is None:
        common.check_at_least(parser, arguments, ["shorter_side", "train_per_class",
                                                  "val_per_class", "image_size", "batch_size",
                                                  "num_batches"])
        common.check_json_output(parser, arguments.json_output)
    return arguments


def describe_jpegs(folder):
    """Return (count, mean width, mean height, mean bytes) of the JPEGs under `folder`."""
    from PIL import Image

    widths, heights, sizes = [], [], []
    for root, _, filenames in os.walk(folder):
        for filename in filenames:
            if not filename.endswith(".JPEG"):
                continue
            path = os.path.join(root, filename)
            with Image.open(path) as image:
                widths.append(image.width)
                heights.append(image.height)
            sizes.append(os.path.getsize(path))
    return len(sizes), float(np.mean(widths)), float(np.mean(heights)), float(np.mean(sizes))


def time_converter(raw_dir, output_dir, num_workers, cpus, timeout):
    """Run the converter; return {wall_seconds, images, rates by split, peak memory}."""
    shutil.rmtree(output_dir, ignore_errors=True)
    command = [sys.executable, "-m", "data.build_imagenet_tfrecord", "--input_dir=" + raw_dir,
               "--output_dir=" + output_dir, "--train_shards=4", "--validation_shards=2",
               "--num_workers=%d" % num_workers]
    start = time.perf_counter()
    exit_code, output, peak_mib = common.run_child(command, timeout, cpus=cpus)
    wall_seconds = time.perf_counter() - start
    if exit_code != 0:
        raise common.ChildFailed("the converter exited with status %d:\n%s"
                                 % (exit_code, output[-2000:]))
    rates = {}
    images = 0
    for line in output.splitlines():
        match = CONVERTER_LINE.match(line.strip())
        if match:
            rates[match.group(1)] = float(match.group(3))
            images += int(match.group(2))
    return {"wall_seconds": wall_seconds, "images": images, "rates": rates,
            "peak_memory_mib": peak_mib}


def time_our_pipeline(shards_dir, arguments, cpus):
    """Run data.benchmark_pipeline; return {mode: (images/sec, per core)} and peak memory."""
    # The runner's batches: uint8 pixels, scaled to [-1, 1] inside the training step.
    command = [sys.executable, "-m", "data.benchmark_pipeline", "--data_dir=" + shards_dir,
               "--image_dtype=uint8", "--image_size=%d" % arguments.image_size,
               "--batch_size=%d" % arguments.batch_size,
               "--num_batches=%d" % arguments.num_batches]
    # The runner's CPU allocator (tf_cnn_benchmarks/__main__.py sets it unless the environment
    # does). The straightforward pipeline runs with TensorFlow's default, as users run it.
    allocator = {"TF_CPU_ALLOCATOR_USE_BFC": os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "true")}
    exit_code, output, peak_mib = common.run_child(command, arguments.timeout,
                                                   env_overrides=allocator, cpus=cpus)
    figures = {}
    for line in output.splitlines():
        match = PIPELINE_LINE.match(line.strip())
        if match:
            figures[match.group(1)] = {"images_per_sec": float(match.group(2)),
                                       "per_core": float(match.group(3))}
    if exit_code != 0 or len(figures) != 2:
        raise common.ChildFailed("data.benchmark_pipeline exited with status %d:\n%s"
                                 % (exit_code, output[-2000:]))
    return {"modes": figures, "peak_memory_mib": peak_mib}


def straightforward_datasets(shards_dir, batch_size, image_size):
    """Return (training, evaluation) datasets that decode each whole JPEG, then crop.

    The crop parameters, flip, bilinear resize and [-1, 1] scaling match
    data/inception_preprocessing.py, so only the decoding strategy differs.
    """
    import tensorflow as tf

    from data import imagenet_tfrecord
    from data import inception_preprocessing as preprocessing

    train_paths = imagenet_tfrecord.find_shards(shards_dir, "train")
    eval_paths = imagenet_tfrecord.find_shards(shards_dir, "validation")

    def train_preprocess(serialized):
        image_buffer, label, bboxes = imagenet_tfrecord.parse_train_record(serialized)
        image = tf.io.decode_jpeg(image_buffer, channels=3)
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image), bounding_boxes=preprocessing.boxes_or_whole_image(bboxes),
            min_object_covered=preprocessing.MIN_OBJECT_COVERED,
            aspect_ratio_range=preprocessing.ASPECT_RATIO_RANGE,
            area_range=preprocessing.AREA_RANGE, max_attempts=preprocessing.MAX_ATTEMPTS,
            use_image_if_no_bounding_boxes=True)
        image = tf.slice(image, begin, size)
        image = tf.image.random_flip_left_right(image)
        image = tf.image.resize(image, [image_size, image_size])
        return image / 127.5 - 1.0, label

    def eval_preprocess(serialized):
        image_buffer, label = imagenet_tfrecord.parse_eval_record(serialized)
        image = tf.io.decode_jpeg(image_buffer, channels=3)
        image = tf.image.central_crop(image, preprocessing.DEFAULT_EVAL_CROP_FRACTION)
        image = tf.image.resize(image, [image_size, image_size])
        return image / 127.5 - 1.0, label

    def build(paths, preprocess, shuffle):
        records = tf.data.TFRecordDataset(paths)
        if shuffle:
            records = records.shuffle(1024, seed=SEED)
        dataset = records.repeat().map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    return (build(train_paths, train_preprocess, True),
            build(eval_paths, eval_preprocess, False))


def measure_straightforward(config):
    """Child process: time the straightforward pipeline with benchmark_pipeline's timer."""
    from data import benchmark_pipeline
    from data import record_reading

    train, evaluation = straightforward_datasets(config["shards_dir"], config["batch_size"],
                                                 config["image_size"])
    cores = record_reading.usable_cores()
    modes = {}
    for mode, dataset in (("training", train), ("evaluation", evaluation)):
        images, seconds, _ = benchmark_pipeline.time_batches(
            dataset, config["num_batches"], warmup_batches=5, max_seconds=300.0)
        modes[mode] = {"images_per_sec": images / seconds, "per_core": images / seconds / cores}
    common.emit_result({"modes": modes})


def time_straightforward(shards_dir, arguments, cpus):
    config = {"shards_dir": shards_dir, "batch_size": arguments.batch_size,
              "image_size": arguments.image_size, "num_batches": arguments.num_batches}
    result = common.run_worker("benchmarks.input_pipeline", config, arguments.timeout,
                               cpus=cpus)
    return {"modes": result["modes"], "peak_memory_mib": result["child_peak_memory_mib"]}


def run_conversions(arguments, raw_dir, report):
    all_cores = os.cpu_count() or 1
    for label, num_workers, cpus in (("1 worker on 1 core", 1, {0}),
                                     ("%d workers on %d cores" % (all_cores, all_cores),
                                      all_cores, None)):
        output_dir = os.path.join(arguments.work_dir, "shards_%d" % num_workers)
        load = common.load_average()
        result = time_converter(raw_dir, output_dir, num_workers, cpus, arguments.timeout)
        result["load_before"] = load
        report["converter"][label] = result
        print("converter, %s: %s images/sec by split (its own count), %d images in %.1f s "
              "wall with start-up, peak memory %.0f MiB; %s before"
              % (label, ", ".join("%s %.1f" % item for item in result["rates"].items()),
                 result["images"], result["wall_seconds"], result["peak_memory_mib"],
                 common.format_load(load)), flush=True)
    return os.path.join(arguments.work_dir, "shards_%d" % all_cores)


def run_pipelines(arguments, shards_dir, report):
    all_cores = os.cpu_count() or 1
    for cores_label, cpus in (("1 core", {0}), ("%d cores" % all_cores, None)):
        for name, measure in (("ours", time_our_pipeline),
                              ("straightforward", time_straightforward)):
            load = common.load_average()
            result = measure(shards_dir, arguments, cpus)
            result["load_before"] = load
            report["pipelines"]["%s, %s" % (name, cores_label)] = result
            for mode, figures in result["modes"].items():
                print("%-16s %-10s %s: %.1f images/sec, %.1f per core, peak memory %.0f MiB; "
                      "%s before" % (name, mode, cores_label, figures["images_per_sec"],
                                     figures["per_core"], result["peak_memory_mib"],
                                     common.format_load(load)), flush=True)
        for mode in ("training", "evaluation"):
            ours = report["pipelines"]["ours, %s" % cores_label]["modes"][mode]
            plain = report["pipelines"]["straightforward, %s" % cores_label]["modes"][mode]
            ratio = ours["per_core"] / plain["per_core"]
            report["ratios"]["%s, %s" % (mode, cores_label)] = ratio
            print("ours / straightforward, %s, %s: %.2fx" % (mode, cores_label, ratio))


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.config is not None:
        measure_straightforward(json.loads(arguments.config))
        return

    from data import make_demo_imagenet

    print("CPU: %s; %s" % (common.cpu_model(), common.format_load()), flush=True)
    raw_dir = os.path.join(arguments.work_dir, "raw")
    shutil.rmtree(raw_dir, ignore_errors=True)
    make_demo_imagenet.make_demo_imagenet(raw_dir, arguments.train_per_class,
                                          arguments.val_per_class, arguments.shorter_side)
    count, width, height, size = describe_jpegs(raw_dir)
    print("JPEGs: %d, mean %.0f x %.0f pixels, mean %.1f KB (quality 90 crops of "
          "scikit-image's photos)" % (count, width, height, size / 1000.0), flush=True)
    report = {"settings": vars(arguments), "cpu": common.cpu_model(),
              "jpegs": {"count": count, "mean_width": width, "mean_height": height,
                        "mean_bytes": size},
              "converter": {}, "pipelines": {}, "ratios": {}}
    try:
        shards_dir = run_conversions(arguments, raw_dir, report)
        run_pipelines(arguments, shards_dir, report)
    except common.ChildFailed as error:
        sys.exit("error: %s" % error)

    common.write_json(arguments.json_output, report)


if __name__ == "__main__":
    main()
