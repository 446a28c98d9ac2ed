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
flags.DEFINE_integer("warmup_batches", 5, "Batches read before the timing starts, to fill "
                     "the prefetch buffers.", lower_bound=0)
flags.DEFINE_float("max_seconds", 300.0, "Time limit of each mode, in seconds.", lower_bound=1.0)
flags.DEFINE_boolean("distort_color", False, "Time training with colour distortion.")
flags.DEFINE_enum("image_dtype", "uint8", ["float32", "uint8"],
                  "Image dtype of the batches: uint8 pixels, which the runner feeds and its "
                  "step scales, or float32 scaled to [-1, 1].")
flags.mark_flag_as_required("data_dir")


def time_batches(dataset, num_batches, warmup_batches, max_seconds):
    """Return (images, seconds) over `num_batches` batches after the warm-up."""
    iterator = iter(dataset)
    for _ in range(warmup_batches):
        next(iterator)

    images = 0
    start = time.perf_counter()
    for _ in range(num_batches):
        _, labels = next(iterator)
        images += int(labels.shape[0])
        if time.perf_counter() - start > max_seconds:
            break
    return images, time.perf_counter() - start


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
        images, seconds = time_batches(dataset, FLAGS.num_batches, FLAGS.warmup_batches,
                                       FLAGS.max_seconds)
        rate = images / seconds
        print("%s preprocessing: %.1f images/sec, %.1f images/sec per core (%d images in "
              "%.1f s)" % (mode, rate, rate / cores, images, seconds))


if __name__ == "__main__":
    app.run(main)
