// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Shared helpers of the libFuzzer targets in fuzz/: byte views of the input, a deep comparison of
// GGUF metadata values, and the rule that a finding aborts (libFuzzer records the input).

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_value.hpp"

namespace lowbit::fuzz {

/// The fuzzer's input as bytes (`size` bytes at `data`; `data` may be null when `size` is 0).
inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) noexcept {
  return {reinterpret_cast<const std::byte*>(data), size};
}

/// Reports a broken property with `what` on stderr and aborts, so that libFuzzer keeps the input.
[[noreturn]] inline void finding(std::string_view what) noexcept {
  std::fprintf(stderr, "lowbit fuzz finding: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

/// Aborts with `what` unless `ok`.
inline void expect(bool ok, std::string_view what) noexcept {
  if (!ok) finding(what);
}

/// True when `a` and `b` hold the same GGUF value: same type, same bits for scalars (so NaNs
/// compare by representation), same bytes for strings, arrays compared element by element.
inline bool same_value(const io::gguf_value& a, const io::gguf_value& b) {
  if (a.type() != b.type()) return false;
  if (a.type() == io::gguf_value_type::string) return a.as_string() == b.as_string();
  if (!a.is_array()) {
    const auto raw = [](const io::gguf_value& v) {
      // Every scalar converts losslessly to its own width's unsigned or signed integer, or a float.
      switch (v.type()) {
        case io::gguf_value_type::f32:
          return static_cast<std::uint64_t>(std::bit_cast<std::uint32_t>(v.as<float>()));
        case io::gguf_value_type::f64:
          return std::bit_cast<std::uint64_t>(v.as<double>());
        case io::gguf_value_type::boolean:
          return static_cast<std::uint64_t>(v.as<bool>());
        case io::gguf_value_type::i8:
        case io::gguf_value_type::i16:
        case io::gguf_value_type::i32:
        case io::gguf_value_type::i64:
          return static_cast<std::uint64_t>(v.as<std::int64_t>());
        default:
          return v.as<std::uint64_t>();
      }
    };
    return raw(a) == raw(b);
  }
  if (a.array_type() != b.array_type() || a.size() != b.size()) return false;
  if (a.array_type() == io::gguf_value_type::string) {
    const auto sa = a.strings();
    const auto sb = b.strings();
    return std::equal(sa.begin(), sa.end(), sb.begin(), sb.end());
  }
  if (a.array_type() != io::gguf_value_type::array) {
    const auto ra = a.raw_elements();
    const auto rb = b.raw_elements();
    return std::equal(ra.begin(), ra.end(), rb.begin(), rb.end());
  }
  for (std::uint64_t i = 0; i < a.size(); ++i) {
    if (!same_value(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace lowbit::fuzz
