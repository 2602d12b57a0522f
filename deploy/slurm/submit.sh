#!/bin/bash
# Submits the extraction array, then the training job to start when every array task has succeeded.
#   DATA=/shared/datasets/photos FEATURES=/shared/features/photos MODEL=/shared/models/photos.zip deploy/slurm/submit.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p logs
array=$(sbatch --parsable --export=ALL "$here/extract.sbatch")
sbatch --dependency="afterok:${array}" --export=ALL "$here/train.sbatch"
echo "extraction array ${array}; training starts when it has finished"
