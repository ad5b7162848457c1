// ONNX import (lrp::import_onnx) against PyTorch.
//
// The fixtures in tests/fixtures/onnx/ are small seeded networks exported by torch.onnx.export (opset 13) and, next
// to each loadable one, a few inputs with the logits PyTorch computed (pre-softmax), written by
// tests/make_onnx_fixtures.py (which documents every model). The reference logits are float64: the mlp, cnn and
// cnn_view models are exported in float64; the matmul model is float32 and its reference is the same float32
// weights and float32-representable inputs evaluated in float64.
//
// Error measure: max |logit_lrplab − logit_torch| / max |logit_torch| over the batch.
// Tolerances: float64 build 1e-10 (both sides compute the same float64 formulas; only the summation order differs);
// float32 build 1e-5 (weights and inputs rounded to float, every layer computed in float).
#include "lrp/explain.hpp"
#include "lrp/layers.hpp"
#include "lrp/model.hpp"
#include "lrp/registry.hpp"

#include "temp_dir.hpp"
#include "test_util.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using lrp::Index;
using lrp_test::builtins;

constexpr double kLogitTolerance = sizeof(lrp::Scalar) == 8 ? 1e-10 : 1e-5;

std::string fixture_path(const std::string& file) { return std::string(LRP_TEST_FIXTURES) + "/onnx/" + file; }

struct Reference {
  std::string model;
  lrp::Shape input_shape;
  std::vector<std::pair<std::string, std::string>> layers;  // kind, name
  std::map<std::string, std::vector<Index>> dims;
  std::map<std::string, std::vector<double>> values;
};

double number(const std::string& token) {
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0') throw std::runtime_error("onnx fixture: not a number: '" + token + "'");
  return v;
}

// The text format of tests/make_onnx_fixtures.py (the tensor blocks of tests/fixtures/zennit/README.md).
Reference load_reference(const std::string& file) {
  const std::string path = fixture_path(file);
  std::ifstream in(path);
  if (!in) throw std::runtime_error("onnx fixture: cannot open " + path);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> tokens;
    for (std::string t; words >> t;) tokens.push_back(t);
    if (!tokens.empty() && tokens[0][0] != '#') lines.push_back(std::move(tokens));
  }
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error("onnx fixture " + path + ": " + what);
  };
  expect(!lines.empty() && lines[0] == std::vector<std::string>{"lrplab-onnx-fixture", "1"}, "not a version-1 fixture");
  Reference r;
  bool ended = false;
  for (std::size_t i = 1; i < lines.size() && !ended;) {
    const std::vector<std::string>& t = lines[i];
    if (t[0] == "model") {
      r.model = t.at(1);
      ++i;
    } else if (t[0] == "input_shape") {
      for (std::size_t d = 2; d < t.size(); ++d) r.input_shape.push_back(static_cast<Index>(number(t[d])));
      ++i;
    } else if (t[0] == "layer") {
      r.layers.emplace_back(t.at(1), t.at(2));
      ++i;
    } else if (t[0] == "tensor") {
      const std::string name = t.at(1);
      const auto rank = static_cast<std::size_t>(number(t.at(2)));
      expect(t.size() == 3 + rank, "bad tensor header for " + name);
      Index count = 1;
      for (std::size_t d = 0; d < rank; ++d) {
        r.dims[name].push_back(static_cast<Index>(number(t[3 + d])));
        count *= r.dims[name].back();
      }
      ++i;
      std::vector<double>& v = r.values[name];
      while (static_cast<Index>(v.size()) < count) {
        expect(i < lines.size(), "tensor " + name + " is cut short");
        for (const std::string& x : lines[i]) v.push_back(number(x));
        ++i;
      }
      expect(static_cast<Index>(v.size()) == count, "tensor " + name + " has too many values");
    } else if (t[0] == "end") {
      ended = true;
    } else {
      expect(false, "unknown statement '" + t[0] + "'");
    }
  }
  expect(ended, "missing 'end'");
  return r;
}

lrp::Matrix rows_of(const std::vector<double>& values, Index rows) {
  const auto n = static_cast<Index>(values.size());
  REQUIRE(n % rows == 0);
  lrp::Matrix m(rows, n / rows);
  for (Index k = 0; k < n; ++k) m.data()[k] = static_cast<lrp::Scalar>(values[static_cast<std::size_t>(k)]);
  return m;
}

