// Occlusion (Zeiler & Fergus 2014): the function and its registry entry.
#include "method_support.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace lrp {

using namespace methods_detail;

namespace {

constexpr const char* kOcclusion = "occlusion";

// How occlusion sees an input shape: inputs [C, H, W] are C planes H × W; [D] is one 1 × D row;
// a sequence [T, D] is one T × D plane whose windows span whole time steps by default.
enum class OcclusionLayout { kImage, kFlat, kSequence };

// An occlusion window or stride: [s] or [h, w], every value ≥ 1. A single value s means s × s on
// images, 1 × s on [D] inputs (the window), and s time steps × all `width` features on sequences.
std::array<Index, 2> window_dims(const std::vector<Index>& v, const char* option, OcclusionLayout layout, bool is_window,
                                 Index width) {
  LRP_CHECK(v.size() == 1 || v.size() == 2, kOcclusion, ": option '", option, "' has ", v.size(),
            " values; expected [size] or [height, width]");
  for (Index d : v) LRP_CHECK(d >= 1, kOcclusion, ": option '", option, "' must be ≥ 1, got ", d);
  if (v.size() == 2) return {v[0], v[1]};
  if (layout == OcclusionLayout::kSequence) return {v[0], width};
  return {layout == OcclusionLayout::kFlat && is_window ? Index{1} : v[0], v[0]};
}

}  // namespace

Tensor occlusion(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                 const OcclusionOptions& options, int threads) {
  check_inputs(kOcclusion, network, x, targets, threads);
  const Shape& shape = x.shape;
  LRP_CHECK(shape.size() >= 1 && shape.size() <= 3, kOcclusion, ": inputs of shape ", to_string(shape),
            " are not supported; expected [C, H, W], a sequence [T, D] or [D]");
  const OcclusionLayout layout = shape.size() == 3   ? OcclusionLayout::kImage
                                 : shape.size() == 2 ? OcclusionLayout::kSequence
                                                     : OcclusionLayout::kFlat;
  const Index planes = layout == OcclusionLayout::kImage ? shape[0] : 1;
  const Index height = layout == OcclusionLayout::kImage ? shape[1] : layout == OcclusionLayout::kSequence ? shape[0] : 1;
  const Index width = shape.back();
  const Index plane = height * width;
  const std::array<Index, 2> window = window_dims(options.window, "window", layout, true, width);
  const std::array<Index, 2> stride =
      options.stride.empty() ? window : window_dims(options.stride, "stride", layout, false, width);
  LRP_CHECK(window[0] <= height && window[1] <= width, kOcclusion, ": the window ", window[0], "×", window[1],
            " does not fit the ", height, "×", width, " input plane");
  const Eigen::RowVectorXd fill_row = channel_row(options.fill, shape, kOcclusion, "fill");
  const Index chunk = batch_rows_of(options.batch_rows, network, kOcclusion);

  // Window positions per sample. With sequence lengths a sample of length L is occluded as the
  // unpadded sequence of L steps would be: its windows lie within its real steps (the rows of a
  // [T, D] plane, the columns of a [T] row), its padding is never occluded and gets relevance 0, and
  // a sample shorter than the window gets no window (relevance 0 everywhere).
  const bool lengths = !x.lengths.empty();
  LRP_CHECK(!lengths || layout != OcclusionLayout::kImage, kOcclusion, ": inputs of shape ", to_string(shape),
            " with sequence lengths are not supported; expected a sequence [T, D] or [T]");
  struct Grid {
    Index rows = 0, cols = 0, first = 0;  // window positions rows × cols; the sample's first virtual row
    Index positions() const { return rows * cols; }
  };
  const Index n = x.batch();
  std::vector<Grid> grids(static_cast<size_t>(n));
  Index total = 0;
  for (Index i = 0; i < n; ++i) {
    const Index h = lengths && layout == OcclusionLayout::kSequence ? x.length(i) : height;
    const Index w = lengths && layout == OcclusionLayout::kFlat ? x.length(i) : width;
    Grid& g = grids[static_cast<size_t>(i)];
    g.rows = h >= window[0] ? (h - window[0]) / stride[0] + 1 : 0;
    g.cols = w >= window[1] ? (w - window[1]) / stride[1] + 1 : 0;
    g.first = total;
    total += g.positions() + 1;
  }
  const auto corner = [&](const Grid& g, Index p) {
    return std::array<Index, 2>{(p / g.cols) * stride[0], (p % g.cols) * stride[1]};
  };

  // Sample i's virtual rows are first_i + p: window p occluded, p = P_i the unoccluded input.
  std::vector<double> logit(static_cast<size_t>(total));
  Tensor copies;
  copies.shape = shape;
  ForwardPass pass;
  Index sample = 0;  // the sample of the current virtual row (rows are visited in order)
  for (Index begin = 0; begin < total; begin += chunk) {
    const Index rows = std::min(chunk, total - begin);
    copies.data.resize(rows, x.features());
    copies.lengths.resize(lengths ? static_cast<size_t>(rows) : 0);
    Index i = sample;
    for (Index r = 0; r < rows; ++r) {
      while (begin + r >= grids[static_cast<size_t>(i)].first + grids[static_cast<size_t>(i)].positions() + 1) ++i;
      const Grid& g = grids[static_cast<size_t>(i)];
      const Index p = begin + r - g.first;
      copies.data.row(r) = x.data.row(i);
      if (lengths) copies.lengths[static_cast<size_t>(r)] = x.lengths[static_cast<size_t>(i)];
      if (p == g.positions()) continue;
      const auto [top, left] = corner(g, p);
      for (Index c = 0; c < planes; ++c)
        for (Index h = top; h < top + window[0]; ++h)
          for (Index w = left; w < left + window[1]; ++w) {
            const Index f = c * plane + h * width + w;
            copies.data(r, f) = static_cast<Scalar>(fill_row[f]);
          }
    }
    network.forward(copies, pass, threads);
    i = sample;
    for (Index r = 0; r < rows; ++r) {
      while (begin + r >= grids[static_cast<size_t>(i)].first + grids[static_cast<size_t>(i)].positions() + 1) ++i;
      logit[static_cast<size_t>(begin + r)] = static_cast<double>(pass.logits()(r, targets[static_cast<size_t>(i)]));
    }
    sample = i;
  }

  Tensor out(n, shape);
  out.lengths = x.lengths;
  std::vector<double> sum(static_cast<size_t>(plane));
  std::vector<Index> cover(static_cast<size_t>(plane));  // how many windows cover each pixel
  for (Index i = 0; i < n; ++i) {
    const Grid& g = grids[static_cast<size_t>(i)];
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(cover.begin(), cover.end(), Index{0});
    const double original = logit[static_cast<size_t>(g.first + g.positions())];
    for (Index p = 0; p < g.positions(); ++p) {
      const double drop = original - logit[static_cast<size_t>(g.first + p)];
      const auto [top, left] = corner(g, p);
      for (Index h = top; h < top + window[0]; ++h)
        for (Index w = left; w < left + window[1]; ++w) {
          sum[static_cast<size_t>(h * width + w)] += drop;
          ++cover[static_cast<size_t>(h * width + w)];
        }
    }
    for (Index q = 0; q < plane; ++q) {
      const Index k = cover[static_cast<size_t>(q)];
      const Scalar value = k > 0 ? static_cast<Scalar>(sum[static_cast<size_t>(q)] / static_cast<double>(k)) : Scalar(0);
      for (Index c = 0; c < planes; ++c) out.data(i, c * plane + q) = value;
    }
  }
  return out;
}

