"""Tests of the Inception training and evaluation preprocessing on real JPEG encodings."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data import inception_preprocessing as preprocessing

pytestmark = pytest.mark.keras3

# Crop samples drawn per property test. Each takes about a millisecond on CPU.
NUM_SEEDS = 50

# JPEG at quality 100 without chroma subsampling changed the gradients below by at most 5
# levels of 255 (Pillow and TensorFlow's libjpeg-turbo). In [-1, 1] units one level is
# 1 / 127.5. The gradients rise 8 levels per pixel, so a crop one pixel off exceeds this.
JPEG_TOLERANCE = 6 / 127.5


def encode_jpeg(pixels):
    """Return JPEG bytes of a uint8 array [height, width] or [height, width, 3]."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=100, subsampling=0)
    return buffer.getvalue()


def gradient_image(height, width, step):
    """Return an RGB uint8 image whose red grows `step` per column and green per row."""
    rows, columns = np.mgrid[0:height, 0:width]
    pixels = np.stack([columns * step, rows * step, np.full_like(rows, 128)], axis=-1)
    return pixels.astype(np.uint8)


def to_unit_range(pixels):
    return pixels.astype(np.float32) / 127.5 - 1.0


def decoded(jpeg_bytes):
    """Return the full image as TensorFlow's JPEG decoder gives it, uint8 [height, width, 3]."""
    return tf.io.decode_jpeg(jpeg_bytes, channels=3).numpy()


def window_of(image_shape, bboxes, seed):
    window = preprocessing.distorted_crop_window(
        tf.constant(image_shape, tf.int32), tf.constant(bboxes, tf.float32),
        tf.constant([seed, 7], tf.int64))
    return window.numpy()


def test_scale_maps_byte_range():
    scaled = preprocessing.scale_to_unit_range(tf.constant([0.0, 127.5, 255.0])).numpy()
    np.testing.assert_allclose(scaled, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("method", preprocessing.RESIZE_METHODS)
def test_resize_matches_uint8_resize(method):
    # resize() casts the uint8 crop to float32 first because the float kernel is faster.
    # Its values must still be those of tf.image.resize on the uint8 crop, clipped.
    pixels = np.random.default_rng(3).integers(0, 256, size=(61, 83, 3), dtype=np.uint8)

    for image_size in (40, 107):
        expected = tf.image.resize(tf.constant(pixels), [image_size, image_size], method)
        expected = tf.clip_by_value(tf.cast(expected, tf.float32), 0.0, 255.0).numpy()
        image = preprocessing.resize(tf.constant(pixels), image_size, method).numpy()
        np.testing.assert_array_equal(image, expected, err_msg="size %d" % image_size)


@pytest.mark.parametrize("method", preprocessing.IN_RANGE_RESIZE_METHODS)
def test_in_range_methods_stay_in_range(method):
    # Black and white stripes one pixel wide are the worst case for overshoot.
    stripes = np.zeros((37, 53, 3), dtype=np.uint8)
    stripes[:, ::2] = 255
    stripes[::2] = 255 - stripes[::2]

    for image_size in (20, 75, 107):
        image = tf.image.resize(tf.constant(stripes, tf.float32), [image_size, image_size],
                                method).numpy()
        assert image.min() >= 0.0, image_size
        assert image.max() <= 255.0, image_size


def test_eval_square_crop_is_central():
    # 32 x 32 at fraction 0.875 keeps rows and columns 2..29, which is 28 x 28, so an output
    # of 28 pixels needs no resampling.
    pixels = gradient_image(32, 32, step=8)
    jpeg_bytes = encode_jpeg(pixels)

    image = preprocessing.preprocess_for_eval(jpeg_bytes, image_size=28).numpy()

    expected = to_unit_range(decoded(jpeg_bytes)[2:30, 2:30])
    np.testing.assert_allclose(image, expected, atol=1e-6)
    source = to_unit_range(pixels[2:30, 2:30])
    assert np.abs(image - source).max() <= JPEG_TOLERANCE


def test_eval_crop_off_by_one_detected():
    # Guards the test above: a crop one row off moves the green gradient by 8 levels.
    pixels = gradient_image(32, 32, step=8)
    image = preprocessing.preprocess_for_eval(encode_jpeg(pixels), image_size=28).numpy()

    shifted = to_unit_range(pixels[3:31, 2:30])
    assert np.abs(image - shifted).max() > JPEG_TOLERANCE


def test_eval_wide_crop_then_resize():
    # 48 x 80 at fraction 0.5 keeps rows 12..35 and columns 20..59.
    pixels = gradient_image(48, 80, step=3)
    jpeg_bytes = encode_jpeg(pixels)

    image = preprocessing.preprocess_for_eval(
        jpeg_bytes, image_size=32, eval_crop_fraction=0.5).numpy()

    crop = decoded(jpeg_bytes)[12:36, 20:60]
    expected = tf.image.resize(crop, [32, 32], method="bilinear").numpy() / 127.5 - 1.0
    np.testing.assert_allclose(image, expected, atol=1e-5)


@pytest.mark.parametrize("height, width, fraction", [
    (101, 37, 0.875), (299, 299, 0.875), (10, 11, 0.5), (7, 7, 1.0)])
def test_eval_window_matches_central_crop(height, width, fraction):
    pixels = np.arange(height * width, dtype=np.int32).reshape(height, width, 1)

    offset_y, offset_x, crop_height, crop_width = preprocessing.central_crop_window(
        tf.constant([height, width, 1]), fraction).numpy()

    expected = tf.image.central_crop(pixels, fraction).numpy()
    np.testing.assert_array_equal(
        pixels[offset_y:offset_y + crop_height, offset_x:offset_x + crop_width], expected)


@pytest.mark.parametrize("fraction", [0.0, -0.5, 1.5])
def test_eval_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="eval_crop_fraction"):
        preprocessing.preprocess_for_eval(encode_jpeg(gradient_image(8, 8, 1)), 8, fraction)


