"""Inception image preprocessing for training and evaluation.

Training takes a random crop that `tf.image.sample_distorted_bounding_box` picks around the
record's bounding boxes, flips it left-right at random (unless turned off) and resizes it.
Evaluation takes the central 87.5 % of the image and resizes it. Both return float32 images
scaled to [-1, 1], the input range of Inception models, or with output_dtype=tf.uint8 the
resized pixels rounded to uint8. Such batches are 4x smaller, and the model step then
applies scale_to_unit_range to them.

Both decode JPEG records with the fused `tf.image.decode_and_crop_jpeg`, which decodes only
the crop. Records of other tools may hold PNG, GIF or BMP, which are decoded whole and then
cropped. Every output has 3 channels, whatever the record contains (grayscale, CMYK, alpha).
Training can add TF-Slim's random colour distortion (data/color_distortion.py).
"""

import tensorflow as tf

from data import color_distortion

# Parameters of the Inception training crop, as in TensorFlow's reference ImageNet input
# pipelines: the crop covers 5-100 % of the image area, has an aspect ratio of 3/4 to 4/3
# and contains at least 10 % of one bounding box. After 100 failed attempts the sampler
# returns the whole image.
MIN_OBJECT_COVERED = 0.1
ASPECT_RATIO_RANGE = (0.75, 1.33)
AREA_RANGE = (0.05, 1.0)
MAX_ATTEMPTS = 100

# Fraction of the height and width that the evaluation crop keeps.
DEFAULT_EVAL_CROP_FRACTION = 0.875

# Methods of tf.image.resize that the pipeline accepts.
RESIZE_METHODS = ("bilinear", "bicubic", "area", "nearest", "lanczos3", "lanczos5",
                  "gaussian", "mitchellcubic")
DEFAULT_RESIZE_METHOD = "bilinear"

# Methods whose output cannot leave the input's value range. Bilinear interpolation is a
# convex combination of two pixels per axis with weights in [0, 1], and nearest copies
# pixels. Area is left out because its float rounding overshoots 255 slightly.
IN_RANGE_RESIZE_METHODS = ("bilinear", "nearest")

# Image dtypes that the preprocessing returns: float32 in [-1, 1], or uint8 in [0, 255].
OUTPUT_DTYPES = (tf.float32, tf.uint8)

# A box that covers the whole image, as [ymin, xmin, ymax, xmax] in [1, 1, 4] layout.
WHOLE_IMAGE_BOX = (((0.0, 0.0, 1.0, 1.0),),)


def scale_to_unit_range(image):
    """Map pixel values in [0, 255] to float32 in [-1, 1]."""
    return tf.cast(image, tf.float32) / 127.5 - 1.0


def check_output_dtype(output_dtype):
    """Return output_dtype as a tf.DType; raise ValueError unless it is float32 or uint8."""
    try:
        dtype = tf.as_dtype(output_dtype)
    except TypeError:
        dtype = None
    if dtype not in OUTPUT_DTYPES:
        raise ValueError("output_dtype must be tf.float32 (scaled to [-1, 1]) or tf.uint8 "
                         "(pixels in [0, 255]), got %r." % (output_dtype,))
    return dtype


def finish_image(image, output_dtype):
    """Scale a float32 image in [0, 255] to [-1, 1], or round it to uint8 for tf.uint8."""
    if output_dtype == tf.uint8:
        return tf.cast(tf.round(image), tf.uint8)
    return scale_to_unit_range(image)


def random_seed_pair():
    """Draw a seed for the stateless random ops from the stateful, unseeded generator."""
    return tf.random.uniform([2], minval=0, maxval=tf.int64.max, dtype=tf.int64)


