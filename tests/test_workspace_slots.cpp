// Workspace slots have owners: the framework's table is disjoint (checked at compile time, and here
// at run time by the same function), an overlapping table is refused naming both owners, plugins
// reserve ranges of their own by name, and an index outside an owner's range is refused.
#include "test_util.hpp"

#include "lrp/core/slots.hpp"
#include "lrp/core/workspace.hpp"

#include <catch2/catch.hpp>

#include <array>

using Catch::Contains;

namespace {

constexpr std::array kOverlapping{lrp::SlotRange{"first owner", 0, 3}, lrp::SlotRange{"second owner", 5, 2},
                                  lrp::SlotRange{"third owner", 2, 2}};
static_assert(lrp::first_overlap(kOverlapping) == 2, "the third range shares slot 2 with the first");
static_assert(lrp::first_overlap(lrp::slots::kFramework) < 0);

}  // namespace

TEST_CASE("the framework's slot owners are disjoint and cover the slots below kFrameworkEnd", "[workspace]") {
  REQUIRE_NOTHROW(lrp::check_disjoint(lrp::slots::kFramework));
  int covered = 0;
  for (const lrp::SlotRange& r : lrp::slots::kFramework) {
    CHECK(r.count > 0);
    CHECK(r.end() <= lrp::slots::kFrameworkEnd);
    covered += r.count;
  }
  CHECK(covered == lrp::slots::kFrameworkEnd);
}

TEST_CASE("a slot table in which two owners share a slot is refused naming both", "[workspace]") {
  CHECK(lrp::first_overlap(kOverlapping) == 2);
  REQUIRE_THROWS_WITH(lrp::check_disjoint(kOverlapping),
                      Contains("'third owner' [2, 4) overlaps 'first owner' [0, 3)"));
  const std::array adjacent{lrp::SlotRange{"a", 0, 3}, lrp::SlotRange{"b", 3, 1}};
  CHECK(lrp::first_overlap(adjacent) == -1);
  const std::array empty{lrp::SlotRange{"a", 0, 3}, lrp::SlotRange{"nothing", 7, 0}};
  CHECK(lrp::first_overlap(empty) == 1);
  REQUIRE_THROWS_WITH(lrp::check_disjoint(empty), Contains("'nothing' [7, 7) is not a valid range"));
}

TEST_CASE("reserve_slots gives each plugin owner its own range after the framework's and refuses a clash",
          "[workspace]") {
  const lrp::SlotRange a = lrp::reserve_slots("slot test owner a", 2);
  const lrp::SlotRange b = lrp::reserve_slots("slot test owner b", 1);
  CHECK(a.first >= lrp::slots::kFrameworkEnd);
  CHECK(a.count == 2);
  CHECK(b.count == 1);
  CHECK(std::string(a.owner) == "slot test owner a");
  const std::array both{a, b};
  CHECK(lrp::first_overlap(both) == -1);
  // The same owner again (a plugin registered into a second registry) gets the same range.
  const lrp::SlotRange again = lrp::reserve_slots("slot test owner a", 2);
  CHECK(again.first == a.first);
  CHECK(again.count == a.count);
  REQUIRE_THROWS_WITH(lrp::reserve_slots("slot test owner a", 3), Contains("holds 'slot test owner a'"));
  REQUIRE_THROWS_WITH(lrp::reserve_slots("conv2d", 3), Contains("name of the framework's own slots 'conv2d'"));
  REQUIRE_THROWS_WITH(lrp::reserve_slots("slot test owner c", 0), Contains("1 to 64 can be reserved"));
  REQUIRE_THROWS_WITH(lrp::reserve_slots("", 1), Contains("has no name"));
}

TEST_CASE("a workspace keeps owners' buffers apart and refuses an index outside an owner's range", "[workspace]") {
  lrp::Workspace ws;
  const lrp::SlotRange mine = lrp::reserve_slots("slot test owner d", 1);
  lrp::MatrixMap conv = ws.get(lrp::slots::kConv2d, 0, 3, 4);
  conv.setConstant(1);
  lrp::MatrixMap lstm = ws.zeros(lrp::slots::kLstm, 0, 2, 2);
  lrp::MatrixMap own = ws.get(mine, 0, 4, 3);
  own.setConstant(7);
  CHECK(lstm.sum() == 0);
  // Asking again for a smaller matrix reuses the buffer: the same memory, the values kept.
  lrp::MatrixMap conv_again = ws.get(lrp::slots::kConv2d, 0, 2, 3);
  CHECK(conv_again.data() == conv.data());
  CHECK(conv_again.sum() == 6);
  CHECK(own.sum() == 84);
  REQUIRE_THROWS_WITH(ws.get(mine, 1, 1, 1), Contains("slot 1 of 'slot test owner d'") && Contains("outside its range"));
  REQUIRE_THROWS_WITH(ws.get(lrp::slots::kExplainer, -1, 1, 1), Contains("outside its range"));
}
