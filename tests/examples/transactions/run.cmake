# One end-to-end run of redflag_transactions, checked by transactions_check.
#   cmake -DEXE=... -DCHECK=... -DDATA=<bundled stream> -DWORK=<scratch dir> -DCASE=<case> -P run.cmake
# Cases:
#   demo       the README demo: the bundled stream, every verdict and the summary checked
#   stdin      the stream's first 1200 lines from a file and from stdin: identical verdicts, both checked
#   malformed  bad lines (invalid JSON, a missing field, a currency redflag refuses) are reported with
#              their line numbers and skipped; the other transactions are all scored; exit status 1
#   generate   `generate` with its defaults reproduces the bundled stream byte for byte
#   usage      bad arguments: exit status 2 and a message naming the problem
#   rules      --rules FILE replaces the built-in rules; a bad rules file is refused with its JSON path
#   serve      `serve` on the first 1200 lines, then POST /detect and GET /health (transactions_detect_client)
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(fail)
  string(JOIN "" message ${ARGN})
  message(FATAL_ERROR "${message}")
endfunction()

function(run_checked expected_status)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status STREQUAL expected_status)
    fail("`${ARGN}` exited with ${status}, expected ${expected_status}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

# The first `count` lines of DATA, newline-terminated.
function(head count path)
  file(STRINGS "${DATA}" lines LIMIT_COUNT ${count})
  list(JOIN lines "\n" text)
  file(WRITE "${path}" "${text}\n")
endfunction()

if(CASE STREQUAL "demo")
  run_checked(0 "${EXE}" --out "${WORK}/verdicts.jsonl")
  file(WRITE "${WORK}/summary.txt" "${out}")
  message("${out}")
  run_checked(0 "${CHECK}" "${DATA}" "${WORK}/verdicts.jsonl" "${WORK}/summary.txt"
              --min-recall 0.55 --min-precision 0.3 --min-swaps 3)
  message("${out}")
elseif(CASE STREQUAL "stdin")
  head(1200 "${WORK}/input.jsonl")
  run_checked(0 "${EXE}" run "${WORK}/input.jsonl" --out "${WORK}/from-file.jsonl")
  file(WRITE "${WORK}/file-summary.txt" "${out}")
  execute_process(COMMAND "${EXE}" - --jsonl INPUT_FILE "${WORK}/input.jsonl"
                  OUTPUT_FILE "${WORK}/from-stdin.jsonl" ERROR_VARIABLE summary RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    fail("reading stdin exited with ${status}:\n${summary}")
  endif()
  file(WRITE "${WORK}/stdin-summary.txt" "${summary}")
  if(NOT summary MATCHES "redflag card-transaction monitor: stdin")
    fail("--jsonl should write the summary to stderr, naming stdin as the source; got:\n${summary}")
  endif()
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK}/from-file.jsonl" "${WORK}/from-stdin.jsonl"
                  RESULT_VARIABLE differ)
  if(differ)
    fail("the verdicts from stdin differ from those from the file (${WORK})")
  endif()
  run_checked(0 "${CHECK}" "${WORK}/input.jsonl" "${WORK}/from-stdin.jsonl" "${WORK}/stdin-summary.txt"
              --min-swaps 1)
  message("${out}")
elseif(CASE STREQUAL "malformed")
  file(STRINGS "${DATA}" lines LIMIT_COUNT 300)
  set(good "")
  set(bad "")
  set(number 0)
  foreach(line IN LISTS lines)
    math(EXPR number "${number} + 1")
    if(number EQUAL 3)
      string(APPEND bad "{\"transaction_id\": \"broken\", \"amount\": }\n")   # invalid JSON
    elseif(number EQUAL 7)
      string(REPLACE "\"currency\":\"USD\"" "\"currency\":\"XXX\"" line "${line}")
      string(APPEND bad "${line}\n")                                            # refused by redflag
    elseif(number EQUAL 12)
      string(REGEX REPLACE "\"user_id\":\"[^\"]*\"," "" line "${line}")
      string(APPEND bad "${line}\n")                                            # a missing field
    elseif(number EQUAL 14)
      string(REGEX REPLACE "\"amount\":[^,]*," "\"amount\":1e400," line "${line}")
      string(APPEND bad "${line}\n")                                            # beyond double's range
    elseif(number EQUAL 15)
      string(REPEAT "m" 1048576 long_name)  # 1 MB
      string(REGEX REPLACE "\"merchant\":\"[^\"]*\"" "\"merchant\":\"${long_name}\"" line "${line}")
      string(APPEND bad "${line}\n")                                            # an absurd merchant name
    else()
      string(APPEND bad "${line}\n")
      string(APPEND good "${line}\n")
    endif()
    if(number EQUAL 20)
      string(APPEND bad "\n")  # a blank line is not a transaction, and not an error
    endif()
  endforeach()
  file(WRITE "${WORK}/bad.jsonl" "${bad}")
  file(WRITE "${WORK}/good.jsonl" "${good}")
  run_checked(1 "${EXE}" "${WORK}/bad.jsonl" --out "${WORK}/verdicts.jsonl")
  file(WRITE "${WORK}/summary.txt" "${out}")
  foreach(expected IN ITEMS "bad.jsonl:3: invalid JSON at column 40: syntax error" "bad.jsonl:7: redflag::to_entity_event: transaction 't6': unknown currency 'XXX'; line skipped"
                            "bad.jsonl:12: missing field 'user_id'; line skipped"
                            "bad.jsonl:14: invalid JSON at column 54: malformed number, or beyond double's range"
                            "bad.jsonl:15: field 'merchant' is longer than 256 bytes; line skipped")
    string(FIND "${err}" "${expected}" at)
    if(at EQUAL -1)
      fail("stderr does not say '${expected}':\n${err}")
    endif()
  endforeach()
  string(REGEX MATCHALL "line skipped" skipped "${err}")
  list(LENGTH skipped skipped)
  if(NOT skipped EQUAL 5)
    fail("expected 5 skipped lines, stderr says:\n${err}")
  endif()
  run_checked(0 "${CHECK}" "${WORK}/good.jsonl" "${WORK}/verdicts.jsonl" "${WORK}/summary.txt" --rejected 5)
  message("${out}")
