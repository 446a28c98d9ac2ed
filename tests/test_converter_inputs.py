"""Tests of the converter's input layouts, label numbering, boxes, EXIF and record keys."""

import csv
import os
import shutil

import pytest
import tensorflow as tf
from PIL import Image

from data import build_imagenet_tfrecord
from data.image_files import InvalidInputError
from tests import shard_helpers

pytestmark = pytest.mark.keras3


def convert(input_dir, output_dir, **options):
    options.setdefault("num_workers", 1)
    return build_imagenet_tfrecord.convert(str(input_dir), str(output_dir), **options)


def examples_by_filename(output_dir, split="train"):
    examples = shard_helpers.read_examples(shard_helpers.shard_paths(str(output_dir), split))
    return {shard_helpers.feature_values(example, "image/filename")[0].decode(): example
            for example in examples}


@pytest.fixture()
def small_input(demo_imagenet_dir, tmp_path):
    """3 classes with 2 training and 2 validation images each, and the demo names file."""
    return shard_helpers.make_small_input(tmp_path / "input", demo_imagenet_dir, 3, 2,
                                          with_val=True)


def build_kaggle(root, demo_dir):
    """Lay 3 demo classes out as the Kaggle download, with a flat val/ and its CSV file."""
    synsets = sorted(os.listdir(os.path.join(demo_dir, "train")))[:3]
    data_dir = os.path.join(root, "ILSVRC", "Data", "CLS-LOC")
    val_rows = []
    for synset in synsets:
        shutil.copytree(os.path.join(demo_dir, "train", synset),
                        os.path.join(data_dir, "train", synset))
        os.makedirs(os.path.join(data_dir, "val"), exist_ok=True)
        for name in sorted(os.listdir(os.path.join(demo_dir, "val", synset))):
            image_id = "ILSVRC2012_val_%08d" % (len(val_rows) + 1)
            shutil.copy(os.path.join(demo_dir, "val", synset, name),
                        os.path.join(data_dir, "val", image_id + ".JPEG"))
            val_rows.append([image_id, "%s 10 20 100 120 %s 5 5 50 50 " % (synset, synset)])

    with open(os.path.join(root, "LOC_val_solution.csv"), "w", newline="") as csv_file:
        writer = csv.writer(csv_file)
        writer.writerow(["ImageId", "PredictionString"])
        writer.writerows(val_rows)
    with open(os.path.join(root, "LOC_synset_mapping.txt"), "w") as mapping:
        mapping.writelines("%s name of %s\n" % (synset, synset) for synset in synsets)
    return str(root), synsets, val_rows


@pytest.fixture()
def kaggle_input(demo_imagenet_dir, tmp_path):
    return build_kaggle(tmp_path / "kaggle", demo_imagenet_dir)


def test_kaggle_counts(kaggle_input, tmp_path):
    input_dir, _, val_rows = kaggle_input
    info = convert(input_dir, tmp_path / "out", train_shards=2, validation_shards=2)
    assert info["splits"]["train"]["num_images"] == 24
    assert info["splits"]["validation"]["num_images"] == len(val_rows)


def test_kaggle_val_labels(kaggle_input, tmp_path):
    input_dir, synsets, val_rows = kaggle_input
    convert(input_dir, tmp_path / "out", train_shards=1, validation_shards=1)
    examples = examples_by_filename(tmp_path / "out", "validation")
    for image_id, prediction in val_rows:
        synset = prediction.split()[0]
        example = examples[image_id + ".JPEG"]
        assert shard_helpers.feature_values(example, "image/class/label") == [
            1 + synsets.index(synset)]


def test_kaggle_names_from_mapping(kaggle_input, tmp_path):
    input_dir, synsets, _ = kaggle_input
    info = convert(input_dir, tmp_path / "out", train_shards=1, validation_shards=1)
    assert info["names"] == {synset: "name of " + synset for synset in synsets}


def test_kaggle_image_without_row(kaggle_input, tmp_path):
    input_dir, _, _ = kaggle_input
    extra = os.path.join(input_dir, "ILSVRC", "Data", "CLS-LOC", "val", "extra.JPEG")
    shutil.copy(extra.replace("extra", "ILSVRC2012_val_00000001"), extra)
    with pytest.raises(InvalidInputError, match="have no row in .*extra.JPEG"):
        convert(input_dir, tmp_path / "out")
    assert not os.path.exists(tmp_path / "out")


def test_kaggle_row_without_image(kaggle_input, tmp_path):
    input_dir, _, _ = kaggle_input
    os.remove(os.path.join(input_dir, "ILSVRC", "Data", "CLS-LOC", "val",
                           "ILSVRC2012_val_00000002.JPEG"))
    with pytest.raises(InvalidInputError, match="ILSVRC2012_val_00000002"):
        convert(input_dir, tmp_path / "out")
    assert not os.path.exists(tmp_path / "out")


def test_synsets_file_sets_labels(small_input, shared_imagenet_dir, tmp_path):
    synsets_file = os.path.join(shared_imagenet_dir, "imagenet_lsvrc_2015_synsets.txt")
    with open(synsets_file) as synsets_text:
        all_synsets = synsets_text.read().split()

    info = convert(small_input, tmp_path / "out", synsets_file=synsets_file)
    assert info["synsets"] == all_synsets
    for example in examples_by_filename(tmp_path / "out").values():
        synset = shard_helpers.feature_values(example, "image/class/synset")[0].decode()
        label = shard_helpers.feature_values(example, "image/class/label")[0]
        assert label == 1 + all_synsets.index(synset)


def test_synsets_file_missing_folder(small_input, tmp_path):
    synsets_file = tmp_path / "synsets.txt"
    synsets_file.write_text("n00000001\n")
    with pytest.raises(InvalidInputError, match="not in the synsets file"):
        convert(small_input, tmp_path / "out", synsets_file=str(synsets_file))


