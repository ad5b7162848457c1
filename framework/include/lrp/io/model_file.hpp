// lrplab's HDF5 model file (the layout is at the top of model_file.cpp and in docs/models.md), and
// opening a model of any supported kind by its file.
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/nn/model.hpp"

#include <cstdint>
#include <string>

namespace lrp {

class Registry;

// Written to "<path>.tmp" and renamed, so a failed save never leaves a file that looks complete.
void save_model(const Model& model, const std::string& path);
Model load_model(const std::string& path, const Registry& registry, const Limits& limits = {});

// Loads a model by its file contents: an HDF5 model file, an ONNX file, or a YAML description
// (whose parameters are then initialized with he_normal and `seed`).
// The file must be a regular file; the model's memory is checked against `limits` (build_model).
Model open_model(const std::string& path, const Registry& registry, std::uint64_t seed = 0,
                 const Limits& limits = {});

}  // namespace lrp
