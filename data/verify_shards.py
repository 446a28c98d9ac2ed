"""Re-read the shards of a folder and report every problem with its shard and record index.

    python -m data.build_imagenet_tfrecord --verify --output_dir=DIR

Every record must have intact CRCs, parse as a tf.train.Example, decode to 3 channels and
have a label within the synsets of dataset_info.json. The shard names must be complete
(0..n-1 of n), and the record counts must match the file.
"""

import concurrent.futures
import fnmatch
import os
import re

import tensorflow as tf
from google.protobuf.message import DecodeError

from data import dataset_info
from data import record_reading

SPLITS = ("train", "validation")

SHARD_NAME_PATTERN = re.compile(r"(?P<prefix>[a-z]+)-(?P<index>\d+)-of-(?P<count>\d+)$")


def list_shards(data_dir, split):
    names = fnmatch.filter(os.listdir(data_dir), dataset_info.shard_pattern(split))
    return [os.path.join(data_dir, name) for name in sorted(names)]


def check_shard_names(split, paths):
    """Return problems with the set of shard names: gaps, duplicates or mixed totals."""
    matches = [SHARD_NAME_PATTERN.match(os.path.basename(path)) for path in paths]
    if not all(matches):
        return ["%s: a shard name is not <split>-NNNNN-of-NNNNN" % split]

    totals = {int(match.group("count")) for match in matches}
    if len(totals) != 1:
        return ["%s: shards of different totals %s are mixed" % (split, sorted(totals))]

    total = totals.pop()
    missing = sorted(set(range(total)) - {int(match.group("index")) for match in matches})
    if missing:
        return ["%s: %d of %d shards are missing, such as %s" % (
            split, len(missing), total, dataset_info.shard_filename(split, missing[0], total))]
    return []


def check_record(serialized, label_range):
    """Return the problem of one serialized record, or None when it is sound."""
    try:
        example = tf.train.Example.FromString(serialized)
    except DecodeError as error:
        return "does not parse as tf.train.Example (%s)" % error

    feature = example.features.feature
    encoded = feature["image/encoded"].bytes_list.value if "image/encoded" in feature else []
    labels = feature["image/class/label"].int64_list.value \
        if "image/class/label" in feature else []
    if len(encoded) != 1:
        return "has %d image/encoded values, expected 1" % len(encoded)
    if len(labels) != 1:
        return "has %d image/class/label values, expected 1" % len(labels)
    if label_range is not None and not label_range[0] <= labels[0] < label_range[1]:
        return "label %d is outside [%d, %d)" % (labels[0], *label_range)

    try:
        image = tf.io.decode_image(encoded[0], channels=0, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        return "image does not decode (%s)" % error.message.splitlines()[0]
    if image.shape[-1] != 3:
        return "image decodes to %d channels, expected 3" % image.shape[-1]
    return None


def verify_shard(path, label_range, expected_count=None):
    """Return (number of records read, [problem], whether the whole file was read).

    expected_count: the shard's records in dataset_info.json, named in the problem of a
    shard that cannot be read to its end.
    """
    problems = []
    count = 0
    iterator = iter(tf.data.TFRecordDataset(path))
    while True:
        try:
            serialized = next(iterator)
        except StopIteration:
            break
        except tf.errors.DataLossError as error:
            lost = ""
            if expected_count is not None:
                lost = ", so %d of its %d records are lost" % (expected_count - count,
                                                              expected_count)
            problems.append("%s record %d: corrupt or truncated (%s); the rest of the shard "
                            "cannot be read%s" % (path, count,
                                                  record_reading.tensorflow_reason(error.message),
                                                  lost))
            return count, problems, False

        problem = check_record(serialized.numpy(), label_range)
        if problem is not None:
            problems.append("%s record %d: %s" % (path, count, problem))
        count += 1
    return count, problems, True


def expected_counts(info, split):
    split_info = (info or {}).get("splits", {}).get(split) or {}
    return split_info.get("images_per_shard")


def verify_split(data_dir, split, info, label_range, num_threads):
    """Return (records read, [problem]) of every shard of `split`."""
    paths = list_shards(data_dir, split)
    problems = check_shard_names(split, paths) if paths else []
    counts_expected = expected_counts(info, split)
    if counts_expected and len(counts_expected) != len(paths):
        problems.append("%s: %d shards found, dataset_info.json lists %d" % (
            split, len(paths), len(counts_expected)))

    def expected_count(index):
        if counts_expected and index < len(counts_expected):
            return counts_expected[index]
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=num_threads) as pool:
        outcomes = list(pool.map(
            lambda index: verify_shard(paths[index], label_range, expected_count(index)),
            range(len(paths))))

    total = 0
    for index, (count, shard_problems, complete) in enumerate(outcomes):
        total += count
        problems += shard_problems
        # Only a shard read to its end gets this problem: a cut one's problem names what is lost.
        expected = expected_count(index)
        if complete and expected is not None and count != expected:
            problems.append("%s: %d records, dataset_info.json lists %d" % (
                paths[index], count, expected))
    return total, problems


def count_text(count, noun):
    """Return "1 problem" or "2 problems": the count with the noun in its number."""
    return "%d %s%s" % (count, noun, "" if count == 1 else "s")


def verify(data_dir, num_threads=None):
    """Return (summary lines, problem lines) for the shards in `data_dir`."""
    if not os.path.isdir(data_dir):
        return [], ["%s is not a folder of shards" % data_dir]

    info = dataset_info.read_dataset_info(data_dir)
    label_range = None
    problems, lines = [], []
    if info is None:
        lines.append("%s not found, so labels and counts are not checked"
                     % dataset_info.info_path(data_dir))
    else:
        label_range = (info["label_base"], info["label_base"] + len(info["synsets"]))

    num_threads = num_threads or os.cpu_count() or 1
    for split in SPLITS:
        count, split_problems = verify_split(data_dir, split, info, label_range, num_threads)
        problems += split_problems
        lines.append("%s: %d records read, %s" % (split, count,
                                                    count_text(len(split_problems), "problem")))
    if not any(list_shards(data_dir, split) for split in SPLITS):
        problems.append("%s contains no train-*-of-* or validation-*-of-* shards" % data_dir)
    return lines, problems
