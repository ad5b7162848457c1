#include "lrp/propagation/explain.hpp"
#include "lrp/core/slots.hpp"

#include "lrp/core/error.hpp"

#include <algorithm>
#include <numeric>

namespace lrp {

std::vector<Index> select_targets(const Matrix& logits, const TargetSpec& spec, const std::vector<Index>* labels) {
  const Index n = logits.rows(), classes = logits.cols();
  std::vector<Index> targets(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i) {
    Index c = 0;
    switch (spec.kind) {
      case TargetSpec::Kind::kPredicted: logits.row(i).maxCoeff(&c); break;
      case TargetSpec::Kind::kClass: c = spec.class_index; break;
      case TargetSpec::Kind::kLabel:
        LRP_CHECK(labels != nullptr && static_cast<Index>(labels->size()) == n,
                  "targets: 'label' needs one label per sample (", n, " samples, ",
                  labels ? static_cast<Index>(labels->size()) : 0, " labels)");
        c = (*labels)[static_cast<size_t>(i)];
        break;
    }
    LRP_CHECK(c >= 0 && c < classes, "targets: class ", c, " of sample ", i, " is out of range [0, ", classes, ")");
    targets[static_cast<size_t>(i)] = c;
  }
  return targets;
}

Index TargetSetSpec::count(Index classes_of_model) const {
  switch (kind) {
    case Kind::kOne: return 1;
    case Kind::kClasses: return static_cast<Index>(classes.size());
    case Kind::kTopK: return k;
    case Kind::kAll: return classes_of_model;
  }
  return 1;
}

std::vector<std::vector<Index>> select_target_sets(const Matrix& logits, const TargetSetSpec& spec,
                                                   const std::vector<Index>* labels) {
  const Index n = logits.rows(), classes = logits.cols();
  std::vector<std::vector<Index>> out;
  switch (spec.kind) {
    case TargetSetSpec::Kind::kOne:
      out.push_back(select_targets(logits, spec.one, labels));
      return out;
    case TargetSetSpec::Kind::kClasses:
      LRP_CHECK(!spec.classes.empty(), "target: the list of classes is empty");
      for (const Index c : spec.classes) out.push_back(select_targets(logits, TargetSpec::fixed(c), labels));
      return out;
    case TargetSetSpec::Kind::kTopK: {
      LRP_CHECK(spec.k >= 1 && spec.k <= classes, "top_k = ", spec.k, " must be between 1 and the model's ", classes,
                " classes");
      out.assign(static_cast<std::size_t>(spec.k), std::vector<Index>(static_cast<std::size_t>(n)));
      std::vector<Index> order(static_cast<std::size_t>(classes));
      for (Index i = 0; i < n; ++i) {
        std::iota(order.begin(), order.end(), Index{0});
        // highest logit first; equal logits: the lower class first (a stable order)
        std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return logits(i, a) > logits(i, b); });
        for (Index j = 0; j < spec.k; ++j)
          out[static_cast<std::size_t>(j)][static_cast<std::size_t>(i)] = order[static_cast<std::size_t>(j)];
      }
      return out;
    }
    case TargetSetSpec::Kind::kAll:
      for (Index c = 0; c < classes; ++c) out.emplace_back(static_cast<std::size_t>(n), c);
      return out;
  }
  return out;
}

std::string TargetSetSpec::describe() const {
  switch (kind) {
    case Kind::kOne:
      return one.kind == TargetSpec::Kind::kPredicted ? "predicted"
             : one.kind == TargetSpec::Kind::kLabel   ? "label"
                                                      : std::to_string(one.class_index);
    case Kind::kClasses: {
      std::string text = "[";
      for (std::size_t i = 0; i < classes.size(); ++i) text += (i ? ", " : "") + std::to_string(classes[i]);
      return text + "]";
    }
    case Kind::kTopK: return "{top_k: " + std::to_string(k) + "}";
    case Kind::kAll: return "all";
  }
  return "predicted";
}

Explainer::Explainer(const Network& network, std::vector<RulePtr> rules) : network_(&network), rules_(std::move(rules)) {
  LRP_CHECK(static_cast<Index>(rules_.size()) == network.size(), "explainer: ", rules_.size(),
            " rules given for a network of ", network.size(), " layers");
  for (Index l = 0; l < network.size(); ++l) {
    const Layer& layer = network.layer(l);
    const RulePtr& rule = rules_[static_cast<size_t>(l)];
    LRP_CHECK(rule != nullptr, "explainer: layer '", layer.name(), "' has no rule");
    const std::string why = rule->incompatibility(layer);
    LRP_CHECK(why.empty(), "explainer: ", why);
    states_.push_back(rule->bind(layer));
    labels_.push_back(rule->label());
    ledger_shares_.push_back(rule->ledger_share(layer));
  }
}

