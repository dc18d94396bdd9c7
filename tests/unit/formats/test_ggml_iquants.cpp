// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// The GGUF codebook i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) against ggml's golden
// data (tests/data/ggml_quant/make_ggml_quant_golden.py): decoding bit for bit, and encoding with an error
// (RMSE, importance-weighted where the entry has an imatrix) at most the one ggml's quantizer reaches on the
// same row. Also checks the transcribed grid tables against gguf-py's copies.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "catch.hpp"
#include "golden_data.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/formats/ggml/iq1_m.hpp"
#include "lowbit/formats/ggml/iq1_s.hpp"
#include "lowbit/formats/ggml/iq2_s.hpp"
#include "lowbit/formats/ggml/iq2_xs.hpp"
#include "lowbit/formats/ggml/iq2_xxs.hpp"
#include "lowbit/formats/ggml/iq3_s.hpp"
#include "lowbit/formats/ggml/iq3_xxs.hpp"
#include "lowbit/formats/ggml/iq_grids.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace {

using json = nlohmann::json;
using golden = lowbit_test::golden_data;
namespace g = lowbit::ggml;
namespace grids = lowbit::ggml::iq_grids;

const golden& load_golden() {
  static const golden data = golden::load("ggml_quant", "golden");
  return data;
}

// FNV-1a (64-bit) over the element codes of a grid, entry-major, each code as one byte (IQ1's -1 as 0xff):
// the same bytes as numpy's `grid.astype(np.int8).view(np.uint8)` of gguf-py's float grids.
template <class Entry, std::size_t N>
std::uint64_t grid_checksum(const std::array<Entry, N>& grid) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const Entry e : grid) {
    for (std::size_t j = 0; j < sizeof(Entry); ++j) {
      h ^= grids::grid_code(e, j);
      h *= 0x100000001b3ull;
    }
  }
  return h;
}

// Every code of every entry lies in `allowed`, and no two entries are equal.
template <class Entry, std::size_t N>
void check_grid_structure(const std::array<Entry, N>& grid, std::initializer_list<std::uint8_t> allowed) {
  std::size_t bad_codes = 0;
  for (const Entry e : grid) {
    for (std::size_t j = 0; j < sizeof(Entry); ++j) {
      if (std::find(allowed.begin(), allowed.end(), grids::grid_code(e, j)) == allowed.end()) ++bad_codes;
    }
  }
  CHECK(bad_codes == 0);
  std::vector<Entry> sorted(grid.begin(), grid.end());
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

struct error_sums {
  double ours = 0.0;
  double ggml = 0.0;
  std::size_t entries = 0;
  std::size_t worse = 0;
  double ratio_sum = 0.0;  // sum of lowbit / ggml over rows where ggml's error is not 0
  std::size_t ratio_rows = 0;
};

// sqrt(sum w (y - x)^2 / sum w), w = 1 without an importance vector (the golden script's definitions).
double weighted_rmse(std::span<const float> y, std::span<const float> x, const std::vector<float>* w) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double wi = w ? static_cast<double>((*w)[i]) : 1.0;
    const double d = static_cast<double>(y[i]) - static_cast<double>(x[i]);
    num += wi * d * d;
    den += wi;
  }
  return std::sqrt(num / den);
}

template <class F>
void check_decode(const golden& data, const json& e) {
  const auto raw = data.bytes(e["raw"]);
  const auto want = data.floats(e["dequantized"]);
  INFO(F::name << " " << e["name"].get<std::string>() << (e["with_imatrix"].get<bool>() ? " (imatrix)" : ""));
  REQUIRE(e["gguf_py_same_as_ggml"].get<bool>());
  REQUIRE(raw.size() == want.size() / F::block_size * F::block_bytes);
  std::vector<float> by_block(want.size());
  for (std::size_t b = 0; b < want.size() / F::block_size; ++b) {
    typename F::block block;
    std::memcpy(&block, raw.data() + b * F::block_bytes, F::block_bytes);
    F::dequantize_block(block, by_block.data() + b * F::block_size);
  }
  const auto c = lowbit_test::compare_bits(by_block, want);
  INFO(c.mismatches << " values differ from ggml, max " << c.max_ulp << " ulp, first at " << c.first_bad);
  CHECK(c.mismatches == 0);
  std::vector<float> by_row(want.size());
  lowbit::dequantize_row<F>(raw, by_row);
  CHECK(lowbit_test::compare_bits(by_row, want).mismatches == 0);
}

