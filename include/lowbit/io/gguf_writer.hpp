// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/gguf_value.hpp"

namespace lowbit::io {

namespace detail {

/// The GGUF value type of a C++ scalar type: bool -> bool, fixed-width integers by width and
/// signedness, float -> f32, double -> f64.
template <class T>
constexpr gguf_value_type gguf_type_of() noexcept {
  if constexpr (std::is_same_v<T, bool>) {
    return gguf_value_type::boolean;
  } else if constexpr (std::is_same_v<T, float>) {
    return gguf_value_type::f32;
  } else if constexpr (std::is_same_v<T, double>) {
    return gguf_value_type::f64;
  } else if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1   ? gguf_value_type::i8
           : sizeof(T) == 2 ? gguf_value_type::i16
           : sizeof(T) == 4 ? gguf_value_type::i32
                            : gguf_value_type::i64;
  } else {
    return sizeof(T) == 1   ? gguf_value_type::u8
           : sizeof(T) == 2 ? gguf_value_type::u16
           : sizeof(T) == 4 ? gguf_value_type::u32
                            : gguf_value_type::u64;
  }
}

/// A C++ scalar that maps onto exactly one GGUF scalar type (no `long double`, no `char`).
template <class T>
concept gguf_writable_scalar = std::is_same_v<T, bool> || std::is_same_v<T, float> || std::is_same_v<T, double> ||
    (std::is_integral_v<T> && !std::is_same_v<T, char> &&
     (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8));

/// The raw bits of a scalar, zero-extended to 64 bits (the representation `gguf_value` uses).
template <gguf_writable_scalar T>
std::uint64_t scalar_bits(T v) noexcept {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? 1 : 0;
  } else if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<std::uint32_t>(v);
  } else if constexpr (std::is_same_v<T, double>) {
    return std::bit_cast<std::uint64_t>(v);
  } else {
    using U = std::make_unsigned_t<T>;
    return static_cast<U>(v);
  }
}

/// Appends the low `n` bytes of `bits`, little-endian.
inline void put_le(std::vector<std::byte>& out, std::uint64_t bits, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<std::byte>((bits >> (8 * i)) & 0xff));
}

/// Appends a GGUF string: u64 byte length, then the bytes.
inline void put_string(std::vector<std::byte>& out, std::string_view s) {
  put_le(out, s.size(), 8);
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  out.insert(out.end(), p, p + s.size());
}

}  // namespace detail

/// An owning GGUF metadata value to be written: a scalar, a string, or an array of one element
/// type (scalars, strings, or arrays, which may nest).
///
/// Made by the factories (`scalar`, `string`, `array`, `string_array`, `array_of_arrays`,
/// `from`); the GGUF type follows the C++ type (`std::uint32_t` -> u32, `bool` -> bool, `float` ->
/// f32, ...). Arrays of scalars are held as their little-endian bytes, string arrays as strings.
/// Nesting deeper than `gguf_parser::max_array_depth` (16) is refused, so that what is written can
/// be read back by `gguf_file`.
///
/// Source: the GGUF specification (ggml docs/gguf.md, "gguf_metadata_value_t"); gguf-py's
/// `GGUFWriter` (gguf-py/gguf/gguf_writer.py) writes the same bytes.
class gguf_kv_value {
 public:
  /// A u8 0.
  gguf_kv_value() = default;

  /// A scalar of the GGUF type matching `T`.
  template <detail::gguf_writable_scalar T>
  static gguf_kv_value scalar(T v) {
    gguf_kv_value r;
    r.type_ = detail::gguf_type_of<T>();
    r.bits_ = detail::scalar_bits(v);
    return r;
  }

