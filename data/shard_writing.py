"""Write the TFRecord shards of a split, several at a time, under temporary names.

The records are tf.train.Example protos with the keys of the standard ImageNet converter.
"""

import concurrent.futures
import os
import random
import threading
import time
from dataclasses import dataclass
from dataclasses import field

import tensorflow as tf
from absl import logging

from data import dataset_info
from data import jpeg_coding
from data.image_files import InvalidInputError

# Minimum time between two progress lines of one split, in seconds.
PROGRESS_LOG_SECONDS = 30.0


@dataclass
class ShardResult:
    temporary_path: str
    num_images: int = 0  # records written
    num_reencoded: int = 0  # records whose JPEG bytes are not the file's own bytes
    skipped: list = field(default_factory=list)  # (path, reason) of undecodable files


def temporary_shard_filename(split, index, num_shards):
    """Return the name that shard `index` has while it is written.

    The leading dot hides it, and the `train-*-of-*` pattern of complete shards does not
    match it, so a reader never opens a half-written shard.
    """
    return ".%s.tmp" % dataset_info.shard_filename(split, index, num_shards)


def temporary_shard_pattern(split):
    """Return the glob pattern of the temporary shard names of `split`."""
    return ".%s.tmp" % dataset_info.shard_pattern(split)


def int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def make_example(image, filename, synset_index, synsets, names):
    """Return the tf.train.Example of one image.

    `image` is a jpeg_coding.JpegImage and `synset_index` the 0-based index in the sorted
    `synsets`. The bbox lists are empty because bounding boxes are not read.
    """
    synset = synsets[synset_index]
    feature = {
        "image/encoded": bytes_feature([image.data]),
        "image/format": bytes_feature([b"JPEG"]),
        "image/colorspace": bytes_feature([b"RGB"]),
        "image/channels": int64_feature([3]),
        "image/height": int64_feature([image.height]),
        "image/width": int64_feature([image.width]),
        "image/filename": bytes_feature([filename.encode("utf-8")]),
        "image/class/label": int64_feature([dataset_info.STANDARD_LABEL_BASE + synset_index]),
        "image/class/synset": bytes_feature([synset.encode("utf-8")]),
        "image/class/text": bytes_feature([names[synset].encode("utf-8")]),
        "image/object/bbox/xmin": float_feature([]),
        "image/object/bbox/ymin": float_feature([]),
        "image/object/bbox/xmax": float_feature([]),
        "image/object/bbox/ymax": float_feature([]),
        "image/object/bbox/label": int64_feature([]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def write_shard(path, images, folder, strict, stop_event):
    """Decode each image of `images` and write its record to the TFRecord file `path`.

    `folder` is the image_files.ImageFolder that names the synsets. Files that cannot be
    decoded are skipped and listed in the result, or raise UndecodableImageError when
    `strict`. Returns early, with a partial shard, once `stop_event` is set.
    """
    result = ShardResult(path)
    with tf.io.TFRecordWriter(path) as writer:
        for labeled_image in images:
            if stop_event.is_set():
                break

            try:
                image = jpeg_coding.load_as_jpeg(labeled_image.path)
            except jpeg_coding.UndecodableImageError as error:
                if strict:
                    raise
                result.skipped.append((labeled_image.path, error.reason))
                continue

            example = make_example(image, os.path.basename(labeled_image.path),
                                   labeled_image.synset_index, folder.synsets, folder.names)
            writer.write(example.SerializeToString())
            result.num_images += 1
            result.num_reencoded += int(image.reencoded)
    return result


def remove_files(paths):
    for path in paths:
        if os.path.exists(path):
            os.remove(path)


def plan_shards(images, num_shards, seed):
    """Shuffle `images` with `seed` and split them into `num_shards` lists of near-equal size."""
    shuffled = list(images)
    random.Random(seed).shuffle(shuffled)
    bounds = [len(shuffled) * index // num_shards for index in range(num_shards + 1)]
    return [shuffled[bounds[index]:bounds[index + 1]] for index in range(num_shards)]


def write_split(output_dir, split, images, folder, num_shards, num_workers, strict, seed):
    """Write the shards of one split under temporary names and return their ShardResults.

    The shards keep the planned order. Raises InvalidInputError in `strict` mode at the first
    file that cannot be decoded.
    """
    shard_images = plan_shards(images, num_shards, seed)
    paths = [os.path.join(output_dir, temporary_shard_filename(split, index, num_shards))
             for index in range(num_shards)]
    try:
        return write_shards_in_threads(split, paths, shard_images, folder, num_workers, strict)
    except jpeg_coding.UndecodableImageError as error:
        remove_files(paths)
        raise InvalidInputError(
            "%s cannot be decoded (%s). Replace or delete the file, or convert without "
            "--strict to skip it." % (error.path, error.reason)) from error
    except BaseException:
        remove_files(paths)
        raise


def write_shards_in_threads(split, paths, shard_images, folder, num_workers, strict):
    """Write shard `paths[i]` from `shard_images[i]` for every i, `num_workers` at a time."""
    num_shards = len(paths)
    stop_event = threading.Event()
    results = [None] * num_shards
    last_log_time = time.monotonic()

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(num_workers, num_shards)) as pool:
        futures = {pool.submit(write_shard, paths[index], shard_images[index], folder, strict,
                               stop_event): index
                   for index in range(num_shards)}
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if time.monotonic() - last_log_time >= PROGRESS_LOG_SECONDS:
                    last_log_time = time.monotonic()
                    logging.info("%s: wrote %d of %d shards", split, done, num_shards)
        except BaseException:
            # Lets the running shards return early and drops the ones not started.
            stop_event.set()
            pool.shutdown(cancel_futures=True)
            raise
    return results
