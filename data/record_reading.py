"""Read serialized records from TFRecord shards and stop or skip at a corrupt record.

tf.data.TFRecordDataset raises DataLossError at a record whose CRC does not match or that
is cut short, without naming the file, and a shard cut inside a record header ends early
without any error. So each shard is read with its errors ignored, which makes
TFRecordDataset move on to the next file (checked with TensorFlow 2.15 and 2.21), and
the bytes read are compared with the file size at the end of the shard. A shortfall
raises an error that names the shard, or, with skip_corrupt, logs a warning and counts it.
"""

import os
import re
import threading

import tensorflow as tf
from absl import logging

# Shards read at the same time, and the read buffer of each, in bytes.
PARALLEL_READS = 10
READ_BUFFER_BYTES = 8 * 1024 * 1024

# Bytes that TFRecord adds to each record: an 8-byte length, its 4-byte CRC and the
# data's 4-byte CRC.
RECORD_OVERHEAD_BYTES = 16

# Records counted together. The checks then run once per group instead of once per record,
# which took about 55 us per record on one core of a 2-core AMD EPYC. Each shard read at
# once buffers one group: about 7 MB at ImageNet's 110 KB per record.
COUNT_GROUP_SIZE = 64

VERIFY_COMMAND = ("Run `python -m data.build_imagenet_tfrecord --verify --output_dir=<shard "
                  "folder>` to list the damaged records and convert those images again")
CORRUPT_SHARD_TEXT = "Corrupt or truncated record in shard"
VERIFY_HINT = (VERIFY_COMMAND + ", or pass --skip_corrupt_records (skip_corrupt_records=True "
               "in the Python API) to skip the rest of a damaged shard.")


class CorruptShardCounter:
    """Thread-safe count of the shards whose rest was skipped at a corrupt record.

    Each shard is reported once, although every later pass over it (each training epoch,
    the second evaluation pass) skips its rest again.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._paths = set()

    @property
    def count(self):
        with self._lock:
            return len(self._paths)

    def report(self, path, num_records, num_bytes, file_size):
        path = path.decode()
        with self._lock:
            first_report = path not in self._paths
            self._paths.add(path)
            count = len(self._paths)
        if not first_report:
            return
        verify_command = VERIFY_COMMAND.replace("<shard folder>", os.path.dirname(path))
        logging.warning(
            "Skipped the rest of shard %s after %d records (byte %d of %d) because a record "
            "is corrupt or truncated; %d shard(s) skipped so far, each reported once. %s.",
            path, num_records, num_bytes, file_size, count, verify_command)


corrupt_shards = CorruptShardCounter()


def report_corrupt(path, num_records, num_bytes, file_size):
    corrupt_shards.report(path.numpy(), int(num_records), int(num_bytes), int(file_size))
    return True


def count_bytes(state, element):
    """scan() step that adds up the bytes and records read up to each group of records."""
    num_bytes, num_records = state
    records, is_end = element
    sizes = tf.cast(tf.strings.length(records), tf.int64) + RECORD_OVERHEAD_BYTES
    state = (num_bytes + tf.reduce_sum(sizes),
             num_records + tf.size(records, out_type=tf.int64))
    return state, (records, is_end, state[0], state[1])


def shard_records(path, file_size, skip_corrupt):
    """Return the serialized records of one shard, ending in an error at a corrupt record.

    path, file_size: scalar string and int64 tensors. With skip_corrupt the records before
    the corrupt one are kept and the rest of the shard is skipped with a warning.
    """
    records = tf.data.TFRecordDataset(path, buffer_size=READ_BUFFER_BYTES).ignore_errors()
    groups = records.batch(COUNT_GROUP_SIZE)
    marked = groups.map(lambda group: (group, tf.constant(False)))
    # An empty group marks the end of the shard, where the byte count is checked.
    end_marker = tf.data.Dataset.from_tensors((tf.constant([], tf.string), tf.constant(True)))
    counted = marked.concatenate(end_marker).scan(
        (tf.constant(0, tf.int64), tf.constant(0, tf.int64)), count_bytes)

    def check_end(group, is_end, num_bytes, num_records):
        complete = tf.logical_or(tf.logical_not(is_end), tf.equal(num_bytes, file_size))
        if skip_corrupt:
            reported = tf.cond(complete, lambda: tf.constant(True), lambda: tf.py_function(
                report_corrupt, [path, num_records, num_bytes, file_size], tf.bool))
            with tf.control_dependencies([reported]):
                return tf.identity(group), is_end

        message = tf.strings.format(
            CORRUPT_SHARD_TEXT + " {} after {} good records (byte {} of {}). " + VERIFY_HINT,
            (path, num_records, num_bytes, file_size))
        assertion = tf.debugging.Assert(complete, [message], summarize=1)
        with tf.control_dependencies([assertion]):
            return tf.identity(group), is_end

    checked = counted.map(check_end)
    return checked.filter(lambda group, is_end: tf.logical_not(is_end)).map(
        lambda group, is_end: group).unbatch()


# The text around the reason of a TensorFlow op's error: "{{function_node NAME}}" before it,
# " [Op:NAME] name: ..." after it.
FUNCTION_NODE_PREFIX = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
OP_SUFFIX = re.compile(r"\s*\[Op:[^\]]*\].*$")


def tensorflow_reason(error_text):
    """Return the first line of a TensorFlow error's text without the op names around it."""
    first_line = FUNCTION_NODE_PREFIX.sub("", error_text.strip()).splitlines()[0]
    return OP_SUFFIX.sub("", first_line).strip()


