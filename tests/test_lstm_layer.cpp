// The LSTM layer handler (lrp::Lstm, kind "lstm") against independent oracles:
//   - forward: a literal per-sample, per-step loop in long double written here from the equations of
//     docs/rules.md, LSTM rules, which unpacks the parameters itself from the documented packing;
//   - PyTorch: tests/fixtures/lstm/lstm.txt (tests/make_lstm_fixtures.py) holds nn.LSTM outputs and
//     autograd gradients in float64, and torch's parameter names and shapes;
//   - vjp and param_vjp: central finite differences of forward, entry by entry and along random
//     directions (the adjoint identity ⟨J v, u⟩ = ⟨v, Jᵀ u⟩);
//   - end to end: training with lrp::train, explain_gradient against finite differences of the logit,
//     model descriptions (size inference, YAML round trip), initialization, and error messages.
//
// Entrywise central differences of the smooth LSTM have truncation error O(h²): float64 uses h = 1e-5
// (measured error ≤ 2e-10 relative, tolerance 1e-8); float32 uses h = 1e-2 (measured ≤ 2e-4,
// tolerance 5e-3). The directional derivatives of the adjoint test are Richardson-extrapolated on
// exactly representable steps: float64 measured ≤ 1e-11 (tolerance 1e-10); float32 is limited by the
// rounding of the forward passes, measured ≤ 2e-5 (tolerance 5e-4).
#include "temp_dir.hpp"
#include "test_util.hpp"

#include "lrp/io/model_file.hpp"
#include "lrp/io/model_yaml.hpp"
#include "lrp/propagation/explain.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/nn/model.hpp"
#include "lrp/train/train.hpp"
#include "lrp/io/yaml_util.hpp"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

using namespace lrp_test;
using Eigen::MatrixXd;
using lrp::Lstm;
using lrp::Params;

