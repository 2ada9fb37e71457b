include(CMakePackageConfigHelpers)

set(REDFLAG_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/cmake/redflag")

install(TARGETS redflag EXPORT redflagTargets)
install(DIRECTORY include/redflag TYPE INCLUDE)
install(EXPORT redflagTargets
  NAMESPACE redflag::
  DESTINATION "${REDFLAG_CMAKE_INSTALL_DIR}")

configure_package_config_file(cmake/redflagConfig.cmake.in
  "${PROJECT_BINARY_DIR}/redflagConfig.cmake"
  INSTALL_DESTINATION "${REDFLAG_CMAKE_INSTALL_DIR}")
# 0.x releases may break the API between minor versions; from 1.0 on the
# major version alone decides compatibility.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(REDFLAG_COMPATIBILITY SameMinorVersion)
else()
  set(REDFLAG_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file("${PROJECT_BINARY_DIR}/redflagConfigVersion.cmake"
  COMPATIBILITY ${REDFLAG_COMPATIBILITY}
  ARCH_INDEPENDENT)
install(FILES
    "${PROJECT_BINARY_DIR}/redflagConfig.cmake"
    "${PROJECT_BINARY_DIR}/redflagConfigVersion.cmake"
    cmake/redflagDependencies.cmake
  DESTINATION "${REDFLAG_CMAKE_INSTALL_DIR}")

configure_file(cmake/redflag.pc.in "${PROJECT_BINARY_DIR}/redflag.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/redflag.pc" DESTINATION "${CMAKE_INSTALL_DATADIR}/pkgconfig")
