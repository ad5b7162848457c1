// Per-sample sequence lengths (Tensor::lengths, Workspace::lengths()): padding must not change
// anything. The oracle is always the unpadded sequence: a sample of length L is cut to its L real
// steps and run through an lstm configured for T = L (with the same parameters, which do not depend
// on T), which never sees any lengths. The padded run must agree with it on outputs, on the input
// gradient of the real steps (and give exactly 0 on the padding), and on parameter gradients; a
// second, different random padding must give bit-identical results.
//
// The padded and the unpadded runs multiply matrices of different sizes (T·N vs L rows), whose
// products Eigen may round differently, so agreement is to rounding: float64 ≤ 1e-12, float32 ≤ 1e-5
// relative (to max(1, |oracle|)).
#include "experiment_support.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/data.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/methods/methods.hpp"
#include "lrp/io/sequence_tasks.hpp"
#include "lrp/train/train.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>

using namespace lrp_test;
using lrp::Lstm;
using lrp::Params;

namespace {

constexpr Index kD = 3, kH = 4, kT = 6;
// Mixed lengths, including 1 and T.
const std::vector<Index> kLengths{1, 6, 3, 4, 6, 2, 5};

double tolerance() { return tol(1e-5, 1e-12); }

std::unique_ptr<Lstm> make_lstm(Index steps, Index layers, bool bidirectional) {
  return configured(std::make_unique<Lstm>(kD, kH, layers, bidirectional), Shape{steps, kD}, "rnn");
}

// The real steps of every sample (row n: lengths[n]·D values, the rest unused) and the padded batch,
// whose padding is random, non-zero and different for each `padding_seed`.
Matrix real_steps(Index n, std::uint64_t seed) { return random_matrix(n, kT * kD, seed, -2.0, 2.0); }
Matrix padded(const Matrix& real, const std::vector<Index>& lengths, std::uint64_t padding_seed) {
  Matrix x = random_matrix(real.rows(), real.cols(), padding_seed, 0.5, 3.0);
  for (Index n = 0; n < real.rows(); ++n) {
    const Index l = lengths[static_cast<size_t>(n)] * kD;
    x.row(n).head(l) = real.row(n).head(l);
  }
  return x;
}

struct LayerResults {
  Matrix y, g_in;
  Params grads;
};

// forward, vjp and param_vjp of `layer` on x, with the given lengths in the workspace.
LayerResults run_layer(const Lstm& layer, const Params& p, const Matrix& x, const Matrix& g_out,
                       const std::vector<Index>& lengths) {
  lrp::Workspace ws;
  const lrp::LengthsScope scope(ws, lengths);
  LayerResults r;
  r.y.resize(x.rows(), lrp::numel(layer.output_shape()));
  layer.forward(x, p, r.y, ws);
  r.g_in = Matrix::Constant(x.rows(), x.cols(), Scalar(12345));  // must be overwritten
  layer.vjp(x, p, g_out, r.g_in, ws, false);
  r.grads = lrp::zero_like(p);
  layer.param_vjp(x, p, g_out, r.grads, ws);
  return r;
}

}  // namespace

