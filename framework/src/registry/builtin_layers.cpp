// The built-in layer handlers in the registry, with their docs/rules.md, Default rules of the other layers default rules.
#include "lrp/core/error.hpp"
#include "lrp/nn/layers.hpp"
#include "lrp/core/limits.hpp"
#include "lrp/registry/registry.hpp"

#include <cmath>

namespace lrp {
namespace {

Index whole(const ParamMap& p, const std::string& name, const std::string& owner, Index minimum) {
  const double v = p.scalar(name, owner);
  LRP_CHECK(v == std::floor(v) && v >= static_cast<double>(minimum) && v < 9.0e15, owner, ": parameter '", name,
            "' must be a whole number ≥ ", minimum, " (and below 9e15), got ", v);
  return static_cast<Index>(v);
}

// One value for both axes, or [height, width].
std::array<Index, 2> pair(const ParamMap& p, const std::string& name, const std::string& owner, Index minimum) {
  const ParamValue& v = p.get(name, owner);
  LRP_CHECK(v.size() == 1 || v.size() == 2, owner, ": parameter '", name, "' takes 1 or 2 values, got ",
            format_value(v));
  std::array<Index, 2> out{};
  for (size_t a = 0; a < 2; ++a) {
    const double x = v[v.size() == 1 ? 0 : a];
    LRP_CHECK(x == std::floor(x) && x >= static_cast<double>(minimum) && x < 9.0e15, owner, ": parameter '", name,
              "' must hold whole numbers ≥ ", minimum, " (and below 9e15), got ", format_value(v));
    out[a] = static_cast<Index>(x);
  }
  return out;
}

bool flag(const ParamMap& p, const std::string& name, const std::string& owner) {
  const double v = p.scalar(name, owner);
  LRP_CHECK(v == 0.0 || v == 1.0, owner, ": parameter '", name, "' must be 0 or 1, got ", v);
  return v == 1.0;
}

const RuleChoice kPass{"pass", {}};

Pool2dOptions pool_options(const ParamMap& p, const std::string& owner) {
  return {pair(p, "kernel", owner, 1), pair(p, "stride", owner, 0), pair(p, "padding", owner, 0),
          flag(p, "ceil_mode", owner)};
}

// An activation with constants: `make` reads them from the resolved parameters.
void add_parameterized(Registry& r, const std::string& kind, const std::string& doc, std::vector<ParamSpec> params,
                       Activation f, void (*read)(const ParamMap&, const std::string&, ActivationParams&)) {
  r.add_layer({kind, doc, std::move(params), kPass, [kind, f, read](const ParamMap& p) -> LayerPtr {
                 ActivationParams c;
                 read(p, "layer kind '" + kind + "'", c);
                 return std::make_unique<ElementwiseActivation>(f, c);
               }});
}

// Parameter counts for LayerInfo::parameter_count, in saturating arithmetic (a count that does not
// fit is as good as infinite: the memory check refuses it).
std::uint64_t u(Index v) { return static_cast<std::uint64_t>(v); }
std::uint64_t product(std::initializer_list<std::uint64_t> factors) {
  std::uint64_t n = 1;
  for (const std::uint64_t f : factors) n = saturating_mul(n, f);
  return n;
}

void add_activation(Registry& r, const std::string& kind, const std::string& doc, LayerPtr (*make)()) {
  r.add_layer({kind, doc, {}, kPass, [make](const ParamMap&) { return make(); }});
}

// The affine layers: their parameter counts feed the memory check.
void register_affine_layers(Registry& r) {
  r.add_layer({"dense",
               "fully connected y = W x + b, W [out, in]",
               {{"in", {}, "input features"}, {"out", {}, "output features"}, {"bias", {1}, "1: with bias, 0: without"}},
               {},
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'dense'";
                 return std::make_unique<Dense>(whole(p, "in", o, 1), whole(p, "out", o, 1), flag(p, "bias", o));
               },
               "built-in",
               [](const ParamMap& p, const Shape&) {
                 const std::string o = "layer kind 'dense'";
                 const Index out = whole(p, "out", o, 1);
                 return saturating_add(product({u(whole(p, "in", o, 1)), u(out)}), flag(p, "bias", o) ? u(out) : 0);
               },
               [](ParamMap& p, const Shape& in, const std::string& owner) {
                 LRP_CHECK(in.size() == 1, owner, ": dense needs a flat input, got shape ", to_string(in),
                           " (add a flatten layer before it)");
                 set_from_input(p, "in", in[0], owner);
               }});
  r.add_layer({"conv2d",
               "2-d convolution, zero padding, weight [out, in/groups, kh, kw]",
               {{"in_channels", {}, "input channels"},
                {"out_channels", {}, "output channels"},
                {"kernel", {}, "kernel size (one value or [h, w])", true},
                {"stride", {1}, "stride", true},
                {"padding", {0}, "zero padding", true},
                {"dilation", {1}, "dilation", true},
                {"groups", {1}, "groups"},
                {"bias", {1}, "1: with bias, 0: without"}},
               {},
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'conv2d'";
                 Conv2dOptions c;
                 c.kernel = pair(p, "kernel", o, 1);
                 c.stride = pair(p, "stride", o, 1);
                 c.padding = pair(p, "padding", o, 0);
                 c.dilation = pair(p, "dilation", o, 1);
                 c.groups = whole(p, "groups", o, 1);
                 c.bias = flag(p, "bias", o);
                 return std::make_unique<Conv2d>(whole(p, "in_channels", o, 1), whole(p, "out_channels", o, 1), c);
               },
               "built-in",
               [](const ParamMap& p, const Shape&) {
                 const std::string o = "layer kind 'conv2d'";
                 const std::array<Index, 2> k = pair(p, "kernel", o, 1);
                 const Index out = whole(p, "out_channels", o, 1);
                 const Index per_group = std::max<Index>(1, whole(p, "in_channels", o, 1) / whole(p, "groups", o, 1));
                 return saturating_add(product({u(out), u(per_group), u(k[0]), u(k[1])}), flag(p, "bias", o) ? u(out) : 0);
               },
               [](ParamMap& p, const Shape& in, const std::string& owner) {
                 LRP_CHECK(in.size() == 3, owner, ": conv2d needs a [C, H, W] input, got shape ", to_string(in));
                 set_from_input(p, "in_channels", in[0], owner);
               }});
}