  /// A scalar of type `t` from its raw bits (zero-extended), as `gguf_value` stores them.
  ///
  /// throws `lowbit::error{errc::invalid_argument}` if `t` is not a scalar type or a bool is not 0/1.
  static gguf_kv_value scalar_bits(gguf_value_type t, std::uint64_t bits) {
    check(is_known(t) && gguf_scalar_size(t) != 0, errc::invalid_argument,
          [&] { return "gguf_kv_value::scalar_bits: " + std::string(to_string(t)) + " is not a scalar type"; });
    check(t != gguf_value_type::boolean || bits <= 1, errc::invalid_argument,
          [&] { return "gguf_kv_value::scalar_bits: bool value " + std::to_string(bits) + " is neither 0 nor 1"; });
    gguf_kv_value r;
    r.type_ = t;
    r.bits_ = gguf_scalar_size(t) == 8 ? bits : bits & ((std::uint64_t{1} << (8 * gguf_scalar_size(t))) - 1);
    return r;
  }

  /// A UTF-8 string (stored as given; GGUF strings have no terminator).
  static gguf_kv_value string(std::string s) {
    gguf_kv_value r;
    r.type_ = gguf_value_type::string;
    r.string_ = std::move(s);
    return r;
  }

  /// An array of scalars of the GGUF type matching `T` (may be empty).
  template <detail::gguf_writable_scalar T>
  static gguf_kv_value array(std::span<const T> values) {
    gguf_kv_value r;
    r.type_ = gguf_value_type::array;
    r.array_type_ = detail::gguf_type_of<T>();
    r.size_ = values.size();
    r.raw_.reserve(values.size() * sizeof(T));
    for (const T& v : values) detail::put_le(r.raw_, detail::scalar_bits(v), sizeof(T));
    return r;
  }

  /// An array of strings (may be empty).
  static gguf_kv_value string_array(std::vector<std::string> values) {
    gguf_kv_value r;
    r.type_ = gguf_value_type::array;
    r.array_type_ = gguf_value_type::string;
    r.size_ = values.size();
    r.strings_ = std::move(values);
    return r;
  }

  /// An array whose elements are arrays (each element may have its own element type and length,
  /// as the specification allows).
  ///
  /// throws `lowbit::error{errc::invalid_argument}` if an element is not an array, and
  /// `{errc::unsupported}` if the nesting would exceed 16 levels (the reader's limit).
  static gguf_kv_value array_of_arrays(std::vector<gguf_kv_value> elements) {
    gguf_kv_value r;
    r.type_ = gguf_value_type::array;
    r.array_type_ = gguf_value_type::array;
    r.size_ = elements.size();
    for (std::size_t i = 0; i < elements.size(); ++i) {
      check(elements[i].type_ == gguf_value_type::array, errc::invalid_argument, [&] {
        return "gguf_kv_value::array_of_arrays: element " + std::to_string(i) + " is a " +
               std::string(to_string(elements[i].type_)) + ", not an array";
      });
      r.depth_ = std::max(r.depth_, elements[i].depth_ + 1);
    }
    check(r.depth_ <= detail::gguf_parser::max_array_depth, errc::unsupported, [&] {
      return "gguf_kv_value::array_of_arrays: arrays nested " + std::to_string(r.depth_) + " levels deep, more than " +
             std::to_string(detail::gguf_parser::max_array_depth);
    });
    r.arrays_ = std::move(elements);
    return r;
  }

  /// A deep copy of a value read by `gguf_file` (strings and elements are copied out of the file).
  static gguf_kv_value from(const gguf_value& v) {
    if (v.type() == gguf_value_type::string) return string(std::string(v.as_string()));
    if (!v.is_array()) return scalar_bits(v.type(), raw_bits(v));
    gguf_kv_value r;
    r.type_ = gguf_value_type::array;
    r.array_type_ = v.array_type();
    r.size_ = v.size();
    if (r.array_type_ == gguf_value_type::string) {
      const auto s = v.strings();
      r.strings_.assign(s.begin(), s.end());
    } else if (r.array_type_ == gguf_value_type::array) {
      r.arrays_.reserve(static_cast<std::size_t>(r.size_));
      for (std::uint64_t i = 0; i < r.size_; ++i) {
        r.arrays_.push_back(from(v[i]));
        r.depth_ = std::max(r.depth_, r.arrays_.back().depth_ + 1);
      }
    } else {
      const auto raw = v.raw_elements();
      r.raw_.assign(raw.begin(), raw.end());
    }
    return r;
  }

