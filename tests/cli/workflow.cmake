# Runs the redflag tool through a researcher's workflow and checks exit codes
# and output. Variables: REDFLAG (the tool), DATA (a labelled CSV), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

expect(0 "eval.*fit.*info.*metrics.*scale.*score" --help)
expect(0 "redflag [0-9]+\\.[0-9]+\\.[0-9]+" --version)
expect(2 "unknown command 'frobnicate'" frobnicate)
expect(0 "usage: redflag info \\[OPTIONS\\] MODEL" info --help)
# Every command and subcommand has CLI11's --help (exit 0, a usage line naming it).
foreach(command IN ITEMS "eval" "eval iforest" "eval rf" "eval tae" "fit" "fit iforest" "fit rf" "info" "metrics" "scale"
                         "scale fit" "scale transform" "score" "simulate")
  separate_arguments(words UNIX_COMMAND "${command}")
  expect(0 "usage: redflag ${command} \\[OPTIONS\\]" ${words} --help)
endforeach()
expect(0 "usage: redflag \\[OPTIONS\\] \\[SUBCOMMAND\\].*eval.*fit.*info.*metrics.*scale.*score.*simulate" help)

# fit -> info -> transform
expect(0 "fitted StandardScaler on 1831 rows x 21 columns in [0-9.]+ ms"
       scale fit "${DATA}" --out "${WORK}/scaler.bin")
expect(0 "model type: +StandardScaler \\(format version 1\\).*scalar: +float64.*schema: +21 columns.*f20 +numeric"
       info "${WORK}/scaler.bin")
expect(0 "scaled 1831 rows with StandardScaler"
       scale transform "${WORK}/scaler.bin" "${DATA}" --out "${WORK}/scaled.csv")
file(STRINGS "${WORK}/scaled.csv" scaled_lines)
list(LENGTH scaled_lines scaled_count)
if(NOT scaled_count EQUAL 1832)
  message(FATAL_ERROR "scaled.csv has ${scaled_count} lines, expected 1832")
endif()
expect(0 "fitted MinMaxScaler" scale fit "${DATA}" --out "${WORK}/scaler.json" --format json --scaler minmax)
expect(0 "format: +json.*MinMaxScaler" info "${WORK}/scaler.json")

# metrics on a score column (f3 of cardio: a weak, inverted score)
expect(0 "rows +1831 \\(176 anomalies\\).*ROC AUC +0\\.[0-9]+.*timing +read [0-9.]+ ms"
       metrics "${DATA}" --score f3)
expect(0 "threshold +[-0-9.e]+ \\(--contamination 0.1\\)" metrics "${DATA}" --score f3 --contamination 0.1)
expect(2 "contamination must be in \\(0, 0.5\\]" metrics "${DATA}" --score f3 --contamination 0.9)
expect(1 "'nope', which is not a column" metrics "${DATA}" --score nope)

# bad model files: truncated, not a model, wrong kind of model for the command
execute_process(COMMAND head -c 300 "${WORK}/scaler.bin" OUTPUT_FILE "${WORK}/truncated.bin")
execute_process(COMMAND "${CMAKE_COMMAND}" -E echo_append "" OUTPUT_FILE "${WORK}/empty.bin")
expect(1 "truncated" info "${WORK}/truncated.bin")
expect(1 "file is empty" info "${WORK}/empty.bin")
expect(1 "not a redflag model file" info "${DATA}")
expect(1 "cannot open" info "${WORK}/missing.bin")

# usage errors exit 2 and name the problem
expect(2 "unknown option --bogus" info "${WORK}/scaler.bin" --bogus)
expect(2 "--scaler must be standard, minmax or robust" scale fit "${DATA}" --out "${WORK}/x.bin" --scaler fancy)
expect(2 "missing required option --out" scale fit "${DATA}")
