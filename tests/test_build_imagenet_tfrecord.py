"""Tests of the ImageNet TFRecord converter on real photos from the demo folder."""

import fnmatch
import os
import shutil
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import build_imagenet_tfrecord
from data import dataset_info
from data import shard_writing
from data.image_files import InvalidInputError

pytestmark = pytest.mark.keras3

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Files added to the first class of the variant folder, each made from a demo photo.
DECODABLE_VARIANTS = ("png_named.JPEG", "gray.JPEG", "cmyk.JPEG", "rgba.png", "gray16.png",
                      "palette.png")
UNDECODABLE_VARIANTS = ("empty.JPEG", "truncated.JPEG")


def read_records(shard_paths):
    """Return every record of the TFRecord files as {feature key: list of values}."""
    records = []
    for path in shard_paths:
        for serialized in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(serialized.numpy())
            record = {}
            for key, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                record[key] = list(getattr(feature, kind).value) if kind else []
            records.append(record)
    return records


def shard_paths(output_dir, split):
    names = fnmatch.filter(os.listdir(output_dir), dataset_info.shard_pattern(split))
    return [os.path.join(output_dir, name) for name in sorted(names)]


def decode(record):
    return tf.io.decode_jpeg(record["image/encoded"][0], channels=0).numpy()


def copy_demo(demo_dir, destination):
    return shutil.copytree(demo_dir, str(destination))


def list_demo_images(input_dir, split_dirname):
    """Return [(relative path, synset)] of the images in `input_dir/split_dirname/<synset>/`."""
    images = []
    split_dir = os.path.join(input_dir, split_dirname)
    for synset in sorted(os.listdir(split_dir)):
        for name in sorted(os.listdir(os.path.join(split_dir, synset))):
            images.append((os.path.join(split_dirname, synset, name), synset))
    return images


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as text_file:
        text_file.write("".join(line + "\n" for line in lines))


def read_names(path):
    with open(path, encoding="utf-8") as names_file:
        return dict(line.rstrip("\n").split("\t", 1) for line in names_file if line.strip())


def records_by_filename(records):
    return {record["image/filename"][0].decode(): record for record in records}


@pytest.fixture(scope="module")
def demo_output(demo_imagenet_dir, tmp_path_factory):
    """The demo folder converted into 4 training and 2 validation shards."""
    output_dir = str(tmp_path_factory.mktemp("demo_tfrecord"))
    info = build_imagenet_tfrecord.convert(demo_imagenet_dir, output_dir, train_shards=4,
                                           validation_shards=2, num_workers=2)
    return types.SimpleNamespace(
        output_dir=output_dir, info=info,
        train=read_records(shard_paths(output_dir, "train")),
        validation=read_records(shard_paths(output_dir, "validation")))


