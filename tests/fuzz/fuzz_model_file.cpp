// Fuzz target: lrplab's HDF5 model file.
//
// Input: the bytes of a model file (models/*.h5), written to a scratch file and loaded with
// lrp::load_model(path, registry); a model that loads and is small gets a forward pass.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lrp::Registry& registry = lrp_fuzz::registry();
  const std::string path = lrp_fuzz::scratch().write("model.h5", lrp_fuzz::as_text(data, size));
  try {
    const lrp::Model model = lrp::load_model(path, registry, lrp_fuzz::limits());
    lrp_fuzz::run_small_forward(model);
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  return 0;
}