namespace {

struct Config {
  Index d, hidden, layers;
  bool bidirectional;
  Index steps;
  bool bias = true;
};

std::string describe(const Config& c) {
  std::ostringstream s;
  s << "D " << c.d << ", H " << c.hidden << ", " << c.layers << " layer(s), "
    << (c.bidirectional ? "bidirectional" : "forward only") << ", T " << c.steps << (c.bias ? "" : ", no bias");
  return s.str();
}

std::unique_ptr<Lstm> make_lstm(const Config& c, const std::string& name = "rnn") {
  return configured(std::make_unique<Lstm>(c.d, c.hidden, c.layers, c.bidirectional, c.bias), Shape{c.steps, c.d},
                    name);
}

// uni/bi × 1/2 layers × T = 1/5, and a 3-layer stack without bias.
std::vector<Config> configs() {
  std::vector<Config> out;
  for (bool bi : {false, true})
    for (Index layers : {1, 2})
      for (Index steps : {1, 5}) out.push_back({3, 4, layers, bi, steps});
  out.push_back({2, 3, 3, false, 3, false});
  out.push_back({2, 2, 3, true, 4, false});
  return out;
}

// ---------------------------------------------------------------- the long-double oracle

using Ld = long double;
using LdVec = std::vector<Ld>;

// One cell's parameters, unpacked from Params by walking the documented packing.
struct OracleCell {
  Index in = 0;
  LdVec w_ih, w_hh, b_ih, b_hh;  // row-major [4H, in], [4H, H]; [4H] (zeros without bias)
};

std::vector<OracleCell> unpack(const Config& c, const Params& p) {
  const Index dirs = c.bidirectional ? 2 : 1, g = 4 * c.hidden;
  std::vector<OracleCell> cells;
  Index w = 0, b = 0;
  for (Index k = 0; k < c.layers; ++k)
    for (Index d = 0; d < dirs; ++d) {
      OracleCell cell;
      cell.in = k == 0 ? c.d : c.hidden * dirs;
      for (Index i = 0; i < g * cell.in; ++i) cell.w_ih.push_back(p.weight(0, w++));
      for (Index i = 0; i < g * c.hidden; ++i) cell.w_hh.push_back(p.weight(0, w++));
      for (Index i = 0; i < g; ++i) cell.b_ih.push_back(c.bias ? static_cast<Ld>(p.bias[b++]) : 0);
      for (Index i = 0; i < g; ++i) cell.b_hh.push_back(c.bias ? static_cast<Ld>(p.bias[b++]) : 0);
      cells.push_back(std::move(cell));
    }
  REQUIRE(w == p.weight.cols());
  REQUIRE(b == p.bias.size());
  return cells;
}

Ld sigmoid(Ld v) { return 1.0L / (1.0L + std::exp(-v)); }

// h_n of the last layer for one sample x (T·D values, step-major), straight from the equations.
LdVec oracle_sample(const Config& c, const std::vector<OracleCell>& cells, const LdVec& x) {
  const Index dirs = c.bidirectional ? 2 : 1, H = c.hidden, T = c.steps;
  std::vector<LdVec> sequence(static_cast<size_t>(T));  // the current layer's input per step
  for (Index t = 0; t < T; ++t) sequence[size_t(t)] = LdVec(x.begin() + t * c.d, x.begin() + (t + 1) * c.d);
  LdVec final_state;
  for (Index k = 0; k < c.layers; ++k) {
    std::vector<LdVec> next(static_cast<size_t>(T), LdVec(static_cast<size_t>(H * dirs)));
    final_state.assign(static_cast<size_t>(H * dirs), 0);
    for (Index d = 0; d < dirs; ++d) {
      const OracleCell& cell = cells[size_t(k * dirs + d)];
      LdVec h(size_t(H), 0), cs(size_t(H), 0);
      for (Index step = 0; step < T; ++step) {
        const Index t = d == 0 ? step : T - 1 - step;
        const LdVec& xt = sequence[size_t(t)];
        LdVec pre(size_t(4 * H));
        for (Index r = 0; r < 4 * H; ++r) {
          Ld z = cell.b_ih[size_t(r)] + cell.b_hh[size_t(r)];
          for (Index j = 0; j < cell.in; ++j) z += cell.w_ih[size_t(r * cell.in + j)] * xt[size_t(j)];
          for (Index j = 0; j < H; ++j) z += cell.w_hh[size_t(r * H + j)] * h[size_t(j)];
          pre[size_t(r)] = z;
        }
        for (Index j = 0; j < H; ++j) {
          const Ld i = sigmoid(pre[size_t(j)]), f = sigmoid(pre[size_t(H + j)]), g = std::tanh(pre[size_t(2 * H + j)]),
                   o = sigmoid(pre[size_t(3 * H + j)]);
          cs[size_t(j)] = f * cs[size_t(j)] + i * g;
          h[size_t(j)] = o * std::tanh(cs[size_t(j)]);
          next[size_t(t)][size_t(d * H + j)] = h[size_t(j)];
        }
      }
      for (Index j = 0; j < H; ++j) final_state[size_t(d * H + j)] = h[size_t(j)];
    }
    sequence = std::move(next);
  }
  return final_state;
}

MatrixXd oracle_forward(const Config& c, const Params& p, const Matrix& x) {
  const std::vector<OracleCell> cells = unpack(c, p);
  const Index dirs = c.bidirectional ? 2 : 1;
  MatrixXd y(x.rows(), c.hidden * dirs);
  for (Index n = 0; n < x.rows(); ++n) {
    LdVec sample(size_t(x.cols()));
    for (Index j = 0; j < x.cols(); ++j) sample[size_t(j)] = x(n, j);
    const LdVec h = oracle_sample(c, cells, sample);
    for (Index j = 0; j < y.cols(); ++j) y(n, j) = static_cast<double>(h[size_t(j)]);
  }
  return y;
}

// Random parameters of the layer's shapes, uniform in [−1, 1) (larger than PyTorch's init, so gates
// saturate in places), and inputs in [−2, 2).
Params random_lstm_params(const Lstm& layer, std::uint64_t seed) { return random_params(layer, seed); }
Matrix random_inputs(const Config& c, Index n, std::uint64_t seed) {
  return random_matrix(n, c.steps * c.d, seed, -2.0, 2.0);
}

// ---------------------------------------------------------------- finite differences

// L = Σ g ⊙ forward(x; p), in double.
double loss(const lrp::Layer& layer, const Matrix& x, const Params& p, const Matrix& g) {
  return (g.cast<double>().array() * run_forward(layer, x, p).cast<double>().array()).sum();
}

double fd_step() { return tol(1e-2, 1e-5); }
double fd_tolerance() { return tol(5e-3, 1e-8); }

Params run_param_vjp(const lrp::Layer& layer, const Matrix& x, const Params& p, const Matrix& g, Params grads) {
  lrp::Workspace ws;
  layer.param_vjp(x, p, g, grads, ws);
  return grads;
}

// Central difference of `f` for a step `h` applied to *entry (the step actually taken in Scalar).
template <typename F>
double central(Scalar& entry, double h, F f) {
  const Scalar saved = entry;
  entry = static_cast<Scalar>(static_cast<double>(saved) + h);
  const double up = static_cast<double>(entry);
  const double f_plus = f();
  entry = static_cast<Scalar>(static_cast<double>(saved) - h);
  const double down = static_cast<double>(entry);
  const double f_minus = f();
  entry = saved;
  return (f_plus - f_minus) / (up - down);
}

// ---------------------------------------------------------------- the PyTorch fixture

struct FixtureTensor {
  std::vector<Index> shape;
  std::vector<double> values;
};

struct FixtureBlock {
  std::string name;
  bool in_bias;
  Index offset;
  Shape shape;
};

struct FixtureCase {
  std::string name;
  Config config;
  std::vector<FixtureBlock> blocks;
  std::map<std::string, FixtureTensor> tensors;

  const FixtureTensor& tensor(const std::string& key) const {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw std::runtime_error("lstm fixture " + name + ": no tensor " + key);
    return it->second;
  }
  Matrix matrix(const std::string& key, Index rows) const {
    const FixtureTensor& t = tensor(key);
    const Index cols = rows == 0 ? 0 : static_cast<Index>(t.values.size()) / rows;
    Matrix m(rows, cols);
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) m(i, j) = static_cast<Scalar>(t.values[size_t(i * cols + j)]);
    return m;
  }
  MatrixXd exact(const std::string& key, Index rows) const {
    const FixtureTensor& t = tensor(key);
    const Index cols = rows == 0 ? 0 : static_cast<Index>(t.values.size()) / rows;
    MatrixXd m(rows, cols);
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) m(i, j) = t.values[size_t(i * cols + j)];
    return m;
  }
  Index samples = 0;
};

