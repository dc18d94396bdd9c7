// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The pieces the GEMM kernel tests (tests/unit/gemm/*.cpp) share: test data (random activations,
// quantized and random-byte weights), running a backend and the reference backend on the same
// problem through any epilogue, the exact oracle of the integer-dot (Q8 activation) kernels with
// its bounds, and the thread-count invariance check. Each test keeps its own error bounds.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "catch.hpp"
#include "lowbit/core/fp16.hpp"
#include "lowbit/gemm/epilogue.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/quant/activation_q8.hpp"

namespace lowbit_test {

/// n values drawn from normal(0, scale) by std::mt19937(seed).
inline std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

/// The blocks of format F encoding w (w.size() a multiple of F::block_size) by F::quantize_block:
/// W(N, K) row-major gives N * K / block_size blocks in file order.
template <class F>
std::vector<typename F::block> quantize_matrix(const std::vector<float>& w) {
  std::vector<typename F::block> blocks(w.size() / F::block_size);
  for (std::size_t b = 0; b < blocks.size(); ++b) F::quantize_block(w.data() + b * F::block_size, blocks[b]);
  return blocks;
}

/// The decoded values of `blocks` (F::dequantize_block), blocks.size() * F::block_size floats.
template <class F>
std::vector<float> dequantize_matrix(const std::vector<typename F::block>& blocks) {
  std::vector<float> w(blocks.size() * F::block_size);
  for (std::size_t b = 0; b < blocks.size(); ++b) F::dequantize_block(blocks[b], w.data() + b * F::block_size);
  return w;
}

/// `count` blocks of random bytes (std::mt19937(seed), every code, sign and scale field), then per
/// block: an fp16 `d` field, where F has one, set to a finite value in [-0.05, 0.05), and
/// `fix(block, rng)` for what else the format needs to stay finite.
template <class F, class Fix>
std::vector<typename F::block> random_blocks(std::size_t count, unsigned seed, Fix&& fix) {
  std::mt19937 rng(seed);
  std::vector<typename F::block> blocks(count);
  auto* bytes = reinterpret_cast<std::uint8_t*>(blocks.data());
  for (std::size_t i = 0; i < count * sizeof(typename F::block); ++i) bytes[i] = static_cast<std::uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (auto& b : blocks) {
    if constexpr (requires { b.d = std::uint16_t{}; }) b.d = lowbit::f32_to_fp16(scale(rng));
    fix(b, rng, scale);
  }
  return blocks;
}

/// The three epilogues every kernel is checked with.
enum class epi { store, bias_add, accumulate };
inline constexpr epi every_epilogue[] = {epi::store, epi::bias_add, epi::accumulate};

/// f(the epilogue `which` names): store{}, bias_add{bias} (bias: N floats) or accumulate{}.
template <class Fn>
void with_epilogue(epi which, const float* bias, Fn&& f) {
  switch (which) {
    case epi::store:
      f(lowbit::epilogue::store{});
      break;
    case epi::bias_add:
      f(lowbit::epilogue::bias_add{bias});
      break;
    case epi::accumulate:
      f(lowbit::epilogue::accumulate{});
      break;
  }
}

/// Threads and workspace of run_with_reference.
struct gemm_options {
  int threads = 1;                       ///< threads of the checked backend's gemm (and of its prepare)
  lowbit::threads reference_threads{};   ///< threads of the reference gemm
  lowbit::gemm_workspace* ws = nullptr;  ///< the checked backend's workspace (nullptr: its own)
};

/// y = e(x · Wᵀ) on backend B with its prepared weights `w`, and y_ref = e_ref(x · Wᵀ) on the
/// reference backend with `reference_w` (what gemm<reference> takes: a weight_view or a
/// quantized_matrix). y and y_ref hold M * N floats on entry (what accumulate adds to). The
/// epilogues are types, so that a test instantiates only the kernels it runs (with_epilogue turns
/// an epi into one).
template <class B, class W, class R, class E, class ERef>
void run_with_reference(lowbit::matrix_view<const float> x, const W& w, const R& reference_w, std::vector<float>& y,
                        std::vector<float>& y_ref, const gemm_options& o, const E& e, const ERef& e_ref) {
  const std::size_t m = x.rows, n = y.size() / std::max<std::size_t>(m, 1);
  // Unqualified: found by argument-dependent lookup where instantiated, so that the overload for a
  // quantized_matrix (gemm/quantized_gemm.hpp, included by the tests that use it) takes part.
  gemm<B>(x, w, lowbit::matrix_view<float>(y.data(), m, n), lowbit::threads{o.threads}, e, o.ws);
  gemm<lowbit::backend::reference>(x, reference_w, lowbit::matrix_view<float>(y_ref.data(), m, n), o.reference_threads,
                                   e_ref);
}

/// run_with_reference with the epilogue e on both backends (default: store).
template <class B, class W, class R, class E = lowbit::epilogue::store>
void run_with_reference(lowbit::matrix_view<const float> x, const W& w, const R& reference_w, std::vector<float>& y,
                        std::vector<float>& y_ref, const gemm_options& o, const E& e = {}) {
  run_with_reference<B>(x, w, reference_w, y, y_ref, o, e, e);
}

/// run_with_reference for weights in file layout and the epilogue `which` at run time: prepares
/// `view` once for B (with o.threads) and for the reference backend, then runs B with `which` and
/// the reference with `which` too or, with ReferenceStore, with store. x: M x K row-major.
template <class B, bool ReferenceStore = false, class F>
void run_with_reference(lowbit::weight_view<F> view, const std::vector<float>& x, std::vector<float>& y,
                        std::vector<float>& y_ref, const gemm_options& o, epi which = epi::store,
                        const float* bias = nullptr) {
  const auto xv = lowbit::matrix_view<const float>(x.data(), x.size() / view.cols, view.cols);
  const auto reference_w = lowbit::prepare_weight<lowbit::backend::reference>(view);
  const auto packed = lowbit::prepare_weight<B>(view, lowbit::threads{o.threads});
  if (which == epi::store) {  // the common case without the other epilogues' kernels
    run_with_reference<B>(xv, packed, reference_w, y, y_ref, o);
    return;
  }
  with_epilogue(which, bias, [&](const auto& e) {
    if constexpr (ReferenceStore) {
      run_with_reference<B>(xv, packed, reference_w, y, y_ref, o, e, lowbit::epilogue::store{});
    } else {
      run_with_reference<B>(xv, packed, reference_w, y, y_ref, o, e);
    }
  });
}

/// Requires that backend B gives bit-identical y for 1 and 2 threads on x(M, K) = random_floats(M *
/// K, 6) and W(N, K) = `w` (prepared with `prepare_threads`).
template <class B, class F>
void require_thread_invariance(const std::vector<typename F::block>& w, std::size_t m, std::size_t n, std::size_t k,
                               int prepare_threads = 1) {
  const auto x = random_floats(m * k, 6);
  const auto packed =
      lowbit::prepare_weight<B>(lowbit::weight_view<F>{w.data(), n, k}, lowbit::threads{prepare_threads});
  std::vector<float> y1(m * n), y2(m * n);
  const auto xv = lowbit::matrix_view<const float>(x.data(), m, k);
  lowbit::gemm<B>(xv, packed, lowbit::matrix_view<float>(y1.data(), m, n), lowbit::threads{1});
  lowbit::gemm<B>(xv, packed, lowbit::matrix_view<float>(y2.data(), m, n), lowbit::threads{2});
  REQUIRE(y1 == y2);
}

/// The exact result of an integer-dot kernel and its bounds, per output (M * N, row-major).
struct q8_oracle {
  std::vector<double> y;          ///< W decoded exactly times x's 8-bit codes and block scales, in double
  std::vector<double> bound;      ///< Σ |terms|, for the f32 rounding allowance
  std::vector<double> step;       ///< Σ_k |w_k| (d_x/2 + 2^-11 (|x_k| + d_x/2)): how far the activation
                                  ///< quantization (code rounding, fp16 block scale) moves the result
  std::vector<double> bound_f32;  ///< Σ |w_k x_k| with the unquantized x
};

/// q8_oracle of x(M, K) (quantized per 32 by quantize_activations_reference; with pad_to_32, a copy
/// zero-padded to K rounded up to 32, for float kernels that take any K) and W(N, K) = `w`.
template <class F>
q8_oracle make_q8_oracle(const std::vector<float>& x, std::size_t m, std::size_t k,
                         const std::vector<typename F::block>& w, std::size_t n, bool pad_to_32 = false) {
  lowbit::activation_q8 xq;
  if (pad_to_32) {
    const std::size_t kp = (k + 31) / 32 * 32;
    std::vector<float> padded(m * kp, 0.0f);
    for (std::size_t i = 0; i < m; ++i) std::copy(x.begin() + i * k, x.begin() + (i + 1) * k, padded.begin() + i * kp);
    lowbit::quantize_activations_reference(lowbit::matrix_view<const float>(padded.data(), m, kp), xq);
  } else {
    lowbit::quantize_activations_reference(lowbit::matrix_view<const float>(x.data(), m, k), xq);
  }
  q8_oracle o;
  o.y.assign(m * n, 0.0);
  o.bound.assign(m * n, 0.0);
  o.step.assign(m * n, 0.0);
  o.bound_f32.assign(m * n, 0.0);
  std::vector<float> wr(k);
  const std::size_t nb = k / F::block_size;
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t b = 0; b < nb; ++b) F::dequantize_block(w[r * nb + b], wr.data() + b * F::block_size);
    for (std::size_t i = 0; i < m; ++i) {
      double sum = 0.0, abs_sum = 0.0, moved = 0.0, abs_f32 = 0.0;
      for (std::size_t j = 0; j < k; ++j) {
        const double dx = xq.row_d(i)[j / 32];
        const double term = double(wr[j]) * dx * xq.row_qs(i)[j];
        sum += term;
        abs_f32 += std::abs(double(wr[j]) * x[i * k + j]);
        abs_sum += std::abs(term);
        moved += std::abs(double(wr[j])) * (dx / 2 + std::ldexp(std::abs(x[i * k + j]) + dx / 2, -11));
      }
      o.y[i * n + r] = sum;
      o.bound[i * n + r] = abs_sum;
      o.step[i * n + r] = moved;
      o.bound_f32[i * n + r] = abs_f32;
    }
  }
  return o;
}

/// The value a checked run started from in y (0.5) and what its epilogue `which` added to output i
/// of an N-column y: bias[i % N], the 0.5 start, or nothing.
inline double added_by(epi which, const std::vector<float>& bias, std::size_t i) {
  return which == epi::bias_add ? bias[i % bias.size()] : which == epi::accumulate ? 0.5 : 0.0;
}

/// Output i of an integer-dot kernel (`got`, the epilogue's `added` removed) against the oracle on
/// the same quantized inputs (only the f32 rounding of the <= K/32 + 2 scaled block sums and of the
/// epilogue's addition separates them) and against the reference on unquantized x (the activation
/// quantization moves the result by at most step[i]).
inline void require_q8_close(double got, double added, double y_ref, const q8_oracle& o, std::size_t i, std::size_t k) {
  const double rounding = 4e-7 * (double(k) / 32 + 4) * o.bound[i] + 1e-6 * std::abs(added) + 1e-30;
  REQUIRE(std::abs(got - o.y[i]) <= rounding);
  REQUIRE(std::abs(got - y_ref) <= o.step[i] + rounding + 1e-6 * std::abs(y_ref));
}

}  // namespace lowbit_test
