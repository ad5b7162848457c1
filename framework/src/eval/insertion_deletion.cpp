// Insertion and deletion (Petsiuk et al. 2018, RISE; docs/metrics.md, "Insertion and deletion"):
// pixels in order of decreasing relevance are deleted from the image (set to black) or inserted
// into a blurred copy of it, `step` pixels at a time; the scores are the areas under the target's
// softmax-probability curves over the fraction of pixels changed.
#include "lrp/eval/suite.hpp"

#include "lrp/core/error.hpp"
#include "lrp/core/random.hpp"
#include "score_metric.hpp"

#include <cmath>

namespace lrp {

namespace {

// The seeded key that breaks ties in the pixel order.
constexpr std::uint64_t kInsertionDeletionTieStream = 0x696e'7364'656c'0001ULL;  // "insdel" 1

// One separable Gaussian kernel (the 1-d factor, not normalized).
std::vector<double> gaussian(Index size, double sigma) {
  std::vector<double> k(static_cast<std::size_t>(size));
  const double centre = static_cast<double>(size - 1) / 2.0;
  for (Index t = 0; t < size; ++t) {
    const double d = static_cast<double>(t) - centre;
    k[static_cast<std::size_t>(t)] = std::exp(-d * d / (2.0 * sigma * sigma));
  }
  return k;
}

}  // namespace

Tensor blur_images(const Tensor& x, Index kernel_size, double sigma) {
  LRP_CHECK(x.shape.size() == 3, "blur: images must be [channels, height, width], got ", to_string(x.shape));
  LRP_CHECK(kernel_size >= 1 && kernel_size % 2 == 1 && sigma > 0, "blur: the kernel side must be odd and ≥ 1 (got ",
            kernel_size, ") and sigma > 0 (got ", sigma, ")");
  const Index channels = x.shape[0], height = x.shape[1], width = x.shape[2], half = kernel_size / 2;
  const std::vector<double> k = gaussian(kernel_size, sigma);
  Tensor out(x.batch(), x.shape);
  std::vector<double> rows(static_cast<std::size_t>(height * width));
  for (Index n = 0; n < x.batch(); ++n)
    for (Index c = 0; c < channels; ++c) {
      const Scalar* in = x.data.row(n).data() + c * height * width;
      Scalar* to = out.data.row(n).data() + c * height * width;
      // Along the rows, then the columns; each output divides by the weights that fall inside the
      // image, so the border keeps its brightness.
      for (Index y = 0; y < height; ++y)
        for (Index xx = 0; xx < width; ++xx) {
          double sum = 0, weight = 0;
          for (Index t = -half; t <= half; ++t) {
            if (xx + t < 0 || xx + t >= width) continue;
            const double w = k[static_cast<std::size_t>(t + half)];
            sum += w * static_cast<double>(in[y * width + xx + t]);
            weight += w;
          }
          rows[static_cast<std::size_t>(y * width + xx)] = sum / weight;
        }
      for (Index y = 0; y < height; ++y)
        for (Index xx = 0; xx < width; ++xx) {
          double sum = 0, weight = 0;
          for (Index t = -half; t <= half; ++t) {
            if (y + t < 0 || y + t >= height) continue;
            const double w = k[static_cast<std::size_t>(t + half)];
            sum += w * rows[static_cast<std::size_t>((y + t) * width + xx)];
            weight += w;
          }
          to[y * width + xx] = static_cast<Scalar>(sum / weight);
        }
    }
  return out;
}

double normalized_auc(const Eigen::VectorXd& curve) {
  const Index n = curve.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  return (curve.sum() - curve[0] / 2 - curve[n - 1] / 2) / static_cast<double>(n - 1);
}

InsertionDeletion insertion_deletion(const Network& network, const Tensor& x, const std::vector<Index>& targets,
                                     const IndexMatrix& order, const Tensor& black, const Tensor& blurred, Index step,
                                     int threads) {
  const std::vector<std::vector<Index>> pixels = perturbation_regions(network.input_shape(), 1);
  const auto count = static_cast<Index>(pixels.size());
  LRP_CHECK(step >= 1, "insertion/deletion: step must be ≥ 1, got ", step);
  LRP_CHECK(order.rows() == x.batch() && order.cols() == count, "insertion/deletion: the orders are ", order.rows(),
            " × ", order.cols(), ", expected ", x.batch(), " × ", count, " (every pixel of every sample)");
  const Index steps = (count + step - 1) / step;
  InsertionDeletion r;
  cumulative_curves(network, x, black, targets, pixels, order, step, steps, threads, {.probability = &r.deletion_curve});
  cumulative_curves(network, blurred, x, targets, pixels, order, step, steps, threads,
                    {.probability = &r.insertion_curve});
  r.deletion.resize(x.batch());
  r.insertion.resize(x.batch());
  for (Index i = 0; i < x.batch(); ++i) {
    r.deletion[i] = normalized_auc(r.deletion_curve.row(i).transpose());
    r.insertion[i] = normalized_auc(r.insertion_curve.row(i).transpose());
  }
  return r;
}

namespace {

class InsertionDeletionMetric final : public ScoreMetric {
 public:
  const char* config_key() const override { return "insertion_deletion"; }
  const char* meaning() const override {
    return "areas under the target probability as the most relevant pixels are deleted (set to black; lower is "
           "better) or inserted into a blurred image (higher is better) (Petsiuk et al. 2018)";
  }
  std::vector<MetricParameter> parameters() const override {
    using K = MetricParameter::Kind;
    std::vector<MetricParameter> p{{"step", K::kWhole, 16, 1, 1e9, {}, "pixels changed per step"},
            {"blur_size", K::kWhole, 11, 1, 101, {}, "side of the Gaussian blur kernel (odd)"},
            {"blur_sigma", K::kNumber, 5, 1e-3, 1e3, {}, "standard deviation of the blur, in pixels"}};
    for (MetricParameter& f : fill_parameters("constant")) p.push_back(std::move(f));  // black: raw 0
    return p;
  }
  std::vector<std::string> score_names() const override { return {"insertion", "deletion"}; }
  Index passes(const MetricRun&, const MetricSettings&) const override { return 2; }  // deletion, insertion
  std::vector<Plot> plots() const override {
    return {{0, "insertion_curve", "steps of pixels inserted", "target probability"},
            {1, "deletion_curve", "steps of pixels deleted", "target probability"}};
  }
  std::vector<ScoreValues::Curve> curves(const MetricRun& run, const MetricSettings& s) const override {
    const Index pixels = static_cast<Index>(perturbation_regions(run.network.input_shape(), 1).size());
    const Index steps = (pixels + s.whole("step") - 1) / s.whole("step");
    return {{"insertion_curve", steps + 1}, {"deletion_curve", steps + 1}};
  }
  void validate(const MetricSettings& s, const Network& network, bool) const override {
    const Shape& shape = network.input_shape();
    LRP_CHECK(shape.size() == 3, s.at, ": insertion and deletion need image inputs [channels, height, width]; the "
              "model's input is ", to_string(shape));
    LRP_CHECK(s.whole("blur_size") % 2 == 1, s.at, ".blur_size = ", s.whole("blur_size"), " must be odd");
    LRP_CHECK(s.whole("step") <= shape[1] * shape[2], s.at, ".step = ", s.whole("step"), " exceeds the ",
              shape[1] * shape[2], " pixels of an image");
  }

