// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

// Splitting a kernel test program's format list across several programs ("shards"), so that no
// translation unit instantiates every format's kernels (the compile-time budget: <= 30 s per test
// TU). tests/CMakeLists.txt builds such a source once per shard with -DLOWBIT_TEST_SHARD=i and
// -DLOWBIT_TEST_SHARDS=n; shard i takes formats i, i + n, i + 2n, ... of each list, and the
// format-independent test cases run in shard 0 only. Built without the macros, a source is one
// shard holding everything.

#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#ifndef LOWBIT_TEST_SHARD
#define LOWBIT_TEST_SHARD 0
#endif
#ifndef LOWBIT_TEST_SHARDS
#define LOWBIT_TEST_SHARDS 1
#endif

namespace lowbit_test {

inline constexpr std::size_t test_shard = LOWBIT_TEST_SHARD;
inline constexpr std::size_t test_shards = LOWBIT_TEST_SHARDS;
static_assert(test_shards > 0 && test_shard < test_shards, "LOWBIT_TEST_SHARD must be < LOWBIT_TEST_SHARDS");

/// True in the shard that runs the test cases that are not split by format.
inline constexpr bool first_shard = test_shard == 0;

namespace detail {
template <std::size_t Part, std::size_t Parts, class... Ts, std::size_t... I>
auto take_shard(std::index_sequence<I...>)
    -> decltype(std::tuple_cat(std::declval<std::conditional_t<I % Parts == Part, std::tuple<Ts>, std::tuple<>>>()...));
}  // namespace detail

template <class Tuple, std::size_t Part = test_shard, std::size_t Parts = test_shards>
struct shard_of;
template <class... Ts, std::size_t Part, std::size_t Parts>
struct shard_of<std::tuple<Ts...>, Part, Parts> {
  using type = decltype(detail::take_shard<Part, Parts, Ts...>(std::index_sequence_for<Ts...>{}));
  static_assert(sizeof...(Ts) == 0 || std::tuple_size_v<type> > 0,
                "a shard of this format list is empty: use fewer shards than formats");
};

/// This program's share of the type list `Tuple` (a std::tuple of formats).
template <class Tuple>
using shard_t = typename shard_of<Tuple>::type;

}  // namespace lowbit_test
