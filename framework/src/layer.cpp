#include "lrp/layer.hpp"

#include "lrp/error.hpp"

namespace lrp {

void Layer::configure(const Shape& input_shape, const std::string& name) {
  name_ = name;
  input_shape_ = input_shape;
  output_shape_ = setup(input_shape);
}

void Layer::check_params(const Params& p) const {
  LRP_CHECK(p.weight.size() == 0 && p.bias.size() == 0, "layer '", name_, "' (", kind(),
            ") has no parameters, but parameters were given");
}

void Layer::set_params(Params p) {
  check_params(p);
  LRP_CHECK(p.weight.allFinite(), "layer '", name_, "' (", kind(), "): weight contains NaN or Inf");
  LRP_CHECK(p.bias.allFinite(), "layer '", name_, "' (", kind(), "): bias contains NaN or Inf");
  params_ = std::move(p);
}

}  // namespace lrp
