"""Decode image files and read their boxes in worker processes.

The converter decodes with Pillow in `--num_workers` processes and writes the records in
the main process, in the planned order, so the shards are the same for any worker count.
Worker processes are started with the "spawn" method because forking a process that has
loaded TensorFlow can deadlock. They import this module, jpeg_coding and bounding_boxes,
none of which imports TensorFlow, so a worker starts in well under a second.
"""

import multiprocessing
import warnings
from dataclasses import dataclass
from dataclasses import field

from data import bounding_boxes
from data import jpeg_coding

# Files that one worker decodes per request. Larger chunks cut the inter-process overhead,
# and smaller ones keep the workers busy at the end of a shard.
CHUNK_SIZE = 8


@dataclass(frozen=True)
class DecodeTask:
    path: str
    xml_path: str = None  # bounding-box file of the image, if any


@dataclass
class DecodedFile:
    path: str
    image: jpeg_coding.JpegImage = None  # None when the file was skipped
    skip_reason: str = None
    warnings: list = field(default_factory=list)  # warning messages that Pillow issued
    boxes: list = field(default_factory=list)  # normalized (ymin, xmin, ymax, xmax)
    box_report: bounding_boxes.BoxReport = None  # None when the image has no XML file


def decode_file(task):
    """Decode one image file and read its boxes.

    An undecodable file gives a skip reason and a bad XML file a count, instead of an error.
    """
    result = DecodedFile(task.path)
    with warnings.catch_warnings(record=True) as caught:
        # Pillow warns, for example, about corrupt EXIF or palette transparency. The
        # converter counts the warnings instead of printing one line per image.
        warnings.simplefilter("always")
        try:
            result.image = jpeg_coding.load_as_jpeg(task.path)
        except jpeg_coding.UndecodableImageError as error:
            result.skip_reason = error.reason
    result.warnings = [str(warning.message) for warning in caught]

    if result.image is not None and task.xml_path is not None:
        result.boxes, result.box_report = bounding_boxes.read_boxes(
            task.xml_path, result.image.width, result.image.height)
    return result


class DecodePool:
    """Context manager that decodes DecodeTasks in order, in `num_workers` processes.

    With one worker it decodes in the calling process and starts no process.
    """

    def __init__(self, num_workers):
        self.num_workers = num_workers
        self._pool = None

    def __enter__(self):
        if self.num_workers > 1:
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.num_workers)
        return self

    def __exit__(self, *exc_info):
        if self._pool is not None:
            # terminate() also stops workers that are still decoding after an error.
            self._pool.terminate()
            self._pool.join()
        return False

    def decode(self, tasks):
        """Yield the DecodedFile of each task, in the order of `tasks`."""
        if self._pool is None:
            return map(decode_file, tasks)
        return self._pool.imap(decode_file, tasks, chunksize=CHUNK_SIZE)
