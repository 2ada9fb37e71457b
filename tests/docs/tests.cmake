# Every ```cpp block in docs/ that defines main() is compiled as part of the
# build, so the documentation's examples cannot drift from the API, and runs
# as a test (in a scratch folder, with the bundled cardio.csv as argument).
# Once per test command is enough: the clang and C++23 configurations, which
# check the unit tests on another compiler and standard, turn them off.
option(REDFLAG_DOC_EXAMPLES "Build and run the documentation's examples" ON)
if(NOT REDFLAG_DOC_EXAMPLES)
  return()
endif()
file(GLOB redflag_doc_pages CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/*.md")
list(SORT redflag_doc_pages)
set(redflag_doc_examples_dir "${CMAKE_CURRENT_BINARY_DIR}/doc_examples")
foreach(page IN LISTS redflag_doc_pages)
  get_filename_component(page_name "${page}" NAME_WE)
  string(REPLACE "-" "_" page_name "${page_name}")
  file(READ "${page}" text)
  # Semicolons and brackets would split or group CMake list elements.
  string(REPLACE ";" "@semicolon@" text "${text}")
  string(REPLACE "[" "@open@" text "${text}")
  string(REPLACE "]" "@close@" text "${text}")
  # Split on the fences; odd-numbered pieces after a ```cpp fence are code.
  string(REGEX MATCHALL "```cpp\n[^`]*```" blocks "${text}")
  set(index 0)
  foreach(block IN LISTS blocks)
    if(NOT block MATCHES "int main\\(")
      continue()
    endif()
    math(EXPR index "${index} + 1")
    string(REGEX REPLACE "^```cpp\n" "" code "${block}")
    string(REGEX REPLACE "```$" "" code "${code}")
    set(semicolon ";")
    set(open "[")
    set(close "]")
    set(source "${redflag_doc_examples_dir}/${page_name}_${index}.cpp")
    file(CONFIGURE OUTPUT "${source}" CONTENT "${code}" @ONLY)
    set(target "doc_${page_name}_${index}")
    add_executable(${target} "${source}")
    target_link_libraries(${target} PRIVATE redflag::redflag)
    # These check that the examples compile and run, not redflag's internals
    # (the unit tests do that under the sanitizers): build them fast.
    if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
      target_compile_options(${target} PRIVATE -O1 -g0 -fno-sanitize=all)
    endif()
    add_test(NAME docs.${page_name}_${index}
             COMMAND ${target} "${PROJECT_SOURCE_DIR}/examples/data/cardio.csv")
    set_tests_properties(docs.${page_name}_${index} PROPERTIES
      WORKING_DIRECTORY "${redflag_doc_examples_dir}" LABELS docs)
  endforeach()
endforeach()
