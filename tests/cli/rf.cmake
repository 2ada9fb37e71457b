# `redflag fit / info / score / eval` with a RandomForestClassifier on a
# labelled CSV: output shapes, the eval JSON contract, determinism,
# explanations (checked by EXPLAIN_CHECK --proba) and usage errors.
# Variables: REDFLAG (the tool), EXPLAIN_CHECK, DATA (cardio.csv: 1831 rows,
# f0..f20, label; the 176 anomalies last), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

expect(0 "usage: redflag fit rf \\[OPTIONS\\] DATA.csv.*--label COLUMN.*--out MODEL.*--class-weight W.*balanced_subsample.*--max-depth D"
       fit rf --help)
expect(0 "usage: redflag eval rf \\[OPTIONS\\] DATA.csv.*--test-size F.*--class-weight W.*n_train" eval rf --help)
expect(0 "proba_<label>,...,prediction,explained_class,expected_value" score --help)

# fit -> info: the label column is not a feature.
expect(0 "fitted RandomForestClassifier \\(30 trees, max_depth none, class_weight balanced, [0-9]+ nodes, classes 0 1\\) on 1831 rows x 21 columns in [0-9.]+ ms, saved to"
       fit rf "${DATA}" --label label --trees 30 --class-weight balanced --out "${WORK}/model.bin")
expect(0 "model type: +RandomForestClassifier \\(format version 2\\).*scalar: +float64.*schema: +21 columns.*f20 +numeric"
       info "${WORK}/model.bin")
execute_process(COMMAND "${REDFLAG}" info "${WORK}/model.bin" OUTPUT_VARIABLE info)
if(info MATCHES "label")
  message(FATAL_ERROR "the label column became a feature:\n${info}")
endif()
expect(0 "class_weight none" fit rf "${DATA}" --label label --trees 5 --max-depth 3 --class-weight none
       --out "${WORK}/small.bin")

# score: probabilities and labels, the same to a file and to standard output.
expect(0 "scored 1831 rows with RandomForestClassifier in [0-9.]+ ms, predicted 0: [0-9]+, 1: [0-9]+, wrote"
       score "${WORK}/model.bin" "${DATA}" --out "${WORK}/scores.csv")
file(STRINGS "${WORK}/scores.csv" score_lines)
list(LENGTH score_lines count)
list(GET score_lines 0 header)
list(GET score_lines -1 last)
if(NOT count EQUAL 1832 OR NOT header STREQUAL "proba_0,proba_1,prediction" OR NOT last MATCHES "^[0-9.e-]+,[0-9.e-]+,1$")
  message(FATAL_ERROR "scores.csv: ${count} lines, header '${header}', last '${last}'")
endif()
file(READ "${WORK}/scores.csv" scores_file)
run(scores_stdout summary score "${WORK}/model.bin" "${DATA}")
if(NOT scores_stdout STREQUAL scores_file OR NOT summary MATCHES "^scored 1831 rows")
  message(FATAL_ERROR "score wrote different probabilities to standard output, or the summary is not on standard error")
endif()

# --explain: 200 rows (120 normal, the last 80 anomalies); with K = d
# expected_value + contributions = the probability of class 1.
file(STRINGS "${DATA}" lines)
list(SUBLIST lines 0 121 kept)
list(SUBLIST lines 1752 80 anomalies)
list(APPEND kept ${anomalies})
list(JOIN kept "\n" text)
file(WRITE "${WORK}/rows.csv" "${text}\n")
run(out err score "${WORK}/model.bin" "${WORK}/rows.csv" --out "${WORK}/plain.csv")
expect(0 "explained \\(class 1, expected value 0\\.[0-9]+, top 21 of 21 features\\)"
       score "${WORK}/model.bin" "${WORK}/rows.csv" --explain 21 --out "${WORK}/all.csv")
run(out err score "${WORK}/model.bin" "${WORK}/rows.csv" --explain 3 --out "${WORK}/top3.csv")
check_explained(--proba "${WORK}/all.csv" 21 21 --scores "${WORK}/plain.csv" --top "${WORK}/top3.csv" 3)
check_explained(--proba "${WORK}/top3.csv" 3 21 --scores "${WORK}/plain.csv")
file(STRINGS "${WORK}/top3.csv" rows)
list(GET rows -1 last_row)
if(NOT last_row MATCHES "^[0-9.e-]+,[0-9.e-]+,1,1,[0-9.e-]+,f[0-9]+,[0-9][0-9.e-]*,")
  message(FATAL_ERROR "the last anomaly's top contribution does not raise P(1): '${last_row}'")
endif()
foreach(k IN ITEMS 0 22 abc)
  expect(2 "score: --explain expects a feature count in \\[1, 21\\] \\(the model's features\\), got '${k}'"
         score "${WORK}/model.bin" "${WORK}/rows.csv" --explain ${k})
