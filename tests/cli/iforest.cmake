# `redflag fit / score / eval` with an IsolationForest on a labelled CSV: the
# contract benchmark scripts rely on (output shapes, exit codes, determinism).
# Variables: REDFLAG (the tool), DATA (cardio.csv: 1831 rows, f0..f20, label), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

# The options are documented.
expect(0 "--trees N.*--max-samples S.*--contamination C.*--max-features F.*--extension L.*--seed S.*--threads T.*--missing M.*reject.*route.*--categorical COLS"
       fit iforest --help)
expect(0 "--label COLUMN.*--trees N.*--extension L.*--threads T" eval iforest --help)
expect(0 "usage: redflag score \\[OPTIONS\\] MODEL DATA.csv.*--explain K" score --help)

# fit -> info: the label column is not a feature.
expect(0 "fitted IsolationForest \\(100 trees, max_samples 256, [0-9]+ nodes, threshold 0.5\\) on 1831 rows x 21 columns in [0-9.]+ ms"
       fit iforest "${DATA}" --label label --out "${WORK}/model.bin")
expect(0 "model type: +IsolationForest \\(format version 2\\).*scalar: +float64.*schema: +21 columns.*f20 +numeric"
       info "${WORK}/model.bin")
execute_process(COMMAND "${REDFLAG}" info "${WORK}/model.bin" OUTPUT_VARIABLE info)
if(info MATCHES "label")
  message(FATAL_ERROR "the label column became a feature:\n${info}")
endif()

# score: to a file, and to standard output with the summary on standard error.
expect(0 "scored 1831 rows with IsolationForest in [0-9.]+ ms, [0-9]+ flagged, wrote"
       score "${WORK}/model.bin" "${DATA}" --out "${WORK}/scores.csv")
file(READ "${WORK}/scores.csv" scores_file)
check_scores("${scores_file}" "scores.csv" 1831)
run(scores_stdout summary "score" "${WORK}/model.bin" "${DATA}")
check_scores("${scores_stdout}" "score on standard output" 1831)
if(NOT scores_stdout STREQUAL scores_file)
  message(FATAL_ERROR "score wrote different scores to standard output and to --out")
endif()
if(NOT summary MATCHES "^scored 1831 rows")
  message(FATAL_ERROR "score: summary '${summary}' expected on standard error")
endif()
# --contamination: about that share of the training rows is flagged.
run(out err fit iforest "${DATA}" --label label --contamination 0.1 --out "${WORK}/c10.bin")
run(out err score "${WORK}/c10.bin" "${DATA}")
string(REGEX MATCHALL ",1\n" flagged "${out}")
list(LENGTH flagged flagged_count)
if(flagged_count LESS 180 OR flagged_count GREATER 186)
  message(FATAL_ERROR "--contamination 0.1 flagged ${flagged_count} of 1831 rows, expected about 183")
endif()

# A model fitted with the label as a feature keeps it: score then needs it.
run(out err fit iforest "${DATA}" --trees 10 --out "${WORK}/with_label.bin")
expect(0 "schema: +22 columns.*label +numeric" info "${WORK}/with_label.bin")
expect(0 "scored 1831 rows" score "${WORK}/with_label.bin" "${DATA}" --out "${WORK}/with_label.csv")

# eval: exactly one JSON line on standard output, keys in contract order.
set(number "[0-9.]+(e[-+][0-9]+)?")
set(json_line "^\\{\"model\":\"iforest\",\"n\":1831,\"d\":21,\"fit_s\":${number},\"score_s\":${number},\"auc\":(0\\.[0-9]+),\"ap\":(0\\.[0-9]+)\\}\n$")
run(json err eval iforest "${DATA}" --label label)
if(NOT json MATCHES "${json_line}")
  message(FATAL_ERROR "eval printed '${json}', expected one line matching ${json_line}")
endif()
set(auc "${CMAKE_MATCH_3}")
set(ap "${CMAKE_MATCH_4}")
if(NOT auc GREATER 0.85 OR NOT ap GREATER 0.3)
  message(FATAL_ERROR "eval on cardio: auc ${auc}, ap ${ap}; expected auc > 0.85 and ap > 0.3")
