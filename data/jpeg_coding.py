"""Decode image files and return RGB JPEG bytes for the TFRecord shards.

The input pipeline decodes `image/encoded` with tf.io.decode_jpeg and expects 3 channels,
so files whose content is not an RGB JPEG (PNG under a .JPEG name, grayscale or CMYK JPEG,
images with alpha) are re-encoded. RGB JPEG files keep their original bytes, which avoids a
second lossy compression.

EXIF orientation is ignored, for training and validation alike: the stored pixels are the
image, as tf.io.decode_jpeg and the standard ImageNet converter see them, and the record's
height and width are those of the stored pixels. Pillow reads EXIF only on request, so a
corrupt EXIF block neither stops nor skips an image. This module does not import
TensorFlow, because the decode worker processes import it.
"""

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Re-encoding is lossy, so a high quality keeps most of the detail of PNG or CMYK images.
JPEG_QUALITY = 95

# Pillow formats whose bytes tf.io.decode_jpeg reads. MPO is a JPEG that some cameras write
# with more pictures after the first, and decode_jpeg returns the first.
JPEG_FORMATS = ("JPEG", "MPO")

# Pillow's modes of 16-bit grayscale PNG files, whose convert('RGB') clips values above 255.
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")

# Errors that Pillow raises for corrupt, truncated or unsupported files. Its plugins raise
# more than OSError, and DecompressionBombError covers images over twice Pillow's default
# Image.MAX_IMAGE_PIXELS (about 179 million pixels).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error,
                 Image.DecompressionBombError)

class UndecodableImageError(Exception):
    def __init__(self, path, reason):
        super().__init__("%s: %s" % (path, reason))
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class JpegImage:
    data: bytes
    height: int  # pixels, of the stored JPEG
    width: int
    reencoded: bool  # True when `data` is not the file's original bytes


def to_rgb(image):
    """Return `image` as a mode 'RGB' Pillow image, dropping any alpha channel."""
    if image.mode in SIXTEEN_BIT_MODES:
        # Keep the high byte of each 16-bit sample.
        # NOTE: mode 'I' is assumed to contain 16-bit samples, as it does for PNG files, but a
        # 32-bit TIFF named in a list file would come out too bright.
        samples = np.asarray(image).astype(np.int64)
        gray = np.clip(samples >> 8, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    return image.convert("RGB")


def encode_jpeg(image):
    buffer = io.BytesIO()
    to_rgb(image).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def decode_to_jpeg(data):
    """Decode the image file bytes `data` and return them as an RGB JpegImage.

    The format comes from the content, not the file name. Raises one of DECODE_ERRORS when
    Pillow cannot decode every pixel.
    """
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # Decodes all pixels, so a truncated file raises here.

        # Like tf.io.decode_jpeg, this ignores the EXIF orientation, so the size is that of
        # the stored pixels.
        width, height = image.size

        if image.format in JPEG_FORMATS and image.mode == "RGB":
            return JpegImage(data, height, width, reencoded=False)
        return JpegImage(encode_jpeg(image), height, width, reencoded=True)


def load_as_jpeg(path):
    """Read and decode the image file at `path` and return it as an RGB JpegImage.

    Raises UndecodableImageError with the reason when the file is empty, unreadable or not
    a complete image.
    """
    try:
        with open(path, "rb") as image_file:
            data = image_file.read()
        if not data:
            raise UndecodableImageError(path, "empty file")
        return decode_to_jpeg(data)
    except DECODE_ERRORS as error:
        raise UndecodableImageError(path, "%s: %s" % (type(error).__name__, error)) from error