def test_train_window_honors_box():
    height, width = 200, 300
    ymin, xmin, ymax, xmax = 0.3, 0.4, 0.5, 0.6
    box_area = (ymax - ymin) * height * (xmax - xmin) * width

    for seed in range(NUM_SEEDS):
        top, left, crop_height, crop_width = window_of(
            [height, width, 3], [[[ymin, xmin, ymax, xmax]]], seed)

        assert top >= 0, seed
        assert left >= 0, seed
        assert top + crop_height <= height, seed
        assert left + crop_width <= width, seed
        overlap_height = min(top + crop_height, ymax * height) - max(top, ymin * height)
        overlap_width = min(left + crop_width, xmax * width) - max(left, xmin * width)
        covered = max(overlap_height, 0) * max(overlap_width, 0) / box_area
        # One pixel of rounding on each side of a 40 x 60 box is under 5 %.
        assert covered >= 0.1 - 0.05, seed


def test_train_window_shape_limits():
    height, width = 200, 300
    for seed in range(NUM_SEEDS):
        _, _, crop_height, crop_width = window_of([height, width, 3], [[[0.3, 0.4, 0.5, 0.6]]],
                                                  seed)
        whole_image = crop_height == height and crop_width == width

        area_fraction = crop_height * crop_width / (height * width)
        assert area_fraction >= preprocessing.AREA_RANGE[0] - 0.01, seed
        # The sampler rounds sizes to whole pixels, and returns the whole image (aspect
        # ratio 1.5) when all attempts fail.
        aspect_ratio = crop_width / crop_height
        assert whole_image or 0.7 <= aspect_ratio <= 1.4, (seed, aspect_ratio)


def test_train_window_without_boxes():
    height, width = 120, 160
    windows = [window_of([height, width, 3], np.zeros([1, 0, 4]), seed)
               for seed in range(NUM_SEEDS)]

    # The whole image is the box, so every crop keeps at least 10 % of it.
    for window in windows:
        assert window[2] * window[3] >= 0.1 * height * width - height - width, window
    assert any(window[2] * window[3] < height * width for window in windows)


def test_train_box_outside_image_clipped():
    window = window_of([100, 100, 3], [[[-0.2, 0.5, 0.9, 1.3]]], seed=0)
    assert window[0] + window[2] <= 100
    assert window[1] + window[3] <= 100


@pytest.mark.parametrize("image_size", [75, 107])
def test_train_output_shape_and_range(image_size):
    jpeg_bytes = encode_jpeg(gradient_image(90, 130, step=1))

    image = preprocessing.preprocess_for_train(
        jpeg_bytes, tf.zeros([1, 0, 4]), image_size, seed=tf.constant([1, 2], tf.int64))

    assert image.dtype == tf.float32
    assert image.shape == (image_size, image_size, 3)
    assert float(tf.reduce_min(image)) >= -1.0
    assert float(tf.reduce_max(image)) <= 1.0


def test_train_is_crop_or_flipped_crop():
    jpeg_bytes = encode_jpeg(gradient_image(90, 130, step=1))
    bboxes = tf.constant([[[0.1, 0.2, 0.8, 0.9]]])
    flipped_seen, unflipped_seen = False, False

    for seed in range(10):
        seed_pair = tf.constant([seed, 3], tf.int64)
        image = preprocessing.preprocess_for_train(jpeg_bytes, bboxes, 48, seed=seed_pair)

        crop_seed, _ = preprocessing.split_train_seed(seed_pair)
        top, left, height, width = preprocessing.distorted_crop_window(
            tf.image.extract_jpeg_shape(jpeg_bytes), bboxes, crop_seed).numpy()
        crop = decoded(jpeg_bytes)[top:top + height, left:left + width]
        plain = preprocessing.resize_and_scale(crop, 48).numpy()
        mirrored = preprocessing.resize_and_scale(crop[:, ::-1], 48).numpy()

        is_plain = np.allclose(image, plain, atol=1e-5)
        is_mirrored = np.allclose(image, mirrored, atol=1e-5)
        assert is_plain or is_mirrored, seed
        unflipped_seen = unflipped_seen or is_plain
        flipped_seen = flipped_seen or is_mirrored

    assert unflipped_seen
    assert flipped_seen


