// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// Golden data as the scripts in tests/data write it: an index `<name>.json` with {offset, size}
// references into a blob `<name>.bin` of little-endian records. Shared by the format tests.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "catch.hpp"

namespace lowbit_test {

/// An index and its blob, loaded from `LOWBIT_TEST_DATA_DIR/<dir>/<stem>.{json,bin}`.
struct golden_data {
  nlohmann::json index;
  std::vector<std::byte> blob;

  static golden_data load(const std::string& dir, const std::string& stem) {
    const std::filesystem::path base = std::filesystem::path(LOWBIT_TEST_DATA_DIR) / dir;
    golden_data out;
    std::ifstream json_in(base / (stem + ".json"));
    REQUIRE(json_in.good());
    out.index = nlohmann::json::parse(json_in);
    std::ifstream bin(base / (stem + ".bin"), std::ios::binary);
    REQUIRE(bin.good());
    const std::vector<char> chars((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());
    out.blob.resize(chars.size());
    std::memcpy(out.blob.data(), chars.data(), chars.size());
    REQUIRE(out.blob.size() == out.index["bin_size"].get<std::size_t>());
    return out;
  }

  /// The bytes a {offset, size} reference names.
  std::span<const std::byte> bytes(const nlohmann::json& ref) const {
    const auto offset = ref["offset"].get<std::size_t>();
    const auto size = ref["size"].get<std::size_t>();
    REQUIRE(offset + size <= blob.size());
    return std::span<const std::byte>(blob).subspan(offset, size);
  }

  /// The f32 array a reference names (little-endian host assumed: x86-64, arm64).
  std::vector<float> floats(const nlohmann::json& ref) const {
    const auto b = bytes(ref);
    REQUIRE(b.size() % 4 == 0);
    std::vector<float> out(b.size() / 4);
    std::memcpy(out.data(), b.data(), b.size());
    return out;
  }
};

/// Distance in units in the last place between two floats (0 when bit-identical; -0 vs +0 is 1).
inline std::int64_t ulp_distance(float a, float b) {
  const auto ordered = [](float x) {
    const auto i = std::bit_cast<std::int32_t>(x);
    return i < 0 ? std::int64_t{INT32_MIN} - i : std::int64_t{i};
  };
  const std::int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

/// How two float arrays differ bit for bit.
struct bit_comparison {
  std::size_t mismatches = 0;
  std::int64_t max_ulp = 0;
  std::size_t first_bad = 0;
};

inline bit_comparison compare_bits(std::span<const float> got, std::span<const float> want) {
  bit_comparison c;
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::bit_cast<std::uint32_t>(got[i]) != std::bit_cast<std::uint32_t>(want[i])) {
      if (c.mismatches++ == 0) c.first_bad = i;
      c.max_ulp = std::max(c.max_ulp, ulp_distance(got[i], want[i]));
    }
  }
  return c;
}

}  // namespace lowbit_test
