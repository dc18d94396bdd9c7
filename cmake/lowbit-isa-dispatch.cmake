# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
#
# Opt-in run-time dispatch by instruction set (include/lowbit/backend/dispatch/isa_module.hpp).
#
#   lowbit_add_isa_modules(<name> SOURCES <file>... [ISAS <level>...] [LINK <target>...])
#
# Builds <file>... once per level into a loadable module lib<name>_<level>.so (target
# <name>_<level>), compiled with that level's flags, hidden visibility (the headers' inline and
# template code stays private to each module) and LOWBIT_ISA=<level> defined. Levels: avx2
# (-march=haswell) and avx512_vnni (-march=x86-64-v4 -mavx512vnni); the default is both. The
# program that loads them is built for the baseline and picks one with lowbit::best_isa.
# x86-64 with GCC or Clang only.
function(lowbit_add_isa_modules name)
  cmake_parse_arguments(arg "" "" "SOURCES;ISAS;LINK" ${ARGN})
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "lowbit_add_isa_modules(${name}): no SOURCES")
  endif()
  if(NOT arg_ISAS)
    set(arg_ISAS avx2 avx512_vnni)
  endif()
  foreach(level IN LISTS arg_ISAS)
    if(level STREQUAL "avx2")
      set(flags -march=haswell)
    elseif(level STREQUAL "avx512_vnni")
      set(flags -march=x86-64-v4 -mavx512vnni)
    else()
      message(FATAL_ERROR "lowbit_add_isa_modules(${name}): unknown level '${level}' (avx2, avx512_vnni)")
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
