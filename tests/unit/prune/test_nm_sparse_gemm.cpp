// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of the reference N:M sparse kernels (lowbit/prune/nm_sparse_gemm.hpp): the sparse reference
// GEMM equal bit for bit to the dense reference GEMM on the unpacked matrix (f32, BF16, int8 per
// channel, Q8_0 values; 2:4, 4:8, 1:4), and the integer reference equal to the dense integer path on
// the masked codes, on odd shapes (M = 1, 3, 17; N = 1, 3, 5, 7, 9, 19; K the smallest multiple).

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "lowbit/prune/nm_sparse_gemm.hpp"
#include "lowbit/quant/activation_q8.hpp"
#include "prune_test_data.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;

}  // namespace

namespace {
template <class Values, std::size_t N, std::size_t M>
void check_reference_gemm(std::size_t m, std::size_t n, std::size_t k, std::uint32_t seed) {
  const auto w = nm_weight(n, k, {.n = N, .m = M}, seed);
  const auto x = random_floats(m * k, seed + 100);
  const auto s =
      prune::nm_sparse_matrix<Values, prune::nm_sparse<N, M>>::pack(matrix_view<const float>(w.data(), n, k));
  const auto expect = dense_reference(x, s.unpack(), m, n, k);
  for (int threads : {1, 2}) {
    std::vector<float> y(m * n, -1.0f);
    prune::gemm_nm_reference(matrix_view<const float>(x.data(), m, k), s, matrix_view<float>(y.data(), m, n),
                             lowbit::threads{threads});
    for (std::size_t i = 0; i < y.size(); ++i)
      REQUIRE(std::bit_cast<std::uint32_t>(y[i]) == std::bit_cast<std::uint32_t>(expect[i]));
  }
}
}  // namespace

TEST_CASE("nm_sparse: reference GEMM == dense reference GEMM on the unpacked matrix", "[prune][nm_sparse][gemm]") {
  for (std::size_t m : {1u, 3u, 17u}) {
    check_reference_gemm<prune::nm_f32, 2, 4>(m, 19, 4, 20);
    check_reference_gemm<prune::nm_f32, 2, 4>(m, 5, 36, 21);
    check_reference_gemm<prune::nm_f32, 4, 8>(m, 3, 24, 22);
    check_reference_gemm<prune::nm_f32, 1, 4>(m, 1, 12, 23);
    check_reference_gemm<prune::nm_bf16, 2, 4>(m, 7, 20, 28);
    check_reference_gemm<prune::nm_int8_per_channel, 2, 4>(m, 19, 32, 24);
    check_reference_gemm<prune::nm_q8_0, 2, 4>(m, 19, 32, 25);
    check_reference_gemm<prune::nm_q8_0, 2, 4>(m, 9, 160, 26);
    check_reference_gemm<prune::nm_q8_0, 4, 8>(m, 9, 64, 27);
  }
  const auto w = nm_weight(3, 8, {.n = 2, .m = 4}, 30);
  const auto s =
      prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<2, 4>>::pack(matrix_view<const float>(w.data(), 3, 8));
  std::vector<float> x(2 * 8), y(2 * 4);
  REQUIRE_THROWS_AS(
      prune::gemm_nm_reference(matrix_view<const float>(x.data(), 2, 8), s, matrix_view<float>(y.data(), 2, 4)),
      lowbit::error);
}

namespace {
template <class Values, std::size_t N, std::size_t M>
void check_q8_reference(std::size_t m, std::size_t n, std::size_t k, std::uint32_t seed) {
  const auto w = nm_weight(n, k, {.n = N, .m = M}, seed);
  const auto x = random_floats(m * k, seed + 100);
  const auto s =
      prune::nm_sparse_matrix<Values, prune::nm_sparse<N, M>>::pack(matrix_view<const float>(w.data(), n, k));
  lowbit::activation_q8 xq;
  lowbit::quantize_activations_reference(matrix_view<const float>(x.data(), m, k), xq);
  std::vector<float> y(m * n);
  prune::gemm_nm_q8_reference(xq, s, matrix_view<float>(y.data(), m, n));
  // The dense integer path on the masked codes: every column, pruned ones included.
  std::vector<std::int8_t> codes;
  s.unpack_codes(codes);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t r = 0; r < n; ++r) {
      double sum = 0.0;
      for (std::size_t b = 0; b < k / 32; ++b) {
        std::int32_t isum = 0;
        for (std::size_t j = b * 32; j < b * 32 + 32; ++j) isum += codes[r * k + j] * xq.row_qs(i)[j];
        sum += static_cast<double>(prune::detail::nm_block_scale(s, r, b)) * xq.row_d(i)[b] * isum;
      }
      REQUIRE(std::bit_cast<std::uint32_t>(y[i * n + r]) == std::bit_cast<std::uint32_t>(static_cast<float>(sum)));
    }
  }
}
}  // namespace

TEST_CASE("nm_sparse: integer reference == dense integer path on the masked codes", "[prune][nm_sparse][q8]") {
  for (std::size_t m : {1u, 3u, 17u}) {
    check_q8_reference<prune::nm_int8_per_channel, 2, 4>(m, 19, 32, 40);
    check_q8_reference<prune::nm_q8_0, 2, 4>(m, 5, 96, 41);
    check_q8_reference<prune::nm_q8_0, 4, 8>(m, 3, 64, 42);
  }
}

TEST_CASE("nm_sparse: BF16 values == the dense BF16 format on the masked matrix", "[prune][nm_sparse][bf16]") {
  const std::size_t n = 9, k = 24;
  const auto w = nm_weight(n, k, {.n = 2, .m = 4}, 60);
  const auto s =
      prune::nm_sparse_matrix<prune::nm_bf16, prune::nm_sparse<2, 4>>::pack(matrix_view<const float>(w.data(), n, k));
  std::vector<lowbit::bf16::block> dense(n * k);
  for (std::size_t i = 0; i < w.size(); ++i) lowbit::bf16::quantize_block(&w[i], dense[i]);
  const auto back = s.unpack();
  for (std::size_t i = 0; i < w.size(); ++i) {
    float expect = 0.0f;
    lowbit::bf16::dequantize_block(dense[i], &expect);
    REQUIRE(std::bit_cast<std::uint32_t>(back[i]) == std::bit_cast<std::uint32_t>(expect));
  }
  REQUIRE(s.bytes() == n * k / 2 * 2 + n * k / 8);
  for (std::size_t m : {1u, 3u, 17u}) {
    const auto x = random_floats(m * k, 61);
    std::vector<float> y(m * n), y_dense(m * n);
    const lowbit::weight_view<lowbit::bf16> view{dense.data(), n, k};
    lowbit::gemm<lowbit::backend::reference>(matrix_view<const float>(x.data(), m, k),
                                             lowbit::prepare_weight<lowbit::backend::reference>(view),
                                             matrix_view<float>(y_dense.data(), m, n));
    prune::gemm_nm_reference(matrix_view<const float>(x.data(), m, k), s, matrix_view<float>(y.data(), m, n));
    for (std::size_t i = 0; i < y.size(); ++i)
      REQUIRE(std::bit_cast<std::uint32_t>(y[i]) == std::bit_cast<std::uint32_t>(y_dense[i]));
  }
}
