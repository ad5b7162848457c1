// Moving per-sample results between the ranks of a run: everything travels as doubles (integers
// below 2^53 exactly, 64-bit seeds bit-cast). One Archive class serves both directions, so a record
// lists its fields once, in one visit(Archive&) function: packing appends each field, unpacking
// overwrites it from the same position, and the two cannot drift apart.
#pragma once

#include "lrp/core/error.hpp"
#include "lrp/core/tensor.hpp"

#include <bit>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace lrp {

class Archive {
 public:
  // Packing: visit() appends to data().
  Archive() = default;
  // Unpacking: visit() reads `data` back in the order it was packed.
  explicit Archive(const std::vector<double>& data) : source_(&data) {}

  bool packing() const { return source_ == nullptr; }
  const std::vector<double>& data() const { return packed_; }
  // Unpacking: whether every value has been read.
  bool done() const { return source_ == nullptr || at_ == source_->size(); }

  // One arithmetic value (a std::uint64_t is a seed: its bits travel unchanged).
  template <typename T>
  void value(T& v) {
    static_assert(std::is_arithmetic_v<T>);
    if (packing()) {
      packed_.push_back(to_double(v));
    } else {
      v = from_double<T>(next());
    }
  }
  // A flag any unit may set: packing sends it, unpacking ORs it in.
  void any(bool& flag) {
    double v = flag ? 1.0 : 0.0;
    value(v);
    flag = flag || v != 0.0;
  }
  // Rows [begin, begin + count) of a (row-major or column-major) Eigen matrix.
  template <typename M>
  void rows(M& m, Index begin, Index count) {
    for (Index i = begin; i < begin + count; ++i)
      for (Index j = 0; j < m.cols(); ++j) value(m(i, j));
  }
  // Entries [begin, begin + count) of a std::vector or an Eigen vector.
  template <typename V>
  void range(V& v, Index begin, Index count) {
    for (Index i = begin; i < begin + count; ++i) value(v[static_cast<std::size_t>(i)]);
  }

 private:
  template <typename T>
  static double to_double(T v) {
    if constexpr (std::is_same_v<T, std::uint64_t>) return std::bit_cast<double>(v);
    else return static_cast<double>(v);
  }
  template <typename T>
  static T from_double(double v) {
    if constexpr (std::is_same_v<T, std::uint64_t>) return std::bit_cast<std::uint64_t>(v);
    else if constexpr (std::is_same_v<T, bool>) return v != 0.0;
    else return static_cast<T>(v);
  }
  double next() {
    LRP_CHECK(at_ < source_->size(), "internal: results gathered from the ranks end early");
    return (*source_)[at_++];
  }

  std::vector<double> packed_;
  const std::vector<double>* source_ = nullptr;
  std::size_t at_ = 0;
};

}  // namespace lrp