// Pooling and reshaping.
void register_pooling_layers(Registry& r) {
  r.add_layer({"maxpool2d",
               "max pooling (padding counts as -inf)",
               {{"kernel", {}, "window size", true}, {"stride", {0}, "stride (0: the kernel size)", true},
                {"padding", {0}, "padding", true},
                {"ceil_mode", {0}, "1: the output size rounds up (PyTorch's ceil_mode=True), 0: down"}},
               {"wta", {}},
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'maxpool2d'";
                 return std::make_unique<MaxPool2d>(pool_options(p, o));
               }});
  r.add_layer({"avgpool2d",
               "average pooling (zero padding counted in the divisor)",
               {{"kernel", {}, "window size", true}, {"stride", {0}, "stride (0: the kernel size)", true},
                {"padding", {0}, "padding", true},
                {"ceil_mode", {0}, "1: the output size rounds up (PyTorch's ceil_mode=True), 0: down"}},
               {"norm", {}},
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'avgpool2d'";
                 return std::make_unique<AvgPool2d>(pool_options(p, o));
               },
               "built-in",
               [](const ParamMap& p, const Shape&) {  // its implicit uniform weights
                 const std::array<Index, 2> k = pair(p, "kernel", "layer kind 'avgpool2d'", 1);
                 return product({u(k[0]), u(k[1])});
               }});
  r.add_layer({"global_avgpool", "average of each channel over the plane: [C, H, W] -> [C, 1, 1]", {}, {"norm", {}},
               [](const ParamMap&) -> LayerPtr { return AvgPool2d::global(); }, "built-in",
               [](const ParamMap&, const Shape& in) {  // a uniform kernel over the whole plane
                 return in.size() == 3 ? product({u(in[1]), u(in[2])}) : std::uint64_t{0};
               }});
  r.add_layer({"flatten", "[C, H, W] -> [C·H·W]", {}, kPass,
               [](const ParamMap&) -> LayerPtr { return std::make_unique<Flatten>(); }});
}

