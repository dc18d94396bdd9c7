// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of the N:M sparse layout (lowbit/prune/nm_sparse.hpp): pack∘unpack identity, the byte layout
// of the index bits, the errors, and value formats equal to the dense format on the masked matrix.
// The kernels are tested in test_nm_sparse_gemm.cpp and test_nm_sparse_simd.cpp.

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "catch.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/nm_sparse.hpp"
#include "prune_test_data.hpp"

namespace {

using namespace prune_test;  // shared data and oracles (prune_test_data.hpp, obs_test_support.hpp)

using lowbit::matrix_view;
namespace prune = lowbit::prune;

template <std::size_t N, std::size_t M>
void check_f32_roundtrip(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  const auto w = nm_weight(rows, cols, {.n = N, .m = M}, seed);
  const auto s = prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<N, M>>::pack(
      matrix_view<const float>(w.data(), rows, cols));
  REQUIRE(s.kept_cols() == cols / M * N);
  REQUIRE(s.index_row_bytes() == (cols / M * N * prune::nm_sparse<N, M>::index_bits + 7) / 8);
  const auto back = s.unpack();
  REQUIRE(back.size() == w.size());
  for (std::size_t i = 0; i < w.size(); ++i)
    REQUIRE(std::bit_cast<std::uint32_t>(back[i]) == std::bit_cast<std::uint32_t>(w[i]));
  // Every kept column's code is the weight there, columns strictly increase within a group.
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < s.kept_cols(); ++j) {
      const std::size_t k = s.column(r, j);
      REQUIRE(k / M == j / N);
      REQUIRE(s.codes(r)[j] == w[r * cols + k]);
      if (j % N != 0) REQUIRE(k > s.column(r, j - 1));
    }
  }
}

}  // namespace

TEST_CASE("nm_sparse: layout policy members", "[prune][nm_sparse]") {
  STATIC_REQUIRE(prune::nm_sparse<2, 4>::index_bits == 2);
  STATIC_REQUIRE(prune::nm_sparse<1, 2>::index_bits == 1);
  STATIC_REQUIRE(prune::nm_sparse<4, 8>::index_bits == 3);
  STATIC_REQUIRE(prune::nm_sparse<3, 5>::index_bits == 3);
  STATIC_REQUIRE(prune::nm_sparse<5, 16>::index_bits == 4);
  STATIC_REQUIRE(prune::nm_sparse<2, 4>::n == 2);
  STATIC_REQUIRE(prune::nm_sparse<2, 4>::m == 4);
  STATIC_REQUIRE(lowbit::layout_policy<prune::nm_sparse<2, 4>>);
  STATIC_REQUIRE(prune::is_nm_sparse_v<prune::nm_sparse<2, 4>>);
  STATIC_REQUIRE(!prune::is_nm_sparse_v<lowbit::row_major>);
}

TEST_CASE("nm_sparse: f32 pack then unpack gives the masked matrix bit for bit", "[prune][nm_sparse][laws]") {
  check_f32_roundtrip<2, 4>(5, 32, 1);
  check_f32_roundtrip<2, 4>(1, 4, 2);
  check_f32_roundtrip<1, 4>(3, 12, 3);
  check_f32_roundtrip<4, 8>(7, 24, 4);
  check_f32_roundtrip<3, 8>(2, 40, 5);
  check_f32_roundtrip<1, 2>(3, 6, 6);
  check_f32_roundtrip<3, 5>(4, 15, 7);
  check_f32_roundtrip<5, 16>(3, 48, 8);
}

