// The LSTM rules (lstm_gate, lstm_half, lstm_prop) against a literal, slow implementation of the
// docs/rules.md, LSTM rules formulas written here: per sample, per step, with the full ε-rule message matrix
// (w_ik a_i + δ (b_k + ε sign₀(z_k)) / N) · R_k / (z_k + ε sign₀(z_k)) summed over every upper
// unit k, identity matrices for the cell split, and its own forward pass in double precision.
#include "test_util.hpp"

#include "lrp/propagation/lstm_rules.hpp"

#include <array>

namespace {

using namespace lrp_test;
using lrp::Lstm;
using lrp::Params;
using Vec = std::vector<double>;
using Mat = std::vector<Vec>;  // [rows][cols]

double sgn(double z) { return z >= 0 ? 1.0 : -1.0; }

// The ε-rule message of one linear map, literally: lower units hin [M], weights w[i][k] (lower i,
// upper k), bias b [K], upper pre-activations hout [K], upper relevance rout [K].
Vec lrp_linear(const Vec& hin, const Mat& w, const Vec& b, const Vec& hout, const Vec& rout, double n_units, double eps,
               double delta) {
  Vec rin(hin.size(), 0.0);
  for (size_t i = 0; i < hin.size(); ++i)
    for (size_t k = 0; k < hout.size(); ++k) {
      const double numer = w[i][k] * hin[i] + delta * (b[k] + eps * sgn(hout[k])) / n_units;
      rin[i] += numer * rout[k] / (hout[k] + eps * sgn(hout[k]));
    }
  return rin;
}

Mat identity(size_t h) {
  Mat m(h, Vec(h, 0.0));
  for (size_t i = 0; i < h; ++i) m[i][i] = 1.0;
  return m;
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// One cell's weights in double: wx[G][i][k] = W_ih[G·H + k, i] (lower i = input feature, upper k),
// wh[G][j][k] = W_hh[G·H + k, j], b[G][k] = b_ih + b_hh.
struct CellWeights {
  std::array<Mat, 4> wx, wh;
  std::array<Vec, 4> b;
};

CellWeights weights_of(const Lstm& lstm, Index k, Index d) {
  const lrp::LstmCellView v = lstm.cell(lstm.params(), k, d);
  const Index h = lstm.hidden_size(), in = lstm.layer_input_size(k);
  CellWeights w;
  for (Index g = 0; g < 4; ++g) {
    w.wx[g] = Mat(in, Vec(h));
    w.wh[g] = Mat(h, Vec(h));
    w.b[g] = Vec(h, 0.0);
    for (Index u = 0; u < h; ++u) {
      for (Index i = 0; i < in; ++i) w.wx[g][i][u] = v.w_ih(g * h + u, i);
      for (Index j = 0; j < h; ++j) w.wh[g][j][u] = v.w_hh(g * h + u, j);
      if (v.b_ih.size() > 0) w.b[g][u] = double(v.b_ih[g * h + u]) + double(v.b_hh[g * h + u]);
    }
  }
  return w;
}

// Forward record of one cell over one sequence: per processing step, in time order t.
struct CellTrace {
  std::vector<Vec> x, h, c, gate_i, gate_f, gate_g, gate_o;
  std::array<std::vector<Vec>, 4> pre;  // z of gates i, f, g, o
};

CellTrace run_cell(const CellWeights& w, const std::vector<Vec>& xs, bool reverse, size_t hid) {
  const size_t steps = xs.size();
  CellTrace tr;
  tr.x = xs;
  tr.h.assign(steps, Vec(hid));
  tr.c.assign(steps, Vec(hid));
  tr.gate_i = tr.gate_f = tr.gate_g = tr.gate_o = tr.h;
  for (auto& p : tr.pre) p = tr.h;
  Vec h(hid, 0.0), c(hid, 0.0);
  for (size_t s = 0; s < steps; ++s) {
    const size_t t = reverse ? steps - 1 - s : s;
    for (size_t u = 0; u < hid; ++u) {
      for (int g = 0; g < 4; ++g) {
        double z = w.b[g][u];
        for (size_t i = 0; i < xs[t].size(); ++i) z += w.wx[g][i][u] * xs[t][i];
        for (size_t j = 0; j < hid; ++j) z += w.wh[g][j][u] * h[j];
        tr.pre[g][t][u] = z;
      }
    }
    for (size_t u = 0; u < hid; ++u) {
      tr.gate_i[t][u] = sigmoid(tr.pre[0][t][u]);
      tr.gate_f[t][u] = sigmoid(tr.pre[1][t][u]);
      tr.gate_g[t][u] = std::tanh(tr.pre[2][t][u]);
      tr.gate_o[t][u] = sigmoid(tr.pre[3][t][u]);
      c[u] = tr.gate_f[t][u] * c[u] + tr.gate_i[t][u] * tr.gate_g[t][u];
      h[u] = tr.gate_o[t][u] * std::tanh(c[u]);
    }
    tr.c[t] = c;
    tr.h[t] = h;
  }
  return tr;
}

enum class Split { kTakeAll, kHalf, kProp };

double gate_fraction(Split split, double gate, double signal) {
  if (split == Split::kTakeAll) return 0.0;
  if (split == Split::kHalf) return 0.5;
  return std::abs(gate) / (std::abs(gate) + std::abs(signal));
}

// Backwards through one cell: r_ext[t] is relevance arriving at h_t from above. Returns the
// relevance of the inputs x_t; initial receives (R_h₋₁, R_c₋₁).
std::vector<Vec> explain_cell(const CellWeights& w, const CellTrace& tr, bool reverse, const std::vector<Vec>& r_ext,
                              Split split, double eps, double delta, std::pair<Vec, Vec>& initial) {
  const size_t steps = tr.x.size(), hid = tr.h[0].size(), in = tr.x[0].size();
  // Index t + 1 of these is step t; index 0 is the initial state.
  std::vector<Vec> rh(steps + 1, Vec(hid, 0.0)), rc(steps + 1, Vec(hid, 0.0));
  std::vector<Vec> rx(steps, Vec(in, 0.0));
  const Vec zeros(hid, 0.0);
  const Mat eye = identity(hid);
  for (size_t back = 0; back < steps; ++back) {
    const size_t t = reverse ? back : steps - 1 - back;
    // The slot of the step processed before t (0 = the initial state).
    const size_t prev_slot = reverse ? (t + 1 < steps ? t + 2 : 0) : t;
    const Vec& h_prev = prev_slot == 0 ? zeros : tr.h[prev_slot - 1];
    const Vec& c_prev = prev_slot == 0 ? zeros : tr.c[prev_slot - 1];
    Vec& rh_t = rh[t + 1];
    Vec& rc_t = rc[t + 1];
    for (size_t u = 0; u < hid; ++u) rh_t[u] += r_ext[t][u];
    // h_t = o ⊙ tanh(c_t)
    Vec r_o(hid);
    for (size_t u = 0; u < hid; ++u) {
      const double a = gate_fraction(split, tr.gate_o[t][u], std::tanh(tr.c[t][u]));
      r_o[u] = a * rh_t[u];
      rc_t[u] += (1 - a) * rh_t[u];
    }
    // c_t = f ⊙ c_prev + i ⊙ g: identity weights, b = 0, N = 2H.
    Vec fc(hid), ig(hid);
    for (size_t u = 0; u < hid; ++u) {
      fc[u] = tr.gate_f[t][u] * c_prev[u];
      ig[u] = tr.gate_i[t][u] * tr.gate_g[t][u];
    }
    const Vec share_fc = lrp_linear(fc, eye, zeros, tr.c[t], rc_t, 2.0 * hid, eps, delta);
    const Vec share_ig = lrp_linear(ig, eye, zeros, tr.c[t], rc_t, 2.0 * hid, eps, delta);
    std::array<Vec, 4> r_gate{Vec(hid), Vec(hid), Vec(hid), r_o};
    for (size_t u = 0; u < hid; ++u) {
      const double af = gate_fraction(split, tr.gate_f[t][u], c_prev[u]);
      const double ai = gate_fraction(split, tr.gate_i[t][u], tr.gate_g[t][u]);
      rc[prev_slot][u] += (1 - af) * share_fc[u];
      r_gate[1][u] = af * share_fc[u];
      r_gate[0][u] = ai * share_ig[u];
      r_gate[2][u] = (1 - ai) * share_ig[u];
    }
    // Each gate's pre-activation: the ε-rule onto x_t and h_prev, N = in + H.
    for (int g = 0; g < 4; ++g) {
      if (split == Split::kTakeAll && g != 2) continue;
      const double n_units = static_cast<double>(in + hid);
      const Vec to_x = lrp_linear(tr.x[t], w.wx[g], w.b[g], tr.pre[g][t], r_gate[g], n_units, eps, delta);
      const Vec to_h = lrp_linear(h_prev, w.wh[g], w.b[g], tr.pre[g][t], r_gate[g], n_units, eps, delta);
      for (size_t i = 0; i < in; ++i) rx[t][i] += to_x[i];
      for (size_t j = 0; j < hid; ++j) rh[prev_slot][j] += to_h[j];
    }
  }
  initial = {rh[0], rc[0]};
  return rx;
}

struct OracleResult {
  Vec relevance;  // [T · D]
  Vec initial;    // per cell (k, d): R_h₋₁ [H] then R_c₋₁ [H]
  double logit = 0;
};

// The whole lstm → dense network for one sample x [T · D] and target class.
OracleResult oracle(const Lstm& lstm, const lrp::Layer& dense, const Matrix& x_row, Index target, Split split, double eps,
                    double delta) {
  const size_t steps = static_cast<size_t>(lstm.input_shape()[0]), hid = static_cast<size_t>(lstm.hidden_size());
  const size_t dirs = static_cast<size_t>(lstm.directions()), layers = static_cast<size_t>(lstm.num_layers());
  const size_t d_in = static_cast<size_t>(lstm.input_size());
  std::vector<std::vector<Vec>> inputs(layers);  // per layer: x_t
  inputs[0].assign(steps, Vec(d_in));
  for (size_t t = 0; t < steps; ++t)
    for (size_t i = 0; i < d_in; ++i) inputs[0][t][i] = x_row(0, static_cast<Index>(t * d_in + i));
  std::vector<std::vector<CellTrace>> traces(layers);
  std::vector<std::vector<CellWeights>> weights(layers);
  for (size_t k = 0; k < layers; ++k) {
    for (size_t d = 0; d < dirs; ++d) {
      weights[k].push_back(weights_of(lstm, static_cast<Index>(k), static_cast<Index>(d)));
      traces[k].push_back(run_cell(weights[k][d], inputs[k], d == 1, hid));
    }
    if (k + 1 < layers) {
      inputs[k + 1].assign(steps, Vec(dirs * hid));
      for (size_t t = 0; t < steps; ++t)
        for (size_t d = 0; d < dirs; ++d)
          for (size_t u = 0; u < hid; ++u) inputs[k + 1][t][d * hid + u] = traces[k][d].h[t][u];
    }
  }
  // The final hidden state: the forward direction after x_{T−1}, the reverse one after x_0.
  Vec h_final(dirs * hid);
  for (size_t d = 0; d < dirs; ++d)
    for (size_t u = 0; u < hid; ++u) h_final[d * hid + u] = traces[layers - 1][d].h[d == 0 ? steps - 1 : 0][u];
  const Params& p = dense.params();
  const size_t classes = static_cast<size_t>(p.weight.rows());
  Mat wd(dirs * hid, Vec(classes));
  Vec bd(classes, 0.0), logits(classes, 0.0);
  for (size_t k = 0; k < classes; ++k) {
    if (p.has_bias()) bd[k] = p.bias[static_cast<Index>(k)];
    logits[k] = bd[k];
    for (size_t i = 0; i < dirs * hid; ++i) {
      wd[i][k] = p.weight(static_cast<Index>(k), static_cast<Index>(i));
      logits[k] += wd[i][k] * h_final[i];
    }
  }
  Vec seed(classes, 0.0);
  seed[static_cast<size_t>(target)] = logits[static_cast<size_t>(target)];
  const Vec r_final = lrp_linear(h_final, wd, bd, logits, seed, static_cast<double>(dirs * hid), eps, delta);

  OracleResult out;
  out.logit = logits[static_cast<size_t>(target)];
  out.initial.assign(layers * dirs * 2 * hid, 0.0);
  std::vector<Vec> r_above;  // relevance of layer k's output sequence h_t, both directions [T][dirs · H]
  for (size_t kk = layers; kk-- > 0;) {
    std::vector<Vec> r_in(steps, Vec(kk == 0 ? d_in : dirs * hid, 0.0));
    for (size_t d = 0; d < dirs; ++d) {
      std::vector<Vec> r_ext(steps, Vec(hid, 0.0));
      if (kk == layers - 1) {
        for (size_t u = 0; u < hid; ++u) r_ext[d == 0 ? steps - 1 : 0][u] = r_final[d * hid + u];
      } else {
        for (size_t t = 0; t < steps; ++t)
          for (size_t u = 0; u < hid; ++u) r_ext[t][u] = r_above[t][d * hid + u];
      }
      std::pair<Vec, Vec> init;
      const std::vector<Vec> rx = explain_cell(weights[kk][d], traces[kk][d], d == 1, r_ext, split, eps, delta, init);
      for (size_t t = 0; t < steps; ++t)
        for (size_t i = 0; i < rx[t].size(); ++i) r_in[t][i] += rx[t][i];
      const size_t base = (kk * dirs + d) * 2 * hid;
      for (size_t u = 0; u < hid; ++u) {
        out.initial[base + u] = init.first[u];
        out.initial[base + hid + u] = init.second[u];
      }
    }
    r_above = r_in;
  }
  out.relevance.assign(steps * d_in, 0.0);
  for (size_t t = 0; t < steps; ++t)
    for (size_t i = 0; i < d_in; ++i) out.relevance[t * d_in + i] = r_above[t][i];
  return out;
}

struct Case {
  Index d, hidden, layers;
  bool bidirectional;
  Index steps;
};

lrp::Network lstm_network(const Case& c, std::uint64_t seed, Index classes = 3) {
  lrp::Network net({c.steps, c.d});
  auto& lstm = net.add_as(std::make_unique<Lstm>(c.d, c.hidden, c.layers, c.bidirectional), "rnn");
  Params p = lstm.params();
  p.weight = random_matrix(1, p.weight.cols(), seed, -0.8, 0.8);
  p.bias = random_vector(p.bias.size(), seed + 1, -0.5, 0.5);
  lstm.set_params(p);
  auto& fc = net.add(std::make_unique<lrp::Dense>(c.hidden * (c.bidirectional ? 2 : 1), classes), "fc");
  Params q = fc.params();
  q.weight = random_matrix(q.weight.rows(), q.weight.cols(), seed + 2, -1.0, 1.0);
  q.bias = random_vector(q.bias.size(), seed + 3, -0.5, 0.5);
  fc.set_params(q);
  return net;
}

lrp::Explainer explainer_for(const lrp::Network& net, const std::string& rule, double eps, double delta) {
  lrp::ParamMap params;
  params.set("epsilon", eps);
  params.set("bias_factor", delta);
  std::vector<lrp::RulePtr> rules;
  for (Index l = 0; l < net.size(); ++l) rules.push_back(builtins().make_rule(rule, params));
  return lrp::Explainer(net, std::move(rules));
}

Split split_of(const std::string& rule) {
  return rule == "lstm_gate" ? Split::kTakeAll : rule == "lstm_half" ? Split::kHalf : Split::kProp;
}

}  // namespace

TEST_CASE("LSTM rules equal a literal implementation of docs/rules.md, LSTM rules for every target class", "[lstm][rules]") {
  const std::vector<Case> cases = {
      {3, 4, 1, false, 1}, {3, 4, 1, false, 5}, {2, 3, 1, true, 1}, {2, 3, 1, true, 4}, {3, 4, 2, false, 3}, {2, 3, 2, true, 3},
  };
  const double tolerance = tol(2e-4, 1e-10);
  std::uint64_t seed = 100;
  for (const std::string rule : {"lstm_gate", "lstm_half", "lstm_prop"}) {
    for (const Case& c : cases) {
      seed += 10;
      const lrp::Network net = lstm_network(c, seed);
      const lrp::Tensor x({c.steps, c.d}, random_matrix(3, c.steps * c.d, seed + 5, -1.5, 1.5));
      const lrp::ForwardPass pass = net.forward(x);
      const auto& lstm = dynamic_cast<const Lstm&>(net.layer(0));
      for (const double eps : {0.001, 0.1}) {
        for (const double delta : {0.0, 1.0}) {
          const lrp::Explainer explainer = explainer_for(net, rule, eps, delta);
          for (Index target = 0; target < 3; ++target) {
            const lrp::Explanation e = explainer.explain(pass, std::vector<Index>(3, target));
            for (Index s = 0; s < x.batch(); ++s) {
              const OracleResult o = oracle(lstm, net.layer(1), x.data.middleRows(s, 1), target, split_of(rule), eps, delta);
              Eigen::MatrixXd expected(1, static_cast<Index>(o.relevance.size()));
              for (size_t i = 0; i < o.relevance.size(); ++i) expected(0, static_cast<Index>(i)) = o.relevance[i];
              Eigen::MatrixXd expected_initial(1, static_cast<Index>(o.initial.size()));
              for (size_t i = 0; i < o.initial.size(); ++i) expected_initial(0, static_cast<Index>(i)) = o.initial[i];
              INFO(rule << " D=" << c.d << " H=" << c.hidden << " layers=" << c.layers << " bi=" << c.bidirectional
                        << " T=" << c.steps << " eps=" << eps << " delta=" << delta << " class " << target << " sample " << s);
              CHECK(relative_error(Matrix(e.relevance.data.middleRows(s, 1)), expected) <= tolerance);
              CHECK(relative_error(Matrix(e.state_relevance[0].middleRows(s, 1)), expected_initial) <= tolerance);
              CHECK(e.state_relevance[1].cols() == 0);
              CHECK(std::abs(double(e.seed[s]) - o.logit) <= tolerance * std::max(1.0, std::abs(o.logit)));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("LSTM rules with bias_factor 1 conserve: sum of R_x plus the initial state equals the logit", "[lstm][rules]") {
  const Case c{4, 6, 2, true, 7};
  const lrp::Network net = lstm_network(c, 7);
  const lrp::Tensor x({c.steps, c.d}, random_matrix(8, c.steps * c.d, 8, -2.0, 2.0));
  const lrp::ForwardPass pass = net.forward(x);
  for (const std::string rule : {"lstm_gate", "lstm_half", "lstm_prop"}) {
    for (const double eps : {0.001, 0.1, 1.0}) {
      const lrp::Explanation e = explainer_for(net, rule, eps, 1.0).explain(pass, std::vector<Index>(8, 2));
      const Vector total = e.relevance.data.rowwise().sum() + e.state_relevance_total();
      INFO(rule << " eps " << eps);
      CHECK(relative_error(Matrix(total), Matrix(e.seed)) <= tol(1e-4, 1e-10));
      // The initial state gets a share only through δ; it is not zero here.
      CHECK(e.state_relevance_total().cwiseAbs().maxCoeff() > 0);
    }
    // With δ = 0 the initial state gets nothing, and bias and stabilizer shares are absorbed.
    const lrp::Explanation e0 = explainer_for(net, rule, 0.1, 0.0).explain(pass, std::vector<Index>(8, 2));
    CHECK(e0.state_relevance_total().cwiseAbs().maxCoeff() == 0);
    const Vector total0 = e0.relevance.data.rowwise().sum();
    CHECK((total0 - e0.seed).cwiseAbs().maxCoeff() > 1e-3);
  }
}

TEST_CASE("lstm_gate on a one-unit, one-step LSTM gives the relevance worked out by hand", "[lstm][rules]") {
  // The gate rows have zero weights and fixed biases (i = σ(2), o = σ(1)); only the g row reads x.
  // T = 1: c = i·g, h = o·tanh(c); all of R_h reaches c, all of the i⊙g share reaches g, then x.
  lrp::Network net({1, 2});
  auto& lstm = net.add_as(std::make_unique<Lstm>(2, 1), "rnn");
  Params p = lstm.params();
  p.weight.setZero();
  p.bias.setZero();
  lrp::LstmCellMutableView v = lstm.cell(p, 0, 0);
  v.w_ih(2, 0) = Scalar(0.7);  // g row
  v.w_ih(2, 1) = Scalar(-0.4);
  v.b_ih[2] = Scalar(0.1);
  v.b_ih[0] = Scalar(2);  // i
  v.b_ih[3] = Scalar(1);  // o
  lstm.set_params(p);
  auto& fc = net.add(std::make_unique<lrp::Dense>(1, 1), "fc");
  Params q = fc.params();
  q.weight(0, 0) = Scalar(1.5);
  q.bias[0] = Scalar(0.2);
  fc.set_params(q);
  Matrix xm(1, 2);
  xm << Scalar(0.9), Scalar(0.3);
  const lrp::ForwardPass pass = net.forward(lrp::Tensor({1, 2}, xm));
  const double eps = 0.01;
  const lrp::Explanation e = explainer_for(net, "lstm_gate", eps, 0.0).explain(pass, {0});
  // By hand (δ = 0): R_h = h·1.5·f / (f + ε) with f the logit; R_c = R_h; R_g = i·g·R_c/(c + ε) (f·c₋₁ = 0);
  // R_x_j = x_j·w_j·R_g/(z_g + ε).
  const double zg = 0.7 * 0.9 - 0.4 * 0.3 + 0.1, g = std::tanh(zg), i = 1 / (1 + std::exp(-2.0)), o = 1 / (1 + std::exp(-1.0));
  const double cc = i * g, h = o * std::tanh(cc), logit = 1.5 * h + 0.2;
  const double rh = 1.5 * h * logit / (logit + eps), rg = cc * rh / (cc + eps);
  const double rx0 = 0.9 * 0.7 * rg / (zg + eps), rx1 = 0.3 * -0.4 * rg / (zg + eps);
  CHECK(std::abs(double(e.relevance.data(0, 0)) - rx0) <= tol(1e-6, 1e-13));
  CHECK(std::abs(double(e.relevance.data(0, 1)) - rx1) <= tol(1e-6, 1e-13));
}

TEST_CASE("LSTM rules: parameters are validated and the rule runs only on lstm and linear layers", "[lstm][rules]") {
  lrp::ParamMap bad;
  bad.set("bias_factor", 1.5);
  CHECK_THROWS_WITH(builtins().make_rule("lstm_gate", bad), Catch::Contains("bias_factor must be in [0, 1]"));
  lrp::ParamMap neg;
  neg.set("epsilon", -1.0);
  CHECK_THROWS_WITH(builtins().make_rule("lstm_half", neg), Catch::Contains("epsilon"));
  const lrp::RulePtr rule = builtins().make_rule("lstm_prop");
  CHECK(rule->label() == "lstm_prop(bias_factor=0, epsilon=0.001)");
  lrp::Network net({4});
  net.add(std::make_unique<lrp::ElementwiseActivation>(lrp::Activation::kReLU), "act");
  CHECK_THROWS_WITH(lrp::Explainer(net, [] {
                      std::vector<lrp::RulePtr> r;
                      r.push_back(builtins().make_rule("lstm_gate"));
                      return r;
                    }()),
                    Catch::Contains("applies to lstm layers and to linear layers"));
}

TEST_CASE("LSTM rules ignore padding: a padded sample with its length explains like the unpadded sequence",
          "[lstm][rules]") {
  const Case c{3, 4, 2, true, 6};
  const std::vector<Index> lengths = {1, 4, 6, 3};
  const Index n = static_cast<Index>(lengths.size());
  const lrp::Network net = lstm_network(c, 40);
  lrp::Tensor x({c.steps, c.d}, random_matrix(n, c.steps * c.d, 41, -1.5, 1.5));  // padding: random, not zero
  x.lengths = lengths;
  const lrp::ForwardPass pass = net.forward(x, 2);
  for (const std::string rule : {"lstm_gate", "lstm_half", "lstm_prop"}) {
    const lrp::Explanation e = explainer_for(net, rule, 0.01, 1.0).explain(pass, std::vector<Index>(n, 1), {.threads = 2});
    for (Index s = 0; s < n; ++s) {
      const Index len = lengths[static_cast<size_t>(s)];
      Case short_case = c;
      short_case.steps = len;
      const lrp::Network short_net = lstm_network(short_case, 40);  // the same parameters for T = L
      const lrp::Tensor xs({len, c.d}, Matrix(x.data.block(s, 0, 1, len * c.d)));
      const lrp::Explanation es = explainer_for(short_net, rule, 0.01, 1.0).explain(short_net.forward(xs), {1});
      INFO(rule << " sample " << s << " length " << len);
      CHECK(relative_error(Matrix(e.relevance.data.block(s, 0, 1, len * c.d)), es.relevance.data) <= tol(1e-5, 1e-12));
      if (len < c.steps) CHECK(e.relevance.data.block(s, len * c.d, 1, (c.steps - len) * c.d).cwiseAbs().maxCoeff() == 0);
      CHECK(relative_error(Matrix(e.state_relevance[0].middleRows(s, 1)), es.state_relevance[0]) <= tol(1e-5, 1e-12));
      CHECK(std::abs(double(e.seed[s] - es.seed[0])) <= tol(1e-5, 1e-12));
    }
  }
}
