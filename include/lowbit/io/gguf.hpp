// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lowbit/core/error.hpp"
#include "lowbit/formats/ggml/type.hpp"
#include "lowbit/io/gguf_value.hpp"
#include "lowbit/io/mapped_file.hpp"

namespace lowbit::io {

/// One tensor of a GGUF file, validated against the file: a typed, zero-copy view of its bytes.
///
/// Shape: `ne[0]` is the innermost (contiguous) extent, as in ggml; dimensions past `n_dims` are 1.
/// A 2-D weight of a `Linear` with out_features N and in_features K has `ne = {K, N, 1, 1}`, i.e.
/// N rows of K elements. Layout: rows of `ne[0] / block_size` blocks of `block_bytes` bytes each,
/// rows one after another, no padding (ggml row-major).
struct gguf_tensor_info {
  std::string_view name;              ///< the tensor's name (a view into the file)
  ggml::type type{};                  ///< the ggml storage type (validated: a type this build knows)
  std::uint32_t n_dims = 0;           ///< number of dimensions stored in the file, 0..4
  std::array<std::uint64_t, 4> ne{};  ///< extents, ne[0] innermost; each >= 1
  std::uint64_t offset = 0;           ///< byte offset from the start of the data section
  std::uint64_t n_bytes = 0;          ///< n_elements() / block_size * block_bytes
  std::span<const std::byte> data;    ///< the tensor's n_bytes bytes inside the file

  /// The product of the extents.
  [[nodiscard]] std::uint64_t n_elements() const noexcept { return ne[0] * ne[1] * ne[2] * ne[3]; }

  /// The number of rows, ne[1] * ne[2] * ne[3].
  [[nodiscard]] std::uint64_t n_rows() const noexcept { return ne[1] * ne[2] * ne[3]; }

  /// Bytes per row of ne[0] elements (`n_bytes / n_rows()`).
  [[nodiscard]] std::uint64_t row_bytes() const noexcept { return n_bytes / n_rows(); }
};

namespace detail {

/// Tables that string arrays and arrays of arrays point into; owned by the `gguf_file`. Each table is
/// its own allocation, so values keep pointing at it when the vectors grow or the file object moves.
struct gguf_tables {
  std::vector<std::unique_ptr<std::string_view[]>> strings;
  std::vector<std::unique_ptr<gguf_value[]>> arrays;
};

/// The low-level GGUF reader: bounds-checked little-endian reads, strings and metadata values.
/// Every failure throws `lowbit::error` naming the source, the byte offset and the key or tensor
/// being read.
class gguf_parser {
 public:
  /// Arrays of arrays nested deeper than this are refused (errc::unsupported): a bound on recursion.
  static constexpr int max_array_depth = 16;

  /// No file holds more bytes than this (a 48-bit virtual address space); larger sizes are corrupt.
  static constexpr std::uint64_t max_plausible_bytes = std::uint64_t{1} << 48;

  gguf_parser(std::span<const std::byte> bytes, gguf_tables& tables, std::string source)
      : bytes_(bytes), tables_(tables), source_(std::move(source)) {}

  [[nodiscard]] std::uint64_t pos() const noexcept { return pos_; }
  [[nodiscard]] std::uint64_t remaining() const noexcept { return bytes_.size() - pos_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return bytes_.size(); }

  /// Messages name this object after the position ("the header", "key 'x'", "tensor 'y'").
  void set_context(std::string_view kind, std::string_view name = {}) noexcept {
    context_kind_ = kind;
    context_name_ = name;
  }

  /// The prefix "<source>: " for messages.
  [[nodiscard]] std::string prefix() const { return source_ + ": "; }

  /// " of key 'x'" / " of tensor 'y'" / " of the header".
  [[nodiscard]] std::string where() const {
    if (context_name_.data() == nullptr) return " of " + std::string(context_kind_);
    return " of " + std::string(context_kind_) + " '" + std::string(context_name_) + "'";
  }

  [[noreturn]] void fail_truncated(std::uint64_t need, std::string_view what) const {
    throw error(errc::truncated, prefix() + "truncated at byte offset " + std::to_string(pos_) + ": " +
                                     std::string(what) + where() + " needs " + std::to_string(need) + " bytes, " +
                                     std::to_string(remaining()) + " remain (size " + std::to_string(size()) + ")");
  }

