# Checks the vcpkg overlay port as far as possible without vcpkg:
#  - vcpkg.json parses, names redflag at PROJECT_VERSION, and depends on
#    exactly the ports of the packages redflagDependencies.cmake requires;
#  - configuring and installing the source tree with the OPTIONS the portfile
#    passes yields only include/ and share/ (a header-only port), with the
#    package config where vcpkg_cmake_config_fixup looks for it;
#  - a consumer finds that install with find_package(redflag CONFIG REQUIRED).
# Usage: cmake -DSOURCE_DIR= -DVERSION= -DWORK_DIR= -DCXX= -DGENERATOR= -P check_port.cmake
set(port_dir "${CMAKE_CURRENT_LIST_DIR}/ports/redflag")

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE failed)
  if(failed)
    list(JOIN ARGV " " command)
    message(FATAL_ERROR "failed: ${command}")
  endif()
endfunction()

# vcpkg.json (string(JSON) stops with an error if it does not parse).
file(READ "${port_dir}/vcpkg.json" manifest)
string(JSON name GET "${manifest}" name)
string(JSON port_version GET "${manifest}" version)
if(NOT name STREQUAL "redflag" OR NOT port_version STREQUAL VERSION)
  message(FATAL_ERROR "vcpkg.json describes ${name} ${port_version}, the project is redflag ${VERSION}")
endif()
set(dependencies "")
set(host_dependencies "")
string(JSON count LENGTH "${manifest}" dependencies)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  string(JSON type TYPE "${manifest}" dependencies ${i})
  if(type STREQUAL "STRING")
    string(JSON dependency GET "${manifest}" dependencies ${i})
    list(APPEND dependencies ${dependency})
  else()
    string(JSON dependency GET "${manifest}" dependencies ${i} name)
    string(JSON host ERROR_VARIABLE no_host GET "${manifest}" dependencies ${i} host)
    if(host)
      list(APPEND host_dependencies ${dependency})
    else()
      list(APPEND dependencies ${dependency})
    endif()
  endif()
endforeach()
list(SORT dependencies)
list(SORT host_dependencies)
if(NOT host_dependencies STREQUAL "vcpkg-cmake;vcpkg-cmake-config")
  message(FATAL_ERROR "vcpkg.json host dependencies are '${host_dependencies}', expected vcpkg-cmake;vcpkg-cmake-config")
endif()

# The ports of what the package config requires: each port is named like its
# CMake package in lower case; Threads comes with the platform.
file(READ "${SOURCE_DIR}/cmake/redflagDependencies.cmake" lookup)
string(REGEX MATCHALL "\n[ \t]*redflag_find_dependency\\([A-Za-z0-9_]+" calls "${lookup}")
set(required "")
foreach(call IN LISTS calls)
  string(REGEX REPLACE ".*\\(" "" package "${call}")
  string(TOLOWER "${package}" package)
  if(NOT package STREQUAL "threads")
    list(APPEND required ${package})
  endif()
endforeach()
list(SORT required)
if(NOT dependencies STREQUAL required)
  message(FATAL_ERROR "vcpkg.json depends on '${dependencies}', redflagDependencies.cmake requires '${required}'")
endif()

# The portfile's configure OPTIONS and config path, read rather than repeated here.
file(READ "${port_dir}/portfile.cmake" portfile)
if(NOT portfile MATCHES "vcpkg_cmake_configure\\(([^)]*)\\)")
  message(FATAL_ERROR "portfile.cmake has no vcpkg_cmake_configure call")
endif()
separate_arguments(arguments UNIX_COMMAND "${CMAKE_MATCH_1}")
list(FIND arguments OPTIONS at)
set(options "")
if(at GREATER_EQUAL 0)
  math(EXPR at "${at} + 1")
  list(SUBLIST arguments ${at} -1 arguments)
  foreach(argument IN LISTS arguments)
    if(argument MATCHES "^[A-Z_]+$")  # the next keyword (OPTIONS_RELEASE, ...)
      break()
    endif()
    list(APPEND options "${argument}")
  endforeach()
endif()
if(NOT portfile MATCHES "vcpkg_cmake_config_fixup\\(CONFIG_PATH ([^ )]+)\\)")
  message(FATAL_ERROR "portfile.cmake has no vcpkg_cmake_config_fixup(CONFIG_PATH ...) call")
endif()
set(config_path "${CMAKE_MATCH_1}")
message(STATUS "portfile OPTIONS: ${options}; CONFIG_PATH ${config_path}")

# Install as vcpkg_cmake_install would (a fresh tree each run).
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_INSTALL_PREFIX=${prefix}" ${options})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --target install)

file(GLOB top_level RELATIVE "${prefix}" "${prefix}/*")
list(SORT top_level)
if(NOT top_level STREQUAL "include;share")
  message(FATAL_ERROR "the install holds '${top_level}', a header-only port only include;share")
endif()
if(NOT EXISTS "${prefix}/${config_path}/redflagConfig.cmake")
  message(FATAL_ERROR "no redflagConfig.cmake in ${config_path}, where the portfile's config fixup looks")
endif()

run("${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/consumer" -B "${WORK_DIR}/consumer" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer")