  /// The value's type.
  [[nodiscard]] gguf_value_type type() const noexcept { return type_; }

  /// The element type of an array (u8 for a non-array).
  [[nodiscard]] gguf_value_type array_type() const noexcept { return array_type_; }

  /// The element count of an array (0 for a non-array).
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

  /// The raw bits of a scalar, zero-extended.
  [[nodiscard]] std::uint64_t bits() const noexcept { return bits_; }

  /// Appends the value's bytes as they follow the value type in a KV pair (GGUF layout: a scalar's
  /// little-endian bytes; a string; an array's u32 element type, u64 count, elements).
  void serialize(std::vector<std::byte>& out) const {
    if (type_ == gguf_value_type::string) {
      detail::put_string(out, string_);
    } else if (type_ == gguf_value_type::array) {
      detail::put_le(out, static_cast<std::uint32_t>(array_type_), 4);
      detail::put_le(out, size_, 8);
      if (array_type_ == gguf_value_type::string) {
        for (const auto& s : strings_) detail::put_string(out, s);
      } else if (array_type_ == gguf_value_type::array) {
        for (const auto& a : arrays_) a.serialize(out);
      } else {
        out.insert(out.end(), raw_.begin(), raw_.end());
      }
    } else {
      detail::put_le(out, bits_, gguf_scalar_size(type_));
    }
  }

 private:
  // The raw bits of a scalar read by gguf_file, by way of the widest lossless conversion.
  static std::uint64_t raw_bits(const gguf_value& v) {
    switch (v.type()) {
      case gguf_value_type::boolean:
        return v.as<bool>() ? 1 : 0;
      case gguf_value_type::f32:
        return std::bit_cast<std::uint32_t>(v.as<float>());
      case gguf_value_type::f64:
        return std::bit_cast<std::uint64_t>(v.as<double>());
      case gguf_value_type::i8:
      case gguf_value_type::i16:
      case gguf_value_type::i32:
      case gguf_value_type::i64:
        return static_cast<std::uint64_t>(v.as<std::int64_t>());
      default:
        return v.as<std::uint64_t>();
    }
  }

  gguf_value_type type_ = gguf_value_type::u8;
  gguf_value_type array_type_ = gguf_value_type::u8;
  std::uint64_t bits_ = 0;
  std::uint64_t size_ = 0;
  int depth_ = 1;  // array nesting levels (1 for a flat array or a non-array)
  std::string string_;
  std::vector<std::byte> raw_;
  std::vector<std::string> strings_;
  std::vector<gguf_kv_value> arrays_;
};

/// Builds a GGUF version 3 file (little-endian): metadata KV pairs, tensor infos, and tensor data.
///
/// Layout written (GGUF specification, ggml docs/gguf.md; the same bytes as ggml's `gguf_write_to_file`
/// in ggml/src/gguf.cpp and gguf-py's `GGUFWriter`): magic "GGUF", u32 version 3, u64 tensor_count,
/// u64 kv_count; the KV pairs in insertion order (string key, u32 value type, value); the tensor
/// infos in insertion order (string name, u32 n_dims, n_dims x u64 ne with ne[0] innermost, u32 ggml
/// type, u64 offset relative to the data section); zero bytes up to the next multiple of the
/// alignment; then each tensor's bytes followed by zero bytes up to the next multiple of the alignment
/// (also after the last tensor, as ggml does). The alignment is the u32 metadata key
/// `general.alignment` when set, else 32.
///
/// Checks (each a `lowbit::error` naming the key or tensor):
/// - `set`: an empty key, or `general.alignment` that is not a u32 power of two -> `errc::invalid_argument`
///   (`errc::type_mismatch` for a type other than u32);
/// - `add_tensor`: an empty name or one of 64 bytes or more (ggml's GGML_MAX_NAME) and a duplicate name
///   -> `errc::invalid_argument`; 0 or more than 4 dimensions, or a zero extent -> `errc::shape_mismatch`;
///   a type id this build does not know -> `errc::unknown_type`; ne[0] not a multiple of the type's
///   block size, or a byte count other than n_elements / block_size * block_bytes ->
///   `errc::shape_mismatch`;
/// - `write`: any system call failure -> `errc::io_error` with the path and strerror text.
///
/// Writing is atomic: the bytes go to `<path>.tmp`, which is flushed (fsync) and renamed onto `path`;
/// on any failure the temporary file is removed and `path` is left as it was.
///
/// Allocation and aliasing: metadata is copied into the writer; tensor data is either moved in
/// (`add_tensor` with a vector) or viewed (`add_tensor` with a span: the caller keeps those bytes
/// alive and unchanged until the last `write`). Not thread-safe.
class gguf_writer {
 public:
  /// The data alignment used when `general.alignment` is not set (GGUF_DEFAULT_ALIGNMENT in ggml).
  static constexpr std::uint32_t default_alignment = 32;