  /// Reads an unsigned little-endian integer of type T.
  template <class T>
  T read(std::string_view what) {
    if (remaining() < sizeof(T)) [[unlikely]]
      fail_truncated(sizeof(T), what);
    const T v = load_le<T>(bytes_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  /// Skips `n` bytes and returns a pointer to the first.
  const std::byte* take(std::uint64_t n, std::string_view what) {
    if (remaining() < n) [[unlikely]]
      fail_truncated(n, what);
    const std::byte* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  /// Reads a GGUF string: a u64 byte length, then the bytes. Returns a view into the buffer.
  std::string_view read_string(std::string_view what) {
    const std::uint64_t start = pos_;
    const auto n = read<std::uint64_t>(what);
    if (n > remaining()) [[unlikely]]
      fail_size(start, n, 1, std::string(what) + " length " + std::to_string(n));
    const auto* p = reinterpret_cast<const char*>(bytes_.data() + pos_);
    pos_ += n;
    return {p, static_cast<std::size_t>(n)};
  }

  /// Throws for a size field at byte offset `at` that claims `count` items of at least `item_bytes`
  /// bytes each, more than remain: `errc::corrupt` when that is more than any file can hold (2^48
  /// bytes, the 48-bit virtual address space), else `errc::truncated` (the data ends too early).
  [[noreturn]] void fail_size(std::uint64_t at, std::uint64_t count, std::uint64_t item_bytes,
                              const std::string& what) const {
    const bool absurd = count > max_plausible_bytes / item_bytes;
    const std::string need = absurd ? "more than 2^48" : std::to_string(count * item_bytes);
    throw error(absurd ? errc::corrupt : errc::truncated,
                prefix() + (absurd ? "absurd " : "truncated: ") + what + where() + " at byte offset " +
                    std::to_string(at) + " needs " + need + " bytes, " + std::to_string(remaining()) +
                    " remain after it (size " + std::to_string(size()) + ")");
  }

  /// Reads a u32 value type id and checks that it is one of the 13 GGUF types.
  gguf_value_type read_type(std::string_view what) {
    const std::uint64_t start = pos_;
    const auto id = read<std::uint32_t>(what);
    if (!is_known(static_cast<gguf_value_type>(id))) [[unlikely]] {
      throw error(errc::unknown_type, prefix() + "unknown " + std::string(what) + " id " + std::to_string(id) +
                                          where() + " at byte offset " + std::to_string(start));
    }
    return static_cast<gguf_value_type>(id);
  }

  /// Reads a value of type `t` that belongs to metadata key `key`.
  gguf_value read_value(gguf_value_type t, std::string_view key) {
    gguf_value v;
    v.type_ = t;
    v.key_ = key;
    if (t == gguf_value_type::string) {
      v.string_ = read_string("string value");
    } else if (t == gguf_value_type::array) {
      read_array_body(v, 1);
    } else {
      read_scalar(v);
    }
    return v;
  }

 private:
  void read_scalar(gguf_value& v) {
    const std::uint64_t start = pos_;
    const std::byte* p = take(gguf_scalar_size(v.type_), "a scalar value");
    v.bits_ = load_scalar_bits(v.type_, p);
    if (v.type_ == gguf_value_type::boolean && v.bits_ > 1) [[unlikely]]
      bad_bool(start, v.bits_);
  }

  [[noreturn]] void bad_bool(std::uint64_t at, std::uint64_t value) const {
    throw error(errc::corrupt, prefix() + "bool value " + std::to_string(value) + where() + " at byte offset " +
                                   std::to_string(at) + " is neither 0 nor 1");
  }

  // An array after its value type: u32 element type, u64 count, elements.
  void read_array_body(gguf_value& v, int depth) {
    if (depth > max_array_depth) [[unlikely]] {
      throw error(errc::unsupported, prefix() + "arrays" + where() + " nested deeper than " +
                                         std::to_string(max_array_depth) + " levels at byte offset " +
                                         std::to_string(pos_));
    }
    v.type_ = gguf_value_type::array;
    v.array_type_ = read_type("array element type");
    const std::uint64_t count_at = pos_;
    v.size_ = read<std::uint64_t>("array count");
    const std::size_t width = gguf_scalar_size(v.array_type_);
    // The fewest bytes one element can take: a scalar's size, a string's u64 length, an array's
    // u32 type + u64 count. Checked before anything is allocated.
    const std::uint64_t min_bytes = width != 0 ? width : v.array_type_ == gguf_value_type::string ? 8 : 12;
    if (v.size_ > remaining() / min_bytes) [[unlikely]]
      fail_size(count_at, v.size_, min_bytes,
                "array count " + std::to_string(v.size_) + " (" + std::string(to_string(v.array_type_)) + ")");
    const auto n = static_cast<std::size_t>(v.size_);
    if (width != 0) {
      const std::uint64_t start = pos_;
      v.elements_ = take(v.size_ * width, "array elements");
      if (v.array_type_ == gguf_value_type::boolean) {
        for (std::size_t i = 0; i < n; ++i) {
          const auto b = std::to_integer<unsigned>(v.elements_[i]);
          if (b > 1) [[unlikely]]
            bad_bool(start + i, b);
        }
      }
    } else if (v.array_type_ == gguf_value_type::string) {
      auto table = std::make_unique<std::string_view[]>(n);
      for (std::size_t i = 0; i < n; ++i) table[i] = read_string("string element");
      v.strings_ = table.get();
      tables_.strings.push_back(std::move(table));
    } else {
      auto table = std::make_unique<gguf_value[]>(n);
      for (std::size_t i = 0; i < n; ++i) {
        table[i].key_ = v.key_;
        read_array_body(table[i], depth + 1);
      }
      v.arrays_ = table.get();
      tables_.arrays.push_back(std::move(table));
    }
  }

  std::span<const std::byte> bytes_;
  gguf_tables& tables_;
  std::string source_;
  std::uint64_t pos_ = 0;
  std::string_view context_kind_ = "the header";
  std::string_view context_name_;
};

inline std::string shape_text(const std::array<std::uint64_t, 4>& ne, std::uint32_t n_dims) {
  std::string s = "[";
  for (std::uint32_t i = 0; i < std::max<std::uint32_t>(n_dims, 1); ++i) {
    if (i != 0) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

}  // namespace detail

/// A parsed, validated GGUF file (versions 2 and 3, little-endian): its metadata and zero-copy
/// views of its tensors.
///
/// Layout read (GGUF specification, ggml docs/gguf.md): magic "GGUF", u32 version, u64
/// tensor_count, u64 kv_count; kv_count pairs (string key, u32 value type, value); tensor_count
/// infos (string name, u32 n_dims <= 4, n_dims x u64 ne, u32 ggml type, u64 offset); padding to
/// `general.alignment` (u32, default 32); the data section. Every tensor offset is relative to the data
/// section and a multiple of the alignment.
///
/// Validation: every read is bounds-checked; counts and lengths are checked against the remaining
/// bytes before anything is allocated; keys and tensor names are unique; tensors have
/// 1..INT64_MAX elements, a known ggml type, rows that are whole blocks, aligned offsets, data inside
/// the file and no overlaps. A file that fails any check throws `lowbit::error` and yields no object;
/// the message names the source (path or "GGUF buffer"), the byte offset, and the key or tensor:
/// - `errc::truncated`: the bytes end inside a structure, or a string, array, count or tensor's data
///   needs more bytes than remain;
/// - `errc::corrupt`: bad magic; a count, length or tensor extent needing more than 2^48 bytes (no
///   file is that large); an empty key; a tensor name that is empty or of 64 bytes or more (ggml's
///   GGML_MAX_NAME); duplicate keys or tensor names; n_dims > 4; a zero or overflowing dimension;
///   a bool byte other than 0/1; an alignment that is not a non-zero power of two; a misaligned tensor
///   offset; overlapping tensors; version 0;
/// - `errc::unsupported`: GGUF version 1, versions above 3, a big-endian file, arrays nested deeper
///   than 16 levels;
/// - `errc::unknown_type`: an unknown metadata value type id or ggml tensor type id;
/// - `errc::shape_mismatch`: ne[0] not a multiple of the type's block size;
/// - `errc::type_mismatch`: `general.alignment` present with a type other than u32.
///
/// Allocation and aliasing: one small record per key and tensor, one table of views per string
/// array (the tokenizer's 49152 tokens cost 49152 `string_view`s, not copies); tensor data and strings
/// are never copied. Parsing is O(file structure), not O(file size). Move-only; views stay valid
/// across moves. Accessors are thread-safe (const, no mutation).
class gguf_file {
 public:
  /// An empty object: version 0, no metadata, no tensors.
  gguf_file() = default;
  gguf_file(const gguf_file&) = delete;
  gguf_file& operator=(const gguf_file&) = delete;
  gguf_file(gguf_file&&) noexcept = default;
  gguf_file& operator=(gguf_file&&) noexcept = default;
  ~gguf_file() = default;

  /// Drops the resident pages of `t`'s data once the caller has copied it (repacked weights), so
  /// the file's mapping does not count twice in the process's memory; a later read of `t.data`
  /// still sees the same bytes. No effect for a parsed buffer. See mapped_file::release_pages.
  void release_pages(const gguf_tensor_info& t) const noexcept { map_.release_pages(t.data); }

  /// Maps `path` read-only and parses it; the mapping lives as long as the object.
  ///
  /// throws `lowbit::error{errc::io_error}` when the file cannot be mapped, and the parse errors of
  /// the class description (messages start with the path).
  static gguf_file open(const std::filesystem::path& path) {
    mapped_file map(path);
    gguf_file f = parse_impl(map.bytes(), path.string());
    f.map_ = std::move(map);  // the mapping's address does not change when moved
    return f;
  }

  /// Parses a GGUF image held in memory that the caller keeps alive (and unmodified) for the
  /// object's lifetime. Tensor views are as aligned as `bytes.data()` allows.
  ///
  /// throws the parse errors of the class description.
  static gguf_file parse(std::span<const std::byte> bytes) { return parse_impl(bytes, "GGUF buffer"); }

  /// Deleted: the views would dangle as soon as the temporary vector dies. Keep the vector alive and
  /// pass it (or a span of it) as an lvalue.
  static gguf_file parse(std::vector<std::byte>&& bytes) = delete;

  /// The GGUF version (2 or 3).
  [[nodiscard]] std::uint32_t version() const noexcept { return version_; }

  /// The data section alignment in bytes (`general.alignment`, default 32; a power of two).
  [[nodiscard]] std::uint64_t alignment() const noexcept { return alignment_; }

  /// The byte offset of the data section from the start of the file (a multiple of `alignment()`).
  [[nodiscard]] std::uint64_t data_offset() const noexcept { return data_offset_; }

  /// All the file's bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

  /// The metadata value stored under `key`, or nullptr when absent.
  [[nodiscard]] const gguf_value* find(std::string_view key) const noexcept {
    const auto it = key_index_.find(key);
    return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
  }

  /// True when `key` is present.
  [[nodiscard]] bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

  /// The metadata value stored under `key`.
  ///
  /// throws `lowbit::error{errc::missing_key}` naming the key when it is absent.
  [[nodiscard]] const gguf_value& at(std::string_view key) const {
    const gguf_value* v = find(key);
    check(v != nullptr, errc::missing_key, [&] { return "GGUF metadata has no key '" + std::string(key) + "'"; });
    return *v;
  }

  /// The scalar under `key` converted to `T` by `gguf_value::as<T>()` (lossless conversions only).
  ///
  /// throws `errc::missing_key` when absent, `errc::type_mismatch` naming the key when not convertible.
  template <gguf_scalar T>
  [[nodiscard]] T get(std::string_view key) const {
    return at(key).as<T>();
  }

  /// The scalar under `key` converted to `T`, or `fallback` when the key is absent.
  ///
  /// throws `errc::type_mismatch` naming the key when present but not convertible to `T`.
  template <gguf_scalar T>
  [[nodiscard]] T get_or(std::string_view key, T fallback) const {
    const gguf_value* v = find(key);
    return v == nullptr ? fallback : v->as<T>();
  }

  /// The string under `key` (a view into the file).
  ///
  /// throws `errc::missing_key` when absent, `errc::type_mismatch` when not a string.
  [[nodiscard]] std::string_view get_string(std::string_view key) const { return at(key).as_string(); }

  /// `get<std::uint32_t>(key)`.
  [[nodiscard]] std::uint32_t get_u32(std::string_view key) const { return get<std::uint32_t>(key); }

  /// `get<std::uint64_t>(key)`.
  [[nodiscard]] std::uint64_t get_u64(std::string_view key) const { return get<std::uint64_t>(key); }

  /// `get<std::int32_t>(key)`.
  [[nodiscard]] std::int32_t get_i32(std::string_view key) const { return get<std::int32_t>(key); }

  /// `get<float>(key)` (f32, or f64 when exact).
  [[nodiscard]] float get_f32(std::string_view key) const { return get<float>(key); }

  /// `get<bool>(key)`.
  [[nodiscard]] bool get_bool(std::string_view key) const { return get<bool>(key); }

  /// The elements of the string array under `key`, as views into the file (the strings are not copied).
  ///
  /// throws `errc::missing_key` when absent, `errc::type_mismatch` unless an array of strings.
  [[nodiscard]] std::vector<std::string_view> get_string_array(std::string_view key) const {
    return at(key).as_string_array();
  }

  /// The elements of the numeric (or bool) array under `key`, converted to `T` losslessly.
  ///
  /// throws `errc::missing_key` when absent, `errc::type_mismatch` naming the key (and element) unless
  /// an array of scalars that all convert to `T`.
  template <gguf_scalar T>
  [[nodiscard]] std::vector<T> get_array(std::string_view key) const {
    return at(key).as_array<T>();
  }

  /// All key/value pairs in file order.
  [[nodiscard]] std::span<const std::pair<std::string_view, gguf_value>> metadata() const noexcept { return metadata_; }

  /// All tensors in file order.
  [[nodiscard]] std::span<const gguf_tensor_info> tensors() const noexcept { return tensors_; }

  /// The tensor called `name`, or nullptr when absent.
  [[nodiscard]] const gguf_tensor_info* find_tensor(std::string_view name) const noexcept {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
  }

  /// The tensor called `name`.
  ///
  /// throws `lowbit::error{errc::missing_key}` naming the tensor when absent.
  [[nodiscard]] const gguf_tensor_info& tensor(std::string_view name) const {
    const gguf_tensor_info* t = find_tensor(name);
    check(t != nullptr, errc::missing_key, [&] { return "GGUF file has no tensor '" + std::string(name) + "'"; });
    return *t;
  }

 private:
  static constexpr std::uint64_t default_alignment = 32;
  // Longest tensor name plus one (ggml's GGML_MAX_NAME); the writer's limit too.
  static constexpr std::size_t max_name_bytes = 64;
  static constexpr std::uint64_t max_elements = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

  static gguf_file parse_impl(std::span<const std::byte> bytes, std::string source) {
    gguf_file f;
    f.bytes_ = bytes;
    detail::gguf_parser p(bytes, f.tables_, std::move(source));
    const std::string pre = p.prefix();

    // Header.
    const std::byte* magic = p.take(4, "magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) {
      std::string hex;
      for (int i = 0; i < 4; ++i) {
        static constexpr char digits[] = "0123456789abcdef";
        const auto b = std::to_integer<unsigned>(magic[i]);
        hex += digits[b >> 4];
        hex += digits[b & 15];
        if (i != 3) hex += ' ';
      }
      throw error(errc::corrupt,
                  pre + "bad magic at byte offset 0: bytes " + hex + ", expected \"GGUF\" (47 47 55 46)");
    }
    f.version_ = p.read<std::uint32_t>("version");
    if (f.version_ != 2 && f.version_ != 3) {
      if (f.version_ == 1) {
        throw error(errc::unsupported, pre + "GGUF version 1 is not supported (only versions 2 and 3 are)");
      }
      if (f.version_ != 0 && (f.version_ & 0xffffu) == 0) {
        throw error(errc::unsupported, pre + "GGUF version field reads " + std::to_string(f.version_) +
                                           ": a big-endian file, which is not supported (only little-endian)");
      }
      throw error(f.version_ == 0 ? errc::corrupt : errc::unsupported,
                  pre + "GGUF version " + std::to_string(f.version_) + " is not supported (only versions 2 and 3 are)");
    }
    const std::uint64_t tensor_count = p.read<std::uint64_t>("tensor_count");
    const std::uint64_t kv_count = p.read<std::uint64_t>("kv_count");
    // Smallest possible records: a KV pair is a u64 key length + u32 type + 1-byte value; a tensor
    // info is a u64 name length + u32 n_dims + u32 type + u64 offset.
    constexpr std::uint64_t min_kv_bytes = 13, min_tensor_bytes = 24;
    if (kv_count > p.remaining() / min_kv_bytes) {
      p.fail_size(16, kv_count, min_kv_bytes, "kv_count " + std::to_string(kv_count));
    }
    if (tensor_count > (p.remaining() - kv_count * min_kv_bytes) / min_tensor_bytes) {
      p.fail_size(8, tensor_count, min_tensor_bytes,
                  "tensor_count " + std::to_string(tensor_count) + " (besides at least " +
                      std::to_string(kv_count * min_kv_bytes) + " bytes of KV pairs)");
    }

    // Metadata.
    f.metadata_.reserve(static_cast<std::size_t>(kv_count));
    f.key_index_.reserve(static_cast<std::size_t>(kv_count));
    for (std::uint64_t i = 0; i < kv_count; ++i) {
      const std::uint64_t at = p.pos();
      p.set_context("a KV pair");
      const std::string_view key = p.read_string("key");
      check(!key.empty(), errc::corrupt, [&] {
        return pre + "empty key in KV pair " + std::to_string(i) + " at byte offset " + std::to_string(at);
      });
      p.set_context("key", key);
      const gguf_value_type t = p.read_type("value type");
      gguf_value v = p.read_value(t, key);
      const auto [it, inserted] = f.key_index_.emplace(key, f.metadata_.size());
      if (!inserted) {
        throw error(errc::corrupt, pre + "duplicate key '" + std::string(key) + "' in KV pair " + std::to_string(i) +
                                       " at byte offset " + std::to_string(at) + " (first in KV pair " +
                                       std::to_string(it->second) + ")");
      }
      f.metadata_.emplace_back(key, v);
    }
    p.set_context("the tensor infos");

    if (const gguf_value* a = f.find("general.alignment")) {
      check(a->type() == gguf_value_type::u32, errc::type_mismatch, [&] {
        return pre + "metadata key 'general.alignment' holds " + std::string(to_string(a->type())) + ", must be u32";
      });
      f.alignment_ = a->as<std::uint32_t>();
      check(f.alignment_ != 0 && (f.alignment_ & (f.alignment_ - 1)) == 0, errc::corrupt, [&] {
        return pre + "metadata key 'general.alignment' is " + std::to_string(f.alignment_) +
               ", not a non-zero power of two";
      });
    }

    // Tensor infos.
    f.tensors_.reserve(static_cast<std::size_t>(tensor_count));
    f.tensor_index_.reserve(static_cast<std::size_t>(tensor_count));
    std::vector<std::uint64_t> info_at(static_cast<std::size_t>(tensor_count));
    for (std::uint64_t i = 0; i < tensor_count; ++i) {
      const std::uint64_t at = p.pos();
      info_at[i] = at;
      p.set_context("a tensor info");
      gguf_tensor_info info;
      info.name = p.read_string("tensor name");
      check(!info.name.empty() && info.name.size() < max_name_bytes, errc::corrupt, [&] {
        return pre + "tensor info " + std::to_string(i) + " at byte offset " + std::to_string(at) + " has a name of " +
               std::to_string(info.name.size()) + " bytes; names have 1 to " + std::to_string(max_name_bytes - 1) +
               " bytes (ggml's GGML_MAX_NAME)";
      });
      p.set_context("tensor", info.name);
      const auto culprit = [&] {
        return pre + "tensor '" + std::string(info.name) + "' (info at byte offset " + std::to_string(at) + ")";
      };
      info.n_dims = p.read<std::uint32_t>("n_dims");
      check(info.n_dims <= 4, errc::corrupt,
            [&] { return culprit() + " has n_dims " + std::to_string(info.n_dims) + ", more than 4"; });
      info.ne = {1, 1, 1, 1};
      std::uint64_t n_elements = 1;
      for (std::uint32_t d = 0; d < info.n_dims; ++d) {
        const std::uint64_t ne = p.read<std::uint64_t>("dimension");
        check(ne != 0, errc::corrupt, [&] { return culprit() + " has ne[" + std::to_string(d) + "] = 0"; });
        check(ne <= max_elements / n_elements, errc::corrupt, [&] {
          return culprit() + " has an absurd shape: ne[" + std::to_string(d) + "] = " + std::to_string(ne) +
                 " makes more than INT64_MAX elements";
        });
        info.ne[d] = ne;
        n_elements *= ne;
      }
      const std::uint64_t type_at = p.pos();
      const auto type_id = p.read<std::uint32_t>("ggml type");
      const auto traits = ggml::find_type_traits(type_id);
      check(traits.has_value(), errc::unknown_type, [&] {
        return culprit() + " has unknown ggml type id " + std::to_string(type_id) + " at byte offset " +
               std::to_string(type_at);
      });
      info.type = traits->id;
      check(info.ne[0] % traits->block_size == 0, errc::shape_mismatch, [&] {
        return culprit() + " of type " + std::string(traits->name) + " and shape " +
               detail::shape_text(info.ne, info.n_dims) + " has ne[0] = " + std::to_string(info.ne[0]) +
               ", not a multiple of the block size " + std::to_string(traits->block_size);
      });
      const std::uint64_t n_blocks = n_elements / traits->block_size;
      check(n_blocks <= std::numeric_limits<std::uint64_t>::max() / traits->block_bytes, errc::corrupt, [&] {
        return culprit() + " of shape " + detail::shape_text(info.ne, info.n_dims) + " has more than 2^64 bytes";
      });
      info.n_bytes = n_blocks * traits->block_bytes;
      info.offset = p.read<std::uint64_t>("data offset");
      const auto [it, inserted] = f.tensor_index_.emplace(info.name, f.tensors_.size());
      if (!inserted) {
        throw error(errc::corrupt, culprit() + " duplicates the name of tensor " + std::to_string(it->second) +
                                       " (info at byte offset " + std::to_string(info_at[it->second]) + ")");
      }
      f.tensors_.push_back(info);
    }

    // Data section: starts at the next multiple of the alignment after the infos.
    f.data_offset_ = (p.pos() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    const std::uint64_t available = f.data_offset_ <= p.size() ? p.size() - f.data_offset_ : 0;
    // Offsets first: a misaligned offset is a defect of the infos, whatever the data section holds.
    for (std::size_t i = 0; i < f.tensors_.size(); ++i) {
      const gguf_tensor_info& t = f.tensors_[i];
      check(t.offset % f.alignment_ == 0, errc::corrupt, [&] {
        return pre + "tensor '" + std::string(t.name) + "' (info at byte offset " + std::to_string(info_at[i]) +
               ") has data offset " + std::to_string(t.offset) + ", not a multiple of the alignment " +
               std::to_string(f.alignment_);
      });
    }
    for (std::size_t i = 0; i < f.tensors_.size(); ++i) {
      gguf_tensor_info& t = f.tensors_[i];
      if (t.offset > available || t.n_bytes > available - t.offset) {
        // Past the end: truncated, unless no file could be that large (then the offset or shape is corrupt).
        const bool absurd = t.offset > detail::gguf_parser::max_plausible_bytes ||
                            t.n_bytes > detail::gguf_parser::max_plausible_bytes - t.offset;
        throw error(absurd ? errc::corrupt : errc::truncated,
                    pre + "tensor '" + std::string(t.name) + "' (info at byte offset " + std::to_string(info_at[i]) +
                        ") has " + std::to_string(t.n_bytes) + " bytes of data at byte offset " +
                        std::to_string(f.data_offset_) + " + " + std::to_string(t.offset) +
                        (absurd ? ": absurd, beyond 2^48 bytes" : ", past the end of the data") + " (size " +
                        std::to_string(p.size()) + ")");
      }
      t.data = bytes.subspan(static_cast<std::size_t>(f.data_offset_ + t.offset), static_cast<std::size_t>(t.n_bytes));
    }

    // No two tensors share bytes.
    std::vector<std::size_t> order(f.tensors_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return f.tensors_[a].offset < f.tensors_[b].offset; });
    for (std::size_t k = 1; k < order.size(); ++k) {
      const gguf_tensor_info& a = f.tensors_[order[k - 1]];
      const gguf_tensor_info& b = f.tensors_[order[k]];
      check(a.offset + a.n_bytes <= b.offset, errc::corrupt, [&] {
        return pre + "tensors '" + std::string(a.name) + "' (data offset " + std::to_string(a.offset) + ", " +
               std::to_string(a.n_bytes) + " bytes) and '" + std::string(b.name) + "' (data offset " +
               std::to_string(b.offset) + ") overlap";
      });
    }
    return f;
  }

  mapped_file map_;
  std::span<const std::byte> bytes_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = default_alignment;
  std::uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string_view, gguf_value>> metadata_;
  std::vector<gguf_tensor_info> tensors_;
  std::unordered_map<std::string_view, std::size_t> key_index_;
  std::unordered_map<std::string_view, std::size_t> tensor_index_;
  detail::gguf_tables tables_;
};

}  // namespace lowbit::io