namespace {

MethodInfo occlusion_method() {
  MethodInfo info;
  info.name = "occlusion";
  info.doc = "f_c(x) - f_c(x with a window filled), averaged over the windows covering a pixel";
  info.params = {{"window", {4}, "window side, or [height, width]", true, 1},
                 {"stride", {0}, "stride, or [rows, columns] (0: the window)", true, 0},
                 {"fill", {0}, "fill value, raw units, one or one per channel", true},
                 {"batch_rows", {0}, "rows per pass (0: automatic)", false, 0}};
  info.factory = [](const ParamMap& p, const MethodSetup& setup) {
    const std::string& what = setup.what;
    const Shape& shape = setup.network.input_shape();
    LRP_CHECK(shape.size() >= 1 && shape.size() <= 3, what, ": occlusion needs inputs [C, H, W], [T, D] or [D], the model takes ",
              to_string(shape));
    // The plane windows slide over (methods.hpp): H × W, T × D, or 1 × D.
    const Index height = shape.size() == 3 ? shape[1] : shape.size() == 2 ? shape[0] : 1, width = shape.back();
    const std::vector<Index> window = whole_list(p, "window", what);
    const std::vector<Index> stride = whole_list(p, "stride", what);
    const Index wh = window.size() == 2 || shape.size() != 1 ? window[0] : 1;
    const Index ww = window.size() == 2 ? window[1] : shape.size() == 2 ? width : window[0];
    LRP_CHECK(wh <= height && ww <= width, what, ": the window ", format_value(p.get("window", what)),
              " does not fit the input plane ", height, " × ", width);
    for (const Index s : stride) LRP_CHECK(s >= 0, what, ": 'stride' must be ≥ 0 (0: the window)");
    OcclusionOptions o;
    o.window = window;
    if (!(stride.size() == 1 && stride[0] == 0)) o.stride = stride;
    o.fill = setup.network_units(p, "fill");
    o.batch_rows = whole(p, "batch_rows", what);
    return baseline([o](const MethodBatch& b) { return occlusion(b.network, b.x, b.targets, o, b.threads); });
  };
  return info;
}

}  // namespace

void register_method_occlusion(Registry& registry) { registry.add_method(occlusion_method()); }

}  // namespace lrp
