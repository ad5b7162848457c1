// Per-thread scratch memory that grows to the largest size seen and is then reused, so that the
// hot loops (forward, vjp, propagation) do not allocate once warm.
#pragma once

#include "lrp/tensor.hpp"

#include <Eigen/Core>

#include <vector>

namespace lrp {

class Workspace {
 public:
  // A rows × cols scratch matrix in slot `slot`; its contents are unspecified.
  MatrixMap get(int slot, Index rows, Index cols);
  // The same, zero-filled.
  MatrixMap zeros(int slot, Index rows, Index cols);

 private:
  // Aligned like Eigen's own matrices (64 bytes with AVX-512): with a less aligned buffer Eigen
  // handles the first elements of a vectorized loop on a scalar path whose rounding differs, so
  // results would depend on where the buffer happens to lie.
  std::vector<std::vector<Scalar, Eigen::aligned_allocator<Scalar>>> slots_;
};

// The calling thread's workspace, shared by the forward pass and every explainer on that thread,
// so that their scratch buffers (the largest is a convolution's unfolded input) stay warm in cache.
Workspace& thread_workspace();

// Slot numbers: layers use [0, kRuleSlots); the generic propagation step uses the rest.
inline constexpr int kLayerSlot0 = 0;
inline constexpr int kRuleSlots = 8;

}  // namespace lrp
