# Shell functions shared by run_train_inceptionV3_imagenet.sh and
# run_train_inceptionV3_multigpu_imagenet.sh. Source it; it runs nothing by itself.
#
# The scripts call, in this order:
#   set_train_settings DEFAULT_TRAIN_DIR   BATCH_SIZE, DATA_DIR, TRAIN_DIR and PYTHON
#   parse_train_arguments "$@"             sets epochs, optimizer and passthrough
#   select_eval_flags                      sets eval_flags
#   move_aside_train_dir                   FRESH=1
#   create_log_file DEFAULT_LOG_DIR SIZE   sets log_file
# They expect `repo` to hold the repository root.

set_train_settings() {
    BATCH_SIZE=${BATCH_SIZE:-32}
    DATA_DIR=${DATA_DIR:-./imagenet_tfrecord}
    TRAIN_DIR=${TRAIN_DIR:-$1}
    if [ -z "${PYTHON:-}" ]; then
        if [ -x "$repo/.venv/bin/python" ]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
    fi
}

# --epoch N and --epoch=N become --num_epochs=N. Every other argument goes to the runner.
parse_train_arguments() {
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
}

# Periodic evaluation needs validation shards; without them train without it.
select_eval_flags() {
    eval_flags=(--eval_during_training_every_n_epochs=1 --num_eval_epochs=1
                --stop_at_top_1_accuracy=0.788)
    if ! compgen -G "$DATA_DIR/validation-*-of-*" >/dev/null; then
        echo "No validation-*-of-* shards in $DATA_DIR: training without periodic evaluation."
        eval_flags=()
    fi
}

move_aside_train_dir() {
    if [ "${FRESH:-0}" = "1" ] && [ -d "$TRAIN_DIR" ]; then
        local old_dir
        old_dir="$TRAIN_DIR.old-$(date +%Y%m%d_%H%M%S)"
        mv "$TRAIN_DIR" "$old_dir"
        echo "FRESH=1: moved the old checkpoints to $old_dir"
    fi
}

# Set log_file in LOG_DIR, or in folder $1 when LOG_DIR is unset. $2 is the batch part of its
# name.
create_log_file() {
    local timestamp log_dir
    timestamp=$(date +%Y%m%d_%H%M%S)
    log_dir=${LOG_DIR:-$1}
    mkdir -p "$log_dir"
    log_file="$log_dir/${timestamp}_${epochs:-default}_${2}_${optimizer}.log"
}
