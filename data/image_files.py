"""Find the images, labels and class names of an ImageNet-layout folder.

The folder contains `train/<synset>/*.JPEG` and optionally `val/<synset>/*.JPEG`. The synsets
are the sorted names of the folders under `train/`. A `train_list.txt` or `val_list.txt`
beside them (the PaddleClas layout) replaces the folder listing of its split: each line is
`relative/path label`, with the path relative to the input folder and the label either a
0-based index in synset order or a synset id. A synsets file (one synset id per line, such
as the ILSVRC synset list) replaces the sorted folder names as the synset order. The Kaggle
layout is read by data/kaggle_layout.py.

Every function here only reads, and every problem is raised as InvalidInputError before the
converter writes anything.
"""

import os
import re
from dataclasses import dataclass
from dataclasses import field

# Compared with the lower-cased extension, so `.JPEG`, `.Jpg` and `.PNG` all count.
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")

TRAIN_DIRNAME = "train"
VAL_DIRNAME = "val"
TRAIN_LIST_FILENAME = "train_list.txt"
VAL_LIST_FILENAME = "val_list.txt"

# `synset<TAB>names` lines, the format of the standard imagenet_metadata.txt. The converter
# reads this file from the input folder when no metadata file is passed.
NAMES_FILENAME = "synset_names.txt"

# ImageNet synset ids are WordNet noun offsets: `n` and 8 digits.
SYNSET_ID_PATTERN = re.compile(r"n\d{8}")


class InvalidInputError(ValueError):
    """An input folder, list file or option that the converter cannot use.

    The message names the path or value and explains how to fix it.
    """


@dataclass(frozen=True)
class LabeledImage:
    path: str
    synset_index: int  # 0-based index in the sorted synset list


@dataclass
class ImageFolder:
    """The synsets, class names and labeled image files of an input folder."""

    input_dir: str
    synsets: list
    names: dict  # synset -> human-readable names, the synset id where none is known
    names_file: str = None
    splits: dict = field(default_factory=dict)  # "train"/"validation" -> list of LabeledImage
    split_sources: dict = field(default_factory=dict)  # split -> folder or list file read


def is_image_filename(filename):
    if filename.startswith("."):
        # macOS writes `._name.JPEG` resource files beside copied images, and they are not images.
        return False
    return os.path.splitext(filename)[1].lower() in IMAGE_EXTENSIONS


def find_synset_folders(train_dir):
    """Return the sorted names of the class folders in `train_dir`."""
    if not os.path.isdir(train_dir):
        raise InvalidInputError(
            "%s not found. The input folder must contain train/<synset>/ folders of images "
            "(and optionally val/), or be the Kaggle ImageNet folder with ILSVRC/Data/CLS-LOC/."
            % train_dir)

    synsets = sorted(
        name for name in os.listdir(train_dir)
        if not name.startswith(".") and os.path.isdir(os.path.join(train_dir, name)))
    if not synsets:
        raise InvalidInputError(
            "%s contains no class folders. Put the images of each class in "
            "train/<synset>/, for example train/n01440764/." % train_dir)
    return synsets


def read_synsets_file(path):
    """Return ([synset], {synset: names}) from a file with one synset id first on each line.

    Reads the ILSVRC synset list (`n01440764`) and Kaggle's LOC_synset_mapping.txt
    (`n01440764 tench, Tinca tinca`); names are the text after the id, when there is any.
    """
    if not os.path.isfile(path):
        raise InvalidInputError(
            "synsets file %s not found. Pass a file with one synset id per line, such as "
            "imagenet_lsvrc_2015_synsets.txt." % path)

    synsets, names = [], {}
    with open(path, encoding="utf-8") as synsets_file:
        for line_number, line in enumerate(synsets_file, start=1):
            fields = line.strip().split(None, 1)
            if not fields:
                continue
            if fields[0] in names:
                raise InvalidInputError(
                    "%s line %d: synset %s is listed twice. Delete one of the lines."
                    % (path, line_number, fields[0]))
            synsets.append(fields[0])
            names[fields[0]] = fields[1].strip() if len(fields) > 1 else fields[0]

    if not synsets:
        raise InvalidInputError("synsets file %s lists no synset." % path)
    return synsets, names


