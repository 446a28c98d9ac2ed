"""Write the TFRecord shards of a split, one at a time, each under a temporary name.

The records are tf.train.Example protos with the keys of the standard ImageNet converter.
Worker processes decode the images (data/decode_worker.py) and this process writes the
records in the planned order. A shard is renamed to its final name only when it is
complete, after its result file, so a killed conversion leaves complete shards that a
rerun keeps, and no partial file that matches `train-*-of-*`.
"""

import json
import os
import random
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field

import tensorflow as tf

from data import bounding_boxes
from data import dataset_info
from data import decode_worker
from data.image_files import InvalidInputError

# Warning messages kept per shard as examples; the rest are only counted.
MAX_WARNING_EXAMPLES = 10


@dataclass
class ShardResult:
    """Counts and skipped files of one shard, stored beside it for a resumed run to report."""

    index: int
    num_images: int = 0  # records written
    num_reencoded: int = 0  # records whose JPEG bytes are not the file's own bytes
    skipped: list = field(default_factory=list)  # [path, reason] of undecodable files
    num_warnings: int = 0
    warning_examples: list = field(default_factory=list)  # "path: message"
    boxes: dict = field(default_factory=lambda: bounding_boxes.BoxReport().to_dict())


def temporary_shard_filename(split, index, num_shards):
    """Return the name that shard `index` has while it is written.

    The leading dot hides it, and the `train-*-of-*` pattern of complete shards does not
    match it, so a reader never opens a half-written shard.
    """
    return ".%s.tmp" % dataset_info.shard_filename(split, index, num_shards)


def temporary_shard_pattern(split):
    """Return the glob pattern of the temporary shard names of `split`."""
    return ".%s.tmp" % dataset_info.shard_pattern(split)


def result_filename(split, index, num_shards):
    """Return the name of the JSON file that contains the ShardResult of a finished shard."""
    return ".%s.result.json" % dataset_info.shard_filename(split, index, num_shards)


def result_pattern(split):
    return ".%s.result.json" % dataset_info.shard_pattern(split)


