# `redflag score --explain K`: the CSV layout, the per-row identity
# base_value + sum of all contributions = score (checked by EXPLAIN_CHECK,
# since CMake cannot do real arithmetic), and the errors.
# Variables: REDFLAG (the tool), EXPLAIN_CHECK, DATA (cardio.csv: 1831 rows,
# f0..f20, label; anomalies last), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

# Explaining is O(trees x leaves x depth^2) per row: explain 200 rows, 120
# normal and the last 80 anomalies, of a model fitted on every row.
file(STRINGS "${DATA}" lines)
list(SUBLIST lines 0 121 kept)
list(SUBLIST lines 1752 80 anomalies)
list(APPEND kept ${anomalies})
list(JOIN kept "\n" text)
file(WRITE "${WORK}/rows.csv" "${text}\n")

run(out err fit iforest "${DATA}" --label label --out "${WORK}/model.bin")
expect(0 "scored 200 rows with IsolationForest in [0-9.]+ ms, [0-9]+ flagged, wrote"
       score "${WORK}/model.bin" "${WORK}/rows.csv" --out "${WORK}/plain.csv")
expect(0 "scored 200 rows with IsolationForest in [0-9.]+ ms, [0-9]+ flagged, explained \\(top 21 of 21 features, base value 0\\.[0-9]+\\), wrote"
       score "${WORK}/model.bin" "${WORK}/rows.csv" --explain 21 --out "${WORK}/all.csv")
run(top3 summary score "${WORK}/model.bin" "${WORK}/rows.csv" --explain 3)
if(NOT summary MATCHES "^scored 200 rows.*explained \\(top 3 of 21 features")
  message(FATAL_ERROR "score --explain 3: summary '${summary}' expected on standard error")
endif()
file(WRITE "${WORK}/top3.csv" "${top3}")
string(REGEX MATCH "^[^\n]*" header "${top3}")
set(expected "anomaly_score,prediction,base_value,feature_1,contribution_1,feature_2,contribution_2,feature_3,contribution_3")
if(NOT header STREQUAL expected)
  message(FATAL_ERROR "score --explain 3: header '${header}', expected '${expected}'")
endif()

# Every feature once per row, largest contribution first, adding up to the
# score; the same scores and predictions as without --explain; --explain 3
# lists each row's first three of those.
check_explained("${WORK}/all.csv" 21 21 --scores "${WORK}/plain.csv" --top "${WORK}/top3.csv" 3)
check_explained("${WORK}/top3.csv" 3 21 --scores "${WORK}/plain.csv")

# The anomalies' largest contributions raise their scores above base_value.
file(STRINGS "${WORK}/top3.csv" rows)
list(GET rows -1 last_row)
if(NOT last_row MATCHES "^[0-9.e-]+,[01],[0-9.e-]+,f[0-9]+,[0-9][0-9.e-]*,")
  message(FATAL_ERROR "the last anomaly's top contribution is not positive: '${last_row}'")
endif()

# A forest whose trees each see half the columns (some features then never
# split a tree): the identity still holds with every feature listed.
run(out err fit iforest "${DATA}" --label label --max-features 0.5 --trees 30 --seed 4 --out "${WORK}/half.bin")
run(out err score "${WORK}/half.bin" "${WORK}/rows.csv" --explain 21 --out "${WORK}/half.csv")
check_explained("${WORK}/half.csv" 21 21)

# K out of [1, d], not a count, or a model without explanations: exit 2.
foreach(k IN ITEMS 0 22 -1 abc 2.5)
  expect(2 "score: --explain expects a feature count in \\[1, 21\\] \\(the model's features\\), got '${k}'"
         score "${WORK}/model.bin" "${WORK}/rows.csv" --explain ${k})
endforeach()
expect(2 "score: --explain: 1 required K missing" score "${WORK}/model.bin" "${WORK}/rows.csv" --explain)