std::vector<FixtureCase> load_fixture() {
  const std::string path = std::string(LRP_TEST_FIXTURES) + "/lstm/lstm.txt";
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::vector<std::string> tokens;
  std::string line;
  bool header = false;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    for (std::string t; s >> t;) tokens.push_back(t);
    if (!header) {
      if (tokens.size() != 2 || tokens[0] != "lrplab-lstm-fixture" || tokens[1] != "1")
        throw std::runtime_error(path + ": not a version-1 lstm fixture");
      tokens.clear();
      header = true;
    }
  }
  size_t pos = 0;
  auto next = [&]() -> const std::string& {
    if (pos >= tokens.size()) throw std::runtime_error(path + ": unexpected end of file");
    return tokens[pos++];
  };
  auto integer = [&]() { return static_cast<Index>(std::stoll(next())); };
  std::vector<FixtureCase> cases;
  while (pos < tokens.size()) {
    if (next() != "case") throw std::runtime_error(path + ": expected 'case'");
    FixtureCase fc;
    fc.name = next();
    fc.config.d = integer();
    fc.config.hidden = integer();
    fc.config.layers = integer();
    fc.config.bidirectional = integer() == 1;
    fc.config.bias = integer() == 1;
    fc.config.steps = integer();
    fc.samples = integer();
    for (;;) {
      const std::string what = next();
      if (what == "end") break;
      if (what == "block") {
        FixtureBlock b;
        b.name = next();
        b.in_bias = next() == "bias";
        b.offset = integer();
        const Index rank = integer();
        for (Index r = 0; r < rank; ++r) b.shape.push_back(integer());
        fc.blocks.push_back(b);
      } else if (what == "tensor") {
        const std::string name = next();
        FixtureTensor t;
        const Index rank = integer();
        Index count = 1;
        for (Index r = 0; r < rank; ++r) {
          t.shape.push_back(integer());
          count *= t.shape.back();
        }
        for (Index i = 0; i < count; ++i) t.values.push_back(std::stod(next()));
        fc.tensors[name] = std::move(t);
      } else {
        throw std::runtime_error(path + ": unknown statement " + what);
      }
    }
    cases.push_back(std::move(fc));
  }
  return cases;
}

lrp::Dataset dataset(Matrix inputs, Shape shape, std::vector<Index> labels) {
  lrp::Dataset d;
  d.inputs = lrp::Tensor(std::move(shape), std::move(inputs));
  d.labels = std::move(labels);
  for (Index i = 0; i < d.size(); ++i) d.indices.push_back(i);
  d.source = "lstm test task";
  return d;
}

// [T, D] → lstm → dense(classes), with seeded random parameters (uniform [−1, 1) LSTM weights).
lrp::Network lstm_classifier(const Config& c, Index classes, std::uint64_t seed) {
  lrp::Network net({c.steps, c.d});
  net.add(std::make_unique<Lstm>(c.d, c.hidden, c.layers, c.bidirectional, c.bias), "rnn");
  const Index features = lrp::numel(net.layer(0).output_shape());
  net.add(std::make_unique<lrp::Dense>(features, classes), "fc");
  net.layer(0).set_params(random_params(net.layer(0), seed));
  net.layer(1).set_params(random_params(net.layer(1), seed + 7));
  return net;
}

template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const lrp::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

// ---------------------------------------------------------------- forward

TEST_CASE("LSTM forward equals a per-sample, per-step long-double loop over the equations", "[lstm]") {
  std::uint64_t seed = 100;
  for (const Config& c : configs()) {
    INFO(describe(c));
    auto layer = make_lstm(c);
    const Params p = random_lstm_params(*layer, seed += 10);
    layer->set_params(p);
    for (Index n : {1, 3, 7}) {
      INFO("batch " << n);
      const Matrix x = random_inputs(c, n, seed + 1);
      const MatrixXd expected = oracle_forward(c, p, x);
      CHECK(relative_error(run_forward(*layer, x, p), expected) <= tol(2e-6, 1e-13));
      // The same through a network on 1 and 2 threads (row blocks of the batch).
      lrp::Network net({c.steps, c.d});
      net.add(std::make_unique<Lstm>(c.d, c.hidden, c.layers, c.bidirectional, c.bias), "rnn");
      net.layer(0).set_params(p);
      for (int threads : {1, 2}) {
        INFO("threads " << threads);
        const lrp::ForwardPass pass = net.forward(lrp::Tensor({c.steps, c.d}, x), threads);
        CHECK(relative_error(pass.logits(), expected) <= tol(2e-6, 1e-13));
      }
    }
  }
}

TEST_CASE("LSTM forward of a batch equals its rows run one at a time, bit for bit", "[lstm]") {
  const Config c{3, 5, 2, true, 4};
  auto layer = make_lstm(c);
  const Params p = random_lstm_params(*layer, 300);
  const Matrix x = random_inputs(c, 9, 301);
  const Matrix whole = run_forward(*layer, x, p);
  for (Index n = 0; n < x.rows(); ++n) {
    const Matrix one = run_forward(*layer, x.row(n), p);
    CHECK(relative_error(one, Matrix(whole.row(n))) <= tol(1e-6, 1e-14));
  }
}

TEST_CASE("LSTM with zero parameters outputs 0, and with zero weights the closed form of constant gates", "[lstm]") {
  // Zero weights and biases b_ih + b_hh = (i, f, g, o) pre-activations (0, 0, z, 0): every step sees
  // the same gates, i = f = o = 1/2, g = tanh(z): c_t = c_{t−1}/2 + tanh(z)/2, h_t = tanh(c_t)/2.
  const Config c{2, 3, 1, false, 3};
  auto layer = make_lstm(c);
  Params p = layer->params();
  CHECK(run_forward(*layer, random_inputs(c, 2, 5), p).cwiseAbs().maxCoeff() == Scalar(0));
  const double z = 0.8;
  for (Index j = 0; j < 3; ++j) p.bias[2 * 3 + j] = static_cast<Scalar>(z);  // b_ih rows of g
  double cell = 0;
  for (int t = 0; t < 3; ++t) cell = cell / 2 + std::tanh(z) / 2;
  const double h = std::tanh(cell) / 2;
  const Matrix y = run_forward(*layer, random_inputs(c, 2, 6), p);
  CHECK(relative_error(y, MatrixXd(MatrixXd::Constant(2, 3, h))) <= tol(1e-6, 1e-15));
}

