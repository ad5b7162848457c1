// Max-pool ties on real data: the committed Fashion-MNIST CNN on real test images, whose flat
// backgrounds give equal values in many max-pool windows, against torch's autograd gradients
// (tests/fixtures/real/fmnist_cnn_gradients.h5, written by make_maxpool_tie_fixtures.py in
// float64). torch routes a tied window to its first maximum in row-major order; so does lrplab by
// default (MaxPoolTies::kFirst). The equal split (kSplit) is the option, checked to differ there.
#include "experiment_support.hpp"
#include "fixture_rows.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/onnx.hpp"
#include "lrp/io/model_file.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/eval/metrics.hpp"
#include "lrp/propagation/canonize.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

using namespace lrp_test;
using lrp::Index;

namespace {

const std::string kFixture = std::string(LRP_TEST_FIXTURES) + "/real/fmnist_cnn_gradients.h5";
const std::string kModel = std::string(LRP_TEST_FIXTURES) + "/../../models/fmnist_cnn.h5";

const std::string kLenetFixture = std::string(LRP_TEST_FIXTURES) + "/real/lenet_digits.h5";
const std::string kLenet = std::string(LRP_TEST_FIXTURES) + "/real/lenet.onnx";
const std::vector<std::string> kPresets{"epsilon_gamma_box", "epsilon_plus_flat"};

struct Reference {
  Eigen::MatrixXd inputs, logits, gradients;  // one row per image
  std::map<std::string, Eigen::MatrixXd> lrp;  // per preset
  std::vector<Index> labels;
};

Reference read_reference(const std::string& path = kFixture) {
  const lrp::h5::File f = lrp::h5::File::open(path);
  Reference r;
  for (const std::int64_t l : f.read<std::int64_t>("labels")) r.labels.push_back(static_cast<Index>(l));
  const auto images = static_cast<Index>(r.labels.size());
  r.inputs = read_rows(f, "inputs", images);
  r.logits = read_rows(f, "logits", images);
  r.gradients = read_rows(f, "gradients", images);
  for (const std::string& preset : kPresets) r.lrp[preset] = read_rows(f, "lrp_" + preset, images);
  REQUIRE(r.inputs.cols() == 784);
  REQUIRE(r.logits.cols() == 10);
  REQUIRE(r.gradients.cols() == 784);
  return r;
}

// The share of 2×2 windows of a [C, H, W] activation whose maximum is held by two or more inputs,
// and of those whose tied maximum is positive.
std::pair<double, double> tie_shares(const Matrix& activation, Index C, Index H, Index W) {
  Index windows = 0, tied = 0, tied_positive = 0;
  for (Index n = 0; n < activation.rows(); ++n)
    for (Index c = 0; c < C; ++c)
      for (Index h = 0; h + 1 < H; h += 2)
        for (Index w = 0; w + 1 < W; w += 2) {
          const Scalar* p = activation.row(n).data() + c * H * W;
          const Scalar v[4] = {p[h * W + w], p[h * W + w + 1], p[(h + 1) * W + w], p[(h + 1) * W + w + 1]};
          const Scalar best = std::max(std::max(v[0], v[1]), std::max(v[2], v[3]));
          int count = 0;
          for (const Scalar x : v) count += x == best;
          ++windows;
          if (count > 1) ++tied, tied_positive += best > 0;
        }
  return {double(tied) / double(windows), double(tied_positive) / double(windows)};
}

// The model on the reference's images: torch's logits, a real share of tied windows at the max pool
// `pool` (its input is [C, H, W]), and the gradient and gradient × input of the true class equal to
// torch's autograd, in float32 and in the float64 reference mode: every tie torch keeps, lrplab keeps
// (equal patches give equal conv outputs whatever the GEMM kernel, see Conv2d::forward_many).
lrp::ForwardPass check_against_torch(const lrp::Model& model, const Reference& ref, Index pool, const lrp::Shape& chw) {
  lrp::ForwardPass pass = model.network.forward(lrp::Tensor({1, 28, 28}, ref.inputs.cast<Scalar>()));
  CHECK(worst_relative(pass.logits(), ref.logits) <= tol(1e-5, 1e-10));
  const auto [tied, tied_positive] = tie_shares(pass.activations[static_cast<std::size_t>(pool)], chw[0], chw[1], chw[2]);
  CHECK(tied > 0.3);
  CHECK(tied_positive > 0.05);
  const lrp::Explanation g = lrp::explain_gradient(model.network, builtins(), pass, ref.labels, false);
  CHECK(worst_relative(g.relevance.data, ref.gradients) <= tol(1e-5, 1e-10));
  const lrp::Explanation gx = lrp::explain_gradient(model.network, builtins(), pass, ref.labels, true);
  CHECK(worst_relative(gx.relevance.data, ref.gradients.cwiseProduct(ref.inputs)) <= tol(1e-5, 1e-10));
  return pass;
}

// g_out[k] = ((7919 k) mod 1000) / 1000 − 0.5, as the fixture script seeds torch's backward.
Matrix upstream(Index rows, Index cols) {
  Matrix g(rows, cols);
  for (Index k = 0; k < g.size(); ++k) g.data()[k] = static_cast<Scalar>(static_cast<double>((7919 * k) % 1000) / 1000.0 - 0.5);
  return g;
}

}  // namespace

