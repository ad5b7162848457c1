#!/usr/bin/env bash
# lrplab's one entry point for a fresh Debian 12 machine: installs what is missing, builds, runs.
#
#   ./build.sh quickstart   install, build (float32, Release) and run configs/quickstart.yaml
#                           (results/quickstart.h5, heatmaps and curves in results/quickstart/)
#   ./build.sh test         install, then build and run the whole test suite three times:
#                           float32 (Release) and float64 reference mode (Release), both with
#                           MPI (multi-process runs on 2 and 3 ranks) and the Python module
#                           (pytest: tests/python), and float32 without MPI and Python,
#                           with AddressSanitizer + UndefinedBehaviorSanitizer (portable,
#                           without -march=native); warnings are errors in all three
#   ./build.sh bench        install, build (Release) and run the benchmarks (explain, train, metrics, lstm, data)
#   ./build.sh bench-mpi    the pixel-flipping study on 1, 2 and 4 MPI ranks (tests/bench/mpi_scaling.sh)
#   ./build.sh fuzz [SECONDS] install clang and libFuzzer, build the fuzz targets (tests/fuzz) in
#                           build/fuzz with ASan + UBSan and run each for SECONDS (default 60) on a
#                           working copy of its corpus (build/fuzz/corpus/<target>); findings go to
#                           build/fuzz/findings/<target>/. FUZZ_TARGETS="csv idx" picks targets;
#                           FUZZ_KEEP_GOING=1 keeps fuzzing after a finding (libFuzzer's fork mode);
#                           FUZZ_TIMEOUT (default 10) is the seconds one input may take
#   ./build.sh deps         only install the Debian packages
#
# Build trees: build/release, build/float64, build/sanitize (the default CMake build needs no MPI;
# build.sh turns it on with -DLRP_MPI=ON for release and float64, and the Python module with
# -DLRP_PYTHON=ON: PYTHONPATH=build/release/python), build/fuzz. JOBS sets the
# parallelism (default nproc).
set -euo pipefail
cd "$(dirname "$0")"
JOBS=${JOBS:-$(nproc)}

PACKAGES=(g++ cmake ninja-build pkg-config libeigen3-dev libspdlog-dev catch2 libbenchmark-dev zlib1g-dev
          libyaml-cpp-dev libhdf5-dev libonnx-dev libprotobuf-dev protobuf-compiler dataset-fashion-mnist
          libopenmpi-dev openmpi-bin pybind11-dev python3-dev python3-numpy python3-pytest python3-h5py
          chromium)  # chromium: the HTML report's browser test (headless)

# Only `./build.sh fuzz` needs these: clang 14 with libFuzzer and the sanitizer runtimes, and
# clang's OpenMP runtime.
FUZZ_PACKAGES=(clang libclang-rt-14-dev libomp-14-dev)

deps() {
  install_missing "${PACKAGES[@]}"
}

install_missing() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# configure_and_build DIR [cmake options...]
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DLRP_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
}

run_tests() {
  local dir=$1
  echo "== tests in $dir"
  # Every Catch2 test case must be its own CTest test: a test name CMake splits (a ';') or cannot
  # split (an unbalanced bracket) would register names that match no test case and run nothing.
  local cases registered
  # (Catch2 returns the number of test cases as the exit code of a listing)
  cases=$({ "$dir/tests/lrp_tests" --list-test-names-only || true; } | grep -c .)
  registered=$(ctest --test-dir "$dir" -N -L catch | sed -n 's/^Total Tests: //p')
  if [ "$cases" != "$registered" ]; then
    echo "error: $dir/tests/lrp_tests has $cases test cases but CTest registered $registered (check the test names)" >&2
    exit 1
  fi
  ctest --test-dir "$dir" -j "$JOBS" --output-on-failure --timeout 600
}

# ---- fuzzing (README "Fuzzing")
ALL_FUZZ_TARGETS=(config model_yaml model_file onnx idx csv hdf5_data)