def int64_feature(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def float_feature(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def bytes_feature(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def make_example(image, filename, label, synset, text, boxes=()):
    """Return the tf.train.Example of one image.

    `image` is a jpeg_coding.JpegImage, `label` the stored integer label and `boxes` a
    list of normalized (ymin, xmin, ymax, xmax). Every box gets the image's label, as in
    the standard converter.
    """
    ymin, xmin, ymax, xmax = ([box[corner] for box in boxes] for corner in range(4))
    feature = {
        "image/encoded": bytes_feature([image.data]),
        "image/format": bytes_feature([b"JPEG"]),
        "image/colorspace": bytes_feature([b"RGB"]),
        "image/channels": int64_feature([3]),
        "image/height": int64_feature([image.height]),
        "image/width": int64_feature([image.width]),
        "image/filename": bytes_feature([filename.encode("utf-8")]),
        "image/class/label": int64_feature([label]),
        "image/class/synset": bytes_feature([synset.encode("utf-8")]),
        "image/class/text": bytes_feature([text.encode("utf-8")]),
        "image/object/bbox/xmin": float_feature(xmin),
        "image/object/bbox/ymin": float_feature(ymin),
        "image/object/bbox/xmax": float_feature(xmax),
        "image/object/bbox/ymax": float_feature(ymax),
        "image/object/bbox/label": int64_feature([label] * len(boxes)),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def plan_shards(images, num_shards, seed):
    """Shuffle `images` with `seed` and split them into `num_shards` lists of near-equal size."""
    shuffled = list(images)
    random.Random(seed).shuffle(shuffled)
    bounds = [len(shuffled) * index // num_shards for index in range(num_shards + 1)]
    return [shuffled[bounds[index]:bounds[index + 1]] for index in range(num_shards)]


@dataclass
class SplitWriter:
    """The settings that every shard of one split is written with."""

    output_dir: str
    split: str
    num_shards: int
    folder: object  # image_files.ImageFolder: synsets and names
    label_offset: int
    strict: bool
    xml_index: dict  # image file stem -> bounding-box XML path; empty without boxes

    def temporary_path(self, index):
        return os.path.join(self.output_dir,
                            temporary_shard_filename(self.split, index, self.num_shards))

    def final_path(self, index):
        return os.path.join(self.output_dir,
                            dataset_info.shard_filename(self.split, index, self.num_shards))

    def result_path(self, index):
        return os.path.join(self.output_dir,
                            result_filename(self.split, index, self.num_shards))

    def task_of(self, labeled_image):
        stem = os.path.splitext(os.path.basename(labeled_image.path))[0]
        return decode_worker.DecodeTask(labeled_image.path, self.xml_index.get(stem))

    def record_of(self, decoded, synset_index):
        synset = self.folder.synsets[synset_index]
        example = make_example(decoded.image, os.path.basename(decoded.path),
                               self.label_offset + synset_index, synset,
                               self.folder.names[synset], decoded.boxes)
        # Map keys sorted, so that the same input gives the same bytes in every process.
        return example.SerializeToString(deterministic=True)


def note_decoded(result, decoded, box_report):
    """Add the warnings and boxes of one decoded file to the shard's counts."""
    result.num_warnings += len(decoded.warnings)
    for message in decoded.warnings:
        if len(result.warning_examples) < MAX_WARNING_EXAMPLES:
            result.warning_examples.append("%s: %s" % (decoded.path, message))
    if decoded.box_report is not None:
        box_report.add(decoded.box_report)


def write_shard(writer, index, images, pool, progress):
    """Decode `images`, write shard `index` under its temporary name and return its result.

    Raises InvalidInputError at the first undecodable file when `writer.strict`, after
    deleting the temporary shard.
    """
    result = ShardResult(index)
    box_report = bounding_boxes.BoxReport()
    temporary_path = writer.temporary_path(index)
    tasks = [writer.task_of(labeled_image) for labeled_image in images]

    try:
        with tf.io.TFRecordWriter(temporary_path) as record_writer:
            for labeled_image, decoded in zip(images, pool.decode(tasks)):
                progress.advance()
                note_decoded(result, decoded, box_report)
                if decoded.image is None:
                    if writer.strict:
                        raise InvalidInputError(
                            "%s cannot be decoded (%s). Replace or delete the file, or convert "
                            "without --strict to skip it." % (decoded.path, decoded.skip_reason))
                    result.skipped.append([decoded.path, decoded.skip_reason])
                    continue

                record_writer.write(writer.record_of(decoded, labeled_image.synset_index))
                result.num_images += 1
                result.num_reencoded += int(decoded.image.reencoded)
    except BaseException:
        remove_files([temporary_path])
        raise

    result.boxes = box_report.to_dict()
    return result


def finish_shard(writer, result):
    """Store the result file, then give the shard its final name (an empty shard is deleted).

    The result file is written first, so a shard under its final name always has one.
    """
    save_result(writer.result_path(result.index), result)
    if result.num_images:
        os.replace(writer.temporary_path(result.index), writer.final_path(result.index))
    else:
        os.remove(writer.temporary_path(result.index))


def save_result(path, result):
    temporary_path = path + ".tmp"
    with open(temporary_path, "w", encoding="utf-8") as result_file:
        json.dump(asdict(result), result_file)
    os.replace(temporary_path, path)


def load_result(path):
    """Return the ShardResult stored at `path`, or None when the file is missing or invalid."""
    try:
        with open(path, encoding="utf-8") as result_file:
            return ShardResult(**json.load(result_file))
    except (OSError, ValueError, TypeError):
        return None


def finished_result(writer, index):
    """Return the stored ShardResult when shard `index` was finished by an earlier run."""
    result = load_result(writer.result_path(index))
    if result is None:
        return None
    if result.num_images and not os.path.isfile(writer.final_path(index)):
        return None
    return result


def write_split(writer, shard_images, pool, progress):
    """Write every shard of `shard_images` that an earlier run did not finish.

    Returns the ShardResults of all shards, in shard order.
    """
    results = []
    for index, images in enumerate(shard_images):
        result = finished_result(writer, index)
        if result is not None:
            progress.advance(len(images), resumed=True)
            results.append(result)
            continue

        result = write_shard(writer, index, images, pool, progress)
        finish_shard(writer, result)
        results.append(result)
    return results


def remove_files(paths):
    for path in paths:
        if os.path.exists(path):
            os.remove(path)
