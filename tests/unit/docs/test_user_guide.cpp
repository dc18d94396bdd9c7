// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// The code of docs/user_guide.md and of README.md, compiled and run: each ```cpp block of those
// pages appears below verbatim (up to indentation) between "clang-format off/on" markers, with
// the assertions of what it computes around it; the last case reads the pages at run time and
// fails when a block is not found here, so the docs cannot drift from compiled code.
//
// Compile time: the reference backend throughout, and one SIMD format family (Q4_0/Q4_1).

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "catch.hpp"
#include "docs_support.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/core/parallel.hpp"
#include "lowbit/formats/ggml/q4_0.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/formats/quant/quant.hpp"
#include "lowbit/gemm/any_weight.hpp"
#include "lowbit/gemm/quantized_gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/graph/gated_ffn.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/graph/residual.hpp"
#include "lowbit/graph/rms_norm.hpp"
#include "lowbit/graph/sequential.hpp"
#include "lowbit/io/gguf_any_weight.hpp"
#include "lowbit/io/gguf_weights.hpp"
#include "lowbit/io/gguf_writer.hpp"
#include "lowbit/nn/activations.hpp"
#include "lowbit/nn/rms_norm.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "lowbit/quant/dequantize.hpp"
#include "lowbit/quant/quantize.hpp"
#include "lowbit/quant/quantized_matrix.hpp"
#include "lowbit/quant/visit_format.hpp"
#include "lowbit/quant/weight_view.hpp"

namespace {

namespace fs = std::filesystem;
using namespace lowbit_docs_test;

/// A user-defined epilogue stage (docs/user_guide.md, "Epilogues").
// clang-format off
struct scale_and_store {
  float alpha;
  void operator()(float* y, const float* acc, std::size_t n0, std::size_t count) const noexcept {
    for (std::size_t j = 0; j < count; ++j) y[n0 + j] = alpha * acc[j];
  }
};
// clang-format on

/// A user-defined layer (docs/user_guide.md, "Your own layers").
// clang-format off
struct scale_layer {
  float factor;
  void forward(lowbit::graph::activation& x, lowbit::graph::context&) const {
    for (float& v : x.data) v *= factor;
  }
};
// clang-format on

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// The lines of `text` with leading and trailing blanks removed.
std::vector<std::string> trimmed_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto b = line.find_first_not_of(" \t\r");
    const auto e = line.find_last_not_of(" \t\r");
    lines.push_back(b == std::string::npos ? std::string() : line.substr(b, e - b + 1));
  }
  return lines;
}

