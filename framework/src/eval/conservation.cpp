// The conservation ledger (docs/metrics.md, "Conservation"), its input side shared with the
// experiment runner, and its entry in the metric table.
#include "lrp/eval/metrics.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/log.hpp"
#include "lrp/eval/metric.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/propagation/rule.hpp"

#include <cmath>

namespace lrp {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Σ of the finite values of p[0..count), in double; the others are counted in `nonfinite`.
double finite_sum(const Scalar* p, Index count, Index& nonfinite) {
  double sum = 0.0;
  for (Index i = 0; i < count; ++i) {
    if (std::isfinite(p[i]))
      sum += static_cast<double>(p[i]);
    else
      ++nonfinite;
  }
  return sum;
}

}  // namespace

InputLedger::InputLedger(Index n)
    : input_sum(n), output_seed(n), relative_error(n), nonfinite(static_cast<size_t>(n), 0) {}

void input_ledger(const Matrix& relevance, const Vector& seed, Index begin, InputLedger& ledger) {
  LRP_CHECK(seed.size() == relevance.rows() && begin >= 0 && begin + relevance.rows() <= ledger.input_sum.size(),
            "conservation: ", relevance.rows(), " relevance rows and ", seed.size(), " seeds at sample ", begin,
            " do not fit a ledger of ", ledger.input_sum.size(), " samples");
  for (Index i = 0; i < relevance.rows(); ++i) {
    Index& bad = ledger.nonfinite[static_cast<size_t>(begin + i)];
    bad = 0;
    const double sum = finite_sum(relevance.row(i).data(), relevance.cols(), bad);
    const double s = static_cast<double>(seed[i]);
    ledger.input_sum[begin + i] = sum;
    ledger.output_seed[begin + i] = s;
    ledger.relative_error[begin + i] = s == 0.0 ? kNaN : std::abs(sum - s) / std::abs(s);
  }
}

namespace {

void check_fits(const Network& network, const ForwardPass& pass, const Explanation& e) {
  const Index layers = network.size(), n = pass.batch();
  const auto layer_count = static_cast<size_t>(layers);
  network.check_pass(pass, "conservation");
  LRP_CHECK(!e.layer_relevance.empty(),
            "conservation: the explanation has no per-layer relevance; explain with keep_layer_relevance = true");
  LRP_CHECK(e.layer_relevance.size() == layer_count + 1, "conservation: the explanation has ", e.layer_relevance.size(),
            " relevance maps, expected ", layers + 1, " (one per value: the input, each layer's output)");
  LRP_CHECK(e.relevance.batch() == n && e.seed.size() == n, "conservation: the explanation has ", e.relevance.batch(),
            " samples and ", e.seed.size(), " seeds, the forward pass ", n, " samples");
  LRP_CHECK(e.relevance.features() == numel(network.input_shape()), "conservation: the input relevance has ",
            e.relevance.features(), " features per sample, the network's input ", numel(network.input_shape()));
  for (Index l = 0; l <= layers; ++l) {
    const Matrix& r = e.layer_relevance[static_cast<size_t>(l)];
    const Matrix& a = pass.activations[static_cast<size_t>(l)];
    LRP_CHECK(r.rows() == n && r.cols() == a.cols(), "conservation: relevance map ", l, " is ", r.rows(), " × ", r.cols(),
              ", expected ", n, " × ", a.cols(), l > 0 ? " (the output of layer '" + network.layer(l - 1).name() + "')"
                                                        : std::string(" (the input)"));
  }
}

// The layer's bias image: its output for an all-zero input (b_j per output, also for conv).
Matrix bias_image(const Layer& layer) {
  Workspace ws;
  Matrix bias(1, numel(layer.output_shape()));
  layer.forward(Matrix::Zero(1, numel(layer.input_shape())), layer.params(), bias, ws);
  return bias;
}

// Layer l's bias and stabilizer shares under an ε-type rule (LedgerShare::kEpsilon), sample i.
void epsilon_shares(const Matrix& bias, const Matrix& z, const Matrix& relevance_out, Scalar epsilon, Index l, Index i,
                    ConservationResult& c) {
  double bias_share = 0.0, stabilizer_share = 0.0;
  for (Index j = 0; j < z.cols(); ++j) {
    const Scalar r = relevance_out(i, j), zj = z(i, j);
    if (!std::isfinite(r) || !std::isfinite(zj)) continue;  // counted in nonfinite_layers
    const Scalar d = stabilize(zj, epsilon);  // as the rule computes it
    if (d == Scalar(0)) {
      bias_share += static_cast<double>(r);  // the rule passes nothing: all of R_j is absorbed
      continue;
    }
    const double share = static_cast<double>(r) / static_cast<double>(d);
    bias_share += share * static_cast<double>(bias(0, j));
    stabilizer_share += share * static_cast<double>(zj >= Scalar(0) ? epsilon : -epsilon);
  }
  c.bias_share(i, l) = bias_share;
  c.stabilizer_share(i, l) = stabilizer_share;
}

}  // namespace

