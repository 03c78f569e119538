# Cross-builds edgehal for 64-bit ARM Linux (phones and boards running a
# glibc userland) with Debian's cross toolchain:
#
#   apt-get install gcc-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libcmocka-dev:arm64        # only for the tests
#   cmake -S . -B build-aarch64 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
#
# Libraries come from two places: the cross toolchain's own sysroot
# (/usr/aarch64-linux-gnu: libc, libm, libdl, pthread) and Debian multiarch
# (/usr/lib/aarch64-linux-gnu: arm64 packages such as libcmocka-dev:arm64).
# Host (x86-64) libraries and pkg-config files are never found: libraries
# are searched under the arm64 multiarch directory only, and pkg-config reads
# only arm64 .pc files. Programs (glslc, python3) are the host's.
#
# ctest runs the test executables under qemu-aarch64 through
# CMAKE_CROSSCOMPILING_EMULATOR. The CPU model is chosen at run time with
# QEMU_CPU (for example QEMU_CPU=cortex-a53 ctest ...), default: qemu's.
#
# Overrides (cache variables or environment):
#   EHAL_AARCH64_TRIPLE   compiler prefix (default aarch64-linux-gnu)
#   EHAL_AARCH64_SYSROOT  the toolchain's runtime root (default /usr/<triple>),
#                         given to qemu -L when there is no multiarch libc

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT EHAL_AARCH64_TRIPLE)
  if(DEFINED ENV{EHAL_AARCH64_TRIPLE})
    set(EHAL_AARCH64_TRIPLE $ENV{EHAL_AARCH64_TRIPLE})
  else()
    set(EHAL_AARCH64_TRIPLE aarch64-linux-gnu)
  endif()
endif()
if(NOT EHAL_AARCH64_SYSROOT)
  if(DEFINED ENV{EHAL_AARCH64_SYSROOT})
    set(EHAL_AARCH64_SYSROOT $ENV{EHAL_AARCH64_SYSROOT})
  else()
    set(EHAL_AARCH64_SYSROOT /usr/${EHAL_AARCH64_TRIPLE})
  endif()
endif()
# try_compile projects re-read this file; pass the choices on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EHAL_AARCH64_TRIPLE EHAL_AARCH64_SYSROOT)

find_program(EHAL_AARCH64_CC ${EHAL_AARCH64_TRIPLE}-gcc)
if(NOT EHAL_AARCH64_CC)
  message(FATAL_ERROR
    "aarch64 toolchain: ${EHAL_AARCH64_TRIPLE}-gcc not found (install gcc-aarch64-linux-gnu)")
endif()
set(CMAKE_C_COMPILER ${EHAL_AARCH64_CC})
find_program(EHAL_AARCH64_AR ${EHAL_AARCH64_TRIPLE}-ar)
if(EHAL_AARCH64_AR)
  set(CMAKE_AR ${EHAL_AARCH64_AR} CACHE FILEPATH "aarch64 ar")
endif()
find_program(EHAL_AARCH64_STRIP ${EHAL_AARCH64_TRIPLE}-strip)
if(EHAL_AARCH64_STRIP)
  set(CMAKE_STRIP ${EHAL_AARCH64_STRIP} CACHE FILEPATH "aarch64 strip")
endif()

# Debian multiarch: find_library/find_path look in lib/aarch64-linux-gnu
# and include/aarch64-linux-gnu below each root.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${EHAL_AARCH64_SYSROOT} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Under root "/" the generic lib dirs (/usr/lib, /lib) can hold host
# libraries; search only the arm64 multiarch dir and the toolchain's root.
set(CMAKE_SYSTEM_IGNORE_PATH /usr/lib /lib /usr/local/lib /usr/lib/x86_64-linux-gnu
    /lib/x86_64-linux-gnu /usr/include/x86_64-linux-gnu)

# pkg-config: arm64 .pc files only (plus the arch-independent ones).
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig:${EHAL_AARCH64_SYSROOT}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
unset(ENV{PKG_CONFIG_SYSROOT_DIR})
# qemu-aarch64 needs an aarch64 dynamic loader. Prefer the multiarch one
# (libc6:arm64, pulled in by libcmocka-dev:arm64) at /lib: under qemu-user
# 7.2 the child of fork() spins forever when the interpreter is the cross
# toolchain's ld.so (libc6-arm64-cross 2.36-8cross1, "-L /usr/aarch64-linux-gnu"),
# and the conformance suite forks for every group of cases. Without the
# multiarch libc, fall back to -L <sysroot> (forking tests then hang).
find_program(EHAL_QEMU_AARCH64 qemu-aarch64)
if(EHAL_QEMU_AARCH64)
  if(EXISTS /lib/ld-linux-aarch64.so.1)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${EHAL_QEMU_AARCH64})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR ${EHAL_QEMU_AARCH64} -L ${EHAL_AARCH64_SYSROOT})
  endif()
endif()

# A gcc 12 internal compiler error in test code; see the file for details.
set(CMAKE_PROJECT_INCLUDE ${CMAKE_CURRENT_LIST_DIR}/aarch64-gcc12-workaround.cmake)
