// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"

namespace lowbit::io {

namespace detail {
class gguf_parser;
}  // namespace detail

/// The type of a GGUF metadata value, as stored in the file (a little-endian u32).
///
/// Numbering from the GGUF specification (ggml `enum gguf_type`, gguf-py `GGUFValueType`).
/// `string` is a u64 byte length followed by that many UTF-8 bytes (no terminator); `array` is a u32
/// element type, a u64 count and the elements, which may themselves be arrays.
enum class gguf_value_type : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,  ///< one byte, 0 or 1
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

/// A short name of `t` ("u32", "f32", "bool", "string", "array", ...), or "unknown" for an id
/// outside the GGUF set.
constexpr std::string_view to_string(gguf_value_type t) noexcept {
  switch (t) {
    case gguf_value_type::u8:
      return "u8";
    case gguf_value_type::i8:
      return "i8";
    case gguf_value_type::u16:
      return "u16";
    case gguf_value_type::i16:
      return "i16";
    case gguf_value_type::u32:
      return "u32";
    case gguf_value_type::i32:
      return "i32";
    case gguf_value_type::f32:
      return "f32";
    case gguf_value_type::boolean:
      return "bool";
    case gguf_value_type::string:
      return "string";
    case gguf_value_type::array:
      return "array";
    case gguf_value_type::u64:
      return "u64";
    case gguf_value_type::i64:
      return "i64";
    case gguf_value_type::f64:
      return "f64";
  }
  return "unknown";
}

/// The number of bytes a scalar of type `t` occupies in a GGUF file, or 0 for `string`, `array`
/// and unknown ids.
constexpr std::size_t gguf_scalar_size(gguf_value_type t) noexcept {
  switch (t) {
    case gguf_value_type::u8:
    case gguf_value_type::i8:
    case gguf_value_type::boolean:
      return 1;
    case gguf_value_type::u16:
    case gguf_value_type::i16:
      return 2;
    case gguf_value_type::u32:
    case gguf_value_type::i32:
    case gguf_value_type::f32:
      return 4;
    case gguf_value_type::u64:
    case gguf_value_type::i64:
    case gguf_value_type::f64:
      return 8;
    case gguf_value_type::string:
    case gguf_value_type::array:
      return 0;
  }
  return 0;
}

/// True when `t` is one of the 13 GGUF value types.
constexpr bool is_known(gguf_value_type t) noexcept {
  return static_cast<std::uint32_t>(t) <= static_cast<std::uint32_t>(gguf_value_type::f64);
}

/// A C++ type a GGUF scalar can be read as: any arithmetic type (`bool`, integers, floating point).
template <class T>
concept gguf_scalar = std::is_arithmetic_v<T>;

namespace detail {

/// Loads a little-endian `T` (an unsigned integer) from possibly unaligned bytes.
template <class T>
inline T load_le(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) {
    T r = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) r = static_cast<T>((r << 8) | ((v >> (8 * i)) & 0xff));
    v = r;
  }
  return v;
}

/// Loads a scalar of GGUF type `t` at `p` as its raw bits, zero-extended to 64 bits.
inline std::uint64_t load_scalar_bits(gguf_value_type t, const std::byte* p) noexcept {
  switch (gguf_scalar_size(t)) {
    case 1:
      return std::to_integer<std::uint64_t>(*p);
    case 2:
      return load_le<std::uint16_t>(p);
    case 4:
      return load_le<std::uint32_t>(p);
    case 8:
      return load_le<std::uint64_t>(p);
    default:
      return 0;
  }
}

/// The GGUF-style name of a C++ scalar type, for error messages.
template <class T>
constexpr std::string_view cpp_type_name() noexcept {
  if constexpr (std::is_same_v<T, bool>) {
    return "bool";
  } else if constexpr (std::is_floating_point_v<T>) {
    return sizeof(T) == 4 ? "f32" : sizeof(T) == 8 ? "f64" : "long double";
  } else if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1 ? "i8" : sizeof(T) == 2 ? "i16" : sizeof(T) == 4 ? "i32" : "i64";
  } else {
    return sizeof(T) == 1 ? "u8" : sizeof(T) == 2 ? "u16" : sizeof(T) == 4 ? "u32" : "u64";
  }
}