def split_train_seed(seed):
    """Return (crop seed, flip seed), two independent stateless seeds made from `seed`."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    return crop_seed, flip_seed


def boxes_or_whole_image(bboxes):
    """Return `bboxes` ([1, n, 4]), or the whole-image box when the record has no box (n = 0).

    Coordinates are clipped to [0, 1] because `sample_distorted_bounding_box` rejects
    boxes outside the image.
    """
    bboxes = tf.clip_by_value(tf.cast(bboxes, tf.float32), 0.0, 1.0)
    whole_image = tf.constant(WHOLE_IMAGE_BOX, dtype=tf.float32)
    return tf.cond(tf.shape(bboxes)[1] > 0, lambda: bboxes, lambda: whole_image)


def distorted_crop_window(image_shape, bboxes, seed):
    """Return the training crop window [offset_y, offset_x, height, width] as int32.

    image_shape: [height, width, channels] of the encoded image.
    bboxes: float [1, n, 4] boxes as normalized [ymin, xmin, ymax, xmax], where n may be 0.
    seed: int32 or int64 tensor of shape [2] for the stateless sampler.
    """
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        image_shape,
        bounding_boxes=boxes_or_whole_image(bboxes),
        seed=seed,
        min_object_covered=MIN_OBJECT_COVERED,
        aspect_ratio_range=ASPECT_RATIO_RANGE,
        area_range=AREA_RANGE,
        max_attempts=MAX_ATTEMPTS,
        use_image_if_no_bounding_boxes=True)

    # `begin` and `size` are [y, x, channel], with channel entries 0 and -1.
    return tf.stack([begin[0], begin[1], size[0], size[1]])


def central_crop_window(image_shape, crop_fraction):
    """Return the centered crop window [offset_y, offset_x, height, width] as int32.

    The offsets are floor((side - side * crop_fraction) / 2) and the crop keeps
    side - 2 * offset pixels, so the crop is the one `tf.image.central_crop` takes.
    """
    sides = tf.cast(image_shape[:2], tf.float64)
    offsets = tf.cast((sides - sides * crop_fraction) / 2.0, tf.int32)
    sizes = tf.cast(image_shape[:2], tf.int32) - 2 * offsets
    return tf.stack([offsets[0], offsets[1], sizes[0], sizes[1]])


def check_resize_method(resize_method):
    if resize_method not in RESIZE_METHODS:
        raise ValueError("resize_method must be one of %s, got %r." % (
            ", ".join(RESIZE_METHODS), resize_method))


def resize(image, image_size, resize_method=DEFAULT_RESIZE_METHOD):
    """Resize `image` to image_size x image_size and return float32 values in [0, 255].

    The uint8 crop is cast to float32 before the resize because TensorFlow 2.21's bilinear
    kernel is about 1.7x faster on float32 input than on uint8 (a 260 x 270 crop to
    299 x 299 took 377 instead of 636 us on one AMD EPYC core), with bitwise the same output.
    The clip is for the methods that overshoot, such as bicubic, lanczos and area (which
    returned 255.0007 from uint8 pixels). Bilinear and nearest values cannot leave
    [0, 255], so they skip it.
    """
    if resize_method != "nearest":
        image = tf.cast(image, tf.float32)
    image = tf.image.resize(image, [image_size, image_size], method=resize_method)
    image = tf.cast(image, tf.float32)
    if resize_method not in IN_RANGE_RESIZE_METHODS:
        image = tf.clip_by_value(image, 0.0, 255.0)
    image.set_shape([image_size, image_size, 3])
    return image


def resize_and_scale(image, image_size, resize_method=DEFAULT_RESIZE_METHOD):
    """Resize `image` to image_size x image_size and scale it to [-1, 1]."""
    return scale_to_unit_range(resize(image, image_size, resize_method))


def decode_crop(image_buffer, window_of_shape):
    """Decode the crop window_of_shape([height, width, channels]) of an encoded image.

    JPEG uses the fused decode_and_crop_jpeg. Other formats are decoded whole (the first
    frame of a GIF) and sliced. Returns uint8 [crop height, crop width, 3].
    """
    def from_jpeg():
        window = window_of_shape(tf.image.extract_jpeg_shape(image_buffer))
        return tf.image.decode_and_crop_jpeg(image_buffer, window, channels=3)

    def from_other_format():
        image = tf.io.decode_image(image_buffer, channels=3, expand_animations=False)
        window = window_of_shape(tf.shape(image))
        return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], 3])

    image = tf.cond(tf.io.is_jpeg(image_buffer), from_jpeg, from_other_format)
    image.set_shape([None, None, 3])
    return image


def preprocess_for_train(image_buffer, bboxes, image_size, seed=None,
                         resize_method=DEFAULT_RESIZE_METHOD, distort_color=False,
                         flip_left_right=True, output_dtype=tf.float32):
    """Decode a random Inception crop of an image, flip it at random, resize and scale it.

    image_buffer: scalar string tensor with the encoded image (JPEG, or PNG, GIF, BMP).
    bboxes: float [1, n, 4] boxes as normalized [ymin, xmin, ymax, xmax]. With n = 0 the
        crop is sampled around the whole image.
    seed: int tensor of shape [2]. The same seed gives the same crop, flip and colours.
        None draws one from the global random generator.
    distort_color: apply TF-Slim's random brightness, saturation, hue and contrast.
    flip_left_right: mirror half of the crops at random. Turn it off for images whose mirror
        is another class or no valid image, such as digits and text. The crop and the
        colours of a seed are the same either way.
    output_dtype: tf.float32 or tf.uint8, see finish_image.
    Returns a float32 tensor [image_size, image_size, 3] in [-1, 1], or uint8 in [0, 255].
    """
    check_resize_method(resize_method)
    output_dtype = check_output_dtype(output_dtype)
    if seed is None:
        seed = random_seed_pair()
    crop_seed, flip_seed = split_train_seed(seed)

    image = decode_crop(image_buffer,
                        lambda shape: distorted_crop_window(shape, bboxes, crop_seed))
    if flip_left_right:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    image = resize(image, image_size, resize_method)
    if distort_color:
        color_seed = tf.random.experimental.stateless_split(flip_seed, num=1)[0]
        image = color_distortion.distort_color(image / 255.0, color_seed) * 255.0
    return finish_image(image, output_dtype)


def preprocess_for_eval(image_buffer, image_size, eval_crop_fraction=DEFAULT_EVAL_CROP_FRACTION,
                        resize_method=DEFAULT_RESIZE_METHOD, output_dtype=tf.float32):
    """Decode the central `eval_crop_fraction` of an image's height and width, resize, scale.

    Returns a float32 tensor [image_size, image_size, 3] in [-1, 1], or for
    output_dtype=tf.uint8 the resized pixels rounded to uint8.
    Raises ValueError when eval_crop_fraction is not in (0, 1], resize_method is unknown or
    output_dtype is neither float32 nor uint8.
    """
    if not 0.0 < eval_crop_fraction <= 1.0:
        raise ValueError(
            "eval_crop_fraction must be in (0, 1], got %r." % (eval_crop_fraction,))
    check_resize_method(resize_method)
    output_dtype = check_output_dtype(output_dtype)

    image = decode_crop(image_buffer,
                        lambda shape: central_crop_window(shape, eval_crop_fraction))
    return finish_image(resize(image, image_size, resize_method), output_dtype)