ConservationResult conservation(const Network& network, const ForwardPass& pass, const Explanation& e, int threads) {
  check_fits(network, pass, e);
  const Index layers = network.size(), n = pass.batch();
  ConservationResult c;
  InputLedger input(n);
  input_ledger(e.relevance.data, e.seed, 0, input);
  c.input_sum = std::move(input.input_sum);
  c.output_seed = std::move(input.output_seed);
  c.relative_error = std::move(input.relative_error);
  c.nonfinite_input = std::move(input.nonfinite);
  c.state_sum = e.state_relevance_total().cast<double>();
  c.layer_sums.resize(n, layers + 1);
  c.bias_share.setConstant(n, layers, kNaN);
  c.stabilizer_share.setConstant(n, layers, kNaN);
  c.nonfinite_layers.setZero(n, layers + 1);

  // Each layer's shares as its rule reports them (never guessed from the rule's name); an ε-type
  // share needs the layer's bias image.
  c.layer_shares.assign(static_cast<size_t>(layers), LedgerShare::unknown());
  std::vector<Matrix> bias(static_cast<size_t>(layers));
  for (Index l = 0; l < layers; ++l) {
    const auto li = static_cast<size_t>(l);
    if (li < e.layer_ledger_shares.size()) c.layer_shares[li] = e.layer_ledger_shares[li];
    switch (c.layer_shares[li].kind) {
      case LedgerShare::Kind::kUnknown:
      case LedgerShare::Kind::kNone: break;  // NaN; layer_shares says which of the two
      case LedgerShare::Kind::kZero:
        c.bias_share.col(l).setZero();
        c.stabilizer_share.col(l).setZero();
        break;
      case LedgerShare::Kind::kEpsilon: bias[li] = bias_image(network.layer(l)); break;
    }
  }
  // Per sample (each on its own, so the threads' ranges do not change a value): the layer sums,
  // then the ε-type shares.
  parallel_chunks(n, threads, [&](int, Index begin, Index end) {
    for (Index i = begin; i < end; ++i) {
      for (Index l = 0; l <= layers; ++l) {
        const Matrix& r = e.layer_relevance[static_cast<size_t>(l)];
        c.layer_sums(i, l) = finite_sum(r.row(i).data(), r.cols(), c.nonfinite_layers(i, l));
      }
      for (Index l = 0; l < layers; ++l) {
        const auto li = static_cast<size_t>(l);
        if (c.layer_shares[li].kind != LedgerShare::Kind::kEpsilon) continue;
        epsilon_shares(bias[li], pass.activations[li + 1], e.layer_relevance[li + 1], c.layer_shares[li].epsilon, l, i,
                       c);
      }
    }
  });
  for (Index i = 0; i < n; ++i) {
    c.nonfinite_total += c.nonfinite_input[static_cast<size_t>(i)];
    for (Index l = 0; l <= layers; ++l) c.nonfinite_total += c.nonfinite_layers(i, l);
  }
  c.relative_error_summary = summarize(c.relative_error);
  return c;
}

// ---------------------------------------------------------------- the metric table's entry

namespace {

std::vector<double> row_major(const Eigen::MatrixXd& m) {
  std::vector<double> out(static_cast<size_t>(m.size()));
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j) out[static_cast<size_t>(i * m.cols() + j)] = m(i, j);
  return out;
}

// One method's ledger: the input side is the method's record (MethodView::input, computed for
// every method); these are the layer sums and shares of an LRP method, batch by batch.
class ConservationValues final : public MetricValues {
 public:
  ConservationValues(Index n, Index layers, bool ledger, std::vector<LedgerShare> shares)
      : ledger_(ledger), shares_(std::move(shares)) {
    if (!ledger_) return;
    layer_sums_.resize(n, layers + 1);
    bias_share_.resize(n, layers);
    stabilizer_share_.resize(n, layers);
    nonfinite_layers_.resize(n, layers + 1);
  }

  void add(const ConservationResult& c, Index begin, Index rows) {
    layer_sums_.middleRows(begin, rows) = c.layer_sums;
    bias_share_.middleRows(begin, rows) = c.bias_share;
    stabilizer_share_.middleRows(begin, rows) = c.stabilizer_share;
    nonfinite_layers_.middleRows(begin, rows) = c.nonfinite_layers;
  }
  bool ledger() const { return ledger_; }

  void visit(Archive& archive, Index begin, Index count) override {
    if (!ledger_) return;
    archive.rows(layer_sums_, begin, count);
    archive.rows(bias_share_, begin, count);
    archive.rows(stabilizer_share_, begin, count);
    archive.rows(nonfinite_layers_, begin, count);
  }

  void finish(const MethodView& method) override {
    summary_ = summarize(method.input.relative_error);
    if (ledger_) layer_means_ = ledger_means(method.input.output_seed);
    const std::string unknown = unknown_layers(nullptr);
    if (!unknown.empty())
      logger()->warn("conservation '{}': the rules of layers {} do not report their ledger share (Rule::ledger_share); "
                     "their bias and stabilizer shares are unknown", method.name, unknown);
  }
  void check(const MethodView& method) const override { check_mean(summary_, "conservation", method.name); }
  void add_to(MethodSummary& summary) const override {
    summary.relative_error = summary_;
    summary.layer_ledger = layer_means_;
  }