// max |got − reference| / max |reference|.
double relative_error(const lrp::Matrix& got, const std::vector<double>& reference) {
  REQUIRE(got.size() == static_cast<Index>(reference.size()));
  double err = 0.0, scale = 0.0;
  for (Index k = 0; k < got.size(); ++k) {
    const double r = reference[static_cast<std::size_t>(k)];
    err = std::max(err, std::abs(static_cast<double>(got.data()[k]) - r));
    scale = std::max(scale, std::abs(r));
  }
  return scale > 0.0 ? err / scale : err;
}

// Imports the fixture's model and checks the input shape, the layers (kinds and names in order) and the logits.
lrp::Model import_and_check(const std::string& txt) {
  const Reference ref = load_reference(txt);
  const std::string path = fixture_path(ref.model);
  lrp::Model model = lrp::import_onnx(path, builtins());
  CHECK(model.spec.input_shape == ref.input_shape);
  CHECK(model.network.input_shape() == ref.input_shape);
  CHECK(model.provenance.source == "imported from " + path);
  REQUIRE(model.network.size() == static_cast<Index>(ref.layers.size()));
  REQUIRE(model.spec.layers.size() == ref.layers.size());
  for (std::size_t l = 0; l < ref.layers.size(); ++l) {
    INFO(ref.model << ": layer " << l);
    CHECK(model.network.layer(static_cast<Index>(l)).kind() == ref.layers[l].first);
    CHECK(model.network.layer(static_cast<Index>(l)).name() == ref.layers[l].second);
    CHECK(model.spec.layers[l].kind == ref.layers[l].first);
    CHECK(model.spec.layers[l].name == ref.layers[l].second);
  }
  const Index n = ref.dims.at("input").at(0);
  const lrp::Tensor x(ref.input_shape, rows_of(ref.values.at("input"), n));
  const lrp::ForwardPass pass = model.network.forward(x);
  REQUIRE(pass.logits().rows() == n);
  REQUIRE(pass.logits().cols() == ref.dims.at("logits").at(1));
  const double err = relative_error(pass.logits(), ref.values.at("logits"));
  INFO(ref.model << " (" << lrp::scalar_name() << "): logits, max relative error " << err << " (tolerance "
                 << kLogitTolerance << ")");
  CHECK(err <= kLogitTolerance);
  return model;
}

const lrp::ParamMap& params_of(const lrp::Model& model, const std::string& layer) {
  for (const lrp::LayerSpec& s : model.spec.layers)
    if (s.name == layer) return s.params;
  FAIL("no layer " << layer);
  throw std::logic_error("unreachable");
}

