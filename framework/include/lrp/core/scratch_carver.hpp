// Internal to the framework: carving one workspace buffer into aligned pieces, for layers and rules
// that need many scratch arrays at once (the lstm handler and the LSTM rules).
#pragma once

#include "lrp/core/tensor.hpp"

namespace lrp::detail {

// Pieces start on multiples of 16 scalars (64 bytes or more), aligned like the workspace buffer
// itself: Eigen's vectorized loops then take the same path at every call of the same size (see
// workspace.hpp), and results do not depend on where the buffer happens to lie.
inline constexpr Index kCarveAlign = 16;
inline Index carve_padded(Index n) { return (n + kCarveAlign - 1) / kCarveAlign * kCarveAlign; }

// Carves consecutive, aligned pieces out of one buffer (or, with base == nullptr, only counts, so
// that the same carving code first sizes the buffer and then cuts it).
class Carver {
 public:
  explicit Carver(Scalar* base) : base_(base) {}
  Scalar* take(Index count) {
    Scalar* piece = base_ ? base_ + used_ : nullptr;
    used_ += carve_padded(count);
    return piece;
  }
  Index used() const { return used_; }

 private:
  Scalar* base_;
  Index used_ = 0;
};

}  // namespace lrp::detail
