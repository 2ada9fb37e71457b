# Cross-compiles for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu and
# runs the programs (ctest, and any custom command that uses the emulator)
# under qemu-user: the `aarch64` preset (CMakePresets.json), a step of the
# test command (docs/contributing.md).
#
#   apt install g++-aarch64-linux-gnu qemu-user
#   cmake --preset aarch64 && cmake --build --preset aarch64 && ctest --preset aarch64
#
# redflag's dependencies are header-only and their CMake configs are
# architecture-independent, but Debian installs cereal's and doctest's
# headers straight into /usr/include, so their imported targets
# would put all of /usr/include — the x86-64 C library's headers — on the
# aarch64 compiler's command line, ahead of the aarch64 ones. Instead,
# find_package finds configs written below (CMAKE_FIND_PACKAGE_REDIRECTS_DIR,
# CMake >= 3.24) that load Debian's and point those targets at a folder
# holding links to only their headers. Eigen's target already names
# /usr/include/eigen3, which holds only Eigen.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

# Programs are the build machine's; libraries and headers the target's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

if(CMAKE_VERSION VERSION_LESS 3.24)
  message(FATAL_ERROR "the aarch64 toolchain needs CMake >= 3.24 (CMAKE_FIND_PACKAGE_REDIRECTS_DIR)")
endif()

# The toolchain file is read again by every try_compile, with another binary
# folder: writing there too is harmless.
if(CMAKE_FIND_PACKAGE_REDIRECTS_DIR)
  set(_redflag_headers "${CMAKE_BINARY_DIR}/aarch64-headers")
  foreach(dir IN ITEMS cereal doctest)
    if(EXISTS "/usr/include/${dir}" AND NOT EXISTS "${_redflag_headers}/${dir}")
      file(MAKE_DIRECTORY "${_redflag_headers}")
      file(CREATE_LINK "/usr/include/${dir}" "${_redflag_headers}/${dir}" SYMBOLIC)
    endif()
  endforeach()
  # package;its config;the targets it defines
  foreach(entry IN ITEMS "cereal;/usr/lib/x86_64-linux-gnu/cmake/cereal/cerealConfig.cmake;cereal::cereal"
                         "doctest;/usr/lib/cmake/doctest/doctestConfig.cmake;doctest::doctest")
    list(GET entry 0 package)
    list(GET entry 1 config)
    list(GET entry 2 target)
    if(NOT EXISTS "${config}")
      continue() # find_package then reports the package missing as usual
    endif()
    string(REPLACE "Config.cmake" "ConfigVersion.cmake" version "${config}")
    file(WRITE "${CMAKE_FIND_PACKAGE_REDIRECTS_DIR}/${package}-config.cmake"
         "include(\"${config}\")\n"
         "set_property(TARGET ${target} PROPERTY INTERFACE_INCLUDE_DIRECTORIES \"${_redflag_headers}\")\n")
    if(EXISTS "${version}")
      file(WRITE "${CMAKE_FIND_PACKAGE_REDIRECTS_DIR}/${package}-config-version.cmake" "include(\"${version}\")\n")
    endif()
  endforeach()
endif()