// ---------------------------------------------------------------- PyTorch

TEST_CASE("LSTM matches PyTorch nn.LSTM: packing names, h_n, input and parameter gradients", "[lstm]") {
  const std::vector<FixtureCase> cases = load_fixture();
  REQUIRE(cases.size() == 6);
  for (const FixtureCase& fc : cases) {
    INFO("case " << fc.name);
    const Config& c = fc.config;
    auto layer = make_lstm(c);
    // The block listing names, places and shapes every parameter as torch does.
    const std::vector<lrp::LstmParamBlock> blocks = layer->parameter_blocks();
    REQUIRE(blocks.size() == fc.blocks.size());
    for (size_t b = 0; b < blocks.size(); ++b) {
      INFO("block " << fc.blocks[b].name);
      CHECK(blocks[b].name == fc.blocks[b].name);
      CHECK(blocks[b].in_bias == fc.blocks[b].in_bias);
      CHECK(blocks[b].offset == fc.blocks[b].offset);
      CHECK(blocks[b].shape == fc.blocks[b].shape);
    }
    Params p;
    p.weight = fc.matrix("weight", 1);
    p.bias = Vector(fc.matrix("bias", 1).transpose());
    if (!c.bias) p.bias.resize(0);
    layer->set_params(p);

    const Index n = fc.samples;
    const Matrix x = fc.matrix("input", n);
    const Matrix g_out = fc.matrix("g_out", n);
    const double forward_error = relative_error(run_forward(*layer, x), fc.exact("h_n", n));
    CAPTURE(forward_error);
    CHECK(forward_error <= tol(1e-5, 1e-10));

    const double input_grad_error = relative_error(run_vjp(*layer, x, g_out), fc.exact("grad_input", n));
    const Params grads = run_param_vjp(*layer, x, p, g_out, lrp::zero_like(p));
    const double weight_grad_error = relative_error(grads.weight, fc.exact("grad_weight", 1));
    const double bias_grad_error =
        c.bias ? relative_error(Matrix(grads.bias.transpose()), fc.exact("grad_bias", 1)) : 0.0;
    CAPTURE(input_grad_error, weight_grad_error, bias_grad_error);
    CHECK(input_grad_error <= tol(1e-5, 1e-10));
    CHECK(weight_grad_error <= tol(1e-5, 1e-10));
    CHECK(bias_grad_error <= tol(1e-5, 1e-10));
  }
}

// ---------------------------------------------------------------- gradients

TEST_CASE("LSTM vjp matches central finite differences of forward for every input entry", "[lstm]") {
  std::uint64_t seed = 400;
  for (const Config& c : configs()) {
    INFO(describe(c));
    auto layer = make_lstm(c);
    const Params p = random_lstm_params(*layer, seed += 10);
    layer->set_params(p);
    Matrix x = random_inputs(c, 3, seed + 1);
    const Matrix g = random_matrix(3, lrp::numel(layer->output_shape()), seed + 2);
    const Matrix analytic = run_vjp(*layer, x, g);
    MatrixXd numeric(x.rows(), x.cols());
    for (Index n = 0; n < x.rows(); ++n)
      for (Index j = 0; j < x.cols(); ++j)
        numeric(n, j) = central(x(n, j), fd_step(), [&] { return loss(*layer, x, p, g); });
    CHECK(relative_error(analytic, numeric) <= fd_tolerance());
  }
}

TEST_CASE("LSTM param_vjp matches central finite differences for every weight and bias entry", "[lstm]") {
  std::uint64_t seed = 500;
  for (const Config& c : configs()) {
    INFO(describe(c));
    auto layer = make_lstm(c);
    Params p = random_lstm_params(*layer, seed += 10);
    const Matrix x = random_inputs(c, 3, seed + 1);
    const Matrix g = random_matrix(3, lrp::numel(layer->output_shape()), seed + 2);
    const Params grads = run_param_vjp(*layer, x, p, g, lrp::zero_like(p));
    MatrixXd fd_weight(1, p.weight.cols());
    for (Index j = 0; j < p.weight.cols(); ++j)
      fd_weight(0, j) = central(p.weight(0, j), fd_step(), [&] { return loss(*layer, x, p, g); });
    CHECK(relative_error(grads.weight, fd_weight) <= fd_tolerance());
    REQUIRE(grads.bias.size() == p.bias.size());
    MatrixXd fd_bias(1, p.bias.size());
    for (Index j = 0; j < p.bias.size(); ++j)
      fd_bias(0, j) = central(p.bias[j], fd_step(), [&] { return loss(*layer, x, p, g); });
    CHECK(relative_error(Matrix(grads.bias.transpose()), fd_bias) <= fd_tolerance());
  }
}

// Values on a grid of 2^-10 and directions on a grid of 2^-4, with power-of-two steps: every x ± s·v is
// exact in float32 as in float64, so the steps taken are exactly the ones intended.
Matrix on_grid(const Matrix& m, double spacing) {
  return m.unaryExpr(
      [spacing](Scalar v) { return static_cast<Scalar>(std::round(static_cast<double>(v) / spacing) * spacing); });
}
Params on_grid(Params p, double spacing) {
  p.weight = on_grid(p.weight, spacing);
  p.bias = on_grid(Matrix(p.bias), spacing).col(0);
  return p;
}

// d/ds f(s) at s = 0 by Richardson-extrapolated central differences, (4 D(h/2) − D(h)) / 3 with
// D(h) = (f(h) − f(−h)) / 2h: truncation error O(h⁴) instead of O(h²).
template <typename F>
double directional_derivative(F f, double h) {
  const double wide = (f(h) - f(-h)) / (2 * h), narrow = (f(h / 2) - f(-h / 2)) / h;
  return (4 * narrow - wide) / 3;
}

