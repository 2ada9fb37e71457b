# Every ```cpp block in docs/ that defines main() is compiled as part of the
# build, so the documentation's examples cannot drift from the API, and runs
# as the test docs.<page>_<n> (in a scratch folder, with the bundled
# cardio.csv as argument), which compares what it prints with the output the
# page shows: the first ``` or ```text block after the example, before the
# next heading or code block. Prose may stand between the two. In that block
# "…" stands for any text within a line (shortened numbers: `0.4139…`).
# An example with no output block fails its test, unless it is listed in
# redflag_doc_silent_examples below, which checks that it prints nothing.
# Once per test command is enough: the other configurations turn them off.
#
# The examples are compiled as one program, redflag_doc_examples, whose first
# argument names the example: each example's code goes into its own
# namespace, its main() becomes that namespace's run(), and its #include
# lines go to the top of the file. Compiled one program each, the examples
# instantiated the same templates 29 times over (487 s of compilation under
# load); together they share them. #line directives point compiler messages
# at the page and line the code came from.
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
set(redflag_doc_includes "")
set(redflag_doc_bodies "")
set(redflag_doc_dispatch "")

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
  set(line_number 0)
  set(block_kind "")  # inside a fenced block: cpp, output or other
  set(block "")
  set(waiting "")     # the example whose output block may come next
  foreach(line IN LISTS lines)
    math(EXPR line_number "${line_number} + 1")
    if(block_kind STREQUAL "")
      math(EXPR block_start "${line_number} + 1")
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
        # An example without a return statement deduces void (main's implicit
        # `return 0`); one that returns on some paths only fails to compile
        # (-Werror=return-type) instead of running off the end of run().
        string(REGEX MATCHALL "#include [^\n]*" includes "${block}")
        list(APPEND redflag_doc_includes ${includes})
        string(REGEX REPLACE "#include [^\n]*" "" body "${block}")
        string(REPLACE "int main(" "auto run(" body "${body}")
        string(APPEND redflag_doc_bodies
               "namespace doc_${example} {\n#line ${block_start} \"docs/${page_file}\"\n${body}}  // namespace doc_${example}\n\n")
        string(APPEND redflag_doc_dispatch
               "  if (name == \"${example}\") return run_example(doc_${example}::run, argc - 1, argv + 1)@semicolon@\n")
        file(REMOVE "${redflag_doc_examples_dir}/${example}.expected")
        if("docs.${example}" IN_LIST redflag_doc_silent_examples)
          file(WRITE "${redflag_doc_examples_dir}/${example}.expected" "")
        else()
          set(waiting "${example}")
        endif()
        add_test(NAME docs.${example}
                 COMMAND "${CMAKE_COMMAND}" "-DPROGRAM=$<TARGET_FILE:redflag_doc_examples>" "-DEXAMPLE=${example}"
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

list(REMOVE_DUPLICATES redflag_doc_includes)
list(SORT redflag_doc_includes)
list(JOIN redflag_doc_includes "\n" redflag_doc_includes)
set(redflag_doc_template [=[
// Generated from the ```cpp blocks of docs/*.md by tests/docs/tests.cmake.
@redflag_doc_includes@
#include <cstdio>
#include <string_view>
#include <type_traits>

@redflag_doc_bodies@
#line 1 "redflag_doc_examples (dispatch)"
namespace {

template <class Run>
int run_example(Run run, int argc, char** argv) {
  if constexpr (std::is_invocable_v<Run, int, char**>) {
    if constexpr (std::is_void_v<std::invoke_result_t<Run, int, char**>>) {
      run(argc, argv);
      return 0;
    } else {
      return run(argc, argv);
    }
  } else if constexpr (std::is_void_v<std::invoke_result_t<Run>>) {
    run();
    return 0;
  } else {
    return run();
  }
}

}  // namespace

// redflag_doc_examples <page>_<n> [argument]: runs that example with the
// argument, as its own program would.
int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("usage: redflag_doc_examples <page>_<n> [argument]\n", stderr);
    return 2;
  }
  const std::string_view name = argv[1];
@redflag_doc_dispatch@
  std::fprintf(stderr, "redflag_doc_examples: no example %s\n", argv[1]);
  return 2;
}
]=])
# Two passes: the first inserts the examples, the second puts back the
# separators and brackets escaped in them.
string(CONFIGURE "${redflag_doc_template}" redflag_doc_program @ONLY)
file(CONFIGURE OUTPUT "${redflag_doc_examples_dir}/doc_examples.cpp" CONTENT "${redflag_doc_program}" @ONLY)
add_executable(redflag_doc_examples "${redflag_doc_examples_dir}/doc_examples.cpp")
target_link_libraries(redflag_doc_examples PRIVATE redflag::redflag)
# These check that the examples compile and run, not redflag's internals (the
# unit tests do that under the sanitizers): build them fast.
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(redflag_doc_examples PRIVATE -O1 -g0 -fno-sanitize=all -Werror=return-type)
endif()
