# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
# Conan 2 recipe for lowbit, in conan-center-index's header-only style. It packages the checkout it
# sits in (packaging/conan/ -> the repository root); scripts/package_test.sh runs `conan create`.
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout
from conan.tools.scm import Version

required_conan_version = ">=2.0"


class LowbitConan(ConanFile):
    name = "lowbit"
    description = "Header-only C++20 quantization and inference primitives: GGUF, parametric and MX formats, GEMM"
    license = "Apache-2.0"
    topics = ("quantization", "gemm", "gguf", "simd", "inference", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"with_openmp": [True, False]}
    default_options = {"with_openmp": True}
    no_copy_source = True

    @property
    def _root(self):
        return os.path.join(self.recipe_folder, "..", "..")

    @property
    def _min_cppstd(self):
        return 20

    @property
    def _compilers_minimum_version(self):
        return {"gcc": "12", "clang": "14"}

    def set_version(self):
        text = load(self, os.path.join(self._root, "include", "lowbit", "version.hpp"))
        parts = [re.search(rf"#define LOWBIT_VERSION_{p} (\d+)", text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def export_sources(self):
        copy(self, "LICENSE", self._root, self.export_sources_folder)
        copy(self, "*.hpp", os.path.join(self._root, "include"), os.path.join(self.export_sources_folder, "include"))
        copy(self, "lowbit-isa-dispatch.cmake", os.path.join(self._root, "cmake"),
             os.path.join(self.export_sources_folder, "cmake"))

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        self.requires("xsimd/8.1.0")

    def package_id(self):
        self.info.clear()

    def validate(self):
        check_min_cppstd(self, self._min_cppstd)
        minimum_version = self._compilers_minimum_version.get(str(self.settings.compiler))
        if minimum_version and Version(self.settings.compiler.version) < minimum_version:
            raise ConanInvalidConfiguration(
                f"{self.ref} requires C++{self._min_cppstd} ({self.settings.compiler} >= {minimum_version})")
        if self.settings.os == "Windows":
            raise ConanInvalidConfiguration(f"{self.ref} needs POSIX (mmap, dlopen); Windows is not supported")

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))
        copy(self, "lowbit-isa-dispatch.cmake", os.path.join(self.source_folder, "cmake"),
             os.path.join(self.package_folder, "lib", "cmake"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "lowbit")
        self.cpp_info.set_property("cmake_target_name", "lowbit::lowbit")
        self.cpp_info.set_property("pkg_config_name", "lowbit")
        # lowbit_add_isa_modules(), the opt-in run-time ISA dispatch helper (docs/dispatch.md).
        self.cpp_info.builddirs = [os.path.join("lib", "cmake")]
        self.cpp_info.set_property("cmake_build_modules", [os.path.join("lib", "cmake", "lowbit-isa-dispatch.cmake")])
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["dl", "pthread"]
        if self.options.with_openmp:
            # lowbit/core/parallel.hpp uses OpenMP when _OPENMP is defined.
            self.cpp_info.cxxflags = ["-fopenmp"]
            self.cpp_info.sharedlinkflags = ["-fopenmp"]
            self.cpp_info.exelinkflags = ["-fopenmp"]