 protected:
  void score(const Range& range, std::span<const MethodView> methods,
             std::span<ScoreValues* const> values) const override {
    const MetricSettings& s = range.settings;
    const Shape& shape = range.run.network.input_shape();
    const Tensor black = range_fill(range.run, s, range.inputs);
    const Tensor blurred = blur_images(range.inputs, s.whole("blur_size"), s.number("blur_sigma"));
    const std::vector<std::vector<Index>> pixels = perturbation_regions(shape, 1);
    for (std::size_t k = 0; k < methods.size(); ++k) {
      if (values[k] == nullptr) continue;
      const IndexMatrix order = unit_orders(range.relevance(methods[k]), pixels, false, range.sample_ids, s.seed,
                                            kInsertionDeletionTieStream);
      const InsertionDeletion r = insertion_deletion(range.run.network, range.inputs, range.targets, order, black,
                                                     blurred, s.whole("step"), range.run.threads);
      ScoreValues& v = *values[k];
      v.score(0).segment(range.begin, range.count) = r.insertion;
      v.score(1).segment(range.begin, range.count) = r.deletion;
      v.curve(0).middleRows(range.begin, range.count) = r.insertion_curve;
      v.curve(1).middleRows(range.begin, range.count) = r.deletion_curve;
    }
  }
};

}  // namespace

const Metric& insertion_deletion_metric() {
  static const InsertionDeletionMetric metric;
  return metric;
}

}  // namespace lrp