  /// Longest tensor name plus one (ggml's GGML_MAX_NAME); names must be shorter.
  static constexpr std::size_t max_name_bytes = 64;

  /// Sets metadata `key` to `value`. As ggml's `gguf_set_val_*`: an existing pair with that key is
  /// removed first and the new pair goes last.
  ///
  /// throws as the class description says for `set`.
  void set(std::string_view key, gguf_kv_value value) {
    check(!key.empty(), errc::invalid_argument, [] { return std::string("gguf_writer::set: empty metadata key"); });
    const bool is_alignment = key == "general.alignment";
    if (is_alignment) {
      check(value.type() == gguf_value_type::u32, errc::type_mismatch, [&] {
        return "gguf_writer::set: metadata key 'general.alignment' must be u32, got " +
               std::string(to_string(value.type()));
      });
      const std::uint64_t a = value.bits();
      check(a != 0 && (a & (a - 1)) == 0, errc::invalid_argument, [&] {
        return "gguf_writer::set: metadata key 'general.alignment' is " + std::to_string(a) +
               ", not a non-zero power of two";
      });
    }
    remove(key);
    if (is_alignment) alignment_ = static_cast<std::uint32_t>(value.bits());
    kv_.emplace_back(std::string(key), std::move(value));
  }

  /// `set(key, gguf_kv_value::scalar(v))`.
  template <detail::gguf_writable_scalar T>
  void set(std::string_view key, T v) {
    set(key, gguf_kv_value::scalar(v));
  }

  /// `set(key, gguf_kv_value::string(s))`.
  void set_string(std::string_view key, std::string s) { set(key, gguf_kv_value::string(std::move(s))); }

  /// Removes metadata `key`; returns whether it was present.
  bool remove(std::string_view key) {
    for (auto it = kv_.begin(); it != kv_.end(); ++it) {
      if (it->first == key) {
        if (key == "general.alignment") alignment_ = default_alignment;
        kv_.erase(it);
        return true;
      }
    }
    return false;
  }

  /// The value under `key`, or nullptr.
  [[nodiscard]] const gguf_kv_value* find(std::string_view key) const noexcept {
    for (const auto& [k, v] : kv_) {
      if (k == key) return &v;
    }
    return nullptr;
  }

  /// The metadata pairs in the order they will be written.
  [[nodiscard]] std::span<const std::pair<std::string, gguf_kv_value>> metadata() const noexcept { return kv_; }

  /// The data alignment in bytes (`general.alignment`, default 32).
  [[nodiscard]] std::uint32_t alignment() const noexcept { return alignment_; }

  /// The number of tensors added.
  [[nodiscard]] std::size_t tensor_count() const noexcept { return tensors_.size(); }

