"""model_config.json in --train_dir: the settings that rebuild the model of a checkpoint.

Evaluation, export and prediction read it, so a user does not have to repeat --num_classes,
--image_size and --aux_logits of the training run.
"""

import json
import os

from data import dataset_info

MODEL_CONFIG_FILENAME = "model_config.json"

# Flags that change the model's variables, so they must match the checkpoint.
MODEL_FLAGS = ("num_classes", "image_size", "aux_logits")


def write_model_config(flag_values, num_classes):
    """Write the model settings of this run into --train_dir, replacing the file in one rename."""
    config = {
        "model": "inception3",
        "num_classes": num_classes,
        "image_size": flag_values.image_size,
        "aux_logits": flag_values.aux_logits,
        "batchnorm_decay": flag_values.batchnorm_decay,
        "batchnorm_epsilon": flag_values.batchnorm_epsilon,
        "data_dir": os.path.abspath(flag_values.data_dir) if flag_values.data_dir else None,
    }
    os.makedirs(flag_values.train_dir, exist_ok=True)
    dataset_info.write_json_atomically(
        os.path.join(flag_values.train_dir, MODEL_CONFIG_FILENAME), config)


def read_model_config(train_dir):
    """Return the model settings a training run wrote into `train_dir`, or None."""
    path = os.path.join(train_dir, MODEL_CONFIG_FILENAME)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as config_file:
        try:
            return json.load(config_file)
        except json.JSONDecodeError as error:
            raise ValueError("%s is not valid JSON (%s); delete it, and pass --num_classes, "
                             "--image_size and --aux_logits yourself." % (path, error)) from error


def apply_model_config(flag_values, config):
    """Set the model flags the command line left out from `config`; return the names set."""
    applied = []
    for name in MODEL_FLAGS:
        if name in config and not flag_values[name].present:
            setattr(flag_values, name, config[name])
            applied.append("--%s=%s" % (name, config[name]))
    return applied
