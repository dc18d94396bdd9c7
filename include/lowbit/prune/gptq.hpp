// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/detail/select.hpp"
#include "lowbit/prune/gptq_quantizer.hpp"
#include "lowbit/prune/hessian.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/obs.hpp"

namespace lowbit::prune {

/// Options of `gptq`; designated initializers: `{.act_order = true}`.
struct gptq_options {
  double percdamp = 0.01;        ///< as obs_options
  std::size_t lazy_batch = 128;  ///< as obs_options
  /// Process the columns by descending diag(H) (ties: lower index first) and put them back at the end.
  /// A group's grid is chosen when the first of its columns is reached, from its current weights, so
  /// the groups stay the contiguous K ranges the format stores (no g_idx).
  bool act_order = false;
  /// Joint pruning and quantization (SparseGPT, "Joint Sparsification & Quantization"): weights that `mask` (N, K)
  /// prunes are fixed to 0 and the OBS update compensates them with the rest; a group's grid sees them as 0. The format
  /// must decode a pruned weight to exactly 0 (int, nf4, float and ternary codes do, binary does not; GGUF Q4_0 and
  /// Q8_0 do, IQ4_NL and the K-quants with mins in general do not: that is an error). Null: dense.
  const prune::mask* mask = nullptr;
};

/// What `gptq` returns: the quantized matrix in the format's own storage, and its dequantized values.
template <class Matrix>
struct gptq_result {
  Matrix quantized;                ///< quantized_matrix<Q> or block_matrix<F>, (N, K)
  std::vector<float> dequantized;  ///< (N, K) row-major; equals dequantize(quantized) exactly
};

namespace detail {

template <class Quantizer>
struct gptq_hooks {
  Quantizer* qz = nullptr;
  const std::vector<std::size_t>* order = nullptr;  // order[j]: original column processed j-th
  std::vector<std::size_t> pos;                     // pos[c]: processing position of original column c
  std::vector<std::size_t> end;                     // end[j]: group_end at position j (0: none starts)
  std::size_t n_rows = 0;
  std::size_t k = 0;
  std::size_t g = 0;
  const prune::mask* m = nullptr;  // null: dense
  std::vector<float> values;

  void init() {
    pos.assign(k, 0);
    for (std::size_t j = 0; j < k; ++j) pos[(*order)[j]] = j;
    end.assign(k, 0);
    for (std::size_t grp = 0; grp < k / g; ++grp) {
      std::size_t first = k, last = 0;
      for (std::size_t c = grp * g; c < grp * g + g; ++c) {
        first = std::min(first, pos[c]);
        last = std::max(last, pos[c]);
      }
      end[first] = last + 1;
    }
    values.resize(g);
  }

  std::size_t group_end(std::size_t j) const { return end[j]; }

  void begin_group(std::size_t j, const std::vector<double>& w) {
    const std::size_t grp = (*order)[j] / g;
    for (std::size_t n = 0; n < n_rows; ++n) {
      for (std::size_t c = 0; c < g; ++c) {
        const std::size_t col = grp * g + c;
        values[c] = (m != nullptr && !(*m)(n, col)) ? 0.0f : static_cast<float>(w[n * k + pos[col]]);
      }
      qz->begin_group(n, grp, values);
    }
  }

