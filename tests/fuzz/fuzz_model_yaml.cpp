// Fuzz target: the YAML model description.
//
// Input: a model description (models/*.yaml), read as lrplab reads YAML (lrp::yaml::load_text, with
// its structure checks), then lrp::parse_model_spec(node, "fuzz.yaml", &registry) and
// lrp::build_model(spec, registry). A model that builds must survive the round trip
// of its resolved spec through lrp::model_spec_to_yaml (README: "parse_model_spec reads back to the
// same spec") and, when small, a forward pass.
#include "fuzz_common.hpp"

#include "lrp/io/model_yaml.hpp"
#include "lrp/io/yaml_util.hpp"

#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lrp::Registry& registry = lrp_fuzz::registry();
  try {
    const YAML::Node node = lrp::yaml::load_text(std::string(lrp_fuzz::as_text(data, size)), "fuzz.yaml");
    const lrp::ModelSpec spec = lrp::parse_model_spec(node, "fuzz.yaml", &registry);
    const lrp::Model model = lrp::build_model(spec, registry);
    const std::string yaml = lrp::model_spec_to_yaml(model.spec);
    lrp::ModelSpec again;
    try {
      again = lrp::parse_model_spec(lrp::yaml::load_text(yaml, "resolved.yaml"), "resolved.yaml", &registry);
    } catch (const lrp::Error& e) {
      std::fprintf(stderr, "the resolved spec does not read back: %s\n%s\n", e.what(), yaml.c_str());
      std::abort();
    }
    if (again.layers.size() != model.spec.layers.size() || again.input_shape != model.spec.input_shape) {
      std::fprintf(stderr, "the resolved spec reads back differently:\n%s\n", yaml.c_str());
      std::abort();
    }
    for (std::size_t i = 0; i < again.layers.size(); ++i) {
      if (again.layers[i].kind != model.spec.layers[i].kind || again.layers[i].name != model.spec.layers[i].name) {
        std::fprintf(stderr, "layer %zu reads back differently:\n%s\n", i, yaml.c_str());
        std::abort();
      }
    }
    lrp_fuzz::run_small_forward(model);
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  return 0;
}
