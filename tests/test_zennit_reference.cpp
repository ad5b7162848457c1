// External reference: lrplab against Zennit (the PyTorch LRP library whose conventions docs/rules.md adopts).
//
// The fixtures in tests/fixtures/zennit/ hold small networks with seeded random weights, inputs, targets, logits and
// the input relevance Zennit computes (in float64) for every rule on its own and for every preset; they are written
// by tests/fixtures/make_zennit_fixtures.py (format: tests/fixtures/zennit/README.md). This test rebuilds each
// network with lrplab's API, checks the logits, explains with the matching lrplab rule or preset and compares.
//
// Error measure: max |R_lrplab − R_zennit| / max |R_zennit| over the whole batch.
// Tolerances:
//   float64 build: 1e-10 for relevance, 1e-12 for logits. Both sides compute the same formulas in float64 and only
//     the summation order differs; measured: ≤ 9e-16 for every explanation.
//   float32 build: 1e-5 for relevance, 2e-6 for logits. Inputs and weights are rounded to float (relative 6e-8) and
//     every step computes in float. The fixtures keep every dense/conv output at least 1e-4·max away from 0 and
//     every max-pool maximum 1e-4·max above the runner-up, so float32 takes the same ReLU/gamma branches and
//     max-pool winners, and what remains is rounding amplified by the cancellations of the signed sums (epsilon,
//     alpha-beta); measured: ≤ 5e-7 (logits ≤ 3e-7), so 1e-5 leaves a factor of 20. A semantic difference is far
//     larger: dropping or keeping a bias where the rule says otherwise changes these relevances by 2e-2 to 6,
//     leaving Zennit 0.5's eps in the merged batch norms by 5e-4.
#include "lrp/propagation/canonize.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/network.hpp"
#include "lrp/registry/registry.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using lrp::Index;

constexpr bool kDouble = sizeof(lrp::Scalar) == 8;
constexpr double kRelevanceTolerance = kDouble ? 1e-10 : 1e-5;
constexpr double kLogitTolerance = kDouble ? 1e-12 : 2e-6;

struct FixtureTensor {
  std::vector<Index> dims;
  std::vector<double> values;
};

struct FixtureExplanation {
  std::string id;
  std::string seed;               // "logit" or "onehot"
  std::vector<std::string> spec;  // "gradient" | "uniform <rule> k=v..." | "first <rule> k=v... then <rule> k=v..." |
                                  // "preset <name> k=v..."
  FixtureTensor relevance;
};

struct Fixture {
  std::string network;
  lrp::Shape input_shape;
  std::vector<std::vector<std::string>> layers;  // the tokens after "layer"
  bool canonize = false;
  std::map<std::string, FixtureTensor> tensors;
  std::vector<FixtureExplanation> explanations;
};

std::vector<std::string> split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

double number(const std::string& token) {
  char* end = nullptr;
  const double v = std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0') throw std::runtime_error("zennit fixture: not a number: '" + token + "'");
  return v;
}

Index whole(const std::string& token) { return static_cast<Index>(number(token)); }