def order_synsets(folder_synsets, listed_synsets, list_path):
    """Return `listed_synsets` after checking that it names every class folder.

    Listed synsets without a folder keep their place, so that a subset of ImageNet keeps
    the labels of the full list.
    """
    unknown = sorted(set(folder_synsets) - set(listed_synsets))
    if unknown:
        raise InvalidInputError(
            "%d class folders are not in the synsets file %s, such as %s. Add them to the "
            "file or remove the folders." % (len(unknown), list_path, unknown[0]))
    return list(listed_synsets)


def find_synsets(train_dir, synsets_file=None):
    """Return the synset order: the synsets file's when given, else the sorted folder names."""
    folder_synsets = find_synset_folders(train_dir)
    if synsets_file is None:
        return folder_synsets
    listed_synsets, _ = read_synsets_file(synsets_file)
    return order_synsets(folder_synsets, listed_synsets, synsets_file)


def list_image_files(folder):
    """Return the sorted paths of the image files directly inside `folder`."""
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder))
            if is_image_filename(name) and os.path.isfile(os.path.join(folder, name))]


def list_class_folders(split_dir, synsets, list_path):
    """Return the images of `split_dir/<synset>/` folders, labeled by folder name.

    Image files directly inside `split_dir` have no label, so they raise InvalidInputError
    instead of being left out without notice. `list_path` is the list file that could
    label them, named in that error.
    """
    loose_files = list_image_files(split_dir)
    if loose_files:
        raise InvalidInputError(
            "%s contains %d image files outside class folders, such as %s. Move them into "
            "<synset>/ folders or label them in %s." % (
                split_dir, len(loose_files), loose_files[0], list_path))

    synset_indices = {synset: index for index, synset in enumerate(synsets)}
    images = []
    for name in sorted(os.listdir(split_dir)):
        class_dir = os.path.join(split_dir, name)
        if name.startswith(".") or not os.path.isdir(class_dir):
            continue
        if name not in synset_indices:
            raise InvalidInputError(
                "%s is not a class of the training set because train/ has no folder %s. "
                "Rename or remove the folder." % (class_dir, name))

        for path in list_image_files(class_dir):
            images.append(LabeledImage(path, synset_indices[name]))
    return images


def describe_label_numbering(synsets):
    return ("Labels must be the 0-based index in synset order (0..%d, the sorted train/ "
            "folder names or the order of --synsets_file) or a synset id such as %s. Other "
            "numberings, such as the class ids of the ILSVRC devkit's validation ground "
            "truth, which are not in sorted synset order, must be mapped to synset ids "
            "first." % (len(synsets) - 1, synsets[0]))


def synset_in_path(relative_path, synset_indices):
    """Return the synset id that a folder or file-name prefix of the path names, or None.

    ImageNet training files are `<synset>/<synset>_<number>.JPEG`, so their path names
    the synset that an integer label must point at.
    """
    parts = relative_path.replace("\\", "/").split("/")
    candidates = parts[:-1] + [parts[-1].split("_", 1)[0]]
    for part in reversed(candidates):
        if SYNSET_ID_PATTERN.fullmatch(part) and part in synset_indices:
            return part
    return None


def parse_label(text, synsets, synset_indices, location, relative_path=""):
    """Return the 0-based synset index that a list file's label `text` names.

    An integer label must fit the synsets and, when the path names a synset, point at it.
    """
    if re.fullmatch(r"-?\d+", text):
        index = int(text)
        if not 0 <= index < len(synsets):
            raise InvalidInputError(
                "%s: label %s is out of range for %d synsets. %s" % (
                    location, text, len(synsets), describe_label_numbering(synsets)))

        path_synset = synset_in_path(relative_path, synset_indices)
        if path_synset is not None and path_synset != synsets[index]:
            raise InvalidInputError(
                "%s: label %d is synset %s, but the path names synset %s, so the list uses "
                "another numbering. %s" % (location, index, synsets[index], path_synset,
                                           describe_label_numbering(synsets)))
        return index

    if text in synset_indices:
        return synset_indices[text]

    kind = "unknown synset" if SYNSET_ID_PATTERN.fullmatch(text) else "invalid label"
    raise InvalidInputError(
        "%s: %s %r, which is not a folder in train/. %s" % (
            location, kind, text, describe_label_numbering(synsets)))


