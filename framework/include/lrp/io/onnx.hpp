// ONNX import: a chain of supported ops becomes a Model (the op table is in docs/models.md).
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/nn/model.hpp"

#include <string>

namespace lrp {

class Registry;

Model import_onnx(const std::string& path, const Registry& registry, const Limits& limits = {});

}  // namespace lrp
