# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Opt-in run-time dispatch by instruction set (include/lowbit/backend/dispatch/isa_module.hpp).
#
#   lowbit_add_isa_modules(<name> SOURCES <file>... [ISAS <level>...] [LINK <target>...])
#
# Builds <file>... once per level into a loadable module lib<name>_<level>.so (target
# <name>_<level>), compiled with that level's flags, hidden visibility (the headers' inline and
# template code stays private to each module) and LOWBIT_ISA=<level> defined. Levels
# (lowbit::isa): on x86-64 baseline (-march=x86-64), avx2 (-march=haswell), avx2_vnni
# (-march=haswell -mavxvnni) and avx512_vnni (-march=x86-64-v4 -mavx512vnni); on AArch64 baseline (-march=armv8-a), neon_dotprod
# (-march=armv8.2-a+dotprod) and neon_i8mm (-march=armv8.2-a+dotprod+i8mm+bf16); the default is
# every level of the target. The program that loads them is built for the baseline and picks one
# with lowbit::best_isa. POSIX with GCC or Clang.
function(lowbit_add_isa_modules name)
  cmake_parse_arguments(arg "" "" "SOURCES;ISAS;LINK" ${ARGN})
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "lowbit_add_isa_modules(${name}): no SOURCES")
  endif()
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    set(_arch x86_64)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64|ARM64")
    set(_arch aarch64)
  else()
    set(_arch other)
  endif()
  if(NOT arg_ISAS)
    if(_arch STREQUAL "x86_64")
      set(arg_ISAS baseline avx2 avx2_vnni avx512_vnni)
    elseif(_arch STREQUAL "aarch64")
      set(arg_ISAS baseline neon_dotprod neon_i8mm)
    else()
      set(arg_ISAS baseline)
    endif()
  endif()
  foreach(level IN LISTS arg_ISAS)
    set(_level_arch x86_64)
    if(level STREQUAL "baseline")
      set(_level_arch ${_arch})
      if(_arch STREQUAL "x86_64")
        set(flags -march=x86-64)
      elseif(_arch STREQUAL "aarch64")
        set(flags -march=armv8-a)
      else()
        set(flags)
      endif()
    elseif(level STREQUAL "avx2")
      set(flags -march=haswell)
    elseif(level STREQUAL "avx2_vnni")
      set(flags -march=haswell -mavxvnni)
    elseif(level STREQUAL "avx512_vnni")
      set(flags -march=x86-64-v4 -mavx512vnni)
    elseif(level STREQUAL "neon_dotprod")
      set(_level_arch aarch64)
      set(flags -march=armv8.2-a+dotprod)
    elseif(level STREQUAL "neon_i8mm")
      set(_level_arch aarch64)
      set(flags -march=armv8.2-a+dotprod+i8mm+bf16)
    else()
      message(FATAL_ERROR "lowbit_add_isa_modules(${name}): unknown level '${level}' "
                          "(baseline, avx2, avx2_vnni, avx512_vnni, neon_dotprod, neon_i8mm)")
    endif()
    if(NOT _level_arch STREQUAL _arch)
      message(FATAL_ERROR "lowbit_add_isa_modules(${name}): level '${level}' is for ${_level_arch}, "
                          "the target is ${CMAKE_SYSTEM_PROCESSOR}")
    endif()
    set(target ${name}_${level})
    add_library(${target} MODULE ${arg_SOURCES})
    target_compile_options(${target} PRIVATE ${flags})
    target_compile_definitions(${target} PRIVATE LOWBIT_ISA=${level})
    set_target_properties(${target} PROPERTIES PREFIX "lib" SUFFIX ".so" CXX_VISIBILITY_PRESET hidden
                                               VISIBILITY_INLINES_HIDDEN ON)
    target_link_libraries(${target} PRIVATE lowbit::lowbit ${arg_LINK})
  endforeach()
endfunction()
