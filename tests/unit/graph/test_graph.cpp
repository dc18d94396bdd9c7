// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of lowbit/graph and of the run-time format bridge it runs on (lowbit/gemm/any_weight.hpp,
// lowbit/io/gguf_any_weight.hpp, lowbit/formats/gguf_formats.hpp): a weight whose format is chosen
// at load gives the same products as the statically typed weight, linear layers with bias fuse it
// exactly, residuals through the accumulate epilogue equal x + f(x), the gated FFN equals its
// definition, and bad input names what is wrong.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "catch.hpp"
#include "lowbit/backend/simd.hpp"
#include "lowbit/formats/gguf_formats.hpp"
#include "lowbit/gemm/any_weight.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/graph/gated_ffn.hpp"
#include "lowbit/graph/linear.hpp"
#include "lowbit/graph/residual.hpp"
#include "lowbit/graph/rms_norm.hpp"
#include "lowbit/graph/sequential.hpp"
#include "lowbit/io/gguf_any_weight.hpp"
#include "lowbit/io/gguf_writer.hpp"
#include "lowbit/quant/block_matrix.hpp"
#include "lowbit/quant/quantize.hpp"
#include "lowbit/quant/quantized_matrix.hpp"

namespace {

using lowbit::graph::activation;
using lowbit::graph::context;
using simd = lowbit::backend::simd<>;
using ref = lowbit::backend::reference;

std::vector<float> random_floats(std::size_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// W(N, K) of format F quantized from random floats, as file bytes.
template <class F>
std::vector<std::byte> random_weight(std::size_t n, std::size_t k, std::uint32_t seed) {
  const auto w = random_floats(n * k, seed, 0.5f);
  std::vector<std::byte> bytes(n * (k / F::block_size) * F::block_bytes);
  lowbit::quantize_rows<F>(w, k, bytes);
  return bytes;
}

activation random_activation(std::size_t rows, std::size_t cols, std::uint32_t seed) {
  activation a;
  a.resize(rows, cols);
  a.data = random_floats(rows * cols, seed);
  return a;
}

// A small list: the same dispatch as gguf_formats, fewer kernels to compile.
using small_list = lowbit::format_list<lowbit::f32, lowbit::ggml::q4_0, lowbit::ggml::q8_0, lowbit::ggml::q4_k>;

}  // namespace

TEST_CASE("graph: the catalogue lists every GGUF weight type once, by family", "[graph][formats]") {
  STATIC_REQUIRE(lowbit::gguf_formats::size == 26);
  STATIC_REQUIRE(lowbit::gguf_formats::contains(lowbit::ggml::type::q4_k));
  STATIC_REQUIRE(lowbit::gguf_formats::contains(lowbit::ggml::type::iq2_xxs));
  STATIC_REQUIRE(!lowbit::gguf_formats::contains(lowbit::ggml::type::q8_1));
  STATIC_REQUIRE(!lowbit::gguf_formats::contains(lowbit::ggml::type::i32));
  CHECK(small_list::names() == "F32, Q4_0, Q8_0, Q4_K");
}

TEMPLATE_TEST_CASE("graph: any_weight gives the statically typed weight's product bit for bit", "[graph][any_weight]",
                   lowbit::ggml::q4_0, lowbit::ggml::q8_0, lowbit::ggml::q4_k, lowbit::f32) {
  using F = TestType;
  const std::size_t N = 33, K = 512;
  const auto bytes = random_weight<F>(N, K, 7);
  const auto view = lowbit::make_weight_view<F>(bytes, N, K);
  const auto dyn = lowbit::any_weight<simd, small_list>::prepare(F::type_id, bytes, N, K);
  CHECK(dyn.type() == F::type_id);
  CHECK(dyn.rows() == N);
  CHECK(dyn.cols() == K);
  const auto stat = lowbit::prepare_weight<simd>(view);
  for (std::size_t M : {1u, 3u, 17u}) {
    const auto x = random_activation(M, K, 11 + static_cast<std::uint32_t>(M));
    std::vector<float> y_dyn(M * N), y_stat(M * N);
    lowbit::gemm<simd>(x.view(), dyn, lowbit::matrix_view<float>(y_dyn.data(), M, N), lowbit::threads{2});
    lowbit::gemm<simd>(x.view(), stat, lowbit::matrix_view<float>(y_stat.data(), M, N), lowbit::threads{2});
    CHECK(y_dyn == y_stat);
  }
}

TEST_CASE("graph: any_weight refuses a type outside its list, naming it and the list", "[graph][any_weight][errors]") {
  const auto bytes = random_weight<lowbit::ggml::q5_0>(4, 64, 3);
  try {
    (void)lowbit::any_weight<simd, small_list>::prepare(lowbit::ggml::type::q5_0, bytes, 4, 64);
    FAIL("no error");
  } catch (const lowbit::error& e) {
    CHECK(e.code() == lowbit::errc::unsupported);
    CHECK_THAT(e.what(), Catch::Matchers::Contains("Q5_0") && Catch::Matchers::Contains("F32, Q4_0, Q8_0, Q4_K"));
  }
  // A byte count that does not fit the shape.
  CHECK_THROWS_AS((lowbit::any_weight<simd, small_list>::prepare(lowbit::ggml::type::q4_0, bytes, 4, 64)),
                  lowbit::error);
}

TEST_CASE("graph: any_weight_of reads a tensor from a GGUF file and names bad tensors", "[graph][any_weight][io]") {
  namespace fs = std::filesystem;
  const fs::path path = fs::temp_directory_path() / ("lowbit_graph_" + std::to_string(::getpid()) + ".gguf");
  lowbit::io::gguf_writer w;
  const std::uint64_t ne_q4k[2] = {256, 3}, ne_q50[2] = {64, 2}, ne_1d[1] = {256};
  w.add_tensor("w.q4k", lowbit::ggml::type::q4_k, ne_q4k, random_weight<lowbit::ggml::q4_k>(3, 256, 1));
  w.add_tensor("w.q50", lowbit::ggml::type::q5_0, ne_q50, random_weight<lowbit::ggml::q5_0>(2, 64, 2));
  w.add_tensor("w.vec", lowbit::ggml::type::q4_k, ne_1d, random_weight<lowbit::ggml::q4_k>(1, 256, 3));
  w.write(path);
  const auto file = lowbit::io::gguf_file::open(path);
  fs::remove(path);

  const auto q4k = lowbit::io::any_weight_of<simd, small_list>(file, "w.q4k", {.rows = 3, .cols = 256});
  CHECK(q4k.type() == lowbit::ggml::type::q4_k);
  auto message_of = [&](auto&& f) -> std::string {
    try {
      f();
    } catch (const lowbit::error& e) {
      return e.what();
    }
    return "no error";
  };
  const auto wrong_type = message_of([&] { (void)lowbit::io::any_weight_of<simd, small_list>(file, "w.q50"); });
  CHECK_THAT(wrong_type, Catch::Matchers::Contains("w.q50") && Catch::Matchers::Contains("Q5_0") &&
                             Catch::Matchers::Contains("F32, Q4_0, Q8_0, Q4_K"));
  const auto wrong_shape =
      message_of([&] { (void)lowbit::io::any_weight_of<simd, small_list>(file, "w.q4k", {.rows = 4}); });
  CHECK_THAT(wrong_shape, Catch::Matchers::Contains("w.q4k") && Catch::Matchers::Contains("N 4"));
  const auto not_2d = message_of([&] { (void)lowbit::io::any_weight_of<simd, small_list>(file, "w.vec"); });
  CHECK_THAT(not_2d, Catch::Matchers::Contains("w.vec") && Catch::Matchers::Contains("2 dimensions"));
  const auto missing = message_of([&] { (void)lowbit::io::any_weight_of<simd, small_list>(file, "w.nope"); });
  CHECK_THAT(missing, Catch::Matchers::Contains("w.nope"));
}

TEST_CASE("graph: linear with bias, apply and accumulate equal the unfused arithmetic", "[graph][linear]") {
  const std::size_t M = 5, N = 17, K = 64;
  const auto bytes = random_weight<lowbit::ggml::q8_0>(N, K, 5);
  const auto view = lowbit::make_weight_view<lowbit::ggml::q8_0>(bytes, N, K);
  const auto bias = random_floats(N, 9);
  const auto lin = lowbit::graph::linear<ref>(view, {}, bias);
  const auto plain = lowbit::graph::linear<ref>(view);
  CHECK(lin.rows() == N);
  CHECK(lin.cols() == K);
  context ctx{.thread_count = lowbit::threads{2}};
  const auto x = random_activation(M, K, 21);
  activation y, y_plain;
  lin.apply(x, y, ctx);
  plain.apply(x, y_plain, ctx);
  REQUIRE(y.rows == M);
  REQUIRE(y.cols == N);
  for (std::size_t i = 0; i < M * N; ++i) CHECK(y.data[i] == y_plain.data[i] + bias[i % N]);
  // accumulate: residual + (acc + b), one rounding per add as the unfused ops.
  auto residual = random_activation(M, N, 33);
  const auto before = residual.data;
  lin.accumulate(x, residual, ctx);
  for (std::size_t i = 0; i < M * N; ++i) CHECK(residual.data[i] == before[i] + (y_plain.data[i] + bias[i % N]));
  activation wrong;
  wrong.resize(M, N + 1);
  CHECK_THROWS_AS(lin.accumulate(x, wrong, ctx), lowbit::error);
  const std::vector<float> short_bias(N - 1, 0.0f);
  CHECK_THROWS_AS(lowbit::graph::linear<ref>(view, {}, short_bias), lowbit::error);
}

TEST_CASE("graph: residual through the accumulate epilogue equals x + f(x)", "[graph][residual]") {
  using namespace lowbit::graph;
  const std::size_t M = 4, D = 64;
  const auto wb = random_weight<lowbit::f32>(D, D, 41);
  const auto view = lowbit::make_weight_view<lowbit::f32>(wb, D, D);
  const auto norm_w = random_floats(D, 43);
  // Ends in a linear: accumulating path. Ends in a norm: the copy-and-add path.
  auto through_epilogue = residual(sequential(rms_norm_layer(norm_w, 1e-6f), linear<ref>(view)));
  auto generic = residual(sequential(rms_norm_layer(norm_w, 1e-6f), linear<ref>(view), rms_norm_layer(norm_w, 1e-6f)));
  STATIC_REQUIRE(accumulating_layer<decltype(through_epilogue.inner())>);
  STATIC_REQUIRE(!accumulating_layer<std::decay_t<decltype(generic.inner())>>);
  context ctx{.thread_count = lowbit::threads{1}};
  const auto x0 = random_activation(M, D, 45);
  // Expected, unfused.
  activation h = x0;
  rms_norm_layer(norm_w, 1e-6f).forward(h, ctx);
  linear<ref>(view).forward(h, ctx);
  activation x = x0;
  through_epilogue.forward(x, ctx);
  for (std::size_t i = 0; i < M * D; ++i) CHECK(x.data[i] == x0.data[i] + h.data[i]);
  rms_norm_layer(norm_w, 1e-6f).forward(h, ctx);
  activation x2 = x0;
  generic.forward(x2, ctx);
  for (std::size_t i = 0; i < M * D; ++i) CHECK(x2.data[i] == x0.data[i] + h.data[i]);
  // Index access into a sequential chain.
  CHECK(generic.inner()[layer_index<0>].weight().size() == D);
}

TEST_CASE("graph: gated FFN equals down(silu(gate x) * up x), forward and accumulate", "[graph][gated_ffn]") {
  using namespace lowbit::graph;
  const std::size_t M = 3, D = 32, H = 96;
  const auto g = random_weight<lowbit::f32>(H, D, 51), u = random_weight<lowbit::f32>(H, D, 52),
             d = random_weight<lowbit::f32>(D, H, 53);
  auto lin = [](const std::vector<std::byte>& b, std::size_t n, std::size_t k) {
    return linear<ref>(lowbit::make_weight_view<lowbit::f32>(b, n, k));
  };
  auto ffn = gated_ffn(lin(g, H, D), lin(u, H, D), lin(d, D, H), swiglu{});
  context ctx{.thread_count = lowbit::threads{2}};
  const auto x0 = random_activation(M, D, 55);
  activation ga, ua, expected;
  lin(g, H, D).apply(x0, ga, ctx);
  lin(u, H, D).apply(x0, ua, ctx);
  lowbit::nn::swiglu(ga.data, ua.data, ga.data, lowbit::threads{1});
  lin(d, D, H).apply(ga, expected, ctx);
  activation x = x0;
  ffn.forward(x, ctx);
  REQUIRE(x.cols == D);
  CHECK(x.data == expected.data);
  activation r = x0;
  ffn.accumulate(x0, r, ctx);
  for (std::size_t i = 0; i < M * D; ++i) CHECK(r.data[i] == x0.data[i] + expected.data[i]);
}

TEST_CASE("graph: per-head RMSNorm normalises each head on its own", "[graph][rms_norm]") {
  using namespace lowbit::graph;
  const std::size_t M = 2, heads = 3, hd = 8;
  const auto w = random_floats(hd, 61);
  activation x = random_activation(M, heads * hd, 62);
  activation expected = x;
  lowbit::nn::rms_norm(expected.data, w, expected.data, M * heads, hd, 1e-6f, lowbit::threads{1});
  context ctx{.thread_count = lowbit::threads{1}};
  rms_norm_layer(w, 1e-6f).forward(x, ctx);
  CHECK(x.data == expected.data);
  activation odd = random_activation(1, 10, 63);
  CHECK_THROWS_AS(rms_norm_layer(w, 1e-6f).forward(odd, ctx), lowbit::error);
}

TEST_CASE("graph: both format families quantize, view, dequantize, prepare and run the same way",
          "[graph][formats][linear]") {
  using Q = lowbit::quant<lowbit::int_code<4, true>, lowbit::scale_f16, lowbit::per_group<32>>;
  const std::size_t M = 3, N = 20, K = 128;
  const auto w = random_floats(N * K, 71, 0.3f);
  const lowbit::matrix_view<const float> wv(w.data(), N, K);
  const auto q8 = lowbit::quantize<lowbit::ggml::q8_0>(wv);  // block_matrix<q8_0>
  const auto i4 = lowbit::quantize<Q>(wv);                   // quantized_matrix<Q>
  // Whole and by row.
  const auto q8_all = lowbit::dequantize(q8);
  const auto i4_all = lowbit::dequantize(i4);
  std::vector<float> row(K);
  for (std::size_t n : {0u, 7u, 19u}) {
    lowbit::dequantize_row(q8, n, row);
    CHECK(std::equal(row.begin(), row.end(), q8_all.begin() + n * K));
    lowbit::dequantize_row(i4, n, row);
    CHECK(std::equal(row.begin(), row.end(), i4_all.begin() + n * K));
  }
  CHECK_THROWS_AS(lowbit::dequantize_row(q8, N, row), lowbit::error);
  CHECK_THROWS_AS(lowbit::dequantize_row(i4, N, row), lowbit::error);
  // The owning matrix holds the file bytes quantize_rows writes.
  std::vector<std::byte> bytes(N * (K / 32) * 34);
  lowbit::quantize_rows<lowbit::ggml::q8_0>(w, K, bytes);
  CHECK(std::equal(bytes.begin(), bytes.end(), q8.bytes().begin(), q8.bytes().end()));
  // Both enter a graph as linear layers and match the reference GEMM on the dequantized weights.
  context ctx{.thread_count = lowbit::threads{2}};
  const auto x = random_activation(M, K, 73);
  for (int family = 0; family < 2; ++family) {
    activation y;
    const auto& dense = family == 0 ? q8_all : i4_all;
    if (family == 0) {
      lowbit::graph::linear<simd>(lowbit::prepare_weight<simd>(q8)).apply(x, y, ctx);
    } else {
      lowbit::graph::linear<simd>(lowbit::prepare_weight<simd>(i4)).apply(x, y, ctx);
    }
    REQUIRE(y.rows == M);
    REQUIRE(y.cols == N);
    for (std::size_t i = 0; i < M; ++i) {
      for (std::size_t n = 0; n < N; ++n) {
        double exact = 0, magnitude = 0;
        for (std::size_t k = 0; k < K; ++k) {
          exact += double(x.data[i * K + k]) * dense[n * K + k];
          magnitude += std::abs(double(x.data[i * K + k]) * dense[n * K + k]);
        }
        // The int8 activation quantization of the integer kernels: half a step per element.
        CHECK(std::abs(y.data[i * N + n] - exact) <= 0.02 * magnitude + 1e-4);
      }
    }
  }
}
