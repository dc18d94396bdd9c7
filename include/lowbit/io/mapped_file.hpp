// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include "lowbit/core/error.hpp"

namespace lowbit::io {

/// A read-only memory map of a whole file (POSIX `mmap`, `PROT_READ`, `MAP_PRIVATE`).
///
/// The bytes stay valid, at the same address, for the lifetime of the object and across moves; they
/// are released by the destructor. An empty file maps to an empty span (`data() == nullptr`), since
/// `mmap` cannot map zero bytes. The file descriptor is closed as soon as the mapping exists.
///
/// Errors: the constructor throws `lowbit::error{errc::io_error}` naming the path and the
/// `strerror` text when the file cannot be opened, stat'ed or mapped, or is not a regular file.
///
/// Allocation and aliasing: no heap memory besides the path; the pages are shared with the page
/// cache and are loaded on first touch. Writing through the span is undefined (it is const).
/// Move-only; a moved-from object is empty.
class mapped_file {
 public:
  /// An empty map (no file): `size() == 0`, `data() == nullptr`.
  mapped_file() noexcept = default;

  /// Maps all of the file at `path` read-only.
  ///
  /// throws `lowbit::error{errc::io_error}` ("cannot open '<path>': <strerror>", "... is not a
  /// regular file", "cannot map ...").
  explicit mapped_file(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open", errno);
    struct ::stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail("cannot stat", err);
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw error(errc::io_error, "cannot map '" + path_.string() + "': not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        size_ = 0;
        fail("cannot map", err);
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
  }

  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;

  /// Takes over `other`'s mapping; `other` becomes empty.
  mapped_file(mapped_file&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  /// Releases the current mapping, then takes over `other`'s; `other` becomes empty.
  mapped_file& operator=(mapped_file&& other) noexcept {
    if (this != &other) {
      release();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  /// Unmaps the file.
  ~mapped_file() { release(); }

  /// The file's bytes: `size()` bytes at `data()`, page-aligned.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

  /// The first byte of the mapping, or nullptr when empty.
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }

  /// The file size in bytes at the time it was mapped.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

  /// Tells the kernel that the whole pages inside `range` (a part of bytes()) are not needed now
  /// (`madvise(MADV_DONTNEED)`): they leave the process's resident set, and a later read maps them
  /// in again from the file, unchanged. For data that was copied elsewhere (weights repacked at
  /// load). Ranges outside the mapping, and partial pages at the ends, are left alone. A hint:
  /// failures are ignored.
  void release_pages(std::span<const std::byte> range) const noexcept {
    if (range.empty() || data_ == nullptr) return;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<std::uintptr_t>(range.data());
    const auto end = begin + range.size();
    const auto map_begin = reinterpret_cast<std::uintptr_t>(data_);
    if (begin < map_begin || end > map_begin + size_) return;
    const std::uintptr_t first = (begin + page - 1) / page * page;
    const std::uintptr_t last = end / page * page;
    if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

  /// True when no bytes are mapped (empty file, default-constructed or moved-from object).
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

  /// The path given to the constructor (empty for a default-constructed object).
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  [[noreturn]] void fail(const char* what, int err) const {
    throw error(errc::io_error, std::string(what) + " '" + path_.string() + "': " + std::strerror(err));
  }

  void release() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace lowbit::io
