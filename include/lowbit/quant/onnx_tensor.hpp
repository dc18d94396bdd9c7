// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "lowbit/core/error.hpp"
#include "lowbit/core/fp16.hpp"

namespace lowbit::onnx {

/// An ONNX element type, numbered as `TensorProto.DataType` (onnx/onnx.proto); only the types the
/// quantization operators read or write are listed.
enum class data_type : int {
  float32 = 1,
  uint8 = 2,
  int8 = 3,
  uint16 = 4,
  int16 = 5,
  int32 = 6,
  float16 = 10,
  bfloat16 = 16,
  float8e4m3fn = 17,
  float8e4m3fnuz = 18,
  float8e5m2 = 19,
  float8e5m2fnuz = 20,
  uint4 = 21,
  int4 = 22,
  float4e2m1 = 23,
  uint2 = 25,
  int2 = 26,
};

/// The lower-case name of a type ("float8e4m3fn", ...), or "unknown(<id>)" for any other value.
inline std::string to_string(data_type type) {
  switch (type) {
    case data_type::float32:
      return "float32";
    case data_type::uint8:
      return "uint8";
    case data_type::int8:
      return "int8";
    case data_type::uint16:
      return "uint16";
    case data_type::int16:
      return "int16";
    case data_type::int32:
      return "int32";
    case data_type::float16:
      return "float16";
    case data_type::bfloat16:
      return "bfloat16";
    case data_type::float8e4m3fn:
      return "float8e4m3fn";
    case data_type::float8e4m3fnuz:
      return "float8e4m3fnuz";
    case data_type::float8e5m2:
      return "float8e5m2";
    case data_type::float8e5m2fnuz:
      return "float8e5m2fnuz";
    case data_type::uint4:
      return "uint4";
    case data_type::int4:
      return "int4";
    case data_type::float4e2m1:
      return "float4e2m1";
    case data_type::uint2:
      return "uint2";
    case data_type::int2:
      return "int2";
  }
  return "unknown(" + std::to_string(static_cast<int>(type)) + ")";
}

/// Storage bits of one element: 32, 16, 8, 4 or 2; 0 for a value outside `data_type`.
constexpr int storage_bits(data_type type) noexcept {
  switch (type) {
    case data_type::float32:
    case data_type::int32:
      return 32;
    case data_type::float16:
    case data_type::bfloat16:
    case data_type::uint16:
    case data_type::int16:
      return 16;
    case data_type::uint8:
    case data_type::int8:
    case data_type::float8e4m3fn:
    case data_type::float8e4m3fnuz:
    case data_type::float8e5m2:
    case data_type::float8e5m2fnuz:
      return 8;
    case data_type::uint4:
    case data_type::int4:
    case data_type::float4e2m1:
      return 4;
    case data_type::uint2:
    case data_type::int2:
      return 2;
  }
  return 0;
}

/// Bytes that `count` elements of `type` occupy as ONNX stores them: sub-byte types are packed,
/// `ceil(count * bits / 8)`, the unused high bits of the last byte being zero.
constexpr std::size_t storage_bytes(data_type type, std::size_t count) noexcept {
  return (count * static_cast<std::size_t>(storage_bits(type)) + 7) / 8;
}

/// The integer range [lo, hi] of an integer code type (ONNX `QuantizeLinear` saturation ranges).
struct integer_range {
  std::int64_t lo;
  std::int64_t hi;
};

/// True for the integer element types (uint2 ... int32).
constexpr bool is_integer(data_type type) noexcept {
  switch (type) {
    case data_type::uint8:
    case data_type::int8:
    case data_type::uint16:
    case data_type::int16:
    case data_type::int32:
    case data_type::uint4:
    case data_type::int4:
    case data_type::uint2:
    case data_type::int2:
      return true;
    default:
      return false;
  }
}

/// True for the four float 8 types.
constexpr bool is_float8(data_type type) noexcept {
  return type == data_type::float8e4m3fn || type == data_type::float8e4m3fnuz || type == data_type::float8e5m2 ||
         type == data_type::float8e5m2fnuz;
}

/// True for float32, float16 and bfloat16: the "full precision" types of the quantization operators.
constexpr bool is_wide_float(data_type type) noexcept {
  return type == data_type::float32 || type == data_type::float16 || type == data_type::bfloat16;
}

/// The saturation range of an integer type (precondition: `is_integer(type)`).
constexpr integer_range range_of(data_type type) noexcept {
  switch (type) {
    case data_type::uint8:
      return {0, 255};
    case data_type::int8:
      return {-128, 127};
    case data_type::uint16:
      return {0, 65535};
    case data_type::int16:
      return {-32768, 32767};
    case data_type::int32:
      return {INT32_MIN, INT32_MAX};
    case data_type::uint4:
      return {0, 15};
    case data_type::int4:
      return {-8, 7};
    case data_type::uint2:
      return {0, 3};
    case data_type::int2:
      return {-2, 1};
    default:
      return {0, 0};
  }
}

/// A read-only ONNX tensor: element type, raw little-endian bytes as ONNX stores them, and shape.
///
/// Layout: row-major (C order) over `shape`; `data.size()` must be `storage_bytes(type, N)` with
/// N the product of `shape` (1 for a scalar, `shape` empty). Sub-byte types are packed low bits
/// first: int4/uint4/float4e2m1 element 2i in the low nibble of byte i, int2/uint2 element 4i in
/// bits 0-1. The view owns nothing; `data` may be unaligned.
/// Source: onnx/onnx.proto (TensorProto: raw_data, packing of 4-bit and 2-bit types).
struct tensor_view {
  data_type type;
  std::span<const std::byte> data;
  std::span<const std::size_t> shape;
};

/// A writable ONNX tensor, laid out as `tensor_view`.
struct tensor_span {
  data_type type;
  std::span<std::byte> data;
  std::span<const std::size_t> shape;

