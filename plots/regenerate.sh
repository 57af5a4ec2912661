#!/usr/bin/env bash
# Regenerates every figure in plots/ from the shipped scenarios (about 95 minutes on 2 cores):
#   bash plots/regenerate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for s in relaxation bogacz_tutorial symmetry_kp xor delays bars interference; do
  asyncpc run "$s" --out "runs/figures/$s" --force --quiet
  for f in "runs/figures/$s"/plots/*.png; do
    cp "$f" "plots/${s}_$(basename "$f")"
  done
done
# real data on the population engine (README, "Real data"; digits ~9 min, mnist1d ~10 min)
for s in digits mnist1d; do
  asyncpc run "$s" --out "runs/figures/$s" --force --quiet
  for f in "runs/figures/$s"/plots/*.png; do
    cp "$f" "plots/${s}_$(basename "$f")"
  done
done
# the weight-transport studies (README, "Studying weight transport")
for s in symmetry_growth feedback_alignment; do
  asyncpc run "$s" --out "runs/figures/$s" --force --quiet
  cp "runs/figures/$s/plots/symmetry.png" "plots/${s}_symmetry.png"
done
asyncpc sweep symmetry_kp --grid 'edges.*.delay=0,0.05,0.1,0.2' --grid 'populations.*.theta=0,0.01' \
  --grid 'edges.*.lam=0,0.01' --seeds 1 --workers 2 --out runs/study4 --quiet
cp runs/study4/plots/final_vs_edges_delay.png plots/study4_final_vs_delay.png
asyncpc sweep symmetry_kp --grid 'edges.*.rule=hebbian,hebbian_raw' --grid 'edges.*.lam=0.01,0.03' \
  --seeds 2 --workers 2 --out runs/study5 --quiet
cp runs/study5/plots/over_time.png plots/study5_over_time.png
asyncpc sweep xor --grid 'edges.*.rule=tied,hebbian,hebbian_raw,fixed' --seeds 3 --workers 2 \
  --out runs/study6 --quiet
cp runs/study6/plots/over_time.png plots/study6_over_time.png
asyncpc sweep xor --set 'edges.*.delay.dist=lognormal' --grid 'edges.*.delay.mean=0.01,0.05,0.2' \
  --grid 'edges.*.delay.std=0.005,0.1' --grid 'populations.*.theta=0.01,0.05' \
  --grid 'edges.*.lam=0,2e-4' --seeds 1 --workers 2 --out runs/study4x --quiet
cp runs/study4x/plots/final_vs_edges_delay_mean.png plots/study4x_final_vs_delay.png
# forgetting on real data (README, "Against backprop"; 12 runs, ~55 minutes)
asyncpc sweep split_digits --grid 'edges.*.eta_w=0.005,0.01,0.02' --with 'baseline.eta=0.01,0.03,0.1' \
  --seeds 4 --workers 2 --out runs/split_digits_study --quiet
cp runs/split_digits_study/plots/forgetting.png plots/split_digits_forgetting.png
asyncpc plot 'runs/split_digits_study/edges._.eta_w=0.01,baseline.eta=0.03-c61f163c/seed0' --kind tasks
cp 'runs/split_digits_study/edges._.eta_w=0.01,baseline.eta=0.03-c61f163c/seed0/plots/tasks.png' \
  plots/split_digits_tasks.png
# one network over 2 MPI processes: measured speed-up and the model (~2 min; needs asyncpc[mpi])
python benchmarks/ranks_speedup.py
