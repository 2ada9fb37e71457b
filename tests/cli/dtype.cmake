# `--dtype float32|float64` of `redflag fit` and `redflag eval` (iforest, rf):
# a float32 model records its scalar in the file, `info` shows it and `score`
# loads it as float32 without being told; eval's JSON line says float32 and
# ranks the rows about as well as float64; other values are usage errors.
# Variables: REDFLAG (the tool), DATA (cardio.csv: 1831 rows, f0..f20, label), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

foreach(model IN ITEMS iforest rf)
  set(fit_args fit ${model} "${DATA}" --label label --trees 20 --out "${WORK}/${model}32.bin" --dtype float32)
  if(model STREQUAL "iforest")
    set(type IsolationForest)
  else()
    set(type RandomForestClassifier)
  endif()
  expect(0 "fitted ${type} \\(.*, float32\\) on 1831 rows x 21 columns" ${fit_args})
  expect(0 "model type: +${type} .*scalar: +float32" info "${WORK}/${model}32.bin")
  expect(0 "scored 1831 rows with ${type}" score "${WORK}/${model}32.bin" "${DATA}" --out "${WORK}/${model}32.csv")
endforeach()

# float64 stays the default and its line is unchanged; float32 says so.
foreach(model IN ITEMS iforest rf)
  run(line64 err eval ${model} "${DATA}" --trees 20)
  run(line32 err eval ${model} "${DATA}" --trees 20 --dtype float32)
  run(explicit err eval ${model} "${DATA}" --trees 20 --dtype float64)
  if(line64 MATCHES "dtype" OR NOT explicit MATCHES "\"auc\":" OR explicit MATCHES "dtype")
    message(FATAL_ERROR "eval ${model}: float64 lines name a dtype:\n${line64}${explicit}")
  endif()
  if(NOT line32 MATCHES ",\"dtype\":\"float32\"}\n$")
    message(FATAL_ERROR "eval ${model} --dtype float32: no \"dtype\":\"float32\" at the end:\n${line32}")
  endif()
  # The same seed and data: float32 rounding may move a split, hardly the
  # ranking. AUCs in millionths (printed as 0.dddddd), within 0.02 of each other.
  foreach(dtype IN ITEMS 64 32)
    if(NOT line${dtype} MATCHES "\"auc\":0\\.0*([0-9]+),")
      message(FATAL_ERROR "eval ${model}: no AUC below 1 in:\n${line${dtype}}")
    endif()
    set(auc${dtype} "${CMAKE_MATCH_1}")
  endforeach()
  math(EXPR gap "${auc64} - ${auc32}")
  if(gap GREATER 20000 OR gap LESS -20000)
    message(FATAL_ERROR "eval ${model}: AUC float64 0.${auc64}, float32 0.${auc32}: more than 0.02 apart")
  endif()
  message(STATUS "eval ${model}: AUC float64 0.${auc64}, float32 0.${auc32}")
endforeach()

expect(0 "fitted ExtendedIsolationForest .*extension level 1, .*float32" fit iforest "${DATA}" --label label
       --trees 20 --extension 1 --dtype float32 --out "${WORK}/eif32.bin")
expect(0 "scored 1831 rows with ExtendedIsolationForest" score "${WORK}/eif32.bin" "${DATA}" --out "${WORK}/eif32.csv")

expect(2 "redflag fit: --dtype expects float32 or float64, got 'float16'" fit iforest "${DATA}" --out "${WORK}/x.bin"
       --dtype float16)
expect(2 "redflag fit: --dtype expects float32 or float64, got 'double'" fit rf "${DATA}" --label label
       --out "${WORK}/x.bin" --dtype double)
expect(2 "redflag eval: --dtype expects float32 or float64, got 'f32'" eval iforest "${DATA}" --dtype f32)
expect(2 "redflag eval: --dtype: 1 required TYPE missing" eval rf "${DATA}" --dtype)
if(EXISTS "${WORK}/x.bin")
  message(FATAL_ERROR "a rejected --dtype still wrote a model")
endif()