// ⟨J v, u⟩ = ⟨v, Jᵀ u⟩ with J v a directional derivative along a random direction v (of the input, and
// of all parameters at once), on larger layers than the entrywise checks.
TEST_CASE("LSTM vjp and param_vjp satisfy the adjoint identity against directional derivatives", "[lstm]") {
  const std::vector<Config> big{{5, 8, 2, true, 7}, {4, 6, 3, false, 6}, {6, 7, 1, true, 1}};
  const double h = kFloat64 ? std::ldexp(1.0, -12) : std::ldexp(1.0, -6);
  const double tolerance = tol(5e-4, 1e-10);
  std::uint64_t seed = 600;
  for (const Config& c : big) {
    INFO(describe(c));
    auto layer = make_lstm(c);
    const Params p = on_grid(random_lstm_params(*layer, seed += 10), 0x1p-10);
    const Matrix x = on_grid(random_inputs(c, 4, seed + 1), 0x1p-10);
    const Matrix u = random_matrix(4, lrp::numel(layer->output_shape()), seed + 2);

    const Matrix v = on_grid(random_matrix(x.rows(), x.cols(), seed + 3), 0x1p-4);
    const double jv_u = directional_derivative(
        [&](double s) { return loss(*layer, Matrix(x + static_cast<Scalar>(s) * v), p, u); }, h);
    const double v_jtu = (v.cast<double>().array() * run_vjp(*layer, x, u, p).cast<double>().array()).sum();
    CAPTURE(jv_u, v_jtu);
    CHECK(std::abs(jv_u - v_jtu) / std::max(1.0, std::abs(v_jtu)) <= tolerance);

    const Params dp = on_grid(random_lstm_params(*layer, seed + 4), 0x1p-4);
    const double jp_u = directional_derivative(
        [&](double s) {
          Params q = p;
          q.weight += static_cast<Scalar>(s) * dp.weight;
          q.bias += static_cast<Scalar>(s) * dp.bias;
          return loss(*layer, x, q, u);
        },
        h);
    const Params grads = run_param_vjp(*layer, x, p, u, lrp::zero_like(p));
    const double p_jtu = (dp.weight.cast<double>().array() * grads.weight.cast<double>().array()).sum() +
                         dp.bias.cast<double>().dot(grads.bias.cast<double>());
    CAPTURE(jp_u, p_jtu);
    CHECK(std::abs(jp_u - p_jtu) / std::max(1.0, std::abs(p_jtu)) <= tolerance);
  }
}

TEST_CASE("LSTM vjp accumulates on request, param_vjp adds, and both sum over the batch", "[lstm]") {
  const Config c{3, 4, 2, true, 5};
  auto layer = make_lstm(c);
  const Params p = random_lstm_params(*layer, 700);
  const Matrix x = random_inputs(c, 4, 701);
  const Matrix g = random_matrix(4, 8, 702);
  const Matrix start = random_matrix(4, x.cols(), 703);
  const Matrix plain = run_vjp(*layer, x, g, p);
  lrp::Workspace ws;
  Matrix accumulated = start;
  layer->vjp(x, p, g, accumulated, ws, true);
  CHECK(relative_error(accumulated, Matrix(start + plain)) <= tol(1e-6, 1e-14));
  // Rows are independent: the input gradient of a row alone is that row of the batch's.
  for (Index n = 0; n < x.rows(); ++n)
    CHECK(relative_error(run_vjp(*layer, x.row(n), g.row(n), p), Matrix(plain.row(n))) <= tol(1e-6, 1e-14));

  const Params once = run_param_vjp(*layer, x, p, g, lrp::zero_like(p));
  const Params twice = run_param_vjp(*layer, x, p, g, once);
  CHECK(relative_error(twice.weight, Matrix(2 * once.weight)) <= tol(1e-6, 1e-14));
  CHECK(relative_error(Matrix(twice.bias), Matrix(2 * once.bias)) <= tol(1e-6, 1e-14));
  Params per_sample = lrp::zero_like(p);
  for (Index n = 0; n < x.rows(); ++n) per_sample = run_param_vjp(*layer, x.row(n), p, g.row(n), per_sample);
  CHECK(relative_error(per_sample.weight, once.weight) <= tol(1e-5, 1e-13));
  CHECK(relative_error(Matrix(per_sample.bias), Matrix(once.bias)) <= tol(1e-5, 1e-13));
}

// ---------------------------------------------------------------- packing