endif()
message(STATUS "ok: eval ${json}")
# Same seed, other thread count and the fit's own options: same AUC and AP.
run(json2 err eval iforest "${DATA}" --label label --threads 2 --seed 0 --max-samples auto --contamination auto)
if(NOT json2 MATCHES "\"auc\":${auc},\"ap\":${ap}\\}")
  message(FATAL_ERROR "eval with --threads 2 printed '${json2}', expected auc ${auc}, ap ${ap}")
endif()
run(json3 err eval iforest "${DATA}" --trees 50 --max-samples 0.5 --max-features 0.8 --seed 3 --contamination 0.1)
if(NOT json3 MATCHES "^\\{\"model\":\"iforest\",\"n\":1831,\"d\":21,")
  message(FATAL_ERROR "eval with options printed '${json3}'")
endif()

# Determinism: the model's bytes depend on the seed, not on the threads.
foreach(threads IN ITEMS 1 2)
  run(out err fit iforest "${DATA}" --label label --seed 11 --trees 30 --threads ${threads}
      --out "${WORK}/seed11_t${threads}.bin")
endforeach()
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK}/seed11_t1.bin" "${WORK}/seed11_t2.bin"
                RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
  message(FATAL_ERROR "fit --seed 11 wrote different models with --threads 1 and 2")
endif()
run(out err fit iforest "${DATA}" --label label --seed 12 --trees 30 --out "${WORK}/seed12.bin")
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK}/seed11_t1.bin" "${WORK}/seed12.bin"
                RESULT_VARIABLE differ)
if(differ EQUAL 0)
  message(FATAL_ERROR "fit wrote the same model for --seed 11 and --seed 12")
endif()

# Bad option values: exit 2, naming the option (and the library's parameter).
set(fit_args fit iforest "${DATA}" --label label --out "${WORK}/bad.bin")
expect(2 "--trees 0: n_estimators must be >= 1, got 0" ${fit_args} --trees 0)
expect(2 "--contamination 0.9: contamination must be auto or a fraction in \\(0, 0.5\\], got 0.9"
       ${fit_args} --contamination 0.9)
expect(2 "--max-samples expects auto, a count >= 2 or a fraction .*got 'abc'" ${fit_args} --max-samples abc)
expect(2 "--max-samples 1: max_samples must be" ${fit_args} --max-samples 1)
expect(2 "--max-features 22: max_features must be in \\[1, 21\\]" ${fit_args} --max-features 22)
expect(2 "--max-features 1.5: max_features must be" ${fit_args} --max-features 1.5)
expect(2 "--threads 0: n_jobs must be a non-zero integer" ${fit_args} --threads 0)
expect(2 "--seed expects an integer" ${fit_args} --seed -1)
expect(2 "--trees expects an integer >= 1, got '1.5'" ${fit_args} --trees 1.5)
expect(2 "eval: --contamination 0.9: contamination must be" eval iforest "${DATA}" --contamination 0.9)
expect(2 "unknown option --bogus" ${fit_args} --bogus 1)
expect(2 "unknown option --out" eval iforest "${DATA}" --out "${WORK}/x.bin")
expect(2 "unknown model 'lof' \\(supported: iforest, rf\\)" fit lof "${DATA}" --out "${WORK}/bad.bin")
expect(2 "missing required option --out" fit iforest "${DATA}")
if(EXISTS "${WORK}/bad.bin")
  message(FATAL_ERROR "a rejected fit wrote a model file")
endif()

# score: a CSV with other columns, or a model of another kind.
file(WRITE "${WORK}/wrong.csv" "a,b\n1,2\n3,4\n")
expect(1 "wrong.csv does not have the model's columns: .*input has 2 columns, expected 21"
       score "${WORK}/model.bin" "${WORK}/wrong.csv")
file(READ "${DATA}" renamed)
string(REGEX REPLACE "^f0,f1," "f1,f0," renamed "${renamed}")
file(WRITE "${WORK}/swapped.csv" "${renamed}")
expect(1 "column 0: expected 'f0' \\(numeric\\), got 'f1' \\(numeric\\)"
       score "${WORK}/model.bin" "${WORK}/swapped.csv")
run(out err scale fit "${DATA}" --out "${WORK}/scaler.bin")
expect(2 "holds a 'StandardScaler' \\(float64\\); score supports IsolationForest, ExtendedIsolationForest and RandomForestClassifier"
       score "${WORK}/scaler.bin" "${DATA}")
expect(1 "'nope', which is not a column" eval iforest "${DATA}" --label nope)
