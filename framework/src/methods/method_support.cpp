// What the built-in explanation methods share: see method_support.hpp.
#include "method_support.hpp"

#include <algorithm>
#include <cmath>

namespace lrp {

// ---------------------------------------------------------------- MethodSetup

Index MethodSetup::channels() const { return network.input_shape()[0]; }

ChannelValues MethodSetup::network_units(const ParamMap& params, const std::string& name) const {
  const ParamValue& raw = params.get(name, what);
  const Index c = channels();
  LRP_CHECK(raw.size() == 1 || static_cast<Index>(raw.size()) == c, what, ": '", name,
            "' needs 1 value or one per input channel (", c, "), got ", raw.size());
  return raw_to_network_units(raw, normalization, c);
}

ChannelValues raw_to_network_units(const ParamValue& raw, const InputNormalization& normalization, Index channels) {
  const bool single = raw.size() == 1 && normalization.mean.size() == 1 && normalization.std.size() == 1;
  ChannelValues out;
  for (Index k = 0; k < (single ? 1 : channels); ++k) {
    const double value = raw[raw.size() == 1 ? 0 : static_cast<std::size_t>(k)];
    out.push_back(to_network_units(value, k, normalization));
    LRP_CHECK(std::isfinite(static_cast<Scalar>(out.back())), "the raw value ", value, " is ", out.back(),
              " in network units (after the model's input normalization), beyond the range of ", scalar_name());
  }
  return out;
}

ChannelValues channel_values_in_network_units(double raw, const InputNormalization& normalization, Index channels) {
  normalization.validate(channels, "channel_values_in_network_units");
  const Index count = normalization.mean.size() == 1 && normalization.std.size() == 1 ? 1 : channels;
  ChannelValues out(static_cast<size_t>(count));
  for (Index c = 0; c < count; ++c) out[static_cast<size_t>(c)] = to_network_units(raw, c, normalization);
  return out;
}

Index default_batch_rows(const Network& network) {
  constexpr Index kBudgetValues = Index{1} << 23;
  // Per row: the input copy, the activations, the gradient at every layer's input (kept, see
  // kGradientOptions) and at the input.
  Index per_row = 2 * numel(network.input_shape());
  for (Index l = 0; l < network.size(); ++l)
    per_row += numel(network.layer(l).input_shape()) + numel(network.layer(l).output_shape());
  return std::max<Index>(1, kBudgetValues / per_row);
}

namespace methods_detail {

Eigen::RowVectorXd channel_row(const ChannelValues& values, const Shape& shape, const char* method,
                               const char* option) {
  const Index channels = shape.front(), features = numel(shape), per_channel = features / channels;
  LRP_CHECK(values.size() == 1 || static_cast<Index>(values.size()) == channels, method, ": option '", option,
            "' has ", values.size(), " values; expected 1 or one per input channel (", channels, ")");
  for (double v : values)
    LRP_CHECK(std::isfinite(v), method, ": option '", option, "' holds a non-finite value (", v, ")");
  Eigen::RowVectorXd row(features);
  for (Index c = 0; c < channels; ++c)
    row.segment(c * per_channel, per_channel).setConstant(values.size() == 1 ? values[0] : values[static_cast<size_t>(c)]);
  return row;
}

void check_inputs(const char* method, const Network& network, const Tensor& x, const std::vector<Index>& targets,
                  int threads) {
  LRP_CHECK(x.shape == network.input_shape() && x.features() == numel(network.input_shape()), method,
            ": input samples have shape ", to_string(x.shape), ", the network expects ", to_string(network.input_shape()));
  const Index n = x.batch(), classes = numel(network.output_shape());
  LRP_CHECK(static_cast<Index>(targets.size()) == n, method, ": ", targets.size(), " targets for ", n,
            " samples; expected one per sample");
  for (Index i = 0; i < n; ++i) {
    const Index c = targets[static_cast<size_t>(i)];
    LRP_CHECK(c >= 0 && c < classes, method, ": target ", c, " of sample ", i, " is out of range [0, ", classes, ")");
  }
  LRP_CHECK(threads >= 1, method, ": threads must be ≥ 1, got ", threads);
  network.check_lengths(x.lengths, n, method);
  if (!all_finite(x.data)) {
    for (Index r = 0; r < n; ++r)
      for (Index f = 0; f < x.features(); ++f)
        LRP_CHECK(std::isfinite(x.data(r, f)), method, ": the input contains NaN or Inf (sample ", r, ", feature ", f,
                  " is ", x.data(r, f), ")");
  }
}

Index batch_rows_of(Index requested, const Network& network, const char* method) {
  LRP_CHECK(requested >= 0, method, ": option 'batch_rows' must be ≥ 0 (0: automatic), got ", requested);
  return requested > 0 ? requested : default_batch_rows(network);
}

Index whole(const ParamMap& p, const std::string& name, const std::string& what) {
  const double v = p.scalar(name, what);
  LRP_CHECK(v == std::floor(v) && v < 1e12, what, ": '", name, "' must be a whole number, got ", v);
  return static_cast<Index>(v);
}
std::vector<Index> whole_list(const ParamMap& p, const std::string& name, const std::string& what) {
  const ParamValue& v = p.get(name, what);
  LRP_CHECK(v.size() == 1 || v.size() == 2, what, ": '", name, "' must be one value or [height, width], got ", v.size(),
            " values");
  std::vector<Index> out;
  for (const double x : v) {
    LRP_CHECK(x == std::floor(x) && x < 1e9, what, ": '", name, "' must hold whole numbers, got ", x);
    out.push_back(static_cast<Index>(x));
  }
  return out;
}

}  // namespace methods_detail
}  // namespace lrp
