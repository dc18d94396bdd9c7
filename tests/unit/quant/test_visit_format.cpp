// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
// visit_format: a run-time GGML type id dispatched onto a compile-time list of formats.

#include <string>
#include <type_traits>

#include "catch.hpp"
#include "lowbit/formats/float.hpp"
#include "lowbit/formats/ggml/q4_1.hpp"
#include "lowbit/formats/ggml/q4_k.hpp"
#include "lowbit/formats/ggml/q8_0.hpp"
#include "lowbit/quant/visit_format.hpp"

namespace {
using list = lowbit::format_list<lowbit::f32, lowbit::ggml::q4_1, lowbit::ggml::q8_0>;
using joined = lowbit::format_list_cat_t<list, lowbit::format_list<lowbit::ggml::q4_k>>;
}  // namespace

TEST_CASE("visit_format: each id reaches its format", "[quant][visit_format]") {
  using lowbit::ggml::type;
  const auto name_of = [](type id) {
    return lowbit::visit_format(joined{}, id, []<class F>(F) { return std::string(F::name); });
  };
  CHECK(name_of(type::f32) == "F32");
  CHECK(name_of(type::q4_1) == "Q4_1");
  CHECK(name_of(type::q8_0) == "Q8_0");
  CHECK(name_of(type::q4_k) == "Q4_K");
  const auto block_size = lowbit::visit_format(list{}, type::q8_0, []<class F>(F) { return F::block_size; });
  CHECK(block_size == 32);
  static_assert(
      std::is_same_v<joined,
                     lowbit::format_list<lowbit::f32, lowbit::ggml::q4_1, lowbit::ggml::q8_0, lowbit::ggml::q4_k>>);
  CHECK(list::contains(type::q4_1));
  CHECK_FALSE(list::contains(type::q4_k));
}

TEST_CASE("visit_format: an id outside the list is a lowbit::error naming it", "[quant][visit_format][errors]") {
  try {
    lowbit::visit_format(list{}, lowbit::ggml::type::q6_k, []<class F>(F) { return 0; });
    FAIL("no error");
  } catch (const lowbit::error& e) {
    CHECK(e.code() == lowbit::errc::unsupported);
    CHECK(std::string(e.what()).find("Q6_K") != std::string::npos);
  }
}
