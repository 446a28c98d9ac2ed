#!/usr/bin/env bash
# Train InceptionV3 on several GPUs of one host, or of several hosts, from ImageNet TFRecord
# shards.
#
#   BATCH_SIZE=32 NUM_GPUS=8 bash run_train_inceptionV3_multigpu_imagenet.sh --epoch 90 [--flag=value ...]
#
# With Horovod (with TensorFlow support) importable by $PYTHON, horovodrun starts one runner
# process per GPU (--variable_update=horovod). Without it, one process trains with
# MirroredStrategy over NUM_GPUS devices (--variable_update=replicated --num_gpus=NUM_GPUS).
# A line of the output, also in the log, names the launcher.
#
# Environment, as in run_train_inceptionV3_imagenet.sh, plus NUM_GPUS and HOSTS:
#   BATCH_SIZE  images per GPU per step (default 32); the global batch is NUM_GPUS times this
#   NUM_GPUS    processes (Horovod) or devices (MirroredStrategy); default: the total slots of
#               HOSTS, else the GPUs that nvidia-smi (or TensorFlow) finds on this host.
#               Without a GPU, NUM_GPUS=2 runs two processes on the CPU.
#   HOSTS       host1:8,host2:8 spreads the processes over these hosts with horovodrun -H
#               (Horovod only; every host needs the same paths and passwordless SSH)
#   DATA_DIR    folder of train-*-of-* / validation-*-of-* shards (default ./imagenet_tfrecord)
#   TRAIN_DIR   checkpoint folder; a rerun resumes from it
#               (default ./train_dir/inceptionV3_multigpu)
#   FRESH=1     start over: the old TRAIN_DIR is moved aside to TRAIN_DIR.old-<timestamp>
#   PYTHON      interpreter (default: the repository's .venv/bin/python, else python3)
#   LOG_DIR     folder of the output copies (default logs/inceptionV3_multigpu)
# Arguments: --epoch N or --epoch=N becomes --num_epochs=N; every other argument is passed to
# `python -m tf_cnn_benchmarks` after the defaults below, so it overrides them.
# A copy of the output goes to
# $LOG_DIR/<timestamp>_<epochs>_<NUM_GPUS>x<batch>_<optimizer>.log, and the script exits with
# the status of horovodrun (non-zero when any process failed) or of the training process.
# Relative paths are taken from the folder the script is started in.
set -uo pipefail

repo=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

# shellcheck source=scripts/train_common.sh
source "$repo/scripts/train_common.sh"
set_train_settings ./train_dir/inceptionV3_multigpu
parse_train_arguments "$@"

# Seconds that the probe of $PYTHON (importing TensorFlow and Horovod) may take.
PROBE_TIMEOUT=300

is_positive_integer() {
    [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]
}

# Print "<GPUs that TensorFlow lists> <1 if horovod.tensorflow imports, else 0>", or the
# error when $PYTHON cannot import TensorFlow.
probe_python() {
    timeout "$PROBE_TIMEOUT" "$PYTHON" - 2>&1 <<'PROBE' | tail -n 1
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf
try:
    import horovod.tensorflow  # noqa: F401
    has_horovod = 1
except Exception:  # ImportError, or NotFoundError for a build against another TensorFlow.
    has_horovod = 0
print(len(tf.config.list_physical_devices("GPU")), has_horovod)
PROBE
}

