"""Convert an ImageNet folder into the standard ImageNet TFRecord shards, or verify shards.

    python -m data.build_imagenet_tfrecord --input_dir=demo/imagenet_raw \\
        --output_dir=imagenet_tfrecord [--num_workers=8] [--bounding_box_dir=DIR]
    python -m data.build_imagenet_tfrecord --verify --output_dir=imagenet_tfrecord

The input folder has `train/<synset>/*.JPEG` and optionally `val/<synset>/*.JPEG`, or list
files as described in data/image_files.py, or it is the Kaggle ImageNet download
(data/kaggle_layout.py). The output folder gets `train-00000-of-01024` ... and
`validation-00000-of-00128` ... shards of tf.train.Example records with the keys of the
standard ImageNet converter, and `dataset_info.json` (see data/dataset_info.py).

Labels are `--label_offset` + the index of the synset in sorted order (or the order of
`--synsets_file`). The default offset 1 keeps label 0 for the background class of the
standard layout. Files that cannot be decoded are skipped and listed in the summary,
unless `--strict`.

This module imports TensorFlow only inside functions, because the decode worker processes
start by importing the program's main module.
"""

import sys

from absl import app
from absl import flags

from data import dataset_info
from data.image_files import InvalidInputError

SPLITS = ("train", "validation")

# The default of data.conversion.DEFAULT_SEED, repeated so that this module loads without
# TensorFlow.
DEFAULT_SEED = 12345


def convert(input_dir, output_dir, **options):
    """Run data.conversion.convert (see there for the options and errors)."""
    from data import conversion

    return conversion.convert(input_dir, output_dir, **options)


def box_summary(split, boxes):
    dropped = ", ".join("%d %s" % (count, reason) for reason, count in
                        sorted(boxes["dropped"].items()) if count)
    return "%s boxes: %d in %d images from %d XML files, %d clipped to the image, dropped: %s" % (
        split, boxes["num_boxes"], boxes["num_images_with_boxes"], boxes["num_xml_files"],
        boxes["num_clipped"], dropped or "none")


def summary_lines(info):
    """Return the lines that report a conversion: one per split, then skipped files."""
    lines = []
    for split in SPLITS:
        split_info = info["splits"][split]
        lines.append("%s: %d images in %d shards, %d skipped, %d re-encoded, %.1f images/sec" % (
            split, split_info["num_images"], split_info["num_shards"],
            split_info["num_skipped"], split_info["num_reencoded"],
            split_info["images_per_sec"]))
        if info["arguments"].get("bounding_box_dir") and split_info["num_images"]:
            lines.append(box_summary(split, split_info["boxes"]))

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
    flags.DEFINE_string("input_dir", None, "Folder that contains train/ and optionally val/, "
                        "or the Kaggle ImageNet folder.", flag_values=flag_values)
    flags.DEFINE_string("output_dir", None, "Folder to write the shards and "
                        "dataset_info.json into, or to verify with --verify.",
                        flag_values=flag_values)
    flags.DEFINE_integer("train_shards", 1024, "Number of training shards, capped at the "
                         "number of images.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("validation_shards", 128, "Number of validation shards, capped at "
                         "the number of images.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("num_workers", None, "Number of processes that decode images. "
                         "Default: the number of CPU cores.", lower_bound=1,
                         flag_values=flag_values)
    flags.DEFINE_string("imagenet_metadata_file", None, "File of synset<TAB>names lines, such "
                        "as imagenet_metadata.txt. Default: input_dir/synset_names.txt if it "
                        "exists, else the synset ids.", flag_values=flag_values)
    flags.DEFINE_string("synsets_file", None, "File with one synset id per line that sets the "
                        "label order. Default: the sorted class folder names.",
                        flag_values=flag_values)
    flags.DEFINE_string("bounding_box_dir", None, "Folder of PASCAL VOC .xml box files named "
                        "after the images, searched recursively.", flag_values=flag_values)
    flags.DEFINE_integer("label_offset", 1, "Label of the first synset: 1 keeps 0 for "
                         "background (the standard layout), 0 gives 0-based labels.",
                         flag_values=flag_values)
    flags.DEFINE_boolean("strict", False, "Stop with an error at the first file that cannot "
                         "be decoded, instead of skipping it.", flag_values=flag_values)
    flags.DEFINE_boolean("overwrite", False, "Replace the shards and dataset_info.json that "
                         "output_dir already contains.", flag_values=flag_values)
    flags.DEFINE_integer("seed", DEFAULT_SEED, "Seed of the shuffle that assigns images to "
                         "shards.", flag_values=flag_values)
    flags.DEFINE_boolean("verify", False, "Re-read the shards in --output_dir and report "
                         "every problem instead of converting.", flag_values=flag_values)
    flags.mark_flag_as_required("output_dir", flag_values=flag_values)


def run_verify(output_dir):
    from data import verify_shards

    lines, problems = verify_shards.verify(output_dir)
    for line in lines:
        print(line)
    for problem in problems:
        print("problem: %s" % problem)
    if problems:
        sys.exit("error: %s found in %s. If the shards were copied, copy the "
                 "damaged ones again. Otherwise convert again with the same arguments and "
                 "--overwrite, which keeps the current files until the new conversion is "
                 "complete." % (verify_shards.count_text(len(problems), "problem"),
                                output_dir))
    print("No problems found in %s" % output_dir)


def main(argv):
    if len(argv) > 1:
        sys.exit("error: unexpected arguments %s. Pass options as --name=value." % argv[1:])

    flag_values = flags.FLAGS
    if flag_values.verify:
        run_verify(flag_values.output_dir)
        return
    if flag_values.input_dir is None:
        sys.exit("error: --input_dir is required to convert. Pass --verify to check shards.")

    try:
        info = convert(flag_values.input_dir, flag_values.output_dir,
                       train_shards=flag_values.train_shards,
                       validation_shards=flag_values.validation_shards,
                       num_workers=flag_values.num_workers,
                       imagenet_metadata_file=flag_values.imagenet_metadata_file,
                       strict=flag_values.strict, overwrite=flag_values.overwrite,
                       seed=flag_values.seed, label_offset=flag_values.label_offset,
                       synsets_file=flag_values.synsets_file,
                       bounding_box_dir=flag_values.bounding_box_dir)
    except InvalidInputError as error:
        sys.exit("error: %s" % error)

    for line in summary_lines(info):
        print(line)


if __name__ == "__main__":
    define_flags()
    app.run(main)
