# `redflag fit / score / eval` with an ExtendedIsolationForest (--extension),
# and `score` on a float32 model file.
# Variables: REDFLAG (the tool), DATA (cardio.csv: 1831 rows, f0..f20, label),
# GOLDEN (tests/forest/golden), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

# fit --extension 1 -> info names the model type; score reads it from the file.
expect(0 "fitted ExtendedIsolationForest \\(100 trees, max_samples 256, extension level 1, [0-9]+ nodes, threshold 0.5\\) on 1831 rows x 21 columns"
       fit iforest "${DATA}" --label label --extension 1 --out "${WORK}/eif.bin")
expect(0 "model type: +ExtendedIsolationForest \\(format version 2\\).*scalar: +float64.*schema: +21 columns"
       info "${WORK}/eif.bin")
expect(0 "scored 1831 rows with ExtendedIsolationForest in [0-9.]+ ms, [0-9]+ flagged, wrote"
       score "${WORK}/eif.bin" "${DATA}" --out "${WORK}/eif.csv")
file(READ "${WORK}/eif.csv" eif_scores)
check_scores("${eif_scores}" "EIF scores" 1831)
# Hyperplanes, not the axis-parallel forest's splits: other scores.
run(out err fit iforest "${DATA}" --label label --out "${WORK}/if.bin")
run(if_scores err score "${WORK}/if.bin" "${DATA}")
if(if_scores STREQUAL eif_scores)
  message(FATAL_ERROR "--extension 1 gave the axis-parallel forest's scores")
endif()

# auto (fully extended) and level 0 are accepted; level 0 is still an EIF.
expect(0 "fitted ExtendedIsolationForest .*extension level auto" fit iforest "${DATA}" --label label
       --extension auto --trees 20 --out "${WORK}/auto.bin")
expect(0 "fitted ExtendedIsolationForest .*extension level 0" fit iforest "${DATA}" --label label
       --extension 0 --trees 20 --out "${WORK}/level0.bin")
expect(0 "scored 1831 rows with ExtendedIsolationForest" score "${WORK}/auto.bin" "${DATA}" --out "${WORK}/auto.csv")

# Explanations are for axis-parallel forests.
expect(2 "--explain needs an IsolationForest or a RandomForestClassifier; .*eif.bin holds an ExtendedIsolationForest \\(explanations are for axis-parallel forests"
       score "${WORK}/eif.bin" "${DATA}" --explain 3)

# Determinism: the bytes depend on the seed, not on the threads.
foreach(threads IN ITEMS 1 2)
  run(out err fit iforest "${DATA}" --label label --extension 2 --seed 5 --trees 20 --threads ${threads}
      --out "${WORK}/t${threads}.bin")
endforeach()
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${WORK}/t1.bin" "${WORK}/t2.bin" RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
  message(FATAL_ERROR "fit --extension 2 --seed 5 wrote different models with --threads 1 and 2")
endif()

# eval: the contract's line, then "extension" before the closing brace.
set(number "[0-9.]+(e[-+][0-9]+)?")
foreach(level IN ITEMS 1 auto)
  run(json err eval iforest "${DATA}" --label label --extension ${level})
  if(level STREQUAL "auto")
    set(shown "\"auto\"")
  else()
    set(shown "${level}")
  endif()
  set(json_line "^\\{\"model\":\"iforest\",\"n\":1831,\"d\":21,\"fit_s\":${number},\"score_s\":${number},\"auc\":(0\\.[0-9]+),\"ap\":(0\\.[0-9]+),\"extension\":${shown}\\}\n$")
  if(NOT json MATCHES "${json_line}")
    message(FATAL_ERROR "eval --extension ${level} printed '${json}', expected one line matching ${json_line}")
  endif()
  if(NOT CMAKE_MATCH_3 GREATER 0.85)
    message(FATAL_ERROR "eval --extension ${level} on cardio: auc ${CMAKE_MATCH_3}, expected > 0.85")
  endif()
  message(STATUS "ok: eval ${json}")
endforeach()

# Bad levels: exit 2, naming the option and the library's parameter.
set(fit_args fit iforest "${DATA}" --label label --out "${WORK}/bad.bin")
expect(2 "fit: --extension 21: extension_level must be in \\[0, 20\\] \\(columns per tree - 1\\), got 21"
       ${fit_args} --extension 21)
expect(2 "fit: --extension 3: extension_level must be in \\[0, 1\\]" ${fit_args} --extension 3 --max-features 2)
expect(2 "fit: --extension -1: extension_level must be auto or a level >= 0, got -1" ${fit_args} --extension -1)
expect(2 "fit: --extension expects auto or an integer level >= 0, got 'full'" ${fit_args} --extension full)
expect(2 "eval: --extension 30: extension_level must be in \\[0, 20\\]" eval iforest "${DATA}" --extension 30)
if(EXISTS "${WORK}/bad.bin")
  message(FATAL_ERROR "a rejected fit wrote a model file")
endif()

# float32 models (written by the library; the tool fits float64): the golden
# format-1 file scores its 49 x 3 data set, x_ij = ((i (7 + 2j) + 5j) mod 19) / 4
# plus the row (12, -6, 9.5), and its far-away last row scores highest.
set(csv "amount,hour,velocity\n")
foreach(i RANGE 47)
  set(row "")
  foreach(j RANGE 2)
    math(EXPR quarters "(${i} * (7 + 2 * ${j}) + 5 * ${j}) % 19")
    math(EXPR whole "${quarters} / 4")
    math(EXPR part "(${quarters} % 4) * 25")
    if(part EQUAL 0)
      set(part "00")
    endif()
    list(APPEND row "${whole}.${part}")
  endforeach()
  list(JOIN row "," row)
  string(APPEND csv "${row}\n")
endforeach()
string(APPEND csv "12,-6,9.5\n")
file(WRITE "${WORK}/golden.csv" "${csv}")
expect(0 "scalar: +float32" info "${GOLDEN}/isolation_forest_float32.bin")
run(golden_scores err score "${GOLDEN}/isolation_forest_float32.bin" "${WORK}/golden.csv")
string(REGEX REPLACE "\n$" "" golden_scores "${golden_scores}")
string(REPLACE "\n" ";" golden_lines "${golden_scores}")
list(LENGTH golden_lines golden_count)
list(GET golden_lines -1 last)
if(NOT golden_count EQUAL 50 OR NOT last MATCHES "^0\\.[6-9][0-9]*,1$")
  message(FATAL_ERROR "float32 golden model: ${golden_count} lines, last '${last}'; expected 50 and a high flagged score")
endif()
message(STATUS "ok: float32 model scored, last row ${last}")
# ... and explains it (training counts recovered from a format-1 file), in float.
run(out err score "${GOLDEN}/isolation_forest_float32.bin" "${WORK}/golden.csv" --explain 3
    --out "${WORK}/golden_explained.csv")
check_explained("${WORK}/golden_explained.csv" 3 3 --tolerance 1e-5)
