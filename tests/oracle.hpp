// A slow, independent oracle for the linear-like rules of docs/rules.md, The generic step.
//
// Nothing here calls a layer handler's forward() or vjp(), nor the generic step of rule.cpp. A
// linear-like layer is described by its connectivity, written from the definitions of a dense
// layer, a 2-d convolution (PyTorch's cross-correlation with zero padding, stride, dilation and
// groups) and average pooling (zero padding counted in the divisor): the list of (output j,
// input i, kernel weight k) triples. From it and the layer's kernel the oracle builds the explicit
// out × in matrix of any elementwise kernel modifier f (W, W⁺, W + γW⁺, ones, W², ...): a modifier
// acts on kernel weights, so entries where input i is not in output j's receptive field (zero
// padding, other groups) stay 0 whatever f(0) is. Each rule is then the formula of the §2 table,
// written out with loops over samples n, outputs j and inputs i, in long double.
//
// The tests check the connectivity itself against probing the handler's forward() with unit
// vectors, so that a wrong index formula here cannot pass silently.
#pragma once

#include "lrp/nn/layer.hpp"
#include "lrp/core/params.hpp"
#include "lrp/core/tensor.hpp"

#include <Eigen/Core>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace oracle {

using lrp::Index;
using Real = long double;
using RMat = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic>;
using RVec = std::vector<Real>;
using Modifier = std::function<Real(Real)>;

// ---------------------------------------------------------------- connectivity

// Input i feeds output j through the kernel weight with flat index k (PyTorch layout, row-major).
struct Connection {
  Index out, in, weight;
};

struct Structure {
  Index in = 0, out = 0;
  std::vector<Connection> connections;
  std::vector<Index> bias_index;        // per output: index into the bias vector, -1 for none
  std::vector<Index> channel_of_input;  // per input: its channel (for per-channel zbox bounds)
  // Per output: the kernel row (output channel) it uses, and the row length (for the mutants,
  // which need the whole kernel including the taps that fall on padding).
  std::vector<Index> kernel_row;
  Index row_size = 0;
};

// Number of window positions along one axis: the positions p ≥ 0 whose window, starting at
// p·stride in the zero-padded axis (size + 2·pad) and spanning `span` cells, fits entirely.
inline Index window_count(Index size, Index pad, Index span, Index stride) {
  Index count = 0;
  while (count * stride + span <= size + 2 * pad) ++count;
  return count;
}

// y_j = Σ_i w[j, i] x_i (+ b_j).
inline Structure dense_structure(Index in, Index out, bool bias) {
  Structure s;
  s.in = in;
  s.out = out;
  for (Index j = 0; j < out; ++j) {
    for (Index i = 0; i < in; ++i) s.connections.push_back({j, i, j * in + i});
    s.bias_index.push_back(bias ? j : -1);
    s.kernel_row.push_back(j);
  }
  s.row_size = in;
  // A dense input of shape {D} has D "channels" of one value each (per-feature bounds).
  for (Index i = 0; i < in; ++i) s.channel_of_input.push_back(i);
  return s;
}

struct ConvGeometry {
  Index in_channels, out_channels, height, width;
  Index kh, kw;
  Index sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = true;
};

// PyTorch's Conv2d: out[o, y, x] = b[o] + Σ_{c in o's group} Σ_{u,v} w[o, c − g·C/G, u, v] ·
// in[c, y·sh − ph + u·dh, x·sw − pw + v·dw], where out-of-range input positions are the zero
// padding (no connection). Weight layout [out, in/groups, kh, kw].
inline Structure conv2d_structure(const ConvGeometry& g, Index* out_h = nullptr, Index* out_w = nullptr) {
  const Index Ho = window_count(g.height, g.ph, g.dh * (g.kh - 1) + 1, g.sh);
  const Index Wo = window_count(g.width, g.pw, g.dw * (g.kw - 1) + 1, g.sw);
  if (out_h) *out_h = Ho;
  if (out_w) *out_w = Wo;
  const Index in_per_group = g.in_channels / g.groups, out_per_group = g.out_channels / g.groups;
  Structure s;
  s.in = g.in_channels * g.height * g.width;
  s.out = g.out_channels * Ho * Wo;
  for (Index o = 0; o < g.out_channels; ++o) {
    const Index group = o / out_per_group;
    for (Index y = 0; y < Ho; ++y) {
      for (Index x = 0; x < Wo; ++x) {
        const Index j = (o * Ho + y) * Wo + x;
        for (Index ci = 0; ci < in_per_group; ++ci) {
          const Index c = group * in_per_group + ci;
          for (Index u = 0; u < g.kh; ++u) {
            for (Index v = 0; v < g.kw; ++v) {
              const Index iy = y * g.sh - g.ph + u * g.dh;
              const Index ix = x * g.sw - g.pw + v * g.dw;
              if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) continue;  // zero padding
              const Index i = (c * g.height + iy) * g.width + ix;
              const Index k = ((o * in_per_group + ci) * g.kh + u) * g.kw + v;
              s.connections.push_back({j, i, k});
            }
          }
        }
        s.bias_index.push_back(g.bias ? o : -1);
        s.kernel_row.push_back(o);
      }
    }
  }
  s.row_size = in_per_group * g.kh * g.kw;
  for (Index i = 0; i < s.in; ++i) s.channel_of_input.push_back(i / (g.height * g.width));
  return s;
}

