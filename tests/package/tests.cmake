# Packaging tests: consume redflag the ways users do, all offline.
set(redflag_package_dir "${CMAKE_CURRENT_BINARY_DIR}/package")
set(redflag_test_prefix "${redflag_package_dir}/prefix")
set(redflag_package_sources "${CMAKE_CURRENT_SOURCE_DIR}/package")

add_test(NAME package.install
         COMMAND "${CMAKE_COMMAND}" --install "${PROJECT_BINARY_DIR}" --prefix "${redflag_test_prefix}")
set_tests_properties(package.install PROPERTIES FIXTURES_SETUP redflag_installed LABELS package)

function(redflag_add_consumer_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "OPTIONS")
  add_test(NAME package.${name}
           COMMAND "${CMAKE_CTEST_COMMAND}"
                   --build-and-test "${redflag_package_sources}/${name}" "${redflag_package_dir}/${name}"
                   --build-generator "${CMAKE_GENERATOR}"
                   --build-noclean
                   --build-options "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}" ${arg_OPTIONS}
                   --test-command consumer)
  set_tests_properties(package.${name} PROPERTIES LABELS package)
endfunction()

redflag_add_consumer_test(find_package OPTIONS
  "-DCMAKE_PREFIX_PATH=${redflag_test_prefix}" "-DREDFLAG_EXPECTED_VERSION=${PROJECT_VERSION}")
set_tests_properties(package.find_package PROPERTIES FIXTURES_REQUIRED redflag_installed)

redflag_add_consumer_test(add_subdirectory OPTIONS "-DREDFLAG_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

find_package(Git QUIET)
if(GIT_FOUND OR NOT EXISTS "${PROJECT_SOURCE_DIR}/.git")
  redflag_add_consumer_test(fetch_content OPTIONS
    "-DREDFLAG_SOURCE_DIR=${PROJECT_SOURCE_DIR}" "-DREDFLAG_GIT_REVISION=HEAD"
    "-DGIT_EXECUTABLE=${GIT_EXECUTABLE}")
else()
  redflag_add_tool_test(NAME package.fetch_content MISSING "no git found to fetch the repository (apt install git)")
  set_tests_properties(package.fetch_content PROPERTIES LABELS package)
endif()

# A request for a newer major version must fail at configure time, and for
# the right reason.
math(EXPR redflag_incompatible_major "${PROJECT_VERSION_MAJOR} + 1")
add_test(NAME package.version_mismatch
         COMMAND "${CMAKE_COMMAND}"
                 -S "${redflag_package_sources}/version_mismatch"
                 -B "${redflag_package_dir}/version_mismatch"
                 -G "${CMAKE_GENERATOR}"
                 "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}"
                 "-DCMAKE_PREFIX_PATH=${redflag_test_prefix}"
                 "-DREDFLAG_REQUESTED_VERSION=${redflag_incompatible_major}.0")
set_tests_properties(package.version_mismatch PROPERTIES
  FIXTURES_REQUIRED redflag_installed
  LABELS package
  PASS_REGULAR_EXPRESSION "compatible with requested version \"${redflag_incompatible_major}\\.0\".*version: ${PROJECT_VERSION}")

find_program(REDFLAG_PKG_CONFIG NAMES pkg-config pkgconf)
set(missing "")
if(NOT REDFLAG_PKG_CONFIG)
  set(missing "no pkg-config found (apt install pkg-config, then reconfigure)")
endif()
redflag_add_tool_test(NAME package.pkg_config MISSING "${missing}"
                      COMMAND "${CMAKE_COMMAND}"
                              "-DPKG_CONFIG=${REDFLAG_PKG_CONFIG}"
                              "-DCXX=${CMAKE_CXX_COMPILER}"
                              "-DPREFIX=${redflag_test_prefix}"
                              "-DSOURCE=${redflag_package_sources}/consumer.cpp"
                              "-DOUTPUT=${redflag_package_dir}/pkg_config_consumer"
                              -P "${redflag_package_sources}/pkg_config_check.cmake")
set_tests_properties(package.pkg_config PROPERTIES FIXTURES_REQUIRED redflag_installed LABELS package)

# The redflag tool is part of the installed package.
if(TARGET redflag_cli)
  add_test(NAME package.cli_installed COMMAND "${redflag_test_prefix}/${CMAKE_INSTALL_BINDIR}/redflag" --version)
  set_tests_properties(package.cli_installed PROPERTIES
    FIXTURES_REQUIRED redflag_installed LABELS package
    PASS_REGULAR_EXPRESSION "^redflag ${PROJECT_VERSION}")
endif()

# The Conan recipe: `conan create` with a Conan 2 that runs offline, its
# profile taking Debian's Eigen and cereal as platform requirements.
# Skipped, with the reason printed, where that Conan or its Python modules
# are missing.
set(REDFLAG_CONAN "${PROJECT_SOURCE_DIR}/../shared/tools/conan/conan" CACHE FILEPATH
    "Conan 2 wrapper (with offline.profile beside it) for the Conan recipe's test")
add_test(NAME package.conan_create
         COMMAND "${redflag_package_sources}/conan/run_conan_create.sh" "${REDFLAG_CONAN}" "${redflag_package_dir}/conan")
set_tests_properties(package.conan_create PROPERTIES
  LABELS package
  SKIP_RETURN_CODE 77
  # Conan detects the compiler the project is configured with.
  ENVIRONMENT "CXX=${CMAKE_CXX_COMPILER}")

# The vcpkg overlay port, checked without vcpkg (which needs the network).
add_test(NAME package.vcpkg_port
         COMMAND "${CMAKE_COMMAND}"
                 "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
                 "-DVERSION=${PROJECT_VERSION}"
                 "-DWORK_DIR=${redflag_package_dir}/vcpkg_port"
                 "-DCXX=${CMAKE_CXX_COMPILER}"
                 "-DGENERATOR=${CMAKE_GENERATOR}"
                 -P "${redflag_package_sources}/vcpkg/check_port.cmake")
set_tests_properties(package.vcpkg_port PROPERTIES LABELS package)
