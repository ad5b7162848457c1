// Training-time augmentation: random shifts with a constant fill and random horizontal mirroring.
//
// Oracles: the geometry is checked against the definition out(h, w) = in(h − dy, w' − dx) with
// w' = W − 1 − w when mirrored (fill outside the image), written here as a direct loop, with the
// draws (dy, dx, flip) replayed from a copy of the generator in the documented order; on real
// Fashion-MNIST images the sum of an augmented image is checked against the sum of the part of the
// original that stays inside plus the fill times the uncovered count. Config errors name the file
// position and the key.
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/core/random.hpp"
#include "lrp/experiment/config.hpp"
#include "lrp/io/data.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/train/augment.hpp"
#include "lrp/train/train.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <fstream>
#include <map>

using namespace lrp_test;
using Catch::Matchers::Contains;
using lrp::Augmentation;
using lrp::Index;

namespace {

struct Draw {
  Index dy = 0, dx = 0;
  bool mirror = false;
};

// The draws augment_batch makes for `count` samples, replayed from `rng` (a copy of the generator).
std::vector<Draw> replay(std::mt19937_64& rng, const Augmentation& a, Index count) {
  std::vector<Draw> draws;
  for (Index n = 0; n < count; ++n) {
    Draw d;
    if (a.shift > 0) {
      d.dy = static_cast<Index>(lrp::bounded(rng, static_cast<std::uint64_t>(2 * a.shift + 1))) - a.shift;
      d.dx = static_cast<Index>(lrp::bounded(rng, static_cast<std::uint64_t>(2 * a.shift + 1))) - a.shift;
    }
    if (a.flip) d.mirror = lrp::bounded(rng, 2) == 1;
    draws.push_back(d);
  }
  return draws;
}

// The definition, one value at a time.
Scalar expected_value(const lrp::Tensor& in, Index n, Index c, Index h, Index w, const Draw& d, Scalar fill) {
  const Index H = in.shape[1], W = in.shape[2];
  const Index wp = d.mirror ? W - 1 - w : w;
  const Index sh = h - d.dy, sw = wp - d.dx;
  if (sh < 0 || sh >= H || sw < 0 || sw >= W) return fill;
  return in.data(n, (c * H + sh) * W + sw);
}

}  // namespace

TEST_CASE("Augmentation moves and mirrors every sample as its replayed draws say, with a per-channel fill", "[train][augment]") {
  lrp::Tensor batch;
  batch.shape = {2, 5, 6};
  batch.data = random_matrix(40, 60, 11);
  Augmentation a;
  a.shift = 2;
  a.flip = true;
  a.fill = {Scalar(-7), Scalar(9)};
  std::mt19937_64 rng(5), copy(5);
  const std::vector<Draw> draws = replay(copy, a, batch.batch());
  const lrp::Tensor original = batch;
  lrp::augment_batch(batch, a, rng);
  std::map<std::array<Index, 3>, int> seen;
  for (Index n = 0; n < batch.batch(); ++n) {
    const Draw& d = draws[static_cast<std::size_t>(n)];
    ++seen[{d.dy, d.dx, d.mirror ? 1 : 0}];
    for (Index c = 0; c < 2; ++c)
      for (Index h = 0; h < 5; ++h)
        for (Index w = 0; w < 6; ++w)
          REQUIRE(batch.data(n, (c * 5 + h) * 6 + w) == expected_value(original, n, c, h, w, d, a.fill[static_cast<std::size_t>(c)]));
  }
  // 40 samples over 50 outcomes: the draws vary (a constant draw would be one outcome).
  CHECK(seen.size() > 20);
  // The generator moved on by exactly the replayed draws.
  CHECK(rng() == copy());
}

