"""Evaluation preprocessing images/sec on one core, for several ways to decode the JPEG.

    python -m benchmarks.decode_levers --data_dir=SHARDS [--variants=all] [--windows=5]

Each variant reads the validation and training shards of --data_dir as evaluation records
(central 87.5 % crop, bilinear resize, scaling to [-1, 1]) in its own process, pinned to CPU 0.
Only the decode step differs:

  ours            data/inception_preprocessing.py: a tf.cond on the format, then
                  decode_and_crop_jpeg of the crop (other formats decode whole)
  crop_only       decode_and_crop_jpeg without the tf.cond
  crop_only_fast  the same with dct_method="INTEGER_FAST" (a faster, less exact inverse DCT)
  whole           decode_jpeg of the whole image, then central_crop
  whole_fast      the same with dct_method="INTEGER_FAST"
"""

import argparse
import json
import sys
import time

from benchmarks import common

VARIANTS = ("ours", "crop_only", "crop_only_fast", "whole", "whole_fast")

EVAL_CROP_FRACTION = 0.875


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--data_dir", default=None,
                        help="Folder of train-* and validation-* TFRecord shards (required).")
    parser.add_argument("--variants", default="all",
                        help="Comma-separated names from: %s; or all." % ", ".join(VARIANTS))
    parser.add_argument("--image_size", type=int, default=299, help="Output size in pixels.")
    parser.add_argument("--batch_size", type=int, default=32, help="Images per batch.")
    parser.add_argument("--warmup_batches", type=int, default=5,
                        help="Batches read before the timing starts.")
    parser.add_argument("--batches_per_window", type=int, default=8,
                        help="Batches in one measured window.")
    parser.add_argument("--windows", type=int, default=5, help="Measured windows per variant.")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="Time limit of each variant's process, in seconds.")
    parser.add_argument("--json_output", default=None, help="Also write the figures here.")
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)

    if arguments.config is None:
        if arguments.data_dir is None:
            parser.error("--data_dir is required: a folder of TFRecord shards, such as "
                         "data.build_imagenet_tfrecord writes.")
        arguments.variants = common.parse_name_list(parser, arguments.variants, VARIANTS,
                                                    "variants")
        common.check_at_least(parser, arguments, ["image_size", "batch_size",
                                                  "batches_per_window", "windows"])
        common.check_at_least(parser, arguments, ["warmup_batches"], minimum=0)
        common.check_shard_folder(parser, arguments.data_dir, ["validation", "train"])
        common.check_json_output(parser, arguments.json_output)
    return arguments


def decode_function(variant):
    """Return decode(image_buffer) -> uint8 [height, width, 3] of the central crop."""
    import tensorflow as tf

    from data import inception_preprocessing as preprocessing

    def crop_window(shape):
        return preprocessing.central_crop_window(shape, EVAL_CROP_FRACTION)

    def decode(image_buffer):
        if variant == "ours":
            return preprocessing.decode_crop(image_buffer, crop_window)
        dct_method = "INTEGER_FAST" if variant.endswith("_fast") else ""
        if variant.startswith("crop_only"):
            window = crop_window(tf.image.extract_jpeg_shape(image_buffer))
            return tf.image.decode_and_crop_jpeg(image_buffer, window, channels=3,
                                                 dct_method=dct_method)
        image = tf.io.decode_jpeg(image_buffer, channels=3, dct_method=dct_method)
        return tf.image.central_crop(image, EVAL_CROP_FRACTION)

    return decode


def measure(config):
    """Child process: time `windows` windows of evaluation batches of one variant."""
    import tensorflow as tf

    from data import imagenet_tfrecord
    from data import inception_preprocessing as preprocessing

    paths = (imagenet_tfrecord.find_shards(config["data_dir"], "validation")
             + imagenet_tfrecord.find_shards(config["data_dir"], "train"))
    decode = decode_function(config["variant"])

    def preprocess(serialized):
        image_buffer, label = imagenet_tfrecord.parse_eval_record(serialized)
        image = preprocessing.resize_and_scale(decode(image_buffer), config["image_size"])
        return image, label

    dataset = tf.data.TFRecordDataset(paths).repeat()
    dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(config["batch_size"]).prefetch(tf.data.AUTOTUNE)
    iterator = iter(dataset)
    for _ in range(config["warmup_batches"]):
        next(iterator)

    rates = []
    for _ in range(config["windows"]):
        start = time.perf_counter()
        for _ in range(config["batches_per_window"]):
            next(iterator)
        seconds = time.perf_counter() - start
        rates.append(config["batches_per_window"] * config["batch_size"] / seconds)
    common.emit_result({"rates": rates, "tensorflow_version": tf.__version__})


def main(argv=None):
    arguments = parse_arguments(argv)
    if arguments.config is not None:
        measure(json.loads(arguments.config))
        return

    print("CPU: %s; %s" % (common.cpu_model(), common.format_load()))
    print("evaluation preprocessing on CPU 0, %dx%d output, batch %d, %d windows of %d batches"
          % (arguments.image_size, arguments.image_size, arguments.batch_size,
             arguments.windows, arguments.batches_per_window), flush=True)
    report = {"settings": vars(arguments), "cpu": common.cpu_model(), "variants": {}}
    for variant in arguments.variants:
        config = {"variant": variant, "data_dir": arguments.data_dir,
                  "image_size": arguments.image_size, "batch_size": arguments.batch_size,
                  "warmup_batches": arguments.warmup_batches,
                  "batches_per_window": arguments.batches_per_window,
                  "windows": arguments.windows}
        load = common.load_average()
        try:
            result = common.run_worker("benchmarks.decode_levers", config, arguments.timeout,
                                       cpus={0})
        except common.ChildFailed as error:
            sys.exit("error: %s" % error)
        summary = common.summarize(result["rates"])
        print("%-15s %s; peak memory %.0f MiB; %s before"
              % (variant, common.format_rate(summary), result["child_peak_memory_mib"],
                 common.format_load(load)), flush=True)
        report["tensorflow_version"] = result["tensorflow_version"]
        report["variants"][variant] = {"images_per_sec": summary, "load_before": load,
                                       "peak_memory_mib": result["child_peak_memory_mib"]}
    print("TensorFlow %s" % report.get("tensorflow_version"))

    common.write_json(arguments.json_output, report)


if __name__ == "__main__":
    main()
