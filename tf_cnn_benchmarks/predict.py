"""Classify image files with a training run: `python -m tf_cnn_benchmarks.predict
--train_dir=DIR image.jpg [image2.png ...]`.

Prints the top-5 classes of each image with their probabilities, and the synset and names
from the converter's dataset_info.json when the run's --data_dir has one. Uses the latest
checkpoint (its moving-average weights when it has them) and the evaluation preprocessing.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import tensorflow as tf  # noqa: E402

from tf_cnn_benchmarks import inference  # noqa: E402

TOP_K = 5


def read_image(path):
    """Return the image at `path` as uint8 [height, width, 3]; raise InferenceError naming it."""
    if not os.path.isfile(path):
        raise inference.InferenceError("image %s not found." % path)
    with open(path, "rb") as image_file:
        encoded = image_file.read()
    try:
        return tf.io.decode_image(encoded, channels=3, expand_animations=False)
    except tf.errors.InvalidArgumentError as error:
        raise inference.InferenceError(
            "%s cannot be decoded as JPEG, PNG, GIF or BMP (%s)."
            % (path, str(error).strip().splitlines()[0])) from error


def classify(model, image, image_size, top_k=TOP_K):
    """Return [(class index, probability)] of the `top_k` classes of one uint8 image."""
    inputs = inference.preprocess_batch(image[tf.newaxis], image_size)
    probabilities = tf.nn.softmax(inference.logits_of(model(inputs, training=False)))[0]
    top = tf.math.top_k(probabilities, k=min(top_k, int(probabilities.shape[0])))
    return list(zip(top.indices.numpy().tolist(), top.values.numpy().tolist()))


def format_prediction(rank, class_index, probability, labels):
    line = "  %d. class %4d  %.4f" % (rank, class_index, probability)
    if labels is not None and class_index < len(labels):
        synset, names = labels[class_index]
        line += "  %s  %s" % (synset, names)
    return line


def predict(train_dir, image_paths):
    """Print the top-5 classes of each image in `image_paths`."""
    images = [read_image(path) for path in image_paths]
    model, config, checkpoint, used_ema = inference.load_trained_model(train_dir)
    labels = inference.class_labels(config)
    print("Checkpoint %s (%s)%s" % (checkpoint, "moving-average weights" if used_ema
                                     else "trained weights",
                                     "" if labels else "; no dataset_info.json for names"))
    for path, image in zip(image_paths, images):
        print(path)
        for rank, (class_index, probability) in enumerate(
                classify(model, image, config["image_size"]), start=1):
            print(format_prediction(rank, class_index, probability, labels))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tf_cnn_benchmarks.predict",
        description="Print the top-5 classes of image files with a trained run.")
    parser.add_argument("--train_dir", required=True, help="Folder of the training run.")
    parser.add_argument("images", nargs="+", help="Image files (JPEG, PNG, GIF or BMP).")
    arguments = parser.parse_args(argv)
    try:
        predict(arguments.train_dir, arguments.images)
    except ValueError as error:  # InferenceError and invalid dataset_info.json
        sys.exit("error: %s" % error)


if __name__ == "__main__":
    main()
