#!/usr/bin/env bash
# The pixel-flipping study (configs/fmnist_pixel_flipping.yaml: 1,000 images, 10 methods, 10 random
# orders per image) on 1, 2 and 4 MPI ranks of this machine, against the single process measured in
# the same run. Wall time is measured around the whole program (MPI start-up included). The
# per-rank overhead is what every rank repeats, loading the model and the data ("load"), and the
# exchange of results between the ranks, waiting for the slowest rank included ("exchange"), both
# from the run's "time per stage" line (rank 0).
#
#   tests/bench/mpi_scaling.sh LRPLAB [CONFIG]
# Ranks are not bound to cores (--bind-to none); with more ranks than cores they take turns
# (oversubscribed). No pictures are drawn (output.heatmap_samples=0).
set -euo pipefail
lrplab=$1
config=${2:-configs/fmnist_pixel_flipping.yaml}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
root=()
if [ "$(id -u)" -eq 0 ]; then root=(--allow-run-as-root); fi

# run RANKS THREADS: prints "wall load exchange" (RANKS 0: one process without mpirun)
run() {
  local ranks=$1 threads=$2 start end
  local args=(run "$config" --threads "$threads" --set "output.results=$out/results.h5" --set output.heatmap_samples=0)
  start=$(date +%s.%N)
  if [ "$ranks" -eq 0 ]; then
    "$lrplab" "${args[@]}" >"$out/log" 2>&1
  else
    mpirun -n "$ranks" --oversubscribe --bind-to none "${root[@]}" "$lrplab" "${args[@]}" >"$out/log" 2>&1
  fi
  end=$(date +%s.%N)
  awk -v wall="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" '
    /^time per stage:/ {
      for (i = 1; i <= NF; ++i) { if ($i == "model" || $i == "data") load += $(i + 1); if ($i == "exchange") ex = $(i + 1) }
    }
    END { printf "%.2f %.2f %.2f\n", wall, load, ex }' "$out/log"
}

printf "%-26s %8s %9s %8s %10s\n" "processes x threads" "wall s" "speed-up" "load s" "exchange s"
read -r base load ex < <(run 0 2)
printf "%-26s %8.1f %9.2f %8.2f %10s\n" "1 process x 2 threads" "$base" 1 "$load" "-"
read -r wall load ex < <(run 0 1)
printf "%-26s %8.1f %9.2f %8.2f %10s\n" "1 process x 1 thread" "$wall" "$(awk -v a="$base" -v b="$wall" 'BEGIN { print a / b }')" "$load" "-"
for ranks in 1 2 4; do
  read -r wall load ex < <(run "$ranks" 1)
  printf "%-26s %8.1f %9.2f %8.2f %10.2f\n" "MPI $ranks rank(s) x 1 thread" "$wall" \
    "$(awk -v a="$base" -v b="$wall" 'BEGIN { print a / b }')" "$load" "$ex"
done
echo "(speed-up: wall time of 1 process x 2 threads / wall time of the row, measured in this run)"
