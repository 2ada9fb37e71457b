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
