// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// libFuzzer target: the GGUF writer fed by the reader. A file the reader accepts is copied into a
// `gguf_writer` (every KV pair through `gguf_kv_value::from`, every tensor with its shape, type and
// bytes), written to memory and read again. Properties: the writer refuses nothing the reader
// accepts except a tensor with n_dims 0 (errc::shape_mismatch: it writes 1 to 4 dimensions); the
// bytes it writes parse; the second file has the same metadata in the same order (values equal bit
// for bit) and the same tensors (names, types, shapes, bytes) in the same order; and writing the
// second file again gives the same bytes (the writer's output is a fixed point).
//
// Files with `general.alignment` above 2^20 are read but not rewritten: the writer pads the header
// to the alignment, so a 100-byte file with alignment 2^31 legitimately becomes 2 GiB.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_writer.hpp"

namespace {

using lowbit::io::gguf_file;
using lowbit::io::gguf_kv_value;
using lowbit::io::gguf_writer;

// The writer holding `f`'s metadata and tensors, or nothing when it refuses them as documented.
std::optional<gguf_writer> copy_of(const gguf_file& f) {
  gguf_writer w;
  for (const auto& [key, value] : f.metadata()) {
    try {
      w.set(key, gguf_kv_value::from(value));
    } catch (const lowbit::error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      lowbit::fuzz::finding("the writer refused a KV pair the reader accepted");
    }
  }
  for (const auto& t : f.tensors()) {
    try {
      w.add_tensor(t.name, t.type, std::span<const std::uint64_t>(t.ne.data(), t.n_dims), t.data);
    } catch (const lowbit::error& e) {
      if (!(t.n_dims == 0 && e.code() == lowbit::errc::shape_mismatch)) {
        std::fprintf(stderr, "%s\n", e.what());
        lowbit::fuzz::finding("the writer refused a tensor the reader accepted");
      }
      return std::nullopt;
    }
  }
  return w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lowbit::fuzz::expect;
  gguf_file f;
  try {
    f = gguf_file::parse(lowbit::fuzz::as_bytes(data, size));
  } catch (const lowbit::error&) {
    return 0;
  }
  if (f.alignment() > (std::uint64_t{1} << 20)) return 0;
  const std::optional<gguf_writer> w = copy_of(f);
  if (!w) return 0;
  const std::vector<std::byte> bytes = w->to_bytes();
  gguf_file g;
  try {
    g = gguf_file::parse(bytes);
  } catch (const lowbit::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    lowbit::fuzz::finding("the reader refused what the writer wrote");
  }
  expect(g.version() == 3 && g.alignment() == f.alignment(), "version or alignment changed");
  expect(g.metadata().size() == f.metadata().size(), "metadata count changed");
  for (std::size_t i = 0; i < f.metadata().size(); ++i) {
    expect(g.metadata()[i].first == f.metadata()[i].first, "metadata key changed");
    expect(lowbit::fuzz::same_value(g.metadata()[i].second, f.metadata()[i].second), "metadata value changed");
  }
  expect(g.tensors().size() == f.tensors().size(), "tensor count changed");
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& a = f.tensors()[i];
    const auto& b = g.tensors()[i];
    expect(a.name == b.name && a.type == b.type && a.n_dims == b.n_dims && a.ne == b.ne, "tensor info changed");
    expect(std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end()), "tensor bytes changed");
  }
  const std::optional<gguf_writer> w2 = copy_of(g);
  expect(w2.has_value() && w2->to_bytes() == bytes, "writing the re-read file gives other bytes");
  return 0;
}
