// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"
#include "lowbit/gemm/any_weight.hpp"
#include "lowbit/io/gguf.hpp"

namespace lowbit::io {

/// The expected extents of a 2-D weight W(N, K); 0 means "any".
struct weight_shape {
  std::size_t rows = 0;  ///< N, output features (ne[1])
  std::size_t cols = 0;  ///< K, input features (ne[0])
};

/// The 2-D tensor `name` of `file` prepared for backend B in whichever format of `Formats` the
/// file stores it in (the run-time bridge: one dispatch, at load). K = ne[0], N = ne[1].
///
/// throws lowbit::error naming the tensor: {errc::missing_key} if there is no such tensor;
/// {errc::unsupported} if its type is not in `Formats` (naming the type and the list);
/// {errc::shape_mismatch} if it is not 2-D or its extents differ from a non-zero `expected`
/// extent (naming both); and the errors of any_weight::prepare.
/// Allocation: what the backend's prepare allocates (SIMD: the packed copy; reference: none).
template <backend_policy B, class Formats>
any_weight<B, Formats> any_weight_of(const gguf_file& file, std::string_view name, weight_shape expected = {},
                                     threads t = {}) {
  const gguf_tensor_info& info = file.tensor(name);
  check(Formats::contains(info.type), errc::unsupported, [&] {
    return "tensor '" + std::string(name) + "' has type " + std::string(ggml::name(info.type)) +
           ", which is not in this program's list of weight formats (" + Formats::names() + ")";
  });
  check(info.n_dims == 2, errc::shape_mismatch, [&] {
    return "tensor '" + std::string(name) + "': expected 2 dimensions, the file has " + std::to_string(info.n_dims);
  });
  const auto rows = static_cast<std::size_t>(info.ne[1]), cols = static_cast<std::size_t>(info.ne[0]);
  check((expected.rows == 0 || expected.rows == rows) && (expected.cols == 0 || expected.cols == cols),
        errc::shape_mismatch, [&] {
          return "tensor '" + std::string(name) + "': expected shape (N " +
                 (expected.rows ? std::to_string(expected.rows) : std::string("any")) + ", K " +
                 (expected.cols ? std::to_string(expected.cols) : std::string("any")) + "), the file has (N " +
                 std::to_string(rows) + ", K " + std::to_string(cols) + ")";
        });
  return any_weight<B, Formats>::prepare(info.type, info.data, rows, cols, t);
}

}  // namespace lowbit::io