TEST_CASE("LSTM parameter blocks follow the documented packing and cell() views them in place", "[lstm]") {
  // D = 3, H = 2 (4H = 8), 2 layers, bidirectional: in_0 = 3, in_1 = 4.
  auto layer = make_lstm({3, 2, 2, true, 4});
  CHECK(layer->weight_size() == 2 * 8 * (3 + 2) + 2 * 8 * (4 + 2));
  CHECK(layer->bias_size() == 4 * 16);
  const std::vector<lrp::LstmParamBlock> blocks = layer->parameter_blocks();
  const std::vector<std::string> names{"weight_ih_l0",         "weight_hh_l0",         "bias_ih_l0",
                                       "bias_hh_l0",           "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                       "bias_ih_l0_reverse",   "bias_hh_l0_reverse",   "weight_ih_l1",
                                       "weight_hh_l1",         "bias_ih_l1",           "bias_hh_l1",
                                       "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
                                       "bias_hh_l1_reverse"};
  const std::vector<Index> offsets{0, 24, 0, 8, 40, 64, 16, 24, 80, 112, 32, 40, 128, 160, 48, 56};
  const std::vector<Shape> shapes{{8, 3}, {8, 2}, {8}, {8}, {8, 3}, {8, 2}, {8}, {8},
                                  {8, 4}, {8, 2}, {8}, {8}, {8, 4}, {8, 2}, {8}, {8}};
  REQUIRE(blocks.size() == names.size());
  for (size_t b = 0; b < blocks.size(); ++b) {
    INFO(names[b]);
    CHECK(blocks[b].name == names[b]);
    CHECK(blocks[b].offset == offsets[b]);
    CHECK(blocks[b].shape == shapes[b]);
    CHECK(blocks[b].in_bias == (names[b].rfind("bias", 0) == 0));
  }
  Params p = random_lstm_params(*layer, 800);
  const lrp::LstmCellView v = layer->cell(static_cast<const Params&>(p), 1, 1);
  CHECK(v.w_ih(5, 3) == p.weight(0, 128 + 5 * 4 + 3));
  CHECK(v.w_hh(7, 1) == p.weight(0, 160 + 7 * 2 + 1));
  CHECK(v.b_ih[6] == p.bias[48 + 6]);
  CHECK(v.b_hh[2] == p.bias[56 + 2]);
  lrp::LstmCellMutableView m = layer->cell(p, 0, 1);
  m.w_hh(0, 1) = Scalar(42);
  CHECK(p.weight(0, 64 + 1) == Scalar(42));
  CHECK_THROWS_WITH(layer->cell(p, 2, 0), Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("no cell"));
}

// ---------------------------------------------------------------- training and explaining

TEST_CASE("A [T, D] -> lstm -> dense network learns a separable sequence task with lrp::train", "[lstm]") {
  // Label 1 when the mean of feature 0 over the 4 steps is positive (feature 1 is noise).
  const Config c{2, 6, 1, true, 4};
  const Index n = 96;
  const Matrix inputs = random_matrix(n, c.steps * c.d, 900);
  std::vector<Index> labels;
  for (Index i = 0; i < n; ++i) {
    double sum = 0;
    for (Index t = 0; t < c.steps; ++t) sum += static_cast<double>(inputs(i, t * c.d));
    labels.push_back(sum > 0 ? 1 : 0);
  }
  const lrp::Dataset data = dataset(inputs, {c.steps, c.d}, labels);

  lrp::Network net({c.steps, c.d});
  net.add(std::make_unique<Lstm>(c.d, c.hidden, c.layers, c.bidirectional), "rnn");
  net.add(std::make_unique<lrp::Dense>(2 * c.hidden, 2), "fc");
  lrp::initialize_parameters(net, lrp::InitScheme::kHeNormal, 901);
  const lrp::Evaluation before = lrp::evaluate(net, data.inputs, data.labels);

  lrp::TrainOptions options;
  options.epochs = 40;
  options.batch_size = 16;
  options.optimizer = lrp::OptimizerKind::kAdam;
  options.adam.learning_rate = 0.02;
  options.seed = 902;
  options.threads = 2;
  const lrp::TrainReport report = lrp::train(net, data, options);
  const lrp::Evaluation after = lrp::evaluate(net, data.inputs, data.labels);
  INFO("loss " << before.loss << " -> " << after.loss << ", accuracy " << before.accuracy << " -> " << after.accuracy);
  CHECK(report.epochs.back().train_loss < 0.5 * report.epochs.front().train_loss);
  CHECK(after.loss < 0.3 * before.loss);
  CHECK(after.accuracy >= 0.95);

  // The step's LSTM gradient is what param_vjp gives for the loss gradient backpropagated through fc.
  std::mt19937_64 rng(5);
  const lrp::StepGradients step = lrp::training_gradients(net, data.inputs, data.labels, rng, 2);
  const lrp::ForwardPass pass = net.forward(data.inputs);
  const lrp::LossAndGradient lg = lrp::SoftmaxCrossEntropy::loss_and_gradient(pass.logits(), data.labels);
  const Matrix g_hidden = lg.gradient * net.layer(1).params().weight;
  const Params expected = run_param_vjp(net.layer(0), data.inputs.data, net.layer(0).params(), g_hidden,
                                        lrp::zero_like(net.layer(0).params()));
  CHECK(relative_error(step.grads[0].weight, expected.weight) <= tol(1e-5, 1e-12));
  CHECK(relative_error(Matrix(step.grads[0].bias), Matrix(expected.bias)) <= tol(1e-5, 1e-12));
}

TEST_CASE("explain_gradient through an LSTM equals finite differences of the target logit", "[lstm]") {
  std::uint64_t seed = 1000;
  for (const Config& c : {Config{3, 4, 2, true, 5}, Config{2, 5, 1, false, 6}, Config{3, 3, 2, false, 1}}) {
    INFO(describe(c));
    const lrp::Network net = lstm_classifier(c, 3, seed += 10);
    Matrix x = random_inputs(c, 4, seed + 1);
    const lrp::ForwardPass pass = net.forward(lrp::Tensor({c.steps, c.d}, x));
    const std::vector<Index> targets{0, 2, 1, 2};
    for (int threads : {1, 2}) {
      INFO("threads " << threads);
      const lrp::Explanation e = lrp::explain_gradient(net, builtins(), pass, targets, false, threads);
      MatrixXd numeric(x.rows(), x.cols());
      for (Index n = 0; n < x.rows(); ++n)
        for (Index j = 0; j < x.cols(); ++j)
          numeric(n, j) = central(x(n, j), fd_step(), [&] {
            const Matrix logits = net.forward(lrp::Tensor({c.steps, c.d}, Matrix(x.row(n)))).logits();
            return static_cast<double>(logits(0, targets[size_t(n)]));
          });
      CHECK(relative_error(e.relevance.data, numeric) <= fd_tolerance());
      const lrp::Explanation gi = lrp::explain_gradient(net, builtins(), pass, targets, true, threads);
      CHECK(relative_error(gi.relevance.data, Matrix(e.relevance.data.cwiseProduct(x))) <= tol(1e-6, 1e-14));
    }
  }
}