def test_train_flip_off_is_plain_crop():
    jpeg_bytes = encode_jpeg(gradient_image(90, 130, step=1))
    bboxes = tf.constant([[[0.1, 0.2, 0.8, 0.9]]])

    for seed in range(10):
        seed_pair = tf.constant([seed, 3], tf.int64)
        image = preprocessing.preprocess_for_train(jpeg_bytes, bboxes, 48, seed=seed_pair,
                                                   flip_left_right=False)

        crop_seed, _ = preprocessing.split_train_seed(seed_pair)
        top, left, height, width = preprocessing.distorted_crop_window(
            tf.image.extract_jpeg_shape(jpeg_bytes), bboxes, crop_seed).numpy()
        crop = decoded(jpeg_bytes)[top:top + height, left:left + width]
        plain = preprocessing.resize_and_scale(crop, 48).numpy()
        np.testing.assert_allclose(image, plain, atol=1e-5, err_msg="seed %d" % seed)


def test_train_same_seed_same_image():
    jpeg_bytes = encode_jpeg(gradient_image(90, 130, step=1))
    seed = tf.constant([4, 4], tf.int64)

    first = preprocessing.preprocess_for_train(jpeg_bytes, tf.zeros([1, 0, 4]), 40, seed=seed)
    second = preprocessing.preprocess_for_train(jpeg_bytes, tf.zeros([1, 0, 4]), 40, seed=seed)
    np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_train_unseeded_runs():
    jpeg_bytes = encode_jpeg(gradient_image(90, 130, step=1))
    image = preprocessing.preprocess_for_train(jpeg_bytes, tf.zeros([1, 0, 4]), 40)
    assert image.shape == (40, 40, 3)


def test_uint8_output_is_rounded_float():
    jpeg_bytes = encode_jpeg(gradient_image(90, 130, step=1))
    bboxes = tf.constant([[[0.1, 0.2, 0.8, 0.9]]])
    seed = tf.constant([5, 1], tf.int64)
    # Rounding moves a pixel by at most half a level, which is 0.5 / 127.5 in [-1, 1].
    tolerance = 0.5 / 127.5 + 1e-6

    pairs = {
        "train": (preprocessing.preprocess_for_train(jpeg_bytes, bboxes, 48, seed=seed),
                  preprocessing.preprocess_for_train(jpeg_bytes, bboxes, 48, seed=seed,
                                                     output_dtype=tf.uint8)),
        "eval": (preprocessing.preprocess_for_eval(jpeg_bytes, 48),
                 preprocessing.preprocess_for_eval(jpeg_bytes, 48, output_dtype="uint8")),
    }
    for mode, (float_image, uint8_image) in pairs.items():
        assert uint8_image.dtype == tf.uint8, mode
        assert uint8_image.shape == (48, 48, 3), mode
        scaled = preprocessing.scale_to_unit_range(uint8_image).numpy()
        np.testing.assert_allclose(scaled, float_image.numpy(), atol=tolerance, err_msg=mode)


@pytest.mark.parametrize("output_dtype", [tf.float16, "int32", "pixels"])
def test_rejects_bad_output_dtype(output_dtype):
    jpeg_bytes = encode_jpeg(gradient_image(40, 40, step=2))
    with pytest.raises(ValueError, match="output_dtype"):
        preprocessing.preprocess_for_eval(jpeg_bytes, 32, output_dtype=output_dtype)
    with pytest.raises(ValueError, match="output_dtype"):
        preprocessing.preprocess_for_train(jpeg_bytes, tf.zeros([1, 0, 4]), 32,
                                           output_dtype=output_dtype)


def test_grayscale_gives_three_channels():
    gray = gradient_image(60, 80, step=2)[:, :, 0]
    jpeg_bytes = encode_jpeg(gray)

    train_image = preprocessing.preprocess_for_train(
        jpeg_bytes, tf.zeros([1, 0, 4]), 32, seed=tf.constant([0, 0], tf.int64))
    eval_image = preprocessing.preprocess_for_eval(jpeg_bytes, 32)

    assert train_image.shape == (32, 32, 3)
    assert eval_image.shape == (32, 32, 3)
    np.testing.assert_allclose(eval_image[:, :, 0], eval_image[:, :, 2])
