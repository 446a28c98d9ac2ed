"""Build a small ImageNet-layout folder from the real photos that scikit-image ships.

    python -m data.make_demo_imagenet --output_dir=demo/imagenet_raw

The folder has the layout the converter reads (`train/<synset>/*.JPEG`, `val/<synset>/*.JPEG`)
and a `synset_names.txt` file (`synset<TAB>names`). Each of ten photos represents one
ILSVRC-2012 synset, and every image is a different random crop of that photo, so the
classes look different from each other. It is for the demo and the tests, not for measuring accuracy.
"""

import os
import sys

import numpy as np
from absl import app
from absl import flags
from PIL import Image

# scikit-image's photos that its wheel contains (others are downloaded on first use, which
# fails without internet access), each with the ILSVRC-2012 synset it represents.
DEMO_PHOTOS = (
    ("astronaut", "n04266014", "space shuttle"),
    ("chelsea", "n02123045", "tabby, tabby cat"),
    ("coffee", "n07920052", "espresso"),
    ("rocket", "n04008634", "projectile, missile"),
    ("stereo_motorcycle", "n03785016", "moped"),
    ("hubble_deep_field", "n03956157", "planetarium"),
    ("retina", "n03920288", "Petri dish"),
    ("grass", "n09332890", "lakeside, lakeshore"),
    ("gravel", "n09421951", "sandbar, sand bar"),
    ("brick", "n04326547", "stone wall"),
)

NAMES_FILENAME = "synset_names.txt"


def load_photo(name):
    """Return scikit-image's photo `name` as an RGB uint8 array of shape [height, width, 3]."""
    from skimage import data as skimage_data

    photo = getattr(skimage_data, name)()
    if name == "stereo_motorcycle":
        photo = photo[0]  # The left view of the stereo pair.
    photo = np.asarray(photo)
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    return photo[:, :, :3].astype(np.uint8)


def random_crop(photo, rng, shorter_side):
    """Return a random crop of 40-100 % of `photo`'s area, resized to `shorter_side` pixels."""
    height, width = photo.shape[:2]
    area_fraction = rng.uniform(0.4, 1.0)
    aspect_ratio = rng.uniform(0.75, 1.33)

    crop_height = int(min(height, round(np.sqrt(area_fraction * height * width / aspect_ratio))))
    crop_width = int(min(width, round(crop_height * aspect_ratio)))
    top = rng.integers(0, height - crop_height + 1)
    left = rng.integers(0, width - crop_width + 1)
    crop = Image.fromarray(photo[top:top + crop_height, left:left + crop_width])

    scale = shorter_side / min(crop_height, crop_width)
    size = (max(1, round(crop_width * scale)), max(1, round(crop_height * scale)))
    crop = crop.resize(size, Image.BILINEAR)
    if rng.uniform() < 0.5:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    return crop


def write_split(output_dir, split, images_per_class, rng, shorter_side):
    """Write `images_per_class` crops of every demo photo into `output_dir/split/<synset>/`."""
    for photo_name, synset, _ in DEMO_PHOTOS:
        photo = load_photo(photo_name)
        class_dir = os.path.join(output_dir, split, synset)
        os.makedirs(class_dir, exist_ok=True)

        for index in range(images_per_class):
            crop = random_crop(photo, rng, shorter_side)
            filename = "%s_%s_%s_%04d.JPEG" % (split, synset, photo_name, index)
            crop.save(os.path.join(class_dir, filename), format="JPEG", quality=90)


def write_names_file(output_dir):
    with open(os.path.join(output_dir, NAMES_FILENAME), "w", encoding="utf-8") as names_file:
        for _, synset, names in DEMO_PHOTOS:
            names_file.write("%s\t%s\n" % (synset, names))


def make_demo_imagenet(output_dir, train_per_class=8, val_per_class=2, shorter_side=256,
                       seed=0):
    """Write the demo folder into `output_dir` and return its path.

    Raises FileExistsError when `output_dir` already contains a `train` folder, so that a
    user's own data is never mixed with demo images.
    """
    if os.path.exists(os.path.join(output_dir, "train")):
        raise FileExistsError(
            "%s already contains a train folder. Choose an empty --output_dir or delete the "
            "old demo folder first." % output_dir)

    rng = np.random.default_rng(seed)
    os.makedirs(output_dir, exist_ok=True)
    write_split(output_dir, "train", train_per_class, rng, shorter_side)
    write_split(output_dir, "val", val_per_class, rng, shorter_side)
    write_names_file(output_dir)
    return output_dir


FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Folder to create the demo ImageNet layout in.")
flags.DEFINE_integer("train_per_class", 8, "Training images per class.", lower_bound=1)
flags.DEFINE_integer("val_per_class", 2, "Validation images per class.", lower_bound=1)
flags.DEFINE_integer("shorter_side", 256, "Shorter side of each image, in pixels.",
                     lower_bound=16)
flags.DEFINE_integer("seed", 0, "Seed of the random crops.")
flags.mark_flag_as_required("output_dir")


def main(argv):
    del argv
    try:
        make_demo_imagenet(FLAGS.output_dir, FLAGS.train_per_class, FLAGS.val_per_class,
                           FLAGS.shorter_side, FLAGS.seed)
    except FileExistsError as error:
        sys.exit("error: %s" % error)
    print("Wrote %d classes of demo images to %s" % (len(DEMO_PHOTOS), FLAGS.output_dir))


if __name__ == "__main__":
    app.run(main)
