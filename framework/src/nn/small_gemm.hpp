// The convolution's products C = A·B: the forward pass and the input gradient with a small factor A
// (a layer's weights) and wide rows B (an unfolded input or an output gradient, one column per
// position); the weight gradient with A the unfolded input and B the transposed output gradient.
// Rows are addressed through functions of the row index, so that a stride-1 convolution reads its
// taps straight from the zero-padded input (tap k's row starts at a fixed offset) instead of
// copying them out first.
//
// A register-blocked kernel over Eigen's packets that reads B in place (no packing: with few output
// channels Eigen's GEMM spends much of its time packing the wide factor). Every column is computed
// the same way, as one fused multiply-add chain in increasing k. Columns with equal values therefore get bitwise-
// equal results, which keeps max-pool ties where PyTorch keeps them (equal patches, equal conv
// outputs).
#pragma once

#include "lrp/core/tensor.hpp"

#include <Eigen/Core>

namespace lrp::detail {

using Packet = Eigen::internal::packet_traits<Scalar>::type;
inline constexpr Index kPacket = Eigen::internal::packet_traits<Scalar>::size;
// Wide rows have a multiple of this many columns (two packets): callers pad their grids to it.
inline constexpr Index kGemmColumns = 2 * kPacket;

inline Index round_up_columns(Index n) { return (n + kGemmColumns - 1) / kGemmColumns * kGemmColumns; }

// Rows of C per block: 2 accumulators per row, plus two packets of B and a broadcast of A, must fit
// in the vector registers (16 with AVX2: 6 rows; 32 with AVX-512: 8). A block that does not fit
// spills accumulators to the stack inside the k loop.
inline constexpr int kBlockRows = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 8
                                  : EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 16 ? 6
                                                                                 : 2;

// R rows of C times P packets of columns, from column j: R·P accumulators, each one fused
// multiply-add chain over k.
template <int R, int P, class ARow, class BRow, class CRow>
inline void gemm_block(const ARow& a_row, const BRow& b, const CRow& c, Index i, Index j, Index K, bool accumulate) {
  using namespace Eigen::internal;
  const Scalar* ar[R];
  for (int r = 0; r < R; ++r) ar[r] = a_row(i + r);
  Packet acc[R][P];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q) acc[r][q] = pset1<Packet>(Scalar(0));
  for (Index k = 0; k < K; ++k) {
    const Scalar* bk = b(k) + j;
    Packet bq[P];
    for (int q = 0; q < P; ++q) bq[q] = ploadu<Packet>(bk + q * kPacket);
    for (int r = 0; r < R; ++r) {
      const Packet a = pset1<Packet>(ar[r][k]);
      for (int q = 0; q < P; ++q) acc[r][q] = pmadd(a, bq[q], acc[r][q]);
    }
  }
  for (int r = 0; r < R; ++r) {
    Scalar* cr = c(i + r) + j;
    for (int q = 0; q < P; ++q) {
      if (accumulate) acc[r][q] = padd(ploadu<Packet>(cr + q * kPacket), acc[r][q]);
      pstoreu(cr + q * kPacket, acc[r][q]);
    }
  }
}

// One or two rows: blocks 8 packets wide in all (4 per row for two), so that enough independent
// chains hide the multiply-add latency (two chains per row would leave the unit mostly idle);
// the columns past the last whole wide block go by kGemmColumns.
template <int R, class ARow, class BRow, class CRow>
void few_rows_gemm(const ARow& a, const BRow& b, const CRow& c, Index i, Index N, Index K, bool accumulate) {
  constexpr int P = 8 / R;
  constexpr Index kWide = P * kPacket;
  Index j = 0;
  for (; j + kWide <= N; j += kWide) gemm_block<R, P>(a, b, c, i, j, K, accumulate);
  for (; j < N; j += kGemmColumns) gemm_block<R, 2>(a, b, c, i, j, K, accumulate);
}

// Row i of C (c(i), N values) = Σ_k A[i, k] · (row k of B: b(k), N values), or += with accumulate;
// row i of A is a(i), K values. N must be a multiple of kGemmColumns.
template <class ARow, class BRow, class CRow>
void small_gemm(const ARow& a, const BRow& b, const CRow& c, Index M, Index N, Index K, bool accumulate) {
  if (M == 1) return few_rows_gemm<1>(a, b, c, 0, N, K, accumulate);  // e.g. a grey image's input gradient
  if (M == 2) return few_rows_gemm<2>(a, b, c, 0, N, K, accumulate);
  // Column blocks outside, rows inside: a block of B (K × kGemmColumns) stays in cache while every
  // row of A passes over it.
  for (Index j = 0; j < N; j += kGemmColumns) {
    Index i = 0;
    // (8 rows left after blocks of 6, e.g. of 32: two blocks of 4 rather than 6 + 2)
    for (; i + kBlockRows <= M && !(kBlockRows == 6 && M - i == 8); i += kBlockRows)
      gemm_block<kBlockRows, 2>(a, b, c, i, j, K, accumulate);
    if constexpr (kBlockRows > 4)
      for (; i + 4 <= M; i += 4) gemm_block<4, 2>(a, b, c, i, j, K, accumulate);
    for (; i + 2 <= M; i += 2) gemm_block<2, 2>(a, b, c, i, j, K, accumulate);
    for (; i < M; ++i) gemm_block<1, 2>(a, b, c, i, j, K, accumulate);
  }
}

// Rows through a table of offsets from a base (the taps of an unfolded input, read in place) or
// at a fixed pitch (a matrix, a grid of outputs or gradients).
template <class T>
struct OffsetRows {
  T* base;
  const Index* offsets;
  T* operator()(Index k) const { return base + offsets[k]; }
};

template <class T>
struct PitchRows {
  T* base;
  Index pitch;
  T* operator()(Index k) const { return base + k * pitch; }
};

}  // namespace lrp::detail
