// Bounded appetite: the limits a run, a model or a dataset must stay within, and the size
// arithmetic that never overflows.
//
// Every size lrplab computes from untrusted input (a shape in a config, a dimension in a model or
// data file) goes through checked arithmetic, and every large allocation is estimated first and
// compared with Limits::memory, so that a declared size no machine holds is an lrp::Error naming
// the estimate, what it is for and the config key that raises the limit, before anything is
// allocated. The defaults let a 24 GB, 2-core machine survive any config.
#pragma once

#include "lrp/core/tensor.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace lrp {

struct Limits {
  // The estimated peak memory of a run (model, data, relevance maps, forward passes), or of
  // loading one model or dataset. Default: default_memory_limit().
  std::uint64_t memory;
  // integrated_gradients `steps` (each step is a forward and backward pass per sample).
  Index integrated_gradients_steps = 4096;
  // Methods one `sweep:` entry expands to (the product of its value lists).
  Index sweep_points = 1000;
  // pixel_flipping `random_repeats` (random orders per sample).
  Index random_repeats = 1000;
  // The longest an HDF5 file (a model or data file) may take to read before lrplab gives up on it
  // (lrp::h5::contained: the HDF5 library loops forever on some damaged files).
  double read_seconds = 300;

  Limits();
};

// The default memory limit: the environment variable LRPLAB_MEMORY_LIMIT when it is set (a size,
// as parse_size reads it), else 16 GiB, or three quarters of this machine's physical memory when
// that is less.
std::uint64_t default_memory_limit();

// A size: a number of bytes, or a number with a unit B, KB, MB, GB, TB (powers of 1000) or KiB,
// MiB, GiB, TiB (powers of 1024), with or without a space ("16GiB", "512 MB"); at least 1 MiB.
// Empty when the text is not such a size.
std::optional<std::uint64_t> parse_size(const std::string& text);

// "1.5 GiB", "312 MiB", "48 KiB", "100 B".
std::string format_bytes(std::uint64_t bytes);

// a · b, or UINT64_MAX when the product does not fit (sizes saturate instead of wrapping).
std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b);
// a + b, or UINT64_MAX when the sum does not fit.
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b);

// The number of elements of a shape, checked: every extent ≥ 1 and the product below 2^62
// (lrp::Error naming `what` and the shape otherwise). Use it for every shape read from input.
Index checked_numel(const Shape& shape, const std::string& what);

// Throws lrp::Error unless `bytes` ≤ limits.memory:
//   "<what> needs about <size> of memory, more than the limit of <limit> (<key>)"
// `key` is the config key that raises the limit, e.g. "limits.memory".
void check_memory(std::uint64_t bytes, const Limits& limits, const std::string& what,
                  const std::string& key = "limits.memory");

}  // namespace lrp
