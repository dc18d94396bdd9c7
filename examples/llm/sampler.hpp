// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "lowbit/core/error.hpp"

namespace llm {

/// Sampling settings. temperature == 0 means greedy (argmax, lowest id on ties).
struct sampler_config {
  float temperature = 0.0f;  ///< softmax temperature; 0 = greedy
  std::size_t top_k = 40;    ///< keep the k most likely tokens (0 = all)
  float top_p = 0.95f;       ///< then the smallest set whose probability reaches top_p (1 = all)
  std::uint64_t seed = 42;
};

/// Picks the next token from a row of logits: greedy, or temperature / top-k / top-p (nucleus,
/// Holtzman et al., arXiv:1904.09751) sampling with a seeded generator.
class sampler {
 public:
  /// throws lowbit::error{errc::invalid_argument} for a negative or non-finite temperature, or top_p outside (0, 1].
  explicit sampler(sampler_config config) : config_(config), rng_(config.seed) {
    lowbit::check(std::isfinite(config.temperature) && config.temperature >= 0.0f, lowbit::errc::invalid_argument,
                  "sampler: temperature must be finite and >= 0, got " + std::to_string(config.temperature));
    lowbit::check(config.top_p > 0.0f && config.top_p <= 1.0f, lowbit::errc::invalid_argument,
                  "sampler: top_p must be in (0, 1], got " + std::to_string(config.top_p));
  }

  /// The index of the largest logit (the lowest such index on ties).
  /// throws lowbit::error{errc::invalid_argument} if logits is empty or holds NaN.
  static std::int32_t argmax(std::span<const float> logits) {
    lowbit::check(!logits.empty(), lowbit::errc::invalid_argument, "sampler: empty logits");
    std::size_t best = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      lowbit::check(!std::isnan(logits[i]), lowbit::errc::invalid_argument,
                    [&] { return "sampler: logit " + std::to_string(i) + " is NaN"; });
      if (logits[i] > logits[best]) best = i;
    }
    return static_cast<std::int32_t>(best);
  }

  /// Draws the next token id from `logits` (one row, vocabulary size).
  std::int32_t sample(std::span<const float> logits) {
    if (config_.temperature == 0.0f) return argmax(logits);
    const std::int32_t top = argmax(logits);  // also rejects NaN
    candidates_.resize(logits.size());
    std::iota(candidates_.begin(), candidates_.end(), 0);
    std::size_t k = config_.top_k == 0 ? logits.size() : std::min(config_.top_k, logits.size());
    std::partial_sort(
        candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(k), candidates_.end(),
        [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    candidates_.resize(k);
    probs_.resize(k);
    const float max_logit = logits[top];
    double total = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      probs_[i] = std::exp((logits[candidates_[i]] - max_logit) / config_.temperature);
      total += probs_[i];
    }
    double cumulative = 0.0;
    std::size_t keep = k;
    for (std::size_t i = 0; i < k; ++i) {
      cumulative += probs_[i] / total;
      if (cumulative >= config_.top_p) {
        keep = i + 1;
        break;
      }
    }
    std::discrete_distribution<std::size_t> pick(probs_.begin(), probs_.begin() + static_cast<std::ptrdiff_t>(keep));
    return candidates_[pick(rng_)];
  }

 private:
  sampler_config config_;
  std::mt19937_64 rng_;
  std::vector<std::int32_t> candidates_;
  std::vector<double> probs_;
};

}  // namespace llm