Explainer Explainer::from_composite(const Network& network, const Registry& registry, const Composite& composite) {
  std::vector<RulePtr> rules;
  std::vector<std::string> origins;
  for (const RuleAssignment& a : composite.assign(network, registry)) {
    rules.push_back(registry.make_rule(a.choice.rule, a.choice.params));
    origins.push_back(registry.rule_info(a.choice.rule).origin);
  }
  Explainer explainer(network, std::move(rules));
  explainer.origins_ = std::move(origins);
  return explainer;
}

std::string Explainer::rule_at(Index l) const {
  const std::size_t li = static_cast<std::size_t>(l);
  const std::string origin = li < origins_.size() && origins_[li] != "built-in" ? " (from " + origins_[li] + ")" : "";
  return detail::concat("the rule '", rules_[li]->name(), "'", origin, " of layer ", l, " '", network_->layer(l).name(),
                        "'");
}

Explainer Explainer::gradient(const Network& network, const Registry& registry) {
  std::vector<RulePtr> rules;
  for (Index l = 0; l < network.size(); ++l) rules.push_back(registry.make_rule("gradient"));
  return Explainer(network, std::move(rules));
}

Explanation Explainer::explain(const ForwardPass& pass, const std::vector<Index>& targets,
                               const ExplainOptions& options) const {
  const Network& net = *network_;
  const Index layers = net.size(), n = pass.batch();
  net.check_pass(pass, "explain");
  LRP_CHECK(static_cast<Index>(targets.size()) == n, "explain: ", targets.size(), " targets for ", n, " samples");
  const Matrix& logits = pass.logits();
  net.check_lengths(pass.lengths, n, "explain");

  Explanation e;
  e.targets = targets;
  e.layer_rules = labels_;
  e.layer_rule_choices.reserve(rules_.size());
  for (const RulePtr& rule : rules_) e.layer_rule_choices.push_back({rule->name(), rule->params()});
  e.layer_ledger_shares = ledger_shares_;
  e.seed.resize(n);
  Matrix seed = Matrix::Zero(n, logits.cols());
  for (Index i = 0; i < n; ++i) {
    const Index c = targets[static_cast<size_t>(i)];
    LRP_CHECK(c >= 0 && c < logits.cols(), "explain: target ", c, " of sample ", i, " is out of range [0, ",
              logits.cols(), ")");
    e.seed[i] = options.seed == SeedKind::kLogit ? logits(i, c) : Scalar(1);
    seed(i, c) = e.seed[i];
  }
  e.relevance = Tensor(n, net.input_shape());
  e.relevance.lengths = pass.lengths;
  if (options.keep_layer_relevance) {
    e.layer_relevance.resize(static_cast<size_t>(layers) + 1);
    for (Index v = 0; v < layers; ++v) e.layer_relevance[static_cast<size_t>(v)].resize(n, pass.activations[static_cast<size_t>(v)].cols());
    e.layer_relevance.back() = seed;
  }

  e.state_relevance.resize(static_cast<size_t>(layers));
  for (Index l = 0; l < layers; ++l) {
    const size_t li = static_cast<size_t>(l);
    e.state_relevance[li] = Matrix::Zero(n, rules_[li]->state_relevance_size(net.layer(l)));
  }

  const int parts = static_cast<int>(std::max<Index>(1, std::min<Index>(options.threads, n)));
  // Each thread walks its rows in cache-sized blocks through all layers (see cache_block_rows).
  const Index block = net.cache_block_rows();
  parallel_chunks(n, parts, [&](int, Index chunk_begin, Index chunk_end) {
    Workspace& ws = thread_workspace();
    for (Index begin = chunk_begin; begin < chunk_end; begin += block) {
      const Index rows = std::min(block, chunk_end - begin);
      // Sequence layers and their rules see the lengths of exactly these rows.
      const LengthsScope lengths(ws, row_lengths(pass.lengths, begin, rows));
      if (net.is_chain())
        walk_chain(pass, seed, begin, rows, options, e, ws);
      else
        walk_graph(pass, seed, begin, rows, options, e, ws);
    }
  });
  return e;
}