// The layers that read several values of a graph network (inputs: [a, b, ...]).
void register_merge_layers(Registry& r) {
  r.add_layer({"add", "sum of two or more inputs of one shape (the residual sum x + f(x); torch's x + y)", {},
               {"norm", {}}, [](const ParamMap&) -> LayerPtr { return std::make_unique<Add>(); }});
  r.add_layer({"concat", "inputs joined along their first axis (channels of [C, H, W], features of [F]; torch.cat "
               "dim=1)", {}, kPass, [](const ParamMap&) -> LayerPtr { return std::make_unique<Concat>(); }});
}

// The element-wise layers (activations, dropout); all pass relevance through by default.
void register_elementwise_layers(Registry& r) {
  add_activation(r, "relu", "max(x, 0)", &make_relu);
  add_activation(r, "tanh", "tanh(x)", &make_tanh);
  add_activation(r, "sigmoid", "1 / (1 + exp(-x))", &make_sigmoid);
  add_activation(r, "identity", "y = x", &make_identity);
  add_parameterized(r, "leaky_relu", "x for x > 0, slope * x otherwise (PyTorch nn.LeakyReLU)",
                    {{"slope", {0.01}, "slope for x <= 0 (PyTorch's negative_slope)"}}, Activation::kLeakyReLU,
                    [](const ParamMap& p, const std::string& o, ActivationParams& c) { c.slope = p.scalar("slope", o); });
  add_parameterized(r, "elu", "x for x > 0, alpha * (exp(x) - 1) otherwise (PyTorch nn.ELU)",
                    {{"alpha", {1.0}, "alpha"}}, Activation::kELU,
                    [](const ParamMap& p, const std::string& o, ActivationParams& c) { c.alpha = p.scalar("alpha", o); });
  r.add_layer({"gelu", "x * Phi(x), Phi the normal CDF (PyTorch nn.GELU); tanh 1: its tanh approximation",
               {{"tanh", {0}, "1: the tanh approximation (PyTorch approximate='tanh'), 0: the exact erf form"}}, kPass,
               [](const ParamMap& p) -> LayerPtr {
                 return std::make_unique<ElementwiseActivation>(
                     flag(p, "tanh", "layer kind 'gelu'") ? Activation::kGELUTanh : Activation::kGELU);
               }});
  add_activation(r, "silu", "x * sigmoid(x) (PyTorch nn.SiLU, Swish)", [] {
    return LayerPtr(std::make_unique<ElementwiseActivation>(Activation::kSiLU));
  });
  add_parameterized(r, "softplus", "log(1 + exp(beta * x)) / beta, x where beta * x > threshold (PyTorch nn.Softplus)",
                    {{"beta", {1.0}, "beta (> 0)", false, 0.0}, {"threshold", {20.0}, "threshold"}},
                    Activation::kSoftplus, [](const ParamMap& p, const std::string& o, ActivationParams& c) {
                      c.beta = p.scalar("beta", o);
                      c.threshold = p.scalar("threshold", o);
                    });
  add_parameterized(r, "hardtanh", "clamp(x, min, max) (PyTorch nn.Hardtanh; ONNX Clip)",
                    {{"min", {-1.0}, "lower bound"}, {"max", {1.0}, "upper bound (> min)"}}, Activation::kHardtanh,
                    [](const ParamMap& p, const std::string& o, ActivationParams& c) {
                      c.min = p.scalar("min", o);
                      c.max = p.scalar("max", o);
                    });
  add_activation(r, "relu6", "clamp(x, 0, 6) (PyTorch nn.ReLU6: hardtanh with min 0, max 6)", [] {
    return LayerPtr(std::make_unique<ElementwiseActivation>(Activation::kHardtanh, ActivationParams{.min = 0, .max = 6},
                                                            "relu6"));
  });
  r.add_layer({"dropout", "the identity at inference; zeroes values with probability p in training",
               {{"p", {0.5}, "drop probability in [0, 1) (training only)"}}, kPass,
               [](const ParamMap& p) { return make_dropout(p.scalar("p", "layer kind 'dropout'")); }});
}

