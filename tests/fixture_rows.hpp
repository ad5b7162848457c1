// Reading a float64 fixture dataset [N, ...] written by a fixture script as one row per sample, and
// comparing rows with it.
#pragma once

#include "lrp/io/hdf5.hpp"

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include <algorithm>
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

// The largest per-row error of `got` relative to that row's largest reference value (each row of
// the reference must have one that is not 0).
inline double worst_relative(const lrp::Matrix& got, const Eigen::MatrixXd& want) {
  REQUIRE(got.rows() == want.rows());
  REQUIRE(got.cols() == want.cols());
  double worst = 0;
  for (lrp::Index i = 0; i < want.rows(); ++i) {
    const double scale = want.row(i).cwiseAbs().maxCoeff();
    REQUIRE(scale > 0);
    worst = std::max(worst, (got.row(i).cast<double>() - want.row(i)).cwiseAbs().maxCoeff() / scale);
  }
  return worst;
}

}  // namespace lrp_test
