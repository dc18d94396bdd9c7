// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/formats/ggml/type.hpp"

namespace lowbit {

namespace detail {
/// True when no two of `ids` are equal.
constexpr bool distinct_type_ids(std::initializer_list<ggml::type> ids) noexcept {
  for (auto a = ids.begin(); a != ids.end(); ++a) {
    for (auto b = a + 1; b != ids.end(); ++b) {
      if (*a == *b) return false;
    }
  }
  return true;
}
}  // namespace detail

/// A compile-time list of formats, each with a GGUF type id `F::type_id`; ids must be distinct.
///
/// `contains(id)` tells whether a run-time ggml type id is in the list; `visit_format` dispatches
/// on it. Lists join with `format_list_cat_t`.
template <format... Fs>
struct format_list {
  static_assert(detail::distinct_type_ids({Fs::type_id...}),
                "lowbit: format_list holds two formats with the same GGUF type id");

  /// The number of formats.
  static constexpr std::size_t size = sizeof...(Fs);

  /// True when one of the formats has type id `id`.
  static constexpr bool contains(ggml::type id) noexcept { return ((Fs::type_id == id) || ...); }

  /// The formats' names, comma-separated, in list order ("F32, Q4_1, Q8_0"), for error messages.
  static std::string names() {
    std::string out;
    ((out += (out.empty() ? "" : ", "), out += Fs::name), ...);
    return out;
  }
};

namespace detail {
template <class... Lists>
struct format_list_cat;
template <>
struct format_list_cat<> {
  using type = format_list<>;
};
template <class... As>
struct format_list_cat<format_list<As...>> {
  using type = format_list<As...>;
};
template <class... As, class... Bs, class... Rest>
struct format_list_cat<format_list<As...>, format_list<Bs...>, Rest...> {
  using type = typename format_list_cat<format_list<As..., Bs...>, Rest...>::type;
};

template <class List, class Visitor, class F, class... Fs>
decltype(auto) visit_format_impl(ggml::type id, Visitor&& visitor) {
  if (F::type_id == id) return std::forward<Visitor>(visitor)(F{});
  if constexpr (sizeof...(Fs) > 0) {
    return visit_format_impl<List, Visitor, Fs...>(id, std::forward<Visitor>(visitor));
  } else {
    throw error(errc::unsupported, "visit_format: GGUF type " + std::string(ggml::name(id)) + " (id " +
                                       std::to_string(static_cast<std::uint32_t>(id)) +
                                       ") is not in this build's list of formats (" + List::names() +
                                       ")");
  }
}
}  // namespace detail

/// The concatenation of format lists: `format_list_cat_t<format_list<A>, format_list<B, C>>` is
/// `format_list<A, B, C>`.
template <class... Lists>
using format_list_cat_t = typename detail::format_list_cat<Lists...>::type;

/// Calls `visitor(F{})` for the format F among `Fs...` whose `F::type_id` is the run-time id `id`,
/// and returns what it returns (every instantiation must return the same type) — the "Dynamic"
/// bridge of docs/design.md ("Compile time meets run time"), like `std::visit`. A linear search over the
/// list: call it once per tensor or layer, never per block.
///
/// throws `lowbit::error{errc::unsupported}` naming the type when `id` is not in the list, and
/// whatever `visitor` throws.
template <format... Fs, class Visitor>
requires(sizeof...(Fs) > 0) decltype(auto) visit_format(ggml::type id, Visitor&& visitor) {
  return detail::visit_format_impl<format_list<Fs...>, Visitor, Fs...>(id, std::forward<Visitor>(visitor));
}

/// `visit_format<Fs...>(id, visitor)` for the formats of `format_list<Fs...>`.
template <format... Fs, class Visitor>
decltype(auto) visit_format(format_list<Fs...>, ggml::type id, Visitor&& visitor) {
  if constexpr (sizeof...(Fs) == 0) {
    throw error(errc::unsupported, "visit_format: GGUF type " + std::string(ggml::name(id)) + " (id " +
                                       std::to_string(static_cast<std::uint32_t>(id)) +
                                       ") is not in this build's list of formats (the list is empty)");
  } else {
    return visit_format<Fs...>(id, std::forward<Visitor>(visitor));
  }
}

}  // namespace lowbit
