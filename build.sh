#!/usr/bin/env bash
# lrplab's one entry point for a fresh Debian 12 machine: installs what is missing, builds, runs.
#
#   ./build.sh quickstart   install, build (float32, Release) and run configs/quickstart.yaml
#                           (results/quickstart.h5, heatmaps and curves in results/quickstart/)
#   ./build.sh test         install, then build and run the whole test suite three times:
#                           float32 (Release) and float64 reference mode (Release), both with
#                           MPI (multi-process runs on 2 and 3 ranks), and float32 without MPI,
#                           with AddressSanitizer + UndefinedBehaviorSanitizer (portable,
#                           without -march=native); warnings are errors in all three
#   ./build.sh bench        install, build (Release) and run the benchmarks (explain, train, metrics, lstm)
#   ./build.sh bench-mpi    the pixel-flipping study on 1, 2 and 4 MPI ranks (tests/bench/mpi_scaling.sh)
#   ./build.sh deps         only install the Debian packages
#
# Build trees: build/release, build/float64, build/sanitize (the default CMake build needs no MPI;
# build.sh turns it on with -DLRP_MPI=ON for release and float64). JOBS sets the parallelism (default nproc).
set -euo pipefail
cd "$(dirname "$0")"
JOBS=${JOBS:-$(nproc)}

PACKAGES=(g++ cmake ninja-build pkg-config libeigen3-dev libspdlog-dev catch2 libbenchmark-dev zlib1g-dev
          libyaml-cpp-dev libhdf5-dev libonnx-dev libprotobuf-dev protobuf-compiler dataset-fashion-mnist
          libopenmpi-dev openmpi-bin)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
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

case "${1:-}" in
  deps) deps ;;
  quickstart)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_BUILD_BENCHMARKS=OFF \
      -DLRP_BUILD_TESTS=OFF
    ./build/release/lrplab run configs/quickstart.yaml
    ;;
  test)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_BUILD_TESTS=ON \
      -DLRP_BUILD_BENCHMARKS=ON
    run_tests build/release
    configure_and_build build/float64 -DCMAKE_BUILD_TYPE=Release -DLRP_FLOAT64=ON -DLRP_MPI=ON -DLRP_BUILD_BENCHMARKS=OFF
    run_tests build/float64
    # Without -march=native: GCC 12 reports a false 'used uninitialized' inside its own AVX-512
    # intrinsics at -O2 (GCC bug 105593); the sanitizers check the portable build instead.
    configure_and_build build/sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRP_SANITIZE=ON -DLRP_NATIVE=OFF \
      -DLRP_BUILD_BENCHMARKS=OFF
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_tests build/sanitize
    ;;
  bench)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON -DLRP_BUILD_TESTS=ON \
      -DLRP_BUILD_BENCHMARKS=ON
    ./build/release/tests/bench/lrp_bench "${@:2}"
    ./build/release/tests/bench/lrp_bench_train "${@:2}"
    ./build/release/tests/bench/lrp_bench_metrics "${@:2}"
    ./build/release/tests/bench/lrp_bench_lstm "${@:2}"
    ;;
  bench-mpi)
    deps
    configure_and_build build/release -DCMAKE_BUILD_TYPE=Release -DLRP_MPI=ON
    tests/bench/mpi_scaling.sh build/release/lrplab "${@:2}"
    ;;
  *)
    sed -n '2,17p' "$0"
    exit 2
    ;;
esac