template <class F>
void check_encode(const golden& data, const json& e, error_sums& sums) {
  const auto x = data.floats(e["input"]);
  const bool with_imatrix = e["with_imatrix"].get<bool>();
  std::vector<float> imatrix;
  if (with_imatrix) imatrix = data.floats(e["imatrix"]);
  const double ggml_error = e[with_imatrix ? "rmse_weighted" : "rmse"].get<double>();

  std::vector<typename F::block> blocks(x.size() / F::block_size);
  F::quantize_row(x.data(), with_imatrix ? imatrix.data() : nullptr, x.size(), blocks.data());
  std::vector<float> y(x.size());
  for (std::size_t b = 0; b < blocks.size(); ++b) F::dequantize_block(blocks[b], y.data() + b * F::block_size);
  const double ours = weighted_rmse(y, x, with_imatrix ? &imatrix : nullptr);

  INFO(F::name << " " << e["name"].get<std::string>() << (with_imatrix ? " (imatrix)" : "") << ": lowbit " << ours
               << ", ggml " << ggml_error);
  // The only slack is for the order of summation (numpy vs this loop) when both errors are equal.
  CHECK(ours <= ggml_error * (1.0 + 1e-9));
  sums.ours += ours;
  sums.ggml += ggml_error;
  sums.entries += 1;
  if (ours > ggml_error * (1.0 + 1e-9)) sums.worse += 1;
  if (ggml_error > 0.0) {
    sums.ratio_sum += ours / ggml_error;
    sums.ratio_rows += 1;
  }

  if (e["name"] == "normal") {  // quantize_block is quantize_row without importance, block by block
    std::vector<typename F::block> plain(blocks.size()), one(blocks.size());
    F::quantize_row(x.data(), nullptr, x.size(), plain.data());
    for (std::size_t b = 0; b < blocks.size(); ++b) F::quantize_block(x.data() + b * F::block_size, one[b]);
    CHECK(std::memcmp(plain.data(), one.data(), plain.size() * F::block_bytes) == 0);
  }
}

template <class F>
bool dispatch(const std::string& type, const golden& data, const json& e, bool decode, error_sums& sums) {
  if (type != F::name) return false;
  if (decode) {
    check_decode<F>(data, e);
  } else {
    check_encode<F>(data, e, sums);
  }
  return true;
}

template <class... F>
std::map<std::string, error_sums> run_all(bool decode) {
  const golden& data = load_golden();
  std::map<std::string, error_sums> sums;
  std::map<std::string, std::size_t> seen;
  for (const json& e : data.index["entries"]) {
    const std::string type = e["type"].get<std::string>();
    if ((dispatch<F>(type, data, e, decode, sums[type]) || ...)) ++seen[type];
  }
  for (const char* t : {F::name.data()...}) {
    INFO(t);
    CHECK(seen[t] >= 14);  // 10 random rows and 4 model rows, one or two importance variants each
  }
  return sums;
}

#define LOWBIT_IQ_TYPES g::iq1_s, g::iq1_m, g::iq2_xxs, g::iq2_xs, g::iq2_s, g::iq3_xxs, g::iq3_s

template <class... F>
constexpr bool all_quantizable = (lowbit::quantizable_format<F> && ...);
static_assert(all_quantizable<LOWBIT_IQ_TYPES>);

}  // namespace

TEST_CASE("iq grids: transcribed tables equal gguf-py's", "[ggml][iq][grids]") {
  // Checksums of gguf-py 0.19's `gguf.quants.<TYPE>.grid` (after init_grid()) and `IQ2_XXS.ksigns`, as
  // computed by python3 with the FNV-1a loop of grid_checksum.
  CHECK(grid_checksum(grids::iq2xxs_grid) == 0xbb4ee025b5ac6e8eull);
  CHECK(grid_checksum(grids::iq2xs_grid) == 0xc9b1ee61e79909bdull);
  CHECK(grid_checksum(grids::iq2s_grid) == 0x123edd38a3b62b90ull);
  CHECK(grid_checksum(grids::iq3xxs_grid) == 0xdfa5dc83d6a155d5ull);
  CHECK(grid_checksum(grids::iq3s_grid) == 0xfa37020c25b44829ull);
  CHECK(grid_checksum(grids::iq1s_grid) == 0x6703ed863501ae2eull);
  // A few entries as gguf-py decodes them (first, second, middle, last; byte j = element j).
  CHECK(grids::iq2xxs_grid[128] == 0x082b2b0808082b08ull);
  CHECK(grids::iq2xxs_grid[255] == 0x2b2b2b1908081908ull);
  CHECK(grids::iq2xs_grid[256] == 0x190808080808192bull);
  CHECK(grids::iq2s_grid[512] == 0x19080819082b1919ull);
  CHECK(grids::iq3xxs_grid[128] == 0x141c3e04u);
  CHECK(grids::iq3xxs_grid[255] == 0x3e341c04u);
  CHECK(grids::iq3s_grid[256] == 0x05090507u);
  CHECK(grids::iq3s_grid[511] == 0x0f0f0101u);
  CHECK(grids::iq1s_grid[1024] == 0x0000000000ff0100ull);
  CHECK(grids::iq1s_grid[2047] == 0x0101010101010101ull);

  check_grid_structure(grids::iq2xxs_grid, {0x08, 0x19, 0x2b});
  check_grid_structure(grids::iq2xs_grid, {0x08, 0x19, 0x2b});
  check_grid_structure(grids::iq2s_grid, {0x08, 0x19, 0x2b});
  check_grid_structure(grids::iq3xxs_grid, {4, 12, 20, 28, 36, 44, 52, 62});
  check_grid_structure(grids::iq3s_grid, {1, 3, 5, 7, 9, 11, 13, 15});
  check_grid_structure(grids::iq1s_grid, {0xff, 0x00, 0x01});

  // The sign rule: even parity, low 7 bits kept, and gguf-py's 128-byte ksigns table by checksum.
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint32_t k = 0; k < 128; ++k) {
    const std::uint8_t m = grids::sign_mask(k);
    CHECK((std::popcount(m) & 1) == 0);
    CHECK((m & 127u) == k);
    h ^= m;
    h *= 0x100000001b3ull;
  }
  CHECK(h == 0xf19ba8f8c3292ba5ull);
}

