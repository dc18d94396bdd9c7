// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace lowbit {

/// The kind of a `lowbit::error`: what went wrong, for code that branches on it.
enum class errc {
  invalid_argument,  ///< an argument is out of its documented domain (NaN scale, zero threads, ...)
  shape_mismatch,    ///< two extents that must agree do not, or an extent breaks a block rule
  unsupported,       ///< a valid request that this build or format cannot serve
  io_error,          ///< the operating system failed to open, stat or map a file
  truncated,         ///< a file or buffer ends before the structure it must hold
  corrupt,           ///< bytes that cannot be what the format says (bad magic, absurd counts, ...)
  unknown_type,      ///< a type id (tensor type, metadata value type) outside the known set
  type_mismatch,     ///< a value exists but has another type than the one asked for
  missing_key,       ///< a metadata key or tensor name that is not present
  out_of_range,      ///< an index, offset or size past the end of what it addresses
};

/// A short, stable name for an `errc` value ("shape_mismatch", ...).
constexpr std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::shape_mismatch:
      return "shape_mismatch";
    case errc::unsupported:
      return "unsupported";
    case errc::io_error:
      return "io_error";
    case errc::truncated:
      return "truncated";
    case errc::corrupt:
      return "corrupt";
    case errc::unknown_type:
      return "unknown_type";
    case errc::type_mismatch:
      return "type_mismatch";
    case errc::missing_key:
      return "missing_key";
    case errc::out_of_range:
      return "out_of_range";
  }
  return "unknown";
}

/// The one exception type lowbit throws.
///
/// `what()` reads "lowbit: <errc>: <message>", where the message names the object (tensor, key,
/// file, argument), what was expected and what was found.
class error : public std::runtime_error {
 public:
  error(errc code, const std::string& message)
      : std::runtime_error("lowbit: " + std::string(to_string(code)) + ": " + message), code_(code) {}

  /// The kind of failure.
  [[nodiscard]] errc code() const noexcept { return code_; }

 private:
  errc code_;
};

/// Throws `error{code, message}` when `condition` is false. The message is built only on failure
/// when passed as a callable returning std::string.
template <class Message>
constexpr void check(bool condition, errc code, Message&& message) {
  if (!condition) [[unlikely]] {
    if constexpr (std::is_invocable_v<Message>) {
      throw error(code, std::string(message()));
    } else {
      throw error(code, std::string(message));
    }
  }
}

}  // namespace lowbit
