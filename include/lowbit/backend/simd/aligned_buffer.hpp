// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace lowbit::simd_detail {

/// An owning, zero-initialised, 64-byte aligned byte buffer (one cache line, one AVX-512 register).
///
/// Buffers of at least `huge_page` bytes (packed weights) are aligned to 2 MiB and, on Linux, marked
/// `madvise(MADV_HUGEPAGE)` before they are first touched, so that transparent huge pages back them
/// where the system allows it (`/sys/kernel/mm/transparent_hugepage/enabled` = madvise or always).
/// A GEMV streams its weights once: with 4 KiB pages every page is a TLB miss and a point where the
/// hardware prefetchers stop, which costs a cold decode GEMV a measurable part of the memory
/// bandwidth. The advice is a hint; where it is refused the buffer works as before.
class aligned_buffer {
 public:
  static constexpr std::size_t alignment = 64;
  /// The size from which a buffer is aligned to and advised as 2 MiB pages.
  static constexpr std::size_t huge_page = std::size_t{2} << 20;
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t bytes) : data_(allocate(bytes), deleter{alignment_for(bytes)}), size_(bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= huge_page) ::madvise(data_.get(), (bytes + huge_page - 1) / huge_page * huge_page, MADV_HUGEPAGE);
#endif
    std::memset(data_.get(), 0, bytes);
  }
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::size_t alignment_for(std::size_t bytes) noexcept {
    return bytes >= huge_page ? huge_page : alignment;
  }
  // Large buffers are rounded up to whole 2 MiB pages, so the advised range is all theirs.
  static std::byte* allocate(std::size_t bytes) {
    const std::size_t a = alignment_for(bytes);
    const std::size_t n = bytes == 0 ? a : (bytes + a - 1) / a * a;
    return static_cast<std::byte*>(::operator new[](n, std::align_val_t{a}));
  }
  struct deleter {
    std::size_t align;
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{align}); }
  };
  std::unique_ptr<std::byte[], deleter> data_{nullptr, deleter{alignment}};
  std::size_t size_ = 0;
};

}  // namespace lowbit::simd_detail