TEST_CASE("An lstm with per-sample lengths matches the unpadded sequences: outputs, input and parameter gradients",
          "[lengths][lstm]") {
  for (bool bidirectional : {false, true})
    for (Index layers : {Index{1}, Index{2}}) {
      CAPTURE(bidirectional, layers);
      const auto lstm = make_lstm(kT, layers, bidirectional);
      const Params p = random_params(*lstm, 11 + static_cast<std::uint64_t>(layers));
      const Index n = static_cast<Index>(kLengths.size()), out = lrp::numel(lstm->output_shape());
      const Matrix real = real_steps(n, 5);
      const Matrix x = padded(real, kLengths, 99);
      const Matrix g_out = random_matrix(n, out, 7);
      const LayerResults batch = run_layer(*lstm, p, x, g_out, kLengths);

      Params grads_oracle = lrp::zero_like(p);
      for (Index i = 0; i < n; ++i) {
        const Index len = kLengths[static_cast<size_t>(i)];
        CAPTURE(i, len);
        const auto short_lstm = make_lstm(len, layers, bidirectional);
        const Matrix xi = real.row(i).head(len * kD);
        const LayerResults one = run_layer(*short_lstm, p, xi, g_out.row(i), {});
        CHECK(relative_error(batch.y.row(i), one.y) <= tolerance());
        CHECK(relative_error(batch.g_in.row(i).head(len * kD), one.g_in) <= tolerance());
        CHECK((batch.g_in.row(i).tail((kT - len) * kD).array() == Scalar(0)).all());
        grads_oracle.weight += one.grads.weight;
        grads_oracle.bias += one.grads.bias;
      }
      CHECK(relative_error(batch.grads.weight, grads_oracle.weight) <= tolerance());
      CHECK(relative_error(Matrix(batch.grads.bias), Matrix(grads_oracle.bias)) <= tolerance());

      // Other padding values: the very same bits.
      const LayerResults again = run_layer(*lstm, p, padded(real, kLengths, 1234), g_out, kLengths);
      CHECK(bit_equal(again.y, batch.y));
      CHECK(bit_equal(again.g_in, batch.g_in));
      CHECK(bit_equal(again.grads.weight, batch.grads.weight));
      CHECK(bit_equal(again.grads.bias, batch.grads.bias));

      // Lengths that are all T change nothing against no lengths at all.
      const std::vector<Index> full(static_cast<size_t>(n), kT);
      const LayerResults with_full = run_layer(*lstm, p, x, g_out, full);
      const LayerResults without = run_layer(*lstm, p, x, g_out, {});
      CHECK(bit_equal(with_full.y, without.y));
      CHECK(bit_equal(with_full.g_in, without.g_in));
      CHECK(bit_equal(with_full.grads.weight, without.grads.weight));
    }
}

TEST_CASE("The lstm refuses lengths that do not fit its block of rows", "[lengths][lstm][errors]") {
  const auto lstm = make_lstm(kT, 1, false);
  const Matrix x = real_steps(3, 1);
  Matrix y(3, kH);
  lrp::Workspace ws;
  {
    const std::vector<Index> two{2, 3};
    const lrp::LengthsScope scope(ws, two);
    CHECK_THROWS_WITH(lstm->forward(x, lstm->params(), y, ws), Catch::Contains("2 sequence lengths for a block of 3 rows"));
  }
  const std::vector<Index> bad{2, 7, 3};
  const lrp::LengthsScope scope(ws, bad);
  CHECK_THROWS_WITH(lstm->forward(x, lstm->params(), y, ws),
                    Catch::Contains("row 1 of the block has length 7 but the input has T = 6 steps"));
}

namespace {

// input [T, D] → lstm (2 layers, bidirectional) → dense → 3 logits, with random parameters; the
// same parameters for every T.
lrp::Network sequence_network(Index steps, std::uint64_t seed = 3) {
  lrp::Network net({steps, kD});
  net.add(std::make_unique<Lstm>(kD, kH, 2, true), "rnn");
  net.add(std::make_unique<lrp::Dense>(2 * kH, 3), "fc");
  for (Index l = 0; l < net.size(); ++l) net.layer(l).set_params(random_params(net.layer(l), seed + 10 * static_cast<std::uint64_t>(l)));
  return net;
}

lrp::Tensor padded_tensor(const Matrix& real, const std::vector<Index>& lengths, std::uint64_t padding_seed) {
  lrp::Tensor x(Shape{kT, kD}, padded(real, lengths, padding_seed));
  x.lengths = lengths;
  return x;
}

lrp::Tensor unpadded_sample(const Matrix& real, Index i, Index len) {
  return lrp::Tensor(Shape{len, kD}, real.row(i).head(len * kD));
}

}  // namespace

TEST_CASE("Network::forward and explain hand each row block its lengths (also on several threads)",
          "[lengths][network]") {
  const lrp::Network net = sequence_network(kT);
  const Index n = static_cast<Index>(kLengths.size());
  const Matrix real = real_steps(n, 21);
  const lrp::Tensor x = padded_tensor(real, kLengths, 8);
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    const lrp::ForwardPass pass = net.forward(x, threads);
    CHECK(pass.lengths == kLengths);
    const std::vector<Index> targets{0, 1, 2, 0, 1, 2, 0};
    const lrp::Explanation g = lrp::explain_gradient(net, builtins(), pass, targets, false, threads);
    CHECK(g.relevance.lengths == kLengths);
    for (Index i = 0; i < n; ++i) {
      const Index len = kLengths[static_cast<size_t>(i)];
      CAPTURE(i, len);
      const lrp::Network short_net = sequence_network(len);
      const lrp::ForwardPass one = short_net.forward(unpadded_sample(real, i, len));
      CHECK(relative_error(pass.logits().row(i), one.logits()) <= tolerance());
      const lrp::Explanation gi = lrp::explain_gradient(short_net, builtins(), one, {targets[static_cast<size_t>(i)]}, false);
      CHECK(relative_error(g.relevance.data.row(i).head(len * kD), gi.relevance.data) <= tolerance());
      CHECK((g.relevance.data.row(i).tail((kT - len) * kD).array() == Scalar(0)).all());
    }
  }
}