TEST_CASE("iq codebook formats: decode golden rows bit-exactly like ggml", "[ggml][iq][golden]") {
  run_all<LOWBIT_IQ_TYPES>(true);
}

TEST_CASE("iq codebook formats: encoder error <= ggml's on every golden row", "[ggml][iq][golden][quantize]") {
  const auto sums = run_all<LOWBIT_IQ_TYPES>(false);
  for (const auto& [type, s] : sums) {
    if (s.entries == 0) continue;
    std::printf("%-8s %2zu rows: mean error lowbit %.6g, ggml %.6g; mean per-row ratio %.4f; rows worse: %zu\n",
                type.c_str(), s.entries, s.ours / s.entries, s.ggml / s.entries,
                s.ratio_rows ? s.ratio_sum / s.ratio_rows : 0.0, s.worse);
  }
}

TEMPLATE_TEST_CASE("iq codebook formats: bad input is a lowbit::error", "[ggml][iq][errors]", g::iq1_s, g::iq1_m,
                   g::iq2_xxs, g::iq2_xs, g::iq2_s, g::iq3_xxs, g::iq3_s) {
  using F = TestType;
  std::vector<float> x(512, 0.5f);
  std::vector<typename F::block> out(2);
  const auto code_of = [&](auto&& f) {
    try {
      f();
    } catch (const lowbit::error& err) {
      return err.code();
    }
    return lowbit::errc::out_of_range;  // "did not throw"
  };
  CHECK(code_of([&] { F::quantize_row(x.data(), nullptr, 300, out.data()); }) == lowbit::errc::shape_mismatch);
  CHECK(code_of([&] { F::quantize_row(nullptr, nullptr, 256, out.data()); }) == lowbit::errc::invalid_argument);
  x[7] = std::nanf("");
  CHECK(code_of([&] { F::quantize_row(x.data(), nullptr, 512, out.data()); }) == lowbit::errc::invalid_argument);
  CHECK(code_of([&] { F::quantize_block(x.data(), out[0]); }) == lowbit::errc::invalid_argument);
  x[7] = INFINITY;
  CHECK(code_of([&] { F::quantize_row(x.data(), nullptr, 512, out.data()); }) == lowbit::errc::invalid_argument);
  x[7] = 0.5f;
  std::vector<float> w(512, 1.0f);
  w[300] = -1.0f;
  CHECK(code_of([&] { F::quantize_row(x.data(), w.data(), 512, out.data()); }) == lowbit::errc::invalid_argument);
  w[300] = std::nanf("");
  CHECK(code_of([&] { F::quantize_row(x.data(), w.data(), 512, out.data()); }) == lowbit::errc::invalid_argument);
}

TEMPLATE_TEST_CASE("iq codebook formats: extreme magnitudes give finite output no worse than zeros", "[ggml][iq]",
                   g::iq1_s, g::iq1_m, g::iq2_xxs, g::iq2_xs, g::iq2_s, g::iq3_xxs, g::iq3_s) {
  using F = TestType;
  for (const float magnitude : {1e-40f, 1e-30f, 1e-6f, 3e4f, 1e9f, 3e38f}) {
    INFO("magnitude " << magnitude);
    std::vector<float> x(256);
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = magnitude * (static_cast<float>(static_cast<int>((i * 37) % 19) - 9) / 9.0f);
    }
    typename F::block b;
    F::quantize_block(x.data(), b);
    std::vector<float> y(256);
    F::dequantize_block(b, y.data());
    std::size_t non_finite = 0;
    for (const float v : y) non_finite += std::isfinite(v) ? 0 : 1;
    CHECK(non_finite == 0);
    const std::vector<float> zeros(256, 0.0f);
    CHECK(weighted_rmse(y, x, nullptr) <= weighted_rmse(zeros, x, nullptr));
  }
  // Sub-blocks of subnormal values next to a large one.
  std::vector<float> x(256, 1e-45f);
  x[3] = 1.0f;
  x[100] = -2.0f;
  typename F::block b;
  F::quantize_block(x.data(), b);
  std::vector<float> y(256);
  F::dequantize_block(b, y.data());
  const std::vector<float> zeros(256, 0.0f);
  CHECK(weighted_rmse(y, x, nullptr) < weighted_rmse(zeros, x, nullptr));
}