TEST_CASE("Augmentation draws are uniform over the shifts and flip half of the samples", "[train][augment]") {
  lrp::Tensor batch;
  batch.shape = {1, 4, 4};
  batch.data = Matrix::Zero(6000, 16);
  for (Index n = 0; n < batch.batch(); ++n) batch.data(n, 5) = 1;  // a marker at (1, 1)
  Augmentation a;
  a.shift = 1;
  a.flip = true;
  std::mt19937_64 rng(17);
  lrp::augment_batch(batch, a, rng);
  // The marker lands at (1 + dy, mirrored 1 + dx): nine shifts × two mirrorings, 18 equally likely places.
  std::map<Index, int> where;
  for (Index n = 0; n < batch.batch(); ++n) {
    Index at = -1;
    for (Index j = 0; j < 16; ++j)
      if (batch.data(n, j) == 1) at = j;
    REQUIRE(at >= 0);
    ++where[at];
  }
  // Rows 1 + dy ∈ {0, 1, 2}. Columns: unmirrored 1 + dx ∈ {0, 1, 2}; mirrored, the pixel at w reads
  // column W − 1 − w − dx, which is the marker's 1 for w = 2 − dx ∈ {1, 2, 3}. Columns 1 and 2 get
  // both, 2 of 6 chances each, columns 0 and 3 one each: probabilities 1/6, 2/6, 2/6, 1/6 per row.
  CHECK(where.size() == 12);
  for (Index row = 0; row < 3; ++row)
    for (Index col = 0; col < 4; ++col) {
      const double p = (col == 0 || col == 3 ? 1.0 : 2.0) / 6.0 / 3.0;
      REQUIRE(where.count(row * 4 + col) == 1);
      const double share = where[row * 4 + col] / 6000.0;
      CHECK(std::abs(share - p) < 4 * std::sqrt(p * (1 - p) / 6000.0));
    }
}

TEST_CASE("Augmentation off leaves the batch and the generator untouched, and bad options are errors", "[train][augment]") {
  lrp::Tensor batch;
  batch.shape = {1, 3, 3};
  batch.data = random_matrix(4, 9, 3);
  const lrp::Tensor original = batch;
  std::mt19937_64 rng(9), copy(9);
  lrp::augment_batch(batch, Augmentation{}, rng);
  CHECK(bit_equal(batch.data, original.data));
  CHECK(rng() == copy());

  Augmentation big;
  big.shift = 3;
  CHECK_THAT(error_of([&] { lrp::validate(big, {1, 3, 3}, "here"); }),
             Contains("here: the shift (3 pixels) must be smaller than the image (3x3)"));
  Augmentation flip;
  flip.flip = true;
  CHECK_THAT(error_of([&] { lrp::validate(flip, {12}, "here"); }),
             Contains("here: augmentation shifts and mirrors images [C, H, W]") && Contains("[12]"));
  flip.fill = {Scalar(0), Scalar(1)};
  CHECK_THAT(error_of([&] { lrp::validate(flip, {3, 4, 4}, "here"); }), Contains("2 fill values for images with 3 channels"));
}

TEST_CASE("Augmented Fashion-MNIST images keep the pixels that stay inside and fill the rest", "[train][augment][real]") {
  const lrp::Dataset data = fashion_mnist_test(0, 200);
  lrp::InputNormalization norm;
  norm.mean = {0.2860};
  norm.std = {0.3530};
  lrp::Tensor batch = lrp::normalize_inputs(data.inputs, norm);
  const lrp::Tensor original = batch;
  Augmentation a;
  a.shift = 2;
  a.flip = true;
  a.fill = {static_cast<Scalar>((0.0 - 0.2860) / 0.3530)};  // raw black
  std::mt19937_64 rng(23), copy(23);
  const std::vector<Draw> draws = replay(copy, a, batch.batch());
  lrp::augment_batch(batch, a, rng);
  for (Index n = 0; n < batch.batch(); ++n) {
    const Draw& d = draws[static_cast<std::size_t>(n)];
    // Σ out = Σ of the input pixels that stay inside + fill · (pixels uncovered); mirroring keeps sums.
    double kept = 0;
    Index inside = 0;
    for (Index h = 0; h < 28; ++h)
      for (Index w = 0; w < 28; ++w)
        if (h + d.dy >= 0 && h + d.dy < 28 && w + d.dx >= 0 && w + d.dx < 28) {
          kept += original.data(n, h * 28 + w);
          ++inside;
        }
    const double expected = kept + static_cast<double>(a.fill[0]) * static_cast<double>(784 - inside);
    REQUIRE(batch.data.row(n).cast<double>().sum() == Approx(expected).epsilon(1e-5));
    // Nothing below raw black appears.
    CHECK(batch.data.row(n).minCoeff() >= a.fill[0] - Scalar(1e-6));
  }
}

