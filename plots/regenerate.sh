#!/usr/bin/env bash
# Regenerates every figure in plots/ from the shipped scenarios (a few minutes on 2 cores):
#   bash plots/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for s in relaxation bogacz_tutorial symmetry_kp xor delays bars; do
  asyncpc run "$s" --out "runs/figures/$s" --force --quiet
  for f in "runs/figures/$s"/plots/*.png; do
    cp "$f" "plots/${s}_$(basename "$f")"
  done
done
