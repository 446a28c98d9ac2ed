"""Export a training run for serving: `python -m tf_cnn_benchmarks.export --train_dir=DIR
--export_dir=OUT`.

OUT receives, from the latest checkpoint in DIR (its moving-average weights when it has them):

    saved_model/    a SavedModel with two signatures, both with the evaluation preprocessing
                    inside (central 87.5 % crop, bilinear resize, scaling to [-1, 1]):
                    serving_default: uint8 images [batch, height, width, 3]
                    serving_float:   float32 images [batch, height, width, 3] in [0, 1]
                    Outputs: probabilities [batch, classes], top_5_classes (int32 class
                    indices) and top_5_probabilities, each [batch, 5] (fewer columns for
                    a model of fewer than 5 classes).
    weights.h5      the weights in Keras 2's HDF5 layout under this project's layer names
    model_config.json  the run's model settings

OUT is written under a temporary name and renamed when complete; an existing OUT is an error.
"""

import argparse
import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import tensorflow as tf  # noqa: E402

from models import keras_h5  # noqa: E402
from tf_cnn_benchmarks import inference  # noqa: E402

TOP_K = 5


class ServingModule(tf.Module):
    """The model behind two serving signatures, uint8 and float images."""

    def __init__(self, model, image_size):
        super().__init__(name="inception_v3_serving")
        self.model = model
        self.image_size = image_size
        self.top_k = min(TOP_K, int(model.get_layer("logits").kernel.shape[-1]))

    def _predict(self, images):
        inputs = inference.preprocess_batch(images, self.image_size)
        logits = inference.logits_of(self.model(inputs, training=False))
        probabilities = tf.nn.softmax(logits)
        top = tf.math.top_k(probabilities, k=self.top_k)
        return {"probabilities": probabilities, "top_5_classes": top.indices,
                "top_5_probabilities": top.values}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8,
                                                name="images")])
    def serve_uint8(self, images):
        return self._predict(images)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                name="images")])
    def serve_float(self, images):
        return self._predict(images)


def write_export(model, config, export_dir):
    """Write the SavedModel, weights.h5 and model_config.json into `export_dir`."""
    module = ServingModule(model, config["image_size"])
    tf.saved_model.save(module, os.path.join(export_dir, "saved_model"),
                        signatures={"serving_default": module.serve_uint8,
                                    "serving_float": module.serve_float})
    keras_h5.save_keras_h5(model, os.path.join(export_dir, "weights.h5"))
    shutil.copy(os.path.join(config["train_dir"], inference.MODEL_CONFIG_FILENAME),
                os.path.join(export_dir, inference.MODEL_CONFIG_FILENAME))


def export(train_dir, export_dir):
    """Export the latest checkpoint of `train_dir` into `export_dir`; return the checkpoint."""
    if os.path.exists(export_dir):
        raise inference.InferenceError(
            "--export_dir=%s already exists. Remove it or choose another folder." % export_dir)

    model, config, path, used_ema = inference.load_trained_model(train_dir)
    config = dict(config, train_dir=train_dir)
    print("Exporting %s (%s)" % (path, "moving-average (EMA) weights" if used_ema
                                 else "trained weights; the checkpoint has no moving average"),
          flush=True)

    parent = os.path.dirname(os.path.abspath(export_dir))
    os.makedirs(parent, exist_ok=True)
    temporary_dir = "%s.tmp-%d" % (os.path.abspath(export_dir), os.getpid())
    try:
        os.makedirs(temporary_dir)
        write_export(model, config, temporary_dir)
        os.replace(temporary_dir, export_dir)
    finally:
        if os.path.isdir(temporary_dir):
            shutil.rmtree(temporary_dir)
    print("Exported SavedModel %s and weights %s" % (
        os.path.join(export_dir, "saved_model"), os.path.join(export_dir, "weights.h5")),
        flush=True)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tf_cnn_benchmarks.export",
        description="Export the latest checkpoint of a training run as a SavedModel and .h5.")
    parser.add_argument("--train_dir", required=True, help="Folder of the training run.")
    parser.add_argument("--export_dir", required=True,
                        help="Output folder; must not exist yet.")
    arguments = parser.parse_args(argv)
    try:
        export(arguments.train_dir, arguments.export_dir)
    except ValueError as error:  # InferenceError and invalid dataset_info.json
        sys.exit("error: %s" % error)


if __name__ == "__main__":
    main()