TEST_CASE("training.augment is read from a config, normalized per channel, and checked", "[train][augment][config]") {
  const TempDir dir("lrp_augment");
  const auto temp_file = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.file(name)) << text;
    return dir.file(name);
  };
  const std::string image_model = temp_file("cnn.yaml",
                                            "input_shape: [1, 6, 6]\nnormalization: {mean: [0.5], std: [0.25]}\n"
                                            "layers: [{kind: flatten}, {kind: dense, out: 3}]\n");
  const std::string vector_model = temp_file("mlp.yaml", "input_shape: [36]\nlayers: [{kind: dense, out: 3}]\n");
  const auto config = [&](const std::string& model, const std::string& augment) {
    return temp_file("train.yaml", "seed: 4\nthreads: 1\n"
                                   "data:\n  train: {format: synthetic, shape: [1, 6, 6], count: 60, classes: 3}\n"
                                   "model: {architecture: " + model + "}\n"
                                   "training: {epochs: 2, batch_size: 8, augment: " + augment + "}\n");
  };
  const lrp::TrainConfig c = lrp::read_train_config(config(image_model, "{shift: 1, flip: true}"), builtins());
  CHECK(c.options.augment.shift == 1);
  CHECK(c.options.augment.flip);
  REQUIRE(c.options.augment.fill.size() == 1);
  CHECK(c.options.augment.fill[0] == Approx((0.0 - 0.5) / 0.25));  // the range's lower end, raw 0
  const lrp::TrainConfig f = lrp::read_train_config(config(image_model, "{shift: 1, fill: 1}"), builtins());
  CHECK(f.options.augment.fill[0] == Approx((1.0 - 0.5) / 0.25));
  // Training with it is reproducible and differs from training without it.
  const lrp::TrainResult r1 = lrp::run_training(c, builtins()), r2 = lrp::run_training(c, builtins());
  CHECK(bit_equal(r1.model.network.layer(1).params().weight, r2.model.network.layer(1).params().weight));
  lrp::TrainConfig plain = c;
  plain.options.augment = {};
  const lrp::TrainResult r3 = lrp::run_training(plain, builtins());
  CHECK(!bit_equal(r1.model.network.layer(1).params().weight, r3.model.network.layer(1).params().weight));

  CHECK_THAT(error_of([&] { (void)lrp::read_train_config(config(vector_model, "{flip: true}"), builtins()); }),
             Contains("train.yaml:6:") && Contains("training.augment: augmentation shifts and mirrors images"));
  CHECK_THAT(error_of([&] { (void)lrp::read_train_config(config(image_model, "{shift: 6}"), builtins()); }),
             Contains("train.yaml:6:") && Contains("the shift (6 pixels) must be smaller than the image (6x6)"));
  CHECK_THAT(error_of([&] { (void)lrp::read_train_config(config(image_model, "{shift: -1}"), builtins()); }),
             Contains("train.yaml:6:") && Contains("training.augment.shift"));
  CHECK_THAT(error_of([&] { (void)lrp::read_train_config(config(image_model, "{flip: 2}"), builtins()); }),
             Contains("train.yaml:6:") && Contains("training.augment.flip"));
  CHECK_THAT(error_of([&] { (void)lrp::read_train_config(config(image_model, "{shfit: 1}"), builtins()); }),
             Contains("train.yaml:6:") && Contains("shfit"));
}