def test_label_offset_zero(small_input, tmp_path):
    info = convert(small_input, tmp_path / "out", label_offset=0)
    assert info["label_base"] == 0
    labels = sorted({shard_helpers.feature_values(example, "image/class/label")[0]
                     for example in examples_by_filename(tmp_path / "out").values()})
    assert labels == [0, 1, 2]


def test_label_offset_invalid(small_input, tmp_path):
    with pytest.raises(InvalidInputError, match="label_offset must be 1 .* or 0"):
        convert(small_input, tmp_path / "out", label_offset=2)


def write_train_list(input_dir, label_of_index):
    """Write train_list.txt with label_of_index(0-based sorted index) for each image."""
    synsets = sorted(os.listdir(os.path.join(input_dir, "train")))
    lines = []
    for index, synset in enumerate(synsets):
        for name in sorted(os.listdir(os.path.join(input_dir, "train", synset))):
            lines.append("train/%s/%s %d\n" % (synset, name, label_of_index(index)))
    with open(os.path.join(input_dir, "train_list.txt"), "w") as list_file:
        list_file.writelines(lines)


def test_other_numbering_rejected(small_input, tmp_path):
    # A numbering that is not sorted-synset order, as the devkit's ids are: reversed.
    write_train_list(small_input, lambda index: 2 - index)
    with pytest.raises(InvalidInputError) as raised:
        convert(small_input, tmp_path / "out")
    assert "another numbering" in str(raised.value)
    assert "ILSVRC devkit" in str(raised.value)
    assert not os.path.exists(tmp_path / "out")


def test_one_based_labels_rejected(small_input, tmp_path):
    write_train_list(small_input, lambda index: index + 1)
    with pytest.raises(InvalidInputError, match="line 1: label 1 is synset"):
        convert(small_input, tmp_path / "out")


def test_sorted_numbering_accepted(small_input, tmp_path):
    write_train_list(small_input, lambda index: index)
    info = convert(small_input, tmp_path / "out")
    assert info["splits"]["train"]["num_images"] == 6


def test_empty_val_class_rejected(small_input, tmp_path):
    val_dir = os.path.join(small_input, "val")
    shutil.rmtree(val_dir)
    os.makedirs(os.path.join(val_dir, sorted(os.listdir(os.path.join(small_input,
                                                                     "train")))[0]))
    with pytest.raises(InvalidInputError, match="no validation images found"):
        convert(small_input, tmp_path / "out")
    assert not os.path.exists(tmp_path / "out")


def test_records_match_standard_keys(small_input, tmp_path):
    convert(small_input, tmp_path / "out", validation_shards=2)
    synsets = sorted(os.listdir(os.path.join(small_input, "train")))
    with open(os.path.join(small_input, "synset_names.txt")) as names_file:
        names = dict(line.rstrip("\n").split("\t") for line in names_file)

    for split, folder in (("train", "train"), ("validation", "val")):
        written = examples_by_filename(tmp_path / "out", split)
        assert len(written) == 6
        for synset in synsets:
            for name in os.listdir(os.path.join(small_input, folder, synset)):
                path = os.path.join(small_input, folder, synset, name)
                expected = standard_example(path, 1 + synsets.index(synset), synset,
                                            names[synset])
                assert written[name] == expected, name


def standard_example(path, label, synset, text):
    """Build the record of one RGB JPEG from the standard keys with plain proto code."""
    with open(path, "rb") as image_file:
        encoded = image_file.read()
    width, height = Image.open(path).size

    def strings(*values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))

    def integers(*values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    empty_floats = tf.train.Feature(float_list=tf.train.FloatList(value=[]))
    feature = {
        "image/encoded": strings(encoded), "image/format": strings(b"JPEG"),
        "image/colorspace": strings(b"RGB"), "image/channels": integers(3),
        "image/height": integers(height), "image/width": integers(width),
        "image/filename": strings(os.path.basename(path).encode()),
        "image/class/label": integers(label), "image/class/synset": strings(synset.encode()),
        "image/class/text": strings(text.encode()),
        "image/object/bbox/xmin": empty_floats, "image/object/bbox/ymin": empty_floats,
        "image/object/bbox/xmax": empty_floats, "image/object/bbox/ymax": empty_floats,
        "image/object/bbox/label": integers(),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature))


def save_with_exif(source, destination, exif_bytes):
    Image.open(source).save(destination, format="JPEG", quality=90, exif=exif_bytes)


def test_exif_orientation_ignored(small_input, tmp_path):
    class_dir = os.path.join(small_input, "train", sorted(os.listdir(os.path.join(
        small_input, "train")))[0])
    source = os.path.join(class_dir, sorted(os.listdir(class_dir))[0])
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display.
    save_with_exif(source, os.path.join(class_dir, "rotated.JPEG"), exif.tobytes())
    width, height = Image.open(source).size

    convert(small_input, tmp_path / "out")
    example = examples_by_filename(tmp_path / "out")["rotated.JPEG"]
    assert shard_helpers.feature_values(example, "image/height") == [height]
    assert shard_helpers.feature_values(example, "image/width") == [width]


def test_bad_exif_converted(small_input, tmp_path):
    class_dir = os.path.join(small_input, "train", sorted(os.listdir(os.path.join(
        small_input, "train")))[0])
    source = os.path.join(class_dir, sorted(os.listdir(class_dir))[0])
    save_with_exif(source, os.path.join(class_dir, "bad_exif.JPEG"),
                   b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage")

    info = convert(small_input, tmp_path / "out", strict=True)
    assert info["splits"]["train"]["num_images"] == 7
    assert "bad_exif.JPEG" in examples_by_filename(tmp_path / "out")
