# Runs one fuzz target for SECONDS from its seed corpus SEEDS; new inputs and
# any crash, leak, timeout or out-of-memory input go to WORK. Fails on any
# finding, and when the seeds are missing (a target that fuzzed nothing).
file(GLOB seeds "${SEEDS}/*")
if(NOT seeds)
  message(FATAL_ERROR "fuzz.${TARGET}: no seed inputs in ${SEEDS}")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
set(ENV{REDFLAG_FUZZ_TARGET} "${TARGET}")
# -timeout: one input taking 10 s is a finding; -rss_limit_mb: so is 2 GB.
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2048 -max_len=65536
          -print_final_stats=1 "-artifact_prefix=${WORK}/" "${WORK}/corpus" "${SEEDS}"
  RESULT_VARIABLE status
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
string(REGEX MATCH "stat::number_of_executed_units: *[0-9]+" executions "${output}")
string(REGEX MATCH "[0-9]+$" executions "${executions}")
file(GLOB corpus "${WORK}/corpus/*")
list(LENGTH corpus new_inputs)
list(LENGTH seeds seed_count)
if(NOT status EQUAL 0)
  file(GLOB findings "${WORK}/crash-*" "${WORK}/leak-*" "${WORK}/timeout-*" "${WORK}/oom-*")
  string(LENGTH "${output}" length)
  math(EXPR start "${length} - 6000")
  if(start LESS 0)
    set(start 0)
  endif()
  string(SUBSTRING "${output}" ${start} -1 tail)
  message(FATAL_ERROR "fuzz.${TARGET}: finding (exit ${status}): ${findings}\n${tail}")
endif()
message("fuzz.${TARGET}: ${SECONDS} s, ${executions} executions, ${seed_count} seeds, ${new_inputs} new inputs, no findings")
