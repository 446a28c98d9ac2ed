"""Print the training and evaluation preprocessing speed of the input pipeline.

    python -m data.benchmark_pipeline --data_dir=imagenet_tfrecord [--image_size=299]

Reads real JPEG shards through data/imagenet_tfrecord.py and prints images/sec in total and
per CPU core that this process may use. The figures depend on the JPEG sizes (ImageNet
averages about 400 x 350 pixels) and on other load on the machine.
"""

import sys
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Folder of train-*-of-* and validation-*-of-* shards.")
flags.DEFINE_integer("batch_size", 32, "Images per batch.", lower_bound=1)
flags.DEFINE_integer("image_size", 299, "Output height and width in pixels.", lower_bound=8)
flags.DEFINE_integer("num_batches", 40, "Batches timed per mode.", lower_bound=1)
flags.DEFINE_integer("windows", 4, "Equal windows that the timed batches are split into, to "
                     "print the slowest and fastest window's rate.", lower_bound=1)
flags.DEFINE_integer("warmup_batches", 5, "Batches read before the timing starts, to fill "
                     "the prefetch buffers.", lower_bound=0)
flags.DEFINE_float("max_seconds", 300.0, "Time limit of each mode, in seconds.", lower_bound=1.0)
flags.DEFINE_boolean("distort_color", False, "Time training with colour distortion.")
flags.DEFINE_enum("image_dtype", "uint8", ["float32", "uint8"],
                  "Image dtype of the batches: uint8 pixels, which the runner feeds and its "
                  "step scales, or float32 scaled to [-1, 1].")
flags.mark_flag_as_required("data_dir")


def time_batches(dataset, num_batches, warmup_batches, max_seconds, windows=1):
    """Return (images, seconds, window rates) over `num_batches` batches after the warm-up.

    The batches are split into `windows` windows of nearly equal size, and the images/sec
    of each window that finished is listed. Timing stops early after `max_seconds`.
    """
    iterator = iter(dataset)
    for _ in range(warmup_batches):
        next(iterator)

    window_ends = {num_batches * (index + 1) // windows for index in range(windows)}
    window_rates = []
    images = window_images = 0
    start = window_start = time.perf_counter()
    for batch in range(1, num_batches + 1):
        _, labels = next(iterator)
        images += int(labels.shape[0])
        window_images += int(labels.shape[0])
        now = time.perf_counter()
        if batch in window_ends:
            window_rates.append(window_images / (now - window_start))
            window_images, window_start = 0, now
        if now - start > max_seconds:
            break
    return images, time.perf_counter() - start, window_rates


def main(argv):
    del argv
    from data import imagenet_tfrecord
    from data import record_reading

    try:
        train = imagenet_tfrecord.training_dataset(
            FLAGS.data_dir, FLAGS.batch_size, FLAGS.image_size, seed=0,
            distort_color=FLAGS.distort_color, image_dtype=FLAGS.image_dtype)
        evaluation = imagenet_tfrecord.evaluation_dataset(
            FLAGS.data_dir, FLAGS.batch_size, FLAGS.image_size,
            image_dtype=FLAGS.image_dtype).repeat()
    except imagenet_tfrecord.DataDirError as error:
        sys.exit("error: %s" % error)

    cores = record_reading.usable_cores()
    print("data_dir: %s, batch %d, %d x %d pixels, %s images, %d usable CPU core(s)" % (
        FLAGS.data_dir, FLAGS.batch_size, FLAGS.image_size, FLAGS.image_size,
        FLAGS.image_dtype, cores))
    for mode, dataset in (("training", train), ("evaluation", evaluation)):
        images, seconds, window_rates = time_batches(
            dataset, FLAGS.num_batches, FLAGS.warmup_batches, FLAGS.max_seconds,
            FLAGS.windows)
        rate = images / seconds
        spread = ""
        if len(window_rates) > 1:
            spread = "; %d windows from %.1f to %.1f images/sec" % (
                len(window_rates), min(window_rates), max(window_rates))
        print("%s preprocessing: %.1f images/sec, %.1f images/sec per core (%d images in "
              "%.1f s%s)" % (mode, rate, rate / cores, images, seconds, spread))


if __name__ == "__main__":
    app.run(main)
