"""Tests of the converter's PASCAL VOC bounding-box reading on real demo images."""

import os

import numpy as np
import pytest
from PIL import Image

from data import build_imagenet_tfrecord
from data.image_files import InvalidInputError
from tests import shard_helpers

pytestmark = pytest.mark.keras3


def voc_xml(width, height, boxes):
    """Return a PASCAL VOC annotation with pixel `boxes` [(xmin, ymin, xmax, ymax)]."""
    objects = "".join(
        "<object><name>n0</name><bndbox><xmin>%s</xmin><ymin>%s</ymin><xmax>%s</xmax>"
        "<ymax>%s</ymax></bndbox></object>" % box for box in boxes)
    return ("<annotation><size><width>%d</width><height>%d</height><depth>3</depth></size>"
            "%s</annotation>" % (width, height, objects))


@pytest.fixture()
def box_input(demo_imagenet_dir, tmp_path):
    """2 classes of 2 images, and box files for the 4 images in a nested folder."""
    input_dir = shard_helpers.make_small_input(tmp_path / "input", demo_imagenet_dir, 2, 2)
    train_dir = os.path.join(input_dir, "train")
    images = sorted(os.path.join(train_dir, synset, name)
                    for synset in os.listdir(train_dir)
                    for name in os.listdir(os.path.join(train_dir, synset)))
    sizes = [Image.open(path).size for path in images]
    stems = [os.path.splitext(os.path.basename(path))[0] for path in images]

    width, height = sizes[0]
    contents = [
        # One valid box and one that reaches past the right and bottom edges.
        voc_xml(width, height, [(10, 20, width / 2, height / 2),
                                (width / 2, height / 2, width + 40, height + 10)]),
        # xmin > xmax, zero area, and entirely outside the image.
        voc_xml(sizes[1][0], sizes[1][1], [(50, 10, 20, 40), (5, 5, 5, 30),
                                           (sizes[1][0] + 5, 0, sizes[1][0] + 50, 20)]),
        "<annotation><size><width>10",  # Cut off, so malformed XML.
        voc_xml(sizes[3][0], sizes[3][1], [(0, 0, sizes[3][0], sizes[3][1])]),
    ]
    box_dir = tmp_path / "boxes"
    for stem, text in zip(stems, contents):
        os.makedirs(box_dir / stem.split("_")[1], exist_ok=True)
        (box_dir / stem.split("_")[1] / (stem + ".xml")).write_text(text)
    return input_dir, str(box_dir), stems, sizes


def convert(input_dir, output_dir, box_dir):
    return build_imagenet_tfrecord.convert(input_dir, str(output_dir), num_workers=1,
                                           bounding_box_dir=box_dir)


def boxes_of(example):
    return np.array([shard_helpers.feature_values(example, "image/object/bbox/" + name)
                     for name in ("ymin", "xmin", "ymax", "xmax")]).T


def test_boxes_normalized_and_clipped(box_input, tmp_path):
    input_dir, box_dir, stems, sizes = box_input
    convert(input_dir, tmp_path / "out", box_dir)
    examples = shard_helpers.read_examples(shard_helpers.shard_paths(str(tmp_path / "out"),
                                                                     "train"))
    by_stem = {shard_helpers.feature_values(example, "image/filename")[0].decode()[:-5]:
               example for example in examples}

    width, height = sizes[0]
    expected = [[20 / height, 10 / width, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]]
    np.testing.assert_allclose(boxes_of(by_stem[stems[0]]), expected, atol=1e-6)
    label = shard_helpers.feature_values(by_stem[stems[0]], "image/class/label")[0]
    assert shard_helpers.feature_values(by_stem[stems[0]], "image/object/bbox/label") == [
        label, label]
    assert boxes_of(by_stem[stems[1]]).shape == (0, 4)
    assert boxes_of(by_stem[stems[2]]).shape == (0, 4)
    np.testing.assert_allclose(boxes_of(by_stem[stems[3]]), [[0.0, 0.0, 1.0, 1.0]])


def test_box_counts_reported(box_input, tmp_path):
    input_dir, box_dir, _, _ = box_input
    info = convert(input_dir, tmp_path / "out", box_dir)
    boxes = info["splits"]["train"]["boxes"]
    assert boxes["num_xml_files"] == 4
    assert boxes["num_boxes"] == 3
    assert boxes["num_images_with_boxes"] == 2
    assert boxes["num_clipped"] == 1
    assert boxes["dropped"] == {"invalid_box": 2, "outside_image": 1, "malformed_xml": 1}


def test_box_summary_line(box_input, tmp_path):
    input_dir, box_dir, _, _ = box_input
    info = convert(input_dir, tmp_path / "out", box_dir)
    lines = build_imagenet_tfrecord.summary_lines(info)
    assert ("train boxes: 3 in 2 images from 4 XML files, 1 clipped to the image, dropped: "
            "2 invalid_box, 1 malformed_xml, 1 outside_image") in lines


def test_box_dir_without_matches(box_input, tmp_path):
    input_dir, _, _, _ = box_input
    other_dir = tmp_path / "other_boxes"
    other_dir.mkdir()
    (other_dir / "unrelated.xml").write_text(voc_xml(10, 10, [(1, 1, 5, 5)]))
    with pytest.raises(InvalidInputError, match="none is named after an image"):
        convert(input_dir, tmp_path / "out", str(other_dir))
    assert not os.path.exists(tmp_path / "out")


def test_box_dir_without_valid_boxes(box_input, tmp_path):
    input_dir, box_dir, stems, _ = box_input
    for stem in (stems[0], stems[3]):
        path = os.path.join(box_dir, stem.split("_")[1], stem + ".xml")
        with open(path, "w") as xml_file:
            xml_file.write(voc_xml(100, 100, [(60, 10, 20, 40)]))
    with pytest.raises(InvalidInputError, match="gave no valid box"):
        convert(input_dir, tmp_path / "out", box_dir)
    assert not os.path.exists(tmp_path / "out")


def test_box_dir_missing(box_input, tmp_path):
    input_dir, _, _, _ = box_input
    with pytest.raises(InvalidInputError, match="--bounding_box_dir .*missing not found"):
        convert(input_dir, tmp_path / "out", str(tmp_path / "missing"))
