// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// libFuzzer target: every block decoder of the library's GGUF catalogue (`lowbit::gguf_formats`),
// bytes to floats. Byte 0 picks the format (its index in the list, modulo the list's size); the
// rest, cut to whole blocks, is decoded by that format, reached at run time through `visit_format`
// by its ggml type id, from an unaligned copy. Properties: no out-of-bounds read or undefined
// behaviour; `dequantize_row` equals `F::dequantize_block` block by block, bit for bit; and a byte
// count that is not whole blocks is refused with `errc::shape_mismatch`.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "fuzz_common.hpp"
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/quant/dequantize.hpp"

namespace {

template <class F>
void decode_with(std::span<const std::byte> input) {
  using lowbit::fuzz::expect;
  const std::size_t n_blocks = input.size() / F::block_bytes;
  // An unaligned copy: the decoders must not assume the block's alignment.
  std::vector<std::byte> shifted(n_blocks * F::block_bytes + 1);
  if (n_blocks != 0) std::memcpy(shifted.data() + 1, input.data(), n_blocks * F::block_bytes);
  const std::span<const std::byte> src(shifted.data() + 1, n_blocks * F::block_bytes);
  std::vector<float> row(n_blocks * F::block_size);
  lowbit::visit_format(lowbit::gguf_formats{}, F::type_id, [&]<class G>(G) { lowbit::dequantize_row<G>(src, row); });
  std::vector<float> block_out(F::block_size);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    typename F::block block;
    std::memcpy(&block, src.data() + b * F::block_bytes, F::block_bytes);
    F::dequantize_block(block, block_out.data());
    expect(std::memcmp(block_out.data(), row.data() + b * F::block_size, F::block_size * sizeof(float)) == 0,
           "dequantize_row differs from dequantize_block");
  }
  if (input.size() % F::block_bytes != 0) {
    try {
      lowbit::dequantize_row<F>(input, row);
      lowbit::fuzz::finding("dequantize_row accepted a partial block");
    } catch (const lowbit::error& e) {
      expect(e.code() == lowbit::errc::shape_mismatch, "partial block not refused with shape_mismatch");
    }
  }
}

// Decodes `input` with the format at position `index` of the list.
template <class... Fs>
void decode_one(lowbit::format_list<Fs...>, std::size_t index, std::span<const std::byte> input) {
  std::size_t i = 0;
  ((i++ == index ? decode_with<Fs>(input) : void()), ...);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t index = data[0] % lowbit::gguf_formats::size;
  decode_one(lowbit::gguf_formats{}, index, lowbit::fuzz::as_bytes(data + 1, size - 1));
  return 0;
}
