// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace lowbit::io {

/// The 2-D tensor `name` of a GGUF file as a zero-copy weight view W(N, K) of format F, with
/// K = ne[0] (contiguous) and N = ne[1] — the static bridge from a file's run-time types to a
/// compile-time format (docs/design.md, "Compile time meets run time").
/// throws lowbit::error{errc::missing_key} if there is no such tensor; {errc::type_mismatch} naming
/// the tensor, the expected and the found type; {errc::shape_mismatch} if it is not 2-D or K is
/// not a multiple of F::block_size.
template <format F>
weight_view<F> weight_of(const gguf_file& file, std::string_view name) {
  const gguf_tensor_info& t = file.tensor(name);
  check(t.type == F::type_id, errc::type_mismatch, [&] {
    return "tensor '" + std::string(name) + "': expected type " + std::string(F::name) + ", the file has " +
           std::string(ggml::name(t.type));
  });
  check(t.n_dims == 2, errc::shape_mismatch, [&] {
    return "tensor '" + std::string(name) + "': expected 2 dimensions, the file has " + std::to_string(t.n_dims);
  });
  return make_weight_view<F>(t.data, static_cast<std::size_t>(t.ne[1]), static_cast<std::size_t>(t.ne[0]));
}

/// The 1-D F32 tensor `name` (a norm weight, a bias) as a span of `expected_size` floats.
/// throws lowbit::error{errc::missing_key}, {errc::type_mismatch} or {errc::shape_mismatch}
/// naming the tensor and both sizes.
inline std::span<const float> f32_vector_of(const gguf_file& file, std::string_view name, std::size_t expected_size) {
  const gguf_tensor_info& t = file.tensor(name);
  check(t.type == ggml::type::f32, errc::type_mismatch, [&] {
    return "tensor '" + std::string(name) + "': expected type F32, the file has " + std::string(ggml::name(t.type));
  });
  check(t.n_dims == 1 && t.ne[0] == expected_size, errc::shape_mismatch, [&] {
    return "tensor '" + std::string(name) + "': expected a vector of " + std::to_string(expected_size) +
           " elements, the file has " + std::to_string(t.n_elements());
  });
  return {reinterpret_cast<const float*>(t.data.data()), expected_size};
}

}  // namespace lowbit::io
