# Helpers of the CLI test scripts. REDFLAG is the tool.

# expect(<exit code> <regex the combined output must match> <args>...): runs
# ${REDFLAG} with <args> and fails the test on another exit code or output.
function(expect expected_code pattern)
  execute_process(COMMAND "${REDFLAG}" ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(all "${out}${err}")
  if(NOT code EQUAL expected_code)
    message(FATAL_ERROR "redflag ${ARGN}: exit ${code}, expected ${expected_code}\n${all}")
  endif()
  if(NOT all MATCHES "${pattern}")
    message(FATAL_ERROR "redflag ${ARGN}: output does not match '${pattern}'\n${all}")
  endif()
  message(STATUS "ok: redflag ${ARGN}")
endfunction()

# run(<out var> <err var> <args>...): runs the tool, which must exit 0, and
# returns its standard output and standard error separately.
function(run out_var err_var)
  execute_process(COMMAND "${REDFLAG}" ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "redflag ${ARGN}: exit ${code}, expected 0\n${out}${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
  set(${err_var} "${err}" PARENT_SCOPE)
endfunction()

# check_scores(<text> <what> <rows>): the header anomaly_score,prediction and
# one `score,prediction` line per row, score in (0, 1], some rows flagged but
# not all.
function(check_scores text what rows)
  string(REGEX REPLACE "\n$" "" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  list(LENGTH lines count)
  math(EXPR expected_lines "${rows} + 1")
  if(NOT count EQUAL expected_lines)
    message(FATAL_ERROR "${what}: ${count} lines, expected ${expected_lines}")
  endif()
  list(POP_FRONT lines header)
  if(NOT header STREQUAL "anomaly_score,prediction")
    message(FATAL_ERROR "${what}: header '${header}', expected 'anomaly_score,prediction'")
  endif()
  set(flagged 0)
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^(0\\.[0-9]+(e-[0-9]+)?|1),([01])$")
      message(FATAL_ERROR "${what}: line '${line}' is not 'score in (0, 1],0|1'")
    endif()
    if(CMAKE_MATCH_3 STREQUAL "1")
      math(EXPR flagged "${flagged} + 1")
    endif()
  endforeach()
  if(flagged EQUAL 0 OR flagged EQUAL rows)
    message(FATAL_ERROR "${what}: ${flagged} of ${rows} rows flagged, expected some but not all")
  endif()
endfunction()

# check_explained(<args>...): runs explain_check (EXPLAIN_CHECK) with <args>.
function(check_explained)
  execute_process(COMMAND "${EXPLAIN_CHECK}" ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "explain_check ${ARGN}: exit ${code}\n${out}${err}")
  endif()
  message(STATUS "${out}")
endfunction()

# head_lines(<source> <count> <destination>): the first <count> lines of a file.
function(head_lines source count destination)
  file(STRINGS "${source}" lines LIMIT_COUNT ${count})
  list(JOIN lines "\n" text)
  file(WRITE "${destination}" "${text}\n")
endfunction()