TEST_CASE("Bad sequence lengths are a clear error naming the sample", "[lengths][errors]") {
  const lrp::Network net = sequence_network(kT);
  lrp::Tensor x(Shape{kT, kD}, real_steps(5, 1));
  x.lengths = {6, 2, 1, 7, 3};
  CHECK_THROWS_WITH(net.forward(x), Catch::Contains("sample 3 has length 7 but the input has T = 6 steps"));
  x.lengths = {6, 2, 0, 1, 3};
  CHECK_THROWS_WITH(net.forward(x), Catch::Contains("sample 2 has length 0 but the input has T = 6 steps"));
  x.lengths = {6, 2};
  CHECK_THROWS_WITH(net.forward(x), Catch::Contains("2 sequence lengths for 5 samples"));

  // A network without a sequence layer would let the padding change its output.
  lrp::Network dense({kT, kD});
  dense.add(std::make_unique<lrp::Flatten>(), "flat");
  dense.add(std::make_unique<lrp::Dense>(kT * kD, 2), "fc");
  x.lengths = {6, 2, 1, 1, 3};
  CHECK_THROWS_WITH(dense.forward(x), Catch::Contains("no layer of the network honours them"));
  x.lengths.clear();
  CHECK_NOTHROW(dense.forward(x));
}

TEST_CASE("Training gradients with lengths are the mean of the unpadded samples' gradients", "[lengths][train]") {
  lrp::Network net = sequence_network(kT, 17);
  const Index n = static_cast<Index>(kLengths.size());
  const Matrix real = real_steps(n, 31);
  const std::vector<Index> labels{0, 2, 1, 1, 0, 2, 1};
  std::mt19937_64 rng(1);
  const lrp::StepGradients batch = lrp::training_gradients(net, padded_tensor(real, kLengths, 4), labels, rng, 2);
  std::vector<Params> mean;
  for (Index l = 0; l < net.size(); ++l) mean.push_back(lrp::zero_like(net.layer(l).params()));
  for (Index i = 0; i < n; ++i) {
    const Index len = kLengths[static_cast<size_t>(i)];
    lrp::Network short_net = sequence_network(len, 17);
    const std::vector<Index> label{labels[static_cast<size_t>(i)]};
    const lrp::StepGradients one = lrp::training_gradients(short_net, unpadded_sample(real, i, len), label, rng, 1);
    for (size_t l = 0; l < mean.size(); ++l) {
      mean[l].weight += one.grads[l].weight / static_cast<Scalar>(n);
      mean[l].bias += one.grads[l].bias / static_cast<Scalar>(n);
    }
  }
  for (size_t l = 0; l < mean.size(); ++l) {
    CAPTURE(l);
    CHECK(relative_error(batch.grads[l].weight, mean[l].weight) <= tolerance());
    CHECK(relative_error(Matrix(batch.grads[l].bias), Matrix(mean[l].bias)) <= tolerance());
  }
}