struct PoolGeometry {
  Index channels, height, width;
  Index kh, kw;
  Index sh, sw, ph = 0, pw = 0;
};

// Average pooling as a depthwise linear map: out[c, y, x] = Σ_{u,v} w[u, v] · in[c, y·sh − ph + u,
// x·sw − pw + v] with w = 1/(kh·kw) for the real layer; padded positions are zeros that count in
// the divisor (count_include_pad) but are not inputs. Weight layout [1, kh·kw].
inline Structure avgpool_structure(const PoolGeometry& g) {
  const Index Ho = window_count(g.height, g.ph, g.kh, g.sh);
  const Index Wo = window_count(g.width, g.pw, g.kw, g.sw);
  Structure s;
  s.in = g.channels * g.height * g.width;
  s.out = g.channels * Ho * Wo;
  for (Index c = 0; c < g.channels; ++c) {
    for (Index y = 0; y < Ho; ++y) {
      for (Index x = 0; x < Wo; ++x) {
        const Index j = (c * Ho + y) * Wo + x;
        for (Index u = 0; u < g.kh; ++u) {
          for (Index v = 0; v < g.kw; ++v) {
            const Index iy = y * g.sh - g.ph + u, ix = x * g.sw - g.pw + v;
            if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) continue;
            s.connections.push_back({j, (c * g.height + iy) * g.width + ix, u * g.kw + v});
          }
        }
        s.bias_index.push_back(-1);
        s.kernel_row.push_back(0);
      }
    }
  }
  s.row_size = g.kh * g.kw;
  for (Index i = 0; i < s.in; ++i) s.channel_of_input.push_back(i / (g.height * g.width));
  return s;
}

// ---------------------------------------------------------------- a layer's numbers

struct LayerData {
  Structure structure;
  RVec kernel;  // flat kernel weights (Params::weight, row-major)
  RVec bias;    // Params::bias; empty: no bias

  // The explicit out × in matrix of the kernel modified by f (f applied to kernel weights).
  RMat matrix(const Modifier& f) const {
    RMat m = RMat::Zero(structure.out, structure.in);
    for (const Connection& c : structure.connections) m(c.out, c.in) += f(kernel[static_cast<size_t>(c.weight)]);
    return m;
  }
  // The explicit bias vector modified by f; zeros without a bias (or when f is empty: dropped).
  RVec bias_vector(const Modifier& f) const {
    RVec b(static_cast<size_t>(structure.out), Real(0));
    if (!f || bias.empty()) return b;
    for (Index j = 0; j < structure.out; ++j) {
      const Index k = structure.bias_index[static_cast<size_t>(j)];
      if (k >= 0) b[static_cast<size_t>(j)] = f(bias[static_cast<size_t>(k)]);
    }
    return b;
  }
};

inline LayerData read_layer(const Structure& structure, const lrp::Params& p) {
  LayerData d;
  d.structure = structure;
  for (Index r = 0; r < p.weight.rows(); ++r)
    for (Index c = 0; c < p.weight.cols(); ++c) d.kernel.push_back(static_cast<Real>(p.weight(r, c)));
  for (Index j = 0; j < p.bias.size(); ++j) d.bias.push_back(static_cast<Real>(p.bias(j)));
  return d;
}

