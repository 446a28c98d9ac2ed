"""Draw loss, accuracy, learning rate and images/sec against step from a dllogger log.

    python -m tf_cnn_benchmarks.plot_log train_dir/dllogger.json --output=curves.png
"""

import json
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("output", "curves.png", "Path of the PNG image to write.")

LINE_PREFIX = "DLLL "

# (title, [(metric in the log, label)]) of each panel.
PANELS = (
    ("Loss", [("total_loss", "total loss"), ("cross_entropy", "cross entropy")]),
    ("Accuracy", [("eval.top_1_accuracy", "top-1"), ("eval.top_5_accuracy", "top-5"),
                  ("eval_ema.top_1_accuracy", "top-1, EMA weights")]),
    ("Learning rate", [("learning_rate", "learning rate")]),
    ("Images/sec", [("images_per_sec", "images/sec")]),
)


def read_step_records(path):
    """Return [(step, data)] of the log's (epoch, step) LOG records.

    Raises ValueError naming the file and line of a line that is not dllogger JSON.
    """
    records = []
    with open(path, encoding="utf-8") as log_file:
        for line_number, line in enumerate(log_file, start=1):
            if not line.strip():
                continue
            if not line.startswith(LINE_PREFIX):
                raise ValueError("%s line %d is not a dllogger line (it does not start with "
                                 "'DLLL ')." % (path, line_number))
            try:
                record = json.loads(line[len(LINE_PREFIX):])
            except json.JSONDecodeError as error:
                raise ValueError("%s line %d is not valid JSON: %s" % (path, line_number,
                                                                       error)) from error
            step = record.get("step")
            if record.get("type") == "LOG" and isinstance(step, list) and len(step) == 2:
                records.append((step[1], record["data"]))
    return records


def series(records, metric):
    points = [(step, data[metric]) for step, data in records if metric in data]
    return [step for step, _ in points], [value for _, value in points]


def plot(records, output_path):
    """Write one PNG with a panel per quantity; return the number of curves drawn."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(len(PANELS), 1, figsize=(8, 3 * len(PANELS)), sharex=True)
    curves = 0
    for axis, (title, metrics) in zip(axes, PANELS):
        for metric, label in metrics:
            steps, values = series(records, metric)
            if steps:
                axis.plot(steps, values, marker=".", label=label)
                curves += 1
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    axes[-1].set_xlabel("step")
    figure.tight_layout()
    figure.savefig(output_path, dpi=100)
    pyplot.close(figure)
    return curves


def main(argv):
    if len(argv) != 2:
        sys.exit("error: give one dllogger log, such as train_dir/dllogger.json.")
    try:
        records = read_step_records(argv[1])
    except (OSError, ValueError) as error:
        sys.exit("error: %s" % error)
    if not records:
        sys.exit("error: %s has no (epoch, step) records to plot." % argv[1])

    curves = plot(records, FLAGS.output)
    print("Wrote %d curves over %d logged steps to %s" % (curves, len(records), FLAGS.output))


if __name__ == "__main__":
    app.run(main)