Fixture load_fixture(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw std::runtime_error("zennit fixture: cannot open " + path);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(file, line);) {
    std::vector<std::string> tokens = split(line);
    if (!tokens.empty() && tokens[0][0] != '#') lines.push_back(std::move(tokens));
  }
  Fixture f;
  size_t i = 0;
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok)
      throw std::runtime_error("zennit fixture " + path + ": " + what + " (statement " + std::to_string(i) + ")");
  };
  // A "tensor name rank d0 d1 ..." header at lines[i], then its values over the following lines.
  auto read_tensor = [&](std::string& name) {
    const std::vector<std::string>& h = lines[i++];
    expect(h.size() >= 3 && h[0] == "tensor", "expected a tensor");
    name = h[1];
    FixtureTensor t;
    const auto rank = static_cast<size_t>(whole(h[2]));
    expect(h.size() == 3 + rank, "bad tensor header for " + name);
    Index count = 1;
    for (size_t d = 0; d < rank; ++d) {
      t.dims.push_back(whole(h[3 + d]));
      count *= t.dims.back();
    }
    while (static_cast<Index>(t.values.size()) < count) {
      expect(i < lines.size(), "tensor " + name + " is cut short");
      for (const std::string& v : lines[i]) t.values.push_back(number(v));
      ++i;
    }
    expect(static_cast<Index>(t.values.size()) == count, "tensor " + name + " has too many values");
    return t;
  };
  expect(!lines.empty() && lines[0].size() == 2 && lines[0][0] == "lrplab-zennit-fixture" && lines[0][1] == "1",
         "not a version-1 fixture");
  ++i;
  bool ended = false;
  while (i < lines.size() && !ended) {
    const std::vector<std::string>& t = lines[i];
    if (t[0] == "network") {
      f.network = t.at(1);
      ++i;
    } else if (t[0] == "input_shape") {
      for (size_t d = 2; d < t.size(); ++d) f.input_shape.push_back(whole(t[d]));
      expect(f.input_shape.size() == static_cast<size_t>(whole(t.at(1))), "bad input_shape");
      ++i;
    } else if (t[0] == "layer") {
      f.layers.emplace_back(t.begin() + 1, t.end());
      ++i;
    } else if (t[0] == "canonize") {
      expect(t.size() == 2 && t[1] == "batchnorm", "unknown canonizer");
      f.canonize = true;
      ++i;
    } else if (t[0] == "tensor") {
      std::string name;
      FixtureTensor tensor = read_tensor(name);
      f.tensors[name] = std::move(tensor);
    } else if (t[0] == "explanation") {
      FixtureExplanation e;
      expect(t.size() >= 4, "bad explanation line");
      e.id = t[1];
      e.seed = t[2];
      e.spec.assign(t.begin() + 3, t.end());
      ++i;
      std::string name;
      e.relevance = read_tensor(name);
      expect(name == "relevance", "explanation " + e.id + " without its relevance");
      f.explanations.push_back(std::move(e));
    } else if (t[0] == "end") {
      ended = true;
    } else {
      expect(false, "unknown statement '" + t[0] + "'");
    }
  }
  expect(ended, "missing 'end' (truncated file?)");
  return f;
}

const FixtureTensor& tensor(const Fixture& f, const std::string& name) {
  const auto it = f.tensors.find(name);
  if (it == f.tensors.end()) throw std::runtime_error("zennit fixture " + f.network + ": no tensor '" + name + "'");
  return it->second;
}

lrp::Matrix to_matrix(const FixtureTensor& t, Index rows) {
  const auto n = static_cast<Index>(t.values.size());
  REQUIRE(n % rows == 0);
  lrp::Matrix m(rows, n / rows);
  for (Index k = 0; k < n; ++k) m.data()[k] = static_cast<lrp::Scalar>(t.values[static_cast<size_t>(k)]);
  return m;
}

lrp::Vector to_vector(const FixtureTensor& t) {
  lrp::Vector v(static_cast<Index>(t.values.size()));
  for (Index k = 0; k < v.size(); ++k) v[k] = static_cast<lrp::Scalar>(t.values[static_cast<size_t>(k)]);
  return v;
}

