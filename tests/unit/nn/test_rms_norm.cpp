// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "catch.hpp"
#include "lowbit/nn/rms_norm.hpp"
#include "nn_test_support.hpp"

namespace nn = lowbit::nn;
using nn_test::close;
using nn_test::random_floats;

namespace {

// y = x / sqrt(mean(x^2) + eps) * w, all in double.
std::vector<double> rms_norm_double(const std::vector<float>& x, const std::vector<float>& w, std::size_t rows,
                                    std::size_t dim, double eps) {
  std::vector<double> y(rows * dim);
  for (std::size_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (std::size_t j = 0; j < dim; ++j) ss += double(x[r * dim + j]) * double(x[r * dim + j]);
    const double inv = 1.0 / std::sqrt(ss / double(dim) + eps);
    for (std::size_t j = 0; j < dim; ++j) y[r * dim + j] = double(x[r * dim + j]) * inv * double(w[j]);
  }
  return y;
}

}  // namespace

TEST_CASE("rms_norm: simd is bit-identical to the reference (ggml's recipe) on odd sizes", "[nn][rms_norm][simd]") {
  for (std::size_t dim : nn_test::odd_sizes) {
    for (std::size_t rows : {1u, 3u}) {
      const auto x = random_floats(rows * dim, 1 + unsigned(dim), -3.0f, 3.0f);
      const auto w = random_floats(dim, 2 + unsigned(dim), 0.5f, 1.5f);
      std::vector<float> fast(rows * dim), ref(rows * dim);
      nn::rms_norm(x, w, fast, rows, dim, 1e-5f);
      nn::reference::rms_norm(x, w, ref, rows, dim, 1e-5f);
      for (std::size_t i = 0; i < fast.size(); ++i) {
        INFO("dim " << dim << " rows " << rows << " i " << i);
        REQUIRE(std::memcmp(&fast[i], &ref[i], sizeof(float)) == 0);
      }
    }
  }
}

TEST_CASE("rms_norm: simd and reference match double-precision math", "[nn][rms_norm]") {
  for (std::size_t dim : nn_test::odd_sizes) {
    const std::size_t rows = 2;
    const auto x = random_floats(rows * dim, 10 + unsigned(dim), -2.0f, 2.0f);
    const auto w = random_floats(dim, 20 + unsigned(dim), -1.5f, 1.5f);
    const auto want = rms_norm_double(x, w, rows, dim, 1e-5);
    std::vector<float> fast(rows * dim), ref(rows * dim);
    nn::rms_norm(x, w, fast, rows, dim, 1e-5f);
    nn::reference::rms_norm(x, w, ref, rows, dim, 1e-5f);
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("dim " << dim << " i " << i);
      REQUIRE(close(fast[i], want[i], 4e-6, 1e-30));
      REQUIRE(close(ref[i], want[i], 4e-6, 1e-30));
    }
  }
}

TEST_CASE("rms_norm: eps dominates a zero row, in place, threads", "[nn][rms_norm]") {
  const std::size_t dim = 65, rows = 300;
  std::vector<float> zeros(dim, 0.0f), w(dim, 1.0f), y(dim, 7.0f);
  nn::rms_norm(zeros, w, y, 1, dim, 1e-5f);
  for (float v : y) REQUIRE(v == 0.0f);

  const auto x = random_floats(rows * dim, 3);
  const auto w2 = random_floats(dim, 4);
  std::vector<float> one(rows * dim), two(rows * dim), inplace = x;
  nn::rms_norm(x, w2, one, rows, dim, 1e-5f, lowbit::threads{1});
  nn::rms_norm(x, w2, two, rows, dim, 1e-5f, lowbit::threads{2});
  nn::rms_norm(inplace, w2, inplace, rows, dim, 1e-5f);
  REQUIRE(one == two);
  REQUIRE(one == inplace);
}

TEST_CASE("rms_norm: wrong sizes throw naming the argument", "[nn][rms_norm][errors]") {
  std::vector<float> x(12), w(4), y(12), bad(11), w3(3);
  auto msg = nn_test::error_message([&] { nn::rms_norm(bad, w, y, 3, 4, 1e-5f); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("x has 11") != std::string::npos);
  CHECK(msg.find("expected 12") != std::string::npos);
  msg = nn_test::error_message([&] { nn::rms_norm(x, w3, y, 3, 4, 1e-5f); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("weight has 3") != std::string::npos);
  msg = nn_test::error_message([&] { nn::reference::rms_norm(x, w, bad, 3, 4, 1e-5f); }, lowbit::errc::shape_mismatch);
  CHECK(msg.find("y has 11") != std::string::npos);
  nn_test::error_message([&] { nn::rms_norm(x, w, y, 3, 4, -1.0f); }, lowbit::errc::invalid_argument);
}

TEST_CASE("rms_norm: per-head Q/K norm over (M * n_heads) rows of head_dim == ggml's per-row recipe",
          "[nn][rms_norm][qk_norm]") {
  // Gemma 3 (Q 4 heads, K 1 head, head_dim 256) and Qwen-like (14 / 2 heads of 64). llama.cpp
  // normalises Qcur viewed as (head_dim, n_heads, M): ggml_rms_norm works on each ne[0] = head_dim
  // row, then ggml_mul broadcasts the (head_dim) weight; restated here row by row from that recipe:
  // sum of the f32 squares in double, mean = float(sum / head_dim), s = 1 / sqrtf(mean + eps),
  // y = (x * s) * w.
  struct shape {
    std::size_t n_heads, head_dim;
  };
  for (const shape sh : {shape{4, 256}, shape{1, 256}, shape{14, 64}, shape{2, 64}}) {
    for (const std::size_t M : {1u, 7u}) {
      const std::size_t rows = M * sh.n_heads, hd = sh.head_dim;
      const auto x = random_floats(rows * hd, unsigned(rows + hd), -4.0f, 4.0f);
      const auto w = random_floats(hd, unsigned(hd), 0.25f, 2.0f);
      const float eps = 1e-6f;
      std::vector<float> y(x.size()), per_head(x.size());
      nn::rms_norm(x, w, y, rows, hd, eps, lowbit::threads{2});
      for (std::size_t r = 0; r < rows; ++r) {  // one head at a time, as separate calls
        nn::rms_norm(std::span(x).subspan(r * hd, hd), w, std::span(per_head).subspan(r * hd, hd), 1, hd, eps);
      }
      REQUIRE(per_head == y);
      for (std::size_t r = 0; r < rows; ++r) {
        double sum = 0.0;
        for (std::size_t j = 0; j < hd; ++j) sum += double(x[r * hd + j] * x[r * hd + j]);
        const float mean = float(sum / double(hd));
        const float s = 1.0f / std::sqrt(mean + eps);
        for (std::size_t j = 0; j < hd; ++j) {
          const float want = (x[r * hd + j] * s) * w[j];
          INFO("heads " << sh.n_heads << " head_dim " << hd << " row " << r << " j " << j);
          REQUIRE(std::memcmp(&y[r * hd + j], &want, sizeof want) == 0);
        }
      }
    }
  }
}
