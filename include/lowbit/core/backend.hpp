// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <concepts>
#include <string_view>
#include <type_traits>

namespace lowbit {

/// A backend policy: a tag type naming what executes a kernel. A model `B` has `B::name`.
/// Kernels for a backend are partial specializations of the kernel templates (gemm/kernel.hpp);
/// there is no silent fallback from one backend to another.
template <class B>
concept backend_policy = std::is_empty_v<B> && requires {
  { B::name } -> std::convertible_to<std::string_view>;
};

namespace backend {
/// The reference backend: plain loops, double accumulation; the oracle every fast path is tested against.
struct reference {
  static constexpr std::string_view name = "reference";
};
}  // namespace backend

/// For static_assert in primary templates that must not be instantiated.
template <class...>
inline constexpr bool dependent_false = false;

}  // namespace lowbit
