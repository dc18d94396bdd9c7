// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/detail/select.hpp"
#include "lowbit/prune/hessian.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/obs.hpp"

namespace lowbit::prune {

/// Options of `sparsegpt`; designated initializers: `{.sparsity = 0.5}` or `{.pattern = nm_pattern{2, 4}}`.
struct sparsegpt_options {
  /// Target fraction of pruned weights (unstructured); ignored when `pattern` is set.
  double sparsity = 0.5;
  /// N:M pattern along K instead of unstructured sparsity (K % M must be 0).
  std::optional<nm_pattern> pattern = {};
  /// Columns per adaptive mask selection (unstructured): the mask of columns [j, j + mask_block) is
  /// chosen when column j is reached, from the weights updated so far (SparseGPT's Bs = 128).
  std::size_t mask_block = 128;
  /// Dampening and lazy-batch width, as `obs_options`.
  double percdamp = 0.01;
  std::size_t lazy_batch = 128;
};

/// What `sparsegpt` returns: the updated, pruned weights and the mask they follow.
struct sparsegpt_result {
  std::vector<float> weight;  ///< (N, K) row-major, pruned weights exactly 0
  prune::mask mask;           ///< (N, K)
};

namespace detail {

struct sparsegpt_hooks {
  const sparsegpt_options* opt = nullptr;  // null: fixed mask
  const std::vector<double>* u = nullptr;
  std::size_t n_rows = 0;
  std::size_t k = 0;
  prune::mask* m = nullptr;

  std::size_t group_end(std::size_t j) const {
    if (opt == nullptr) return 0;
    const std::size_t g = opt->pattern ? opt->pattern->m : opt->mask_block;
    return j % g == 0 ? std::min(j + g, k) : 0;
  }

  // SparseGPT's adaptive mask: score w^2 / U_cc^2 = w^2 / [H_F^-1]_cc, the OBS saliency.
  void begin_group(std::size_t j, const std::vector<double>& w) {
    const std::size_t end = group_end(j);
    const std::size_t width = end - j;
    const auto score = [&](std::size_t n, std::size_t c) {
      const double d = (*u)[c * k + c];
      return w[n * k + c] * w[n * k + c] / (d * d);
    };
    if (opt->pattern) {
      std::vector<double> s(width);
      for (std::size_t n = 0; n < n_rows; ++n) {
        for (std::size_t c = 0; c < width; ++c) s[c] = -score(n, j + c);  // keep the N largest
        for (std::size_t c = 0; c < width; ++c) m->data()[n * k + j + c] = 0;
        for (const std::size_t c : lowest_k(s, opt->pattern->n)) m->data()[n * k + j + c] = 1;
      }
    } else {
      std::vector<double> s(n_rows * width);
      for (std::size_t n = 0; n < n_rows; ++n) {
        for (std::size_t c = 0; c < width; ++c) s[n * width + c] = score(n, j + c);
      }
      const std::size_t pruned = pruned_count_for(opt->sparsity, s.size(), "prune::sparsegpt");
      for (const std::size_t i : lowest_k(s, pruned)) m->data()[(i / width) * k + j + i % width] = 0;
    }
  }

