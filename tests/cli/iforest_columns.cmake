# `redflag fit / score / eval` on data with missing cells (--missing) and a
# categorical column (--categorical). Variables: REDFLAG (the tool),
# EXPLAIN_CHECK, DATA (cardio.csv: 1831 rows, f0..f20, label), WORK (scratch).
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
include("${CMAKE_CURRENT_LIST_DIR}/expect.cmake")

file(STRINGS "${DATA}" cardio)

# set_cell(<list var> <line index> <column> <text>): replaces one cell.
function(set_cell list_var index column text)
  list(GET ${list_var} ${index} line)
  string(REPEAT "[^,]*," ${column} skipped)  # CMake regexes have no {n}
  string(REGEX MATCH "^(${skipped})([^,]*)(.*)$" matched "${line}")
  set(line "${CMAKE_MATCH_1}${text}${CMAKE_MATCH_3}")
  list(REMOVE_AT ${list_var} ${index})
  list(INSERT ${list_var} ${index} "${line}")
  set(${list_var} "${${list_var}}" PARENT_SCOPE)
endfunction()

# write_lines(<list var> <file> [<count>]): the list (or its first lines) as a file.
function(write_lines list_var path)
  set(lines "${${list_var}}")
  if(ARGC GREATER 2)
    list(SUBLIST lines 0 ${ARGV2} lines)
  endif()
  list(JOIN lines "\n" text)
  file(WRITE "${path}" "${text}\n")
endfunction()

# --- Missing values: empty cells and nan, in normal rows and anomalies. ----
set(missing "${cardio}")
set_cell(missing 1 0 "")
set_cell(missing 3 1 "nan")
set_cell(missing 4 20 "")
set_cell(missing 4 5 "NaN")
set_cell(missing 1700 2 "")
write_lines(missing "${WORK}/missing.csv")
write_lines(missing "${WORK}/missing_head.csv" 151)

# Refused by default, naming the cell and the option that accepts it.
set(hint "missing.csv row 1, column 'f0' is missing \\(empty or nan\\); use --missing route to accept missing values")
expect(1 "fit: .*${hint}" fit iforest "${WORK}/missing.csv" --label label --out "${WORK}/bad.bin")
expect(1 "eval: .*${hint}" eval iforest "${WORK}/missing.csv")
expect(2 "--missing expects reject or route, got 'skip'" fit iforest "${WORK}/missing.csv" --missing skip
       --out "${WORK}/bad.bin")

# Routed: every row gets a score, the rows with missing cells included.
run(out err fit iforest "${WORK}/missing.csv" --label label --missing route --out "${WORK}/route.bin")
run(scores err score "${WORK}/route.bin" "${WORK}/missing.csv")
check_scores("${scores}" "scores with missing cells" 1831)
run(json err eval iforest "${WORK}/missing.csv" --missing route)
if(NOT json MATCHES "^\\{\"model\":\"iforest\",\"n\":1831,\"d\":21,.*\"auc\":(0\\.[0-9]+),\"ap\":0\\.[0-9]+\\}\n$"
   OR NOT CMAKE_MATCH_1 GREATER 0.85)
  message(FATAL_ERROR "eval --missing route printed '${json}', expected auc > 0.85")
endif()
# Explanations of rows with missing cells still add up to their scores.
run(out err score "${WORK}/route.bin" "${WORK}/missing_head.csv" --explain 21 --out "${WORK}/route_explained.csv")
check_explained("${WORK}/route_explained.csv" 21 21)
# The Extended Isolation Forest routes them too.
run(out err fit iforest "${WORK}/missing.csv" --label label --missing route --extension 2 --trees 30
    --out "${WORK}/route_eif.bin")
run(scores err score "${WORK}/route_eif.bin" "${WORK}/missing.csv")
check_scores("${scores}" "EIF scores with missing cells" 1831)

# A model fitted with --missing reject refuses them at score time.
run(out err fit iforest "${DATA}" --label label --trees 10 --out "${WORK}/reject.bin")
expect(1 "score: .*missing.csv row 1, column 'f0' is missing \\(empty or nan\\); the model was fitted with --missing reject"
       score "${WORK}/reject.bin" "${WORK}/missing.csv")
