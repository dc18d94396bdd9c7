// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4 and the importance-weighted paths of Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0 against ggml's own C quantizer and decoder (tests/data/ggml_quant, made by
// make_ggml_quant_golden.py): decoding must match bit for bit, quantize_row byte for byte with and
// without the importance vector (ggml_quantize_chunk's imatrix).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "catch.hpp"
#include "golden_data.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/formats/ggml/iq4_nl.hpp"
#include "lowbit/formats/ggml/iq4_xs.hpp"
#include "lowbit/formats/ggml/mxfp4.hpp"
#include "lowbit/formats/ggml/nvfp4.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/formats/ggml/tq1_0.hpp"
#include "lowbit/formats/ggml/tq2_0.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace {

namespace ggml = lowbit::ggml;
using json = nlohmann::json;
using golden = lowbit_test::golden_data;

// The formats under test: the six new ones, then the legacy ones whose imatrix path is new.
using new_formats = std::tuple<ggml::iq4_nl, ggml::iq4_xs, ggml::tq1_0, ggml::tq2_0, ggml::mxfp4, ggml::nvfp4>;
using legacy_formats = std::tuple<ggml::q4_0, ggml::q4_1, ggml::q5_0, ggml::q5_1, ggml::q8_0>;

template <class F>
concept row_quantizable = lowbit::quantizable_format<F> &&
    requires(const float* x, const float* w, std::size_t n, typename F::block* out) {
  F::quantize_row(x, w, n, out);
};

template <class... F>
constexpr bool all_row_quantizable(std::tuple<F...>*) {
  return (row_quantizable<F> && ...);
}
static_assert(all_row_quantizable(static_cast<new_formats*>(nullptr)));
static_assert(all_row_quantizable(static_cast<legacy_formats*>(nullptr)));

const golden& load_golden() {
  static const golden g = golden::load("ggml_quant", "golden");
  return g;
}

// Mismatch counts of one golden entry.
struct entry_result {
  std::size_t decode_block_mismatches = 0;  // floats that differ from ggml's decoder (dequantize_block)
  std::size_t decode_row_mismatches = 0;    // the same through lowbit::dequantize_row<F>
  std::size_t blocks = 0;
  std::size_t quantize_row_differing = 0;    // blocks of quantize_row(x, importance) != ggml's bytes
  std::size_t quantize_block_differing = 0;  // blocks of quantize_block(x) != ggml's bytes (no imatrix only)
};

template <class F>
entry_result check_entry(const golden& g, const json& e) {
  entry_result r;
  const auto n = e["n_elements"].get<std::size_t>();
  const auto raw = g.bytes(e["raw"]);
  const auto want = g.floats(e["dequantized"]);
  const auto input = g.floats(e["input"]);
  REQUIRE(e["block_size"].get<std::size_t>() == F::block_size);
  REQUIRE(e["block_bytes"].get<std::size_t>() == F::block_bytes);
  REQUIRE(static_cast<std::uint32_t>(F::type_id) == e["type_id"].get<std::uint32_t>());
  REQUIRE(want.size() == n);
  REQUIRE(input.size() == n);
  REQUIRE(n % F::block_size == 0);
  r.blocks = n / F::block_size;
  REQUIRE(raw.size() == r.blocks * F::block_bytes);

  std::vector<typename F::block> blocks(r.blocks);
  std::memcpy(blocks.data(), raw.data(), raw.size());
  std::vector<float> by_block(n);
  for (std::size_t b = 0; b < r.blocks; ++b) F::dequantize_block(blocks[b], by_block.data() + b * F::block_size);
  r.decode_block_mismatches = lowbit_test::compare_bits(by_block, want).mismatches;
  std::vector<float> by_row(n);
  lowbit::dequantize_row<F>(raw, by_row);
  r.decode_row_mismatches = lowbit_test::compare_bits(by_row, want).mismatches;

  const bool with_imatrix = e["with_imatrix"].get<bool>();
  std::vector<float> importance;
  if (with_imatrix) importance = g.floats(e["imatrix"]);
  REQUIRE(importance.size() == (with_imatrix ? n : 0));
  const auto count_differing = [&](const std::vector<typename F::block>& got) {
    std::size_t differing = 0;
    for (std::size_t b = 0; b < r.blocks; ++b) {
      if (std::memcmp(&got[b], raw.data() + b * F::block_bytes, F::block_bytes) != 0) ++differing;
    }
    return differing;
  };
  std::vector<typename F::block> got(r.blocks);
  F::quantize_row(input.data(), with_imatrix ? importance.data() : nullptr, n, got.data());
  r.quantize_row_differing = count_differing(got);
  if (!with_imatrix) {
    std::vector<typename F::block> per_block(r.blocks);
    for (std::size_t b = 0; b < r.blocks; ++b) F::quantize_block(input.data() + b * F::block_size, per_block[b]);
    r.quantize_block_differing = count_differing(per_block);
  }
  return r;
}

