"""tf.data input pipeline over ImageNet TFRecord shards.

The shards follow the standard ImageNet TFRecord layout (`train-00000-of-01024`,
`validation-00000-of-00128`), one `tf.train.Example` per image with the JPEG bytes in
`image/encoded`, the label in `image/class/label` (1..N, 0 is kept for background) and
normalized boxes in `image/object/bbox/{ymin,xmin,ymax,xmax}`. This module finds the shards,
builds the training, evaluation and synthetic datasets, counts records and checks that the
stored labels fit the model's class count. Image preprocessing is in
`data.inception_preprocessing`, and reading with corrupt-record checks in
`data.record_reading`.

Labels come out as stored (1..N with the standard converter, for a model with N + 1
logits), or shifted so that the first synset is `label_offset` (0 for N logits).
"""

import numbers
import os
import re

import numpy as np
import tensorflow as tf
from absl import logging

from data import dataset_info
from data import inception_preprocessing
from data import record_reading

SPLITS = ("train", "validation")

# Records in the training shuffle buffer. At an estimated 110 KB per ImageNet record (about
# 140 GB over 1.28 million images) the buffer uses about 1.1 GB of memory.
DEFAULT_SHUFFLE_BUFFER_SIZE = 10000

# Image type of the runner's training and evaluation batches. model_input scales them in the
# step. Rounding to uint8 moves a pixel by at most half a level (0.5 / 127.5 in [-1, 1]).
RUNNER_IMAGE_DTYPE = tf.uint8

# Shards read at the same time, and the read buffer of each, in bytes.
PARALLEL_READS = record_reading.PARALLEL_READS
READ_BUFFER_BYTES = record_reading.READ_BUFFER_BYTES

SHARD_NAME_PATTERN = re.compile(r".*-(?P<index>\d+)-of-(?P<count>\d+)$")

# Records that check_label_range reads when the folder has no dataset info file: the first
# records of the first training shard and of every validation shard.
LABEL_CHECK_TRAIN_RECORDS = 1000
LABEL_CHECK_RECORDS_PER_VALIDATION_SHARD = 10

CONVERT_HINT = ("Convert ImageNet with `python -m data.build_imagenet_tfrecord` or point "
                "--data_dir at the folder of shards.")

FEATURE_SPEC = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    "image/object/bbox/ymin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/xmin": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/ymax": tf.io.VarLenFeature(tf.float32),
    "image/object/bbox/xmax": tf.io.VarLenFeature(tf.float32),
}

EVAL_FEATURE_SPEC = {key: FEATURE_SPEC[key] for key in ("image/encoded", "image/class/label")}

LABEL_SPEC = {"image/class/label": FEATURE_SPEC["image/class/label"]}


class DataDirError(ValueError):
    """The data folder is missing, is not a folder or has no shards of the requested split."""


class LabelRangeError(ValueError):
    """A stored label does not fit in [0, num_classes)."""


def find_shards(data_dir, split):
    """Return the sorted paths of the shards of `split` ('train' or 'validation') in `data_dir`.

    Raises DataDirError when data_dir does not exist, is not a folder or contains no file
    that matches the split's shard pattern.
    """
    if split not in SPLITS:
        raise ValueError("split must be one of %s, got %r." % (", ".join(SPLITS), split))
    pattern = dataset_info.shard_pattern(split)

    if not tf.io.gfile.exists(data_dir):
        raise DataDirError(
            "--data_dir=%s does not exist, so no files match %s. %s"
            % (data_dir, pattern, CONVERT_HINT))
    if not tf.io.gfile.isdir(data_dir):
        raise DataDirError(
            "--data_dir=%s is a file, not a folder of shards matching %s. %s"
            % (data_dir, pattern, CONVERT_HINT))

    paths = sorted(tf.io.gfile.glob(os.path.join(data_dir, pattern)))
    if not paths:
        raise DataDirError(
            "--data_dir=%s contains no files matching %s. %s" % (data_dir, pattern, CONVERT_HINT))
    check_shards_complete(data_dir, split, paths)
    return paths


