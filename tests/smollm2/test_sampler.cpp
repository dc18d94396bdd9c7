// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#include <cmath>
#include <map>
#include <vector>

#include "catch.hpp"
#include "sampler.hpp"

TEST_CASE("sampler: greedy is argmax with the lowest id on ties", "[sampler][smollm2]") {
  const std::vector<float> logits{0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
  llm::sampler greedy({.temperature = 0.0f});
  REQUIRE(greedy.sample(logits) == 1);
  REQUIRE(llm::sampler::argmax(logits) == 1);
}

TEST_CASE("sampler: temperature sampling follows softmax(logits / T)", "[sampler][smollm2]") {
  const std::vector<float> logits{1.0f, 2.0f, 0.0f, 1.5f};
  const float temperature = 0.7f;
  llm::sampler s({.temperature = temperature, .top_k = 0, .top_p = 1.0f, .seed = 7});
  std::map<int, int> counts;
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++counts[s.sample(logits)];
  double z = 0.0;
  for (float l : logits) z += std::exp(l / temperature);
  for (int id = 0; id < 4; ++id) {
    const double expected = std::exp(logits[id] / temperature) / z;
    CAPTURE(id, expected, counts[id]);
    // 5 standard deviations of a binomial count.
    REQUIRE(std::abs(counts[id] - expected * draws) <= 5.0 * std::sqrt(draws * expected * (1.0 - expected)));
  }
}

TEST_CASE("sampler: top-k and top-p keep only the most likely tokens", "[sampler][smollm2]") {
  const std::vector<float> logits{3.0f, 2.9f, 0.0f, -1.0f, 2.8f, -2.0f};
  llm::sampler top2({.temperature = 1.0f, .top_k = 2, .top_p = 1.0f, .seed = 1});
  llm::sampler nucleus({.temperature = 1.0f, .top_k = 0, .top_p = 0.5f, .seed = 2});
  for (int i = 0; i < 2000; ++i) {
    const auto a = top2.sample(logits);
    REQUIRE((a == 0 || a == 1));
    // softmax: p0 ≈ 0.36, p1 ≈ 0.33: the smallest prefix reaching 0.5 is {0, 1}.
    const auto b = nucleus.sample(logits);
    REQUIRE((b == 0 || b == 1));
  }
}

TEST_CASE("sampler: the same seed gives the same tokens", "[sampler][smollm2]") {
  const std::vector<float> logits{0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  llm::sampler a({.temperature = 1.0f, .seed = 99}), b({.temperature = 1.0f, .seed = 99});
  for (int i = 0; i < 100; ++i) REQUIRE(a.sample(logits) == b.sample(logits));
}

TEST_CASE("sampler: bad settings and logits throw lowbit::error", "[sampler][smollm2][errors]") {
  REQUIRE_THROWS_WITH(llm::sampler({.temperature = -1.0f}), Catch::Contains("temperature"));
  REQUIRE_THROWS_WITH(llm::sampler({.temperature = 1.0f, .top_p = 0.0f}), Catch::Contains("top_p"));
  const std::vector<float> empty;
  REQUIRE_THROWS_WITH(llm::sampler::argmax(empty), Catch::Contains("empty logits"));
  const std::vector<float> nan{0.0f, std::nanf("")};
  REQUIRE_THROWS_WITH(llm::sampler::argmax(nan), Catch::Contains("logit 1 is NaN"));
}