TEST_CASE("An LSTM has no default rule: presets fail naming it, a composite that assigns one works", "[lstm]") {
  const Config c{2, 3, 1, false, 4};
  const lrp::Network net = lstm_classifier(c, 2, 1100);
  CHECK_THROWS_WITH(explainer_for(net, "epsilon_plus"),
                    Catch::Contains("'rnn' (lstm)") && Catch::Contains("gets no rule"));
  const lrp::Composite composite =
      builtins().make_preset("epsilon_plus").by_kind("lstm", {"gradient", {}});
  const lrp::Explainer explainer = lrp::Explainer::from_composite(net, builtins(), composite);
  const Matrix x = random_inputs(c, 2, 1101);
  const lrp::ForwardPass pass = net.forward(lrp::Tensor({c.steps, c.d}, x));
  const lrp::Explanation e = explainer.explain(pass, {0, 1});
  CHECK(e.layer_rules[0].rfind("gradient", 0) == 0);
  // epsilon on fc, then the gradient through the LSTM: R_x = Jᵀ R_h.
  lrp::ExplainOptions keep;
  keep.keep_layer_relevance = true;
  const lrp::Explanation full = explainer.explain(pass, {0, 1}, keep);
  CHECK(relative_error(full.relevance.data, run_vjp(net.layer(0), x, full.layer_relevance[1])) <= tol(1e-6, 1e-14));
  CHECK(relative_error(e.relevance.data, full.relevance.data) <= tol(1e-6, 1e-14));
}

// ---------------------------------------------------------------- models, initialization

TEST_CASE("Model descriptions infer the LSTM input size, keep defaults and round-trip through YAML and the model file",
          "[lstm]") {
  const std::string text = R"(name: seq
input_shape: [6, 3]
layers:
  - {kind: lstm, name: rnn, hidden: 5, num_layers: 2, bidirectional: 1}
  - {kind: dense, out: 2}
)";
  const lrp::ModelSpec spec = lrp::parse_model_spec(YAML::Load(text), "seq.yaml", &builtins());
  const lrp::Model model = lrp::build_model(spec, builtins());
  const lrp::LayerSpec& rnn = model.spec.layers[0];
  CHECK(rnn.params.scalar("in", "test") == 3);
  CHECK(rnn.params.scalar("hidden", "test") == 5);
  CHECK(rnn.params.scalar("num_layers", "test") == 2);
  CHECK(rnn.params.scalar("bidirectional", "test") == 1);
  CHECK(rnn.params.scalar("bias", "test") == 1);
  CHECK(model.spec.layers[1].params.scalar("in", "test") == 10);
  const auto& lstm = dynamic_cast<const Lstm&>(model.network.layer(0));
  CHECK(lstm.input_size() == 3);
  CHECK(lstm.hidden_size() == 5);
  CHECK(lstm.num_layers() == 2);
  CHECK(lstm.bidirectional());
  CHECK(model.network.layer(0).output_shape() == Shape{10});

  const std::string yaml = lrp::model_spec_to_yaml(model.spec);
  const lrp::Model again =
      lrp::build_model(lrp::parse_model_spec(YAML::Load(yaml), "again.yaml", &builtins()), builtins());
  CHECK(lrp::model_spec_to_yaml(again.spec) == yaml);
  CHECK(again.network.summary() == model.network.summary());

  // lrplab's model file stores the packed parameters as they are: save → load gives the same logits.
  lrp::Model trained = lrp::build_model(spec, builtins());
  lrp::initialize_parameters(trained.network, lrp::InitScheme::kHeNormal, 31);
  TempDir dir("lrp_test_lstm");
  lrp::save_model(trained, dir.file("seq.h5"));
  const lrp::Model loaded = lrp::load_model(dir.file("seq.h5"), builtins());
  CHECK(bit_equal(loaded.network.layer(0).params().weight, trained.network.layer(0).params().weight));
  CHECK(bit_equal(Matrix(loaded.network.layer(0).params().bias), Matrix(trained.network.layer(0).params().bias)));
  const lrp::Tensor x({6, 3}, random_matrix(3, 18, 32));
  CHECK(bit_equal(loaded.network.forward(x).logits(), trained.network.forward(x).logits()));

  const std::string wrong_in = R"(input_shape: [6, 3]
layers:
  - {kind: lstm, name: rnn, in: 4, hidden: 5}
)";
  const lrp::ModelSpec bad = lrp::parse_model_spec(YAML::Load(wrong_in), "bad.yaml", &builtins());
  CHECK_THROWS_WITH(lrp::build_model(bad, builtins()),
                    Catch::Contains("layer 0 'rnn' (lstm)") && Catch::Contains("'in' is 4"));
  const std::string flat = R"(input_shape: [18]
layers:
  - {kind: lstm, name: rnn, hidden: 5}
)";
  CHECK_THROWS_WITH(lrp::build_model(lrp::parse_model_spec(YAML::Load(flat), "flat.yaml", &builtins()), builtins()),
                    Catch::Contains("'rnn' (lstm)") && Catch::Contains("[T, D]"));
  const std::string zero_hidden = R"(input_shape: [6, 3]
layers:
  - {kind: lstm, name: rnn, hidden: 0}
)";
  CHECK_THROWS_WITH(
      lrp::build_model(lrp::parse_model_spec(YAML::Load(zero_hidden), "zero.yaml", &builtins()), builtins()),
      Catch::Contains("'rnn' (lstm)") && Catch::Contains("hidden"));
}

