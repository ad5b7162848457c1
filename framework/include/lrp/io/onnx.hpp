// ONNX import: a chain of supported ops becomes a Model (the op table is in docs/models.md).
#pragma once

#include "lrp/core/limits.hpp"
#include "lrp/nn/model.hpp"

#include <string>
#include <vector>

namespace lrp {

class Registry;

Model import_onnx(const std::string& path, const Registry& registry, const Limits& limits = {});

// What import_onnx reads, as its message for an unsupported op lists it ("Gemm, MatMul (+ Add bias), Conv, ...,
// and constant subgraphs (Constant, Identity, ...)"); generated from the importer's tables.
std::string onnx_supported_ops();
// Every ONNX op type import_onnx reads in some role (a layer, a node of an activation pattern or of an LSTM block,
// the input normalization, a constant subgraph), sorted; generated from the importer's tables.
std::vector<std::string> onnx_op_types();

}  // namespace lrp
