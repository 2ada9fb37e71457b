# `redflag simulate ohlcv` and `redflag eval tae`: a seeded series, the eval
# JSON contract with injected anomalies and with the series' own labels,
# determinism across runs and thread counts, and usage errors.
# Variables: REDFLAG (the tool), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

expect(0 "usage: redflag simulate \\[OPTIONS\\] SERIES.*--bars N" simulate --help)
expect(0 "usage: redflag eval tae \\[OPTIONS\\] SERIES.csv.*--inject TYPE.*all \\(default\\), contextual.*--label COLUMN"
       eval tae --help)

# simulate: a header and one line per bar; the same seed, the same file.
run(series err simulate ohlcv --bars 2000 --bars-per-day 100 --seed 4)
file(WRITE "${WORK}/series.csv" "${series}")
run(again err simulate ohlcv --bars 2000 --bars-per-day 100 --seed 4)
run(other err simulate ohlcv --bars 2000 --bars-per-day 100 --seed 5)
file(STRINGS "${WORK}/series.csv" lines)
list(LENGTH lines count)
list(GET lines 0 header)
if(NOT count EQUAL 2001 OR NOT header STREQUAL "open,high,low,close,volume" OR NOT series STREQUAL again
   OR series STREQUAL other)
  message(FATAL_ERROR "simulate: ${count} lines, header '${header}', or not reproducible from its seed")
endif()

set(tiny --window 8 --d-model 8 --heads 2 --layers 1 --ffn 16 --epochs 3 --batch 16 --repeats 4 --seed 3)

# check_tae(<json> <type>...): the contract's keys, every metric in [0, 1] or
# null (which string(JSON) reads as an empty string).
function(check_tae json)
  foreach(key IN ITEMS model n windows params epochs train_s windows_per_s)
    string(JSON value ERROR_VARIABLE missing GET "${json}" ${key})
    if(missing)
      message(FATAL_ERROR "eval tae: no '${key}' in ${json}")
    endif()
  endforeach()
  string(JSON model GET "${json}" model)
  string(JSON types LENGTH "${json}" per_type)
  list(LENGTH ARGN expected_types)
  if(NOT model STREQUAL "tae" OR NOT types EQUAL expected_types)
    message(FATAL_ERROR "eval tae: model '${model}', ${types} types, expected tae and ${expected_types}: ${json}")
  endif()
  foreach(type IN LISTS ARGN)
    foreach(level IN ITEMS window timestep)
      foreach(metric IN ITEMS precision recall f1 f2 f4 auc)
        string(JSON value GET "${json}" per_type ${type} ${level} ${metric})
        if(NOT value MATCHES "^(0\\.[0-9]+|1\\.0+|)$")
          message(FATAL_ERROR "eval tae: ${type} ${level} ${metric} = '${value}'")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()

# Injected anomalies: 1200 training bars -> 1193 windows of 8.
run(json err eval tae "${WORK}/series.csv" ${tiny})
check_tae("${json}" contextual pattern collective subtle mixed)
string(JSON n GET "${json}" n)
string(JSON windows GET "${json}" windows)
string(JSON epochs GET "${json}" epochs)
string(JSON params GET "${json}" params)
if(NOT n EQUAL 2000 OR NOT windows EQUAL 1193 OR epochs GREATER 3 OR epochs LESS 1 OR params LESS 1000)
  message(FATAL_ERROR "eval tae: n ${n}, windows ${windows}, epochs ${epochs}, params ${params}")
endif()
# Flash crashes and price jumps are what even a tiny model finds.
string(JSON auc GET "${json}" per_type collective timestep auc)
if(auc STREQUAL "" OR auc LESS 0.8)
  message(FATAL_ERROR "eval tae: collective timestep ROC AUC ${auc}, expected > 0.8")
endif()

# The metrics do not depend on the run or on the thread count (timings do).
run(threaded err eval tae "${WORK}/series.csv" ${tiny} --threads 2)
foreach(result IN ITEMS json threaded)
  string(JSON per_type_${result} GET "${${result}}" per_type)
endforeach()
if(NOT per_type_json STREQUAL per_type_threaded)
  message(FATAL_ERROR "eval tae: other metrics with --threads 2:\n${per_type_json}\n${per_type_threaded}")
endif()
run(one err eval tae "${WORK}/series.csv" ${tiny} --inject subtle)
check_tae("${one}" subtle)

# Other scoring rules change the scores, not the model: the same epochs, other
# metrics at the level whose rule changed and the same at the other level.
run(rules err eval tae "${WORK}/series.csv" ${tiny} --inject subtle --window-score mean --bar-score median)
check_tae("${rules}" subtle)
foreach(level IN ITEMS window timestep)
  string(JSON one_${level} GET "${one}" per_type subtle ${level})
  string(JSON rules_${level} GET "${rules}" per_type subtle ${level})
endforeach()
string(JSON one_epochs GET "${one}" epochs)
string(JSON rules_epochs GET "${rules}" epochs)
if(NOT one_epochs EQUAL rules_epochs OR one_window STREQUAL rules_window OR one_timestep STREQUAL rules_timestep)
  message(FATAL_ERROR "eval tae: --window-score mean / --bar-score median changed nothing or the model:\n${one}\n${rules}")
endif()

# The series' own labels: volume surges at bars 1450-1453 (validation) and
# 1750-1753 (test), nothing labelled in the training bars.
set(labelled "open,high,low,close,volume,label\n")
list(SUBLIST lines 1 2000 bars)
set(bar 0)
foreach(line IN LISTS bars)
  set(label 0)
  if((bar GREATER_EQUAL 1450 AND bar LESS 1454) OR (bar GREATER_EQUAL 1750 AND bar LESS 1754))
    string(REGEX REPLACE ",[^,]*$" ",900000" line "${line}")
    set(label 1)
  endif()
  string(APPEND labelled "${line},${label}\n")
  math(EXPR bar "${bar} + 1")
endforeach()
file(WRITE "${WORK}/labelled.csv" "${labelled}")
run(own err eval tae "${WORK}/labelled.csv" --label label ${tiny})
check_tae("${own}" labelled)
string(JSON auc GET "${own}" per_type labelled timestep auc)
if(auc STREQUAL "" OR auc LESS 0.9)
  message(FATAL_ERROR "eval tae --label: the labelled volume surges were not found (timestep ROC AUC ${auc})")
endif()

# Usage errors name what was wrong.
expect(2 "give --inject or --label, not both" eval tae "${WORK}/labelled.csv" --label label --inject all)
expect(2 "--inject expects all, contextual, pattern, collective, subtle or mixed, got 'spikes'"
       eval tae "${WORK}/series.csv" --inject spikes)
expect(2 "--inject needs the five OHLCV columns" eval tae "${WORK}/labelled.csv" --columns open,close)
expect(1 "too short for --window 900" eval tae "${WORK}/series.csv" --window 900)
expect(2 "d_model must be a positive multiple of heads" eval tae "${WORK}/series.csv" ${tiny} --heads 3)
expect(2 "--threshold expects f1 or youden" eval tae "${WORK}/series.csv" --threshold best)
expect(2 "--window-score expects rms, mean or max, got 'median'" eval tae "${WORK}/series.csv" --window-score median)
expect(2 "--bar-score expects neighbourhood-min, mean or median, got 'max'" eval tae "${WORK}/series.csv" --bar-score max)
expect(2 "unknown series 'prices'" simulate prices)