void Explainer::propagate_layer(Index l, const LayerContext& ctx, const ConstMatrixRef& relevance_out,
                                MatrixRef relevance_in, Workspace& ws) const {
  const size_t li = static_cast<size_t>(l);
  // A rule's code may come from a plugin: whatever it throws is reported naming it.
  try {
    rules_[li]->propagate(ctx, states_[li].get(), relevance_out, relevance_in, ws);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& x) {
    LRP_FAIL("explain: ", rule_at(l), " threw: ", x.what());
  } catch (...) {
    LRP_FAIL("explain: ", rule_at(l), " threw an exception that is not a std::exception");
  }
  LRP_CHECK(all_finite(relevance_in), "explain: relevance became NaN or Inf at layer ", l, " '", ctx.layer.name(), "' (",
            labels_[li], "); check the input and the weights, or use a larger stabilizer");
}

namespace {

// Rows [begin, begin + rows) of a row-major N × cols matrix.
MatrixMap rows_of(Matrix& m, Index begin, Index rows) { return MatrixMap(m.data() + begin * m.cols(), rows, m.cols()); }

// Layer l's context for rows [begin, begin + rows); `state_rows` are those rows of its
// state relevance.
LayerContext context(const Network& net, const ForwardPass& pass, Index l, Index begin, Index rows,
                     MatrixMap& state_rows) {
  return LayerContext{net.layer(l), pass.layer_input(l).middleRows(begin, rows),
                      pass.activations[static_cast<size_t>(l) + 1].middleRows(begin, rows),
                      state_rows.cols() > 0 ? &state_rows : nullptr};
}

}  // namespace

void Explainer::walk_chain(const ForwardPass& pass, const Matrix& seed, Index begin, Index rows,
                           const ExplainOptions& options, Explanation& e, Workspace& ws) const {
  constexpr int kSlotPing = 0, kSlotPong = 1;  // of slots::kExplainer
  const Network& net = *network_;
  MatrixMap seed_rows = ws.get(slots::kExplainer, kSlotPing, rows, seed.cols());
  seed_rows = seed.middleRows(begin, rows);
  const Scalar* current = seed_rows.data();
  Index current_cols = seed.cols();
  int slot = kSlotPong;
  for (Index l = net.size() - 1; l >= 0; --l) {
    const size_t li = static_cast<size_t>(l);
    MatrixMap state_rows = rows_of(e.state_relevance[li], begin, rows);
    const LayerContext ctx = context(net, pass, l, begin, rows, state_rows);
    if (rules_[li]->passes_through() && !options.keep_layer_relevance) {
      current_cols = ctx.input.cols();  // same values, the layer's input shape
      continue;
    }
    MatrixMap next = options.keep_layer_relevance ? rows_of(e.layer_relevance[li], begin, rows)
                                                  : ws.get(slots::kExplainer, slot, rows, ctx.input.cols());
    propagate_layer(l, ctx, ConstMatrixMap(current, rows, current_cols), next, ws);
    current = next.data();
    current_cols = next.cols();
    slot = slot == kSlotPong ? kSlotPing : kSlotPong;
  }
  e.relevance.data.middleRows(begin, rows) = ConstMatrixMap(current, rows, current_cols);
}

