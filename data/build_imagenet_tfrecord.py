"""Convert an ImageNet-layout folder of images into the standard ImageNet TFRecord shards.

    python -m data.build_imagenet_tfrecord --input_dir=demo/imagenet_raw \\
        --output_dir=imagenet_tfrecord

The input folder has `train/<synset>/*.JPEG` and optionally `val/<synset>/*.JPEG`, or list
files as described in data/image_files.py. The output folder gets `train-00000-of-01024`
... and `validation-00000-of-00128` ... shards of tf.train.Example records with the keys
of the standard ImageNet converter, and `dataset_info.json` (see data/dataset_info.py).

Labels are 1 + the index of the synset in sorted order, because label 0 is the background
class of the standard layout. Bounding boxes are not read, so the bbox lists are empty.
Files that cannot be decoded are skipped and listed in the summary, unless `strict`.
"""

import glob
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging

from data import dataset_info
from data import image_files
from data import jpeg_coding
from data import shard_writing
from data.image_files import InvalidInputError

SPLITS = ("train", "validation")

# Images are shuffled before sharding so that each training shard mixes classes, and the
# fixed seed gives the same shards on every run.
DEFAULT_SEED = 12345


def check_options(train_shards, validation_shards, num_workers):
    for name, value in (("train_shards", train_shards), ("validation_shards", validation_shards),
                        ("num_workers", num_workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInputError("%s must be a positive integer, got %r." % (name, value))


def find_old_outputs(output_dir):
    """Return the shards and dataset info file that a conversion into `output_dir` replaces."""
    folder = glob.escape(output_dir)
    paths = []
    for split in SPLITS:
        paths += sorted(glob.glob(os.path.join(folder, dataset_info.shard_pattern(split))))
    if os.path.exists(dataset_info.info_path(output_dir)):
        paths.append(dataset_info.info_path(output_dir))
    return paths


def check_output_dir(output_dir, input_dir, overwrite):
    """Raise InvalidInputError unless `output_dir` can receive the shards."""
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise InvalidInputError(
            "--output_dir %s is a file, not a folder. Choose another path." % output_dir)

    input_train_dir = os.path.join(os.path.realpath(input_dir), image_files.TRAIN_DIRNAME)
    if os.path.realpath(output_dir).startswith(input_train_dir + os.sep):
        raise InvalidInputError(
            "--output_dir %s is inside %s, where it would count as a class folder. Choose a "
            "folder outside it." % (output_dir, input_train_dir))

    old_outputs = find_old_outputs(output_dir) if os.path.isdir(output_dir) else []
    if old_outputs and not overwrite:
        raise InvalidInputError(
            "%s already contains %d shard or dataset info files, such as %s. Choose another "
            "--output_dir, delete them, or pass --overwrite to replace them." % (
                output_dir, len(old_outputs), os.path.basename(old_outputs[0])))


def remove_stale_temporary_shards(output_dir):
    """Delete temporary shards that an interrupted earlier run left in `output_dir`."""
    folder = glob.escape(output_dir)
    for split in SPLITS:
        pattern = shard_writing.temporary_shard_pattern(split)
        for path in glob.glob(os.path.join(folder, pattern)):
            logging.info("Deleting %s, left by an interrupted conversion", path)
            os.remove(path)


def write_split(output_dir, split, folder, requested_shards, num_workers, strict, seed):
    """Write the temporary shards of `split` and return their ShardResults.

    Raises InvalidInputError when no image of the split can be decoded, after deleting
    its temporary shards.
    """
    images = folder.splits[split]
    num_shards = min(requested_shards, len(images))
    logging.info("%s: converting %d images into %d shards", split, len(images), num_shards)
    results = shard_writing.write_split(output_dir, split, images, folder, num_shards,
                                        num_workers, strict, seed)
    try:
        check_some_decoded(split, results, folder.split_sources[split])
    except InvalidInputError:
        shard_writing.remove_files(result.temporary_path for result in results)
        raise
    return results


def check_some_decoded(split, results, source):
    if any(result.num_images for result in results):
        return
    skipped = [item for result in results for item in result.skipped]
    raise InvalidInputError(
        "none of the %d %s images listed in %s can be decoded, for example %s (%s). Check "
        "that the files are JPEG or PNG images." % (
            len(skipped), split, source, skipped[0][0], skipped[0][1]))


def publish_split(output_dir, split, results):
    """Rename the non-empty temporary shards to their final names and return their sizes.

    A shard whose images were all skipped is deleted, so the final shards are numbered
    without gaps and none is empty.
    """
    nonempty_results = [result for result in results if result.num_images]
    for index, result in enumerate(nonempty_results):
        final_name = dataset_info.shard_filename(split, index, len(nonempty_results))
        os.replace(result.temporary_path, os.path.join(output_dir, final_name))

    for result in results:
        if not result.num_images:
            os.remove(result.temporary_path)
    return [result.num_images for result in nonempty_results]


def describe_split(results, images_per_shard, source, seconds):
    skipped = [path for result in results for path, _ in result.skipped]
    return {
        "num_images": sum(images_per_shard),
        "num_shards": len(images_per_shard),
        "images_per_shard": images_per_shard,
        "num_listed": sum(images_per_shard) + len(skipped),
        "num_skipped": len(skipped),
        "num_reencoded": sum(result.num_reencoded for result in results),
        "seconds": round(seconds, 3),
        "source": source,
    }


def empty_split():
    return {"num_images": 0, "num_shards": 0, "images_per_shard": [], "num_listed": 0,
            "num_skipped": 0, "num_reencoded": 0, "seconds": 0.0, "source": None}


def convert(input_dir, output_dir, train_shards=1024, validation_shards=128, num_workers=None,
            imagenet_metadata_file=None, strict=False, overwrite=False, seed=DEFAULT_SEED):
    """Convert the images of `input_dir` into TFRecord shards in `output_dir`.

    Returns the dataset info dict that it writes to `output_dir/dataset_info.json`. Each
    split gets min(requested shards, images) shards. Raises InvalidInputError (a
    ValueError) naming the path or value when the input or options are invalid. Those
    errors are raised before anything is written, except a `strict` decode error or a
    split without any decodable image, after which the temporary shards are deleted. After
    any error, `output_dir` contains the files it had before, apart from temporary shards
    left by an interrupted earlier run, and is not created when it did not exist.
    """
    num_workers = num_workers if num_workers is not None else (os.cpu_count() or 1)
    check_options(train_shards, validation_shards, num_workers)
    input_dir = os.path.abspath(input_dir)
    output_dir = os.path.abspath(output_dir)
    check_output_dir(output_dir, input_dir, overwrite)
    folder = image_files.find_images(input_dir, imagenet_metadata_file)

    created_output_dir = not os.path.isdir(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    remove_stale_temporary_shards(output_dir)
    requested_shards = {"train": train_shards, "validation": validation_shards}
    results = {}
    seconds = {}

    try:
        with jpeg_coding.DecodeWarningCounter() as warning_counter:
            for split in SPLITS:
                if not folder.splits[split]:
                    continue
                start_time = time.monotonic()
                results[split] = write_split(output_dir, split, folder, requested_shards[split],
                                             num_workers, strict, seed)
                seconds[split] = time.monotonic() - start_time
    except BaseException:
        for split_results in results.values():
            shard_writing.remove_files(result.temporary_path for result in split_results)
        if created_output_dir and not os.listdir(output_dir):
            os.rmdir(output_dir)
        raise

    # Old shards go only now, so that a failed conversion leaves them in place.
    shard_writing.remove_files(find_old_outputs(output_dir))
    splits = {split: empty_split() for split in SPLITS}
    for split, split_results in results.items():
        images_per_shard = publish_split(output_dir, split, split_results)
        splits[split] = describe_split(split_results, images_per_shard,
                                       folder.split_sources[split], seconds[split])

    skipped = [item for split_results in results.values() for result in split_results
               for item in result.skipped]
    info = {
        "synsets": folder.synsets,
        "label_base": dataset_info.STANDARD_LABEL_BASE,
        "names": folder.names,
        "names_file": folder.names_file,
        "splits": splits,
        "skipped": [path for path, _ in skipped],
        "skip_reasons": {path: reason for path, reason in skipped},
        "num_decode_warnings": warning_counter.count,
        "decode_warning_examples": warning_counter.examples,
        "arguments": {
            "input_dir": input_dir, "output_dir": output_dir, "train_shards": train_shards,
            "validation_shards": validation_shards, "num_workers": num_workers,
            "imagenet_metadata_file": imagenet_metadata_file, "strict": strict,
            "overwrite": overwrite, "seed": seed,
        },
    }
    dataset_info.write_dataset_info(output_dir, info)
    return info


def summary_lines(info):
    """Return the lines that report a conversion: one per split, then skipped files."""
    lines = []
    for split in SPLITS:
        split_info = info["splits"][split]
        seconds = split_info["seconds"]
        rate = split_info["num_images"] / seconds if seconds > 0 else 0.0
        lines.append("%s: %d images in %d shards, %d skipped, %.1f images/sec" % (
            split, split_info["num_images"], split_info["num_shards"],
            split_info["num_skipped"], rate))

    if info["skipped"]:
        lines.append("Skipped %d files that cannot be decoded:" % len(info["skipped"]))
        lines += ["  %s: %s" % (path, info["skip_reasons"][path]) for path in info["skipped"]]
    if info["num_decode_warnings"]:
        lines.append("Pillow raised %d warnings while decoding, such as: %s" % (
            info["num_decode_warnings"], info["decode_warning_examples"][0]))
    lines.append("Wrote %s" % dataset_info.info_path(info["arguments"]["output_dir"]))
    return lines


def define_flags(flag_values=flags.FLAGS):
    """Define the command-line flags.

    They are defined only when the module runs as a program, because other modules that
    tests import in the same process define flags such as --output_dir too.
    """
    flags.DEFINE_string("input_dir", None, "Folder that contains train/ and optionally val/.",
                        flag_values=flag_values)
    flags.DEFINE_string("output_dir", None, "Folder to write the shards and "
                        "dataset_info.json into.", flag_values=flag_values)
    flags.DEFINE_integer("train_shards", 1024, "Number of training shards, capped at the "
                         "number of images.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("validation_shards", 128, "Number of validation shards, capped at "
                         "the number of images.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("num_workers", None, "Number of threads that write shards at the "
                         "same time. Default: the number of CPU cores.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_string("imagenet_metadata_file", None, "File of synset<TAB>names lines, such "
                        "as imagenet_metadata.txt. Default: input_dir/synset_names.txt if it "
                        "exists, else the synset ids.", flag_values=flag_values)
    flags.DEFINE_boolean("strict", False, "Stop with an error at the first file that cannot "
                         "be decoded, instead of skipping it.", flag_values=flag_values)
    flags.DEFINE_boolean("overwrite", False, "Replace the shards and dataset_info.json that "
                         "output_dir already contains.", flag_values=flag_values)
    flags.DEFINE_integer("seed", DEFAULT_SEED, "Seed of the shuffle that assigns images to "
                         "shards.", flag_values=flag_values)
    flags.mark_flags_as_required(["input_dir", "output_dir"], flag_values=flag_values)


def main(argv):
    if len(argv) > 1:
        sys.exit("error: unexpected arguments %s. Pass options as --name=value." % argv[1:])

    flag_values = flags.FLAGS
    try:
        info = convert(flag_values.input_dir, flag_values.output_dir,
                       train_shards=flag_values.train_shards,
                       validation_shards=flag_values.validation_shards,
                       num_workers=flag_values.num_workers,
                       imagenet_metadata_file=flag_values.imagenet_metadata_file,
                       strict=flag_values.strict, overwrite=flag_values.overwrite,
                       seed=flag_values.seed)
    except InvalidInputError as error:
        sys.exit("error: %s" % error)

    for line in summary_lines(info):
        print(line)


if __name__ == "__main__":
    define_flags()
    app.run(main)
