# Fuzzing (the `fuzz` preset: clang with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer). One program, redflag_fuzz, holds a target per
# entry point that reads outside data; fuzz.<target> runs one of them for
# REDFLAG_FUZZ_SECONDS from its checked-in seed corpus (corpus/<target>), which
# also holds every input that once found a defect, so each stays a
# regression test. New inputs go to the build tree, never the sources.
option(REDFLAG_BUILD_FUZZERS "Build the libFuzzer targets (clang only)" OFF)
if(NOT REDFLAG_BUILD_FUZZERS)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "REDFLAG_BUILD_FUZZERS needs clang (libFuzzer); use the fuzz preset")
endif()
find_package(nlohmann_json 3 REQUIRED)
find_package(simdjson REQUIRED)  # the transaction lines' reader (examples/transactions)

set(REDFLAG_FUZZ_SECONDS 30 CACHE STRING "How long each fuzz.<target> test runs")
set(redflag_fuzz_targets isolation_forest random_forest transformer_autoencoder scalers entity_store csv rules
                         lifecycle_json transaction_json portfolio_json)

add_executable(redflag_fuzz
  fuzz/fuzz_main.cpp fuzz/forests.cpp fuzz/transformer_autoencoder.cpp fuzz/scalers.cpp fuzz/entity_store.cpp
  fuzz/csv.cpp fuzz/rules.cpp fuzz/lifecycle.cpp fuzz/examples_json.cpp)
target_link_libraries(redflag_fuzz PRIVATE redflag::redflag redflag_project_options nlohmann_json::nlohmann_json
                                           simdjson::simdjson)
target_include_directories(redflag_fuzz PRIVATE "${PROJECT_SOURCE_DIR}/examples")
set(redflag_fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
target_compile_options(redflag_fuzz PRIVATE ${redflag_fuzz_flags})
target_link_options(redflag_fuzz PRIVATE ${redflag_fuzz_flags})

foreach(target IN LISTS redflag_fuzz_targets)
  add_test(NAME fuzz.${target}
           COMMAND "${CMAKE_COMMAND}" "-DFUZZER=$<TARGET_FILE:redflag_fuzz>" "-DTARGET=${target}"
                   "-DSECONDS=${REDFLAG_FUZZ_SECONDS}" "-DSEEDS=${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${target}"
                   "-DWORK=${CMAKE_CURRENT_BINARY_DIR}/fuzz/${target}"
                   -P "${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_fuzzer.cmake")
  set_tests_properties(fuzz.${target} PROPERTIES LABELS fuzz TIMEOUT 0)
endforeach()
