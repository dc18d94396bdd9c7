// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// The library's format lists (lowbit/formats/gguf_formats.hpp) as the std::tuple type lists
// that Catch2's TEMPLATE_LIST_TEST_CASE takes, so kernel tests run over the catalogue's families
// instead of lists kept by hand.

#include <tuple>

#include "lowbit/formats/gguf_formats.hpp"

namespace lowbit_test {

template <class List>
struct tuple_of;
template <class... Fs>
struct tuple_of<lowbit::format_list<Fs...>> {
  using type = std::tuple<Fs...>;
};

/// `std::tuple<Fs...>` for `lowbit::format_list<Fs...>`.
template <class List>
using tuple_of_t = typename tuple_of<List>::type;

}  // namespace lowbit_test
