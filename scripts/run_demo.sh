#!/usr/bin/env bash
# The main job on the embedded default. It builds a small ImageNet-layout folder from the real
# photos that scikit-image ships and converts it to TFRecord shards. Then it trains a few steps
# with the one-GPU script, evaluates, and prints where the checkpoint and the log are.
#
#   bash scripts/run_demo.sh
#
# Everything goes under demo/ (ignored by git). Environment: DEMO_STEPS (default 4),
# DEMO_IMAGE_SIZE (default 107), BATCH_SIZE (default 4).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd)

steps=${DEMO_STEPS:-4}
image_size=${DEMO_IMAGE_SIZE:-107}
export BATCH_SIZE=${BATCH_SIZE:-4}

echo "== Setting up .venv (TensorFlow 2.21) =="
bash scripts/setup_venv.sh .venv requirements.txt
python=$repo/.venv/bin/python

raw_dir=demo/imagenet_raw
shard_dir=demo/imagenet_tfrecord
train_dir=demo/train_dir

echo "== Building the demo ImageNet folder in $raw_dir =="
if [ -d "$raw_dir/train" ]; then
    echo "$raw_dir already exists; reusing it"
else
    "$python" -m data.make_demo_imagenet --output_dir="$raw_dir"
fi

echo "== Converting $raw_dir to TFRecord shards in $shard_dir =="
rm -rf "$shard_dir"
"$python" -m data.build_imagenet_tfrecord --input_dir="$raw_dir" --output_dir="$shard_dir" \
    --train_shards=4 --validation_shards=2

echo "== Training $steps steps with run_train_inceptionV3_imagenet.sh =="
# The demo starts over each time; the script itself keeps and resumes checkpoints.
rm -rf "$train_dir"
DATA_DIR=$shard_dir TRAIN_DIR=$train_dir PYTHON=$python \
    bash run_train_inceptionV3_imagenet.sh --num_batches="$steps" --image_size="$image_size" \
    --num_warmup_batches=1 --display_every=1 --batchnorm_decay=0.9

echo "== Evaluating the latest checkpoint =="
"$python" -m tf_cnn_benchmarks --eval --data_dir="$shard_dir" --train_dir="$train_dir" \
    --image_size="$image_size" --batch_size="$BATCH_SIZE"

echo
echo "Checkpoint:  $(sed -n 's/^model_checkpoint_path: "\(.*\)"/\1/p' "$train_dir/checkpoint" | head -n 1) in $repo/$train_dir"
echo "dllogger log: $repo/$train_dir/dllogger.json"
echo "Training log: $(ls -t "$repo"/logs/inceptionV3/*.log | head -n 1)"