  /// The same tensor, read-only.
  [[nodiscard]] tensor_view view() const noexcept { return {type, data, shape}; }
};

/// The number of elements of a shape (1 for a scalar).
constexpr std::size_t element_count(std::span<const std::size_t> shape) noexcept {
  std::size_t n = 1;
  for (const std::size_t d : shape) n *= d;
  return n;
}

/// A shape as text, "(2, 3, 4)", for error messages.
inline std::string shape_string(std::span<const std::size_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

namespace detail {

template <class T>
constexpr data_type data_type_of() noexcept {
  if constexpr (std::is_same_v<T, float>) {
    return data_type::float32;
  } else if constexpr (std::is_same_v<T, std::uint8_t>) {
    return data_type::uint8;
  } else if constexpr (std::is_same_v<T, std::int8_t>) {
    return data_type::int8;
  } else if constexpr (std::is_same_v<T, std::uint16_t>) {
    return data_type::uint16;
  } else if constexpr (std::is_same_v<T, std::int16_t>) {
    return data_type::int16;
  } else {
    static_assert(std::is_same_v<T, std::int32_t>, "lowbit: no ONNX data_type for this C++ type");
    return data_type::int32;
  }
}

}  // namespace detail

/// A `tensor_view` over typed values (float -> float32, std::uint8_t -> uint8, std::int8_t -> int8,
/// std::uint16_t / std::int16_t -> uint16 / int16, std::int32_t -> int32). Host order must be
/// little endian (x86-64, arm64), as ONNX's raw data is.
template <class T>
tensor_view make_tensor_view(std::span<const T> values, std::span<const std::size_t> shape) noexcept {
  return {detail::data_type_of<T>(), std::as_bytes(values), shape};
}

/// A `tensor_span` over typed values, as `make_tensor_view`.
template <class T>
tensor_span make_tensor_span(std::span<T> values, std::span<const std::size_t> shape) noexcept {
  return {detail::data_type_of<T>(), std::as_writable_bytes(values), shape};
}

/// Throws lowbit::error{errc::shape_mismatch} unless `t.data` holds exactly the bytes its type and
/// shape need. `op` and `name` name the operator and the argument in the message.
inline void check_storage(const tensor_view& t, std::string_view op, std::string_view name) {
  const std::size_t need = storage_bytes(t.type, element_count(t.shape));
  check(t.data.size() == need, errc::shape_mismatch, [&] {
    return std::string(op) + ": " + std::string(name) + " of type " + to_string(t.type) + " and shape " +
           shape_string(t.shape) + " needs " + std::to_string(need) + " bytes, got " + std::to_string(t.data.size());
  });
}

/// The raw code of element `i` of a tensor of an 8-bit or sub-byte type (the low `bits` bits).
/// Precondition: i < element count, `storage_bits(type) <= 8`.
inline std::uint8_t load_code(std::span<const std::byte> data, data_type type, std::size_t i) noexcept {
  switch (storage_bits(type)) {
    case 4:
      return static_cast<std::uint8_t>((std::to_integer<unsigned>(data[i / 2]) >> (4 * (i % 2))) & 0x0fu);
    case 2:
      return static_cast<std::uint8_t>((std::to_integer<unsigned>(data[i / 4]) >> (2 * (i % 4))) & 0x03u);
    default:
      return std::to_integer<std::uint8_t>(data[i]);
  }
}

/// Writes the code of element `i` of an 8-bit or sub-byte type. For sub-byte types the target bits
/// are ORed in: the caller zeroes the buffer first. Precondition as `load_code`; `code` fits `bits`.
inline void store_code(std::span<std::byte> data, data_type type, std::size_t i, std::uint8_t code) noexcept {
  switch (storage_bits(type)) {
    case 4:
      data[i / 2] |= static_cast<std::byte>((code & 0x0fu) << (4 * (i % 2)));
      break;
    case 2:
      data[i / 4] |= static_cast<std::byte>((code & 0x03u) << (2 * (i % 4)));
      break;
    default:
      data[i] = static_cast<std::byte>(code);
      break;
  }
}

/// Element `i` of an integer tensor, sign-extended (int4, int2 from their two's-complement codes).
/// Precondition: `is_integer(type)`, i < element count.
inline std::int64_t load_integer(std::span<const std::byte> data, data_type type, std::size_t i) noexcept {
  switch (type) {
    case data_type::int8:
      return static_cast<std::int8_t>(load_code(data, type, i));
    case data_type::uint16:
    case data_type::int16: {
      std::uint16_t u = 0;
      std::memcpy(&u, data.data() + 2 * i, 2);
      return type == data_type::int16 ? std::int64_t{static_cast<std::int16_t>(u)} : std::int64_t{u};
    }
    case data_type::int32: {
      std::int32_t v = 0;
      std::memcpy(&v, data.data() + 4 * i, 4);
      return v;
    }
    case data_type::int4: {
      const int c = load_code(data, type, i);
      return c >= 8 ? c - 16 : c;
    }
    case data_type::int2: {
      const int c = load_code(data, type, i);
      return c >= 2 ? c - 4 : c;
    }
    default:  // uint8, uint4, uint2
      return load_code(data, type, i);
  }
}

/// Writes `value` (already inside `range_of(type)`) as element `i` of an integer tensor.
inline void store_integer(std::span<std::byte> data, data_type type, std::size_t i, std::int64_t value) noexcept {
  switch (type) {
    case data_type::uint16:
    case data_type::int16: {
      const auto u = static_cast<std::uint16_t>(value);
      std::memcpy(data.data() + 2 * i, &u, 2);
      break;
    }
    case data_type::int32: {
      const auto v = static_cast<std::int32_t>(value);
      std::memcpy(data.data() + 4 * i, &v, 4);
      break;
    }
    default:  // 8-bit and sub-byte: two's complement code in the low bits
      store_code(data, type, i, static_cast<std::uint8_t>(value));
      break;
  }
}

/// Element `i` of a float32 / float16 / bfloat16 tensor as float (exact).
/// Precondition: `is_wide_float(type)`, i < element count.
inline float load_wide_float(std::span<const std::byte> data, data_type type, std::size_t i) noexcept {
  if (type == data_type::float32) {
    float v = 0.0f;
    std::memcpy(&v, data.data() + 4 * i, 4);
    return v;
  }
  std::uint16_t h = 0;
  std::memcpy(&h, data.data() + 2 * i, 2);
  return type == data_type::float16 ? fp16_to_f32(h) : bf16_to_f32(h);
}

/// Writes `value` rounded to nearest even into element `i` of a float32 / float16 / bfloat16 tensor
/// (float16: past 65504 becomes +-inf, as IEEE conversion does).
inline void store_wide_float(std::span<std::byte> data, data_type type, std::size_t i, float value) noexcept {
  if (type == data_type::float32) {
    std::memcpy(data.data() + 4 * i, &value, 4);
    return;
  }
  const std::uint16_t h = type == data_type::float16 ? f32_to_fp16(value) : f32_to_bf16(value);
  std::memcpy(data.data() + 2 * i, &h, 2);
}

/// `value` rounded to nearest even to float32 / float16 / bfloat16 and back: the value an ONNX
/// computation in that type holds.
inline float round_to(data_type type, float value) noexcept {
  switch (type) {
    case data_type::float16:
      return fp16_to_f32(f32_to_fp16(value));
    case data_type::bfloat16:
      return bf16_to_f32(f32_to_bf16(value));
    default:
      return value;
  }
}

}  // namespace lowbit::onnx