TEST_CASE("initialize_parameters gives LSTM layers PyTorch's U(-1/sqrt(H), 1/sqrt(H)), seeded, for every scheme",
          "[lstm]") {
  auto build = [] {
    lrp::Network net({5, 3});
    net.add(std::make_unique<Lstm>(3, 16, 2, true), "rnn");
    net.add(std::make_unique<lrp::Dense>(32, 4), "fc");
    return net;
  };
  lrp::Network a = build(), b = build(), other = build();
  lrp::initialize_parameters(a, lrp::InitScheme::kHeNormal, 7);
  lrp::initialize_parameters(b, lrp::InitScheme::kGlorotUniform, 7);
  lrp::initialize_parameters(other, lrp::InitScheme::kHeNormal, 8);
  const Params& p = a.layer(0).params();
  const double bound = 1.0 / std::sqrt(16.0);
  for (const Matrix& m : {p.weight, Matrix(p.bias)}) {
    CHECK(static_cast<double>(m.cwiseAbs().maxCoeff()) <= bound);
    CHECK(static_cast<double>(m.cwiseAbs().maxCoeff()) > 0.95 * bound);
    // U(±a): mean 0, variance a²/3 (thousands of draws: loose bounds).
    const double mean = static_cast<double>(m.mean());
    const double var = (m.cast<double>().array() - mean).square().mean();
    CHECK(std::abs(mean) < 0.1 * bound);
    CHECK(std::abs(var / (bound * bound / 3) - 1) < 0.1);
  }
  CHECK(bit_equal(a.layer(0).params().weight, b.layer(0).params().weight));  // the scheme is ignored
  CHECK(bit_equal(Matrix(a.layer(0).params().bias), Matrix(b.layer(0).params().bias)));
  CHECK(!bit_equal(a.layer(0).params().weight, other.layer(0).params().weight));
  CHECK(!bit_equal(a.layer(1).params().weight, b.layer(1).params().weight));  // dense follows the scheme
}

// ---------------------------------------------------------------- errors

TEST_CASE("LSTM errors name the layer: input shapes, hyperparameters, parameter sizes", "[lstm]") {
  SECTION("an input that is not [T, D], or has the wrong D") {
    lrp::Network flat({12});
    CHECK_THROWS_WITH(flat.add(std::make_unique<Lstm>(3, 4), "rnn"),
                      Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("[T, 3]") &&
                          Catch::Contains("[12]"));
    lrp::Network image({1, 4, 3});
    CHECK_THROWS_WITH(image.add(std::make_unique<Lstm>(3, 4), "rnn"), Catch::Contains("layer 'rnn' (lstm)"));
    lrp::Network wrong_d({5, 2});
    CHECK_THROWS_WITH(wrong_d.add(std::make_unique<Lstm>(3, 4), "rnn"),
                      Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("[5, 2]"));
  }
  SECTION("hyperparameters") {
    CHECK_THROWS_WITH(Lstm(0, 4), Catch::Contains("lstm") && Catch::Contains("input size"));
    CHECK_THROWS_WITH(Lstm(3, 0), Catch::Contains("lstm") && Catch::Contains("hidden size"));
    CHECK_THROWS_WITH(Lstm(3, 4, 0), Catch::Contains("lstm") && Catch::Contains("num_layers"));
    CHECK_THROWS_WITH(builtins().make_layer("lstm", {{"in", {3}}, {"hidden", {4}}, {"bidirectional", {2}}}),
                      Catch::Contains("lstm") && Catch::Contains("bidirectional"));
    CHECK_THROWS_WITH(builtins().make_layer("lstm", {{"in", {3}}, {"hidden", {2.5}}}),
                      Catch::Contains("lstm") && Catch::Contains("hidden"));
    CHECK_THROWS_WITH(builtins().make_layer("lstm", {{"in", {3}}}), Catch::Contains("hidden"));
  }
  SECTION("parameter sizes") {
    auto layer = make_lstm({3, 4, 2, true, 5});
    Params p = random_lstm_params(*layer, 1200);
    Params column = p;
    column.weight = Matrix(p.weight.transpose());
    CHECK_THROWS_WITH(layer->set_params(column), Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("weight"));
    Params short_weight = p;
    short_weight.weight.conservativeResize(1, p.weight.cols() - 1);
    CHECK_THROWS_WITH(layer->set_params(short_weight),
                      Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains(std::to_string(p.weight.cols())));
    Params short_bias = p;
    short_bias.bias.conservativeResize(p.bias.size() - 1);
    CHECK_THROWS_WITH(layer->set_params(short_bias), Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("bias"));
    Params no_bias = p;
    no_bias.bias.resize(0);
    CHECK_THROWS_WITH(layer->set_params(no_bias), Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("bias"));
    auto unbiased = make_lstm({3, 4, 1, false, 5, false});
    Params with_bias = random_lstm_params(*unbiased, 1201);
    with_bias.bias = Vector::Zero(32);
    CHECK_THROWS_WITH(unbiased->set_params(with_bias),
                      Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("without bias"));
    // Handlers are pure in the Params they are given: a wrong size is an error there too, not a bad read.
    const Matrix x = random_inputs({3, 4, 2, true, 5}, 2, 1202);
    Matrix y(2, 8);
    lrp::Workspace ws;
    CHECK_THROWS_WITH(layer->forward(x, short_weight, y, ws), Catch::Contains("layer 'rnn' (lstm)"));
    Params grads = lrp::zero_like(p);
    grads.bias.resize(3);
    CHECK_THROWS_WITH(layer->param_vjp(x, p, Matrix::Ones(2, 8), grads, ws),
                      Catch::Contains("layer 'rnn' (lstm)") && Catch::Contains("gradients"));
  }
}
