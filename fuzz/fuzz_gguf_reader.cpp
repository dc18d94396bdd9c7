// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// libFuzzer target: the GGUF reader with tensor access. Parses the input from memory; a file it
// accepts is walked completely: every metadata value read through every accessor that applies,
// every tensor's bytes touched, and row 0 of every tensor whose type is in the library's GGUF
// catalogue (`lowbit::gguf_formats`) dequantized. Property: the reader either throws
// `lowbit::error` or yields a file whose every view lies inside the input and matches its info.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace {

using lowbit::io::gguf_value;
using lowbit::io::gguf_value_type;

// Reads `v` through the accessors that apply to it; a type_mismatch is an expected answer.
void walk(const gguf_value& v, unsigned& sink) {
  if (v.type() == gguf_value_type::string) {
    for (const char c : v.as_string()) sink += static_cast<unsigned char>(c);
    return;
  }
  if (!v.is_array()) {
    try {
      sink += v.as<double>() > 0.0 ? 1u : 0u;
    } catch (const lowbit::error&) {
    }
    try {
      sink += static_cast<unsigned>(v.as<std::int64_t>());
    } catch (const lowbit::error&) {
    }
    try {
      sink += v.as<bool>() ? 1u : 0u;
    } catch (const lowbit::error&) {
    }
    return;
  }
  const auto t = v.array_type();
  if (t == gguf_value_type::string) {
    for (const auto s : v.strings()) sink += static_cast<unsigned>(s.size());
  } else if (t != gguf_value_type::array) {
    try {
      for (const float x : v.as_array<float>()) sink += x == x ? 1u : 0u;
    } catch (const lowbit::error&) {
    }
    try {
      for (const std::uint64_t x : v.as_array<std::uint64_t>()) sink += static_cast<unsigned>(x);
    } catch (const lowbit::error&) {
    }
  }
  for (std::uint64_t i = 0; i < v.size(); ++i) walk(v[i], sink);
  try {
    (void)v[v.size()];
    lowbit::fuzz::finding("gguf_value::operator[] accepted index size()");
  } catch (const lowbit::error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lowbit::fuzz::expect;
  const auto bytes = lowbit::fuzz::as_bytes(data, size);
  lowbit::io::gguf_file f;
  try {
    f = lowbit::io::gguf_file::parse(bytes);
  } catch (const lowbit::error&) {
    return 0;
  }
  unsigned sink = 0;
  expect(f.version() == 2 || f.version() == 3, "accepted a version other than 2 or 3");
  expect(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0, "alignment not a power of two");
  expect(f.data_offset() % f.alignment() == 0, "data offset not aligned");
  for (const auto& [key, value] : f.metadata()) {
    expect(f.find(key) == &value, "find(key) does not give the key's own value");
    walk(value, sink);
  }
  for (const auto& t : f.tensors()) {
    expect(f.find_tensor(t.name) == &t, "find_tensor(name) does not give the tensor");
    expect(t.n_dims <= 4, "n_dims > 4 accepted");
    expect(t.data.size() == t.n_bytes, "tensor view size differs from n_bytes");
    expect(t.data.empty() || (t.data.data() >= bytes.data() && t.data.data() + t.data.size() <= bytes.data() + size),
           "tensor view outside the input");
    expect(t.n_rows() != 0 && t.n_bytes % t.n_rows() == 0, "tensor bytes are not whole rows");
    for (const std::byte b : t.data) sink += std::to_integer<unsigned>(b);
    if (lowbit::gguf_formats::contains(t.type)) {
      lowbit::visit_format(lowbit::gguf_formats{}, t.type, [&]<class F>(F) {
        std::vector<float> row(static_cast<std::size_t>(t.ne[0]));
        lowbit::dequantize_row<F>(t.data.first(static_cast<std::size_t>(t.row_bytes())), row);
        for (const float x : row) sink += x == x ? 1u : 0u;
      });
    }
  }
  // Keeps the reads from being optimized away.
  volatile unsigned keep = sink;
  (void)keep;
  return 0;
}