// Runs every golden entry of every format in `Formats` and checks all counts are zero; reports the
// per-type totals when something differs. Returns the number of entries checked per type.
template <class... F>
std::map<std::string, std::size_t> check_all(std::tuple<F...>*) {
  const golden& g = load_golden();
  std::map<std::string, std::size_t> entries_per_type;
  for (const json& e : g.index["entries"]) {
    const std::string type = e["type"].get<std::string>();
    const auto run = [&]<class Format>(Format*) {
      if (type != Format::name) return;
      INFO(type << " " << e["name"].get<std::string>() << (e["with_imatrix"].get<bool>() ? " with imatrix" : ""));
      const entry_result r = check_entry<Format>(g, e);
      INFO("dequantize_block: " << r.decode_block_mismatches << " floats differ from ggml; dequantize_row: "
                                << r.decode_row_mismatches << "; quantize_row: " << r.quantize_row_differing << " of "
                                << r.blocks << " blocks differ; quantize_block: " << r.quantize_block_differing
                                << " of " << r.blocks << " blocks differ");
      CHECK(r.decode_block_mismatches == 0);
      CHECK(r.decode_row_mismatches == 0);
      CHECK(r.quantize_row_differing == 0);
      CHECK(r.quantize_block_differing == 0);
      ++entries_per_type[type];
    };
    (run(static_cast<F*>(nullptr)), ...);
  }
  return entries_per_type;
}

template <class F>
std::vector<float> ramp(std::size_t n) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * 3.0f;
  return x;
}

// Argument errors of F::quantize_row: a length off the block grid, NaN / infinite inputs, and (for
// formats that use it) bad importance; and dequantize_row with a wrong byte count.
template <class F>
void check_bad_arguments(bool uses_importance) {
  INFO(F::name);
  const std::size_t n = 2 * F::block_size;
  std::vector<float> x = ramp<F>(n);
  std::vector<float> w(n, 1.0f);
  std::vector<typename F::block> out(2);
  const auto code_of = [&](auto&& call) {
    try {
      call();
    } catch (const lowbit::error& err) {
      return err.code();
    }
    FAIL("no lowbit::error thrown");
    return lowbit::errc::unsupported;
  };
  CHECK(code_of([&] { F::quantize_row(x.data(), nullptr, n - 1, out.data()); }) == lowbit::errc::shape_mismatch);
  CHECK(code_of([&] { F::quantize_row(nullptr, nullptr, n, out.data()); }) == lowbit::errc::invalid_argument);
  x[F::block_size + 3] = std::numeric_limits<float>::quiet_NaN();
  CHECK(code_of([&] { F::quantize_row(x.data(), nullptr, n, out.data()); }) == lowbit::errc::invalid_argument);
  x[F::block_size + 3] = -std::numeric_limits<float>::infinity();
  CHECK(code_of([&] { F::quantize_row(x.data(), w.data(), n, out.data()); }) == lowbit::errc::invalid_argument);
  x[F::block_size + 3] = 1.0f;
  F::quantize_row(x.data(), w.data(), n, out.data());  // valid
  F::quantize_row(x.data(), nullptr, 0, nullptr);      // empty row: nothing to do
  w[5] = -1.0f;
  if (uses_importance) {
    CHECK(code_of([&] { F::quantize_row(x.data(), w.data(), n, out.data()); }) == lowbit::errc::invalid_argument);
    w[5] = std::numeric_limits<float>::quiet_NaN();
    CHECK(code_of([&] { F::quantize_row(x.data(), w.data(), n, out.data()); }) == lowbit::errc::invalid_argument);
  } else {
    // ggml ignores the importance of this format; so does lowbit: the result equals the plain one.
    std::vector<typename F::block> plain(2);
    F::quantize_row(x.data(), nullptr, n, plain.data());
    F::quantize_row(x.data(), w.data(), n, out.data());
    CHECK(std::memcmp(plain.data(), out.data(), 2 * F::block_bytes) == 0);
  }
  std::vector<std::byte> bytes(2 * F::block_bytes - 1);
  std::vector<float> y(n);
  CHECK(code_of([&] { lowbit::dequantize_row<F>(bytes, y); }) == lowbit::errc::shape_mismatch);
}

}  // namespace

