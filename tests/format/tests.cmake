# format.clang_format: every C++ file of the library, its tests, examples and
# benchmarks is formatted as .clang-format says (clang-format --dry-run
# --Werror lists each line it would change). Without clang-format it reports
# a skip. To format a file: clang-format -i <file>.
find_program(REDFLAG_CLANG_FORMAT NAMES clang-format clang-format-14)
file(GLOB_RECURSE redflag_formatted_files CONFIGURE_DEPENDS RELATIVE "${PROJECT_SOURCE_DIR}"
     "${PROJECT_SOURCE_DIR}/include/*.hpp" "${PROJECT_SOURCE_DIR}/include/*.cpp"
     "${PROJECT_SOURCE_DIR}/tests/*.hpp" "${PROJECT_SOURCE_DIR}/tests/*.cpp"
     "${PROJECT_SOURCE_DIR}/examples/*.hpp" "${PROJECT_SOURCE_DIR}/examples/*.cpp"
     "${PROJECT_SOURCE_DIR}/benchmarks/*.hpp" "${PROJECT_SOURCE_DIR}/benchmarks/*.cpp")
list(SORT redflag_formatted_files)
set(missing "")
if(NOT REDFLAG_CLANG_FORMAT)
  set(missing "no clang-format found (apt install clang-format, then reconfigure)")
endif()
redflag_add_tool_test(NAME format.clang_format MISSING "${missing}"
                      COMMAND "${REDFLAG_CLANG_FORMAT}" --dry-run --Werror ${redflag_formatted_files})
set_tests_properties(format.clang_format PROPERTIES LABELS format WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