template <typename M>
RMat to_real(const M& m) {
  RMat r(m.rows(), m.cols());
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j) r(i, j) = static_cast<Real>(m(i, j));
  return r;
}

// ---------------------------------------------------------------- the rules, literally

inline Real pos(Real v) { return v > 0 ? v : Real(0); }
inline Real neg(Real v) { return v < 0 ? v : Real(0); }
inline Real same(Real v) { return v; }
// stab(z) = z + ε·sign₀(z), sign₀(0) = +1.
inline Real stab(Real z, Real eps) { return z + (z >= 0 ? eps : -eps); }
// R / stab(z), 0 where stab(z) = 0 (LRP-0 on a dead output).
inline Real divide(Real r, Real z, Real eps) {
  const Real d = stab(z, eps);
  return d == 0 ? Real(0) : r / d;
}

// A denominator accumulated term by term, with the sum of the terms' magnitudes: the ratio of
// the two is the condition number of the denominator (how much rounding in a float32 library
// can be amplified).
struct Sum {
  Real value = 0, magnitude = 0;
  void add(Real v) {
    value += v;
    magnitude += std::fabs(v);
  }
  Real condition(Real eps) const {
    if (magnitude == 0) return 1;  // every term exactly 0: exact in any precision
    const Real d = std::fabs(stab(value, eps));
    return d == 0 ? std::numeric_limits<Real>::infinity() : magnitude / d;
  }
};

struct RuleConfig {
  std::string name;
  lrp::ParamMap params;
  std::string label() const { return name + "(" + params.to_string() + ")"; }
};

inline Real param(const lrp::ParamMap& p, const std::string& name, double fallback) {
  return static_cast<Real>(p.has(name) ? p.get(name, "oracle").at(0) : fallback);
}

// (Mᵀ s)_i = Σ_j M(j, i) s_j, written out.
inline Real transpose_times(const RMat& M, const RVec& s, Index i) {
  Real c = 0;
  for (Index j = 0; j < static_cast<Index>(s.size()); ++j) c += M(j, i) * s[static_cast<size_t>(j)];
  return c;
}

struct Result {
  RMat relevance;  // N × in
  RMat kappa;      // N × out: the largest condition number of the denominators output j uses
  // N × out: 1 where a denominator output j uses is exactly 0 (or its gate is closed), so that the
  // rule passes nothing there (or, for alpha_beta, only one side): where conservation cannot hold.
  RMat dead;
};

