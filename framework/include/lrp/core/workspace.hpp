// Per-thread scratch memory that grows to the largest size seen and is then reused, so that the
// hot loops (forward, vjp, propagation) do not allocate once warm.
#pragma once

#include "lrp/core/tensor.hpp"

#include <Eigen/Core>

#include <span>
#include <vector>

namespace lrp {

class Workspace {
 public:
  // A rows × cols scratch matrix in slot `slot`; its contents are unspecified.
  MatrixMap get(int slot, Index rows, Index cols);
  // The same, zero-filled.
  MatrixMap zeros(int slot, Index rows, Index cols);

  // Per-sample sequence lengths of the rows the current layer call covers: row r of the call's
  // input is a sequence whose first lengths()[r] time steps are real and whose remaining steps are
  // padding, which a sequence layer (lstm) and its rules must ignore. Empty: every row uses all of
  // its steps. Set by whoever walks the rows (Network::forward, Explainer::explain, training)
  // through a LengthsScope, for exactly the rows it hands to the layer.
  std::span<const Index> lengths() const { return lengths_; }

 private:
  friend class LengthsScope;
  std::span<const Index> lengths_;
  // Aligned like Eigen's own matrices (64 bytes with AVX-512): with a less aligned buffer Eigen
  // handles the first elements of a vectorized loop on a scalar path whose rounding differs, so
  // results would depend on where the buffer happens to lie.
  std::vector<std::vector<Scalar, Eigen::aligned_allocator<Scalar>>> slots_;
};

// Sets ws.lengths() for a block of rows and restores the previous value when it ends.
class LengthsScope {
 public:
  LengthsScope(Workspace& ws, std::span<const Index> lengths) : ws_(ws), previous_(ws.lengths_) { ws.lengths_ = lengths; }
  ~LengthsScope() { ws_.lengths_ = previous_; }
  LengthsScope(const LengthsScope&) = delete;
  LengthsScope& operator=(const LengthsScope&) = delete;

 private:
  Workspace& ws_;
  std::span<const Index> previous_;
};

// The lengths of rows [begin, begin + rows) of a batch: empty when the batch has none.
inline std::span<const Index> row_lengths(const std::vector<Index>& lengths, Index begin, Index rows) {
  if (lengths.empty()) return {};
  return std::span<const Index>(lengths).subspan(static_cast<size_t>(begin), static_cast<size_t>(rows));
}

// The calling thread's workspace, shared by the forward pass and every explainer on that thread,
// so that their scratch buffers (the largest is a convolution's unfolded input) stay warm in cache.
Workspace& thread_workspace();

// Slot numbers: layers use [0, kRuleSlots); the generic propagation step uses the rest.
inline constexpr int kLayerSlot0 = 0;
inline constexpr int kRuleSlots = 8;

}  // namespace lrp
