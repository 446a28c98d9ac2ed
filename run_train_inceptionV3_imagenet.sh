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

# shellcheck source=scripts/train_common.sh
source "$repo/scripts/train_common.sh"
set_train_settings ./train_dir/inceptionV3
parse_train_arguments "$@"
select_eval_flags
move_aside_train_dir
create_log_file logs/inceptionV3 "$BATCH_SIZE"

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
