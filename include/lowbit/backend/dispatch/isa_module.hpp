// SPDX-License-Identifier: Apache-2.0
// Copyright lowbit contributors
#pragma once

#include <dlfcn.h>

#include <filesystem>
#include <memory>
#include <string>

#include "lowbit/backend/dispatch/isa.hpp"
#include "lowbit/core/error.hpp"

/// Marks a function in an ISA module's source as one of its entries: C linkage (no mangling) and
/// default visibility, while everything else in the module stays hidden (see isa_module).
#define LOWBIT_ISA_EXPORT extern "C" __attribute__((visibility("default")))

namespace lowbit {

/// A shared module holding user code compiled for one ISA level, loaded at run time: the opt-in
/// run-time dispatch (one TU per ISA, hoisted to the layer or GEMM call; docs/dispatch.md).
///
/// `lowbit_add_isa_modules(<name> SOURCES ...)` (cmake/lowbit-isa-dispatch.cmake) builds the same
/// sources once per level into `lib<name>_<level>.so`, each with its level's flags and hidden
/// visibility, so that the inline and template code of lowbit's headers instantiated in one module
/// never replaces another's (the ODR hazard of mixing -march flags in one link). The program
/// itself is built for the baseline and loads only the module the CPU executes (`best_isa`), so no
/// instruction of an unsupported level runs, not even in a static initializer.
/// Entries are `LOWBIT_ISA_EXPORT` functions; exceptions must not cross them.
/// POSIX only (dlopen); the module stays loaded while any copy of the handle lives.
class isa_module {
 public:
  /// Loads the module file `path`.
  /// throws lowbit::error{errc::io_error} with the loader's message if it cannot be loaded.
  static isa_module open(const std::filesystem::path& path) {
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      throw error(errc::io_error,
                  "isa_module: cannot load " + path.string() + ": " + (why != nullptr ? why : "unknown error"));
    }
    isa_module m;
    m.path_ = path;
    m.handle_ = std::shared_ptr<void>(handle, [](void* h) { ::dlclose(h); });
    return m;
  }

  /// Loads `<dir>/lib<name>_<level>.so`, the file lowbit_add_isa_modules names it.
  static isa_module open(const std::filesystem::path& dir, const std::string& name, isa level) {
    return open(dir / ("lib" + name + "_" + std::string(to_string(level)) + ".so"));
  }

  /// The entry `symbol` as a pointer to `Fn` (a function type the caller and the module agree on).
  /// throws lowbit::error{errc::missing_key} naming the symbol and the module if it is absent.
  template <class Fn>
  Fn* entry(const std::string& symbol) const {
    ::dlerror();
    void* p = ::dlsym(handle_.get(), symbol.c_str());
    check(p != nullptr, errc::missing_key,
          [&] { return "isa_module: " + path_.string() + " has no entry " + symbol; });
    return reinterpret_cast<Fn*>(p);
  }

  /// The file this module was loaded from.
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  isa_module() = default;
  std::filesystem::path path_;
  std::shared_ptr<void> handle_;
};

}  // namespace lowbit