# Infinities are never accepted.
set(infinite "${cardio}")
set_cell(infinite 2 3 "-inf")
write_lines(infinite "${WORK}/infinite.csv" 101)
expect(1 "fit: .*infinite.csv row 2, column 'f3' is -inf; values must be finite"
       fit iforest "${WORK}/infinite.csv" --missing route --out "${WORK}/bad.bin")
expect(1 "score: .*infinite.csv row 2, column 'f3' is -inf" score "${WORK}/route.bin" "${WORK}/infinite.csv")

# --- A categorical column: mcc, codes 0..10, before the label. -------------
set(coded "")
set(row 0)
foreach(line IN LISTS cardio)
  if(row EQUAL 0)
    string(REGEX REPLACE ",label$" ",mcc,label" line "${line}")
  else()
    math(EXPR code "(${row} * 7) % 11")
    string(REGEX REPLACE ",([01])$" ",${code},\\1" line "${line}")
  endif()
  list(APPEND coded "${line}")
  math(EXPR row "${row} + 1")
endforeach()
write_lines(coded "${WORK}/mcc.csv")
write_lines(coded "${WORK}/mcc_head.csv" 151)

expect(0 "fitted IsolationForest .* on 1831 rows x 22 columns"
       fit iforest "${WORK}/mcc.csv" --label label --categorical mcc --out "${WORK}/mcc.bin")
expect(0 "schema: +22 columns.*f20 +numeric.*mcc +categorical" info "${WORK}/mcc.bin")
run(scores err score "${WORK}/mcc.bin" "${WORK}/mcc.csv")
check_scores("${scores}" "scores with a categorical column" 1831)
run(out err score "${WORK}/mcc.bin" "${WORK}/mcc_head.csv" --explain 22 --out "${WORK}/mcc_explained.csv")
check_explained("${WORK}/mcc_explained.csv" 22 22)
run(json err eval iforest "${WORK}/mcc.csv" --categorical mcc)
if(NOT json MATCHES "^\\{\"model\":\"iforest\",\"n\":1831,\"d\":22,")
  message(FATAL_ERROR "eval --categorical mcc printed '${json}'")
endif()

# A code the model never saw is scored (both branches, weighted by training
# rows); a code that is not a whole number >= 0 is an error naming the column.
set(unseen "${coded}")
set_cell(unseen 1 21 "99")
write_lines(unseen "${WORK}/unseen.csv" 51)
expect(0 "scored 50 rows" score "${WORK}/mcc.bin" "${WORK}/unseen.csv" --out "${WORK}/unseen_scores.csv")
foreach(bad IN ITEMS 1.5 -1)
  set(wrong "${coded}")
  set_cell(wrong 2 21 "${bad}")
  write_lines(wrong "${WORK}/wrong.csv" 51)
  expect(1 "score: .*wrong.csv row 2, column 'mcc' is ${bad}; categorical column 'mcc' needs whole codes"
         score "${WORK}/mcc.bin" "${WORK}/wrong.csv")
endforeach()
# Missing codes are routed like missing numbers.
set(missing_code "${coded}")
set_cell(missing_code 5 21 "")
write_lines(missing_code "${WORK}/missing_code.csv")
expect(1 "row 5, column 'mcc' is missing" fit iforest "${WORK}/missing_code.csv" --label label --categorical mcc
       --out "${WORK}/bad.bin")
run(out err fit iforest "${WORK}/missing_code.csv" --label label --categorical mcc --missing route
    --out "${WORK}/mcc_route.bin")

# Bad --categorical: a non-integer column, unknown or label columns, bad lists.
set(fit_args fit iforest "${WORK}/mcc.csv" --label label --out "${WORK}/bad.bin")
expect(1 "fit: .*mcc.csv row 1, column 'f0' is 0.004912314662; categorical column 'f0' needs whole codes"
       ${fit_args} --categorical mcc,f0)
expect(1 "--categorical names 'nope', which is not a column of .*mcc.csv" ${fit_args} --categorical nope)
expect(2 "--categorical names 'label', the label column, which is not a feature" ${fit_args} --categorical label)
expect(2 "--categorical lists 'mcc' twice" ${fit_args} --categorical mcc,mcc)
expect(2 "--categorical expects comma-separated column names, got 'mcc,'" ${fit_args} --categorical mcc,)
expect(2 "--categorical cannot be combined with --extension" ${fit_args} --categorical mcc --extension 1)
if(EXISTS "${WORK}/bad.bin")
  message(FATAL_ERROR "a rejected fit wrote a model file")
endif()
