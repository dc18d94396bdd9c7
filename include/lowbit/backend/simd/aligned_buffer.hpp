// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace lowbit::simd_detail {

/// An owning, zero-initialised, 64-byte aligned byte buffer (one cache line, one AVX-512 register).
class aligned_buffer {
 public:
  static constexpr std::size_t alignment = 64;
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t bytes)
      : data_(static_cast<std::byte*>(::operator new[](bytes == 0 ? alignment : bytes, std::align_val_t{alignment}))),
        size_(bytes) {
    std::memset(data_.get(), 0, bytes);
  }
  std::byte* data() noexcept { return data_.get(); }
  const std::byte* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  struct deleter {
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<std::byte[], deleter> data_;
  std::size_t size_ = 0;
};

}  // namespace lowbit::simd_detail
