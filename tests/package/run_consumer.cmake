# SPDX-License-Identifier: Apache-2.0
# Copyright lowbit contributors
# cmake -DLOWBIT_SOURCE_DIR=... -DMODE=find_package|add_subdirectory|pkg_config -DWORK_DIR=...
#       [-DGENERATOR=...] [-DCXX=<compiler> -DPKG_CONFIG=<pkg-config>] -P run_consumer.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(consumer_src ${CMAKE_CURRENT_LIST_DIR}/consumer)
set(generator)
if(GENERATOR)
  set(generator -G ${GENERATOR})
endif()
if(MODE STREQUAL "find_package" OR MODE STREQUAL "pkg_config")
  run(${CMAKE_COMMAND} -S ${LOWBIT_SOURCE_DIR} -B ${WORK_DIR}/lowbit-build ${generator}
      -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_EXAMPLES=OFF)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/lowbit-build)
endif()
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${consumer_src} -B ${WORK_DIR}/consumer-build ${generator}
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DLOWBIT_CONSUMER_MODE=find_package)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
elseif(MODE STREQUAL "add_subdirectory")
  run(${CMAKE_COMMAND} -S ${consumer_src} -B ${WORK_DIR}/consumer-build ${generator}
      -DLOWBIT_CONSUMER_MODE=add_subdirectory -DLOWBIT_SOURCE_DIR=${LOWBIT_SOURCE_DIR})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
elseif(MODE STREQUAL "pkg_config")
  # What a Makefile user writes: c++ -march=native main.cpp $(pkg-config --cflags --libs lowbit).
  set(ENV{PKG_CONFIG_PATH} ${WORK_DIR}/prefix/share/pkgconfig)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs lowbit RESULT_VARIABLE rc OUTPUT_VARIABLE flags
                  ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags --libs lowbit failed (${rc}): ${err}")
  endif()
  message(STATUS "pkg-config --cflags --libs lowbit: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  file(MAKE_DIRECTORY ${WORK_DIR}/consumer-build)
  run(${CXX} -O2 -march=native ${consumer_src}/main.cpp ${flags} -o ${WORK_DIR}/consumer-build/lowbit_consumer)
else()
  message(FATAL_ERROR "unknown MODE '${MODE}' (find_package, add_subdirectory, pkg_config)")
endif()
execute_process(COMMAND ${WORK_DIR}/consumer-build/lowbit_consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "lowbit consumer ok")
  message(FATAL_ERROR "consumer failed (${rc}): ${out}")
endif()
message(STATUS "${MODE}: ${out}")
