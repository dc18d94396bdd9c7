// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "lowbit/core/error.hpp"

namespace lowbit::nn::detail {

/// Throws `lowbit::error{errc::shape_mismatch}` unless `got == expected`; the message reads
/// "<op>: <arg> has <got> elements, expected <expected> (<formula>)".
inline void check_extent(std::string_view op, std::string_view arg, std::size_t got, std::size_t expected,
                         std::string_view formula) {
  check(got == expected, errc::shape_mismatch, [&] {
    return std::string(op) + ": " + std::string(arg) + " has " + std::to_string(got) + " elements, expected " +
           std::to_string(expected) + " (" + std::string(formula) + ")";
  });
}

/// Throws `lowbit::error{errc::shape_mismatch}` unless two spans have the same number of elements;
/// the message names both arguments and both sizes.
inline void check_same_extent(std::string_view op, std::string_view arg_a, std::size_t a, std::string_view arg_b,
                              std::size_t b) {
  check(a == b, errc::shape_mismatch, [&] {
    return std::string(op) + ": " + std::string(arg_a) + " has " + std::to_string(a) + " elements but " +
           std::string(arg_b) + " has " + std::to_string(b);
  });
}

/// Throws `lowbit::error{errc::invalid_argument}` unless `value > 0`; names the argument.
inline void check_positive(std::string_view op, std::string_view arg, std::size_t value) {
  check(value > 0, errc::invalid_argument,
        [&] { return std::string(op) + ": " + std::string(arg) + " must be > 0, got " + std::to_string(value); });
}

}  // namespace lowbit::nn::detail
