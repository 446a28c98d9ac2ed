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

# Settings that the variables do not depend on, so a resumed run may change them.
RESUMABLE_SETTINGS = ("batchnorm_decay", "batchnorm_epsilon", "data_dir")


def changed_settings(old_config, new_config):
    """Return a line for each RESUMABLE_SETTINGS value that differs between the two configs."""
    changes = []
    for name in RESUMABLE_SETTINGS:
        if name in old_config and old_config[name] != new_config[name]:
            changes.append("%s is %s in this run and was %s in the earlier run of the same "
                           "--train_dir; %s now records %s."
                           % (name, new_config[name], old_config[name], MODEL_CONFIG_FILENAME,
                              new_config[name]))
    return changes


def write_model_config(flag_values, num_classes):
    """Write the model settings of this run into --train_dir, replacing the file in one rename.

    Returns changed_settings against the file it replaces, so that a resumed run can log
    what it changed. An unreadable old file counts as no earlier settings.
    """
    config = {
        "model": "inception3",
        "num_classes": num_classes,
        "image_size": flag_values.image_size,
        "aux_logits": flag_values.aux_logits,
        "batchnorm_decay": flag_values.batchnorm_decay,
        "batchnorm_epsilon": flag_values.batchnorm_epsilon,
        "data_dir": os.path.abspath(flag_values.data_dir) if flag_values.data_dir else None,
    }
    try:
        old_config = read_model_config(flag_values.train_dir) or {}
    except ValueError:
        old_config = {}

    os.makedirs(flag_values.train_dir, exist_ok=True)
    dataset_info.write_json_atomically(
        os.path.join(flag_values.train_dir, MODEL_CONFIG_FILENAME), config)
    return changed_settings(old_config, config)


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