// The error import_onnx throws for `path`, or "" when it does not throw.
std::string import_error(const std::string& path) {
  try {
    lrp::import_onnx(path, builtins());
  } catch (const lrp::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("ONNX import: MLP (Gemm, BatchNorm1d, Tanh, Dropout, Identity, Sigmoid) matches PyTorch", "[onnx]") {
  const lrp::Model model = import_and_check("mlp.txt");
  CHECK(model.spec.name == "mlp");
  CHECK(params_of(model, "fc1").get("in", "") == lrp::ParamValue{10});
  CHECK(params_of(model, "fc1").get("out", "") == lrp::ParamValue{8});
  CHECK(params_of(model, "fc1").get("bias", "") == lrp::ParamValue{1});
  CHECK(params_of(model, "drop").get("p", "") == lrp::ParamValue{0.2});  // the float ratio, as its shortest decimal
  CHECK(params_of(model, "bn").get("eps", "") == lrp::ParamValue{1e-3});
  const auto& bn = dynamic_cast<const lrp::BatchNorm&>(model.network.layer(model.network.index_of("bn")));
  CHECK(bn.channels() == 8);
  CHECK(bn.running_var().size() == 8);
}

TEST_CASE("ONNX import: CNN (Conv, BatchNorm2d, MaxPool, Pad folded, AvgPool, groups, GAP, trailing Softmax)",
          "[onnx]") {
  const lrp::Model model = import_and_check("cnn.txt");
  // conv2's zero padding came from the F.pad before it (a Pad node computed by a constant subgraph); pool2's from
  // AvgPool2d(padding=1), which torch exports as Pad + AveragePool.
  CHECK(params_of(model, "conv1").get("padding", "") == lrp::ParamValue{1, 1});
  CHECK(params_of(model, "conv2").get("padding", "") == lrp::ParamValue{1, 1});
  CHECK(params_of(model, "conv2").get("stride", "") == lrp::ParamValue{2, 2});
  CHECK(params_of(model, "pool2").get("padding", "") == lrp::ParamValue{1, 1});
  CHECK(params_of(model, "pool2").get("stride", "") == lrp::ParamValue{1, 1});
  CHECK(params_of(model, "pool1").get("stride", "") == lrp::ParamValue{2, 2});
  CHECK(params_of(model, "conv3").get("groups", "") == lrp::ParamValue{2});
  CHECK(params_of(model, "conv3").get("in_channels", "") == lrp::ParamValue{6});
  CHECK(model.network.output_shape() == lrp::Shape{3});
}

TEST_CASE("ONNX import: CNN with dilation, padded max pooling, x.view(x.size(0), -1) and LogSoftmax", "[onnx]") {
  const lrp::Model model = import_and_check("cnn_view.txt");
  CHECK(params_of(model, "conv1").get("dilation", "") == lrp::ParamValue{2, 2});
  CHECK(params_of(model, "pool1").get("padding", "") == lrp::ParamValue{1, 1});
  CHECK(params_of(model, "pool1").get("kernel", "") == lrp::ParamValue{3, 3});
}

TEST_CASE("ONNX import: MatMul + Add as dense layers (float32, weights in Constant nodes)", "[onnx]") {
  const lrp::Model model = import_and_check("matmul.txt");
  CHECK(model.spec.input_shape == lrp::Shape{3, 4});
  CHECK(params_of(model, "hidden").get("in", "") == lrp::ParamValue{12});
  CHECK(params_of(model, "hidden").get("out", "") == lrp::ParamValue{7});
  CHECK(params_of(model, "out").get("bias", "") == lrp::ParamValue{1});
}

TEST_CASE("ONNX import: open_model dispatches .onnx files, and the imported network explains", "[onnx]") {
  lrp::Model model = lrp::open_model(fixture_path("cnn.onnx"), builtins());
  REQUIRE(model.network.size() == 12);
  const Reference ref = load_reference("cnn.txt");
  const lrp::Tensor x(ref.input_shape, rows_of(ref.values.at("input"), ref.dims.at("input").at(0)));
  const lrp::ForwardPass pass = model.network.forward(x);
  const auto targets = lrp::select_targets(pass.logits(), lrp::TargetSpec::predicted());
  const lrp::Explainer explainer = lrp_test::explainer_for(model.network, "epsilon_plus");
  const lrp::Explanation e = explainer.explain(pass, targets, {});
  REQUIRE(e.relevance.data.rows() == x.batch());
  REQUIRE(e.relevance.shape == ref.input_shape);
  CHECK(lrp::all_finite(e.relevance.data));
  CHECK(e.relevance.data.cwiseAbs().maxCoeff() > 0);
}

TEST_CASE("ONNX import: a missing, empty, truncated or garbage file is an error naming it", "[onnx][errors]") {
  lrp_test::TempDir dir("lrp_test_onnx");
  const std::string missing = dir.file("missing.onnx");
  CHECK_THROWS_WITH(lrp::import_onnx(missing, builtins()),
                    Catch::Contains("ONNX model '" + missing + "'") && Catch::Contains("no such file"));

  const std::string empty = dir.file("empty.onnx");
  lrp_test::write_file_bytes(empty, {});
  CHECK_THROWS_WITH(lrp::import_onnx(empty, builtins()),
                    Catch::Contains("ONNX model '" + empty + "'") && Catch::Contains("empty"));

  const std::vector<char> bytes = lrp_test::read_file_bytes(fixture_path("cnn.onnx"));
  REQUIRE(bytes.size() > 1000);
  for (const double fraction : {0.5, 0.1, 0.9, 0.999}) {
    const auto cut = static_cast<std::size_t>(fraction * static_cast<double>(bytes.size()));
    const std::string truncated = dir.file("truncated_" + std::to_string(cut) + ".onnx");
    lrp_test::write_file_bytes(truncated, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    INFO("truncated to " << cut << " of " << bytes.size() << " bytes");
    CHECK_THROWS_WITH(lrp::import_onnx(truncated, builtins()), Catch::Contains("ONNX model '" + truncated + "'") &&
                                                                   Catch::Contains("not a valid ONNX file") &&
                                                                   Catch::Contains("truncated or corrupt"));
  }

  // Truncations of a small model all through the file (every 11th byte: writing files is the slow part) are
  // refused as not a valid ONNX file. (Checked once for every cut of every fixture while developing.)
  const std::vector<char> small = lrp_test::read_file_bytes(fixture_path("matmul.onnx"));
  const std::string cut_file = dir.file("cut.onnx");
  std::size_t refused = 0, tried = 0;
  std::string unexpected;
  for (std::size_t cut = 1; cut < small.size(); cut += 11, ++tried) {
    lrp_test::write_file_bytes(cut_file, std::vector<char>(small.begin(), small.begin() + static_cast<long>(cut)));
    const std::string message = import_error(cut_file);
    if (message.find("ONNX model '" + cut_file + "': not a valid ONNX file") != std::string::npos)
      ++refused;
    else if (unexpected.empty())
      unexpected = "cut at " + std::to_string(cut) + ": '" + message + "'";
  }
  INFO(unexpected);
  CHECK(refused == tried);

  const std::string garbage = dir.file("garbage.onnx");
  std::vector<char> noise(4096);
  std::uint64_t state = 12345;
  for (char& c : noise) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>(state >> 56);
  }
  lrp_test::write_file_bytes(garbage, noise);
  CHECK_THROWS_WITH(lrp::import_onnx(garbage, builtins()),
                    Catch::Contains("ONNX model '" + garbage + "'") && Catch::Contains("not a valid ONNX file"));

  const std::string text = dir.file("text.onnx");
  const std::string yaml = "name: not_onnx\ninput_shape: [4]\nlayers:\n  - {kind: dense, out: 2}\n";
  lrp_test::write_file_bytes(text, std::vector<char>(yaml.begin(), yaml.end()));
  CHECK_THROWS_WITH(lrp::import_onnx(text, builtins()),
                    Catch::Contains("ONNX model '" + text + "'") && Catch::Contains("not a valid ONNX file"));
}

TEST_CASE("ONNX import: unsupported ops, asymmetric pads, branches and float16 are errors naming the node",
          "[onnx][errors]") {
  const std::string leaky = fixture_path("leaky.onnx");
  const std::string leaky_error = import_error(leaky);
  CHECK_THAT(leaky_error, Catch::Contains("ONNX model '" + leaky + "'") &&
                              Catch::Contains("node 1 '/act/LeakyRelu' has op LeakyRelu") &&
                              Catch::Contains("which lrplab does not import") && Catch::Contains("supported: Gemm"));

  const std::string asym_pad = fixture_path("asym_pad.onnx");
  CHECK_THAT(import_error(asym_pad), Catch::Contains("ONNX model '" + asym_pad + "'") &&
                                         Catch::Contains("'/Pad' (Pad)") && Catch::Contains("asymmetric") &&
                                         Catch::Contains("[0, 0, 0, 0, 0, 0, 1, 1]"));

  const std::string asym_conv = fixture_path("asym_conv.onnx");
  CHECK_THAT(import_error(asym_conv), Catch::Contains("ONNX model '" + asym_conv + "'") &&
                                          Catch::Contains("node 0 'conv_asym' (Conv)") &&
                                          Catch::Contains("pads [0, 0, 1, 1]") && Catch::Contains("asymmetric"));

  const std::string branch = fixture_path("branch.onnx");
  CHECK_THAT(import_error(branch), Catch::Contains("ONNX model '" + branch + "'") &&
                                       Catch::Contains("node 2 '/Add' (Add)") && Catch::Contains("branches") &&
                                       Catch::Contains("sequential models only"));

  const std::string half = fixture_path("float16.onnx");
  CHECK_THAT(import_error(half), Catch::Contains("ONNX model '" + half + "'") &&
                                     Catch::Contains("initializer 'half.weight'") && Catch::Contains("float16"));
}

// ---------------------------------------------------------------- LSTM and embedding
// Fixtures from tests/make_sequence_fixtures.py: float32 weights, reference logits computed by torch in float64 from
// the same weights.

TEST_CASE("ONNX import: nn.LSTM (uni- and bidirectional, stacked, with and without nn.Embedding) matches PyTorch",
          "[onnx][lstm]") {
  const lrp::Model uni = import_and_check("lstm_uni.txt");
  CHECK(params_of(uni, "lstm").get("in", "") == lrp::ParamValue{3});
  CHECK(params_of(uni, "lstm").get("hidden", "") == lrp::ParamValue{4});
  CHECK(params_of(uni, "lstm").get("num_layers", "") == lrp::ParamValue{1});
  CHECK(params_of(uni, "lstm").get("bidirectional", "") == lrp::ParamValue{0});

  const lrp::Model bi2 = import_and_check("lstm_bi2.txt");  // cat(h_n[-2], h_n[-1])
  CHECK(params_of(bi2, "lstm").get("num_layers", "") == lrp::ParamValue{2});
  CHECK(params_of(bi2, "lstm").get("bidirectional", "") == lrp::ParamValue{1});
  CHECK(params_of(bi2, "lstm").get("bias", "") == lrp::ParamValue{1});

  const lrp::Model emb_uni2 = import_and_check("lstm_emb_uni2.txt");  // int64 ids, out[:, -1]
  CHECK(emb_uni2.spec.input_shape == lrp::Shape{8});
  CHECK(params_of(emb_uni2, "emb").get("vocab", "") == lrp::ParamValue{11});
  CHECK(params_of(emb_uni2, "emb").get("dim", "") == lrp::ParamValue{3});
  CHECK(params_of(emb_uni2, "lstm").get("num_layers", "") == lrp::ParamValue{2});

  // Opset 9 reads h_n[-1] and out[:, -1] with a one-element Slice + Squeeze.
  import_and_check("lstm_bi2_opset9.txt");
  import_and_check("lstm_emb_uni2_opset9.txt");

  const lrp::Model emb_bi = import_and_check("lstm_emb_bi.txt");  // bias=False
  CHECK(params_of(emb_bi, "lstm").get("bias", "") == lrp::ParamValue{0});
  CHECK(emb_bi.network.layer(1).params().bias.size() == 0);
}

TEST_CASE("ONNX import: LSTM features lrplab does not have are errors naming the node and the attribute or input",
          "[onnx][lstm][errors]") {
  auto error_of = [](const std::string& file) {
    const std::string path = fixture_path(file);
    const std::string message = import_error(path);
    CHECK_THAT(message, Catch::Contains("ONNX model '" + path + "'"));
    return message;
  };
  const auto node = Catch::Contains("'/lstm/LSTM' (LSTM)");
  CHECK_THAT(error_of("lstm_err_clip.onnx"), node && Catch::Contains("attribute 'clip' = 3"));
  CHECK_THAT(error_of("lstm_err_input_forget.onnx"), node && Catch::Contains("attribute 'input_forget' = 1"));
  CHECK_THAT(error_of("lstm_err_layout.onnx"), node && Catch::Contains("attribute 'layout' = 1"));
  CHECK_THAT(error_of("lstm_err_activations.onnx"),
             node && Catch::Contains("attribute 'activations' = [Sigmoid, Relu, Tanh]"));
  CHECK_THAT(error_of("lstm_err_peephole.onnx"), node && Catch::Contains("input 7 'P' (peephole weights)"));
  CHECK_THAT(error_of("lstm_err_sequence_lens.onnx"), node && Catch::Contains("input 4 'sequence_lens'"));
  CHECK_THAT(error_of("lstm_err_initial_h.onnx"),
             node && Catch::Contains("input 5 'initial_h' ('h0') is not zero (it holds 0.5)"));
  CHECK_THAT(error_of("lstm_err_bi_last_step.onnx"),
             Catch::Contains("(Gather)") && Catch::Contains("out[:, -1] of a bidirectional LSTM"));
  CHECK_THAT(error_of("lstm_err_first_layer.onnx"),
             Catch::Contains("'/fc/Gemm' (Gemm) reads") &&
                 Catch::Contains("the final hidden state of layer 0 forward; lrplab imports an LSTM whose output is "
                                 "the final hidden state of layer 1 forward"));
  CHECK_THAT(error_of("lstm_err_cell.onnx"), node && Catch::Contains("output 2 'Y_c' (the final cell state) is used"));
}
