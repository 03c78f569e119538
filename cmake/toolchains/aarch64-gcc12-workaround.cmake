# Included after project() by cmake/toolchains/aarch64-linux-gnu.cmake
# (CMAKE_PROJECT_INCLUDE). Works around an internal compiler error of
# Debian's aarch64-linux-gnu-gcc 12.2: the loop vectorizer crashes in
# vect_transform_reduction on a double fmax() reduction (seen in
# tests/ops/test_quant.c at -O2). An ICE fails the build loudly, so code that
# compiles is unaffected; the workaround only switches the loop vectorizer
# off for the test executables, so the libraries and plugins that go into
# the device bundle keep their normal optimization.
if(NOT CMAKE_C_COMPILER_ID STREQUAL "GNU" OR CMAKE_C_COMPILER_VERSION VERSION_GREATER_EQUAL 13)
  return()
endif()

function(_ehal_aarch64_targets_below dir out)
  get_property(tgts DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(s ${subs})
    _ehal_aarch64_targets_below(${s} more)
    list(APPEND tgts ${more})
  endforeach()
  set(${out} ${tgts} PARENT_SCOPE)
endfunction()

function(_ehal_aarch64_gcc12_tests_workaround)
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/tests/CMakeLists.txt)
    return()
  endif()
  get_property(subs DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
  if(NOT "${CMAKE_SOURCE_DIR}/tests" IN_LIST subs)
    return()
  endif()
  _ehal_aarch64_targets_below(${CMAKE_SOURCE_DIR}/tests tgts)
  set(n 0)
  foreach(t ${tgts})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_compile_options(${t} PRIVATE -fno-tree-loop-vectorize)
      math(EXPR n "${n} + 1")
    endif()
  endforeach()
  message(STATUS "aarch64 gcc ${CMAKE_C_COMPILER_VERSION}: loop vectorizer off for ${n} test executables (ICE workaround)")
endfunction()

cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _ehal_aarch64_gcc12_tests_workaround)