TEST_CASE("marked_addition with min_steps: variable lengths, zero padding, marks within the real steps",
          "[lengths][data]") {
  const lrp::Dataset d = lrp::marked_addition(200, 9, 5, 3);
  REQUIRE(d.inputs.lengths.size() == 200);
  std::vector<Index> seen(10, 0);
  for (Index i = 0; i < d.size(); ++i) {
    const Index len = d.inputs.lengths[static_cast<size_t>(i)];
    CAPTURE(i, len);
    REQUIRE((len >= 3 && len <= 9));
    ++seen[static_cast<size_t>(len)];
    CHECK((d.inputs.data.row(i).tail((9 - len) * 2).array() == Scalar(0)).all());
    const std::vector<Index>& r = d.relevant[static_cast<size_t>(i)];
    REQUIRE(r.size() == 2);
    CHECK(r[1] < len);
    Index marks = 0;
    double sum = 0;
    for (Index t = 0; t < len; ++t)
      if (d.inputs.data(i, 2 * t + 1) == Scalar(1)) {
        ++marks;
        sum += static_cast<double>(d.inputs.data(i, 2 * t));
        CHECK((t == r[0] || t == r[1]));
      }
    CHECK(marks == 2);
    CHECK(d.labels[static_cast<size_t>(i)] == (sum > 1.0 ? 1 : 0));
  }
  for (Index len = 3; len <= 9; ++len) CHECK(seen[static_cast<size_t>(len)] > 0);
  // Without min_steps (or min_steps = steps) nothing changes: fixed length, no lengths.
  const lrp::Dataset fixed = lrp::marked_addition(20, 9, 5);
  CHECK(fixed.inputs.lengths.empty());
  CHECK(bit_equal(lrp::marked_addition(20, 9, 5, 9).inputs.data, fixed.inputs.data));
  CHECK_THROWS_WITH(lrp::marked_addition(20, 9, 5, 1), Catch::Contains("min_steps must be in [2, steps = 9]"));
  CHECK_THROWS_WITH(lrp::marked_addition(20, 9, 5, 10), Catch::Contains("min_steps must be in [2, steps = 9]"));
}

TEST_CASE("Dataset subsets and samples keep each sample's length", "[lengths][data]") {
  const lrp::Dataset d = lrp::marked_addition(50, 8, 2, 2);
  const lrp::Dataset part = lrp::subset(d, 10, 30);
  REQUIRE(part.inputs.lengths.size() == 20);
  for (Index i = 0; i < part.size(); ++i)
    CHECK(part.inputs.lengths[static_cast<size_t>(i)] ==
          d.inputs.lengths[static_cast<size_t>(part.indices[static_cast<size_t>(i)])]);
  const lrp::Dataset drawn = lrp::sample(d, 17, 9);
  REQUIRE(drawn.inputs.lengths.size() == 17);
  for (Index i = 0; i < drawn.size(); ++i)
    CHECK(drawn.inputs.lengths[static_cast<size_t>(i)] ==
          d.inputs.lengths[static_cast<size_t>(drawn.indices[static_cast<size_t>(i)])]);
}

TEST_CASE("Training on padded data does not depend on the padding values", "[lengths][train]") {
  // Shuffles, the validation split and minibatches must carry each sample's length: with random
  // padding in place of the zeros, every trained weight is bit-identical.
  lrp::Dataset zeros = lrp::marked_addition(40, 7, 3, 2);
  lrp::Dataset noisy = zeros;
  const Matrix noise = random_matrix(noisy.size(), noisy.inputs.features(), 77, 0.5, 3.0);
  for (Index i = 0; i < noisy.size(); ++i) {
    const Index tail = (7 - noisy.inputs.lengths[static_cast<size_t>(i)]) * 2;
    noisy.inputs.data.row(i).tail(tail) = noise.row(i).tail(tail);
  }
  REQUIRE(!bit_equal(zeros.inputs.data, noisy.inputs.data));
  lrp::TrainOptions options;
  options.epochs = 2;
  options.batch_size = 8;
  options.validation_fraction = 0.25;
  options.threads = 2;
  options.seed = 4;
  auto make = [] {
    lrp::Network net({7, 2});
    net.add(std::make_unique<Lstm>(2, 5, 1, true), "rnn");
    net.add(std::make_unique<lrp::Dense>(10, 2), "fc");
    for (Index l = 0; l < net.size(); ++l) net.layer(l).set_params(random_params(net.layer(l), 40 + static_cast<std::uint64_t>(l)));
    return net;
  };
  lrp::Network a = make(), b = make();
  const lrp::TrainReport ra = lrp::train(a, zeros, options);
  const lrp::TrainReport rb = lrp::train(b, noisy, options);
  for (Index l = 0; l < a.size(); ++l) CHECK(bit_equal(a.layer(l).params().weight, b.layer(l).params().weight));
  CHECK(ra.epochs.back().validation_loss == rb.epochs.back().validation_loss);
  CHECK(ra.epochs.back().train_loss == rb.epochs.back().train_loss);
}