  double target(std::size_t n, std::size_t j, double w) const { return (*m)(n, j) ? w : 0.0; }
};

inline void check_solver_shapes(std::size_t w_rows, std::size_t w_cols, const hessian& h, const char* what) {
  check(w_rows > 0 && w_cols > 0 && w_cols == h.cols(), errc::shape_mismatch, [&] {
    return std::string(what) + ": weight is " + std::to_string(w_rows) + " x " + std::to_string(w_cols) +
           ", the Hessian is for K = " + std::to_string(h.cols());
  });
}

}  // namespace detail

/// SparseGPT with a given mask: prunes W to `m` column by column and updates the remaining weights
/// to compensate (the OBS update), in place, in double. Dead inputs (H_ii = 0) have their weights
/// set to 0 first, as GPTQ does.
///
/// w: (N, K) row-major double, strides allowed, in/out; m: (N, K); h: K x K from calibration X(T, K).
/// Result: w(n, k) = 0 where m(n, k) is 0.
/// throws lowbit::error{errc::shape_mismatch} if shapes disagree; {errc::invalid_argument} for NaN/Inf
/// in w or a Hessian that damping cannot make positive definite (the errors of `inverse_factor`).
/// Allocation: O(K^2 + N * K) doubles. Time O(K^3 + N * K^2).
/// Source: Frantar & Alistarh 2023, "SparseGPT" (arXiv:2301.00774), Algorithm 1.
inline void sparsegpt_update(matrix_view<double> w, const hessian& h, const mask& m, const obs_options& o = {}) {
  const char* what = "prune::sparsegpt_update";
  detail::check_solver_shapes(w.rows, w.cols, h, what);
  check(m.rows() == w.rows && m.cols() == w.cols, errc::shape_mismatch, [&] {
    return std::string(what) + ": mask is " + std::to_string(m.rows()) + " x " + std::to_string(m.cols()) +
           ", weight is " + std::to_string(w.rows) + " x " + std::to_string(w.cols);
  });
  detail::check_finite(matrix_view<const double>(w.data, w.rows, w.cols, w.row_stride), what);
  const auto inv = inverse_factor(h, o.percdamp);
  const std::size_t k = w.cols;
  std::vector<double> wd(w.rows * k);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t c = 0; c < k; ++c) wd[n * k + c] = w.row(n)[c];
    for (const std::size_t c : inv.dead) wd[n * k + c] = 0.0;
  }
  mask fixed = m;
  detail::sparsegpt_hooks hooks{.opt = nullptr, .u = &inv.u, .n_rows = w.rows, .k = k, .m = &fixed};
  detail::obs_sweep(wd, w.rows, k, inv.u, o.lazy_batch, hooks);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t c = 0; c < k; ++c) w.row(n)[c] = wd[n * k + c];
  }
}

/// SparseGPT: prunes a linear layer's W to a target sparsity (unstructured, mask chosen adaptively
/// per block of `mask_block` columns) or to an N:M pattern (chosen per group of M), updating the
/// kept weights to minimise ||X W^T - X W'^T||^2 over the calibration activations.
///
/// Mask selection: when column j starts a mask block (or an N:M group), scores
/// `w(n, c)^2 / U_cc^2` (U: `inverse_factor`, U_cc^2 = [H_F^-1]_cc: the OBS saliency; the reference code
/// writes it `W1 ** 2 / diag(Hinv1) ** 2`, its Hinv1 being U) are computed from the weights as updated so far;
/// unstructured prunes the round(sparsity * N * width) lowest scores of the N x width block (the reference code prunes
/// every score <= the value at that rank, one more plus ties), N:M keeps the N highest of each row's group. Ties: the
/// lower (row-major) index is pruned first. w: (N, K) row-major f32, strides allowed; h: K x K. Result weight: (N, K)
/// f32. throws lowbit::error{errc::shape_mismatch} if K differs from h's or (N:M) K % M != 0; {errc::invalid_argument}
/// for a sparsity outside [0, 1], a bad pattern, mask_block 0, NaN/Inf in w, or a Hessian that damping cannot make
/// positive definite. Time O(K^3 + N * K^2), double throughout. Source: Frantar & Alistarh 2023, "SparseGPT"
/// (arXiv:2301.00774), Algorithm 1 and section 3.
inline sparsegpt_result sparsegpt(matrix_view<const float> w, const hessian& h, const sparsegpt_options& o = {}) {
  const char* what = "prune::sparsegpt";
  detail::check_solver_shapes(w.rows, w.cols, h, what);
  if (o.pattern) {
    detail::check_nm(*o.pattern, w.cols, what);
  } else {
    detail::pruned_count_for(o.sparsity, 0, what);
    check(o.mask_block > 0, errc::invalid_argument, "prune::sparsegpt: mask_block is 0");
  }
  detail::check_finite(w, what);
  const auto inv = inverse_factor(h, o.percdamp);
  const std::size_t k = w.cols;
  std::vector<double> wd(w.rows * k);
  for (std::size_t n = 0; n < w.rows; ++n) {
    for (std::size_t c = 0; c < k; ++c) wd[n * k + c] = w.row(n)[c];
    for (const std::size_t c : inv.dead) wd[n * k + c] = 0.0;
  }
  sparsegpt_result out{.weight = {}, .mask = mask(w.rows, k)};
  detail::sparsegpt_hooks hooks{.opt = &o, .u = &inv.u, .n_rows = w.rows, .k = k, .m = &out.mask};
  detail::obs_sweep(wd, w.rows, k, inv.u, o.lazy_batch, hooks);
  out.weight.assign(wd.begin(), wd.end());
  return out;
}

}  // namespace lowbit::prune
