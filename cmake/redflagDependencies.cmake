# Finds redflag's dependencies. Shared by the build tree and the installed
# redflagConfig.cmake (through find_dependency) so both check the same things.

if(NOT COMMAND redflag_find_dependency)
  macro(redflag_find_dependency)
    find_package(${ARGV} REQUIRED)
  endmacro()
endif()

# No version argument: Debian's Eigen 3.4 config rejects version ranges, and
# Eigen 5 rejects a plain 3.4 request, so the version is checked here instead.
redflag_find_dependency(Eigen3 NO_MODULE)
set(REDFLAG_EIGEN_MINIMUM_VERSION 3.4.0)
if(DEFINED Eigen3_VERSION AND Eigen3_VERSION VERSION_LESS REDFLAG_EIGEN_MINIMUM_VERSION)
  message(FATAL_ERROR "redflag needs Eigen >= ${REDFLAG_EIGEN_MINIMUM_VERSION}, found ${Eigen3_VERSION} "
                      "(${Eigen3_DIR})")
endif()

redflag_find_dependency(cereal)
set(THREADS_PREFER_PTHREAD_FLAG ON)
redflag_find_dependency(Threads)