endforeach()

# eval: one JSON line, keys in contract order; deterministic for a seed and
# any thread count.
set(number "[0-9.]+(e[-+][0-9]+)?")
set(json_line "^\\{\"model\":\"rf\",\"n_train\":1281,\"n_test\":550,\"d\":21,\"fit_s\":${number},\"predict_s\":${number},(\"auc\":(0\\.[0-9]+|1\\.0+),\"ap\":(0\\.[0-9]+|1\\.0+),\"f1\":(0\\.[0-9]+|1\\.0+))\\}\n$")
run(json err eval rf "${DATA}" --label label)
if(NOT json MATCHES "${json_line}")
  message(FATAL_ERROR "eval printed '${json}', expected one line matching ${json_line}")
endif()
if(NOT CMAKE_MATCH_4 GREATER 0.97 OR NOT CMAKE_MATCH_5 GREATER 0.8 OR NOT CMAKE_MATCH_6 GREATER 0.7)
  message(FATAL_ERROR "eval rf on cardio: auc ${CMAKE_MATCH_4}, ap ${CMAKE_MATCH_5}, f1 ${CMAKE_MATCH_6} are too low")
endif()
run(first err eval rf "${DATA}" --trees 20 --seed 4 --test-size 0.25)
string(REGEX MATCH "\"auc\".*" first_metrics "${first}")
run(second err eval rf "${DATA}" --trees 20 --seed 4 --test-size 0.25 --threads 2)
string(REGEX MATCH "\"auc\".*" second_metrics "${second}")
if(NOT first MATCHES "\"n_train\":1373,\"n_test\":458," OR NOT first_metrics STREQUAL second_metrics)
  message(FATAL_ERROR "eval rf --seed 4 differs between runs or threads:\n${first}${second}")
endif()

# Three classes: eval averages one-vs-rest scores; score explains the
# predicted class of each row.
list(SUBLIST lines 0 1 three)
list(SUBLIST lines 1 600 relabelled)
list(TRANSFORM relabelled REPLACE ",0$" ",2")
list(SUBLIST lines 601 -1 unchanged)
list(APPEND three ${relabelled} ${unchanged})
list(JOIN three "\n" text)
file(WRITE "${WORK}/three.csv" "${text}\n")
run(json err eval rf "${WORK}/three.csv" --trees 20)
if(NOT json MATCHES "^\\{\"model\":\"rf\",\"n_train\":1281,\"n_test\":550,.*\"f1\":")
  message(FATAL_ERROR "eval rf with 3 classes printed '${json}'")
endif()
run(out err fit rf "${WORK}/three.csv" --label label --trees 10 --out "${WORK}/three.bin")
list(SUBLIST three 0 101 head)
list(JOIN head "\n" text)
file(WRITE "${WORK}/three_rows.csv" "${text}\n")
run(out err score "${WORK}/three.bin" "${WORK}/three_rows.csv" --explain 21 --out "${WORK}/three_all.csv")
check_explained(--proba "${WORK}/three_all.csv" 21 21)

# Usage errors exit 2 and name the option; data errors exit 1.
expect(2 "redflag fit: --class-weight expects none, balanced or balanced_subsample, got 'heavy'"
       fit rf "${DATA}" --label label --class-weight heavy --out "${WORK}/bad.bin")
expect(2 "redflag fit: --trees 0: n_estimators must be >= 1, got 0"
       fit rf "${DATA}" --label label --trees 0 --out "${WORK}/bad.bin")
expect(2 "redflag fit: --max-depth 0: max_depth must be none or >= 1, got 0"
       fit rf "${DATA}" --label label --max-depth 0 --out "${WORK}/bad.bin")
expect(2 "redflag fit: missing required option --label" fit rf "${DATA}" --out "${WORK}/bad.bin")
expect(2 "redflag fit: unknown option --max-samples" fit rf "${DATA}" --label label --max-samples 10 --out "${WORK}/bad.bin")
expect(1 "label_column names 'nope', which is not a column" fit rf "${DATA}" --label nope --out "${WORK}/bad.bin")
expect(2 "redflag eval: --class-weight expects none, balanced or balanced_subsample, got 'x'"
       eval rf "${DATA}" --class-weight x)
expect(2 "redflag eval: --trees 0: n_estimators must be >= 1, got 0" eval rf "${DATA}" --trees 0)
expect(2 "redflag eval: --test-size 1.5: test_size must be" eval rf "${DATA}" --test-size 1.5)
expect(1 "label_column names 'nope', which is not a column" eval rf "${DATA}" --label nope)
if(EXISTS "${WORK}/bad.bin")
  message(FATAL_ERROR "a failed fit wrote ${WORK}/bad.bin")
endif()