TEST_CASE("On real Fashion-MNIST activations max pooling routes ties as torch's backward does", "[maxpool][real]") {
  const lrp::h5::File f = lrp::h5::File::open(kFixture);
  struct Pool {
    const char* name;
    Index channels, size;
  };
  for (const Pool& p : {Pool{"pool1", 16, 28}, Pool{"pool2", 32, 14}}) {
    INFO(p.name);
    const Matrix at = read_rows(f, std::string(p.name) + "_input", 4).cast<Scalar>();  // float32 values: exact
    const Eigen::MatrixXd torch_grad = read_rows(f, std::string(p.name) + "_grad", 4);
    const auto [tied, tied_positive] = tie_shares(at, p.channels, p.size, p.size);
    INFO("tied windows " << tied << ", at a positive maximum " << tied_positive);
    CHECK(tied > 0.3);  // real data: many windows hold their maximum more than once
    CHECK(tied_positive > 0.05);
    auto layer = configured(std::make_unique<lrp::MaxPool2d>(lrp::Pool2dOptions{.kernel = {2, 2}}),
                            lrp::Shape{p.channels, p.size, p.size});
    CHECK(layer->ties() == lrp::MaxPoolTies::kFirst);  // the default
    const Matrix g = upstream(4, lrp::numel(layer->output_shape()));
    // Every entry is 0 or one upstream value: equal to torch's to the float32 rounding of the seed.
    const Matrix first = run_vjp(*layer, at, g);
    CHECK((first.cast<double>() - torch_grad).cwiseAbs().maxCoeff() <= 1e-7);
    CHECK(first.sum() == Approx(g.sum()).epsilon(1e-5));  // each window's gradient goes somewhere once
    // The equal split: the same totals, a different map.
    layer->set_ties(lrp::MaxPoolTies::kSplit);
    const Matrix split = run_vjp(*layer, at, g);
    CHECK((split.cast<double>() - torch_grad).cwiseAbs().maxCoeff() > 0.1);
    CHECK(split.sum() == Approx(g.sum()).epsilon(1e-5));
  }
}

TEST_CASE("The committed CNN on real Fashion-MNIST images gives torch's logits, and in float64 its gradients, ties included",
          "[maxpool][real]") {
  const Reference ref = read_reference();
  const lrp::Model model = lrp::load_model(kModel, builtins());
  (void)check_against_torch(model, ref, model.network.index_of("pool1"), {16, 28, 28});
}

