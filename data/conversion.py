"""Convert an ImageNet folder into TFRecord shards: planning, writing and the info file.

data/build_imagenet_tfrecord.py is the command line around `convert`.
"""

import hashlib
import os

from absl import logging

from data import bounding_boxes
from data import dataset_info
from data import decode_worker
from data import image_files
from data import kaggle_layout
from data import output_folder
from data import progress as progress_lines
from data import shard_writing
from data.image_files import InvalidInputError

SPLITS = ("train", "validation")

# Images are shuffled before sharding so that each training shard mixes classes, and the
# fixed seed gives the same shards on every run.
DEFAULT_SEED = 12345

# Label of the first synset: 1 keeps 0 for the background class of the standard layout,
# 0 gives 0-based labels.
LABEL_OFFSETS = (0, 1)


def check_options(train_shards, validation_shards, num_workers, label_offset):
    for name, value in (("train_shards", train_shards), ("validation_shards", validation_shards),
                        ("num_workers", num_workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError("%s must be a positive integer, got %r." % (name, value))
    if label_offset not in LABEL_OFFSETS:
        raise InvalidInputError(
            "label_offset must be 1 (labels 1..N, 0 is background, the standard layout) or 0 "
            "(labels 0..N-1), got %r." % (label_offset,))


def check_output_inside_input(output_dir, input_dir):
    for split_dir in (image_files.TRAIN_DIRNAME, kaggle_layout.DATA_DIR):
        input_train_dir = os.path.join(os.path.realpath(input_dir), split_dir)
        if os.path.realpath(output_dir).startswith(input_train_dir + os.sep):
            raise InvalidInputError(
                "--output_dir %s is inside %s, where it would count as a class folder. "
                "Choose a folder outside it." % (output_dir, input_train_dir))


def find_folder(input_dir, metadata_file, synsets_file):
    """Return the ImageFolder of `input_dir` in the plain or the Kaggle layout."""
    if os.path.isdir(input_dir) and kaggle_layout.is_kaggle_layout(input_dir):
        return kaggle_layout.find_images(input_dir, metadata_file, synsets_file)
    return image_files.find_images(input_dir, metadata_file, synsets_file)


def index_boxes(box_dir, folder):
    """Return {image stem: XML path} for the images of `folder` that have a box file.

    Raises InvalidInputError when `box_dir` is missing or none of its files names an image.
    """
    if box_dir is None:
        return {}
    if not os.path.isdir(box_dir):
        raise InvalidInputError(
            "--bounding_box_dir %s not found. Pass the folder of PASCAL VOC .xml files." % box_dir)

    xml_paths = bounding_boxes.index_xml_files(box_dir)
    stems = {os.path.splitext(os.path.basename(image.path))[0]
             for images in folder.splits.values() for image in images}
    matched = {stem: xml_paths[stem] for stem in stems if stem in xml_paths}
    if not matched:
        raise InvalidInputError(
            "--bounding_box_dir %s has %d .xml files, but none is named after an image (for "
            "n01440764_10026.JPEG the file is n01440764_10026.xml). Check the folder."
            % (box_dir, len(xml_paths)))
    return matched


def plan_splits(folder, requested_shards, seed):
    """Return {split: [[LabeledImage] per shard]} for the splits that have images."""
    plans = {}
    for split in SPLITS:
        images = folder.splits[split]
        if images:
            num_shards = min(requested_shards[split], len(images))
            plans[split] = shard_writing.plan_shards(images, num_shards, seed)
    return plans


def plan_fingerprint(folder, plans, label_offset, xml_index):
    """Return a digest of everything that decides the shards' bytes."""
    digest = hashlib.sha256()
    digest.update(output_folder.fingerprint({
        "synsets": folder.synsets, "names": folder.names, "label_offset": label_offset,
        "shards": {split: len(plan) for split, plan in plans.items()}}).encode())
    for split, plan in sorted(plans.items()):
        for index, images in enumerate(plan):
            for image in images:
                digest.update(("%s\t%d\t%s\t%d\t%s\n" % (
                    split, index, image.path, image.synset_index,
                    xml_index.get(os.path.splitext(os.path.basename(image.path))[0], ""))
                    ).encode())
    return digest.hexdigest()


def check_some_decoded(split, results, source):
    if any(result.num_images for result in results):
        return
    skipped = [item for result in results for item in result.skipped]
    raise InvalidInputError(
        "none of the %d %s images listed in %s can be decoded, for example %s (%s). Check "
        "that the files are JPEG or PNG images." % (
            len(skipped), split, source, skipped[0][0], skipped[0][1]))


def check_boxes_found(box_dir, results):
    if box_dir is None:
        return
    reports = [result.boxes for split_results in results.values() for result in split_results]
    if not sum(report["num_boxes"] for report in reports):
        examples = [example for report in reports for example in report["examples"]]
        raise InvalidInputError(
            "--bounding_box_dir %s gave no valid box, for example %s. Check that the files "
            "are PASCAL VOC XML with pixel coordinates." % (
                box_dir, examples[0] if examples else "no box in any file"))


def write_splits(output_dir, folder, plans, options, num_workers, xml_index):
    """Write every split's shards and return ({split: results}, {split: images/sec})."""
    results, rates = {}, {}
    with decode_worker.DecodePool(num_workers) as pool:
        for split, plan in plans.items():
            writer = shard_writing.SplitWriter(
                output_dir, split, len(plan), folder, options["label_offset"],
                options["strict"], xml_index)
            progress = progress_lines.Progress(split, sum(len(images) for images in plan))
            logging.info("%s: converting %d images into %d shards", split, progress.total,
                         len(plan))
            results[split] = shard_writing.write_split(writer, plan, pool, progress)
            progress.close()
            rates[split] = progress.rate()
            check_some_decoded(split, results[split], folder.split_sources[split])
    return results, rates


def sum_boxes(results):
    total = bounding_boxes.BoxReport()
    for result in results:
        report = bounding_boxes.BoxReport(
            result.boxes["num_xml_files"], result.boxes["num_images_with_boxes"],
            result.boxes["num_boxes"], result.boxes["num_clipped"],
            dict(result.boxes["dropped"]), list(result.boxes["examples"]))
        total.add(report)
    return total.to_dict()


def describe_split(results, images_per_shard, source, rate):
    skipped = [path for result in results for path, _ in result.skipped]
    return {
        "num_images": sum(images_per_shard),
        "num_shards": len(images_per_shard),
        "images_per_shard": images_per_shard,
        "num_listed": sum(images_per_shard) + len(skipped),
        "num_skipped": len(skipped),
        "num_reencoded": sum(result.num_reencoded for result in results),
        "images_per_sec": round(rate, 1),
        "boxes": sum_boxes(results),
        "source": source,
    }


def empty_split():
    return {"num_images": 0, "num_shards": 0, "images_per_shard": [], "num_listed": 0,
            "num_skipped": 0, "num_reencoded": 0, "images_per_sec": 0.0,
            "boxes": bounding_boxes.BoxReport().to_dict(), "source": None}


def make_info(folder, splits, results, arguments):
    all_results = [result for split_results in results.values() for result in split_results]
    skipped = [item for result in all_results for item in result.skipped]
    warnings = [example for result in all_results for example in result.warning_examples]
    return {
        "synsets": folder.synsets,
        "label_base": arguments["label_offset"],
        "names": folder.names,
        "names_file": folder.names_file,
        "splits": splits,
        "skipped": [path for path, _ in skipped],
        "skip_reasons": {path: reason for path, reason in skipped},
        "num_decode_warnings": sum(result.num_warnings for result in all_results),
        "decode_warning_examples": warnings[:shard_writing.MAX_WARNING_EXAMPLES],
        "arguments": arguments,
    }


def convert(input_dir, output_dir, train_shards=1024, validation_shards=128, num_workers=None,
            imagenet_metadata_file=None, strict=False, overwrite=False, seed=DEFAULT_SEED,
            label_offset=1, synsets_file=None, bounding_box_dir=None):
    """Convert the images of `input_dir` into TFRecord shards in `output_dir`.

    Returns the dataset info dict that it writes to `output_dir/dataset_info.json`. Each
    split gets min(requested shards, images) shards. Raises InvalidInputError (a
    ValueError) naming the path or value when the input or options are invalid; those
    checks run before anything is written. A `strict` decode error, a split without any
    decodable image or a box folder without any valid box is found while writing, and
    then the new files are deleted and replaced outputs restored. Any other interruption
    (Ctrl-C, a full disk, SIGKILL) keeps the finished shards, and the same call resumes.
    """
    num_workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    check_options(train_shards, validation_shards, num_workers, label_offset)
    input_dir = os.path.abspath(input_dir)
    output_dir = os.path.abspath(output_dir)
    check_output_inside_input(output_dir, input_dir)
    folder = find_folder(input_dir, imagenet_metadata_file, synsets_file)
    xml_index = index_boxes(bounding_box_dir, folder)

    plans = plan_splits(folder, {"train": train_shards, "validation": validation_shards}, seed)
    plan_digest = plan_fingerprint(folder, plans, label_offset, xml_index)
    arguments = {
        "input_dir": input_dir, "output_dir": output_dir, "train_shards": train_shards,
        "validation_shards": validation_shards, "num_workers": num_workers,
        "imagenet_metadata_file": imagenet_metadata_file, "strict": strict,
        "overwrite": overwrite, "seed": seed, "label_offset": label_offset,
        "synsets_file": synsets_file, "bounding_box_dir": bounding_box_dir,
    }
    resume = output_folder.check_output_dir(output_dir, plan_digest, overwrite)
    created_output_dir = not os.path.isdir(output_dir)
    output_folder.start(output_dir, plan_digest, arguments, resume, overwrite)

    options = {"label_offset": label_offset, "strict": strict}
    try:
        results, rates = write_splits(output_dir, folder, plans, options, num_workers,
                                      xml_index)
        check_boxes_found(bounding_box_dir, results)
    except InvalidInputError:
        output_folder.roll_back(output_dir, created_output_dir)
        raise
    except BaseException:
        logging.error("The conversion stopped. %s keeps the finished shards; rerun the same "
                      "command to resume.", output_dir)
        raise

    splits = {split: empty_split() for split in SPLITS}
    for split, split_results in results.items():
        images_per_shard = output_folder.renumber_shards(output_dir, split, split_results)
        splits[split] = describe_split(split_results, images_per_shard,
                                       folder.split_sources[split], rates[split])
    info = make_info(folder, splits, results, arguments)
    output_folder.publish(output_dir, info)
    return info
