"""Read ImageNet bounding boxes from PASCAL VOC XML files.

ImageNet's localization annotations (and the Kaggle copy under
`ILSVRC/Annotations/CLS-LOC/`) are one XML file per image, named after the image
(`n01440764_10026.xml` for `n01440764_10026.JPEG`), with pixel coordinates in
`<object><bndbox><xmin>..</xmin><ymin>..</ymin><xmax>..</xmax><ymax>..</ymax>`. The
converter stores them normalized by the image size from `<size>` (else the decoded size)
and clipped to [0, 1], as the standard ImageNet converter does.

Nothing here imports TensorFlow, because the decode worker processes call read_boxes.
"""

import os
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from dataclasses import field

XML_EXTENSION = ".xml"

# Reasons a box or a whole XML file is dropped; the keys of BoxReport.dropped.
MALFORMED_XML = "malformed_xml"
INVALID_BOX = "invalid_box"  # xmin > xmax, ymin > ymax or zero area
OUTSIDE_IMAGE = "outside_image"  # no overlap with the image
DROP_REASONS = (MALFORMED_XML, INVALID_BOX, OUTSIDE_IMAGE)

# Upper bound of the examples each report keeps, so that a folder of bad files does not
# fill dataset_info.json.
MAX_EXAMPLES = 10


@dataclass
class BoxReport:
    """Counts of the boxes that a set of XML files gave, kept and dropped."""

    num_xml_files: int = 0
    num_images_with_boxes: int = 0
    num_boxes: int = 0  # boxes stored
    num_clipped: int = 0  # stored boxes that reached outside the image
    dropped: dict = field(default_factory=lambda: dict.fromkeys(DROP_REASONS, 0))
    examples: list = field(default_factory=list)  # "path: problem" of the first drops

    def note_drop(self, reason, path, detail):
        self.dropped[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append("%s: %s" % (path, detail))

    def add(self, other):
        self.num_xml_files += other.num_xml_files
        self.num_images_with_boxes += other.num_images_with_boxes
        self.num_boxes += other.num_boxes
        self.num_clipped += other.num_clipped
        for reason in DROP_REASONS:
            self.dropped[reason] += other.dropped[reason]
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[:max(room, 0)])

    def to_dict(self):
        return {"num_xml_files": self.num_xml_files,
                "num_images_with_boxes": self.num_images_with_boxes,
                "num_boxes": self.num_boxes, "num_clipped": self.num_clipped,
                "dropped": dict(self.dropped), "examples": list(self.examples)}


def index_xml_files(box_dir, max_files=10_000_000):
    """Return {image file stem: XML path} of the .xml files anywhere under `box_dir`.

    `max_files` bounds the walk; ImageNet has about 545,000 box files.
    """
    index = {}
    for root, dirnames, filenames in os.walk(box_dir):
        dirnames.sort()
        for filename in sorted(filenames):
            stem, extension = os.path.splitext(filename)
            if extension.lower() != XML_EXTENSION or filename.startswith("."):
                continue
            index.setdefault(stem, os.path.join(root, filename))
            if len(index) >= max_files:
                return index
    return index


def read_size(root):
    """Return (width, height) from `<size>`, or None when it is missing or not positive."""
    size = root.find("size")
    if size is None:
        return None
    try:
        width = float(size.findtext("width"))
        height = float(size.findtext("height"))
    except (TypeError, ValueError):
        return None
    if width <= 0 or height <= 0:
        return None
    return width, height


def read_pixel_boxes(xml_path):
    """Return the [(xmin, ymin, xmax, ymax)] pixel boxes and the `<size>` of one XML file.

    Raises ValueError naming the problem when the file is not the PASCAL VOC layout.
    """
    try:
        root = ElementTree.parse(xml_path).getroot()
    except ElementTree.ParseError as error:
        raise ValueError("not valid XML (%s)" % error) from error

    boxes = []
    for index, bndbox in enumerate(root.iter("bndbox")):
        try:
            corners = tuple(float(bndbox.findtext(name))
                            for name in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError) as error:
            raise ValueError("bndbox %d lacks a numeric xmin, ymin, xmax or ymax" % index) \
                from error
        boxes.append(corners)
    return boxes, read_size(root)


def normalize_box(corners, width, height):
    """Return the box scaled to [0, 1] and clipped, or (None, reason) when it is dropped.

    Returns ((ymin, xmin, ymax, xmax), clipped) for a kept box.
    """
    xmin, ymin, xmax, ymax = corners
    if xmin >= xmax or ymin >= ymax:
        return None, INVALID_BOX

    scaled = (ymin / height, xmin / width, ymax / height, xmax / width)
    if scaled[2] <= 0.0 or scaled[3] <= 0.0 or scaled[0] >= 1.0 or scaled[1] >= 1.0:
        return None, OUTSIDE_IMAGE

    clipped = tuple(min(max(value, 0.0), 1.0) for value in scaled)
    return clipped, clipped != scaled


def read_boxes(xml_path, image_width, image_height):
    """Return (boxes, BoxReport) of one image's XML file.

    boxes: [(ymin, xmin, ymax, xmax)] normalized to [0, 1], in the file's order.
    The coordinates are divided by the file's `<size>`, because the annotators drew them
    on an image of that size, and by the decoded image size when `<size>` is missing.
    Unreadable files, XML errors and bad boxes are counted in the report instead of raised.
    """
    report = BoxReport(num_xml_files=1)
    try:
        pixel_boxes, size = read_pixel_boxes(xml_path)
    except (OSError, ValueError) as error:
        report.note_drop(MALFORMED_XML, xml_path, str(error))
        return [], report

    width, height = size or (image_width, image_height)
    boxes = []
    for corners in pixel_boxes:
        box, outcome = normalize_box(corners, width, height)
        if box is None:
            report.note_drop(outcome, xml_path, "%s box %r in a %gx%g image" % (
                outcome, corners, width, height))
            continue
        boxes.append(box)
        report.num_clipped += int(outcome)

    report.num_boxes = len(boxes)
    report.num_images_with_boxes = int(bool(boxes))
    return boxes, report