elseif(CASE STREQUAL "generate")
  run_checked(0 "${EXE}" generate --out "${WORK}/generated.jsonl")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK}/generated.jsonl" "${DATA}"
                  RESULT_VARIABLE differ)
  if(differ)
    fail("`generate` no longer reproduces ${DATA}; regenerate it or fix the defaults")
  endif()
elseif(CASE STREQUAL "usage")
  run_checked(2 "${EXE}" --bogus)
  if(NOT err MATCHES "unknown option --bogus")
    fail("unexpected message for --bogus:\n${err}")
  endif()
  run_checked(2 "${EXE}" --out a.jsonl --jsonl)
  if(NOT err MATCHES "--out and --jsonl are exclusive")
    fail("unexpected message for --out with --jsonl:\n${err}")
  endif()
  file(WRITE "${WORK}/registry/something" "")
  run_checked(2 "${EXE}" --registry "${WORK}/registry")
  if(NOT err MATCHES "must be new or empty")
    fail("a non-empty --registry should be refused:\n${err}")
  endif()
  run_checked(1 "${EXE}" "${WORK}/missing.jsonl")
  if(NOT err MATCHES "cannot read .*missing.jsonl")
    fail("unexpected message for a missing file:\n${err}")
  endif()
elseif(CASE STREQUAL "rules")
  head(300 "${WORK}/input.jsonl")
  file(WRITE "${WORK}/rules.json" [=[{"version": 2, "rules": [
  {"name": "TINY_AMOUNT", "severity": "medium", "weight": 0.3,
   "when": {"column": "amount", "op": "<", "value": 3}}]}]=])
  run_checked(0 "${EXE}" "${WORK}/input.jsonl" --rules "${WORK}/rules.json" --jsonl)
  file(WRITE "${WORK}/verdicts.jsonl" "${out}")
  string(REGEX MATCHALL "\"reason_codes\":\\[\"TINY_AMOUNT\"\\]" tiny "${out}")
  list(LENGTH tiny tiny)
  if(tiny EQUAL 0 OR out MATCHES "HIGH_AMOUNT|VELOCITY_MULTI_CITY|UNUSUAL_HOUR")
    fail("with --rules only TINY_AMOUNT may fire, and it should (amounts below 3 are in the input); "
         "it fired ${tiny} times; verdicts in ${WORK}/verdicts.jsonl")
  endif()
  file(WRITE "${WORK}/bad-rules.json" [=[{"version": 2, "rules": [{"name": "X", "severity": "low", "weight": 2,
   "when": {"column": "local_hour", "between": [2, 5]}}]}]=])
  run_checked(1 "${EXE}" "${WORK}/input.jsonl" --rules "${WORK}/bad-rules.json")
  if(NOT err MATCHES "redflag::load_rules: .*rules\\[0\\]\\.weight")
    fail("a bad rules file should be refused naming the field:\n${err}")
  endif()
  file(WRITE "${WORK}/unknown-column.json" [=[{"version": 2, "rules": [{"name": "X", "severity": "low", "weight": 0.2,
   "when": {"column": "amount_eur", "op": ">", "value": 5}}]}]=])
  run_checked(1 "${EXE}" "${WORK}/input.jsonl" --rules "${WORK}/unknown-column.json")
  if(NOT err MATCHES "rules\\[0\\]\\.when\\.column: unknown column 'amount_eur' \\(known columns: amount, ")
    fail("a rule naming an unknown column should be refused, listing the known ones:\n${err}")
  endif()
  # The rules file shipped beside the example is the built-in rule set: same verdicts.
  run_checked(0 "${EXE}" "${WORK}/input.jsonl" --jsonl)
  set(builtin "${out}")
  run_checked(0 "${EXE}" "${WORK}/input.jsonl" --rules "${SOURCE_DIR}/examples/transactions/rules.json" --jsonl)
  if(NOT out STREQUAL builtin)
    fail("examples/transactions/rules.json should decide as the built-in rules")
  endif()
  message("TINY_AMOUNT fired ${tiny} times")
elseif(CASE STREQUAL "serve")
  head(1200 "${WORK}/warm-up.jsonl")
  run_checked(0 "${CLIENT}" "${EXE}" "${WORK}/warm-up.jsonl")
  message("${out}")
else()
  fail("unknown CASE '${CASE}'")
endif()
