"""The training loss: label-smoothed cross entropy on the main and auxiliary logits plus L2
weight decay on convolution and dense kernels."""

import tensorflow as tf


def smoothed_cross_entropy(labels, logits, label_smoothing):
    """Return the mean softmax cross entropy of `logits` against integer `labels`, with the
    one-hot targets smoothed towards the uniform distribution by `label_smoothing`."""
    num_classes = tf.shape(logits)[-1]
    one_hot = tf.one_hot(labels, num_classes, dtype=tf.float32)
    targets = one_hot * (1.0 - label_smoothing) + label_smoothing / tf.cast(num_classes,
                                                                               tf.float32)
    losses = tf.nn.softmax_cross_entropy_with_logits(labels=targets,
                                                     logits=tf.cast(logits, tf.float32))
    return tf.reduce_mean(losses)


def regularized_kernels(model):
    """Return the kernels of the model's convolution and dense layers.

    Batch-norm offsets and biases are left out, as TF-Slim's InceptionV3 regularizes only
    weights. Layers frozen by --trainable_scopes are left out too: their decay term would be a
    constant that only inflates the reported loss.
    """
    kernels = []
    for layer in model.layers:
        if isinstance(layer, (tf.keras.layers.Conv2D, tf.keras.layers.Dense)) and \
                layer.trainable:
            kernels.append(layer.kernel)
    return kernels


def weight_decay_loss(kernels, weight_decay):
    """Return weight_decay * sum(tf.nn.l2_loss(kernel)); l2_loss is half the sum of squares."""
    if not weight_decay or not kernels:
        return tf.constant(0.0)
    return weight_decay * tf.add_n([tf.nn.l2_loss(kernel) for kernel in kernels])


def total_loss(labels, logits, aux_logits, kernels, label_smoothing, aux_loss_weight,
               weight_decay):
    """Return a dict of the loss terms; `total_loss` is the one to minimize."""
    cross_entropy = smoothed_cross_entropy(labels, logits, label_smoothing)
    terms = {"cross_entropy": cross_entropy}
    total = cross_entropy

    if aux_logits is not None:
        aux_cross_entropy = smoothed_cross_entropy(labels, aux_logits, label_smoothing)
        terms["aux_cross_entropy"] = aux_cross_entropy
        total += aux_loss_weight * aux_cross_entropy

    regularization = weight_decay_loss(kernels, weight_decay)
    terms["weight_decay_loss"] = regularization
    terms["total_loss"] = total + regularization
    return terms
