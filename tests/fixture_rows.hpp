// Reading a float64 fixture dataset [N, ...] written by a fixture script as one row per sample.
#pragma once

#include "lrp/io/hdf5.hpp"

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace lrp_test {

inline Eigen::MatrixXd read_rows(const lrp::h5::File& f, const std::string& name, lrp::Index rows) {
  const std::vector<double> v = f.read<double>(name);
  REQUIRE(static_cast<lrp::Index>(v.size()) % rows == 0);
  Eigen::MatrixXd m(rows, static_cast<lrp::Index>(v.size()) / rows);
  for (lrp::Index i = 0; i < m.rows(); ++i)
    for (lrp::Index j = 0; j < m.cols(); ++j) m(i, j) = v[static_cast<std::size_t>(i * m.cols() + j)];
  return m;
}

}  // namespace lrp_test
