// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// lowbit-quantize --prune: which tensors are pruned, the SPEC's grammar, the mask (magnitude or
// Wanda, per output row) applied to a tensor's f32 values, and the zeros counted after quantization.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/core/matrix_view.hpp"
#include "lowbit/prune/magnitude.hpp"
#include "lowbit/prune/mask.hpp"
#include "lowbit/prune/nm.hpp"
#include "lowbit/prune/wanda.hpp"

namespace quantize_tool {

enum class prune_method { magnitude, wanda };

/// What --prune SPEC --method METHOD asks for: an N:M pattern along K, or an unstructured sparsity
/// reached in every output row.
struct prune_spec {
  std::optional<lowbit::prune::nm_pattern> nm;  ///< set for "N:M"
  double sparsity = 0.0;                        ///< pruned share of each row (N:M: 1 - N / M)
  prune_method method = prune_method::magnitude;

  std::string text() const {
    if (nm) return std::to_string(nm->n) + ":" + std::to_string(nm->m);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g%%", sparsity * 100.0);
    return buf;
  }
  std::string_view method_name() const { return method == prune_method::wanda ? "wanda" : "magnitude"; }
};

/// Parses SPEC: "N:M" with 0 < N < M (e.g. "2:4"), or an unstructured sparsity as a percentage
/// ("50%") or a fraction ("0.5"), in [0, 1).
/// throws lowbit::error{errc::invalid_argument} naming SPEC otherwise.
inline prune_spec parse_prune_spec(std::string_view spec) {
  using lowbit::errc;
  const auto bad = [&](const std::string& why) {
    return "--prune: '" + std::string(spec) + "' " + why + " (want N:M such as 2:4, or a sparsity such as 50% or 0.5)";
  };
  const auto whole = [](std::string_view s, std::size_t& v) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
  };
  prune_spec p;
  if (const auto colon = spec.find(':'); colon != std::string_view::npos) {
    std::size_t n = 0, m = 0;
    lowbit::check(whole(spec.substr(0, colon), n) && whole(spec.substr(colon + 1), m), errc::invalid_argument,
                  [&] { return bad("is not N:M with whole numbers"); });
    lowbit::check(n > 0 && n < m && m <= 256, errc::invalid_argument, [&] { return bad("needs 0 < N < M <= 256"); });
    p.nm = lowbit::prune::nm_pattern{.n = n, .m = m};
    p.sparsity = 1.0 - static_cast<double>(n) / static_cast<double>(m);
    return p;
  }
  const bool percent = spec.ends_with('%');
  const std::string_view number = percent ? spec.substr(0, spec.size() - 1) : spec;
  double v = 0.0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  lowbit::check(!number.empty() && ec == std::errc{} && end == number.data() + number.size(), errc::invalid_argument,
                [&] { return bad("is not a number"); });
  if (percent) v /= 100.0;
  lowbit::check(std::isfinite(v) && v >= 0.0 && v < 1.0, errc::invalid_argument,
                [&] { return bad("is not a sparsity in [0, 1) (0% to below 100%)"); });
  p.sparsity = v;
  return p;
}

/// Whether --prune prunes tensor `name`: the 2-D projection weights of the transformer blocks that
/// llama.cpp's rules quantize (attention q, k, v, fused qkv and output; feed-forward gate, up and
/// down). Never the token embedding, the output head, norms, biases or expert (3-D) tensors.
inline bool is_pruned_tensor(std::string_view name, std::uint32_t n_dims) {
  if (n_dims != 2 || !name.starts_with("blk.")) return false;
  for (std::string_view suffix : {".attn_q.weight", ".attn_k.weight", ".attn_v.weight", ".attn_qkv.weight",
                                  ".attn_output.weight", ".ffn_gate.weight", ".ffn_up.weight", ".ffn_down.weight"}) {
    if (name.ends_with(suffix)) return true;
  }
  return false;
}

/// Prunes rows [r0, r1) of W(rows, k) in place by `spec`, per output row. `mean_sq` (Wanda only)
/// holds, per input column j, the mean of x_j^2 over the calibration tokens (an imatrix entry):
/// sqrt(mean_sq[j]) = ||X_j||_2 / sqrt(T), a positive factor that changes no Wanda mask.
/// Rows are independent, so disjoint row ranges may run on different threads.
inline void prune_rows(std::span<float> w, std::size_t k, std::size_t r0, std::size_t r1, const prune_spec& spec,
                       std::span<const float> mean_sq) {
  namespace pr = lowbit::prune;
  const lowbit::matrix_view<float> rows(w.data() + r0 * k, r1 - r0, k);
  pr::mask m;
  if (spec.method == prune_method::wanda) {
    std::vector<float> norm(mean_sq.size());
    for (std::size_t j = 0; j < norm.size(); ++j) norm[j] = std::sqrt(std::max(0.0f, mean_sq[j]));
    m = spec.nm ? pr::wanda_nm_mask(rows, norm, *spec.nm) : pr::wanda_mask(rows, norm, spec.sparsity);
  } else {
    m = spec.nm ? pr::magnitude_nm_mask(rows, *spec.nm)
                : pr::magnitude_mask(rows, spec.sparsity, pr::prune_scope::per_row);
  }
  pr::apply_mask(rows, m);
}

/// Zeros of a decoded W(rows, k): how many elements are exactly zero, and for an N:M pattern how many
/// groups of M along K hold at most N non-zeros (the pattern an N:M kernel can use).
struct zero_count {
  std::size_t zeros = 0, elements = 0;
  std::size_t nm_groups_ok = 0, nm_groups = 0;
};

inline zero_count count_zeros(std::span<const float> w, std::size_t k, std::optional<lowbit::prune::nm_pattern> nm) {
  zero_count c;
  c.elements = w.size();
  for (float v : w) c.zeros += v == 0.0f ? 1 : 0;
  if (nm && k % nm->m == 0) {
    for (std::size_t g = 0; g + nm->m <= w.size(); g += nm->m) {
      std::size_t nonzero = 0;
      for (std::size_t j = 0; j < nm->m; ++j) nonzero += w[g + j] != 0.0f ? 1 : 0;
      c.nm_groups_ok += nonzero <= nm->n ? 1 : 0;
      ++c.nm_groups;
    }
  }
  return c;
}

}  // namespace quantize_tool