  /// Adds tensor `name` of ggml type `type` and extents `ne` (ne[0] innermost, 1..4 of them) whose
  /// `data` the writer does not own: the caller keeps it alive and unchanged until the last `write`.
  ///
  /// `data` holds ne[1]*ne[2]*ne[3] rows of ne[0] / block_size blocks, no padding (ggml row-major).
  /// throws as the class description says for `add_tensor`.
  void add_tensor(std::string_view name, ggml::type type, std::span<const std::uint64_t> ne,
                  std::span<const std::byte> data) {
    add_tensor_impl(name, type, ne, data, {});
  }

  /// As the other overload, but the writer takes ownership of `data`.
  void add_tensor(std::string_view name, ggml::type type, std::span<const std::uint64_t> ne,
                  std::vector<std::byte>&& data) {
    const std::span<const std::byte> view(data);
    add_tensor_impl(name, type, ne, view, std::move(data));
  }

  /// The whole file as bytes (header, infos, padded data).
  [[nodiscard]] std::vector<std::byte> to_bytes() const {
    std::vector<std::byte> out = header();
    for (const auto& t : tensors_) {
      out.insert(out.end(), t.data.begin(), t.data.end());
      out.resize(padded(out.size()), std::byte{0});
    }
    return out;
  }

  /// The header, KV pairs, tensor infos and the padding before the data section: the bytes before
  /// the first tensor's data (a multiple of `alignment()` long).
  [[nodiscard]] std::vector<std::byte> header() const {
    std::vector<std::byte> out;
    out.reserve(64);
    detail::put_le(out, 0x46554747u, 4);  // magic "GGUF" (bytes 47 47 55 46)
    detail::put_le(out, 3, 4);
    detail::put_le(out, tensors_.size(), 8);
    detail::put_le(out, kv_.size(), 8);
    for (const auto& [key, value] : kv_) {
      detail::put_string(out, key);
      detail::put_le(out, static_cast<std::uint32_t>(value.type()), 4);
      value.serialize(out);
    }
    std::uint64_t offset = 0;
    for (const auto& t : tensors_) {
      detail::put_string(out, t.name);
      detail::put_le(out, t.n_dims, 4);
      for (std::uint32_t d = 0; d < t.n_dims; ++d) detail::put_le(out, t.ne[d], 8);
      detail::put_le(out, static_cast<std::uint32_t>(t.type), 4);
      detail::put_le(out, offset, 8);
      offset = padded(offset + t.data.size());
    }
    out.resize(padded(out.size()), std::byte{0});
    return out;
  }