# The largest input libFuzzer makes for a target (its seeds are smaller; see tests/fuzz/corpus).
fuzz_max_len() {
  case $1 in
    config) echo 8192 ;;
    model_yaml) echo 4096 ;;
    model_file) echo 65536 ;;
    onnx) echo 16384 ;;
    idx | csv) echo 4096 ;;
    hdf5_data) echo 16384 ;;
  esac
}

# The largest single allocation (MB) that is not a finding. The HDF5 targets read every file in a
# child process first (lrp::h5::contained), where libhdf5 itself allocates what a damaged file
# declares (a 4 GB string); the child inherits libFuzzer's malloc limit and would report that, so
# they get a higher one (the RSS limit still holds for the fuzzing process itself).
fuzz_malloc_limit() {
  case $1 in
    model_file | hdf5_data) echo 8192 ;;
    *) echo 2560 ;;
  esac
}

# fuzz_summary LOG: "executions exec/s cov ft" from libFuzzer's output (-print_final_stats=1, or the
# last status line of fork mode).
fuzz_summary() {
  # Fork mode (FUZZ_KEEP_GOING=1): the parent's own final statistics are zeros; its last status line
  # "#RUNS: cov: C ft: F ... time: Ts" counts every job's executions.
  awk '
    /^stat::number_of_executed_units:/ { execs = $2 }
    /^stat::average_exec_per_sec:/ { rate = $2 }
    /^#[0-9]+: cov: / {
      fexecs = substr($1, 2, length($1) - 2)
      for (i = 1; i < NF; ++i) if ($i == "time:") ftime = $(i + 1) + 0
    }
    / cov: [0-9]+ ft: [0-9]+/ { for (i = 1; i < NF; ++i) { if ($i == "cov:") cov = $(i + 1); if ($i == "ft:") ft = $(i + 1) } }
    END {
      if (fexecs != "") { execs = fexecs; rate = (ftime > 0 ? int(fexecs / ftime) : "?") }
      printf "%s %s %s %s\n", (execs == "" ? "?" : execs), (rate == "" ? "?" : rate), (cov == "" ? "?" : cov), (ft == "" ? "?" : ft)
    }' "$1"
}