// Sequences and normalization.
void register_sequence_and_norm_layers(Registry& r) {
  // No default rule: a composite must assign one of the LSTM rules (docs/rules.md, LSTM rules) or `gradient`,
  // which only needs the vjp.
  r.add_layer({"lstm",
               "LSTM over a [T, D] sequence (PyTorch nn.LSTM, gates i, f, g, o); output: the last layer's final "
               "hidden state [H] ([forward, reverse], 2H, when bidirectional)",
               {{"in", {}, "input features per time step (D)"},
                {"hidden", {}, "hidden size (H)"},
                {"num_layers", {1}, "stacked layers"},
                {"bidirectional", {0}, "1: bidirectional, 0: forward only"},
                {"bias", {1}, "1: with b_ih and b_hh, 0: without"}},
               {},
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'lstm'";
                 return std::make_unique<Lstm>(whole(p, "in", o, 1), whole(p, "hidden", o, 1),
                                               whole(p, "num_layers", o, 1), flag(p, "bidirectional", o),
                                               flag(p, "bias", o));
               },
               "built-in",
               [](const ParamMap& p, const Shape&) {
                 const std::string o = "layer kind 'lstm'";
                 const std::uint64_t h = u(whole(p, "hidden", o, 1)), dirs = flag(p, "bidirectional", o) ? 2 : 1;
                 std::uint64_t n = 0, in = u(whole(p, "in", o, 1));
                 for (Index l = 0; l < whole(p, "num_layers", o, 1) && n != UINT64_MAX; ++l) {
                   // per direction: W_ih [4H, in], W_hh [4H, H], two biases [4H]
                   const std::uint64_t one = saturating_add(product({4, h, saturating_add(in, h)}),
                                                            flag(p, "bias", o) ? product({8, h}) : 0);
                   n = saturating_add(n, saturating_mul(one, dirs));
                   in = saturating_mul(h, dirs);
                 }
                 return n;
               },
               [](ParamMap& p, const Shape& in, const std::string& owner) {
                 LRP_CHECK(in.size() == 2, owner,
                           ": lstm needs a [T, D] input (time steps, features per step), got shape ", to_string(in));
                 set_from_input(p, "in", in[1], owner);
               }});
  r.add_layer({"embedding",
               "lookup table over token ids (PyTorch nn.Embedding): [T] ids -> [T, dim], weight [vocab, dim]",
               {{"vocab", {}, "number of token ids V (ids are whole numbers in [0, V))"},
                {"dim", {}, "embedding dimension E"}},
               {"token_sum", {}},
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'embedding'";
                 return std::make_unique<Embedding>(whole(p, "vocab", o, 1), whole(p, "dim", o, 1));
               },
               "built-in",
               [](const ParamMap& p, const Shape&) {
                 const std::string o = "layer kind 'embedding'";
                 return product({u(whole(p, "vocab", o, 1)), u(whole(p, "dim", o, 1))});
               },
               [](ParamMap&, const Shape& in, const std::string& owner) {
                 LRP_CHECK(in.size() == 1, owner, ": embedding needs a [T] input (one token id per time step), got shape ",
                           to_string(in));
               }});
  r.add_layer({"batchnorm",
               "batch normalization with inference statistics over channels ([C] or [C, H, W]); canonized into a "
               "preceding dense/conv before explaining",
               {{"channels", {}, "channels"},
                {"eps", {1e-5}, "variance epsilon"},
                {"momentum", {0.1}, "running-statistics update weight in training, in [0, 1]"}},
               kPass,
               [](const ParamMap& p) -> LayerPtr {
                 const std::string o = "layer kind 'batchnorm'";
                 return std::make_unique<BatchNorm>(whole(p, "channels", o, 1), p.scalar("eps", o),
                                                    p.scalar("momentum", o));
               },
               "built-in",
               [](const ParamMap& p, const Shape&) {  // γ, β and the running mean and variance
                 return product({4, u(whole(p, "channels", "layer kind 'batchnorm'", 1))});
               },
               [](ParamMap& p, const Shape& in, const std::string& owner) {
                 set_from_input(p, "channels", in[0], owner);
               }});
}

}  // namespace

// In this order, which `lrplab list` shows.
void register_builtin_layers(Registry& r) {
  register_affine_layers(r);
  register_pooling_layers(r);
  register_merge_layers(r);
  register_elementwise_layers(r);
  register_sequence_and_norm_layers(r);
}

}  // namespace lrp