// The §2 table. `a` is N × in, `R` is N × out. Unknown names throw. A few "mutant:" names
// implement plausible but wrong conventions, to show that the tests would catch them.
inline Result apply(const RuleConfig& rule, const LayerData& L, const RMat& a, const RMat& R) {
  const Structure& S = L.structure;
  const Index N = a.rows(), I = S.in, J = S.out;
  const std::string& name = rule.name;
  const lrp::ParamMap& p = rule.params;
  Result out{RMat::Zero(N, I), RMat::Zero(N, J), RMat::Zero(N, J)};
  const RMat W = L.matrix(same);
  const RVec b = L.bias_vector(same);

  if (name == "zero" || name == "epsilon" || name == "norm") {
    // z = W a + b; R_i = a_i Σ_j w_ij R_j / stab(z_j); ε = 0 for LRP-0.
    const Real eps = name == "zero" ? Real(0) : name == "epsilon" ? param(p, "epsilon", 1e-6) : param(p, "stabilizer", 1e-6);
    for (Index n = 0; n < N; ++n) {
      RVec s(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Sum z;
        for (Index i = 0; i < I; ++i) z.add(W(j, i) * a(n, i));
        z.add(b[static_cast<size_t>(j)]);
        s[static_cast<size_t>(j)] = divide(R(n, j), z.value, eps);
        out.kappa(n, j) = z.condition(eps);
        out.dead(n, j) = z.value == 0;
      }
      for (Index i = 0; i < I; ++i) out.relevance(n, i) = a(n, i) * transpose_times(W, s, i);
    }
    return out;
  }

  if (name == "zplus" || name == "mutant:zplus_full_bias") {
    // z = W⁺a⁺ + b⁺ + W⁻a⁻; R_i = a⁺_i (W⁺ᵀs)_i + a⁻_i (W⁻ᵀs)_i, s = R / stab(z).
    const Real eps = param(p, "stabilizer", 1e-6);
    const RMat Wp = L.matrix(pos), Wn = L.matrix(neg);
    const RVec bp = name == "zplus" ? L.bias_vector(pos) : L.bias_vector(same);
    for (Index n = 0; n < N; ++n) {
      RVec s(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Sum z;
        for (Index i = 0; i < I; ++i) z.add(Wp(j, i) * pos(a(n, i)) + Wn(j, i) * neg(a(n, i)));
        z.add(bp[static_cast<size_t>(j)]);
        s[static_cast<size_t>(j)] = divide(R(n, j), z.value, eps);
        out.kappa(n, j) = z.condition(eps);
        out.dead(n, j) = z.value == 0;
      }
      for (Index i = 0; i < I; ++i) {
        Real cp = 0, cn = 0;
        for (Index j = 0; j < J; ++j) {
          cp += Wp(j, i) * s[static_cast<size_t>(j)];
          cn += Wn(j, i) * s[static_cast<size_t>(j)];
        }
        out.relevance(n, i) = pos(a(n, i)) * cp + neg(a(n, i)) * cn;
      }
    }
    return out;
  }

  if (name == "alpha_beta") {
    // z⁺ = W⁺a⁺ + b⁺ + W⁻a⁻, z⁻ = W⁻a⁺ + b⁻ + W⁺a⁻, s^± = R / stab(z^±);
    // R_i = α[a⁺(W⁺ᵀs⁺) + a⁻(W⁻ᵀs⁺)] − β[a⁺(W⁻ᵀs⁻) + a⁻(W⁺ᵀs⁻)].
    const Real alpha = param(p, "alpha", 2.0), beta = param(p, "beta", 1.0), eps = param(p, "stabilizer", 1e-6);
    const RMat Wp = L.matrix(pos), Wn = L.matrix(neg);
    const RVec bp = L.bias_vector(pos), bn = L.bias_vector(neg);
    for (Index n = 0; n < N; ++n) {
      RVec sp(static_cast<size_t>(J)), sn(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Sum zp, zn;
        for (Index i = 0; i < I; ++i) {
          zp.add(Wp(j, i) * pos(a(n, i)) + Wn(j, i) * neg(a(n, i)));
          zn.add(Wn(j, i) * pos(a(n, i)) + Wp(j, i) * neg(a(n, i)));
        }
        zp.add(bp[static_cast<size_t>(j)]);
        zn.add(bn[static_cast<size_t>(j)]);
        sp[static_cast<size_t>(j)] = divide(R(n, j), zp.value, eps);
        sn[static_cast<size_t>(j)] = divide(R(n, j), zn.value, eps);
        out.kappa(n, j) = std::max(zp.condition(eps), zn.condition(eps));
        out.dead(n, j) = zp.value == 0 || zn.value == 0;
      }
      for (Index i = 0; i < I; ++i) {
        const Real wp_sp = transpose_times(Wp, sp, i), wn_sp = transpose_times(Wn, sp, i);
        const Real wn_sn = transpose_times(Wn, sn, i), wp_sn = transpose_times(Wp, sn, i);
        const Real ap = pos(a(n, i)), an = neg(a(n, i));
        out.relevance(n, i) = alpha * (ap * wp_sp + an * wn_sp) - beta * (ap * wn_sn + an * wp_sn);
      }
    }
    return out;
  }

  if (name == "gamma" || name == "mutant:gamma_gated_by_own_denominator") {
    // Wᵖ = W + γW⁺, bᵖ = b + γb⁺, Wⁿ = W + γW⁻, bⁿ = b + γb⁻; z = W a + b selects the branch;
    // zᵖ = Wᵖa⁺ + bᵖ + Wⁿa⁻, zⁿ = Wⁿa⁺ + bⁿ + Wᵖa⁻; sᵖ = [z>0] R/stab(zᵖ), sⁿ = [z<0] R/stab(zⁿ);
    // R_i = a⁺(Wᵖᵀsᵖ + Wⁿᵀsⁿ) + a⁻(Wⁿᵀsᵖ + Wᵖᵀsⁿ).
    const Real gamma = param(p, "gamma", 0.25), eps = param(p, "stabilizer", 1e-6);
    const Modifier fp = [gamma](Real v) { return v + gamma * pos(v); };
    const Modifier fn = [gamma](Real v) { return v + gamma * neg(v); };
    const RMat Wp = L.matrix(fp), Wn = L.matrix(fn);
    const RVec bp = L.bias_vector(fp), bn = L.bias_vector(fn);
    const bool mutant = name != "gamma";
    for (Index n = 0; n < N; ++n) {
      RVec sp(static_cast<size_t>(J)), sn(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Sum z, zp, zn;
        for (Index i = 0; i < I; ++i) {
          z.add(W(j, i) * a(n, i));
          zp.add(Wp(j, i) * pos(a(n, i)) + Wn(j, i) * neg(a(n, i)));
          zn.add(Wn(j, i) * pos(a(n, i)) + Wp(j, i) * neg(a(n, i)));
        }
        z.add(b[static_cast<size_t>(j)]);
        zp.add(bp[static_cast<size_t>(j)]);
        zn.add(bn[static_cast<size_t>(j)]);
        const bool open_p = mutant ? zp.value > 0 : z.value > 0;
        const bool open_n = mutant ? zn.value < 0 : z.value < 0;
        sp[static_cast<size_t>(j)] = open_p ? divide(R(n, j), zp.value, eps) : Real(0);
        sn[static_cast<size_t>(j)] = open_n ? divide(R(n, j), zn.value, eps) : Real(0);
        Real k = z.condition(0);  // the gate: the sign of z must be the same in float32
        if (open_p) k = std::max(k, zp.condition(eps));
        if (open_n) k = std::max(k, zn.condition(eps));
        out.kappa(n, j) = k;
        out.dead(n, j) = !(open_p && zp.value != 0) && !(open_n && zn.value != 0);
      }
      for (Index i = 0; i < I; ++i) {
        const Real wp_sp = transpose_times(Wp, sp, i), wn_sn = transpose_times(Wn, sn, i);
        const Real wn_sp = transpose_times(Wn, sp, i), wp_sn = transpose_times(Wp, sn, i);
        out.relevance(n, i) = pos(a(n, i)) * (wp_sp + wn_sn) + neg(a(n, i)) * (wn_sp + wp_sn);
      }
    }
    return out;
  }

  if (name == "zbox" || name == "mutant:zbox_bounds_in_padding") {
    // z = (W a + b) − (W⁺l + b⁺) − (W⁻h + b⁻); R_i = a_i (Wᵀs)_i − l_i (W⁺ᵀs)_i − h_i (W⁻ᵀs)_i,
    // s = R / stab(z). l and h are images of the input's shape, a scalar or one value per channel;
    // in padded positions they are 0 (they go through the same zero padding: no connection). The
    // mutant instead lets the bounds fill the padding: it adds f(w) · bound for every kernel
    // weight that falls on a padded position.
    const Real eps = param(p, "stabilizer", 1e-6);
    const lrp::ParamValue& low = p.get("low", "oracle zbox");
    const lrp::ParamValue& high = p.get("high", "oracle zbox");
    auto bound = [&](const lrp::ParamValue& v, Index i) {
      const Index c = S.channel_of_input[static_cast<size_t>(i)];
      return static_cast<Real>(v.size() == 1 ? v[0] : v.at(static_cast<size_t>(c)));
    };
    RVec l(static_cast<size_t>(I)), h(static_cast<size_t>(I));
    for (Index i = 0; i < I; ++i) {
      l[static_cast<size_t>(i)] = bound(low, i);
      h[static_cast<size_t>(i)] = bound(high, i);
    }
    const RMat Wp = L.matrix(pos), Wn = L.matrix(neg);
    const RVec bp = L.bias_vector(pos), bn = L.bias_vector(neg);
    // Mutant only: per output, Σ over padded kernel taps of w⁺·low and w⁻·high (scalar bounds).
    RVec padded_low(static_cast<size_t>(J), Real(0)), padded_high(static_cast<size_t>(J), Real(0));
    if (name != "zbox") {
      std::vector<Real> seen_pos(static_cast<size_t>(J), 0), seen_neg(static_cast<size_t>(J), 0);
      for (const Connection& c : S.connections) {
        seen_pos[static_cast<size_t>(c.out)] += pos(L.kernel[static_cast<size_t>(c.weight)]);
        seen_neg[static_cast<size_t>(c.out)] += neg(L.kernel[static_cast<size_t>(c.weight)]);
      }
      for (Index j = 0; j < J; ++j) {
        const Index row = S.kernel_row[static_cast<size_t>(j)];
        Real all_pos = 0, all_neg = 0;
        for (Index k = row * S.row_size; k < (row + 1) * S.row_size; ++k) {
          all_pos += pos(L.kernel[static_cast<size_t>(k)]);
          all_neg += neg(L.kernel[static_cast<size_t>(k)]);
        }
        padded_low[static_cast<size_t>(j)] = (all_pos - seen_pos[static_cast<size_t>(j)]) * static_cast<Real>(low[0]);
        padded_high[static_cast<size_t>(j)] = (all_neg - seen_neg[static_cast<size_t>(j)]) * static_cast<Real>(high[0]);
      }
    }
    for (Index n = 0; n < N; ++n) {
      RVec s(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Sum z;
        for (Index i = 0; i < I; ++i) z.add(W(j, i) * a(n, i));
        z.add(b[static_cast<size_t>(j)]);
        for (Index i = 0; i < I; ++i) z.add(-Wp(j, i) * l[static_cast<size_t>(i)]);
        z.add(-bp[static_cast<size_t>(j)]);
        for (Index i = 0; i < I; ++i) z.add(-Wn(j, i) * h[static_cast<size_t>(i)]);
        z.add(-bn[static_cast<size_t>(j)]);
        z.add(-padded_low[static_cast<size_t>(j)] - padded_high[static_cast<size_t>(j)]);
        s[static_cast<size_t>(j)] = divide(R(n, j), z.value, eps);
        out.kappa(n, j) = z.condition(eps);
        out.dead(n, j) = z.value == 0;
      }
      for (Index i = 0; i < I; ++i) {
        Real c = 0, cp = 0, cn = 0;
        for (Index j = 0; j < J; ++j) {
          c += W(j, i) * s[static_cast<size_t>(j)];
          cp += Wp(j, i) * s[static_cast<size_t>(j)];
          cn += Wn(j, i) * s[static_cast<size_t>(j)];
        }
        out.relevance(n, i) = a(n, i) * c - l[static_cast<size_t>(i)] * cp - h[static_cast<size_t>(i)] * cn;
      }
    }
    return out;
  }

  if (name == "flat" || name == "mutant:flat_counts_padding") {
    // z_j = number of inputs in j's receptive field (the ones-kernel's explicit matrix: zero
    // padding excluded); R_i = Σ_{j sees i} R_j / stab(z_j). The mutant counts the whole kernel.
    const Real eps = param(p, "stabilizer", 1e-6);
    const RMat M = L.matrix([](Real) { return Real(1); });
    for (Index n = 0; n < N; ++n) {
      RVec s(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Real count = 0;
        for (Index i = 0; i < I; ++i) count += M(j, i);
        if (name != "flat") count = static_cast<Real>(S.row_size);
        s[static_cast<size_t>(j)] = divide(R(n, j), count, eps);
        out.kappa(n, j) = 1;
        out.dead(n, j) = count == 0;
      }
      for (Index i = 0; i < I; ++i) out.relevance(n, i) = transpose_times(M, s, i);
    }
    return out;
  }

  if (name == "wsquare" || name == "mutant:wsquare_without_bias") {
    // z_j = Σ_i w_ij² + b_j²; R_i = Σ_j w_ij² R_j / stab(z_j).
    const Real eps = param(p, "stabilizer", 1e-6);
    const Modifier square = [](Real v) { return v * v; };
    const RMat W2 = L.matrix(square);
    const RVec b2 = name == "wsquare" ? L.bias_vector(square) : L.bias_vector(nullptr);
    for (Index n = 0; n < N; ++n) {
      RVec s(static_cast<size_t>(J));
      for (Index j = 0; j < J; ++j) {
        Real z = b2[static_cast<size_t>(j)];
        for (Index i = 0; i < I; ++i) z += W2(j, i);
        s[static_cast<size_t>(j)] = divide(R(n, j), z, eps);
        out.kappa(n, j) = 1;
        out.dead(n, j) = z == 0;
      }
      for (Index i = 0; i < I; ++i) out.relevance(n, i) = transpose_times(W2, s, i);
    }
    return out;
  }

  throw std::invalid_argument("oracle: unknown rule '" + name + "'");
}

}  // namespace oracle