  void write(h5::File& f, const MetricRun& run, const MethodView& method) const override {
    const std::string g = "/metrics/conservation/" + method.name;
    const h5::Dims rows = h5::to_dims(run.row_shape());
    f.write(g + "/input_sum", method.input.input_sum.data(), rows);
    f.write(g + "/output_seed", method.input.output_seed.data(), rows);
    f.write(g + "/relative_error", method.input.relative_error.data(), rows);
    const std::vector<std::int64_t> nonfinite(method.input.nonfinite.begin(), method.input.nonfinite.end());
    f.write(g + "/nonfinite_input", nonfinite, rows);
    if (method.has_state) f.write(g + "/initial_state", method.state_sum.data(), rows);
    if (ledger_) {
      const Index layers = bias_share_.cols();
      const h5::Dims values = h5::to_dims(run.row_shape({layers + 1})), shares = h5::to_dims(run.row_shape({layers}));
      f.write(g + "/layer_sums", row_major(layer_sums_), values);
      f.write(g + "/bias_share", row_major(bias_share_), shares);
      f.write(g + "/stabilizer_share", row_major(stabilizer_share_), shares);
      const std::vector<std::int64_t> bad(nonfinite_layers_.data(), nonfinite_layers_.data() + nonfinite_layers_.size());
      f.write(g + "/nonfinite_layers", bad, values);  // IndexMatrix is row-major
      std::string names;
      for (Index l = 0; l < run.network.size(); ++l) names += run.network.layer(l).name() + "\n";
      f.set_string_attribute(g, "layer_names", names);
      const std::string unknown = unknown_layers(&run.network);
      if (!unknown.empty()) f.set_string_attribute(g, "unknown_share_layers", unknown);
    }
    f.set_int_attribute(g, "layer_ledger", ledger_ ? 1 : 0);
    f.set_double_attribute(g, "mean_relative_error", summary_.mean);
    f.set_double_attribute(g, "se_relative_error", summary_.standard_error);
    f.set_string_attribute(g, "seed_kind", "logit");
  }

 private:
  // The layers whose rule does not report its share: names one a line (with the network), else
  // their indices for the log; empty when there is none.
  std::string unknown_layers(const Network* network) const {
    std::string text;
    for (size_t l = 0; l < shares_.size(); ++l) {
      if (shares_[l].kind != LedgerShare::Kind::kUnknown) continue;
      if (network != nullptr)
        text += network->layer(static_cast<Index>(l)).name() + "\n";
      else
        text += (text.empty() ? "" : ", ") + std::to_string(l);
    }
    return text;
  }

  // Per column of layer_sums_, the mean over samples of Σ R / seed (MethodSummary::layer_ledger).
  std::vector<double> ledger_means(const Eigen::VectorXd& seed) const {
    std::vector<double> means;
    for (Index l = 0; l < layer_sums_.cols(); ++l) {
      double sum = 0.0;
      Index count = 0;
      for (Index i = 0; i < layer_sums_.rows(); ++i) {
        const double ratio = layer_sums_(i, l) / seed[i];
        if (seed[i] == 0.0 || !std::isfinite(ratio)) continue;
        sum += ratio;
        ++count;
      }
      means.push_back(count > 0 ? sum / static_cast<double>(count) : kNaN);
    }
    return means;
  }

  bool ledger_;
  std::vector<LedgerShare> shares_;
  std::vector<double> layer_means_;
  Eigen::MatrixXd layer_sums_, bias_share_, stabilizer_share_;
  IndexMatrix nonfinite_layers_;
  Summary summary_;
};

class ConservationMetric final : public Metric {
 public:
  const char* name() const override { return "conservation"; }
  When when() const override { return When::kWhileExplaining; }
  bool applies(const MetricRun& run) const override { return run.plan.conservation; }
  std::unique_ptr<MetricValues> make_values(const MetricRun& run, const MethodView& method) const override {
    if (!method.evaluated) return nullptr;
    return std::make_unique<ConservationValues>(run.samples(), run.network.size(), method.lrp,
                                                method.lrp ? *method.ledger_shares : std::vector<LedgerShare>{});
  }
  bool needs_layer_relevance() const override { return true; }
  void add_batch(const MetricRun& run, const ExplainedBatch& batch, const MethodView&, MetricValues& values) const override {
    auto& v = static_cast<ConservationValues&>(values);
    if (!v.ledger() || batch.explanation == nullptr) return;  // the input side is in the method's record
    v.add(conservation(run.network, batch.pass, *batch.explanation, run.threads), batch.begin, batch.rows);
  }
};

}  // namespace

const Metric& conservation_metric() {
  static const ConservationMetric metric;
  return metric;
}

}  // namespace lrp
