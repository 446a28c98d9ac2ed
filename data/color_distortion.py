"""Random colour distortion of the Inception training preprocessing.

TF-Slim's inception_preprocessing.distort_color changes brightness (max delta 32/255),
saturation (factor 0.5-1.5), hue (max delta 0.2) and contrast (factor 0.5-1.5) in one of
four orders, then clips to [0, 1]. TF-Slim picks the order by preprocessing thread; here
each image draws its order from its seed, so a seeded pipeline repeats exactly.
"""

import tensorflow as tf

BRIGHTNESS_MAX_DELTA = 32.0 / 255.0
SATURATION_RANGE = (0.5, 1.5)
HUE_MAX_DELTA = 0.2
CONTRAST_RANGE = (0.5, 1.5)

# The four orders of TF-Slim's distort_color.
ORDERS = (
    ("brightness", "saturation", "hue", "contrast"),
    ("saturation", "brightness", "contrast", "hue"),
    ("contrast", "hue", "brightness", "saturation"),
    ("hue", "saturation", "contrast", "brightness"),
)


def adjust(image, name, seed):
    """Apply the random adjustment `name` to a float image in [0, 1]."""
    if name == "brightness":
        return tf.image.stateless_random_brightness(image, BRIGHTNESS_MAX_DELTA, seed)
    if name == "saturation":
        return tf.image.stateless_random_saturation(image, *SATURATION_RANGE, seed)
    if name == "hue":
        return tf.image.stateless_random_hue(image, HUE_MAX_DELTA, seed)
    return tf.image.stateless_random_contrast(image, *CONTRAST_RANGE, seed)


def distort_color(image, seed):
    """Return float `image` in [0, 1] with random colour changes, clipped to [0, 1].

    seed: int tensor of shape [2]; the same seed gives the same changes.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    order = tf.random.stateless_uniform([], seeds[4], minval=0, maxval=len(ORDERS),
                                        dtype=tf.int32)

    def apply_order(names):
        def apply():
            distorted = image
            for index, name in enumerate(names):
                distorted = adjust(distorted, name, seeds[index])
            return tf.clip_by_value(distorted, 0.0, 1.0)
        return apply

    return tf.switch_case(order, [apply_order(names) for names in ORDERS])
