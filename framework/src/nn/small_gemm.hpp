// The convolution's forward and input-gradient products C = A·B, with a small factor A (a layer's
// weights) and wide rows B (an unfolded input or an output gradient, one column per position). Rows
// are addressed through a function of the row index, so that a stride-1 convolution reads its taps
// straight from the zero-padded input (tap k's row starts at a fixed offset) instead of copying
// them out first.
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

template <int R, class BRow, class CRow>
inline void gemm_block(const Scalar* A, Index lda, const BRow& b, const CRow& c, Index i, Index j, Index K,
                       bool accumulate) {
  using namespace Eigen::internal;
  Packet c0[R], c1[R];
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = pset1<Packet>(Scalar(0));
  for (Index k = 0; k < K; ++k) {
    const Scalar* bk = b(k) + j;
    const Packet b0 = ploadu<Packet>(bk), b1 = ploadu<Packet>(bk + kPacket);
    for (int r = 0; r < R; ++r) {
      const Packet a = pset1<Packet>(A[(i + r) * lda + k]);
      c0[r] = pmadd(a, b0, c0[r]);
      c1[r] = pmadd(a, b1, c1[r]);
    }
  }
  for (int r = 0; r < R; ++r) {
    Scalar* cr = c(i + r) + j;
    if (accumulate) {
      c0[r] = padd(ploadu<Packet>(cr), c0[r]);
      c1[r] = padd(ploadu<Packet>(cr + kPacket), c1[r]);
    }
    pstoreu(cr, c0[r]);
    pstoreu(cr + kPacket, c1[r]);
  }
}

// Row i of C (c(i), N values) = Σ_k A[i, k] · (row k of B: b(k), N values), or += with accumulate;
// A is row-major M × K with pitch lda. N must be a multiple of kGemmColumns.
template <class BRow, class CRow>
void small_gemm(const Scalar* A, Index lda, const BRow& b, const CRow& c, Index M, Index N, Index K, bool accumulate) {
  // Column blocks outside, rows inside: a block of B (K × kGemmColumns) stays in cache while every
  // row of A passes over it.
  for (Index j = 0; j < N; j += kGemmColumns) {
    Index i = 0;
    // (8 rows left after blocks of 6, e.g. of 32: two blocks of 4 rather than 6 + 2)
    for (; i + kBlockRows <= M && !(kBlockRows == 6 && M - i == 8); i += kBlockRows)
      gemm_block<kBlockRows>(A, lda, b, c, i, j, K, accumulate);
    if constexpr (kBlockRows > 4)
      for (; i + 4 <= M; i += 4) gemm_block<4>(A, lda, b, c, i, j, K, accumulate);
    for (; i + 2 <= M; i += 2) gemm_block<2>(A, lda, b, c, i, j, K, accumulate);
    for (; i < M; ++i) gemm_block<1>(A, lda, b, c, i, j, K, accumulate);
  }
}

}  // namespace lrp::detail
