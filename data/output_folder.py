"""Prepare, resume, publish and roll back the converter's output folder.

A conversion writes a hidden state file first, with a fingerprint of everything that
decides the shards' content (the planned image lists, labels, boxes and options). A rerun
with the same fingerprint keeps the shards that the earlier run finished and writes the
rest. `--overwrite` moves the files of an earlier, complete conversion into a hidden
folder, which is deleted when the new conversion is complete and moved back when it
stops with an input error.
"""

import glob
import hashlib
import json
import os
import shutil

from absl import logging

from data import dataset_info
from data import shard_writing
from data.image_files import InvalidInputError

SPLITS = ("train", "validation")

STATE_FILENAME = ".build_imagenet_tfrecord.state.json"
PREVIOUS_DIRNAME = ".previous_conversion"


def fingerprint(plan):
    """Return a hex digest of the JSON-serializable `plan`."""
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def matching_files(output_dir, patterns):
    folder = glob.escape(output_dir)
    paths = []
    for pattern in patterns:
        paths += sorted(glob.glob(os.path.join(folder, pattern)))
    return paths


def final_outputs(output_dir):
    """Return the shards and dataset info file of `output_dir`."""
    paths = matching_files(output_dir, [dataset_info.shard_pattern(split) for split in SPLITS])
    if os.path.exists(dataset_info.info_path(output_dir)):
        paths.append(dataset_info.info_path(output_dir))
    return paths


def working_files(output_dir):
    """Return the temporary shards and result files of `output_dir`."""
    patterns = []
    for split in SPLITS:
        patterns += [shard_writing.temporary_shard_pattern(split),
                     shard_writing.result_pattern(split)]
    return matching_files(output_dir, patterns)


def read_state(output_dir):
    path = os.path.join(output_dir, STATE_FILENAME)
    try:
        with open(path, encoding="utf-8") as state_file:
            return json.load(state_file)
    except (OSError, ValueError):
        return None


def write_state(output_dir, plan_fingerprint, arguments):
    path = os.path.join(output_dir, STATE_FILENAME)
    with open(path + ".tmp", "w", encoding="utf-8") as state_file:
        json.dump({"fingerprint": plan_fingerprint, "arguments": arguments}, state_file,
                  indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def check_output_dir(output_dir, plan_fingerprint, overwrite):
    """Return True when `output_dir` contains an unfinished run of the same plan, to resume.

    Raises InvalidInputError, before anything is written, when the folder has finished
    shards or an unfinished run of another plan and `overwrite` is False.
    """
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InvalidInputError(
            "--output_dir %s is a file, not a folder. Choose another path." % output_dir)
    if not os.path.isdir(output_dir):
        return False

    state = read_state(output_dir)
    if state is not None and state.get("fingerprint") == plan_fingerprint and not overwrite:
        return True
    if state is not None and not overwrite:
        raise InvalidInputError(
            "%s contains an unfinished conversion with other input or options (see %s). "
            "Rerun it with the same input and options to resume it, or pass --overwrite to "
            "start over." % (output_dir, STATE_FILENAME))

    old_outputs = final_outputs(output_dir)
    if state is None and old_outputs and not overwrite:
        raise InvalidInputError(
            "%s already contains %d shard or dataset info files, such as %s. Choose another "
            "--output_dir, delete them, or pass --overwrite to replace them." % (
                output_dir, len(old_outputs), os.path.basename(old_outputs[0])))
    return False


def start(output_dir, plan_fingerprint, arguments, resume, overwrite):
    """Make `output_dir` ready to receive shards and record the plan in the state file."""
    os.makedirs(output_dir, exist_ok=True)
    if resume:
        logging.info("Resuming the unfinished conversion in %s", output_dir)
    elif read_state(output_dir) is not None:
        # --overwrite of an unfinished run: its shards were never complete output.
        logging.info("Deleting the unfinished conversion in %s (--overwrite)", output_dir)
        shard_writing.remove_files(final_outputs(output_dir))
    elif overwrite:
        move_aside(output_dir, final_outputs(output_dir))

    shard_writing.remove_files(matching_files(
        output_dir, [shard_writing.temporary_shard_pattern(split) for split in SPLITS]))
    if not resume:
        shard_writing.remove_files(working_files(output_dir))
    write_state(output_dir, plan_fingerprint, arguments)


def move_aside(output_dir, paths):
    if not paths:
        return
    previous_dir = os.path.join(output_dir, PREVIOUS_DIRNAME)
    os.makedirs(previous_dir, exist_ok=True)
    for path in paths:
        os.replace(path, os.path.join(previous_dir, os.path.basename(path)))


def renumber_shards(output_dir, split, results):
    """Rename the non-empty shards of `split` so they are numbered 0..n-1 of n.

    Returns their sizes in the new order. Empty shards never got a final name.
    NOTE: a kill during these renames leaves shards of two totals, which find_shards
    rejects; rerun with --overwrite then.
    """
    num_planned = len(results)
    nonempty = [result for result in results if result.num_images]
    for new_index, result in enumerate(nonempty):
        old_name = dataset_info.shard_filename(split, result.index, num_planned)
        new_name = dataset_info.shard_filename(split, new_index, len(nonempty))
        if old_name != new_name:
            os.replace(os.path.join(output_dir, old_name), os.path.join(output_dir, new_name))
    return [result.num_images for result in nonempty]


def publish(output_dir, info):
    """Write dataset_info.json and delete the state, result files and replaced outputs."""
    dataset_info.write_dataset_info(output_dir, info)
    shard_writing.remove_files(working_files(output_dir))
    shard_writing.remove_files([os.path.join(output_dir, STATE_FILENAME)])
    shutil.rmtree(os.path.join(output_dir, PREVIOUS_DIRNAME), ignore_errors=True)


def roll_back(output_dir, created_output_dir):
    """Delete what this conversion wrote and move back the outputs it was to replace."""
    shard_writing.remove_files(final_outputs(output_dir) + working_files(output_dir))
    shard_writing.remove_files([os.path.join(output_dir, STATE_FILENAME)])

    previous_dir = os.path.join(output_dir, PREVIOUS_DIRNAME)
    if os.path.isdir(previous_dir):
        for name in os.listdir(previous_dir):
            os.replace(os.path.join(previous_dir, name), os.path.join(output_dir, name))
        os.rmdir(previous_dir)
    if created_output_dir and not os.listdir(output_dir):
        os.rmdir(output_dir)