// The tie policy in an experiment: the config's `maxpool_ties:` for every method, a method's own key
// over it, and the results file saying which policy each method used. The images are the fixture's
// (the first 16 of the Fashion-MNIST test set, read from the IDX file like a user's run would).
TEST_CASE("An experiment chooses the max-pool tie policy per run and per method and records it", "[maxpool][real][experiment]") {
  const QuietLog quiet;
  const TempDir dir("lrp_maxpool_run");
  const Reference ref = read_reference();
  const std::string results = dir.file("ties.h5"), config = dir.file("ties.yaml");
  {
    std::ofstream out(config);
    out << "seed: 3\nthreads: 1\n@TIES@"
           "data:\n  format: idx\n"
           "  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz\n"
           "  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz\n"
           "  subset: {begin: 0, end: 16}\n"
           "model: {file: " << kModel << "}\n"
           "target: label\n"
           "explain:\n"
           "  - gradient\n"
           "  - gradient_x_input\n"
           "  - {name: gradient_split, kind: gradient, maxpool_ties: split}\n"
           "  - {name: gradient_first, kind: gradient, maxpool_ties: first}\n"
           "evaluate: {conservation: false}\n"
           "output: {results: " << results << "}\n";
  }
  const std::string text = [&] {
    std::ifstream in(config);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  auto run = [&](const std::string& ties_line) {
    std::filesystem::remove(results);
    std::ofstream(config) << replace_all(text, "@TIES@", ties_line);
    (void)lrp::run_experiment(lrp::read_experiment_config(config, {}, builtins()), builtins());
    return lrp::h5::File::open(results);
  };
  auto relevance = [](const lrp::h5::File& f, const std::string& method) {
    return read_rows(f, "/explanations/" + method + "/relevance", 16).cast<Scalar>().eval();
  };

  // The default: torch's routing, so the run's gradients are torch's autograd gradients.
  lrp::h5::File f = run("");
  CHECK(f.string_attribute("/meta", "maxpool_ties") == "first");
  CHECK(f.string_attribute("/explanations/gradient", "maxpool_ties") == "first");
  CHECK(f.string_attribute("/explanations/gradient_split", "maxpool_ties") == "split");
  CHECK(worst_relative(relevance(f, "gradient"), ref.gradients) <= tol(1e-5, 1e-10));
  CHECK(worst_relative(relevance(f, "gradient_x_input"), ref.gradients.cwiseProduct(ref.inputs)) <= tol(1e-5, 1e-10));
  // The split differs on these images, by a lot (ties hold most of the background)...
  const Matrix split = relevance(f, "gradient_split");
  CHECK(worst_relative(split, ref.gradients) > 0.05);
  // ... and is what the C++ API gives with MaxPoolTies::kSplit set on the model.
  lrp::Model model = lrp::load_model(kModel, builtins());
  CHECK(lrp::set_maxpool_ties(model.network, lrp::MaxPoolTies::kSplit) == 2);
  const lrp::ForwardPass pass = model.network.forward(lrp::Tensor({1, 28, 28}, ref.inputs.cast<Scalar>()));
  const lrp::Explanation direct = lrp::explain_gradient(model.network, builtins(), pass, ref.labels, false);
  CHECK(worst_relative(split, direct.relevance.data.cast<double>()) <= tol(1e-6, 1e-13));
  const Matrix first = relevance(f, "gradient_first");
  f.close();

  // `maxpool_ties: split` for the run: methods without their own key split, gradient_first keeps torch's routing.
  f = run("maxpool_ties: split\n");
  CHECK(f.string_attribute("/meta", "maxpool_ties") == "split");
  CHECK(f.string_attribute("/explanations/gradient", "maxpool_ties") == "split");
  CHECK(f.string_attribute("/explanations/gradient_first", "maxpool_ties") == "first");
  CHECK(relevance(f, "gradient") == split);
  CHECK(relevance(f, "gradient_first") == first);
  f.close();

  // A policy that does not exist is an error naming the key and the choices.
  std::ofstream(config) << replace_all(text, "@TIES@", "maxpool_ties: random\n");
  const std::string message = error_of([&] { (void)lrp::read_experiment_config(config, {}, builtins()); });
  CHECK_THAT(message, Catch::Contains("ties.yaml:3:15: maxpool_ties must be 'first'"));
  CHECK_THAT(message, Catch::Contains("'split'"));
}

// The float64 LRP reference (tests/fixtures/lrp_reference.py: the rules written in torch, max-pool
// relevance routed by torch's backward, batch norm folded into the conv) on real images: lrplab's
// presets give its maps, ties included.
void check_lrp_presets(lrp::Model& model, const Reference& ref, double low, double high) {
  (void)lrp::canonize_batch_norm(model.network);
  const lrp::ForwardPass pass = model.network.forward(lrp::Tensor({1, 28, 28}, ref.inputs.cast<Scalar>()));
  for (const std::string& preset : kPresets) {
    INFO(preset);
    const lrp::ParamMap params = preset == "epsilon_gamma_box" ? lrp::ParamMap{{"low", {low}}, {"high", {high}}}
                                                               : lrp::ParamMap{};
    const lrp::Explainer explainer = explainer_for(model.network, preset, params);
    const lrp::Explanation e = explainer.explain(pass, ref.labels);
    CHECK(worst_relative(e.relevance.data, ref.lrp.at(preset)) <= tol(1e-5, 1e-10));
    // The ledger on these maps: keeping every layer's map leaves the input map as it was, and the
    // ledger split over two threads is the one of one thread to the bit.
    const lrp::Explanation kept = explainer.explain(pass, ref.labels, {.keep_layer_relevance = true});
    CHECK(kept.relevance.data == e.relevance.data);
    const lrp::ConservationResult one = lrp::conservation(model.network, pass, kept, 1);
    const lrp::ConservationResult two = lrp::conservation(model.network, pass, kept, 2);
    auto same = [](const auto& a, const auto& b) {
      return a.rows() == b.rows() && a.cols() == b.cols() &&
             (a.array() == b.array() || (a.array() != a.array() && b.array() != b.array())).all();
    };
    CHECK(same(one.layer_sums, two.layer_sums));
    CHECK(same(one.bias_share, two.bias_share));
    CHECK(same(one.stabilizer_share, two.stabilizer_share));
    CHECK(one.nonfinite_layers == two.nonfinite_layers);
    CHECK(one.nonfinite_total == 0);
    // Column l holds the sum of layer l's input map; the last one the seed.
    for (Index i = 0; i < pass.batch(); ++i) {
      CHECK(one.layer_sums(i, 0) == one.input_sum[i]);
      CHECK(one.layer_sums(i, model.network.size()) == Approx(one.output_seed[i]).epsilon(1e-6));
    }
  }
}

TEST_CASE("LRP presets on real Fashion-MNIST images equal a float64 torch reference that routes ties as torch does",
          "[maxpool][real]") {
  const Reference ref = read_reference();
  lrp::Model model = lrp::load_model(kModel, builtins());
  const lrp::InputNormalization& norm = model.spec.normalization;
  check_lrp_presets(model, ref, (0 - norm.mean[0]) / norm.std[0], (1 - norm.mean[0]) / norm.std[0]);
}

// A model trained elsewhere: the Quantus project's MNIST LeNet (conv -> max-pool -> ReLU, so the
// max pools see negative values too), imported from its ONNX file, on real MNIST digits.
TEST_CASE("The imported LeNet on real MNIST digits gives torch's logits, gradients and LRP reference, ties included",
          "[maxpool][real][onnx]") {
  const Reference ref = read_reference(kLenetFixture);
  lrp::Model model = lrp::import_onnx(kLenet, builtins());
  REQUIRE(model.network.input_shape() == lrp::Shape{1, 28, 28});
  const lrp::ForwardPass pass = check_against_torch(model, ref, 1, {6, 24, 24});  // layer 1: the first max pool
  // the equal split is far from torch's gradient on these digits
  lrp::set_maxpool_ties(model.network, lrp::MaxPoolTies::kSplit);
  const lrp::Explanation split = lrp::explain_gradient(model.network, builtins(), pass, ref.labels, false);
  CHECK(worst_relative(split.relevance.data, ref.gradients) > 0.05);
  lrp::set_maxpool_ties(model.network, lrp::MaxPoolTies::kFirst);
  check_lrp_presets(model, ref, 0.0, 1.0);
}
