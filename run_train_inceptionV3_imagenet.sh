#!/usr/bin/env bash
# Train InceptionV3 on one GPU (or the CPU when there is none) from ImageNet TFRecord shards.
#
#   BATCH_SIZE=32 bash run_train_inceptionV3_imagenet.sh --epoch 90 [--flag=value ...]
#
# Environment:
#   BATCH_SIZE  images per step (default 32)
#   DATA_DIR    folder of train-*-of-* / validation-*-of-* shards (default ./imagenet_tfrecord)
#   TRAIN_DIR   checkpoint folder; a rerun resumes from it (default ./train_dir/inceptionV3)
#   FRESH=1     start over: the old TRAIN_DIR is moved aside to TRAIN_DIR.old-<timestamp>
#   PYTHON      interpreter (default: the repository's .venv/bin/python, else python3)
#   LOG_DIR     folder of the output copies (default logs/inceptionV3)
# Arguments: --epoch N or --epoch=N becomes --num_epochs=N; every other argument is passed to
# `python -m tf_cnn_benchmarks` after the defaults below, so it overrides them.
# A copy of the output goes to $LOG_DIR/<timestamp>_<epochs>_<batch>_<optimizer>.log,
# and the script exits with the training process's status.
# Relative paths are taken from the folder the script is started in.
set -uo pipefail

repo=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"

BATCH_SIZE=${BATCH_SIZE:-32}
DATA_DIR=${DATA_DIR:-./imagenet_tfrecord}
TRAIN_DIR=${TRAIN_DIR:-./train_dir/inceptionV3}
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$repo/.venv/bin/python" ]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
fi

epochs=""
optimizer="rmsprop"
passthrough=()
while [ $# -gt 0 ]; do
    case "$1" in
        --epoch)
            if [ $# -lt 2 ]; then
                echo "error: --epoch needs a value, for example --epoch 90" >&2
                exit 2
            fi
            epochs="$2"
            shift 2
            ;;
        --epoch=*)
            epochs="${1#--epoch=}"
            if [ -z "$epochs" ]; then
                echo "error: --epoch= needs a value, for example --epoch=90" >&2
                exit 2
            fi
            shift
            ;;
        --num_epochs=*)
            epochs="${1#--num_epochs=}"
            passthrough+=("$1")
            shift
            ;;
        --optimizer=*)
            optimizer="${1#--optimizer=}"
            passthrough+=("$1")
            shift
            ;;
        *)
            passthrough+=("$1")
            shift
            ;;
    esac
done

if [ -n "$epochs" ] && [[ " ${passthrough[*]-} " != *" --num_epochs="* ]]; then
    passthrough=("--num_epochs=$epochs" "${passthrough[@]}")
fi

# Periodic evaluation needs validation shards; without them train without it.
eval_flags=(--eval_during_training_every_n_epochs=1 --num_eval_epochs=1
            --stop_at_top_1_accuracy=0.788)
if ! compgen -G "$DATA_DIR/validation-*-of-*" >/dev/null; then
    echo "No validation-*-of-* shards in $DATA_DIR: training without periodic evaluation."
    eval_flags=()
fi

if [ "${FRESH:-0}" = "1" ] && [ -d "$TRAIN_DIR" ]; then
    old_dir="$TRAIN_DIR.old-$(date +%Y%m%d_%H%M%S)"
    mv "$TRAIN_DIR" "$old_dir"
    echo "FRESH=1: moved the old checkpoints to $old_dir"
fi

timestamp=$(date +%Y%m%d_%H%M%S)
log_dir=${LOG_DIR:-logs/inceptionV3}
mkdir -p "$log_dir"
log_file="$log_dir/${timestamp}_${epochs:-default}_${BATCH_SIZE}_${optimizer}.log"

"$PYTHON" -m tf_cnn_benchmarks \
    --data_name=imagenet \
    --data_dir="$DATA_DIR" \
    --data_format=NCHW \
    --batch_size="$BATCH_SIZE" \
    --model=inception3 \
    --optimizer=rmsprop \
    --num_gpus=1 \
    --weight_decay=4e-5 \
    --train_dir="$TRAIN_DIR" \
    "${eval_flags[@]}" \
    --datasets_use_caching \
    --num_intra_threads=0 \
    --num_inter_threads=0 \
    "${passthrough[@]}" 2>&1 | tee "$log_file"
status=${PIPESTATUS[0]}

echo "Log: $log_file"
exit "$status"