inline bool is_signed_integer(gguf_value_type t) noexcept {
  return t == gguf_value_type::i8 || t == gguf_value_type::i16 || t == gguf_value_type::i32 ||
         t == gguf_value_type::i64;
}

inline bool is_unsigned_integer(gguf_value_type t) noexcept {
  return t == gguf_value_type::u8 || t == gguf_value_type::u16 || t == gguf_value_type::u32 ||
         t == gguf_value_type::u64;
}

/// Sign-extends the raw bits of a signed GGUF integer of type `t`.
inline std::int64_t signed_value(gguf_value_type t, std::uint64_t bits) noexcept {
  switch (t) {
    case gguf_value_type::i8:
      return static_cast<std::int8_t>(bits);
    case gguf_value_type::i16:
      return static_cast<std::int16_t>(bits);
    case gguf_value_type::i32:
      return static_cast<std::int32_t>(bits);
    default:
      return static_cast<std::int64_t>(bits);
  }
}

/// A readable rendering of a scalar for error messages ("-1", "4000000000", "0.5", "true").
inline std::string scalar_text(gguf_value_type t, std::uint64_t bits) {
  if (is_signed_integer(t)) return std::to_string(signed_value(t, bits));
  if (is_unsigned_integer(t)) return std::to_string(bits);
  if (t == gguf_value_type::f32) return std::to_string(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
  if (t == gguf_value_type::f64) return std::to_string(std::bit_cast<double>(bits));
  if (t == gguf_value_type::boolean) return bits != 0 ? "true" : "false";
  return "?";
}

/// " element <i>" when `index` names an array element, else "".
inline std::string element_text(std::uint64_t index) {
  return index == std::numeric_limits<std::uint64_t>::max() ? std::string() : " element " + std::to_string(index);
}

/// Converts a GGUF scalar (type `t`, raw bits `bits`) to `T` when no information is lost.
///
/// Rules: bool only from bool; integers from any integer type whose value fits in `T`; floating point
/// from f32, or from f64 when `T` is at least as wide or the value round-trips exactly. Anything else
/// throws `lowbit::error{errc::type_mismatch}` naming `key` (and `index` when it is an element).
template <gguf_scalar T>
T convert_scalar(gguf_value_type t, std::uint64_t bits, std::string_view key,
                 std::uint64_t index = std::numeric_limits<std::uint64_t>::max()) {
  const auto mismatch = [&](std::string_view why) {
    return error(errc::type_mismatch, "metadata key '" + std::string(key) + "'" + element_text(index) + " holds " +
                                          std::string(to_string(t)) + (why.empty() ? "" : " ") + std::string(why) +
                                          ", asked for " + std::string(cpp_type_name<T>()));
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (t == gguf_value_type::boolean) return bits != 0;
    throw mismatch("");
  } else if constexpr (std::is_integral_v<T>) {
    if (is_signed_integer(t)) {
      const std::int64_t v = signed_value(t, bits);
      if (std::in_range<T>(v)) return static_cast<T>(v);
      throw mismatch(std::to_string(v) + ", which does not fit");
    }
    if (is_unsigned_integer(t)) {
      if (std::in_range<T>(bits)) return static_cast<T>(bits);
      throw mismatch(std::to_string(bits) + ", which does not fit");
    }
    throw mismatch("(not an integer)");
  } else {
    if (t == gguf_value_type::f32) return static_cast<T>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
    if (t == gguf_value_type::f64) {
      const double v = std::bit_cast<double>(bits);
      if constexpr (sizeof(T) >= sizeof(double)) {
        return static_cast<T>(v);
      } else {
        // f64 -> f32 only when exact (NaN converts to NaN, which is exact in spirit).
        const T narrowed = static_cast<T>(v);
        if (static_cast<double>(narrowed) == v || v != v) return narrowed;
        throw mismatch(scalar_text(t, bits) + ", which is not exact in " + std::string(cpp_type_name<T>()));
      }
    }
    throw mismatch("(not a floating-point number)");
  }
}

}  // namespace detail

