# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
# cmake -DINCLUDE_DIR=<repo>/include -P check_umbrella.cmake
# lowbit/lowbit.hpp must include every public header except the opt-in backends (lowbit/backend/)
# and implementation details (*/detail/*), and nothing that does not exist.
file(GLOB_RECURSE headers RELATIVE ${INCLUDE_DIR} ${INCLUDE_DIR}/lowbit/*.hpp)
list(FILTER headers EXCLUDE REGEX "^lowbit/backend/|/detail/|^lowbit/lowbit\\.hpp$")
file(STRINGS ${INCLUDE_DIR}/lowbit/lowbit.hpp lines REGEX "^#include \"")
set(included)
foreach(line ${lines})
  string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" header "${line}")
  list(APPEND included ${header})
endforeach()
set(missing ${headers})
list(REMOVE_ITEM missing ${included})
set(extra ${included})
list(REMOVE_ITEM extra ${headers})
if(missing OR extra)
  list(JOIN missing " " missing)
  list(JOIN extra " " extra)
  message(FATAL_ERROR "lowbit/lowbit.hpp is out of date; add: [${missing}], remove: [${extra}]")
endif()
list(LENGTH included n)
message(STATUS "lowbit/lowbit.hpp includes all ${n} public headers")