TEST_CASE("Integrated gradients, SmoothGrad and occlusion of a padded sample equal those of the unpadded one",
          "[lengths][methods]") {
  const lrp::Network net = sequence_network(kT, 23);
  const Index n = static_cast<Index>(kLengths.size());
  const Matrix real = real_steps(n, 41);
  const lrp::Tensor x = padded_tensor(real, kLengths, 3);
  const std::vector<Index> targets{2, 1, 0, 2, 1, 0, 1};
  std::vector<Index> ids(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = 100 + i;

  lrp::IntegratedGradientsOptions ig;
  ig.steps = 8;
  ig.batch_rows = 5;  // passes that cut through samples
  const lrp::Tensor ig_batch = lrp::integrated_gradients(net, builtins(), x, targets, ig, 2);
  lrp::SmoothGradOptions sg;
  sg.samples = 4;
  sg.seed = 9;
  const lrp::Tensor sg_batch = lrp::smoothgrad(net, builtins(), x, targets, ids, sg, 2);
  lrp::OcclusionOptions occ;
  occ.window = {2};
  occ.stride = {1};
  occ.batch_rows = 7;
  const lrp::Tensor occ_batch = lrp::occlusion(net, x, targets, occ, 2);

  for (Index i = 0; i < n; ++i) {
    const Index len = kLengths[static_cast<size_t>(i)];
    CAPTURE(i, len);
    const lrp::Network short_net = sequence_network(len, 23);
    const lrp::Tensor xi = unpadded_sample(real, i, len);
    const std::vector<Index> ti{targets[static_cast<size_t>(i)]};
    auto check = [&](const lrp::Tensor& batch, const Matrix& one) {
      CHECK(relative_error(batch.data.row(i).head(len * kD), one) <= tolerance());
      CHECK((batch.data.row(i).tail((kT - len) * kD).array() == Scalar(0)).all());
    };
    check(ig_batch, lrp::integrated_gradients(short_net, builtins(), xi, ti, ig).data);
    // SmoothGrad draws a sample's noise in feature order: the real steps come first, so the
    // unpadded sample receives the same noise on them.
    check(sg_batch, lrp::smoothgrad(short_net, builtins(), xi, ti, {ids[static_cast<size_t>(i)]}, sg).data);
    if (len >= 2) {
      check(occ_batch, lrp::occlusion(short_net, xi, ti, occ).data);
    } else {  // shorter than the window: no window fits, relevance 0 (the unpadded case is an error)
      CHECK((occ_batch.data.row(i).array() == Scalar(0)).all());
      CHECK_THROWS_WITH(lrp::occlusion(short_net, xi, ti, occ), Catch::Contains("does not fit"));
    }
  }
}

TEST_CASE("read_hdf5 reads optional sequence lengths and refuses bad ones naming the sample", "[lengths][hdf5_data]") {
  lrp_test::TempDir dir("lrp_test_lengths");
  const std::string path = dir.file("sequences.h5");
  {
    lrp::h5::File f = lrp::h5::File::create(path);
    std::vector<float> x(4 * 5 * 2);
    for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(k) * 0.25f;
    f.write("/x", x, {4, 5, 2});
    f.write("/tokens", std::vector<float>(4 * 5, 1.0f), {4, 5});
    f.write("/len", std::vector<std::int32_t>{5, 1, 3, 2}, {4});
    f.write("/len_column", std::vector<double>{5, 1, 3, 2}, {4, 1});
    f.write("/len_long", std::vector<std::int32_t>{5, 1, 6, 2}, {4});
    f.write("/len_zero", std::vector<std::int32_t>{5, 0, 3, 2}, {4});
    f.write("/len_short", std::vector<std::int32_t>{5, 1, 3}, {3});
  }
  const lrp::Dataset d = lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "/len");
  CHECK(d.inputs.shape == Shape{5, 2});  // sequences [T, D], not an image [1, T, D]
  CHECK(d.inputs.lengths == std::vector<Index>{5, 1, 3, 2});
  CHECK(d.inputs.data(1, 3) == Scalar(13 * 0.25));
  CHECK(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "len_column").inputs.lengths ==
        std::vector<Index>{5, 1, 3, 2});
  CHECK(lrp::read_hdf5(path, "/tokens", "", lrp::Hdf5Layout::kNCHW, 1.0, "/len").inputs.shape == Shape{5});
  CHECK(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW).inputs.lengths.empty());
  CHECK_THROWS_WITH(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "/len_long"),
                    Catch::Contains("sample 2 has length 6 but the inputs have T = 5 steps"));
  CHECK_THROWS_WITH(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "/len_zero"),
                    Catch::Contains("sample 1 has length 0"));
  CHECK_THROWS_WITH(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "/len_short"),
                    Catch::Contains("3 lengths, but inputs dataset '/x' has 4 samples"));
  CHECK_THROWS_WITH(lrp::read_hdf5(path, "/x", "", lrp::Hdf5Layout::kNCHW, 1.0, "/nope"),
                    Catch::Contains("no lengths dataset '/nope'"));
}

