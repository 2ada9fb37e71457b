# redflag is header-only: one (release) configuration is enough.
set(VCPKG_BUILD_TYPE release)

# This overlay port builds the repository it lives in, since vcpkg_from_github
# cannot download anything offline; the redflag repository is five levels up
# unless REDFLAG_SOURCE_PATH (e.g. set in an overlay triplet) says otherwise.
# A registry submission replaces this with vcpkg_from_github(OUT_SOURCE_PATH
# SOURCE_PATH REPO ... REF "v${VERSION}" SHA512 ...).
if(NOT DEFINED REDFLAG_SOURCE_PATH)
  get_filename_component(REDFLAG_SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../../.." ABSOLUTE)
endif()
set(SOURCE_PATH "${REDFLAG_SOURCE_PATH}")

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DREDFLAG_BUILD_TESTS=OFF
    -DREDFLAG_BUILD_EXAMPLES=OFF
    -DREDFLAG_BUILD_BENCHMARKS=OFF
    -DREDFLAG_INSTALL=ON
)
vcpkg_cmake_install()
# The package config is installed to share/cmake/redflag; vcpkg wants share/redflag.
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/redflag)
vcpkg_fixup_pkgconfig()

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
