// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
//
// Tests of lowbit/prune/schedule.hpp against tfmot's published PolynomialDecay and ConstantSparsity
// rules, written again here: s = final + (initial - final) * (1 - p)^power with
// p = clamp((step - begin) / (end - begin), 0, 1), pruning when begin <= step <= end (end = -1: no
// end, ConstantSparsity only) and (step - begin) % frequency == 0.

#include <cmath>
#include <cstdint>

#include "catch.hpp"
#include "lowbit/prune/schedule.hpp"

namespace prune = lowbit::prune;

TEST_CASE("prune: polynomial_decay == tfmot formula", "[prune][schedule]") {
  const prune::polynomial_decay s({.initial_sparsity = 0.1,
                                   .final_sparsity = 0.8,
                                   .begin_step = 200,
                                   .end_step = 1200,
                                   .power = 3,
                                   .frequency = 100});
  for (std::int64_t step = 0; step <= 1500; step += 7) {
    double p = static_cast<double>(step - 200) / 1000.0;
    p = p < 0 ? 0 : (p > 1 ? 1 : p);
    const double want = 0.8 + (0.1 - 0.8) * (1 - p) * (1 - p) * (1 - p);
    CHECK(s.sparsity(step) == Approx(want).margin(1e-15));
    const bool prune_now = step >= 200 && step <= 1200 && (step - 200) % 100 == 0;
    CHECK(s.should_prune(step) == prune_now);
    CHECK(s(step).prune == prune_now);
  }
  // Published points: start, middle and end of the decay.
  CHECK(s.sparsity(200) == Approx(0.1));
  CHECK(s.sparsity(700) == Approx(0.8 - 0.7 * 0.125));
  CHECK(s.sparsity(1200) == Approx(0.8));
  CHECK(s.should_prune(200));
  CHECK(s.should_prune(1200));
  CHECK(!s.should_prune(1300));
  CHECK(!s.should_prune(100));
  CHECK(!s.should_prune(250));
}

TEST_CASE("prune: polynomial_decay power and frequency 1", "[prune][schedule]") {
  const prune::polynomial_decay s(
      {.initial_sparsity = 0.0, .final_sparsity = 0.5, .begin_step = 0, .end_step = 10, .power = 1, .frequency = 1});
  for (std::int64_t step = 0; step <= 10; ++step) {
    CHECK(s.sparsity(step) == Approx(0.05 * static_cast<double>(step)).margin(1e-15));
    CHECK(s.should_prune(step));
  }
  CHECK(!s.should_prune(11));
}

TEST_CASE("prune: constant_sparsity, end_step -1 prunes forever", "[prune][schedule]") {
  const prune::constant_sparsity forever({.target_sparsity = 0.5, .begin_step = 1000, .frequency = 100});
  CHECK(!forever.should_prune(900));
  CHECK(forever.should_prune(1000));
  CHECK(!forever.should_prune(1050));
  CHECK(forever.should_prune(1000000));
  CHECK(forever(123456).sparsity == 0.5);
  const prune::constant_sparsity bounded({.target_sparsity = 0.3, .begin_step = 0, .end_step = 300, .frequency = 100});
  CHECK(bounded.should_prune(300));
  CHECK(!bounded.should_prune(400));
}

TEST_CASE("prune: schedules reject what tfmot rejects", "[prune][schedule][errors]") {
  using pd = prune::polynomial_decay;
  CHECK_THROWS_WITH(pd({.initial_sparsity = 0, .final_sparsity = 1.0, .begin_step = 0, .end_step = 10}),
                    Catch::Contains("final_sparsity"));
  CHECK_THROWS_WITH(pd({.initial_sparsity = 0, .final_sparsity = 0.5, .begin_step = 0, .end_step = -1}),
                    Catch::Contains("end_step = -1"));
  CHECK_THROWS_WITH(pd({.initial_sparsity = 0, .final_sparsity = 0.5, .begin_step = -1, .end_step = 10}),
                    Catch::Contains("begin_step -1 < 0"));
  CHECK_THROWS_WITH(pd({.initial_sparsity = 0, .final_sparsity = 0.5, .begin_step = 5, .end_step = 5}),
                    Catch::Contains("must exceed"));
  CHECK_THROWS_WITH(pd({.initial_sparsity = 0, .final_sparsity = 0.5, .begin_step = 0, .end_step = 10, .frequency = 0}),
                    Catch::Contains("frequency 0"));
  CHECK_THROWS_WITH(prune::constant_sparsity({.target_sparsity = 0.5, .begin_step = 10, .end_step = 5}),
                    Catch::Contains("end_step 5"));
  CHECK_THROWS_WITH(prune::constant_sparsity({.target_sparsity = -0.1}), Catch::Contains("target_sparsity"));
}
