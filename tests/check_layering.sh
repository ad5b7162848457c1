#!/usr/bin/env bash
# The module layering, checked on the include graph (the linker checks it between the shared
# libraries; this also covers the five modules inside lrp::core and the headers plugins see):
#   core < nn < propagation < registry < methods            (lrp::core, the plugin SDK)
#   SDK < io < eval;  SDK < io < train;  everything < experiment
# A file of framework/{include/lrp,src}/<module>/ may include lrp/<m>/ only for the modules <m> its
# own module may use; rules/ includes only the SDK; no SDK header or source includes YAML, HDF5,
# ONNX or MPI. Prints every violation and exits 1 if there is one.
#
# One declared exception: nn and propagation may include lrp/registry/registry.hpp. The registry is
# a catalogue of the interfaces below it (layer, rule, composite, method), and three operations look
# names up in it: build_model (layer kinds), Composite::assign and Explainer::from_composite (rules).
# All of it is one shared library, so this is a header cycle, not a link-time one.
set -euo pipefail
cd "$(dirname "$0")/.."

sdk="core nn propagation registry methods"
allowed() {
  case $1 in
    core) echo "core" ;;
    nn) echo "core nn" ;;
    propagation) echo "core nn propagation" ;;
    registry) echo "core nn propagation registry" ;;
    methods) echo "$sdk" ;;
    eval) echo "$sdk io eval" ;;
    io) echo "$sdk io" ;;
    train) echo "$sdk io train" ;;
    experiment) echo "$sdk io eval train experiment" ;;
    rules) echo "$sdk" ;;
    *) echo "" ;;
  esac
}

status=0
check_dir() {  # check_dir MODULE DIR...
  local module=$1
  shift
  local ok
  ok=" $(allowed "$module") "
  while IFS= read -r line; do
    local file=${line%%:*}
    local used
    used=$(sed -E 's|.*#include "lrp/([a-z0-9_]+)/.*|\1|' <<<"$line")
    if [[ ($module == nn || $module == propagation) && "$line" == *'#include "lrp/registry/registry.hpp"'* ]]; then
      continue
    fi
    if [[ "$ok" != *" $used "* ]]; then
      echo "layering: $file (module $module) includes lrp/$used/"
      status=1
    fi
  done < <(grep -rn --include='*.hpp' --include='*.cpp' --include='*.in' '#include "lrp/' "$@" || true)
  if [[ " $sdk rules " == *" $module "* ]]; then
    if grep -rnE --include='*.hpp' --include='*.cpp' '#include [<"](yaml-cpp/|hdf5|H5|onnx/|mpi\.h|google/protobuf)' "$@"; then
      echo "layering: module $module is part of the plugin SDK and must not include YAML, HDF5, ONNX or MPI"
      status=1
    fi
  fi
}

for dir in framework/src/*/; do
  module=$(basename "$dir")
  check_dir "$module" "$dir" "framework/include/lrp/$module"
done
check_dir rules rules
for dir in framework/include/lrp/*/; do
  [ -d "framework/src/$(basename "$dir")" ] || { echo "layering: $dir has no framework/src/ twin"; status=1; }
done
exit $status
