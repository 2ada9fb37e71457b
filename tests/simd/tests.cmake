# REDFLAG_SIMD read from the environment: the named path taken, or a clear
# invalid_argument for an unknown path or one this CPU lacks
# (environment_check.cpp decides which it expects and fails otherwise).
add_executable(test_simd_environment "${CMAKE_CURRENT_LIST_DIR}/environment_check.cpp")
target_link_libraries(test_simd_environment PRIVATE redflag::redflag redflag_project_options)
foreach(value IN ITEMS scalar avx2 avx512 sse9)
  add_test(NAME simd.environment_${value} COMMAND test_simd_environment)
  set_tests_properties(simd.environment_${value} PROPERTIES ENVIRONMENT "REDFLAG_SIMD=${value}" LABELS simd)
endforeach()
set_tests_properties(simd.environment_sse9 PROPERTIES
  PASS_REGULAR_EXPRESSION "invalid_argument: redflag::simd: REDFLAG_SIMD=sse9 names no path; use scalar, avx2 or avx512")

# The areas with instruction-set kernels run once more per forced path
# (REDFLAG_TEST_SIMD, doctest_main.cpp), so every path passes the same tests
# the best path does; a path this CPU lacks reports a skip. The test command
# runs them in the sanitizer build (about 20 s a path there).
option(REDFLAG_TEST_SIMD_PATHS "Run the forest and nn tests once per forced instruction-set path" OFF)
foreach(area IN ITEMS forest nn)
  if(REDFLAG_TEST_SIMD_PATHS AND TARGET test_${area})
    foreach(path IN ITEMS scalar avx2 avx512)
      add_test(NAME ${area}.simd_${path} COMMAND test_${area} --test-suite-exclude=data)
      set_tests_properties(${area}.simd_${path} PROPERTIES
        ENVIRONMENT "REDFLAG_TEST_SIMD=${path}" SKIP_RETURN_CODE 77 LABELS "${area};simd"
        FAIL_REGULAR_EXPRESSION "test cases: +0 \\|")
    endforeach()
  endif()
endforeach()
