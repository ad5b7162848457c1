// Fuzz target: ONNX import.
//
// Input: the bytes of an ONNX file, written to a scratch .onnx file and imported with
// lrp::import_onnx(path, registry); a model that imports and is small gets a forward pass.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lrp::Registry& registry = lrp_fuzz::registry();
  const std::string path = lrp_fuzz::scratch().write("model.onnx", lrp_fuzz::as_text(data, size));
  try {
    const lrp::Model model = lrp::import_onnx(path, registry, lrp_fuzz::limits());
    lrp_fuzz::run_small_forward(model);
  } catch (const lrp::Error& e) {
    lrp_fuzz::rejected(e);
  }
  return 0;
}