  double target(std::size_t n, std::size_t j, double w) {
    const std::size_t col = (*order)[j];
    if (m != nullptr && !(*m)(n, col)) {
      const float zero = qz->round(n, col, 0.0f);
      check(zero == 0.0f, errc::unsupported, [&] {
        return "prune::gptq: pruned weight (" + std::to_string(n) + ", " + std::to_string(col) + ") decodes to " +
               std::to_string(zero) + ", not 0: this format cannot store the mask's zeros";
      });
      return 0.0;
    }
    return static_cast<double>(qz->round(n, col, static_cast<float>(w)));
  }
};

}  // namespace detail

/// GPTQ with a given quantizer: quantizes W column by column (in `order`, or by descending diag(H)
/// with act_order), each column to the values `qz` gives it, updating the not-yet-quantized columns
/// by the OBS rule so that ||X W^T - X Q^T||^2 over the calibration activations stays small.
///
/// Before the sweep: dead inputs (H_ii = 0) get H_ii = 1 and their weights 0; dampening
/// `percdamp * mean(diag(H))`; U = upper Cholesky factor of H^-1 in processing order (all in double).
/// Groups: when the sweep reaches the first column of a group, every not-yet-applied update is
/// applied to the group's columns and `qz.begin_group` sees its current weights (see gptq_quantizer).
/// w: (N, K) row-major f32, strides allowed; h: K x K. Returns the dequantized (N, K) weights; the
/// quantized matrix is `qz.result()`.
/// With `o.mask`, pruned weights are fixed to 0 (joint pruning and quantization, as SparseGPT describes).
/// throws lowbit::error{errc::shape_mismatch} if K differs from h's, K % group_size != 0 or the mask's
/// shape differs; {errc::invalid_argument} for NaN/Inf in w, a bad percdamp, or a Hessian that damping
/// cannot make positive definite; {errc::unsupported} if a pruned weight does not decode to 0.
/// Allocation: O(K^2 + N * K) doubles. Time O(K^3 + N * K^2).
/// Source: Frantar et al. 2022, "GPTQ" (arXiv:2210.17323), Algorithm 1 (lazy batches, Cholesky form);
/// act-order and groups as its reference code (IST-DASLab/gptq, `--act-order`, `--groupsize`).
template <gptq_quantizer Quantizer>
std::vector<float> gptq_sweep(matrix_view<const float> w, const hessian& h, Quantizer& qz, const gptq_options& o = {}) {
  const char* what = "prune::gptq";
  const std::size_t k = w.cols;
  check(w.rows > 0 && k > 0 && k == h.cols(), errc::shape_mismatch, [&] {
    return std::string(what) + ": weight is " + std::to_string(w.rows) + " x " + std::to_string(k) +
           ", the Hessian is for K = " + std::to_string(h.cols());
  });
  const std::size_t g = qz.group_size();
  check(g > 0 && k % g == 0, errc::shape_mismatch, [&] {
    return std::string(what) + ": K = " + std::to_string(k) + " is not a multiple of the group size " +
           std::to_string(g);
  });
  detail::check_finite(w, what);
  check(o.mask == nullptr || (o.mask->rows() == w.rows && o.mask->cols() == k), errc::shape_mismatch, [&] {
    return std::string(what) + ": mask is " + std::to_string(o.mask->rows()) + " x " + std::to_string(o.mask->cols()) +
           ", weight is " + std::to_string(w.rows) + " x " + std::to_string(k);
  });
  std::vector<std::size_t> order(k);
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (o.act_order) {
    const auto hm = h.matrix();
    const auto diag = [&](std::size_t c) { return hm[c * k + c] == 0.0 ? 1.0 : hm[c * k + c]; };  // dead -> 1
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return diag(a) > diag(b); });
  }
  const auto inv = inverse_factor(h, o.percdamp, order);
  std::vector<double> wd(w.rows * k);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t j = 0; j < k; ++j) wd[n * k + j] = w.row(n)[order[j]];
  }
  std::vector<char> dead(k, 0);
  for (const std::size_t c : inv.dead) dead[c] = 1;
  for (std::size_t j = 0; j < k; ++j) {
    if (!dead[order[j]]) continue;
    for (std::size_t n = 0; n < w.rows; ++n) wd[n * k + j] = 0.0;
  }
  detail::gptq_hooks<Quantizer> hooks;
  hooks.qz = &qz;
  hooks.order = &order;
  hooks.n_rows = w.rows;
  hooks.k = k;
  hooks.g = g;
  hooks.m = o.mask;
  hooks.init();
  detail::obs_sweep(wd, w.rows, k, inv.u, o.lazy_batch, hooks);
  std::vector<float> out(w.rows * k);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t j = 0; j < k; ++j) out[n * k + order[j]] = static_cast<float>(wd[n * k + j]);
  }
  return out;
}

/// GPTQ: quantizes a linear layer's W(N, K) to the format F with the second-order update, using
/// `gptq_quantizer_t<F>`: a parametric `quant<...>` (per_channel or per_group<G>, e.g. int4 g128 sym
/// or asym), or a block format (GGUF Q4_0, Q8_0, IQ4_NL, Q4_K, ...).
///
/// w: (N, K) row-major f32, strides allowed; h: K x K from calibration X(T, K).
/// Result: the format's owning matrix (quantized_matrix<F> or block_matrix<F>) and its dequantized
/// (N, K) values. Errors as `gptq_sweep`, and the quantized matrix's shape errors.
/// Source: Frantar et al. 2022, "GPTQ" (arXiv:2210.17323).
template <class F>
auto gptq(matrix_view<const float> w, const hessian& h, const gptq_options& o = {}) {
  using quantizer = gptq_quantizer_t<F>;
  quantizer qz(w.rows, w.cols);
  auto values = gptq_sweep(w, h, qz, o);
  using matrix = std::remove_reference_t<decltype(qz.result())>;
  return gptq_result<matrix>{.quantized = std::move(qz.result()), .dequantized = std::move(values)};
}

}  // namespace lowbit::prune
