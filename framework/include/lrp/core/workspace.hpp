// Per-thread scratch memory that grows to the largest size seen and is then reused, so that the
// hot loops (forward, vjp, propagation) do not allocate once warm.
//
// The memory is a row of numbered slots, one buffer each. Nobody writes a slot number by hand:
// every piece of code that needs scratch memory owns a named range of slots, the framework's in
// the table of lrp/core/slots.hpp (checked disjoint at compile time), a plugin's reserved at run
// time with reserve_slots(). Owners nest (the explainer holds its buffers while a rule runs, the
// generic LRP step holds its buffers while a layer runs), so two owners must never share a slot.
#pragma once

#include "lrp/core/tensor.hpp"

#include <Eigen/Core>

#include <span>
#include <string_view>
#include <vector>

namespace lrp {

// The slots [first, first + count) of every workspace, owned by `owner`.
struct SlotRange {
  const char* owner = "";
  int first = 0;
  int count = 0;

  constexpr int end() const { return first + count; }
};

// Index of the first range in `ranges` that overlaps an earlier one (shares a slot with it), or −1
// when they are disjoint; an empty or negative range counts as overlapping (it is a mistake too).
constexpr int first_overlap(std::span<const SlotRange> ranges) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].first < 0 || ranges[i].count <= 0) return static_cast<int>(i);
    for (std::size_t j = 0; j < i; ++j)
      if (ranges[i].first < ranges[j].end() && ranges[j].first < ranges[i].end()) return static_cast<int>(i);
  }
  return -1;
}

// Throws lrp::Error naming both owners when two of `ranges` share a slot (or one is empty).
void check_disjoint(std::span<const SlotRange> ranges);

// Reserves `count` slots for `owner` (a plugin, say its name) for the life of the process, above
// the framework's own and every range reserved before; the returned range's owner points into the
// reservation, which lives as long as the process. Asking again under the same name with the same
// count returns the same range (a plugin may register into several registries); lrp::Error when the
// name is a framework owner's or was reserved with another count, or count is not in [1, 64].
// Thread-safe; call it once, when the rule or layer is made, not in a hot loop.
SlotRange reserve_slots(std::string_view owner, int count);

class Workspace {
 public:
  // A rows × cols scratch matrix in slot `index` of `range`; its contents are unspecified. An index
  // outside [0, range.count) is another owner's slot: lrp::Error.
  MatrixMap get(const SlotRange& range, int index, Index rows, Index cols);
  // The same, zero-filled.
  MatrixMap zeros(const SlotRange& range, int index, Index rows, Index cols);

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

}  // namespace lrp