// Values are walked from the output back: a value's relevance is complete once all its consumers
// (later layers) have sent theirs, which is when its producer (layer v − 1) runs. Without
// keep_layer_relevance a value's relevance lives in a workspace slot from its first contribution
// until its producer has read it; a layer that reads one value nobody else reads writes straight
// into it.
void Explainer::walk_graph(const ForwardPass& pass, const Matrix& seed, Index begin, Index rows,
                           const ExplainOptions& options, Explanation& e, Workspace& ws) const {
  const Network& net = *network_;
  const Index layers = net.size();
  const bool keep = options.keep_layer_relevance;
  constexpr int kSlotStacked = 0;
  // Per value: its relevance (null: nothing arrived yet) and its slot. Kept per thread, so that a
  // block allocates nothing once the first has run.
  thread_local std::vector<Scalar*> rel;
  thread_local std::vector<int> slot_of, free_slots;
  rel.assign(static_cast<size_t>(layers) + 1, nullptr);
  slot_of.assign(static_cast<size_t>(layers) + 1, -1);
  free_slots.clear();
  for (int s = slots::kExplainerGraph.count - 1; s > kSlotStacked; --s) free_slots.push_back(s);
  auto cols_of = [&](Index v) { return pass.activations[static_cast<size_t>(v)].cols(); };
  auto take = [&](Index v) -> Scalar* {  // value v's buffer, contents unspecified
    const size_t vi = static_cast<size_t>(v);
    if (keep) return e.layer_relevance[vi].data() + begin * cols_of(v);
    LRP_CHECK(!free_slots.empty(), "explain: the graph keeps the relevance of more than ", slots::kExplainerGraph.count - 1,
              " values pending at once (layer ", v - 1, " '", net.layer(v - 1).name(), "')");
    slot_of[vi] = free_slots.back();
    free_slots.pop_back();
    return ws.get(slots::kExplainerGraph, slot_of[vi], rows, cols_of(v)).data();
  };
  auto release = [&](Index v) {
    const size_t vi = static_cast<size_t>(v);
    if (slot_of[vi] >= 0) free_slots.push_back(slot_of[vi]);
    slot_of[vi] = -1;
  };
  // Adds `part` to value v's relevance (the first contribution is written).
  auto send = [&](Index v, const auto& part) {
    const size_t vi = static_cast<size_t>(v);
    if (rel[vi] == nullptr) {
      rel[vi] = take(v);
      MatrixMap(rel[vi], rows, cols_of(v)) = part;
    } else {
      MatrixMap(rel[vi], rows, cols_of(v)) += part;
    }
  };

  send(layers, seed.middleRows(begin, rows));
  for (Index l = layers - 1; l >= 0; --l) {
    const size_t li = static_cast<size_t>(l);
    const Index out = l + 1;
    if (rel[static_cast<size_t>(out)] == nullptr) {  // read by no layer (a network built by hand): no relevance
      rel[static_cast<size_t>(out)] = take(out);
      MatrixMap(rel[static_cast<size_t>(out)], rows, cols_of(out)).setZero();
    }
    const ConstMatrixMap relevance_out(rel[static_cast<size_t>(out)], rows, cols_of(out));
    MatrixMap state_rows = rows_of(e.state_relevance[li], begin, rows);
    const LayerContext ctx = context(net, pass, l, begin, rows, state_rows);
    const std::vector<Index>& in = net.inputs_of(l);
    if (in.size() == 1 && net.consumers_of(in[0]).size() == 1) {  // this layer alone sends to its input
      const Index v = in[0];
      if (rules_[li]->passes_through() && !keep) {  // the same values: hand the buffer on
        rel[static_cast<size_t>(v)] = rel[static_cast<size_t>(out)];
        slot_of[static_cast<size_t>(v)] = slot_of[static_cast<size_t>(out)];
        slot_of[static_cast<size_t>(out)] = -1;
        continue;
      }
      rel[static_cast<size_t>(v)] = take(v);
      propagate_layer(l, ctx, relevance_out, MatrixMap(rel[static_cast<size_t>(v)], rows, cols_of(v)), ws);
    } else {
      MatrixMap stacked = ws.get(slots::kExplainerGraph, kSlotStacked, rows, ctx.input.cols());
      propagate_layer(l, ctx, relevance_out, stacked, ws);
      Index at = 0;
      for (const Index v : in) {
        send(v, stacked.middleCols(at, cols_of(v)));
        at += cols_of(v);
      }
    }
    release(out);
  }
  if (rel[0] == nullptr)
    e.relevance.data.middleRows(begin, rows).setZero();
  else
    e.relevance.data.middleRows(begin, rows) = ConstMatrixMap(rel[0], rows, cols_of(0));
}

Vector Explanation::state_relevance_total() const {
  Vector total = Vector::Zero(relevance.batch());
  for (const Matrix& s : state_relevance)
    if (s.cols() > 0) total += s.rowwise().sum();
  return total;
}

Explanation explain_gradient(const Network& network, const Registry& registry, const ForwardPass& pass,
                             const std::vector<Index>& targets, bool times_input, int threads) {
  const Explainer explainer = Explainer::gradient(network, registry);
  Explanation e = explainer.explain(pass, targets, {.seed = SeedKind::kOneHot, .threads = threads});
  if (times_input) e.relevance.data.array() *= pass.input().array();
  return e;
}

}  // namespace lrp
