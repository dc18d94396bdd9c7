// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "lowbit/core/error.hpp"

namespace lowbit::prune {

/// What a pruning schedule says for one training step: whether to prune now, and to which sparsity.
struct pruning_step {
  bool prune = false;     ///< prune at this step
  double sparsity = 0.0;  ///< target fraction of pruned weights, in [0, 1)
};

namespace detail {

inline void check_schedule(std::int64_t begin, std::int64_t end, std::int64_t frequency, bool allow_forever,
                           const char* what) {
  const auto fail = [&](const std::string& why) {
    throw error(errc::invalid_argument, std::string(what) + ": " + why);
  };
  if (begin < 0) fail("begin_step " + std::to_string(begin) + " < 0");
  if (end == -1 && !allow_forever) fail("end_step = -1 (prune forever) has no end to decay to");
  if (end != -1 && end < begin)
    fail("end_step " + std::to_string(end) + " is neither -1 nor >= begin_step " + std::to_string(begin));
  if (frequency <= 0) fail("frequency " + std::to_string(frequency) + " <= 0");
}

inline void check_sparsity(double s, const char* what, const char* name) {
  check(std::isfinite(s) && s >= 0.0 && s < 1.0, errc::invalid_argument,
        [&] { return std::string(what) + ": " + name + " " + std::to_string(s) + " is not in [0, 1)"; });
}

// tfmot's PruningSchedule._should_prune_in_step: step in [begin, end] (end = -1: no end) and
// (step - begin) mod frequency == 0 (floor modulo; only reached for step >= begin).
inline bool should_prune_in_step(std::int64_t step, std::int64_t begin, std::int64_t end, std::int64_t frequency) {
  const bool in_range = step >= begin && (step <= end || end < 0);
  return in_range && (step - begin) % frequency == 0;
}

}  // namespace detail

/// TensorFlow Model Optimization's `tfmot.sparsity.keras.PolynomialDecay` pruning schedule.
///
/// At step s: `p = min(1, max(0, (s - begin_step) / (end_step - begin_step)))`,
/// `sparsity = final_sparsity + (initial_sparsity - final_sparsity) * (1 - p)^power`;
/// prune when `begin_step <= s <= end_step` and `(s - begin_step) % frequency == 0`.
/// Steps are integers; the sparsity is computed in double (tfmot computes it in f32, so its values
/// differ in the last f32 bits).
/// throws lowbit::error{errc::invalid_argument} (at construction) if a sparsity is not in [0, 1),
/// begin_step < 0, end_step <= begin_step (tfmot also rejects -1, and end_step == begin_step divides
/// 0 by 0 there; lowbit rejects it), frequency <= 0, or power is not finite.
/// Source: tensorflow/model-optimization, python/core/sparsity/keras/pruning_schedule.py; Zhu & Gupta
/// 2017, "To prune, or not to prune" (arXiv:1710.01878).
class polynomial_decay {
 public:
  /// The schedule's parameters, named as in tfmot; use designated initializers.
  struct options {
    double initial_sparsity = 0.0;
    double final_sparsity = 0.0;
    std::int64_t begin_step = 0;
    std::int64_t end_step = 0;
    double power = 3.0;
    std::int64_t frequency = 100;
  };

  explicit polynomial_decay(const options& o) : o_(o) {
    const char* what = "prune::polynomial_decay";
    detail::check_schedule(o.begin_step, o.end_step, o.frequency, false, what);
    check(o.end_step > o.begin_step, errc::invalid_argument, [&] {
      return std::string(what) + ": end_step " + std::to_string(o.end_step) + " must exceed begin_step " +
             std::to_string(o.begin_step);
    });
    detail::check_sparsity(o.initial_sparsity, what, "initial_sparsity");
    detail::check_sparsity(o.final_sparsity, what, "final_sparsity");
    check(std::isfinite(o.power), errc::invalid_argument, "prune::polynomial_decay: power is not finite");
  }

  const options& params() const noexcept { return o_; }

  /// Whether the weights are pruned at `step`.
  bool should_prune(std::int64_t step) const noexcept {
    return detail::should_prune_in_step(step, o_.begin_step, o_.end_step, o_.frequency);
  }
  /// The target sparsity at `step` (initial before begin_step, final after end_step).
  double sparsity(std::int64_t step) const noexcept {
    const double p = std::min(1.0, std::max(0.0, static_cast<double>(step - o_.begin_step) /
                                                     static_cast<double>(o_.end_step - o_.begin_step)));
    return o_.final_sparsity + (o_.initial_sparsity - o_.final_sparsity) * std::pow(1.0 - p, o_.power);
  }
  /// Both, as tfmot's `schedule(step)` returns them.
  pruning_step operator()(std::int64_t step) const noexcept { return {should_prune(step), sparsity(step)}; }

 private:
  options o_;
};

/// TensorFlow Model Optimization's `tfmot.sparsity.keras.ConstantSparsity` pruning schedule: the
/// same target sparsity at every pruning step; prune when `step >= begin_step`, `step <= end_step`
/// (or end_step == -1: forever) and `(step - begin_step) % frequency == 0`.
/// throws lowbit::error{errc::invalid_argument} (at construction) if target_sparsity is not in
/// [0, 1), begin_step < 0, end_step is neither -1 nor >= begin_step, or frequency <= 0.
/// Source: tensorflow/model-optimization, python/core/sparsity/keras/pruning_schedule.py.
class constant_sparsity {
 public:
  /// The schedule's parameters, named as in tfmot; use designated initializers.
  struct options {
    double target_sparsity = 0.0;
    std::int64_t begin_step = 0;
    std::int64_t end_step = -1;
    std::int64_t frequency = 100;
  };

  explicit constant_sparsity(const options& o) : o_(o) {
    const char* what = "prune::constant_sparsity";
    detail::check_schedule(o.begin_step, o.end_step, o.frequency, true, what);
    detail::check_sparsity(o.target_sparsity, what, "target_sparsity");
  }

  const options& params() const noexcept { return o_; }
  /// Whether the weights are pruned at `step`.
  bool should_prune(std::int64_t step) const noexcept {
    return detail::should_prune_in_step(step, o_.begin_step, o_.end_step, o_.frequency);
  }
  /// The target sparsity (the same at every step).
  double sparsity(std::int64_t) const noexcept { return o_.target_sparsity; }
  /// Both, as tfmot's `schedule(step)` returns them.
  pruning_step operator()(std::int64_t step) const noexcept { return {should_prune(step), sparsity(step)}; }

 private:
  options o_;
};

}  // namespace lowbit::prune
