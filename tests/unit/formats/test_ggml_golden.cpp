// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// GGML block decoders against gguf-py's golden data (tests/data/gguf/make_golden_blocks.py): real rows of
// the SmolLM2 model and seeded random rows. Decoding must match bit for bit: both sides compute
// `d * q (+ m)` in f32 with a separate multiply and add.

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "catch.hpp"
#include "golden_data.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q5_0.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace {

using json = nlohmann::json;

using golden = lowbit_test::golden_data;
using lowbit_test::compare_bits;
using comparison = lowbit_test::bit_comparison;

const golden& load_golden() {
  static const golden g = golden::load("gguf", "golden_blocks");
  return g;
}

// Decodes `raw` with F::dequantize_block (block by block) and with lowbit::dequantize_row<F>; both must
// equal `want` bit for bit.
template <class F>
void check_decode(const std::string& name, std::span<const std::byte> raw, const std::vector<float>& want) {
  INFO(name << " (" << F::name << ", " << want.size() << " elements)");
  REQUIRE(want.size() % F::block_size == 0);
  REQUIRE(raw.size() == want.size() / F::block_size * F::block_bytes);

  std::vector<float> by_block(want.size());
  for (std::size_t b = 0; b < want.size() / F::block_size; ++b) {
    typename F::block block;
    std::memcpy(&block, raw.data() + b * F::block_bytes, F::block_bytes);
    F::dequantize_block(block, by_block.data() + b * F::block_size);
  }
  const comparison c = compare_bits(by_block, want);
  INFO("dequantize_block: " << c.mismatches << " values differ from gguf-py, max " << c.max_ulp
                            << " ulp, first at element " << c.first_bad);
  CHECK(c.mismatches == 0);

  std::vector<float> by_row(want.size());
  lowbit::dequantize_row<F>(raw, by_row);
  const comparison r = compare_bits(by_row, want);
  INFO("dequantize_row: " << r.mismatches << " values differ from gguf-py, max " << r.max_ulp << " ulp");
  CHECK(r.mismatches == 0);
}

void check_entry(const golden& g, const json& e) {
  const std::string type = e["type"].get<std::string>();
  const std::string name = e["name"].get<std::string>();
  const auto raw = g.bytes(e["raw"]);
  const auto want = g.floats(e["dequantized"]);
  REQUIRE(want.size() == e["n_elements"].get<std::size_t>());
  if (type == "Q4_0") check_decode<lowbit::ggml::q4_0>(name, raw, want);
  if (type == "Q4_1") check_decode<lowbit::ggml::q4_1>(name, raw, want);
  if (type == "Q5_0") check_decode<lowbit::ggml::q5_0>(name, raw, want);
  if (type == "Q5_1") check_decode<lowbit::ggml::q5_1>(name, raw, want);
  if (type == "Q8_0") check_decode<lowbit::ggml::q8_0>(name, raw, want);
}

// Quantizes the golden input with F::quantize_block and compares with gguf-py's bytes.
template <class F>
void check_quantize(const std::string& name, const std::vector<float>& input, std::span<const std::byte> want) {
  INFO(name);
  REQUIRE(want.size() == input.size() / F::block_size * F::block_bytes);
  std::vector<std::byte> got(want.size());
  for (std::size_t b = 0; b < input.size() / F::block_size; ++b) {
    typename F::block block;
    F::quantize_block(input.data() + b * F::block_size, block);
    std::memcpy(got.data() + b * F::block_bytes, &block, F::block_bytes);
  }
  std::size_t differing_blocks = 0;
  for (std::size_t b = 0; b < got.size() / F::block_bytes; ++b) {
    if (std::memcmp(got.data() + b * F::block_bytes, want.data() + b * F::block_bytes, F::block_bytes) != 0)
      ++differing_blocks;
  }
  INFO(differing_blocks << " of " << got.size() / F::block_bytes << " blocks differ from gguf-py's quantize");
  CHECK(differing_blocks == 0);
}

}  // namespace