def check_shards_complete(data_dir, split, paths):
    """Raise DataDirError when shards named `-NNNNN-of-NNNNN` miss some of 0..n-1 of n.

    A conversion that was killed leaves its finished shards under their final names, and
    training on them would silently use part of the data.
    """
    indices_by_count = {}
    for path in paths:
        match = SHARD_NAME_PATTERN.match(os.path.basename(path))
        if match:
            indices_by_count.setdefault(int(match.group("count")), set()).add(
                int(match.group("index")))

    if len(indices_by_count) > 1:
        raise DataDirError(
            "--data_dir=%s mixes %s shards of different totals %s. Delete the shards of "
            "the older conversion." % (data_dir, split, sorted(indices_by_count)))
    for count, indices in indices_by_count.items():
        missing = sorted(set(range(count)) - indices)
        if missing:
            raise DataDirError(
                "--data_dir=%s lacks %d of the %d %s shards, such as %s, so its conversion "
                "did not finish. Rerun the converter with the same arguments to resume it."
                % (data_dir, len(missing), count, split,
                   dataset_info.shard_filename(split, missing[0], count)))


def check_worker(num_shards, shard_index):
    if num_shards < 1:
        raise ValueError("num_shards must be at least 1, got %d." % num_shards)
    if not 0 <= shard_index < num_shards:
        raise ValueError(
            "shard_index must be in [0, %d), got %d." % (num_shards, shard_index))


def parse_train_record(serialized):
    """Return (JPEG bytes, int32 label, float32 boxes [1, n, 4]) of one serialized Example."""
    features = tf.io.parse_single_example(serialized, FEATURE_SPEC)
    corners = [tf.sparse.to_dense(features["image/object/bbox/" + name])
               for name in ("ymin", "xmin", "ymax", "xmax")]
    bboxes = tf.expand_dims(tf.stack(corners, axis=-1), 0)
    label = tf.cast(features["image/class/label"], tf.int32)
    return features["image/encoded"], label, bboxes


def parse_eval_record(serialized):
    """Return (JPEG bytes, int32 label) of one serialized Example."""
    features = tf.io.parse_single_example(serialized, EVAL_FEATURE_SPEC)
    return features["image/encoded"], tf.cast(features["image/class/label"], tf.int32)


def worker_records(paths, num_shards, shard_index, shuffle_files, seed, skip_corrupt=False,
                   num_parallel_reads=None):
    """Return the serialized records of one worker's part of `paths`.

    See record_reading.worker_records.
    """
    return record_reading.worker_records(paths, num_shards, shard_index, shuffle_files, seed,
                                         skip_corrupt, num_parallel_reads)


def label_shift(data_dir, label_offset):
    """Return the value added to stored labels so that the first synset is `label_offset`.

    None keeps the stored labels. The stored base is the dataset info file's label_base,
    else 1, the standard converter's.
    """
    if label_offset is None:
        return 0
    if label_offset not in (0, 1):
        raise ValueError("label_offset must be 0, 1 or None (labels as stored), got %r."
                         % (label_offset,))
    info = dataset_info.read_dataset_info(data_dir)
    stored_base = dataset_info.STANDARD_LABEL_BASE
    if info is not None and "label_base" in info:
        stored_base = int(info["label_base"])
    return label_offset - stored_base


def warn_if_cache_too_large(paths, num_shards):
    """Log a warning when a worker's share of `paths` will not fit in memory."""
    cache_bytes = sum(record_reading.file_sizes(paths)) / num_shards
    message = record_reading.cache_warning(cache_bytes, record_reading.available_memory_bytes())
    if message:
        logging.warning(message)
    return message


def skip_bad_images(dataset, skip_corrupt_records):
    """Drop elements whose image fails to decode when skip_corrupt_records, with a warning."""
    if not skip_corrupt_records:
        return dataset
    return dataset.ignore_errors(log_warning=True)


