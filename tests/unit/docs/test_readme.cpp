// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The code of README.md's quick start, compiled and run on a small model.gguf written here: each
// ```cpp block of the README appears below verbatim (up to indentation); test_user_guide.cpp checks
// that. Compile time: the SIMD backend for Q4_0 and Q4_1 only.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "docs_support.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/gemm/any_weight.hpp"
#include "lowbit/graph/gated_ffn.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/graph/residual.hpp"
#include "lowbit/graph/rms_norm.hpp"
#include "lowbit/graph/sequential.hpp"
#include "lowbit/io/gguf_any_weight.hpp"
#include "lowbit/io/gguf_weights.hpp"
#include "lowbit/quant/block_matrix.hpp"

namespace {

using namespace lowbit_docs_test;

/// A stand-in for a user's attention layer in the README's block: the identity.
struct identity_attention {
  void forward(lowbit::graph::activation&, lowbit::graph::context&) const {}
};

}  // namespace

TEST_CASE("docs: the README's quick start runs", "[docs][readme]") {
  const scratch_dir dir;
  write_model_gguf();
  {
    // clang-format off
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/io/gguf_weights.hpp"

auto file = lowbit::io::gguf_file::open("model.gguf");
auto w = lowbit::io::weight_of<lowbit::ggml::q4_1>(file, "blk.0.ffn_up.weight");  // W(N, K), zero-copy
auto packed = lowbit::prepare_weight<lowbit::backend::simd<>>(w);                  // once, at load

std::vector<float> x_data(4 * w.cols), y_data(4 * w.rows);
lowbit::matrix_view<const float> x(x_data.data(), 4, w.cols);                     // x(M, K)
lowbit::matrix_view<float> y(y_data.data(), 4, w.rows);                           // y(M, N)
lowbit::gemm<lowbit::backend::simd<>>(x, packed, y, lowbit::threads{2});           // y = x · Wᵀ
    // clang-format on
    CHECK(w.rows == 64);
    CHECK(w.cols == 128);
    CHECK(std::all_of(y_data.begin(), y_data.end(), [](float v) { return v == 0.0f; }));
  }

  auto file = lowbit::io::gguf_file::open("model.gguf");
  std::vector<float> x_data2(4 * 128, 0.125f), y_data2(4 * 64);
  lowbit::matrix_view<const float> x(x_data2.data(), 4, 128);
  lowbit::matrix_view<float> y(y_data2.data(), 4, 64);
  // clang-format off
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/io/gguf_any_weight.hpp"
using backend = lowbit::backend::simd<>;
// The formats this program accepts: lowbit::gguf_formats (all 26 GGUF weight types), or fewer:
// every format of the list is compiled for the backend.
using formats = lowbit::format_list<lowbit::ggml::q4_0, lowbit::ggml::q4_1>;
using weight = lowbit::any_weight<backend, formats>;

weight wq = lowbit::io::any_weight_of<backend, formats>(file, "blk.0.attn_q.weight");
lowbit::gemm<backend>(x, wq, y, lowbit::threads{2});     // one dispatch, then Q4_0's kernel
  // clang-format on
  CHECK(wq.type() == lowbit::ggml::type::q4_0);
  CHECK(std::all_of(y_data2.begin(), y_data2.end(), [](float v) { return std::isfinite(v); }));

  const std::size_t d_model = 128;
  std::vector<float> attn_norm(d_model, 1.0f), ffn_norm(d_model, 1.0f);
  const float eps = 1e-6f;
  const identity_attention self_attention;
  // W(N, K) = (64, 128) from the file: square projections are made of two (a 64 x 128 up, a
  // 128 x 64 down built from q4_1 bytes quantized here).
  const auto wd = sine_weights(d_model, 64);
  const auto down_q = lowbit::quantize<lowbit::ggml::q4_1>(lowbit::matrix_view<const float>(wd.data(), d_model, 64));
  const auto wo_f = sine_weights(d_model, d_model, 0.5f);
  const auto wo_q =
      lowbit::quantize<lowbit::ggml::q4_0>(lowbit::matrix_view<const float>(wo_f.data(), d_model, d_model));
  weight wo(wo_q.view());
  weight gate = lowbit::io::any_weight_of<backend, formats>(file, "blk.0.ffn_up.weight");
  weight up = lowbit::io::any_weight_of<backend, formats>(file, "blk.0.attn_q.weight");
  weight down(down_q.view());
  // clang-format off
using namespace lowbit::graph;
auto block = sequential(
    residual(sequential(rms_norm_layer(attn_norm, eps), self_attention /* user layer */,
                        linear<backend>(std::move(wo)))),               // residual added in O's epilogue
    residual(sequential(rms_norm_layer(ffn_norm, eps),
                        gated_ffn(linear<backend>(std::move(gate)), linear<backend>(std::move(up)),
                                  linear<backend>(std::move(down)), swiglu{}))));
  // clang-format on
  activation h;
  h.resize(2, d_model);
  for (std::size_t i = 0; i < h.data.size(); ++i) h.data[i] = std::sin(0.1f * static_cast<float>(i));
  context ctx{.thread_count = lowbit::threads{2}};
  block.forward(h, ctx);
  CHECK(h.rows == 2);
  CHECK(h.cols == d_model);
  CHECK(std::all_of(h.data.begin(), h.data.end(), [](float v) { return std::isfinite(v); }));
}