def corrupt_shard_message(error_text):
    """Return the corrupt-shard message inside a TensorFlow error's text, or None.

    The message reaches the caller inside the text of the failed tf.debugging.Assert, after
    TensorFlow's iterator names and with the quotes around the path escaped.
    """
    start = error_text.find(CORRUPT_SHARD_TEXT)
    end = error_text.find(VERIFY_HINT, start)
    if start < 0 or end < 0:
        return None
    return error_text[start:end + len(VERIFY_HINT)].replace('\\"', '"')


def file_sizes(paths):
    return [tf.io.gfile.stat(path).length for path in paths]


def usable_cores():
    """Return the number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def reading_threads(num_parallel_reads):
    """Return the interleave's num_parallel_calls for a num_parallel_reads setting.

    None chooses by the usable cores. Reading threads hide the storage latency where there
    are cores to spare. On a single core they take time from the preprocessing and hold
    records read ahead. There the runner's training pipeline read a median 3 % more
    images/sec without them in 8 paired runs (-2 % to +11 %), with 240-640 MiB less peak
    memory (AMD EPYC, docs/BENCHMARKS.md). On two cores the difference was within the noise.
    0 reads in the thread that requests the records, in the same record order as the
    threaded reads.
    NOTE: that the threads pay off on many-core servers and networked storage is assumed
    from their purpose, not measured: only 2-core machines with local disks were available.
    """
    if num_parallel_reads is None:
        num_parallel_reads = tf.data.AUTOTUNE if usable_cores() > 1 else 0
    return num_parallel_reads or None


def shards_read_at_once(threads):
    """Return the interleave's cycle_length for `threads` reading threads (None: no threads).

    tf.data rejects more threads than shards read at once, so a count above
    PARALLEL_READS also reads that many shards at once. Where a worker has more shards than
    PARALLEL_READS, that changes the record order, which is otherwise the same for every
    count.
    """
    if threads is None or threads == tf.data.AUTOTUNE:
        return PARALLEL_READS
    return max(PARALLEL_READS, threads)


def read_records(paths, sizes, deterministic, skip_corrupt, shuffle_files=False, seed=None,
                 num_parallel_reads=None):
    """Interleave the checked records of the shards `paths` (with their byte `sizes`).

    shuffle_files: shuffle the file order with `seed` (None: unseeded).
    num_parallel_reads: see reading_threads.
    """
    files = tf.data.Dataset.from_tensor_slices(
        (tf.constant(paths), tf.constant(sizes, dtype=tf.int64)))
    if shuffle_files:
        files = files.shuffle(len(paths), seed=seed)
    threads = reading_threads(num_parallel_reads)
    # Without threads the order is fixed, and tf.data warns when `deterministic` is given.
    order = {} if threads is None else {"deterministic": deterministic}
    return files.interleave(
        lambda path, size: shard_records(path, size, skip_corrupt),
        cycle_length=shards_read_at_once(threads), num_parallel_calls=threads, **order)


def worker_records(paths, num_shards, shard_index, shuffle_files, seed, skip_corrupt=False,
                   num_parallel_reads=None):
    """Return the serialized records of one worker's part of `paths`.

    With at least one file per worker each worker reads whole files. With fewer files every
    worker reads all files in the same order and keeps every num_shards-th record, so the
    workers still split the records without overlap.
    """
    if len(paths) >= num_shards:
        own_paths = paths[shard_index::num_shards]
        return read_records(own_paths, file_sizes(own_paths),
                            deterministic=not shuffle_files or seed is not None,
                            skip_corrupt=skip_corrupt, shuffle_files=shuffle_files, seed=seed,
                            num_parallel_reads=num_parallel_reads)

    records = read_records(paths, file_sizes(paths), deterministic=True,
                           skip_corrupt=skip_corrupt, num_parallel_reads=num_parallel_reads)
    return records.shard(num_shards, shard_index)


def available_memory_bytes():
    """Return MemAvailable from /proc/meminfo, or the physical memory where it is missing."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cache_warning(cache_bytes, available_bytes):
    """Return a warning when `cache_bytes` of records will not fit, else None.

    Half the available memory is the limit, because the shuffle buffer, the prefetched
    batches and the model need memory too.
    """
    if available_bytes is None or cache_bytes <= available_bytes / 2:
        return None
    return ("--datasets_use_caching keeps this worker's %.1f GB of serialized records in "
            "memory, but only %.1f GB is available, so the run may be killed for lack of "
            "memory. Turn caching off, or use more workers so each caches less."
            % (cache_bytes / 1e9, available_bytes / 1e9))
