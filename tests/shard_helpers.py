"""Helpers that the converter and pipeline tests share: small inputs, records, damage."""

import fnmatch
import os
import shutil

import tensorflow as tf

from data import dataset_info


def shard_paths(output_dir, split):
    names = fnmatch.filter(os.listdir(output_dir), dataset_info.shard_pattern(split))
    return [os.path.join(output_dir, name) for name in sorted(names)]


def read_examples(paths):
    """Return the tf.train.Example of every record of the TFRecord files `paths`."""
    examples = []
    for path in paths:
        for serialized in tf.data.TFRecordDataset(path):
            examples.append(tf.train.Example.FromString(serialized.numpy()))
    return examples


def feature_values(example, key):
    feature = example.features.feature[key]
    kind = feature.WhichOneof("kind")
    return list(getattr(feature, kind).value) if kind else []


def make_small_input(root, demo_dir, num_classes, images_per_class, with_val=False):
    """Copy the first images of the first demo classes to `root/train/` (and `root/val/`)."""
    splits = ("train", "val") if with_val else ("train",)
    for split in splits:
        for synset in sorted(os.listdir(os.path.join(demo_dir, "train")))[:num_classes]:
            source_dir = os.path.join(demo_dir, split, synset)
            os.makedirs(os.path.join(root, split, synset))
            for name in sorted(os.listdir(source_dir))[:images_per_class]:
                shutil.copy(os.path.join(source_dir, name), os.path.join(root, split, synset))
    shutil.copy(os.path.join(demo_dir, "synset_names.txt"), root)
    return str(root)


def record_offsets(path):
    """Return the byte offset of each record of a TFRecord file, and the file size."""
    offsets = []
    with open(path, "rb") as shard:
        data = shard.read()
    position = 0
    while position < len(data):
        offsets.append(position)
        length = int.from_bytes(data[position:position + 8], "little")
        position += 16 + length
    return offsets, len(data)


def flip_bit(path, record_index):
    """Flip one bit in the data of record `record_index`, so its CRC no longer matches."""
    offsets, _ = record_offsets(path)
    with open(path, "r+b") as shard:
        shard.seek(offsets[record_index] + 12 + 100)
        byte = shard.read(1)[0]
        shard.seek(-1, os.SEEK_CUR)
        shard.write(bytes([byte ^ 0x10]))


def cut_shard(path, record_index, extra_bytes):
    """Truncate the file `extra_bytes` after the start of record `record_index`."""
    offsets, _ = record_offsets(path)
    with open(path, "r+b") as shard:
        shard.truncate(offsets[record_index] + extra_bytes)


def replace_image(path, record_index, encoded):
    """Rewrite the shard with `encoded` as the image bytes of record `record_index`."""
    records = [record.numpy() for record in tf.data.TFRecordDataset(path)]
    example = tf.train.Example.FromString(records[record_index])
    example.features.feature["image/encoded"].bytes_list.value[0] = encoded
    records[record_index] = example.SerializeToString()
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)