// An HDF5 file of sequences [N, T, D] without a lengths dataset: the model's input shape decides that
// its samples are sequences [T, D] (read alone, the file's samples are images [1, T, D]). The committed
// marked-addition LSTM explains the same sequences from the HDF5 file as from the generator, bit for bit.
TEST_CASE("HDF5 sequences without lengths take the LSTM model's shape, and a file that fits neither reading is an error",
          "[sequence][hdf5][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_hdf5_sequences");
  const Index n = 24, steps = 20;
  const lrp::Dataset generated = lrp::marked_addition(n, steps, 12);
  auto write_file = [&](const std::string& path, Index t) {
    lrp::h5::File f = lrp::h5::File::create(path);
    std::vector<double> values(static_cast<std::size_t>(n * t * 2), 0.0);
    for (Index i = 0; i < n; ++i)
      for (Index k = 0; k < std::min(t, steps) * 2; ++k)
        values[static_cast<std::size_t>(i * t * 2 + k)] = static_cast<double>(generated.inputs.data(i, k));
    f.write("/x", values, {static_cast<hsize_t>(n), static_cast<hsize_t>(t), 2});
    std::vector<std::int64_t> labels(generated.labels.begin(), generated.labels.end());
    f.write("/y", labels, {static_cast<hsize_t>(n)});
  };
  write_file(dir.file("seq.h5"), steps);
  write_file(dir.file("long.h5"), steps + 1);
  CHECK(lrp::read_hdf5(dir.file("seq.h5"), "/x", "/y", lrp::Hdf5Layout::kNCHW).inputs.shape == lrp::Shape{1, steps, 2});  // alone: images

  const std::string model = std::string(LRP_TEST_FIXTURES) + "/../../models/lstm_marked_addition.h5";
  auto run = [&](const std::string& name, const std::string& data) {
    const std::string config = dir.file(name + ".yaml"), results = dir.file(name + ".results.h5");
    std::ofstream(config) << "seed: 1\ndata: " << data << "\nmodel: {file: " << model
                          << "}\nexplain: [gradient, {name: lstm_gate, kind: lrp, rules: [{kind: lstm, rule: lstm_gate}, "
                             "{fallback: true, rule: lstm_gate}]}]\noutput: {results: "
                          << results << "}\n";
    (void)lrp::run_experiment(lrp::read_experiment_config(config, {}, builtins()), builtins());
    return lrp::h5::File::open(results);
  };
  const lrp::h5::File from_file = run("file", "{format: hdf5, path: " + dir.file("seq.h5") + ", inputs: /x, labels: /y}");
  const lrp::h5::File generator = run("gen", "{format: marked_addition, steps: 20, count: 24, seed: 12}");
  CHECK(from_file.dataset_info("/data/inputs").shape == lrp::h5::Dims{static_cast<hsize_t>(n), static_cast<hsize_t>(steps), 2});
  for (const char* name : {"/model/logits", "/explanations/gradient/relevance", "/explanations/lstm_gate/relevance"}) {
    INFO(name);
    CHECK(from_file.read<double>(name) == generator.read<double>(name));
  }
  const std::string message = error_of([&] {
    (void)run("long", "{format: hdf5, path: " + dir.file("long.h5") + ", inputs: /x, labels: /y}");
  });
  CHECK_THAT(message, Catch::Contains("long.yaml:2:7: data has samples of shape [1, 21, 2] but the model "
                                      "'lstm_marked_addition' expects [20, 2] (the dataset '/x' is [N, 21, 2]: read as "
                                      "images [1, 21, 2] or as sequences [21, 2], and neither fits)"));
}