/// The ```cpp blocks of a Markdown page, each with its first line number.
std::vector<std::pair<std::size_t, std::string>> cpp_blocks(const std::string& markdown) {
  std::vector<std::pair<std::size_t, std::string>> blocks;
  std::istringstream in(markdown);
  std::string line, block;
  std::size_t number = 0, start = 0;
  bool inside = false;
  while (std::getline(in, line)) {
    ++number;
    if (!inside && line.rfind("```cpp", 0) == 0) {
      inside = true;
      start = number + 1;
      block.clear();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
      blocks.emplace_back(start, block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

/// Whether the lines of `block` occur, in order and consecutively, among `source` (both trimmed).
bool contains_lines(const std::vector<std::string>& source, const std::vector<std::string>& block) {
  if (block.empty()) return true;
  for (std::size_t i = 0; i + block.size() <= source.size(); ++i) {
    if (std::equal(block.begin(), block.end(), source.begin() + static_cast<std::ptrdiff_t>(i))) return true;
  }
  return false;
}

const fs::path repo_root = fs::path(LOWBIT_TEST_DATA_DIR) / ".." / "..";

}  // namespace

TEST_CASE("docs: quantize and dequantize a GGUF block format", "[docs][formats]") {
  // clang-format off
std::vector<float> w_f32(64 * 256);                       // W(N = 64, K = 256), row-major
for (std::size_t i = 0; i < w_f32.size(); ++i) w_f32[i] = std::sin(0.01f * static_cast<float>(i));
lowbit::matrix_view<const float> w(w_f32.data(), 64, 256);

lowbit::block_matrix<lowbit::ggml::q4_k> q = lowbit::quantize<lowbit::ggml::q4_k>(w);
std::vector<float> back = lowbit::dequantize(q);         // W(N, K) decoded, N * K floats
std::span<const std::byte> stored = q.bytes();           // what a GGUF tensor of type Q4_K holds
  // clang-format on
  CHECK(q.rows() == 64);
  CHECK(q.cols() == 256);
  CHECK(stored.size() == 64 * 144);
  REQUIRE(back.size() == w_f32.size());
  CHECK(max_abs_diff(back, w_f32) < 0.05f);

  // clang-format off
std::vector<std::byte> bytes(64 * (256 / lowbit::ggml::q8_0::block_size) * lowbit::ggml::q8_0::block_bytes);
lowbit::quantize_rows<lowbit::ggml::q8_0>(w_f32, 256, bytes);   // rows of 256 -> Q8_0 blocks

lowbit::weight_view<lowbit::ggml::q8_0> v = lowbit::make_weight_view<lowbit::ggml::q8_0>(bytes, 64, 256);
std::vector<float> row(256);
lowbit::dequantize_row(v, 3, row);                               // row n = 3 of W, exactly
  // clang-format on
  CHECK(bytes.size() == 64 * 8 * 34);
  CHECK(max_abs_diff(row, std::span<const float>(w_f32).subspan(3 * 256, 256)) < 0.01f);
  CHECK_THROWS_AS(lowbit::make_weight_view<lowbit::ggml::q8_0>(bytes, 64, 255), lowbit::error);
}

TEST_CASE("docs: quantize and dequantize a parametric format", "[docs][quant]") {
  const auto w_f32 = sine_weights(64, 256);
  lowbit::matrix_view<const float> w(w_f32.data(), 64, 256);
  // clang-format off
// 4-bit unsigned codes, an f16 scale and a zero point per 128 consecutive K elements (GPTQ/AWQ-style)
using w4_g128 = lowbit::quant<lowbit::int_code<4, false>, lowbit::scale_f16, lowbit::per_group<128>,
                              lowbit::asymmetric>;
lowbit::quantized_matrix<w4_g128> p = lowbit::quantize<w4_g128>(w);
float scale = p.scale(0, 0);           // real units per code step of element (0, 0)
int zero_point = p.zero_point(0, 0);   // the code that stands for real 0
std::vector<float> p_back = lowbit::dequantize(p);

// Symmetric NF4 with a clipping search (the scale that minimises the squared error)
using nf4_g64 = lowbit::quant<lowbit::nf4, lowbit::scale_f32, lowbit::per_group<64>>;
auto p_nf4 = lowbit::quantize<nf4_g64>(w, {.method = lowbit::quantize_method::clip_search});
  // clang-format on
  CHECK(scale > 0.0f);
  CHECK(zero_point >= 0);
  CHECK(zero_point <= 15);
  // Half a code step (plus the f16 rounding of the scale) bounds the error of round-to-nearest.
  CHECK(max_abs_diff(p_back, w_f32) <= 0.5f * 2.0f / 15.0f * 1.01f);
  CHECK(w4_g128::bits == 4);
  CHECK(w4_g128::group_size == 128);
  CHECK(p.scales().size() == 64 * 2);
  CHECK(max_abs_diff(lowbit::dequantize(p_nf4), w_f32) < 0.15f);  // NF4's widest gap is 0.28 scale
}

TEST_CASE("docs: GEMM with epilogues on the reference backend", "[docs][gemm]") {
  const auto w_f32 = sine_weights(64, 256);
  lowbit::matrix_view<const float> w(w_f32.data(), 64, 256);
  const auto q = lowbit::quantize<lowbit::ggml::q4_k>(w);
  using w4_g128 =
      lowbit::quant<lowbit::int_code<4, false>, lowbit::scale_f16, lowbit::per_group<128>, lowbit::asymmetric>;
  const auto p = lowbit::quantize<w4_g128>(w);
  // clang-format off
using ref = lowbit::backend::reference;
std::vector<float> x_data(4 * 256, 0.5f), y_data(4 * 64), bias(64, 1.0f);
lowbit::matrix_view<const float> x(x_data.data(), 4, 256);   // x(M = 4, K = 256)
lowbit::matrix_view<float> y(y_data.data(), 4, 64);          // y(M = 4, N = 64)

auto wq = lowbit::prepare_weight<ref>(q);    // q: the Q4_K matrix above; for reference, a view
lowbit::gemm<ref>(x, wq, y);                 // y = x · Wᵀ
  // clang-format on
  const auto w_deq = lowbit::dequantize(q);
  const auto expect = dense_gemm(x_data, w_deq, 4, 64, 256);
  CHECK(max_abs_diff(y_data, expect) < 1e-4f);

  // clang-format off
lowbit::gemm<ref>(x, wq, y, lowbit::threads{2}, lowbit::epilogue::bias_add{bias.data()});  // y = x · Wᵀ + b
lowbit::gemm<ref>(x, wq, y, lowbit::threads{2}, lowbit::epilogue::accumulate{});  // y += x · Wᵀ
lowbit::gemv<ref>(x_data.data(), wq, y_data.data());   // y(0, :) = W · x(0, :), M = 1
  // clang-format on
  for (std::size_t i = 1; i < 4; ++i) {
    for (std::size_t j = 0; j < 64; ++j)
      CHECK(std::abs(y_data[i * 64 + j] - (2.0f * expect[i * 64 + j] + 1.0f)) < 1e-3f);
  }
  CHECK(max_abs_diff(std::span<const float>(y_data).first(64), std::span<const float>(expect).first(64)) < 1e-4f);

  // clang-format off
auto wp = lowbit::prepare_weight<ref>(p);    // p: the quantized_matrix<w4_g128> above
lowbit::gemm<ref>(x, wp, y, lowbit::threads{1}, scale_and_store{.alpha = 0.5f});
  // clang-format on
  const auto expect_p = dense_gemm(x_data, lowbit::dequantize(p), 4, 64, 256);
  for (std::size_t i = 0; i < expect_p.size(); ++i) CHECK(std::abs(y_data[i] - 0.5f * expect_p[i]) < 1e-4f);

  // clang-format off
lowbit::errc code{};
std::string message;
try {
  lowbit::matrix_view<const float> x_short(x_data.data(), 4, 128);   // K = 128, but W has K = 256
  lowbit::gemm<ref>(x_short, wq, y);
} catch (const lowbit::error& e) {
  code = e.code();      // lowbit::errc::shape_mismatch
  message = e.what();   // "lowbit: shape_mismatch: gemm: x has K = 128 columns, W has K = 256"
}
  // clang-format on
  CHECK(code == lowbit::errc::shape_mismatch);
  CHECK(message == "lowbit: shape_mismatch: gemm: x has K = 128 columns, W has K = 256");
}

TEST_CASE("docs: a SIMD GEMM equals the reference", "[docs][gemm][simd]") {
  const auto w_f32 = sine_weights(64, 256);
  lowbit::matrix_view<const float> w(w_f32.data(), 64, 256);
  std::vector<float> x_data(4 * 256), y_data(4 * 64), y_ref(4 * 64);
  for (std::size_t i = 0; i < x_data.size(); ++i) x_data[i] = std::cos(0.03f * static_cast<float>(i));
  lowbit::matrix_view<const float> x(x_data.data(), 4, 256);
  lowbit::matrix_view<float> y(y_data.data(), 4, 64);
  // clang-format off
using simd = lowbit::backend::simd<>;      // the ISA this translation unit is compiled for
auto w41 = lowbit::quantize<lowbit::ggml::q4_1>(w);
auto packed = lowbit::prepare_weight<simd>(w41);      // repacked into panels: once, at load
lowbit::gemm<simd>(x, packed, y, lowbit::threads{2});
  // clang-format on
  lowbit::gemm<lowbit::backend::reference>(x, lowbit::prepare_weight<lowbit::backend::reference>(w41),
                                           lowbit::matrix_view<float>(y_ref.data(), 4, 64));
  // The SIMD kernel quantizes x to 8 bits per row block (as llama.cpp does): close, not equal.
  float scale = 0.0f;
  for (float v : y_ref) scale = std::max(scale, std::abs(v));
  CHECK(max_abs_diff(y_data, y_ref) < 0.02f * scale);
}

TEST_CASE("docs: a model graph: residual gated FFN", "[docs][graph]") {
  const std::size_t d = 64, h = 128, tokens = 3;
  const auto g_f = sine_weights(h, d, 0.1f), u_f = sine_weights(h, d, 0.7f), d_f = sine_weights(d, h, 1.3f);
  const auto gate = lowbit::quantize<lowbit::ggml::q8_0>(lowbit::matrix_view<const float>(g_f.data(), h, d));
  const auto up = lowbit::quantize<lowbit::ggml::q8_0>(lowbit::matrix_view<const float>(u_f.data(), h, d));
  const auto down = lowbit::quantize<lowbit::ggml::q8_0>(lowbit::matrix_view<const float>(d_f.data(), d, h));
  std::vector<float> norm_weight(d);
  for (std::size_t i = 0; i < d; ++i) norm_weight[i] = 1.0f + 0.01f * static_cast<float>(i);
  const auto input = sine_weights(tokens, d, 0.2f);
  // clang-format off
using ref = lowbit::backend::reference;
using namespace lowbit::graph;
auto ffn_block = residual(sequential(
    rms_norm_layer(norm_weight, 1e-6f),
    gated_ffn(linear<ref>(gate.view()), linear<ref>(up.view()), linear<ref>(down.view()), swiglu{})));

activation x;
x.resize(3, 64);                          // 3 tokens of d_model = 64 features
std::copy(input.begin(), input.end(), x.data.begin());
activation_pool pool;                     // scratch reused across calls
context ctx{.thread_count = lowbit::threads{2}, .pool = &pool};
ffn_block.forward(x, ctx);                // x <- x + down(silu(gate(n)) * up(n)), n = rms_norm(x)
  // clang-format on

  // The same arithmetic, unfused.
  std::vector<float> n(tokens * d), g(tokens * h), u(tokens * h), a(tokens * h), o(tokens * d);
  lowbit::nn::rms_norm(input, norm_weight, n, tokens, d, 1e-6f);
  auto run = [&](const auto& wm, std::span<const float> in, std::span<float> out, std::size_t rows, std::size_t k) {
    lowbit::gemm<lowbit::backend::reference>(lowbit::matrix_view<const float>(in.data(), tokens, k), wm.view(),
                                             lowbit::matrix_view<float>(out.data(), tokens, rows));
  };
  run(gate, n, g, h, d);
  run(up, n, u, h, d);
  lowbit::nn::swiglu(g, u, a);
  run(down, a, o, d, h);
  REQUIRE(x.rows == tokens);
  REQUIRE(x.cols == d);
  for (std::size_t i = 0; i < tokens * d; ++i) CHECK(x.data[i] == input[i] + o[i]);

  // clang-format off
auto net = sequential(scale_layer{.factor = 2.0f}, linear<ref>(down.view()));
net[layer_index<0>].factor = 0.5f;        // layers by compile-time index
activation hidden;
hidden.resize(1, 128);
std::fill(hidden.data.begin(), hidden.data.end(), 1.0f);
net.forward(hidden, ctx);                 // (1, 128) -> (1, 64)
  // clang-format on
  REQUIRE(hidden.cols == d);
  std::vector<float> halves(h, 0.5f), expect(d);
  lowbit::gemv<lowbit::backend::reference>(halves.data(), down.view(), expect.data());
  CHECK(max_abs_diff(hidden.data, expect) == 0.0f);
}

TEST_CASE("docs: formats chosen at run time", "[docs][any_weight]") {
  const auto w_f32 = sine_weights(64, 256);
  std::vector<std::byte> bytes(64 * 8 * 34);
  lowbit::quantize_rows<lowbit::ggml::q8_0>(w_f32, 256, bytes);
  std::vector<float> x_data(2 * 256, 0.25f), y_data(2 * 64);
  lowbit::matrix_view<const float> x(x_data.data(), 2, 256);
  lowbit::matrix_view<float> y(y_data.data(), 2, 64);
  // clang-format off
using ref = lowbit::backend::reference;
using formats = lowbit::format_list<lowbit::ggml::q4_k, lowbit::ggml::q8_0>;
lowbit::ggml::type id = lowbit::ggml::type::q8_0;          // e.g. a tensor's type in a file
auto aw = lowbit::any_weight<ref, formats>::prepare(id, bytes, 64, 256);
lowbit::gemm<ref>(x, aw, y);                               // one dispatch, then Q8_0's kernel

std::string name = lowbit::visit_format(formats{}, id, []<class F>(F) { return std::string(F::name); });
  // clang-format on
  CHECK(name == "Q8_0");
  CHECK(aw.type() == lowbit::ggml::type::q8_0);
  CHECK(aw.rows() == 64);
  std::vector<float> expect(2 * 64);
  lowbit::gemm<ref>(x, lowbit::make_weight_view<lowbit::ggml::q8_0>(bytes, 64, 256),
                    lowbit::matrix_view<float>(expect.data(), 2, 64));
  CHECK(y_data == expect);

  const scratch_dir dir;
  write_model_gguf();
  // clang-format off
using file_formats = lowbit::format_list<lowbit::ggml::q4_0, lowbit::ggml::q4_1>;  // or lowbit::gguf_formats
auto file = lowbit::io::gguf_file::open("model.gguf");
auto up = lowbit::io::any_weight_of<ref, file_formats>(file, "blk.0.ffn_up.weight");
// up.type() == lowbit::ggml::type::q4_1: the file chose it; the program's types stay the same

std::string message;
try {
  lowbit::io::any_weight_of<ref, formats>(file, "blk.0.ffn_up.weight");   // throws
} catch (const lowbit::error& e) {
  message = e.what();   // names the tensor, its type Q4_1 and the list "Q4_K, Q8_0"
}
  // clang-format on
  CHECK_THAT(message, Catch::Matchers::Contains("blk.0.ffn_up.weight") && Catch::Matchers::Contains("Q4_1") &&
                          Catch::Matchers::Contains("Q4_K, Q8_0"));
  CHECK(up.type() == lowbit::ggml::type::q4_1);
  CHECK(up.rows() == 64);
  CHECK(up.cols() == 128);
}

TEST_CASE("docs: threads", "[docs][parallel]") {
  // clang-format off
std::vector<double> partial(4, 0.0);
lowbit::parallel_for(lowbit::threads{4}, 1000, 64, [&](std::size_t begin, std::size_t end) {
  // [begin, end): a chunk of [0, 1000) starting on a multiple of 64, one chunk per call
  partial[begin / 256] += static_cast<double>(end - begin);
});
  // clang-format on
  double total = 0.0;
  for (double v : partial) total += v;
  CHECK(total == 1000.0);
}

TEST_CASE("docs: every cpp block of README.md and docs/user_guide.md is in these tests", "[docs]") {
  std::vector<std::string> source;
  for (const auto& entry : fs::directory_iterator(repo_root / "tests" / "unit" / "docs")) {
    if (entry.path().extension() != ".cpp") continue;
    const auto lines = trimmed_lines(read_text(entry.path()));
    source.insert(source.end(), lines.begin(), lines.end());
  }
  REQUIRE(!source.empty());
  std::size_t checked = 0;
  for (const char* page : {"README.md", "docs/user_guide.md"}) {
    const auto blocks = cpp_blocks(read_text(repo_root / page));
    CHECK(!blocks.empty());
    for (const auto& [line, block] : blocks) {
      INFO(page << ":" << line << ": this ```cpp block is not in tests/unit/docs/*.cpp:\n" << block);
      CHECK(contains_lines(source, trimmed_lines(block)));
      ++checked;
    }
  }
  CHECK(checked >= 8);
}
