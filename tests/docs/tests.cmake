# Every ```cpp block in docs/ that defines main() is compiled as part of the
# build, so the documentation's examples cannot drift from the API, and runs
# as the test docs.<page>_<n> (in a scratch folder, with the bundled
# cardio.csv as argument), which compares what it prints with the output the
# page shows: the first ``` or ```text block after the example, before the
# next heading or code block. Prose may stand between the two. In that block
# "…" stands for any text within a line (shortened numbers: `0.4139…`).
# An example with no output block fails its test, unless it is listed in
# redflag_doc_silent_examples below, which checks that it prints nothing.
# Once per test command is enough: the clang and C++23 configurations, which
# check the unit tests on another compiler and standard, turn them off.
option(REDFLAG_DOC_EXAMPLES "Build and run the documentation's examples" ON)
if(NOT REDFLAG_DOC_EXAMPLES)
  return()
endif()

# Examples that print nothing (docs.<page>_<n>, the page's name with - as _).
set(redflag_doc_silent_examples "")

file(GLOB redflag_doc_pages CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/docs/*.md")
list(SORT redflag_doc_pages)
# A changed page regenerates its examples and expected outputs.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${redflag_doc_pages})
set(redflag_doc_examples_dir "${CMAKE_CURRENT_BINARY_DIR}/doc_examples")
set(semicolon ";")
set(open "[")
set(close "]")
set(backslash "\\")

foreach(page IN LISTS redflag_doc_pages)
  get_filename_component(page_file "${page}" NAME)
  get_filename_component(page_name "${page}" NAME_WE)
  string(REPLACE "-" "_" page_name "${page_name}")
  file(READ "${page}" text)
  # Semicolons, brackets and backslashes would split or group CMake list
  # elements; file(CONFIGURE) puts them back.
  string(REPLACE "\\" "@backslash@" text "${text}")
  string(REPLACE ";" "@semicolon@" text "${text}")
  string(REPLACE "[" "@open@" text "${text}")
  string(REPLACE "]" "@close@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(index 0)
  set(block_kind "")  # inside a fenced block: cpp, output or other
  set(block "")
  set(waiting "")     # the example whose output block may come next
  foreach(line IN LISTS lines)
    if(block_kind STREQUAL "")
      if(line MATCHES "^```cpp$")
        set(block_kind cpp)
      elseif(line MATCHES "^```(text)?$")
        set(block_kind output)
      elseif(line MATCHES "^```")
        set(block_kind other)
      elseif(line MATCHES "^#")
        set(waiting "")
      endif()
      set(block "")
    elseif(NOT line STREQUAL "```")
      string(APPEND block "${line}\n")
    else()
      if(block_kind STREQUAL "output" AND waiting)
        file(CONFIGURE OUTPUT "${redflag_doc_examples_dir}/${waiting}.expected" CONTENT "${block}" @ONLY)
      endif()
      set(waiting "")
      if(block_kind STREQUAL "cpp" AND block MATCHES "int main\\(")
        math(EXPR index "${index} + 1")
        set(example "${page_name}_${index}")
        set(target "doc_${example}")
        file(CONFIGURE OUTPUT "${redflag_doc_examples_dir}/${example}.cpp" CONTENT "${block}" @ONLY)
        add_executable(${target} "${redflag_doc_examples_dir}/${example}.cpp")
        target_link_libraries(${target} PRIVATE redflag::redflag)
        # These check that the examples compile and run, not redflag's
        # internals (the unit tests do that under the sanitizers): build them fast.
        if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
          target_compile_options(${target} PRIVATE -O1 -g0 -fno-sanitize=all)
        endif()
        file(REMOVE "${redflag_doc_examples_dir}/${example}.expected")
        if("docs.${example}" IN_LIST redflag_doc_silent_examples)
          file(WRITE "${redflag_doc_examples_dir}/${example}.expected" "")
        else()
          set(waiting "${example}")
        endif()
        add_test(NAME docs.${example}
                 COMMAND "${CMAKE_COMMAND}" "-DEXAMPLE=$<TARGET_FILE:${target}>"
                         "-DDATA=${PROJECT_SOURCE_DIR}/examples/data/cardio.csv"
                         "-DEXPECTED=${redflag_doc_examples_dir}/${example}.expected"
                         "-DPAGE=docs/${page_file}" "-DNUMBER=${index}" "-DWORK=${redflag_doc_examples_dir}"
                         -P "${CMAKE_CURRENT_LIST_DIR}/run_example.cmake")
        set_tests_properties(docs.${example} PROPERTIES LABELS docs)
      endif()
      set(block_kind "")
    endif()
  endforeach()
endforeach()