// The network of a fixture, with its parameters (before any canonization).
lrp::Network build_network(const Fixture& f) {
  lrp::Network net(f.input_shape);
  for (const std::vector<std::string>& t : f.layers) {
    const std::string& kind = t.at(0);
    const std::string& name = t.at(1);
    if (kind == "dense") {
      net.add(std::make_unique<lrp::Dense>(whole(t.at(2)), whole(t.at(3)), whole(t.at(4)) == 1), name);
    } else if (kind == "conv2d") {
      lrp::Conv2dOptions o;
      o.kernel = {whole(t.at(4)), whole(t.at(5))};
      o.stride = {whole(t.at(6)), whole(t.at(7))};
      o.padding = {whole(t.at(8)), whole(t.at(9))};
      o.dilation = {whole(t.at(10)), whole(t.at(11))};
      o.bias = whole(t.at(12)) == 1;
      net.add(std::make_unique<lrp::Conv2d>(whole(t.at(2)), whole(t.at(3)), o), name);
    } else if (kind == "relu") {
      net.add(lrp::make_relu(), name);
    } else if (kind == "flatten") {
      net.add(std::make_unique<lrp::Flatten>(), name);
    } else if (kind == "maxpool2d" || kind == "avgpool2d") {
      lrp::Pool2dOptions o;
      o.kernel = {whole(t.at(2)), whole(t.at(3))};
      o.stride = {whole(t.at(4)), whole(t.at(5))};
      if (kind == "maxpool2d")
        net.add(std::make_unique<lrp::MaxPool2d>(o), name);
      else
        net.add(std::make_unique<lrp::AvgPool2d>(o), name);
    } else if (kind == "batchnorm") {
      net.add(std::make_unique<lrp::BatchNorm>(whole(t.at(2)), number(t.at(3))), name);
    } else {
      FAIL("zennit fixture: unknown layer kind " << kind);
    }
  }
  for (Index l = 0; l < net.size(); ++l) {
    lrp::Layer& layer = net.layer(l);
    const std::string& name = layer.name();
    if (layer.kind() == "dense" || layer.kind() == "conv2d") {
      // PyTorch layout [out, in(, kh, kw)] row-major is exactly lrplab's [out, in·kh·kw].
      const FixtureTensor& w = tensor(f, name + ".weight");
      lrp::Params p;
      p.weight = to_matrix(w, w.dims.at(0));
      if (f.tensors.count(name + ".bias")) p.bias = to_vector(tensor(f, name + ".bias"));
      layer.set_params(std::move(p));
    } else if (layer.kind() == "batchnorm") {
      auto& bn = dynamic_cast<lrp::BatchNorm&>(layer);
      lrp::Params p;
      p.weight = to_matrix(tensor(f, name + ".weight"), 1);
      p.bias = to_vector(tensor(f, name + ".bias"));
      bn.set_params(std::move(p));
      bn.set_statistics(to_vector(tensor(f, name + ".running_mean")), to_vector(tensor(f, name + ".running_var")));
    }
  }
  return net;
}

// "k=v1,v2" tokens from `begin` up to `end` into a ParamMap.
lrp::ParamMap parse_params(std::vector<std::string>::const_iterator begin,
                           std::vector<std::string>::const_iterator end) {
  lrp::ParamMap p;
  for (auto it = begin; it != end; ++it) {
    const auto eq = it->find('=');
    REQUIRE(eq != std::string::npos);
    lrp::ParamValue values;
    std::stringstream list(it->substr(eq + 1));
    for (std::string v; std::getline(list, v, ',');) values.push_back(number(v));
    p.set(it->substr(0, eq), values);
  }
  return p;
}

lrp::Explainer make_explainer(const lrp::Network& net, const lrp::Registry& registry,
                              const std::vector<std::string>& spec) {
  const std::string& kind = spec.at(0);
  if (kind == "gradient") return lrp::Explainer::gradient(net, registry);
  if (kind == "uniform")
    return lrp::Explainer::from_composite(
        net, registry, lrp::Composite::uniform({spec.at(1), parse_params(spec.begin() + 2, spec.end())}));
  if (kind == "preset")
    return lrp::Explainer::from_composite(net, registry,
                                          registry.make_preset(spec.at(1), parse_params(spec.begin() + 2, spec.end())));
  if (kind == "first") {
    // Zennit's SpecialFirstLayerMapComposite over its `Linear` type: the first dense or conv layer gets the first
    // rule, every other dense or conv layer the second; pooling, activations, flatten keep the layer defaults.
    const auto then = std::find(spec.begin(), spec.end(), "then");
    REQUIRE(then != spec.end());
    lrp::Composite c;
    c.first({spec.at(1), parse_params(spec.begin() + 2, then)}, {"dense", "conv2d"});
    c.fallback({*(then + 1), parse_params(then + 2, spec.end())});
    return lrp::Explainer::from_composite(net, registry, c);
  }
  FAIL("zennit fixture: unknown composite spec " << kind);
  throw std::logic_error("unreachable");
}

