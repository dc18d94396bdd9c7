// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Helpers shared by the docs tests (test_user_guide.cpp, test_readme.cpp): deterministic weights,
// a reference dense GEMM, and a scratch directory holding a small model.gguf.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/io/gguf_writer.hpp"
#include "lowbit/quant/block_matrix.hpp"

namespace lowbit_docs_test {

namespace fs = std::filesystem;

/// A smooth W(N, K) = sin(0.01 i), row-major: what the guide's snippets quantize.
inline std::vector<float> sine_weights(std::size_t n, std::size_t k, float phase = 0.0f) {
  std::vector<float> w(n * k);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.01f * static_cast<float>(i) + phase);
  return w;
}

/// max |a - b|.
inline float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  float m = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

/// y(M, N) = x(M, K) · W(N, K)ᵀ in double, from dense f32 W.
inline std::vector<float> dense_gemm(std::span<const float> x, std::span<const float> w, std::size_t m, std::size_t n,
                                     std::size_t k) {
  std::vector<float> y(m * n);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t l = 0; l < k; ++l) s += static_cast<double>(x[i * k + l]) * w[j * k + l];
      y[i * n + j] = static_cast<float>(s);
    }
  }
  return y;
}

/// A directory of its own, made current for the lifetime of this object (the README's snippet
/// opens "model.gguf" by a relative path).
class scratch_dir {
 public:
  scratch_dir()
      : old_(fs::current_path()), dir_(fs::temp_directory_path() / ("lowbit_docs_" + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    fs::current_path(dir_);
  }
  ~scratch_dir() {
    fs::current_path(old_);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 private:
  fs::path old_, dir_;
};

/// Writes model.gguf in the current directory: two tiny "layers" of the README's names.
inline void write_model_gguf() {
  const std::size_t n = 64, k = 128;
  const auto w = sine_weights(n, k);
  const auto q41 = lowbit::quantize<lowbit::ggml::q4_1>(lowbit::matrix_view<const float>(w.data(), n, k));
  const auto q40 = lowbit::quantize<lowbit::ggml::q4_0>(lowbit::matrix_view<const float>(w.data(), n, k));
  lowbit::io::gguf_writer out;
  const std::uint64_t ne[2] = {k, n};
  out.add_tensor("blk.0.ffn_up.weight", lowbit::ggml::type::q4_1, ne,
                 std::vector<std::byte>(q41.bytes().begin(), q41.bytes().end()));
  out.add_tensor("blk.0.attn_q.weight", lowbit::ggml::type::q4_0, ne,
                 std::vector<std::byte>(q40.bytes().begin(), q40.bytes().end()));
  out.write("model.gguf");
}

}  // namespace lowbit_docs_test