def make_variants(class_dir, photo_path):
    """Write the variant files of DECODABLE_VARIANTS and UNDECODABLE_VARIANTS to `class_dir`."""
    photo = Image.open(photo_path).convert("RGB")
    photo.save(os.path.join(class_dir, "png_named.JPEG"), format="PNG")
    photo.convert("L").save(os.path.join(class_dir, "gray.JPEG"), format="JPEG")
    photo.convert("CMYK").save(os.path.join(class_dir, "cmyk.JPEG"), format="JPEG", quality=95)

    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(os.path.join(class_dir, "rgba.png"))

    gray16 = np.asarray(photo.convert("L")).astype(np.uint16) * 257
    Image.fromarray(gray16).save(os.path.join(class_dir, "gray16.png"))

    # Transparency given as bytes makes Pillow warn when it converts the image to RGB.
    photo.quantize(16).save(os.path.join(class_dir, "palette.png"), transparency=b"\x00" * 16)

    open(os.path.join(class_dir, "empty.JPEG"), "wb").close()
    with open(photo_path, "rb") as photo_file:
        jpeg_bytes = photo_file.read()
    with open(os.path.join(class_dir, "truncated.JPEG"), "wb") as truncated_file:
        truncated_file.write(jpeg_bytes[:len(jpeg_bytes) // 2])


@pytest.fixture(scope="module")
def variant_output(demo_imagenet_dir, tmp_path_factory):
    """The demo folder plus odd files in its first class, converted with warnings recorded."""
    input_dir = copy_demo(demo_imagenet_dir, tmp_path_factory.mktemp("variants") / "input")
    class_dir = os.path.join(input_dir, "train", sorted(os.listdir(
        os.path.join(input_dir, "train")))[0])
    photo_path = os.path.join(class_dir, sorted(os.listdir(class_dir))[0])
    make_variants(class_dir, photo_path)

    output_dir = str(tmp_path_factory.mktemp("variant_tfrecord"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        info = build_imagenet_tfrecord.convert(input_dir, output_dir, train_shards=3,
                                               validation_shards=1, num_workers=2)
    return types.SimpleNamespace(
        input_dir=input_dir, class_dir=class_dir, photo=Image.open(photo_path).convert("RGB"),
        info=info, caught=caught,
        records=records_by_filename(read_records(shard_paths(output_dir, "train"))))


def test_shard_names_contiguous(demo_output):
    expected = ["dataset_info.json"] + [
        dataset_info.shard_filename("train", index, 4) for index in range(4)] + [
        dataset_info.shard_filename("validation", index, 2) for index in range(2)]
    assert sorted(os.listdir(demo_output.output_dir)) == sorted(expected)


def test_info_split_counts(demo_output):
    splits = demo_output.info["splits"]
    assert splits["train"]["num_images"] == 80
    assert splits["train"]["num_shards"] == 4
    assert splits["train"]["images_per_shard"] == [20, 20, 20, 20]
    assert splits["validation"]["num_images"] == 20
    assert splits["validation"]["num_shards"] == 2


def test_info_file_matches_return(demo_output):
    assert dataset_info.read_dataset_info(demo_output.output_dir) == demo_output.info


def test_info_read_by_runner_helpers(demo_output):
    info = dataset_info.read_dataset_info(demo_output.output_dir)
    assert dataset_info.num_classes_from_info(info) == 11
    assert dataset_info.num_images_from_info(info, "train") == 80
    assert dataset_info.num_images_from_info(info, "validation") == 20


def test_info_synsets_sorted(demo_output, demo_imagenet_dir):
    folders = sorted(os.listdir(os.path.join(demo_imagenet_dir, "train")))
    assert demo_output.info["synsets"] == folders
    assert demo_output.info["label_base"] == 1


def test_info_names_from_names_file(demo_output, demo_imagenet_dir):
    expected = read_names(os.path.join(demo_imagenet_dir, "synset_names.txt"))
    assert demo_output.info["names"] == expected


def test_info_records_arguments(demo_output):
    arguments = demo_output.info["arguments"]
    assert arguments["train_shards"] == 4
    assert arguments["output_dir"] == demo_output.output_dir
    assert demo_output.info["skipped"] == []


def test_shard_sizes_match_info(demo_output):
    sizes = [len(read_records([path])) for path in shard_paths(demo_output.output_dir, "train")]
    assert sizes == demo_output.info["splits"]["train"]["images_per_shard"]


def test_record_every_image_once(demo_output, demo_imagenet_dir):
    expected = sorted(os.path.basename(path) for path, _ in
                      list_demo_images(demo_imagenet_dir, "train"))
    written = sorted(record["image/filename"][0].decode() for record in demo_output.train)
    assert written == expected


def test_record_label_and_synset(demo_output, demo_imagenet_dir):
    synsets = demo_output.info["synsets"]
    folder_of = {os.path.basename(path): synset for path, synset in
                 list_demo_images(demo_imagenet_dir, "train") + list_demo_images(
                     demo_imagenet_dir, "val")}
    for record in demo_output.train + demo_output.validation:
        synset = record["image/class/synset"][0].decode()
        assert synset == folder_of[record["image/filename"][0].decode()]
        assert record["image/class/label"] == [1 + synsets.index(synset)]


def test_record_text_from_names(demo_output):
    names = demo_output.info["names"]
    for record in demo_output.train:
        synset = record["image/class/synset"][0].decode()
        assert record["image/class/text"][0].decode() == names[synset]


def test_record_size_matches_decoded(demo_output):
    for record in demo_output.train + demo_output.validation:
        height, width = record["image/height"][0], record["image/width"][0]
        assert decode(record).shape == (height, width, 3)


def test_record_fixed_keys(demo_output):
    record = demo_output.train[0]
    assert record["image/format"] == [b"JPEG"]
    assert record["image/colorspace"] == [b"RGB"]
    assert record["image/channels"] == [3]
    for key in ("xmin", "ymin", "xmax", "ymax", "label"):
        assert record["image/object/bbox/" + key] == []


def test_record_keeps_jpeg_bytes(demo_output, demo_imagenet_dir):
    paths = {os.path.basename(path): path for path, _ in
             list_demo_images(demo_imagenet_dir, "train")}
    record = demo_output.train[0]
    with open(os.path.join(demo_imagenet_dir, paths[record["image/filename"][0].decode()]),
              "rb") as image_file:
        assert record["image/encoded"][0] == image_file.read()
    assert demo_output.info["splits"]["train"]["num_reencoded"] == 0


def test_shards_mix_classes(demo_output):
    first_shard = read_records(shard_paths(demo_output.output_dir, "train")[:1])
    assert len({record["image/class/synset"][0] for record in first_shard}) > 1


def test_same_shards_single_worker(demo_output, demo_imagenet_dir, tmp_path):
    build_imagenet_tfrecord.convert(demo_imagenet_dir, str(tmp_path), train_shards=4,
                                    validation_shards=2, num_workers=1)
    for name in fnmatch.filter(os.listdir(tmp_path), "train-*"):
        with open(tmp_path / name, "rb") as new_shard, open(
                os.path.join(demo_output.output_dir, name), "rb") as old_shard:
            assert new_shard.read() == old_shard.read(), name


def test_shard_count_capped(demo_imagenet_dir, tmp_path):
    info = build_imagenet_tfrecord.convert(demo_imagenet_dir, str(tmp_path), train_shards=1024)
    expected = [dataset_info.shard_filename("train", index, 80) for index in range(80)]
    assert sorted(fnmatch.filter(os.listdir(tmp_path), "train-*")) == expected
    assert info["splits"]["train"]["images_per_shard"] == [1] * 80
    assert info["splits"]["validation"]["num_shards"] == 20


def test_temporary_name_not_shard():
    name = shard_writing.temporary_shard_filename("train", 3, 80)
    assert name == ".train-00003-of-00080.tmp"
    assert not fnmatch.fnmatch(name, dataset_info.shard_pattern("train"))


def test_variant_counts(variant_output):
    train = variant_output.info["splits"]["train"]
    assert train["num_images"] == 80 + len(DECODABLE_VARIANTS)
    assert train["num_skipped"] == len(UNDECODABLE_VARIANTS)
    assert train["num_reencoded"] == len(DECODABLE_VARIANTS)


def test_variant_skipped_paths(variant_output):
    expected = sorted(os.path.join(variant_output.class_dir, name)
                      for name in UNDECODABLE_VARIANTS)
    assert sorted(variant_output.info["skipped"]) == expected


@pytest.mark.parametrize("name", DECODABLE_VARIANTS)
def test_variant_stored_as_rgb_jpeg(variant_output, name):
    record = variant_output.records[name]
    assert record["image/encoded"][0][:2] == b"\xff\xd8"
    assert decode(record).shape == (variant_output.photo.height, variant_output.photo.width, 3)
    assert record["image/height"] == [variant_output.photo.height]
    assert record["image/width"] == [variant_output.photo.width]


@pytest.mark.parametrize("name, reference_mode", [("cmyk.JPEG", "RGB"), ("gray16.png", "L"),
                                                  ("png_named.JPEG", "RGB")])
def test_variant_colors_kept(variant_output, name, reference_mode):
    reference = np.asarray(variant_output.photo.convert(reference_mode).convert("RGB"))
    difference = np.abs(decode(variant_output.records[name]).astype(int) - reference)
    assert difference.mean() < 8


def test_variant_warnings_counted(variant_output):
    assert variant_output.info["num_decode_warnings"] >= 1
    assert "palette.png" in variant_output.info["decode_warning_examples"][0]


def test_variant_warnings_not_shown(variant_output):
    user_warnings = [str(warning.message) for warning in variant_output.caught
                     if issubclass(warning.category, UserWarning)]
    assert user_warnings == []


def test_summary_lists_skipped(variant_output):
    lines = build_imagenet_tfrecord.summary_lines(variant_output.info)
    assert lines[0].startswith("train: 86 images in 3 shards, 2 skipped, ")
    assert lines[0].endswith(" images/sec")
    assert lines[1].startswith("validation: 20 images in 1 shards, 0 skipped")
    skipped_path = os.path.join(variant_output.class_dir, "empty.JPEG")
    assert any(line.strip().startswith(skipped_path + ": empty file") for line in lines)


def test_strict_raises_on_undecodable(variant_output, tmp_path):
    with pytest.raises(InvalidInputError, match=r"(empty|truncated)\.JPEG cannot be decoded"):
        build_imagenet_tfrecord.convert(variant_output.input_dir, str(tmp_path), train_shards=3,
                                        strict=True)
    assert os.listdir(tmp_path) == []


def make_small_input(root, demo_dir, images_per_class):
    """Copy `images_per_class` training images of the first two demo classes to `root`."""
    for synset in sorted(os.listdir(os.path.join(demo_dir, "train")))[:2]:
        source_dir = os.path.join(demo_dir, "train", synset)
        os.makedirs(os.path.join(root, "train", synset))
        for name in sorted(os.listdir(source_dir))[:images_per_class]:
            shutil.copy(os.path.join(source_dir, name), os.path.join(root, "train", synset))
    return str(root)


def test_empty_shard_dropped(demo_imagenet_dir, tmp_path):
    input_dir = make_small_input(tmp_path / "input", demo_imagenet_dir, 1)
    synset = sorted(os.listdir(os.path.join(input_dir, "train")))[0]
    open(os.path.join(input_dir, "train", synset, "empty.JPEG"), "wb").close()
    output_dir = str(tmp_path / "output")

    info = build_imagenet_tfrecord.convert(input_dir, output_dir, train_shards=3)
    assert sorted(os.listdir(output_dir)) == [
        "dataset_info.json", "train-00000-of-00002", "train-00001-of-00002"]
    assert info["splits"]["train"]["images_per_shard"] == [1, 1]


def test_no_decodable_image_raises(tmp_path):
    class_dir = tmp_path / "input" / "train" / "n01440764"
    os.makedirs(class_dir)
    open(class_dir / "empty.JPEG", "wb").close()
    output_dir = tmp_path / "output"
    os.makedirs(output_dir)

    with pytest.raises(InvalidInputError, match="none of the 1 train images"):
        build_imagenet_tfrecord.convert(str(tmp_path / "input"), str(output_dir))
    assert os.listdir(output_dir) == []


def test_train_only_without_names(demo_imagenet_dir, tmp_path):
    input_dir = make_small_input(tmp_path / "input", demo_imagenet_dir, 2)
    output_dir = str(tmp_path / "output")

    info = build_imagenet_tfrecord.convert(input_dir, output_dir, train_shards=2)
    assert fnmatch.filter(os.listdir(output_dir), "validation-*") == []
    assert info["splits"]["validation"]["num_images"] == 0
    assert info["names"] == {synset: synset for synset in info["synsets"]}


def flatten_val(input_dir, label_of):
    """Move val/<synset>/ images into val/ and write val_list.txt with `label_of(synset)`."""
    lines = []
    for relative_path, synset in list_demo_images(input_dir, "val"):
        name = os.path.basename(relative_path)
        os.replace(os.path.join(input_dir, relative_path), os.path.join(input_dir, "val", name))
        lines.append("val/%s %s" % (name, label_of(synset)))
    for synset in os.listdir(os.path.join(input_dir, "val")):
        if os.path.isdir(os.path.join(input_dir, "val", synset)):
            os.rmdir(os.path.join(input_dir, "val", synset))
    write_lines(os.path.join(input_dir, "val_list.txt"), lines)


def test_flat_val_with_list(demo_imagenet_dir, tmp_path):
    input_dir = copy_demo(demo_imagenet_dir, tmp_path / "input")
    synsets = sorted(os.listdir(os.path.join(input_dir, "train")))
    flatten_val(input_dir, synsets.index)
    output_dir = str(tmp_path / "output")

    info = build_imagenet_tfrecord.convert(input_dir, output_dir, train_shards=2,
                                           validation_shards=2)
    assert info["splits"]["validation"]["num_images"] == 20
    for record in read_records(shard_paths(output_dir, "validation")):
        synset = record["image/filename"][0].decode().split("_")[1]
        assert record["image/class/label"] == [1 + synsets.index(synset)]


@pytest.mark.parametrize("label_kind", ["index", "synset"])
def test_train_list_labels(demo_imagenet_dir, tmp_path, label_kind):
    input_dir = copy_demo(demo_imagenet_dir, tmp_path / "input")
    synsets = sorted(os.listdir(os.path.join(input_dir, "train")))
    chosen = list_demo_images(input_dir, "train")[::4]
    write_lines(os.path.join(input_dir, "train_list.txt"), [
        "%s %s" % (path, synsets.index(synset) if label_kind == "index" else synset)
        for path, synset in chosen])
    output_dir = str(tmp_path / "output")

    info = build_imagenet_tfrecord.convert(input_dir, output_dir, train_shards=2)
    assert info["splits"]["train"]["num_images"] == len(chosen)
    assert info["splits"]["train"]["source"] == os.path.join(input_dir, "train_list.txt")
    expected = {os.path.basename(path): 1 + synsets.index(synset) for path, synset in chosen}
    records = records_by_filename(read_records(shard_paths(output_dir, "train")))
    assert {name: record["image/class/label"][0] for name, record in records.items()} == (
        expected)


def test_real_synsets_sorted(shared_imagenet_dir, demo_imagenet_dir, tmp_path):
    with open(os.path.join(shared_imagenet_dir, "imagenet_lsvrc_2015_synsets.txt")) as list_file:
        all_synsets = [line.strip() for line in list_file if line.strip()]
    picked = [all_synsets[700], all_synsets[5], all_synsets[300]]
    demo_images = list_demo_images(demo_imagenet_dir, "train")
    for offset, synset in enumerate(picked):
        os.makedirs(tmp_path / "input" / "train" / synset)
        shutil.copy(os.path.join(demo_imagenet_dir, demo_images[offset * 8][0]),
                    tmp_path / "input" / "train" / synset)
    metadata_file = os.path.join(shared_imagenet_dir, "imagenet_metadata.txt")
    output_dir = str(tmp_path / "output")

    info = build_imagenet_tfrecord.convert(str(tmp_path / "input"), output_dir,
                                           imagenet_metadata_file=metadata_file)
    assert info["synsets"] == [all_synsets[5], all_synsets[300], all_synsets[700]]
    names = read_names(metadata_file)
    for record in read_records(shard_paths(output_dir, "train")):
        synset = record["image/class/synset"][0].decode()
        assert record["image/class/label"] == [1 + sorted(picked).index(synset)]
        assert record["image/class/text"][0].decode() == names[synset]


def remove_train(input_dir):
    shutil.rmtree(os.path.join(input_dir, "train"))
    return [os.path.join(input_dir, "train")]


def empty_train(input_dir):
    remove_train(input_dir)
    os.makedirs(os.path.join(input_dir, "train"))
    return [os.path.join(input_dir, "train"), "no class folders"]


def train_without_images(input_dir):
    for synset in os.listdir(os.path.join(input_dir, "train")):
        shutil.rmtree(os.path.join(input_dir, "train", synset))
        os.makedirs(os.path.join(input_dir, "train", synset))
        write_lines(os.path.join(input_dir, "train", synset, "notes.txt"), ["not an image"])
    return [os.path.join(input_dir, "train"), "no training images"]


def list_with_line(line):
    def write_list(input_dir):
        first_image = list_demo_images(input_dir, "train")[0][0]
        list_path = os.path.join(input_dir, "train_list.txt")
        write_lines(list_path, [first_image + " 0", line])
        return [list_path, "line 2"]
    return write_list


def list_missing_image(input_dir):
    expected = list_with_line("train/n01440764/missing.JPEG 0")(input_dir)
    return expected + [os.path.join(input_dir, "train", "n01440764", "missing.JPEG")]


def list_label_out_of_range(input_dir):
    first_image = list_demo_images(input_dir, "train")[0][0]
    return list_with_line(first_image + " 10")(input_dir) + ["out of range", "0..9"]


def list_unknown_synset(input_dir):
    first_image = list_demo_images(input_dir, "train")[0][0]
    return list_with_line(first_image + " n01440764")(input_dir) + [
        "unknown synset 'n01440764'", "0-based index in synset order"]


def list_malformed_line(input_dir):
    return list_with_line("onefield")(input_dir) + ["expected '<relative/path> <label>'"]


def val_unknown_class(input_dir):
    os.makedirs(os.path.join(input_dir, "val", "n00000001"))
    return [os.path.join(input_dir, "val", "n00000001"), "not a class"]


def val_loose_images(input_dir):
    relative_path = list_demo_images(input_dir, "val")[0][0]
    shutil.copy(os.path.join(input_dir, relative_path), os.path.join(input_dir, "val"))
    return [os.path.join(input_dir, "val"), "outside class folders", "val_list.txt"]


ERROR_CASES = {
    "no_train": remove_train,
    "empty_train": empty_train,
    "train_without_images": train_without_images,
    "list_missing_image": list_missing_image,
    "list_label_out_of_range": list_label_out_of_range,
    "list_unknown_synset": list_unknown_synset,
    "list_malformed_line": list_malformed_line,
    "val_unknown_class": val_unknown_class,
    "val_loose_images": val_loose_images,
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_input_raises(demo_imagenet_dir, tmp_path, case):
    input_dir = copy_demo(demo_imagenet_dir, tmp_path / "input")
    expected_parts = ERROR_CASES[case](input_dir)
    output_dir = tmp_path / "output"
    os.makedirs(output_dir)

    with pytest.raises(InvalidInputError) as raised:
        build_imagenet_tfrecord.convert(input_dir, str(output_dir), train_shards=2)
    message = str(raised.value)
    for part in expected_parts:
        assert part in message
    assert "\n" not in message
    assert os.listdir(output_dir) == []


def test_missing_input_raises(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path / "missing")):
        build_imagenet_tfrecord.convert(str(tmp_path / "missing"), str(tmp_path / "output"))
    assert os.listdir(tmp_path) == []


def test_missing_metadata_raises(demo_imagenet_dir, tmp_path):
    metadata_file = str(tmp_path / "metadata.txt")
    with pytest.raises(InvalidInputError, match="metadata file %s not found" % metadata_file):
        build_imagenet_tfrecord.convert(demo_imagenet_dir, str(tmp_path / "output"),
                                        imagenet_metadata_file=metadata_file)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("option", ["train_shards", "validation_shards", "num_workers"])
def test_nonpositive_option_raises(demo_imagenet_dir, tmp_path, option):
    with pytest.raises(InvalidInputError, match="%s must be a positive integer" % option):
        build_imagenet_tfrecord.convert(demo_imagenet_dir, str(tmp_path / "output"),
                                        **{option: 0})
    assert os.listdir(tmp_path) == []


def test_existing_shards_raise(demo_imagenet_dir, tmp_path):
    old_shard = tmp_path / "train-00000-of-00001"
    old_shard.write_bytes(b"old")

    with pytest.raises(InvalidInputError, match="--overwrite"):
        build_imagenet_tfrecord.convert(demo_imagenet_dir, str(tmp_path), train_shards=2)
    assert os.listdir(tmp_path) == ["train-00000-of-00001"]
    assert old_shard.read_bytes() == b"old"


def test_overwrite_replaces_shards(demo_imagenet_dir, tmp_path):
    for name in ("train-00000-of-00001", "validation-00000-of-00009", "dataset_info.json"):
        (tmp_path / name).write_bytes(b"old")

    build_imagenet_tfrecord.convert(demo_imagenet_dir, str(tmp_path), train_shards=2,
                                    validation_shards=1, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == [
        "dataset_info.json", "train-00000-of-00002", "train-00001-of-00002",
        "validation-00000-of-00001"]


def run_command(*arguments):
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-m", "data.build_imagenet_tfrecord", *arguments], cwd=REPO_ROOT,
        env=environment, capture_output=True, text=True, timeout=300, check=False)


def test_command_converts(demo_imagenet_dir, tmp_path):
    output_dir = str(tmp_path / "output")
    completed = run_command("--input_dir=" + demo_imagenet_dir, "--output_dir=" + output_dir,
                            "--train_shards=2", "--validation_shards=1")
    assert completed.returncode == 0, completed.stderr
    assert "train: 80 images in 2 shards, 0 skipped" in completed.stdout
    assert "validation: 20 images in 1 shards, 0 skipped" in completed.stdout
    assert sorted(os.listdir(output_dir)) == [
        "dataset_info.json", "train-00000-of-00002", "train-00001-of-00002",
        "validation-00000-of-00001"]


def test_command_reports_missing_train(tmp_path):
    os.makedirs(tmp_path / "input")
    completed = run_command("--input_dir=%s" % (tmp_path / "input"),
                            "--output_dir=%s" % (tmp_path / "output"))
    assert completed.returncode != 0
    assert "error: %s not found" % (tmp_path / "input" / "train") in completed.stderr
    assert not os.path.exists(tmp_path / "output")