// max |got − reference| / max |reference| over all entries.
double relative_error(const lrp::Matrix& got, const std::vector<double>& reference) {
  double err = 0.0, scale = 0.0;
  for (Index k = 0; k < got.size(); ++k) {
    const double r = reference[static_cast<size_t>(k)];
    err = std::max(err, std::abs(static_cast<double>(got.data()[k]) - r));
    scale = std::max(scale, std::abs(r));
  }
  return scale > 0.0 ? err / scale : err;
}

void check_against_zennit(const std::string& file) {
  const Fixture f = load_fixture(std::string(LRP_TEST_FIXTURES) + "/zennit/" + file);
  lrp::Registry registry;
  lrp::register_builtins(registry);
  lrp::Network net = build_network(f);

  const FixtureTensor& input = tensor(f, "input");
  const Index n = input.dims.at(0);
  const lrp::Tensor x(f.input_shape, to_matrix(input, n));
  std::vector<Index> targets;
  for (double t : tensor(f, "targets").values) targets.push_back(static_cast<Index>(t));
  REQUIRE(static_cast<Index>(targets.size()) == n);
  const FixtureTensor& logits = tensor(f, "logits");

  {
    const lrp::ForwardPass pass = net.forward(x);
    const double err = relative_error(pass.logits(), logits.values);
    INFO(f.network << ": logits, max relative error " << err << " (tolerance " << kLogitTolerance << ")");
    CHECK(err <= kLogitTolerance);
  }
  if (f.canonize) {
    const lrp::CanonizeReport report = lrp::canonize_batch_norm(net);
    CHECK(report.left.empty());
    const lrp::ForwardPass pass = net.forward(x);
    const double err = relative_error(pass.logits(), logits.values);
    INFO(f.network << ": logits after batch-norm canonization, max relative error " << err);
    CHECK(err <= kLogitTolerance);
  }

  const lrp::ForwardPass pass = net.forward(x);
  REQUIRE(f.explanations.size() >= 10);
  double worst = 0.0;
  for (const FixtureExplanation& e : f.explanations) {
    const lrp::Explainer explainer = make_explainer(net, registry, e.spec);
    lrp::ExplainOptions options;
    REQUIRE((e.seed == "logit" || e.seed == "onehot"));
    options.seed = e.seed == "logit" ? lrp::SeedKind::kLogit : lrp::SeedKind::kOneHot;
    const lrp::Explanation got = explainer.explain(pass, targets, options);
    REQUIRE(got.relevance.data.size() == static_cast<Index>(e.relevance.values.size()));
    REQUIRE(e.relevance.dims.at(0) == n);
    const double err = relative_error(got.relevance.data, e.relevance.values);
    worst = std::max(worst, err);
    std::string rules;
    for (const std::string& r : got.layer_rules) rules += "\n  " + r;
    INFO(f.network << " / " << e.id << " (" << lrp::scalar_name() << "): max relative error " << err << " (tolerance "
                   << kRelevanceTolerance << "); lrplab rules:" << rules);
    CHECK(err <= kRelevanceTolerance);
  }
  INFO(f.network << ": worst relative error over " << f.explanations.size() << " explanations: " << worst);
  CHECK(worst <= kRelevanceTolerance);
}

}  // namespace

TEST_CASE("Zennit reference: MLP 12-8-6-4, every rule and preset", "[zennit]") { check_against_zennit("mlp.txt"); }

TEST_CASE("Zennit reference: CNN with max and average pooling, every rule and preset", "[zennit]") {
  check_against_zennit("cnn.txt");
}

TEST_CASE("Zennit reference: CNN with batch norms (canonized), every rule and preset", "[zennit]") {
  check_against_zennit("cnn_bn.txt");
}
