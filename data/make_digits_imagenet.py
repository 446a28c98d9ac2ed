"""Build an ImageNet-layout folder from scikit-learn's handwritten digits.

    python -m data.make_digits_imagenet --output_dir=digits_imagenet [--image_size=80]

`sklearn.datasets.load_digits` returns 1,797 real 8 x 8 scans of handwritten digits with ink
values 0..16, which the scikit-learn wheel contains, so no download is needed. Each scan is
scaled to 0..255, inverted to dark ink on white paper, enlarged with bicubic interpolation
and written as one grayscale JPEG. The converter stores grayscale JPEGs as RGB.

Classes are the folders `digit_0` ... `digit_9`. They are not ImageNet synsets, and the
converter accepts any folder name. Sorted, they keep the digit order, so with the converter's
default label offset of 1 digit d gets label d + 1. `synset_names.txt` gives each folder the
digit's name.

The validation split is deterministic. A seeded permutation of each class puts
`val_fraction` of its scans (rounded) into `val/` and the rest into `train/`, so every class
has the same share in both splits. NOTE: the split holds out scans, not writers, because
load_digits does not say who wrote each scan.
"""

import os
import sys

import numpy as np
from absl import app
from absl import flags
from PIL import Image

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

NAMES_FILENAME = "synset_names.txt"

# The maximum ink value of load_digits' scans. Each value counts the set pixels in one 4 x 4
# block of a 32 x 32 bitmap (scikit-learn's dataset description), so it runs from 0 to 16.
MAX_INK = 16.0


def class_folder(digit):
    return "digit_%d" % digit


def load_digit_scans():
    """Return (scans, digits): float64 [n, 8, 8] ink values 0..16 and int64 [n] digits 0..9."""
    from sklearn import datasets

    digits = datasets.load_digits()
    scans = np.asarray(digits.images, dtype=np.float64)
    return scans, np.asarray(digits.target, dtype=np.int64)


def scan_to_image(scan, image_size):
    """Invert and enlarge one 8 x 8 scan to a grayscale `image_size` x `image_size` PIL image."""
    gray = 255.0 * (1.0 - np.clip(scan, 0.0, MAX_INK) / MAX_INK)
    image = Image.fromarray(np.round(gray).astype(np.uint8), mode="L")
    return image.resize((image_size, image_size), Image.BICUBIC)


def split_indices(digits, val_fraction, seed):
    """Return (train_indices, val_indices): `val_fraction` of each class, chosen by `seed`."""
    rng = np.random.default_rng(seed)
    train_indices, val_indices = [], []
    for digit in range(len(DIGIT_NAMES)):
        indices = rng.permutation(np.flatnonzero(digits == digit))
        num_val = int(round(val_fraction * len(indices)))
        val_indices.extend(indices[:num_val].tolist())
        train_indices.extend(indices[num_val:].tolist())
    return sorted(train_indices), sorted(val_indices)


def write_split(output_dir, split, indices, scans, digits, image_size):
    for index in indices:
        folder = class_folder(int(digits[index]))
        class_dir = os.path.join(output_dir, split, folder)
        os.makedirs(class_dir, exist_ok=True)
        filename = "%s_%s_%04d.JPEG" % (split, folder, index)
        image = scan_to_image(scans[index], image_size)
        image.save(os.path.join(class_dir, filename), format="JPEG", quality=95)


def write_names_file(output_dir):
    with open(os.path.join(output_dir, NAMES_FILENAME), "w", encoding="utf-8") as names_file:
        for digit, name in enumerate(DIGIT_NAMES):
            names_file.write("%s\t%s\n" % (class_folder(digit), name))


def make_digits_imagenet(output_dir, image_size=80, val_fraction=0.2, seed=0):
    """Write the digits folder into `output_dir` and return (num_train, num_val) images.

    Raises FileExistsError when `output_dir` already contains a `train` folder, and
    ValueError for a `val_fraction` outside (0, 1) or an `image_size` below 8.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction=%g is invalid. Use a fraction in (0, 1), such as 0.2."
                         % val_fraction)
    if image_size < 8:
        raise ValueError("image_size=%d is invalid. The scans have 8 x 8 pixels, so use 8 or "
                         "more." % image_size)
    if os.path.exists(os.path.join(output_dir, "train")):
        raise FileExistsError(
            "%s already contains a train folder. Choose an empty --output_dir or delete the "
            "old folder first." % output_dir)

    scans, digits = load_digit_scans()
    train_indices, val_indices = split_indices(digits, val_fraction, seed)
    os.makedirs(output_dir, exist_ok=True)
    write_split(output_dir, "train", train_indices, scans, digits, image_size)
    write_split(output_dir, "val", val_indices, scans, digits, image_size)
    write_names_file(output_dir)
    return len(train_indices), len(val_indices)


FLAGS = flags.FLAGS


def define_flags():
    """Define the command-line flags.

    They are defined only when the module runs as a program, because data.make_demo_imagenet
    defines --output_dir too and tests import both modules into one process.
    """
    flags.DEFINE_string("output_dir", None, "Folder to create the digits ImageNet layout in.")
    flags.DEFINE_integer("image_size", 80, "Height and width of each JPEG, in pixels.",
                         lower_bound=8)
    flags.DEFINE_float("val_fraction", 0.2, "Fraction of each class written to val/.")
    flags.DEFINE_integer("seed", 0, "Seed of the train/validation split.")
    flags.mark_flag_as_required("output_dir")


def main(argv):
    del argv
    try:
        num_train, num_val = make_digits_imagenet(FLAGS.output_dir, FLAGS.image_size,
                                                  FLAGS.val_fraction, FLAGS.seed)
    except (FileExistsError, ValueError) as error:
        sys.exit("error: %s" % error)
    print("Wrote %d training and %d validation digits to %s"
          % (num_train, num_val, FLAGS.output_dir))


if __name__ == "__main__":
    define_flags()
    app.run(main)