def is_count(value):
    """Return whether `value` is an integer (Python or NumPy), and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_setting(name, value, minimum, accepted, meaning):
    """Raise ValueError unless `value` is an integer of at least `minimum` or in `accepted`.

    meaning: the text after "must be", which names the accepted values for the message.
    """
    if any(value is option or (is_count(value) and value == option) for option in accepted):
        return
    if is_count(value) and value >= minimum:
        return
    raise ValueError("%s must be %s, got %r." % (name, meaning, value))


def check_tuning(num_parallel_calls, prefetch_batches, num_private_threads,
                 num_parallel_reads=None):
    """Raise ValueError for a tf.data setting that is neither AUTOTUNE nor an integer in range."""
    check_setting("num_parallel_calls", num_parallel_calls, 1, (tf.data.AUTOTUNE,),
                  "an integer of at least 1 or tf.data.AUTOTUNE (-1)")
    check_setting("prefetch_batches", prefetch_batches, 0, (tf.data.AUTOTUNE,),
                  "an integer of at least 0 or tf.data.AUTOTUNE (-1)")
    check_setting("num_private_threads", num_private_threads, 1, (None,),
                  "an integer of at least 1 or None (the shared tf.data thread pool)")
    check_setting("num_parallel_reads", num_parallel_reads, 0, (None, tf.data.AUTOTUNE),
                  "an integer of at least 0, tf.data.AUTOTUNE (-1) or None (chosen by the "
                  "usable CPU cores)")


def training_records(paths, num_shards, shard_index, worker_seed, use_caching,
                     shuffle_buffer_size, skip_records, skip_corrupt_records,
                     num_parallel_reads=None):
    """Return an endless, shuffled dataset of (serialized record, int64 element seed).

    The element seed is one random int64 per record, from which preprocess_for_train makes
    the record's crop and flip seeds, so with a worker_seed a rerun gets the same pairs.
    skip_records drops the first pairs before anything is decoded.
    """
    records = worker_records(paths, num_shards, shard_index, shuffle_files=True,
                             seed=worker_seed, skip_corrupt=skip_corrupt_records,
                             num_parallel_reads=num_parallel_reads)
    if use_caching:
        warn_if_cache_too_large(paths, num_shards)
        records = records.cache()
    records = records.shuffle(shuffle_buffer_size, seed=worker_seed,
                              reshuffle_each_iteration=True)
    records = records.repeat()

    element_seeds = tf.data.Dataset.random(seed=worker_seed)
    records = tf.data.Dataset.zip((records, element_seeds))

    # A resumed run skips the batches it already trained on before they are decoded: only
    # the serialized records are read again.
    if skip_records:
        records = records.skip(skip_records)
    return records


def batch_and_prefetch(dataset, batch_size, drop_remainder, prefetch_batches,
                       num_private_threads):
    """Batch `dataset`, prefetch `prefetch_batches` batches and set its thread pool.

    prefetch_batches=0 leaves the prefetch out. num_private_threads=None runs the dataset on
    TensorFlow's shared tf.data thread pool.
    """
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch_batches:
        dataset = dataset.prefetch(prefetch_batches)
    if num_private_threads is not None:
        options = tf.data.Options()
        options.threading.private_threadpool_size = num_private_threads
        dataset = dataset.with_options(options)
    return dataset


def training_dataset(data_dir, batch_size, image_size, num_shards=1, shard_index=0, seed=None,
                     use_caching=False, shuffle_buffer_size=DEFAULT_SHUFFLE_BUFFER_SIZE,
                     skip_batches=0, label_offset=None, skip_corrupt_records=False,
                     resize_method=inception_preprocessing.DEFAULT_RESIZE_METHOD,
                     distort_color=False, flip_left_right=True,
                     num_parallel_calls=tf.data.AUTOTUNE, prefetch_batches=tf.data.AUTOTUNE,
                     num_private_threads=None, image_dtype=tf.float32,
                     num_parallel_reads=None):
    """Return an endless, shuffled dataset of (images, labels) batches of the training shards.

    images: float32 [batch_size, image_size, image_size, 3] in [-1, 1], with the Inception
        training crop and (with flip_left_right) the random left-right flip. With
        image_dtype=tf.uint8 they are the resized pixels rounded to uint8 in [0, 255], and
        the model step must scale them with model_input.
    labels: int32 [batch_size] as stored (1..N).
    Worker shard_index of num_shards reads its own part of the records. With a seed, worker
    k shuffles and crops with seed + k, so a rerun gives the same batches. Without one every
    run differs. use_caching keeps the worker's serialized records in memory after the
    first pass, which needs memory for its share of the training set. skip_batches drops
    the first batches without decoding them, so that with the same seed a resumed run
    continues the batch sequence of the interrupted one. use_caching logs a warning when
    the worker's records will not fit in memory. label_offset: None keeps the stored
    labels, 0 or 1 shifts them so that the first synset gets that label.
    skip_corrupt_records skips a corrupt record (and the rest of its shard) or an
    undecodable image with a warning, instead of raising an error that names the shard.
    resize_method: a tf.image.resize method. distort_color adds TF-Slim's random colour
    distortion. flip_left_right=False keeps every crop unmirrored, for data such as digits
    whose mirror images are not valid examples.
    num_parallel_calls: images preprocessed at once, or tf.data.AUTOTUNE.
    prefetch_batches: batches prepared ahead, 0 for none, or tf.data.AUTOTUNE.
    num_private_threads: size of a thread pool of this dataset's own, or None for
        TensorFlow's shared tf.data pool. None of the three changes the batches.
    image_dtype: tf.float32 or tf.uint8, as described for images.
    num_parallel_reads: number of tf.data threads that read shards (tf.data.AUTOTUNE or a
        count), 0 to read them in the thread that requests records, or None to choose by
        the usable CPU cores (record_reading.reading_threads). Up to 10 it does not change
        the batches; a larger count also reads that many shards at once, in another order.
    Raises DataDirError when data_dir has no training shards.
    """
    check_worker(num_shards, shard_index)
    check_tuning(num_parallel_calls, prefetch_batches, num_private_threads, num_parallel_reads)
    inception_preprocessing.check_resize_method(resize_method)
    image_dtype = inception_preprocessing.check_output_dtype(image_dtype)
    paths = find_shards(data_dir, "train")
    shift = label_shift(data_dir, label_offset)
    worker_seed = None if seed is None else seed + shard_index
    deterministic = seed is not None

    records = training_records(paths, num_shards, shard_index, worker_seed, use_caching,
                               shuffle_buffer_size, skip_batches * batch_size,
                               skip_corrupt_records, num_parallel_reads)

    def preprocess(serialized, element_seed):
        image_buffer, label, bboxes = parse_train_record(serialized)
        image = inception_preprocessing.preprocess_for_train(
            image_buffer, bboxes, image_size, seed=tf.stack([element_seed, 0]),
            resize_method=resize_method, distort_color=distort_color,
            flip_left_right=flip_left_right, output_dtype=image_dtype)
        return image, label + shift

    dataset = records.map(preprocess, num_parallel_calls=num_parallel_calls,
                          deterministic=deterministic)
    dataset = skip_bad_images(dataset, skip_corrupt_records)
    return batch_and_prefetch(dataset, batch_size, True, prefetch_batches,
                              num_private_threads)


def evaluation_dataset(data_dir, batch_size, image_size, num_shards=1, shard_index=0,
                       eval_crop_fraction=inception_preprocessing.DEFAULT_EVAL_CROP_FRACTION,
                       label_offset=None, skip_corrupt_records=False,
                       resize_method=inception_preprocessing.DEFAULT_RESIZE_METHOD,
                       num_parallel_calls=tf.data.AUTOTUNE, prefetch_batches=tf.data.AUTOTUNE,
                       num_private_threads=None, image_dtype=tf.float32,
                       num_parallel_reads=None):
    """Return a finite dataset of (images, labels) batches of the validation shards.

    Every validation record appears once across the num_shards workers, in the same order on
    every run. The last batch contains the remainder and may be smaller than batch_size.
    images: float32 [batch, image_size, image_size, 3] in [-1, 1] of the central crop, or
        uint8 in [0, 255] with image_dtype=tf.uint8 as in training_dataset.
    labels: int32 [batch] as stored, or shifted by label_offset as in training_dataset.
    Nothing is padded, so no image counts twice. skip_corrupt_records drops corrupt records
    with a warning, and then fewer than all images are scored. num_parallel_calls,
    prefetch_batches, num_private_threads and num_parallel_reads are as in training_dataset.
    Raises DataDirError when data_dir has no validation shards.
    """
    check_worker(num_shards, shard_index)
    check_tuning(num_parallel_calls, prefetch_batches, num_private_threads, num_parallel_reads)
    if not 0.0 < eval_crop_fraction <= 1.0:
        raise ValueError(
            "eval_crop_fraction must be in (0, 1], got %r." % (eval_crop_fraction,))
    inception_preprocessing.check_resize_method(resize_method)
    image_dtype = inception_preprocessing.check_output_dtype(image_dtype)
    paths = find_shards(data_dir, "validation")
    shift = label_shift(data_dir, label_offset)
    records = worker_records(paths, num_shards, shard_index, shuffle_files=False, seed=None,
                             skip_corrupt=skip_corrupt_records,
                             num_parallel_reads=num_parallel_reads)

    def preprocess(serialized):
        image_buffer, label = parse_eval_record(serialized)
        image = inception_preprocessing.preprocess_for_eval(
            image_buffer, image_size, eval_crop_fraction, resize_method,
            output_dtype=image_dtype)
        return image, label + shift

    dataset = records.map(preprocess, num_parallel_calls=num_parallel_calls,
                          deterministic=True)
    dataset = skip_bad_images(dataset, skip_corrupt_records)
    return batch_and_prefetch(dataset, batch_size, False, prefetch_batches,
                              num_private_threads)


def model_input(images):
    """Return a batch as the model takes it: uint8 pixels scaled to float32 in [-1, 1].

    The runner's datasets deliver uint8 (RUNNER_IMAGE_DTYPE), which batches faster on the CPU
    and copies to a GPU in a quarter of the bytes. Float32 batches pass unchanged.
    """
    if images.dtype == tf.uint8:
        return inception_preprocessing.scale_to_unit_range(images)
    return images


def synthetic_dataset(batch_size, image_size, num_classes, seed=0):
    """Return an endless dataset that repeats one random batch, for runs without --data_dir.

    images: float32 [batch_size, image_size, image_size, 3] uniform in [-1, 1).
    labels: int32 [batch_size] uniform in [1, num_classes), as real labels skip background 0.
    """
    if num_classes < 2:
        raise ValueError(
            "num_classes must be at least 2 because label 0 is background, got %d."
            % num_classes)

    images = tf.random.stateless_uniform(
        [batch_size, image_size, image_size, 3], seed=[seed, 0], minval=-1.0, maxval=1.0)
    labels = tf.random.stateless_uniform(
        [batch_size], seed=[seed, 1], minval=1, maxval=num_classes, dtype=tf.int32)
    return tf.data.Dataset.from_tensors((images, labels)).repeat()


def count_records(paths):
    """Return the number of records in the TFRecord files `paths`, reading each file once."""
    records = tf.data.TFRecordDataset(list(paths), buffer_size=READ_BUFFER_BYTES)
    return int(records.reduce(np.int64(0), lambda count, _: count + 1))


def num_examples(data_dir, split):
    """Return the number of images in `split`, from the dataset info file or else by counting."""
    info = dataset_info.read_dataset_info(data_dir)
    if info is not None:
        count = dataset_info.num_images_from_info(info, split)
        if count is not None:
            return count
    return count_records(find_shards(data_dir, split))


def stored_label_range(path, max_records):
    """Return (max label, min label) of the first `max_records` records of shard `path`.

    Returns None when the shard has no records.
    """
    records = tf.data.TFRecordDataset(path, buffer_size=READ_BUFFER_BYTES).take(max_records)
    labels = records.map(lambda serialized: tf.io.parse_single_example(
        serialized, LABEL_SPEC)["image/class/label"])
    labels = np.fromiter(labels.as_numpy_iterator(), dtype=np.int64)
    if labels.size == 0:
        return None
    return int(labels.max()), int(labels.min())


def label_range_from_info(data_dir, info):
    """Return (max label, min label, source file) from the dataset info file."""
    label_base = int(info["label_base"])
    max_label = label_base + len(info["synsets"]) - 1
    return max_label, label_base, dataset_info.info_path(data_dir)


def label_check_shards(data_dir):
    """Return (path, max records) of the shards that label_range_from_records reads."""
    shards = []
    for split in SPLITS:
        try:
            paths = find_shards(data_dir, split)
        except DataDirError:
            continue
        if split == "train":
            shards.append((paths[0], LABEL_CHECK_TRAIN_RECORDS))
        else:
            shards.extend((path, LABEL_CHECK_RECORDS_PER_VALIDATION_SHARD) for path in paths)

    if not shards:
        # Neither split has shards, so this raises the DataDirError that names the folder.
        find_shards(data_dir, "train")
    return shards


def label_range_from_records(data_dir):
    """Return (max label, min label, source file) of the first records of the shards.

    Reads up to LABEL_CHECK_TRAIN_RECORDS records of the first training shard and
    LABEL_CHECK_RECORDS_PER_VALIDATION_SHARD of every validation shard, so a label that
    appears only later in a shard is not checked. The source file is the shard of the min
    label when that is negative, else the shard of the max label. All three are None when
    the shards are empty.
    """
    max_label, max_source, min_label, min_source = None, None, None, None
    for path, max_records in label_check_shards(data_dir):
        label_range = stored_label_range(path, max_records)
        if label_range is None:
            continue

        if max_label is None or label_range[0] > max_label:
            max_label, max_source = label_range[0], path
        if min_label is None or label_range[1] < min_label:
            min_label, min_source = label_range[1], path

    if min_label is not None and min_label < 0:
        return max_label, min_label, min_source
    return max_label, min_label, max_source


def check_label_range(data_dir, num_classes, label_offset=None):
    """Check that the labels in `data_dir` fit a model with `num_classes` logits.

    Uses the dataset info file when data_dir has one (labels label_base .. label_base +
    len(synsets) - 1), and otherwise the labels of the first records of the shards (see
    label_range_from_records).
    The labels are checked as the pipeline returns them for `label_offset`.
    Raises LabelRangeError naming the label, the file it came from and the --num_classes
    value that fits, and DataDirError when data_dir has neither the file nor any shard.
    """
    info = dataset_info.read_dataset_info(data_dir)
    if info is not None and "synsets" in info and "label_base" in info:
        max_label, min_label, source = label_range_from_info(data_dir, info)
    else:
        max_label, min_label, source = label_range_from_records(data_dir)
    if max_label is None:
        return

    shift = label_shift(data_dir, label_offset)
    max_label, min_label = max_label + shift, min_label + shift

    if min_label < 0:
        raise LabelRangeError(
            "Label %d in %s is negative, but labels must be in [0, --num_classes). The "
            "record has no valid image/class/label, so convert the dataset again."
            % (min_label, source))
    if max_label >= num_classes:
        raise LabelRangeError(
            "Label %d in %s is outside [0, %d) for --num_classes=%d. Set --num_classes=%d "
            "(the max label + 1) or convert the dataset again."
            % (max_label, source, num_classes, num_classes, max_label + 1))
