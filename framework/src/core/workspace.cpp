// Workspace buffers, and the owners of its slots (workspace.hpp, slots.hpp).
#include "lrp/core/workspace.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/slots.hpp"

#include <algorithm>
#include <list>
#include <mutex>
#include <string>

namespace lrp {

namespace {

std::string describe(const SlotRange& r) {
  return detail::concat("'", r.owner, "' [", r.first, ", ", r.end(), ")");
}

// The ranges reserved at run time. A list, so that the owner names the ranges point to never move.
struct Reservations {
  std::mutex mutex;
  std::list<std::string> names;
  std::vector<SlotRange> ranges;
  int next = slots::kFrameworkEnd;
};

Reservations& reservations() {
  static Reservations r;
  return r;
}

}  // namespace

void check_disjoint(std::span<const SlotRange> ranges) {
  const int i = first_overlap(ranges);
  if (i < 0) return;
  const SlotRange& r = ranges[static_cast<std::size_t>(i)];
  LRP_CHECK(r.first >= 0 && r.count > 0, "workspace slots: ", describe(r), " is not a valid range");
  for (int j = 0; j < i; ++j) {
    const SlotRange& other = ranges[static_cast<std::size_t>(j)];
    LRP_CHECK(!(r.first < other.end() && other.first < r.end()), "workspace slots: ", describe(r), " overlaps ",
              describe(other), "; two owners would overwrite each other's scratch memory");
  }
}

SlotRange reserve_slots(std::string_view owner, int count) {
  LRP_CHECK(!owner.empty(), "reserve_slots: the owner has no name");
  LRP_CHECK(count >= 1 && count <= 64, "reserve_slots: '", owner, "' asks for ", count, " slots; 1 to 64 can be reserved");
  for (const SlotRange& r : slots::kFramework)
    LRP_CHECK(owner != r.owner, "reserve_slots: '", owner, "' is the name of the framework's own slots ", describe(r),
              "; a plugin reserves slots under its own name");
  Reservations& all = reservations();
  const std::lock_guard lock(all.mutex);
  for (const SlotRange& r : all.ranges) {
    if (owner != r.owner) continue;
    LRP_CHECK(r.count == count, "reserve_slots: '", owner, "' asks for ", count, " slots, but holds ", describe(r),
              "; one owner reserves one range (two pieces of code under one name would share it)");
    return r;
  }
  const std::string& name = all.names.emplace_back(owner);
  const SlotRange range{name.c_str(), all.next, count};
  all.next += count;
  all.ranges.push_back(range);
  return range;
}

MatrixMap Workspace::get(const SlotRange& range, int index, Index rows, Index cols) {
  LRP_CHECK(index >= 0 && index < range.count, "workspace: slot ", index, " of ", describe(range),
            " is outside its range (it would be another owner's)");
  const auto slot = static_cast<std::size_t>(range.first + index);
  if (slot >= slots_.size()) slots_.resize(slot + 1);
  auto& buffer = slots_[slot];
  const auto size = static_cast<std::size_t>(rows * cols);
  if (buffer.size() < size) buffer.resize(size);
  return MatrixMap(buffer.data(), rows, cols);
}

MatrixMap Workspace::zeros(const SlotRange& range, int index, Index rows, Index cols) {
  MatrixMap m = get(range, index, rows, cols);
  m.setZero();
  return m;
}

Workspace& thread_workspace() {
  thread_local Workspace workspace;
  return workspace;
}

}  // namespace lrp
