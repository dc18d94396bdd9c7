// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/graph/layer.hpp"
#include "lowbit/nn/rms_norm.hpp"

namespace lowbit::graph {

/// RMSNorm as a layer, in place: each run of `weight.size()` consecutive features of each token is
/// normalised with the gain `weight` (`nn::rms_norm`, ggml's arithmetic). With `weight.size()`
/// equal to the feature count this is the usual per-token norm; with a head's size it is the
/// per-head norm that Gemma 3 and Qwen 3 apply to Q and K (x: (tokens, heads * head_dim)).
///
/// Shapes: x (M, C) with C a multiple of dim = weight.size(). Units: those of weight; eps those of x².
/// The weight is copied (owned). throws lowbit::error{errc::shape_mismatch} in forward if C is not
/// a multiple of dim; {errc::invalid_argument} at construction for an empty weight or eps < 0.
/// Source: Zhang & Sennrich, arXiv:1910.07467.
class rms_norm_layer {
 public:
  rms_norm_layer(std::span<const float> weight, float eps) : weight_(weight.begin(), weight.end()), eps_(eps) {
    check(!weight_.empty(), errc::invalid_argument, "rms_norm_layer: empty weight");
    check(eps >= 0.0f, errc::invalid_argument, "rms_norm_layer: eps must be >= 0");
  }

  void forward(activation& x, context& ctx) const {
    const std::size_t dim = weight_.size();
    check(x.cols % dim == 0, errc::shape_mismatch, [&] {
      return "rms_norm_layer: " + std::to_string(x.cols) + " features are not a multiple of the norm's " +
             std::to_string(dim);
    });
    nn::rms_norm(x.data, weight_, x.data, x.rows * (x.cols / dim), dim, eps_, ctx.thread_count);
  }

  std::span<const float> weight() const noexcept { return weight_; }
  float eps() const noexcept { return eps_; }

 private:
  std::vector<float> weight_;
  float eps_;
};

}  // namespace lowbit::graph