TEST_CASE("nm_sparse: 2:4 index byte layout", "[prune][nm_sparse]") {
  // Row 0: groups {0, a, 0, b} and {c, 0, 0, d}: positions (1, 3) and (0, 3).
  // Row 1: a zero row: the lowest columns (0, 1) of each group are kept.
  const std::vector<float> w = {0, 1.5f, 0, -2, 3, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto s =
      prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<2, 4>>::pack(matrix_view<const float>(w.data(), 2, 8));
  REQUIRE(s.index_row_bytes() == 1);
  // Byte: bits 0-1 = 1, 2-3 = 3, 4-5 = 0, 6-7 = 3.
  REQUIRE(s.index(0)[0] == (1 | 3 << 2 | 0 << 4 | 3 << 6));
  REQUIRE(s.index(1)[0] == (0 | 1 << 2 | 0 << 4 | 1 << 6));
  REQUIRE(s.codes(0)[0] == 1.5f);
  REQUIRE(s.codes(0)[1] == -2.0f);
  REQUIRE(s.codes(0)[2] == 3.0f);
  REQUIRE(s.codes(0)[3] == 4.0f);
  REQUIRE(s.unpack() == w);
  // A group with a single non-zero keeps it and the lowest zero column: {0, 0, 7, 0} -> (0, 2).
  const std::vector<float> w1 = {0, 0, 7, 0};
  const auto s1 =
      prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<2, 4>>::pack(matrix_view<const float>(w1.data(), 1, 4));
  REQUIRE(s1.index(0)[0] == (0 | 2 << 2));
  // 3-bit indices cross byte boundaries: 4:8, kept columns 1, 3, 6, 7 -> 1 | 3 << 3 | 6 << 6 | 7 << 9.
  const std::vector<float> w2 = {0, 1, 0, 1, 0, 0, 1, 1};
  const auto s2 =
      prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<4, 8>>::pack(matrix_view<const float>(w2.data(), 1, 8));
  const unsigned bits = 1u | 3u << 3 | 6u << 6 | 7u << 9;
  REQUIRE(s2.index_row_bytes() == 2);
  REQUIRE(s2.index(0)[0] == (bits & 0xffu));
  REQUIRE(s2.index(0)[1] == (bits >> 8));
}

TEST_CASE("nm_sparse: pack errors name the row and group", "[prune][nm_sparse][errors]") {
  using sparse = prune::nm_sparse_matrix<prune::nm_f32, prune::nm_sparse<2, 4>>;
  std::vector<float> w = nm_weight(3, 16, {.n = 2, .m = 4}, 9);
  // Row 1, group 2 (columns 8..11) gets a third non-zero.
  for (std::size_t p = 0; p < 4; ++p) w[1 * 16 + 8 + p] = 1.0f + static_cast<float>(p);
  try {
    (void)sparse::pack(matrix_view<const float>(w.data(), 3, 16));
    FAIL("no error");
  } catch (const lowbit::error& e) {
    REQUIRE(e.code() == lowbit::errc::invalid_argument);
    const std::string what = e.what();
    REQUIRE(what.find("row 1, group 2") != std::string::npos);
    REQUIRE(what.find("columns [8, 12)") != std::string::npos);
  }
  const std::vector<float> odd(3 * 6, 0.0f);
  try {
    (void)sparse::pack(matrix_view<const float>(odd.data(), 3, 6));
    FAIL("no error");
  } catch (const lowbit::error& e) {
    REQUIRE(e.code() == lowbit::errc::shape_mismatch);
  }
  std::vector<float> bad(4, 0.0f);
  bad[1] = std::nanf("");
  REQUIRE_THROWS_AS(sparse::pack(matrix_view<const float>(bad.data(), 1, 4)), lowbit::error);
  const std::vector<float> k16(16, 0.0f);
  try {
    (void)prune::nm_sparse_matrix<prune::nm_q8_0, prune::nm_sparse<2, 4>>::pack(
        matrix_view<const float>(k16.data(), 1, 16));
    FAIL("no error");
  } catch (const lowbit::error& e) {
    REQUIRE(e.code() == lowbit::errc::shape_mismatch);
  }
  std::vector<float> y(4);
  const auto s = sparse::pack(matrix_view<const float>(k16.data(), 1, 16));
  REQUIRE_THROWS_AS(s.unpack(matrix_view<float>(y.data(), 2, 2)), lowbit::error);
}

TEST_CASE("nm_sparse: int8 per channel equals the dense quantization of the masked matrix",
          "[prune][nm_sparse][int8]") {
  const std::size_t rows = 7, cols = 40;
  const auto w = nm_weight(rows, cols, {.n = 2, .m = 4}, 11);
  const auto s = prune::nm_sparse_matrix<prune::nm_int8_per_channel, prune::nm_sparse<2, 4>>::pack(
      matrix_view<const float>(w.data(), rows, cols));
  std::vector<std::int8_t> codes;
  s.unpack_codes(codes);
  const auto back = s.unpack();
  for (std::size_t r = 0; r < rows; ++r) {
    float amax = 0.0f;
    for (std::size_t k = 0; k < cols; ++k) amax = std::fmax(amax, std::fabs(w[r * cols + k]));
    REQUIRE(s.scales(r)[0] == amax / 127.0f);
    for (std::size_t k = 0; k < cols; ++k) {
      const float q = std::round(w[r * cols + k] / (amax / 127.0f));
      REQUIRE(codes[r * cols + k] == static_cast<std::int8_t>(q));
      REQUIRE(back[r * cols + k] == s.scales(r)[0] * q);
      if (w[r * cols + k] == 0.0f) REQUIRE(back[r * cols + k] == 0.0f);
    }
  }
  // |dequantize(quantize(w)) - w| <= scale / 2.
  for (std::size_t i = 0; i < w.size(); ++i) REQUIRE(std::fabs(back[i] - w[i]) <= s.scales(i / cols)[0] * 0.5001f);
}

TEST_CASE("nm_sparse: Q8_0 values are byte-exact with ggml Q8_0 of the masked matrix", "[prune][nm_sparse][q8_0]") {
  const std::size_t rows = 5, cols = 96;
  const auto w = nm_weight(rows, cols, {.n = 2, .m = 4}, 12);
  const auto s = prune::nm_sparse_matrix<prune::nm_q8_0, prune::nm_sparse<2, 4>>::pack(
      matrix_view<const float>(w.data(), rows, cols));
  std::vector<lowbit::ggml::q8_0::block> dense(rows * cols / 32);
  for (std::size_t r = 0; r < rows; ++r)
    lowbit::ggml::q8_0::quantize_row(w.data() + r * cols, nullptr, cols, dense.data() + r * cols / 32);
  std::vector<std::int8_t> codes;
  s.unpack_codes(codes);
  const auto back = s.unpack();
  std::vector<float> expect(rows * cols);
  for (std::size_t b = 0; b < dense.size(); ++b) {
    lowbit::ggml::q8_0::dequantize_block(dense[b], expect.data() + b * 32);
    REQUIRE(s.scales(b / (cols / 32))[b % (cols / 32)] == dense[b].d);
    for (std::size_t j = 0; j < 32; ++j) REQUIRE(codes[b * 32 + j] == dense[b].qs[j]);
  }
  for (std::size_t i = 0; i < expect.size(); ++i)
    REQUIRE(std::bit_cast<std::uint32_t>(back[i]) == std::bit_cast<std::uint32_t>(expect[i]));
  // 2:4 Q8_0 holds 16 codes + 4 index bytes + 2 scale bytes per 32 columns: 22 of the dense 34 bytes.
  REQUIRE(s.bytes() == rows * cols / 32 * 22);
}
