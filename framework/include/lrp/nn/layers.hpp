// The built-in layer handlers, one header per layer family. Parameters are created zero-filled with
// their final shapes by the constructor; set them with set_params() (or
// Network::layer(i).set_params()).
#pragma once

#include "lrp/nn/activations.hpp"
#include "lrp/nn/batchnorm.hpp"
#include "lrp/nn/conv2d.hpp"
#include "lrp/nn/dense.hpp"
#include "lrp/nn/embedding.hpp"
#include "lrp/nn/flatten.hpp"
#include "lrp/nn/layer.hpp"
#include "lrp/nn/lstm.hpp"
#include "lrp/nn/merge.hpp"
#include "lrp/nn/pooling.hpp"