# Print the number of GPUs on this host: nvidia-smi's list where nvidia-smi exists (a failing
# nvidia-smi -L, as without a driver, counts as 0), else TensorFlow's.
count_local_gpus() {
    if command -v nvidia-smi >/dev/null 2>&1; then
        (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU ' || true
    else
        echo "$probe_gpus"
    fi
}

# Print the sum of the slots in HOSTS, or nothing when an entry is not host:slots.
count_host_slots() {
    local entry slots total=0
    local entries
    IFS=',' read -r -a entries <<< "$HOSTS"
    for entry in "${entries[@]}"; do
        slots=${entry##*:}
        if [ "$slots" = "$entry" ] || [ -z "${entry%:*}" ] || ! is_positive_integer "$slots"; then
            return
        fi
        total=$((total + slots))
    done
    echo "$total"
}

hosts=${HOSTS:-}
if [ -n "$hosts" ]; then
    host_slots=$(count_host_slots)
    if [ -z "$host_slots" ]; then
        echo "error: HOSTS=$hosts is invalid; give host:slots entries separated by commas," \
             "such as HOSTS=host1:8,host2:8." >&2
        exit 2
    fi
fi

probe=$(probe_python)
if ! [[ "$probe" =~ ^[0-9]+\ [01]$ ]]; then
    echo "error: $PYTHON cannot import TensorFlow: ${probe:-no output within $PROBE_TIMEOUT s}" >&2
    echo "Set PYTHON to the interpreter of a set-up environment, such as .venv-tf215/bin/python." >&2
    exit 2
fi
probe_gpus=${probe% *}
probe_horovod=${probe#* }
local_gpus=$(count_local_gpus)

if [ -n "${NUM_GPUS:-}" ]; then
    if ! is_positive_integer "$NUM_GPUS"; then
        echo "error: NUM_GPUS=$NUM_GPUS is invalid; give the number of processes, such as" \
             "NUM_GPUS=8." >&2
        exit 2
    fi
elif [ -n "$hosts" ]; then
    NUM_GPUS=$host_slots
elif [ "$local_gpus" -gt 0 ]; then
    NUM_GPUS=$local_gpus
else
    echo "error: no GPU found on this host and NUM_GPUS is not set." \
         "NUM_GPUS=2 runs two CPU processes, which tests the multi-GPU path but trains no" \
         "faster than one; for real training on the CPU use run_train_inceptionV3_imagenet.sh." >&2
    exit 2
fi
if [ -n "$hosts" ] && [ "$NUM_GPUS" -gt "$host_slots" ]; then
    echo "error: NUM_GPUS=$NUM_GPUS is more than the $host_slots slot(s) in HOSTS=$hosts;" \
         "lower NUM_GPUS or add slots." >&2
    exit 2
fi

if [ "$probe_horovod" = 1 ]; then
    launcher=horovod
else
    launcher=mirrored
fi

if [ -n "$hosts" ] && [ "$launcher" != horovod ]; then
    echo "error: HOSTS=$hosts needs Horovod with TensorFlow support, which $PYTHON cannot" \
         "import. Set PYTHON to an environment that has it (bash scripts/setup_venv.sh" \
         ".venv-tf215 requirements-horovod.txt), or start --variable_update=collective_all_reduce" \
         "on each host by hand (README, \"Multi-GPU and multi-host\")." >&2
    exit 2
fi

if [ "$launcher" = horovod ]; then
    # horovodrun comes with Horovod, in the same bin folder as its interpreter.
    python_path=$(command -v "$PYTHON" || true)
    horovodrun="$(dirname "${python_path:-$PYTHON}")/horovodrun"
    if [ ! -x "$horovodrun" ]; then
        horovodrun=$(command -v horovodrun || true)
    fi
    if [ -z "$horovodrun" ]; then
        echo "error: Horovod is importable by $PYTHON, but horovodrun is neither next to it" \
             "nor on PATH. Reinstall Horovod in that environment." >&2
        exit 2
    fi

    launcher_flags=(-np "$NUM_GPUS" -H "${hosts:-localhost:$NUM_GPUS}")
    controller="horovodrun's default controller"
    if [ "$local_gpus" -eq 0 ]; then
        # Without a GPU, Gloo carries every allreduce. With one, horovodrun chooses MPI when
        # Horovod was built with it, else Gloo (scripts/setup_venv.sh builds without MPI).
        launcher_flags+=(--gloo)
        controller="Gloo"
    fi
    command=("$horovodrun" "${launcher_flags[@]}" "$PYTHON")
    distribution_flags=(--variable_update=horovod --num_gpus=1)
    launcher_line="Launcher: horovodrun, $NUM_GPUS processes on ${hosts:-localhost}"
    launcher_line+=" ($controller), --variable_update=horovod."
else
    command=("$PYTHON")
    distribution_flags=(--variable_update=replicated --num_gpus="$NUM_GPUS")
    launcher_line="Launcher: one process, MirroredStrategy over $NUM_GPUS devices"
    launcher_line+=" (--variable_update=replicated), because $PYTHON cannot import"
    launcher_line+=" horovod.tensorflow."
fi

select_eval_flags
move_aside_train_dir
create_log_file logs/inceptionV3_multigpu "${NUM_GPUS}x${BATCH_SIZE}"
echo "$launcher_line" | tee "$log_file"

"${command[@]}" -m tf_cnn_benchmarks \
    --data_name=imagenet \
    --data_dir="$DATA_DIR" \
    --data_format=NCHW \
    --batch_size="$BATCH_SIZE" \
    --model=inception3 \
    --optimizer=rmsprop \
    "${distribution_flags[@]}" \
    --weight_decay=4e-5 \
    --train_dir="$TRAIN_DIR" \
    "${eval_flags[@]}" \
    --datasets_use_caching \
    --num_intra_threads=0 \
    --num_inter_threads=0 \
    "${passthrough[@]}" 2>&1 | tee -a "$log_file"
status=${PIPESTATUS[0]}

echo "Log: $log_file"
exit "$status"
