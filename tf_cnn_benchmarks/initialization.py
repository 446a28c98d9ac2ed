"""Start a training run from published weights and freeze layers for fine-tuning.

--keras_weights (Keras Applications' HDF5 file) or --slim_checkpoint (TF-Slim's checkpoint)
set the initial weights of a run whose --train_dir has no checkpoint yet. When the file's
class count differs from the run's, the classifier layers keep their fresh initialization, so
a run fine-tunes the backbone on the user's own classes. --trainable_scopes restricts training
to layers whose names start with one of the given prefixes.
"""

from models import keras_h5
from models import slim_checkpoint

# Our classifier layers, whose shapes depend on the class count.
CLASSIFIER_LAYERS = ("logits", "aux_logits")


def log(message):
    print(message, flush=True)


def parse_trainable_scopes(text):
    """Return the list of layer-name prefixes in a comma-separated --trainable_scopes value."""
    if not text:
        return []
    return [scope.strip() for scope in text.split(",") if scope.strip()]


def apply_trainable_scopes(model, scopes_text):
    """Freeze every layer whose name starts with none of the --trainable_scopes prefixes.

    A frozen layer's variables leave `model.trainable_variables`, so the optimizer gets no
    slots for them, and a frozen batch norm runs in inference mode (its moving statistics
    stay as loaded), which is how Keras 2 and Keras 3 treat `layer.trainable = False`.
    Raises ValueError naming a prefix that matches no layer.
    """
    scopes = parse_trainable_scopes(scopes_text)
    if not scopes:
        return

    layers = [layer for layer in model.layers if layer.weights]
    for scope in scopes:
        if not any(layer.name.startswith(scope) for layer in layers):
            raise ValueError(
                "--trainable_scopes: %r matches no layer name. Use prefixes of InceptionV3's "
                "layer names, such as logits,aux_logits or mixed_7." % scope)

    frozen = 0
    for layer in layers:
        if not any(layer.name.startswith(scope) for scope in scopes):
            layer.trainable = False
            frozen += 1
    log("Trainable:   %d layers under --trainable_scopes=%s; %d layers frozen (their batch "
        "norm in inference mode)" % (len(layers) - frozen, ",".join(scopes), frozen))


def _model_num_classes(model):
    return int(model.get_layer("logits").kernel.shape[-1])


def _fresh_layers(model, file_classes, flag_name, path):
    """Return the classifier layers to leave fresh, and log them in one line when any."""
    num_classes = _model_num_classes(model)
    if file_classes is None or file_classes == num_classes:
        return []
    fresh = [name for name in CLASSIFIER_LAYERS
             if name in {layer.name for layer in model.layers}]
    log("Fine-tuning: %s=%s has %d classes and this run %d (--num_classes); left freshly "
        "initialized: %s" % (flag_name, path, file_classes, num_classes, ", ".join(fresh)))
    return fresh


def _fresh_aux_hidden(model, flag_values):
    """Return [the aux 5x5 layer] when its kernel shrank below TF-Slim's 299 x 299 shape."""
    names = {layer.name for layer in model.layers}
    if slim_checkpoint.AUX_HIDDEN_LAYER not in names:
        return []
    kernel = model.get_layer(slim_checkpoint.AUX_HIDDEN_LAYER).kernel
    stored = slim_checkpoint.aux_hidden_kernel_shape(flag_values.slim_checkpoint)
    if stored is None or tuple(stored) == tuple(kernel.shape):
        return []
    log("Fine-tuning: %s has kernel %s in the checkpoint and %s at --image_size=%d; left "
        "freshly initialized." % (slim_checkpoint.AUX_HIDDEN_LAYER, tuple(stored),
                                  tuple(kernel.shape), flag_values.image_size))
    return [slim_checkpoint.AUX_HIDDEN_LAYER]


def load_initial_weights(flag_values, model):
    """Load --keras_weights or --slim_checkpoint into `model`; return the LoadReport or None.

    Raises models.weights.WeightsError (a ValueError) naming the file on bad input.
    """
    if flag_values.keras_weights:
        path = flag_values.keras_weights
        skip = _fresh_layers(model, keras_h5.file_num_classes(path), "--keras_weights", path)
        report = keras_h5.load_keras_weights(model, path, skip_layers=skip)
    elif flag_values.slim_checkpoint:
        path = flag_values.slim_checkpoint
        skip = _fresh_layers(model, slim_checkpoint.checkpoint_num_classes(path),
                             "--slim_checkpoint", path)
        skip += _fresh_aux_hidden(model, flag_values)
        report = slim_checkpoint.load_slim_checkpoint(model, path, skip_layers=skip)
    else:
        return None

    log("Initial weights: %s" % report.summary())
    return report


def initialize_run(flag_values, model, weight_average=None):
    """Set the initial weights of a run that starts at step 0 (no checkpoint to resume).

    `weight_average` (the runner's moving average of the weights, or None) restarts from the
    loaded weights, so evaluation does not average them with the random initialization.
    """
    report = load_initial_weights(flag_values, model)
    if report is not None and weight_average is not None:
        weight_average.reset()
    return report


def note_ignored_initial_weights(flag_values):
    """Log that --keras_weights / --slim_checkpoint do nothing when a run resumes."""
    for flag_name in ("keras_weights", "slim_checkpoint"):
        if getattr(flag_values, flag_name):
            log("--%s ignored: the run resumes from its checkpoint in --train_dir."
                % flag_name)
