// The built-in explanation methods: one file each in framework/src/methods/ (its algorithm and its
// registry entry, added through the same Registry::add_method a plugin uses). A new method is a new
// file here plus one declaration and one call below.
#include "lrp/registry/registry.hpp"

namespace lrp {

void register_method_gradients(Registry& registry);  // gradient, sensitivity, gradient_x_input
void register_method_integrated_gradients(Registry& registry);
void register_method_smoothgrad(Registry& registry);
void register_method_occlusion(Registry& registry);
void register_method_random(Registry& registry);

void register_builtin_methods(Registry& registry) {
  register_method_gradients(registry);
  register_method_integrated_gradients(registry);
  register_method_smoothgrad(registry);
  register_method_occlusion(registry);
  register_method_random(registry);
}

}  // namespace lrp
