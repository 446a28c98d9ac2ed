"""tf.data settings of the runner's input pipeline, from tf_cnn_benchmarks' --datasets_* flags.

They change how fast the batches come, not which batches come (see
data.imagenet_tfrecord.training_dataset), except that more than 10 reading threads also read
that many shards at once, in another record order.
"""

import tensorflow as tf

from data import record_reading


def dataset_tuning(flag_values):
    """Return the tuning keyword arguments of imagenet_tfrecord's datasets for these flags."""
    prefetch_batches = flag_values.datasets_prefetch_buffer_size
    if not flag_values.datasets_use_prefetch:
        prefetch_batches = 0
    elif prefetch_batches is None:
        prefetch_batches = tf.data.AUTOTUNE

    return {
        "prefetch_batches": prefetch_batches,
        # tf_cnn_benchmarks uses the shared threads for 0 as well.
        "num_private_threads": flag_values.datasets_num_private_threads or None,
        "num_parallel_reads": flag_values.datasets_parallel_interleave_cycle_length,
    }


def describe(tuning):
    """Return one line that describes how the input pipeline runs, for the start-up log."""
    prefetch_batches = tuning["prefetch_batches"]
    if prefetch_batches == tf.data.AUTOTUNE:
        prefetch = "prefetch autotuned"
    elif prefetch_batches == 0:
        prefetch = "no prefetch"
    else:
        prefetch = "%d batch(es) prefetched" % prefetch_batches

    threads = tuning["num_private_threads"]
    pool = ("shared tf.data thread pool" if threads is None
            else "private pool of %d thread(s)" % threads)

    readers = record_reading.reading_threads(tuning["num_parallel_reads"])
    if readers is None:
        reading = "shards read without threads"
    elif readers == tf.data.AUTOTUNE:
        reading = "shards read by autotuned threads"
    else:
        reading = "shards read by %d thread(s)" % readers
    return "%s, %s, %s" % (prefetch, pool, reading)
