// The precompiled header of the test suite (tests/CMakeLists.txt): what most test sources include.
// Each test source still includes what it uses itself.
#pragma once

#include <catch2/catch.hpp>

#include "experiment_support.hpp"
#include "lrp/experiment/experiment.hpp"
#include "lrp/io/hdf5.hpp"
#include "lrp/nn/model.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"