  /// Writes the file to `path` atomically (see the class description); may be called again.
  ///
  /// throws `lowbit::error{errc::io_error}` naming the path on any failure; `path` is then unchanged
  /// and `<path>.tmp` removed.
  void write(const std::filesystem::path& path) const {
    const std::filesystem::path tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail_io("cannot create", tmp, errno);
    try {
      const std::vector<std::byte> head = header();
      write_all(fd, head, tmp);
      std::uint64_t pos = head.size();
      static constexpr std::array<std::byte, 4096> zeros{};
      for (const auto& t : tensors_) {
        write_all(fd, t.data, tmp);
        pos += t.data.size();
        std::uint64_t pad = padded(pos) - pos;
        while (pad > 0) {
          const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(pad, zeros.size()));
          write_all(fd, std::span<const std::byte>(zeros.data(), n), tmp);
          pad -= n;
          pos += n;
        }
      }
      if (::fsync(fd) != 0) fail_io("cannot flush", tmp, errno);
    } catch (...) {
      ::close(fd);
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw;
    }
    if (::close(fd) != 0) {
      const int err = errno;
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      fail_io("cannot close", tmp, err);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw error(errc::io_error,
                  "cannot rename '" + tmp.string() + "' to '" + path.string() + "': " + std::strerror(err));
    }
  }

 private:
  struct tensor_record {
    std::string name;
    ggml::type type{};
    std::uint32_t n_dims = 0;
    std::array<std::uint64_t, 4> ne{1, 1, 1, 1};
    std::span<const std::byte> data;
    std::vector<std::byte> owned;
  };

  [[nodiscard]] std::uint64_t padded(std::uint64_t n) const noexcept {
    return (n + alignment_ - 1) / alignment_ * alignment_;
  }

  void add_tensor_impl(std::string_view name, ggml::type type, std::span<const std::uint64_t> ne,
                       std::span<const std::byte> data, std::vector<std::byte>&& owned) {
    const auto who = [&] { return "gguf_writer::add_tensor: tensor '" + std::string(name) + "'"; };
    check(!name.empty(), errc::invalid_argument,
          [] { return std::string("gguf_writer::add_tensor: empty tensor name"); });
    check(name.size() < max_name_bytes, errc::invalid_argument, [&] {
      return who() + ": name of " + std::to_string(name.size()) + " bytes, ggml allows at most " +
             std::to_string(max_name_bytes - 1);
    });
    check(index_.find(std::string(name)) == index_.end(), errc::invalid_argument,
          [&] { return who() + ": duplicate tensor name"; });
    check(!ne.empty() && ne.size() <= 4, errc::shape_mismatch,
          [&] { return who() + ": " + std::to_string(ne.size()) + " dimensions, must be 1..4"; });
    const auto traits = ggml::find_type_traits(static_cast<std::uint32_t>(type));
    check(traits.has_value(), errc::unknown_type,
          [&] { return who() + ": unknown ggml type id " + std::to_string(static_cast<std::uint32_t>(type)); });
    tensor_record t;
    t.name = std::string(name);
    t.type = type;
    t.n_dims = static_cast<std::uint32_t>(ne.size());
    std::uint64_t n_elements = 1;
    for (std::size_t d = 0; d < ne.size(); ++d) {
      check(ne[d] != 0 && ne[d] <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / n_elements,
            errc::shape_mismatch, [&] {
              return who() + ": ne[" + std::to_string(d) + "] = " + std::to_string(ne[d]) +
                     (ne[d] == 0 ? " is zero" : " makes more than INT64_MAX elements");
            });
      t.ne[d] = ne[d];
      n_elements *= ne[d];
    }
    const auto shape = [&] {
      std::string s = "[";
      for (std::size_t d = 0; d < ne.size(); ++d) {
        s += d ? ", " : "";
        s += std::to_string(ne[d]);
      }
      return s + "]";
    };
    check(ne[0] % traits->block_size == 0, errc::shape_mismatch, [&] {
      return who() + " of type " + std::string(traits->name) + " and shape " + shape() +
             ": ne[0] = " + std::to_string(ne[0]) + " is not a multiple of the block size " +
             std::to_string(traits->block_size);
    });
    const std::uint64_t n_blocks = n_elements / traits->block_size;
    check(n_blocks <= std::numeric_limits<std::uint64_t>::max() / traits->block_bytes &&
              n_blocks * traits->block_bytes == data.size(),
          errc::shape_mismatch, [&] {
            return who() + " of type " + std::string(traits->name) + " and shape " + shape() + " needs " +
                   std::to_string(n_blocks * traits->block_bytes) + " bytes (" + std::to_string(n_blocks) +
                   " blocks of " + std::to_string(traits->block_bytes) + "), got " + std::to_string(data.size());
          });
    t.data = data;
    t.owned = std::move(owned);
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  static void write_all(int fd, std::span<const std::byte> bytes, const std::filesystem::path& path) {
    const std::byte* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
      const ::ssize_t n = ::write(fd, p, std::min<std::size_t>(left, std::size_t{1} << 30));
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_io("cannot write", path, errno);
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

  [[noreturn]] static void fail_io(std::string_view what, const std::filesystem::path& path, int err) {
    throw error(errc::io_error, std::string(what) + " '" + path.string() + "': " + std::strerror(err));
  }

  std::uint32_t alignment_ = default_alignment;
  std::vector<std::pair<std::string, gguf_kv_value>> kv_;
  std::vector<tensor_record> tensors_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace lowbit::io