TEST_CASE("ggml: IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, MXFP4, NVFP4 decode and quantize exactly like ggml",
          "[ggml][golden][iq4_nl][iq4_xs][tq1_0][tq2_0][mxfp4][nvfp4]") {
  const auto counts = check_all(static_cast<new_formats*>(nullptr));
  for (const char* type : {"IQ4_NL", "IQ4_XS", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4"}) {
    INFO(type);
    CHECK(counts.count(type) == 1);
    if (counts.count(type) == 1) CHECK(counts.at(type) == 28);  // 14 rows, with and without imatrix
  }
}

TEST_CASE("ggml: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 quantize_row with importance is byte-exact with ggml",
          "[ggml][golden][imatrix][q4_0][q4_1][q5_0][q5_1][q8_0]") {
  const auto counts = check_all(static_cast<legacy_formats*>(nullptr));
  for (const char* type : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"}) {
    INFO(type);
    CHECK(counts.count(type) == 1);
    if (counts.count(type) == 1) CHECK(counts.at(type) == 28);
  }
}

TEST_CASE("ggml: importance changes the legacy, IQ4 encodings but not TQ, MXFP4, NVFP4, Q8_0", "[ggml][imatrix]") {
  // A guard against an importance path that silently falls back to the plain one: for the formats
  // whose ggml quantizer uses the imatrix, at least one golden entry's bytes must differ between the
  // two variants of the same input.
  const golden& g = load_golden();
  std::map<std::string, std::map<std::string, std::span<const std::byte>>> plain;
  std::map<std::string, bool> differs;
  for (const json& e : g.index["entries"]) {
    if (!e["with_imatrix"].get<bool>()) plain[e["type"]][e["name"]] = g.bytes(e["raw"]);
  }
  for (const json& e : g.index["entries"]) {
    if (!e["with_imatrix"].get<bool>()) continue;
    const auto& p = plain[e["type"]];
    const auto it = p.find(e["name"].get<std::string>());
    if (it == p.end()) continue;
    const auto raw = g.bytes(e["raw"]);
    differs[e["type"]] |=
        !(raw.size() == it->second.size() && std::memcmp(raw.data(), it->second.data(), raw.size()) == 0);
  }
  for (const char* t : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "IQ4_XS"}) {
    INFO(t);
    CHECK(differs[t]);
  }
  for (const char* t : {"Q8_0", "TQ1_0", "TQ2_0", "MXFP4", "NVFP4"}) {
    INFO(t);
    CHECK_FALSE(differs[t]);
  }
}

TEST_CASE("ggml: quantize_row of the new formats rejects bad arguments with lowbit::error", "[ggml][errors]") {
  check_bad_arguments<ggml::iq4_nl>(true);
  check_bad_arguments<ggml::iq4_xs>(true);
  check_bad_arguments<ggml::q4_0>(true);
  check_bad_arguments<ggml::q4_1>(true);
  check_bad_arguments<ggml::q5_0>(true);
  check_bad_arguments<ggml::q5_1>(true);
  check_bad_arguments<ggml::q8_0>(false);
  check_bad_arguments<ggml::tq1_0>(false);
  check_bad_arguments<ggml::tq2_0>(false);
  check_bad_arguments<ggml::mxfp4>(false);
  check_bad_arguments<ggml::nvfp4>(false);
}

TEST_CASE("ggml: scale codes of MXFP4 (E8M0) and NVFP4 (UE4M3) decode as ggml defines them", "[ggml][mxfp4][nvfp4]") {
  // E8M0 halves: 2^(e - 128), exact, subnormal for e = 0, 1.
  for (int e = 0; e < 256; ++e) {
    INFO("e = " << e);
    CHECK(ggml::detail::e8m0_half_to_f32(static_cast<std::uint8_t>(e)) == std::ldexp(1.0f, e - 128));
  }
  // UE4M3: decoded values increase with the code up to 0x7e; codes below 0x78 round-trip through
  // ggml's encoder, which saturates every value of exponent 15 (256 .. 448) to 0x7e.
  float previous = -1.0f;
  for (int v = 0; v < 0x7f; ++v) {
    INFO("code " << v);
    const float half = ggml::detail::ue4m3_half_to_f32(static_cast<std::uint8_t>(v));
    CHECK(half > previous);
    previous = half;
    CHECK(ggml::detail::f32_to_ue4m3(2.0f * half) == (v < 0x78 ? v : 0x7e));
  }
  CHECK(ggml::detail::ue4m3_half_to_f32(0x7e) == 224.0f);  // 448 / 2
  CHECK(ggml::detail::ue4m3_half_to_f32(0x7f) == 0.0f);
  CHECK(ggml::detail::f32_to_ue4m3(1e9f) == 0x7e);
  CHECK(ggml::detail::f32_to_ue4m3(-1.0f) == 0);
}

TEST_CASE("ggml: MXFP4 blocks below 2^-125 encode to zero codes, as ggml's wrapping exponent does", "[ggml][mxfp4]") {
  // floor(log2(max)) - 2 + 127 is negative here; ggml's float -> u8 conversion wraps it modulo 256 on
  // x86-64, which makes the scale huge and every code 0. The block must still decode to zeros.
  for (const float tiny : {1e-39f, 1e-45f, 2e-38f}) {
    INFO("max = " << tiny);
    std::vector<float> x(32, 0.0f);
    x[3] = tiny;
    x[17] = -tiny / 2.0f;
    ggml::mxfp4::block b{};
    ggml::mxfp4::quantize_block(x.data(), b);
    for (const std::uint8_t q : b.qs) CHECK(q == 0);
    std::vector<float> y(32, 1.0f);
    ggml::mxfp4::dequantize_block(b, y.data());
    for (const float v : y) CHECK(v == 0.0f);
  }
}
