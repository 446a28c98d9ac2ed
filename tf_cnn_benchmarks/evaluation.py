"""Top-1 and top-5 accuracy over the validation shards."""

import time

import tensorflow as tf


def _logits_only(outputs):
    # Models with the auxiliary head return [logits, aux_logits]; evaluation uses the main one.
    if isinstance(outputs, (list, tuple)):
        return outputs[0]
    return outputs


def make_eval_step(model):
    @tf.function
    def eval_step(images, labels):
        logits = tf.cast(_logits_only(model(images, training=False)), tf.float32)
        labels = tf.cast(labels, tf.int32)
        top_1 = tf.math.in_top_k(labels, logits, 1)
        top_5 = tf.math.in_top_k(labels, logits, min(5, logits.shape[-1]))
        return (tf.reduce_sum(tf.cast(top_1, tf.int64)),
                tf.reduce_sum(tf.cast(top_5, tf.int64)),
                tf.shape(labels, out_type=tf.int64)[0])

    return eval_step


def evaluate(eval_step, dataset, max_images=None):
    """Return a dict with top_1_accuracy, top_5_accuracy, num_images and images_per_sec.

    Scores every image the dataset yields once, or the first `max_images` of them.
    """
    correct_top_1 = 0
    correct_top_5 = 0
    num_images = 0
    start = time.time()

    for images, labels in dataset:
        if max_images is not None and num_images + int(labels.shape[0]) > max_images:
            keep = max_images - num_images
            images, labels = images[:keep], labels[:keep]
        top_1, top_5, count = eval_step(images, labels)
        correct_top_1 += int(top_1)
        correct_top_5 += int(top_5)
        num_images += int(count)
        if max_images is not None and num_images >= max_images:
            break

    seconds = time.time() - start
    if num_images == 0:
        raise ValueError("the validation dataset yielded no images.")
    return {
        "top_1_accuracy": correct_top_1 / num_images,
        "top_5_accuracy": correct_top_5 / num_images,
        "num_images": num_images,
        "images_per_sec": num_images / max(seconds, 1e-9),
    }
