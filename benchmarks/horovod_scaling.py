"""Training images/sec of 1 process against N Horovod ranks, and the allreduce time per step.

    python -m benchmarks.horovod_scaling [--num_processes=2] [--batch_size=32]
        [--image_size=299] [--num_batches=8] [--warmup_batches=3] [--repeats=2]

Runs the runner (synthetic data, the full recipe) as 1 process with --batch_size, then under
horovodrun as --num_processes ranks with --batch_size / num_processes each, so both train the
same global batch. Each run prints tf_cnn_benchmarks' "total images/sec" (after the warm-up
steps); the figure is the median over --repeats runs. Then it times, on the same ranks, one
allreduce (average) of tensors shaped like InceptionV3's gradients, which is the
communication each training step adds.

Needs Horovod: run it with .venv-tf215/bin/python (requirements-horovod.txt). The ranks talk over
Gloo on 127.0.0.1. --batch_size is the global batch here, unlike the runner's per-device flag.
"""

import json
import os
import re
import sys
import time

from benchmarks import common

TOTAL_RATE = re.compile(r"total images/sec: ([0-9.]+)")


def parse_arguments(argv=None):
    parser = common.argument_parser(__doc__)
    parser.add_argument("--num_processes", type=int, default=2, help="Horovod ranks.")
    parser.add_argument("--batch_size", type=int, default=32,
                        help="Global batch: the 1-process batch, split evenly over the ranks.")
    parser.add_argument("--image_size", type=int, default=299, help="Input size in pixels.")
    parser.add_argument("--num_batches", type=int, default=8, help="Training steps per run.")
    parser.add_argument("--warmup_batches", type=int, default=3,
                        help="Steps left out of images/sec.")
    parser.add_argument("--repeats", type=int, default=2, help="Runs of each configuration.")
    parser.add_argument("--allreduce_repeats", type=int, default=10,
                        help="Timed allreduces (after 3 untimed ones).")
    parser.add_argument("--timeout", type=int, default=1800, help="Seconds per child run.")
    parser.add_argument("--allreduce_worker", action="store_true",
                        help="Internal: time the allreduce in a Horovod rank.")
    args = parser.parse_args(argv)
    if args.batch_size % args.num_processes:
        parser.error("--batch_size=%d does not split evenly over --num_processes=%d; use a "
                     "multiple of it." % (args.batch_size, args.num_processes))
    return args


def horovodrun_command(num_processes):
    horovodrun = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    return [horovodrun, "-np", str(num_processes), "-H", "localhost:%d" % num_processes,
            "--gloo", "--network-interface", "lo"]


def runner_rate(args, num_processes):
    """Return the "total images/sec" of one runner run with `num_processes` ranks."""
    flags = ["--image_size=%d" % args.image_size, "--num_batches=%d" % args.num_batches,
             "--num_warmup_batches=%d" % args.warmup_batches,
             "--batch_size=%d" % (args.batch_size // num_processes)]
    command = [sys.executable, "-m", "tf_cnn_benchmarks"] + flags
    if num_processes > 1:
        command = horovodrun_command(num_processes) + command + ["--variable_update=horovod"]
    exit_code, output, _ = common.run_child(command, args.timeout)
    rates = TOTAL_RATE.findall(output)
    if exit_code != 0 or not rates:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise common.ChildFailed("%s exited with status %d:\n%s"
                                 % (" ".join(command), exit_code, tail))
    return float(rates[-1])


def allreduce_milliseconds(args):
    """Return rank 0's summary of allreduce times (ms), measured under horovodrun."""
    command = horovodrun_command(args.num_processes) + [
        sys.executable, "-m", "benchmarks.horovod_scaling", "--allreduce_worker",
        "--num_processes=%d" % args.num_processes, "--image_size=%d" % args.image_size,
        "--allreduce_repeats=%d" % args.allreduce_repeats]
    exit_code, output, _ = common.run_child(command, args.timeout)
    lines = [line.split(common.RESULT_MARKER, 1)[1] for line in output.splitlines()
             if common.RESULT_MARKER in line]
    if exit_code != 0 or not lines:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise common.ChildFailed("the allreduce timing exited with status %d:\n%s"
                                 % (exit_code, tail))
    return json.loads(lines[0])


def time_allreduce(args):
    """Time the average of gradient-shaped tensors in a Horovod rank. Rank 0 prints it."""
    import horovod.tensorflow as hvd
    import tensorflow as tf

    from models import inception_v3

    hvd.init()
    model = inception_v3.inception_v3(1001, image_size=args.image_size)
    gradients = [tf.ones_like(variable) for variable in model.trainable_variables]

    # The tensors are arguments, not captured constants: Horovod names each op after its input.
    @tf.function
    def average(tensors):
        return hvd.grouped_allreduce(tensors, op=hvd.Average)

    for _ in range(3):
        average(gradients)
    times = []
    for _ in range(args.allreduce_repeats):
        start = time.perf_counter()
        outputs = average(gradients)
        outputs[-1].numpy()
        times.append((time.perf_counter() - start) * 1000.0)
    if hvd.rank() == 0:
        num_values = sum(int(tf.size(gradient)) for gradient in gradients)
        common.emit_result({"milliseconds": common.summarize(times),
                            "megabytes": num_values * 4 / 1e6, "tensors": len(gradients)})


def main(argv=None):
    args = parse_arguments(argv)
    if args.allreduce_worker:
        time_allreduce(args)
        return
    if not os.path.isfile(horovodrun_command(1)[0]):
        sys.exit("error: %s not found. This benchmark needs Horovod: run it with the Python of "
                 "the TensorFlow 2.15.1 environment (.venv-tf215/bin/python, from "
                 "requirements-horovod.txt)." % horovodrun_command(1)[0])

    print("CPU: %s; %s" % (common.cpu_model(), common.format_load()), flush=True)
    print("Synthetic data, %dx%d, global batch %d, %d steps of which %d warm-up, %d runs each."
          % (args.image_size, args.image_size, args.batch_size, args.num_batches,
             args.warmup_batches, args.repeats), flush=True)
    for num_processes in (1, args.num_processes):
        rates = [runner_rate(args, num_processes) for _ in range(args.repeats)]
        print("%d process(es), batch %d each: %s"
              % (num_processes, args.batch_size // num_processes,
                 common.format_rate(common.summarize(rates))), flush=True)

    allreduce = allreduce_milliseconds(args)
    print("Allreduce of %d gradient tensors (%.1f MB float32) over %d ranks: %s"
          % (allreduce["tensors"], allreduce["megabytes"], args.num_processes,
             common.format_rate(allreduce["milliseconds"], unit="ms")), flush=True)
    print("Finished with %s." % common.format_load(), flush=True)


if __name__ == "__main__":
    main()
