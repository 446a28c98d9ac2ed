"""Find the images and labels of the Kaggle ImageNet download.

The "ImageNet Object Localization Challenge" download on Kaggle contains
`ILSVRC/Data/CLS-LOC/train/<synset>/*.JPEG`, a flat `ILSVRC/Data/CLS-LOC/val/*.JPEG`,
`LOC_synset_mapping.txt` (`n01440764 tench, Tinca tinca`, in sorted synset order) and
`LOC_val_solution.csv` (`ImageId,PredictionString` where the string is
`<synset> xmin ymin xmax ymax ...` and the first synset is the image's class). The test
images have no labels and are not converted.
"""

import csv
import os

from data import image_files
from data.image_files import InvalidInputError

DATA_DIR = os.path.join("ILSVRC", "Data", "CLS-LOC")
SYNSET_MAPPING_FILENAME = "LOC_synset_mapping.txt"
VAL_SOLUTION_FILENAME = "LOC_val_solution.csv"


def is_kaggle_layout(input_dir):
    return (os.path.isdir(os.path.join(input_dir, DATA_DIR))
            or os.path.isfile(os.path.join(input_dir, SYNSET_MAPPING_FILENAME)))


def require_path(path, what):
    if not os.path.exists(path):
        raise InvalidInputError(
            "%s not found, but the input folder has the Kaggle ImageNet layout, which needs "
            "%s. Restore it from the Kaggle download." % (path, what))


def read_val_solution(csv_path):
    """Return {image id: synset} from LOC_val_solution.csv."""
    labels = {}
    with open(csv_path, encoding="utf-8", newline="") as csv_file:
        reader = csv.reader(csv_file)
        header = next(reader, None)
        if header is None or [name.strip() for name in header[:2]] != [
                "ImageId", "PredictionString"]:
            raise InvalidInputError(
                "%s line 1: expected the header 'ImageId,PredictionString', got %r."
                % (csv_path, header))

        for line_number, row in enumerate(reader, start=2):
            if not row:
                continue
            tokens = row[1].split() if len(row) > 1 else []
            if not tokens:
                raise InvalidInputError(
                    "%s line %d: expected '<image id>,<synset> <box>...', got %r. Fix or "
                    "delete the line." % (csv_path, line_number, ",".join(row)))
            labels[row[0].strip()] = tokens[0]
    return labels


def list_flat_val(val_dir, csv_path, synsets):
    """Return the LabeledImages of the flat validation folder, labeled from `csv_path`.

    Every image needs a row and every row an image, so that a partial download or a
    wrong solution file stops the conversion.
    """
    labels = read_val_solution(csv_path)
    synset_indices = {synset: index for index, synset in enumerate(synsets)}
    paths = image_files.list_image_files(val_dir)
    stems = {os.path.splitext(os.path.basename(path))[0]: path for path in paths}

    missing_rows = sorted(set(stems) - set(labels))
    if missing_rows:
        raise InvalidInputError(
            "%d images in %s have no row in %s, such as %s. Restore the file or remove the "
            "images." % (len(missing_rows), val_dir, csv_path, stems[missing_rows[0]]))
    missing_images = sorted(set(labels) - set(stems))
    if missing_images:
        raise InvalidInputError(
            "%s names %d images that are not in %s, such as %s. Restore the images or "
            "delete their rows." % (csv_path, len(missing_images), val_dir,
                                    missing_images[0]))

    images = []
    for stem in sorted(stems):
        synset = labels[stem]
        if synset not in synset_indices:
            raise InvalidInputError(
                "%s: image %s has synset %s, which is not in the synset list. Check that "
                "the file belongs to this download." % (csv_path, stem, synset))
        images.append(image_files.LabeledImage(stems[stem], synset_indices[synset]))
    return images


def find_images(input_dir, metadata_file=None, synsets_file=None):
    """Return the ImageFolder of a Kaggle ImageNet folder, or raise InvalidInputError.

    The synset order is LOC_synset_mapping.txt's, unless `synsets_file` is given, and the
    names come from `metadata_file` when given, else from the mapping file.
    """
    data_dir = os.path.join(input_dir, DATA_DIR)
    mapping_path = os.path.join(input_dir, SYNSET_MAPPING_FILENAME)
    require_path(data_dir, "the image folders")
    require_path(mapping_path, "the synset order and names")

    mapping_synsets, mapping_names = image_files.read_synsets_file(mapping_path)
    train_dir = os.path.join(data_dir, image_files.TRAIN_DIRNAME)
    folder_synsets = image_files.find_synset_folders(train_dir)
    synsets = image_files.order_synsets(folder_synsets, mapping_synsets, mapping_path)
    if synsets_file is not None:
        listed, _ = image_files.read_synsets_file(synsets_file)
        synsets = image_files.order_synsets(folder_synsets, listed, synsets_file)

    if metadata_file is None:
        names, names_file = mapping_names, mapping_path
    else:
        names, names_file = image_files.read_synset_names(metadata_file), metadata_file
    names = {synset: names.get(synset, synset) for synset in synsets}

    folder = image_files.ImageFolder(input_dir, synsets, names, names_file)
    train_images = image_files.list_class_folders(train_dir, synsets, mapping_path)
    if not train_images:
        raise InvalidInputError(
            "no training images found in %s. Add the .JPEG files of the download." % train_dir)
    folder.splits["train"] = train_images
    folder.split_sources["train"] = train_dir

    val_dir = os.path.join(data_dir, image_files.VAL_DIRNAME)
    folder.splits["validation"], folder.split_sources["validation"] = [], None
    if os.path.isdir(val_dir):
        csv_path = os.path.join(input_dir, VAL_SOLUTION_FILENAME)
        require_path(csv_path, "the validation labels")
        val_images = list_flat_val(val_dir, csv_path, synsets)
        if not val_images:
            raise InvalidInputError(
                "no validation images found in %s. Add the images, or delete the folder to "
                "convert only the training set." % val_dir)
        folder.splits["validation"], folder.split_sources["validation"] = val_images, csv_path
    return folder
