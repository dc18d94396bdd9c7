// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include "lowbit/core/exact_fp.hpp"

LOWBIT_EXACT_FP_BEGIN

namespace lowbit::ggml {

/// A GGML tensor type id as stored in a GGUF tensor info (a little-endian u32).
///
/// The numbering is ggml's `enum ggml_type` (ggml/include/ggml.h, llama.cpp b-series vendored by
/// llama-cpp-python 0.3.36). Ids 4, 5 and 31..33, 36..38 were retired by ggml and never valid in a
/// GGUF file.
enum class type : std::uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
  nvfp4 = 40,
  q1_0 = 41,
  q2_0 = 42,
};

/// Storage facts of one GGML type: its GGUF name, elements per block and bytes per block.
struct type_traits {
  ggml::type id;
  std::string_view name;
  std::size_t block_size;   ///< elements per block (1 for plain scalar types)
  std::size_t block_bytes;  ///< bytes per block
};

namespace detail {
// Block sizes and byte counts from ggml's `type_traits` table and `ggml-common.h` block structs.
inline constexpr std::array<type_traits, 35> all_type_traits{{
    {type::f32, "F32", 1, 4},
    {type::f16, "F16", 1, 2},
    {type::q4_0, "Q4_0", 32, 18},
    {type::q4_1, "Q4_1", 32, 20},
    {type::q5_0, "Q5_0", 32, 22},
    {type::q5_1, "Q5_1", 32, 24},
    {type::q8_0, "Q8_0", 32, 34},
    {type::q8_1, "Q8_1", 32, 36},
    {type::q2_k, "Q2_K", 256, 84},
    {type::q3_k, "Q3_K", 256, 110},
    {type::q4_k, "Q4_K", 256, 144},
    {type::q5_k, "Q5_K", 256, 176},
    {type::q6_k, "Q6_K", 256, 210},
    {type::q8_k, "Q8_K", 256, 292},
    {type::iq2_xxs, "IQ2_XXS", 256, 66},
    {type::iq2_xs, "IQ2_XS", 256, 74},
    {type::iq3_xxs, "IQ3_XXS", 256, 98},
    {type::iq1_s, "IQ1_S", 256, 50},
    {type::iq4_nl, "IQ4_NL", 32, 18},
    {type::iq3_s, "IQ3_S", 256, 110},
    {type::iq2_s, "IQ2_S", 256, 82},
    {type::iq4_xs, "IQ4_XS", 256, 136},
    {type::i8, "I8", 1, 1},
    {type::i16, "I16", 1, 2},
    {type::i32, "I32", 1, 4},
    {type::i64, "I64", 1, 8},
    {type::f64, "F64", 1, 8},
    {type::iq1_m, "IQ1_M", 256, 56},
    {type::bf16, "BF16", 1, 2},
    {type::tq1_0, "TQ1_0", 256, 54},
    {type::tq2_0, "TQ2_0", 256, 66},
    {type::mxfp4, "MXFP4", 32, 17},
    {type::nvfp4, "NVFP4", 64, 36},
    {type::q1_0, "Q1_0", 128, 18},
    {type::q2_0, "Q2_0", 64, 18},
}};
}  // namespace detail

/// The storage facts of type id `id`, or `std::nullopt` when `id` is not a GGML type this build
/// knows. Never guesses: callers turn `nullopt` into `errc::unknown_type`.
constexpr std::optional<type_traits> find_type_traits(std::uint32_t id) noexcept {
  for (const auto& t : detail::all_type_traits) {
    if (t.block_size != 0 && static_cast<std::uint32_t>(t.id) == id) return t;
  }
  return std::nullopt;
}

/// The GGUF name of `t` ("Q4_1"), or "unknown" for a value outside the enum.
constexpr std::string_view name(type t) noexcept {
  auto traits = find_type_traits(static_cast<std::uint32_t>(t));
  return traits ? traits->name : std::string_view("unknown");
}

}  // namespace lowbit::ggml

LOWBIT_EXACT_FP_END