fuzz() {
  local seconds=${1:-60}
  deps
  install_missing "${FUZZ_PACKAGES[@]}"
  # -O1 with assertions (no NDEBUG: Eigen's bounds checks stay on) and line tables for the stacks.
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DLRP_WERROR=ON -DLRP_FUZZ=ON -DLRP_NATIVE=OFF \
    -DLRP_BUILD_TESTS=OFF -DLRP_BUILD_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only" \
    >/dev/null
  cmake --build build/fuzz -j "$JOBS" --target lrp_fuzz_targets
  local root=$PWD targets found=0 summary=""
  read -r -a targets <<<"${FUZZ_TARGETS:-${ALL_FUZZ_TARGETS[*]}}"
  mkdir -p build/fuzz/logs
  for t in "${targets[@]}"; do
    local work=$root/build/fuzz/corpus/$t findings=$root/build/fuzz/findings/$t log=$root/build/fuzz/logs/$t.log
    if [ ! -d "tests/fuzz/corpus/$t" ]; then
      echo "error: no fuzz target '$t' (targets: ${ALL_FUZZ_TARGETS[*]})" >&2
      exit 2
    fi
    # The committed corpus is copied, never grown: new inputs go to the working copy.
    mkdir -p "$work" "$findings"
    cp -n "tests/fuzz/corpus/$t"/* "$work"/
    local dict=() mode=()
    if [ -f "tests/fuzz/fuzz_$t.dict" ]; then dict=("-dict=$root/tests/fuzz/fuzz_$t.dict"); fi
    if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then mode=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1); fi
    local before
    before=$(find "$findings" -type f ! -name 'slow-unit-*' | wc -l)
    echo "== fuzz_$t for ${seconds}s (log: build/fuzz/logs/$t.log)"
    # Absolute paths throughout: fuzz_config changes its working directory to the repository.
    # (tests/fuzz/lsan.supp: libhdf5's own leaks on damaged files, reported, are not findings here.)
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      LSAN_OPTIONS=suppressions=$root/tests/fuzz/lsan.supp \
      "build/fuzz/tests/fuzz/fuzz_$t" "$work" "${dict[@]}" "${mode[@]}" -max_total_time="$seconds" \
      -rss_limit_mb=2560 -malloc_limit_mb="$(fuzz_malloc_limit "$t")" -timeout="${FUZZ_TIMEOUT:-10}" -max_len="$(fuzz_max_len "$t")" -print_final_stats=1 \
      -artifact_prefix="$findings/" >"$log" 2>&1 || true
    local after new
    after=$(find "$findings" -type f ! -name 'slow-unit-*' | wc -l)
    new=$((after - before))
    found=$((found + new))
    read -r execs rate cov ft < <(fuzz_summary "$log")
    summary+=$(printf '%-12s %12s %8s %7s %8s %8s' "$t" "$execs" "$rate" "$cov" "$ft" "$new")$'\n'
    if [ "$new" -gt 0 ]; then
      echo "   $new finding(s) in build/fuzz/findings/$t/ (see the log); reproduce with"
      echo "   build/fuzz/tests/fuzz/fuzz_$t FILE"
    fi
  done
  printf '%-12s %12s %8s %7s %8s %8s\n' target executions exec/s cov ft findings
  printf '%s' "$summary"
  if [ "$found" -gt 0 ]; then
    echo "$found finding(s): minimize with build/fuzz/tests/fuzz/fuzz_<target> -minimize_crash=1 -runs=10000 FILE," >&2
    echo "then commit as tests/fuzz/corpus/<target>/crash-<what> once fixed (tests/fuzz/pending/ until then)" >&2
    exit 1
  fi
}

case "${1:-}" in
  deps) deps ;;
  quickstart)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_PYTHON=ON -DLRP_BUILD_BENCHMARKS=OFF \
      -DLRP_BUILD_TESTS=OFF
    ./build/release/lrplab run configs/quickstart.yaml
    ;;
  test)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_PYTHON=ON -DLRP_BUILD_TESTS=ON \
      -DLRP_BUILD_BENCHMARKS=ON
    run_tests build/release
    configure_and_build build/float64 -DCMAKE_BUILD_TYPE=Release -DLRP_FLOAT64=ON -DLRP_MPI=ON -DLRP_PYTHON=ON -DLRP_BUILD_BENCHMARKS=OFF
    run_tests build/float64
    # Without -march=native: GCC 12 reports a false 'used uninitialized' inside its own AVX-512
    # intrinsics at -O2 (GCC bug 105593); the sanitizers check the portable build instead.
    # -g1: line tables and function names, what the sanitizers' stack traces print (a full -g costs a
    # fifth more compile time).
    configure_and_build build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRP_SANITIZE=ON -DLRP_NATIVE=OFF \
      -DLRP_BUILD_BENCHMARKS=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_tests build/sanitize
    ;;
  bench)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_PYTHON=ON -DLRP_BUILD_TESTS=ON \
      -DLRP_BUILD_BENCHMARKS=ON
    ./build/release/tests/bench/lrp_bench "${@:2}"
    ./build/release/tests/bench/lrp_bench_train "${@:2}"
    ./build/release/tests/bench/lrp_bench_metrics "${@:2}"
    ./build/release/tests/bench/lrp_bench_lstm "${@:2}"
    ./build/release/tests/bench/lrp_bench_data "${@:2}"
    ;;
  fuzz)
    fuzz "${@:2}"
    ;;
  bench-mpi)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_PYTHON=ON
    tests/bench/mpi_scaling.sh build/release/lrplab "${@:2}"
    ;;
  *)
    sed -n '2,23p' "$0"
    exit 2
    ;;
esac
