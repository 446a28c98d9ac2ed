"""The JSON file that the converter writes beside the TFRecord shards.

It lets the input pipeline and the runner know the class count, the label numbering and the
number of images per split without reading every record of a 1.28-million-image training set.
"""

import json
import os

# Name of the file inside the shard folder.
DATASET_INFO_FILENAME = "dataset_info.json"

# The standard ImageNet converter numbers synsets 1..N in sorted order and keeps 0 for a
# background class, so a model over 1000 synsets has 1001 logits.
STANDARD_LABEL_BASE = 1

# Shard name patterns of the standard ImageNet TFRecord layout
# (`train-00000-of-01024`, `validation-00000-of-00128`).
SPLIT_FILE_PREFIXES = {"train": "train", "validation": "validation"}


def shard_pattern(split):
    """Return the glob pattern of the shards of `split` ('train' or 'validation')."""
    return SPLIT_FILE_PREFIXES[split] + "-*-of-*"


def shard_filename(split, index, num_shards):
    """Return the standard file name of shard `index` of `num_shards` in `split`."""
    return "%s-%05d-of-%05d" % (SPLIT_FILE_PREFIXES[split], index, num_shards)


def info_path(data_dir):
    return os.path.join(data_dir, DATASET_INFO_FILENAME)


def read_dataset_info(data_dir):
    """Return the converter's dataset info as a dict, or None when the folder has none.

    Raises ValueError naming the file when it exists but is not valid JSON.
    """
    path = info_path(data_dir)
    if not os.path.isfile(path):
        return None

    with open(path, encoding="utf-8") as info_file:
        try:
            return json.load(info_file)
        except json.JSONDecodeError as error:
            raise ValueError(
                "%s is not valid JSON (%s). Delete it and rerun the converter, "
                "or restore it from a backup." % (path, error)) from error


def write_json_atomically(path, value):
    """Write `value` as JSON to `path`, replacing any old file in one rename, so a reader never
    sees a half-written file."""
    temporary_path = path + ".tmp-%d" % os.getpid()
    with open(temporary_path, "w", encoding="utf-8") as json_file:
        json.dump(value, json_file, indent=2, sort_keys=True)
        json_file.write("\n")
    os.replace(temporary_path, path)


def write_dataset_info(data_dir, info):
    """Write `info` as JSON into `data_dir`, replacing any old file in one rename."""
    write_json_atomically(info_path(data_dir), info)


def num_classes_from_info(info):
    """Return the number of logits a model needs for the labels described by `info`."""
    return info["label_base"] + len(info["synsets"])


def num_images_from_info(info, split):
    """Return the number of images recorded for `split`, or None when the file has none."""
    split_info = info.get("splits", {}).get(split)
    if not split_info:
        return None
    return split_info.get("num_images")