TEST_CASE("ggml: golden data is complete and consistent", "[ggml][golden]") {
  const golden& g = load_golden();
  std::size_t model_q4_1 = 0, model_q8_0 = 0;
  std::map<std::string, std::size_t> random_per_type;
  for (const json& e : g.index["entries"]) {
    const std::string type = e["type"].get<std::string>();
    INFO(e["name"].get<std::string>());
    std::optional<lowbit::ggml::type_traits> traits;
    for (std::uint32_t id = 0; id < 64 && !traits; ++id) {
      const auto t = lowbit::ggml::find_type_traits(id);
      if (t && t->name == type) traits = t;
    }
    REQUIRE(traits.has_value());
    const auto n = e["n_elements"].get<std::size_t>();
    REQUIRE(n % traits->block_size == 0);
    CHECK(g.bytes(e["raw"]).size() == n / traits->block_size * traits->block_bytes);
    CHECK(g.bytes(e["dequantized"]).size() == n * 4);
    if (e["source"] == "model") {
      (type == "Q4_1" ? model_q4_1 : model_q8_0) += 1;
    } else {
      CHECK(g.bytes(e["input"]).size() == n * 4);
      ++random_per_type[type];
    }
  }
  CHECK(model_q4_1 == 10);
  CHECK(model_q8_0 == 4);
  // 9 kinds, the last ("ties") with exact ties of x / d for Q8_0: roundf's ties away from zero
  // differ from ties to even there, so a quantizer rounding to even fails the quantize case below.
  for (const char* t : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"}) CHECK(random_per_type[t] == 9);
}

TEST_CASE("ggml: Q4_1 and Q8_0 decode real model rows bit-exactly like gguf-py", "[ggml][golden][q4_1][q8_0]") {
  const golden& g = load_golden();
  for (const json& e : g.index["entries"]) {
    if (e["source"] == "model") check_entry(g, e);
  }
}

TEST_CASE("ggml: Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 decode random rows bit-exactly like gguf-py", "[ggml][golden]") {
  const golden& g = load_golden();
  for (const json& e : g.index["entries"]) {
    if (e["source"] == "random") check_entry(g, e);
  }
}

TEST_CASE("ggml: Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 quantize random rows byte-exactly like gguf-py", "[ggml][golden]") {
  const golden& g = load_golden();
  for (const json& e : g.index["entries"]) {
    if (e["source"] != "random") continue;
    const std::string type = e["type"].get<std::string>();
    const std::string name = e["name"].get<std::string>();
    const auto input = g.floats(e["input"]);
    const auto raw = g.bytes(e["raw"]);
    if (type == "Q4_0") check_quantize<lowbit::ggml::q4_0>(name, input, raw);
    if (type == "Q4_1") check_quantize<lowbit::ggml::q4_1>(name, input, raw);
    if (type == "Q5_0") check_quantize<lowbit::ggml::q5_0>(name, input, raw);
    if (type == "Q5_1") check_quantize<lowbit::ggml::q5_1>(name, input, raw);
    if (type == "Q8_0") check_quantize<lowbit::ggml::q8_0>(name, input, raw);
  }
}

TEST_CASE("ggml: golden model rows are the model file's bytes", "[ggml][golden][model]") {
  const std::string path = LOWBIT_SMOLLM2_GGUF;
  if (path.empty()) {
    FAIL(
        "LOWBIT_SMOLLM2_GGUF is empty: configure with -DLOWBIT_SMOLLM2_GGUF=<path to "
        "SmolLM2-135M-Instruct.Q4_1.gguf> (scripts/fetch_model.sh) to run the model tests");
  }
  const golden& g = load_golden();
  const auto f = lowbit::io::gguf_file::open(path);
  for (const json& e : g.index["entries"]) {
    if (e["source"] != "model") continue;
    INFO(e["name"].get<std::string>());
    const auto& t = f.tensor(e["tensor"].get<std::string>());
    const auto row = e["row"].get<std::uint64_t>();
    const auto raw = g.bytes(e["raw"]);
    REQUIRE(raw.size() == t.row_bytes());
    CHECK(t.data.data() + row * t.row_bytes() == f.bytes().data() + e["file_offset"].get<std::size_t>());
    CHECK(std::memcmp(t.data.data() + row * t.row_bytes(), raw.data(), raw.size()) == 0);
  }
}
