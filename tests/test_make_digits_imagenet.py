"""The digits folder writer: layout, split, image format and errors."""

import os

import numpy as np
import pytest
from PIL import Image

from data import make_digits_imagenet

pytestmark = pytest.mark.keras3

NUM_DIGIT_SCANS = 1797


def list_files(folder):
    """Return {class folder: sorted file names} of a split folder."""
    return {name: sorted(os.listdir(os.path.join(folder, name)))
            for name in sorted(os.listdir(folder))}


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp("digits_imagenet") / "raw")
    counts = make_digits_imagenet.make_digits_imagenet(output_dir, image_size=24)
    return output_dir, counts


def test_counts_cover_every_scan(digits_dir):
    _, (num_train, num_val) = digits_dir
    assert num_train + num_val == NUM_DIGIT_SCANS


def test_val_is_a_fifth(digits_dir):
    _, (_, num_val) = digits_dir
    assert abs(num_val / NUM_DIGIT_SCANS - 0.2) < 0.01


def test_class_folders_in_digit_order(digits_dir):
    output_dir, _ = digits_dir
    expected = ["digit_%d" % digit for digit in range(10)]
    assert sorted(os.listdir(os.path.join(output_dir, "train"))) == expected
    assert sorted(os.listdir(os.path.join(output_dir, "val"))) == expected


def test_file_counts_match_returned_counts(digits_dir):
    output_dir, (num_train, num_val) = digits_dir
    train_files = list_files(os.path.join(output_dir, "train"))
    val_files = list_files(os.path.join(output_dir, "val"))
    assert sum(len(files) for files in train_files.values()) == num_train
    assert sum(len(files) for files in val_files.values()) == num_val


def test_splits_share_no_scan(digits_dir):
    output_dir, _ = digits_dir
    train_files = list_files(os.path.join(output_dir, "train"))
    val_files = list_files(os.path.join(output_dir, "val"))

    # File names end in the scan's index in load_digits.
    def scan_indices(files):
        return {name.rsplit("_", 1)[1] for names in files.values() for name in names}

    assert not scan_indices(train_files) & scan_indices(val_files)


def test_every_class_has_val_images(digits_dir):
    output_dir, _ = digits_dir
    val_files = list_files(os.path.join(output_dir, "val"))
    assert min(len(files) for files in val_files.values()) >= 30


def test_images_are_grayscale_jpegs(digits_dir):
    output_dir, _ = digits_dir
    class_dir = os.path.join(output_dir, "train", "digit_3")
    with Image.open(os.path.join(class_dir, sorted(os.listdir(class_dir))[0])) as image:
        assert image.format == "JPEG"
        assert image.mode == "L"
        assert image.size == (24, 24)


def test_ink_is_dark_on_white(digits_dir):
    output_dir, _ = digits_dir
    class_dir = os.path.join(output_dir, "train", "digit_0")
    with Image.open(os.path.join(class_dir, sorted(os.listdir(class_dir))[0])) as image:
        pixels = np.asarray(image)
    assert pixels[0, 0] > 200
    assert pixels.min() < 60


def test_names_file_names_each_digit(digits_dir):
    output_dir, _ = digits_dir
    with open(os.path.join(output_dir, "synset_names.txt"), encoding="utf-8") as names_file:
        lines = names_file.read().splitlines()
    assert lines[0] == "digit_0\tzero"
    assert lines[9] == "digit_9\tnine"


def test_same_seed_gives_same_split():
    _, digits = make_digits_imagenet.load_digit_scans()
    first = make_digits_imagenet.split_indices(digits, 0.2, seed=7)
    second = make_digits_imagenet.split_indices(digits, 0.2, seed=7)
    assert first == second


def test_other_seed_gives_other_split():
    _, digits = make_digits_imagenet.load_digit_scans()
    first = make_digits_imagenet.split_indices(digits, 0.2, seed=7)
    second = make_digits_imagenet.split_indices(digits, 0.2, seed=8)
    assert first[1] != second[1]


def test_existing_train_folder_rejected(tmp_path):
    os.makedirs(tmp_path / "train")
    with pytest.raises(FileExistsError, match="already contains a train folder"):
        make_digits_imagenet.make_digits_imagenet(str(tmp_path))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_invalid_val_fraction_rejected(tmp_path, fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        make_digits_imagenet.make_digits_imagenet(str(tmp_path), val_fraction=fraction)