/// One parsed GGUF metadata value: a scalar, a string, or an array (possibly of arrays).
///
/// A value is a small handle: strings are `std::string_view`s into the file's bytes, numeric array
/// elements stay in the file (read on access), string and nested arrays point at tables owned by the
/// `gguf_file` that parsed them. It is valid as long as that `gguf_file` (and, for
/// `gguf_file::parse`, the caller's buffer) lives; copying a value is cheap and never copies data.
///
/// Every accessor checks the type and throws `lowbit::error{errc::type_mismatch}` naming the key when
/// the value is not of the kind asked for; a default-constructed value is a u8 0 with an empty key.
class gguf_value {
 public:
  gguf_value() noexcept = default;

  /// The value's type.
  [[nodiscard]] gguf_value_type type() const noexcept { return type_; }

  /// True when the value is an array.
  [[nodiscard]] bool is_array() const noexcept { return type_ == gguf_value_type::array; }

  /// The metadata key this value belongs to (for an array element: the key of the outermost array).
  [[nodiscard]] std::string_view key() const noexcept { return key_; }

  /// The element type of an array.
  ///
  /// throws `lowbit::error{errc::type_mismatch}` when the value is not an array.
  [[nodiscard]] gguf_value_type array_type() const {
    require_array();
    return array_type_;
  }

  /// The number of elements of an array.
  ///
  /// throws `lowbit::error{errc::type_mismatch}` when the value is not an array.
  [[nodiscard]] std::uint64_t size() const {
    require_array();
    return size_;
  }

  /// Element `i` of an array, as a value of type `array_type()` (O(1), no allocation).
  ///
  /// throws `lowbit::error{errc::type_mismatch}` when the value is not an array, and
  /// `errc::out_of_range` naming the key, `i` and the size when `i >= size()`.
  [[nodiscard]] gguf_value operator[](std::uint64_t i) const {
    require_array();
    check(i < size_, errc::out_of_range, [&] {
      return "metadata key '" + std::string(key_) + "': index " + std::to_string(i) + " out of range for an array of " +
             std::to_string(size_) + " elements";
    });
    gguf_value v;
    v.type_ = array_type_;
    v.key_ = key_;
    if (array_type_ == gguf_value_type::string) {
      v.string_ = strings_[i];
    } else if (array_type_ == gguf_value_type::array) {
      v = arrays_[i];
    } else {
      v.bits_ = detail::load_scalar_bits(array_type_, elements_ + i * gguf_scalar_size(array_type_));
    }
    return v;
  }

  /// The scalar converted to `T` without loss: bool from bool; an integer type from any integer whose
  /// value fits; float/double from f32, and from f64 when exact.
  ///
  /// throws `lowbit::error{errc::type_mismatch}` naming the key, the stored type (and value when it
  /// does not fit) and `T`, including for strings and arrays.
  template <gguf_scalar T>
  [[nodiscard]] T as() const {
    return detail::convert_scalar<T>(type_, bits_, key_);
  }

  /// The string (a view into the file's bytes; not NUL-terminated).
  ///
  /// throws `lowbit::error{errc::type_mismatch}` naming the key when the value is not a string.
  [[nodiscard]] std::string_view as_string() const {
    check(type_ == gguf_value_type::string, errc::type_mismatch, [&] {
      return "metadata key '" + std::string(key_) + "' holds " + std::string(to_string(type_)) + ", asked for string";
    });
    return string_;
  }

  /// All elements of a string array, as views into the file's bytes (zero-copy; the table is owned by
  /// the `gguf_file`).
  ///
  /// throws `lowbit::error{errc::type_mismatch}` naming the key unless the value is an array of strings.
  [[nodiscard]] std::span<const std::string_view> strings() const {
    require_array_of(gguf_value_type::string, "string");
    return {strings_, static_cast<std::size_t>(size_)};
  }