def read_list_file(list_path, input_dir, synsets):
    """Return the images that `list_path` names, with the labels it gives them.

    Each non-blank line is `relative/path label`. The path may contain spaces because only
    the last space separates it from the label.
    """
    synset_indices = {synset: index for index, synset in enumerate(synsets)}
    images = []
    with open(list_path, encoding="utf-8") as list_file:
        for line_number, line in enumerate(list_file, start=1):
            line = line.strip()
            if not line:
                continue

            location = "%s line %d" % (list_path, line_number)
            fields = line.rsplit(maxsplit=1)
            if len(fields) != 2:
                raise InvalidInputError(
                    "%s: expected '<relative/path> <label>', got %r. Fix or delete the line."
                    % (location, line))

            relative_path, label_text = fields
            path = os.path.join(input_dir, relative_path)
            if not os.path.isfile(path):
                raise InvalidInputError(
                    "%s: image %s not found. Fix the path (relative to %s) or delete the line."
                    % (location, path, input_dir))

            synset_index = parse_label(label_text, synsets, synset_indices, location,
                                       relative_path)
            images.append(LabeledImage(path, synset_index))
    return images


def list_split(input_dir, dirname, list_filename, synsets):
    """Return the images of one split and the list file or folder they came from.

    Returns (None, None) when the split has neither a list file nor a folder.
    """
    list_path = os.path.join(input_dir, list_filename)
    if os.path.isfile(list_path):
        return read_list_file(list_path, input_dir, synsets), list_path

    split_dir = os.path.join(input_dir, dirname)
    if os.path.isdir(split_dir):
        return list_class_folders(split_dir, synsets, list_path), split_dir
    return None, None


def read_synset_names(names_path):
    """Return {synset: names} from a file of `synset<TAB>names` lines."""
    if not os.path.isfile(names_path):
        raise InvalidInputError(
            "metadata file %s not found. Pass the path of a file of synset<TAB>names lines, "
            "such as imagenet_metadata.txt." % names_path)

    names = {}
    with open(names_path, encoding="utf-8") as names_file:
        for line_number, line in enumerate(names_file, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            if "\t" not in line:
                raise InvalidInputError(
                    "%s line %d: expected 'synset<TAB>names', got %r. Separate the synset "
                    "id from its names with a tab." % (names_path, line_number, line))
            synset, text = line.split("\t", 1)
            names[synset.strip()] = text.strip()
    return names


def find_names(input_dir, synsets, metadata_file):
    """Return ({synset: names} for `synsets`, path of the file read or None).

    `metadata_file` takes precedence over the input folder's synset_names.txt. A synset that neither
    file names gets its id as text.
    """
    names_path = metadata_file
    if names_path is None:
        default_path = os.path.join(input_dir, NAMES_FILENAME)
        names_path = default_path if os.path.isfile(default_path) else None

    known_names = read_synset_names(names_path) if names_path else {}
    names = {synset: known_names.get(synset, synset) for synset in synsets}
    return names, names_path


def find_images(input_dir, metadata_file=None, synsets_file=None):
    """Return the ImageFolder of `input_dir`, or raise InvalidInputError naming the problem.

    The "validation" split is an empty list when there is neither `val/` nor `val_list.txt`.
    """
    if not os.path.isdir(input_dir):
        raise InvalidInputError(
            "input folder %s not found. Pass --input_dir=<folder that contains train/>."
            % input_dir)

    synsets = find_synsets(os.path.join(input_dir, TRAIN_DIRNAME), synsets_file)
    names, names_file = find_names(input_dir, synsets, metadata_file)
    folder = ImageFolder(input_dir, synsets, names, names_file)

    train_images, train_source = list_split(input_dir, TRAIN_DIRNAME, TRAIN_LIST_FILENAME,
                                            synsets)
    if not train_images:
        raise InvalidInputError(
            "no training images found in %s. Add .JPEG, .jpg or .png files to the "
            "train/<synset>/ folders or lines to the list file." % train_source)
    folder.splits["train"] = train_images
    folder.split_sources["train"] = train_source

    val_images, val_source = list_split(input_dir, VAL_DIRNAME, VAL_LIST_FILENAME, synsets)
    if val_images is not None and not val_images:
        raise InvalidInputError(
            "no validation images found in %s. Add images, or delete it to convert only the "
            "training set." % val_source)
    folder.splits["validation"] = val_images or []
    folder.split_sources["validation"] = val_source
    return folder
