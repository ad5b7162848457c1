#!/usr/bin/env bash
# Shows that a change changes no number: runs every experiment config in configs/ (those with an
# `explain:` section) with two lrplab binaries, the one before the change and the one after, and
# compares the two results files of each with `lrplab compare` (every dataset and attribute but the
# times, host, ranks, run id, git commit and the config's overrides).
#
#   tests/compare_shipped_configs.sh OLD_LRPLAB NEW_LRPLAB [CONFIG.yaml ...]
#
# e.g. build the commit before the change into build/before (git worktree add ../before <rev>; cmake
# and build there), then: tests/compare_shipped_configs.sh ../before/build/lrplab build/release/lrplab
# Both binaries must be of one precision. Runs from the repository root (the configs' relative
# paths); pictures go to a temporary folder. Exit 0 when every config agrees, 1 otherwise. Takes
# as long as running every config twice (the pixel-flipping study and the LSTM experiments: a few
# minutes each).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
old=$(realpath "$1") new=$(realpath "$2")
shift 2
configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
  for c in configs/*.yaml; do
    if grep -q '^explain:' "$c"; then configs+=("$c"); fi
  done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for c in "${configs[@]}"; do
  name=$(basename "$c" .yaml)
  for side in old new; do
    bin=$old
    if [ "$side" = new ]; then bin=$new; fi
    if ! "$bin" run "$c" --set "output.results=$work/$name.$side.h5" --set "output.heatmaps=$work/$name.$side" \
        >"$work/$name.$side.log" 2>&1; then
      echo "$name: the $side binary failed (log: $work/$name.$side.log)"
      tail -3 "$work/$name.$side.log"
      failed=1
      continue 2
    fi
  done
  if "$new" compare "$work/$name.old.h5" "$work/$name.new.h5" >"$work/$name.compare" 2>&1; then
    echo "$name: identical ($(tail -1 "$work/$name.compare" | cut -d';' -f1))"
  else
    echo "$name: DIFFERENT"
    cat "$work/$name.compare"
    failed=1
  fi
done
exit $failed