  /// All elements of a string array, copied into a vector of views (the strings are not copied).
  ///
  /// throws as `strings()`.
  [[nodiscard]] std::vector<std::string_view> as_string_array() const {
    auto s = strings();
    return {s.begin(), s.end()};
  }

  /// The raw little-endian bytes of a numeric or bool array (`size() * gguf_scalar_size(array_type())`
  /// bytes inside the file; no alignment guaranteed).
  ///
  /// throws `lowbit::error{errc::type_mismatch}` naming the key unless the value is an array of
  /// scalars.
  [[nodiscard]] std::span<const std::byte> raw_elements() const {
    require_array();
    check(gguf_scalar_size(array_type_) != 0, errc::type_mismatch, [&] {
      return "metadata key '" + std::string(key_) + "' is an array of " + std::string(to_string(array_type_)) +
             ", asked for an array of numbers";
    });
    return {elements_, static_cast<std::size_t>(size_ * gguf_scalar_size(array_type_))};
  }

  /// All elements of a numeric or bool array converted to `T` with the rules of `as<T>()`
  /// (one allocation of `size()` elements; a plain copy when the element type is `T` itself).
  ///
  /// throws `lowbit::error{errc::type_mismatch}` naming the key (and the element index when a value
  /// does not fit in `T`) unless the value is an array of scalars convertible to `T`.
  template <gguf_scalar T>
  [[nodiscard]] std::vector<T> as_array() const {
    const auto raw = raw_elements();
    const std::size_t width = gguf_scalar_size(array_type_);
    std::vector<T> out(static_cast<std::size_t>(size_));
    if constexpr (!std::is_same_v<T, bool>) {
      if (std::endian::native == std::endian::little && sizeof(T) == width && same_kind<T>()) {
        if (!out.empty()) std::memcpy(out.data(), raw.data(), raw.size());
        return out;
      }
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = detail::convert_scalar<T>(array_type_, detail::load_scalar_bits(array_type_, raw.data() + i * width),
                                         key_, i);
    }
    return out;
  }

 private:
  friend class detail::gguf_parser;

  void require_array() const {
    check(type_ == gguf_value_type::array, errc::type_mismatch, [&] {
      return "metadata key '" + std::string(key_) + "' holds " + std::string(to_string(type_)) + ", not an array";
    });
  }

  void require_array_of(gguf_value_type element, std::string_view what) const {
    require_array();
    check(array_type_ == element, errc::type_mismatch, [&] {
      return "metadata key '" + std::string(key_) + "' is an array of " + std::string(to_string(array_type_)) +
             ", asked for an array of " + std::string(what);
    });
  }

  // True when the stored element type has the same representation as T (same kind; size checked by the
  // caller).
  template <class T>
  bool same_kind() const noexcept {
    if constexpr (std::is_floating_point_v<T>) {
      return array_type_ == gguf_value_type::f32 || array_type_ == gguf_value_type::f64;
    } else if constexpr (std::is_signed_v<T>) {
      return detail::is_signed_integer(array_type_);
    } else {
      return detail::is_unsigned_integer(array_type_);
    }
  }

  gguf_value_type type_ = gguf_value_type::u8;
  gguf_value_type array_type_ = gguf_value_type::u8;  // element type when type_ == array
  std::uint64_t bits_ = 0;                            // scalar: raw bits, zero-extended
  std::uint64_t size_ = 0;                            // array: element count
  std::string_view string_;                           // string value
  std::string_view key_;                              // the top-level key
  const std::byte* elements_ = nullptr;               // array of scalars: raw elements in the file
  const std::string_view* strings_ = nullptr;         // array of strings: table owned by the gguf_file
  const gguf_value* arrays_ = nullptr;                // array of arrays: table owned by the gguf_file
};

}  // namespace lowbit::io
