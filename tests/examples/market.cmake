# examples.market: runs the market example (examples/market) with the quick
# preset on the bundled SPY daily series, writing the HTML report, the
# per-bar scores and the streaming output in one run, and checks
#   - the summary: the split, a test part with flagged bars, the August 2015
#     sell-off among them;
#   - that every streamed score agrees with the batch score of the same window
#     (to a relative 1e-5) for every bar of the test part;
#   - that the report is self-contained (no script, no external resource) and
#     holds both charts and the anomaly table;
#   - the usage errors.
# examples.market.chromium renders that report in headless Chromium: the DOM
# after parsing must hold both SVG charts with their paths and circles and the
# table with rows, and a 1280 x 1600 screenshot is written next to it
# (report.png). Without a `chromium` executable it reports a skip.
#
# This file has two roles: included by tests/examples/tests.cmake it
# registers the tests; run with `cmake -P` it is the test (MARKET = the
# program, WORK = scratch, MODE = run or chromium, CHROMIUM = the browser).
if(NOT CMAKE_SCRIPT_MODE_FILE)
  if(TARGET redflag_market)
    set(market_work "${CMAKE_CURRENT_BINARY_DIR}/examples-market")
    add_test(NAME examples.market
             COMMAND "${CMAKE_COMMAND}" "-DMARKET=$<TARGET_FILE:redflag_market>" "-DWORK=${market_work}" -DMODE=run
                     -P "${CMAKE_CURRENT_LIST_FILE}")
    set_tests_properties(examples.market PROPERTIES LABELS examples TIMEOUT 120 FIXTURES_SETUP market_report)
    find_program(REDFLAG_CHROMIUM NAMES chromium chromium-browser)
    set(missing "")
    if(NOT REDFLAG_CHROMIUM)
      set(missing "no chromium found (apt install chromium, then reconfigure)")
    endif()
    redflag_add_tool_test(NAME examples.market.chromium MISSING "${missing}"
                          COMMAND "${CMAKE_COMMAND}" "-DCHROMIUM=${REDFLAG_CHROMIUM}" "-DWORK=${market_work}"
                                  -DMODE=chromium -P "${CMAKE_CURRENT_LIST_FILE}")
    set_tests_properties(examples.market.chromium PROPERTIES LABELS examples TIMEOUT 60
                                                             FIXTURES_REQUIRED market_report)
  endif()
  return()
endif()
cmake_minimum_required(VERSION 3.21)

function(fail)
  string(JOIN "" message ${ARGN})
  message(FATAL_ERROR "${message}")
endfunction()

set(report "${WORK}/report.html")

if(MODE STREQUAL "chromium")
  # The report as a browser sees it.
  if(NOT EXISTS "${report}")
    fail("${report} is missing: examples.market writes it")
  endif()
  set(browser "${CHROMIUM}" --headless=new --no-sandbox --disable-gpu "--user-data-dir=${WORK}/chromium-profile")
  execute_process(COMMAND ${browser} --dump-dom "file://${report}" RESULT_VARIABLE code OUTPUT_VARIABLE dom
                  ERROR_VARIABLE errors TIMEOUT 40)
  if(NOT code EQUAL 0)
    fail("chromium --dump-dom exited with ${code}\n${errors}")
  endif()
  file(WRITE "${WORK}/report.dom.html" "${dom}")
  foreach(chart IN ITEMS price-chart error-chart)
    if(NOT dom MATCHES "<svg id=\"${chart}\"[^>]*>(.*)")
      fail("the rendered DOM has no <svg id=\"${chart}\"> (see ${WORK}/report.dom.html)")
    endif()
    string(FIND "${CMAKE_MATCH_1}" "</svg>" end)
    string(SUBSTRING "${CMAKE_MATCH_1}" 0 ${end} svg)
    string(REGEX MATCHALL "<path [^>]*d=\"M[0-9]" paths "${svg}")
    string(REGEX MATCHALL "<circle " circles "${svg}")
    list(LENGTH paths path_count)
    list(LENGTH circles circle_count)
    if(path_count LESS 1 OR circle_count LESS 5)
      fail("${chart}: ${path_count} drawn paths and ${circle_count} circles in the rendered DOM")
    endif()
    set(${chart}_circles ${circle_count})
  endforeach()
  if(NOT dom MATCHES "<line class=\"threshold\"")
    fail("the error chart has no threshold line in the rendered DOM")
  endif()
  if(NOT dom MATCHES "<table id=\"anomalies\">.*<tbody>(.*)</tbody>")
    fail("the rendered DOM has no anomaly table with a body")
  endif()
  string(REGEX MATCHALL "<tr class=\"test\"><td>" test_rows "${CMAKE_MATCH_1}")
  list(LENGTH test_rows test_row_count)
  if(test_row_count LESS 1)
    fail("the anomaly table has no row for the test part")
  endif()
  file(REMOVE "${WORK}/report.png")
  execute_process(COMMAND ${browser} "--screenshot=${WORK}/report.png" --window-size=1280,1600 --hide-scrollbars "file://${report}"
                  RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE errors TIMEOUT 40)
  if(NOT code EQUAL 0 OR NOT EXISTS "${WORK}/report.png")
    fail("chromium --screenshot exited with ${code}\n${errors}")
  endif()
  file(SIZE "${WORK}/report.png" png_size)
  if(png_size LESS 20000)
    fail("the screenshot ${WORK}/report.png has only ${png_size} bytes")
  endif()
  message(STATUS "examples.market.chromium: charts with ${price-chart_circles} and ${error-chart_circles} marked "
                 "bars, ${test_row_count} test-part rows; screenshot ${WORK}/report.png")
  return()
endif()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${MARKET}" --quick --report "${report}" --scores "${WORK}/scores.csv" --stream
                RESULT_VARIABLE code OUTPUT_VARIABLE text ERROR_VARIABLE errors)
file(WRITE "${WORK}/output.txt" "${text}")
if(NOT code EQUAL 0)
  fail("redflag_market exited with ${code}\n${text}${errors}")
endif()

# ---- The summary ----
foreach(pattern IN ITEMS
        "^redflag market example: ohlcv_spy_daily_2008_2017.csv, 2519 bars 2007-12-31 \\.\\. 2017-12-29\n"
        "\ntraining 2007-12-31 \\.\\. 2013-12-31 \\(1512 bars\\), test 2014-01-02 \\.\\. 2017-12-29 \\(1007 bars\\)\n"
        "\nmodel: window 10, d_model 8, 2 heads, 1 \\+ 1 layers, ffn 16 \\([0-9]+ weights\\)\n"
        "\ntrained [1-3] epochs in "
        "\nthreshold [0-9.e+-]+ per bar \\(contamination 0\\.05 of the training bars\\), [0-9.e+-]+ per window\n"
        "\n  2015-08-2[0-9] \\.\\. 2015-0[89]-[0-9][0-9] +[0-9]+ bars flagged  peak 2015-08-2")
  if(NOT text MATCHES "${pattern}")
    fail("the output does not match '${pattern}':\n${text}")
  endif()
endforeach()
if(NOT text MATCHES "\ntest part: ([0-9]+) of 1007 bars flagged, in ([0-9]+) episodes\n")
  fail("no test-part summary:\n${text}")
endif()
set(test_flagged ${CMAKE_MATCH_1})
if(test_flagged LESS 1 OR test_flagged GREATER 101)
  fail("${test_flagged} of 1007 test bars flagged; expected a few (contamination 0.05 of the training bars)")
endif()

# ---- Streaming equals batch, bar for bar ----
# Stream lines: "DATE  close PRICE  score SCORE[  ANOMALY]"; scores.csv rows
# "timestamp,close,part,bar_score,flagged,window_score" (window_score = the
# batch score of the window ending at the bar, for the test part).
string(REGEX MATCHALL "\n[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]  close +[0-9.]+  score [^ \n]+" streamed
       "${text}")
set(stream_pairs "")
foreach(line IN LISTS streamed)
  string(REGEX REPLACE "^\n([0-9-]+)  close +[0-9.]+  score ([^ \n]+)$" "\\1=\\2" pair "${line}")
  list(APPEND stream_pairs "${pair}")
endforeach()
file(STRINGS "${WORK}/scores.csv" rows REGEX ",test,")
set(batch_pairs "")
foreach(row IN LISTS rows)
  string(REGEX REPLACE "^([^,]+),[^,]*,test,[^,]*,[01],([^,]+)$" "\\1=\\2" pair "${row}")
  list(APPEND batch_pairs "${pair}")
endforeach()
list(LENGTH stream_pairs streamed_count)
list(LENGTH batch_pairs batch_count)
if(NOT streamed_count EQUAL 1007 OR NOT batch_count EQUAL 1007)
  fail("${streamed_count} streamed and ${batch_count} batch scores for the 1007 test bars")
endif()
# Batch scoring stacks windows in groups of four, so a streamed score may
# differ from the batch score of the same window in float's last bits: the
# dates must agree and the example's own comparison stay below 1e-5.
foreach(s b IN ZIP_LISTS stream_pairs batch_pairs)
  string(REGEX REPLACE "=.*" "" s_date "${s}")
  string(REGEX REPLACE "=.*" "" b_date "${b}")
  if(NOT s_date STREQUAL b_date)
    fail("streamed and batch scores are for other bars: ${s}, ${b}")
  endif()
endforeach()
if(NOT text MATCHES "streamed scores match the batch scores within a relative ([0-9.]+e[-+][0-9]+)")
  fail("no comparison of streamed and batch scores in the output")
endif()
set(difference "${CMAKE_MATCH_1}")
if(NOT difference MATCHES "^0\\.00e\\+00$" AND NOT difference MATCHES "e-(0[6-9]|[1-9][0-9])$")
  fail("streamed scores differ from the batch scores by a relative ${difference}, more than 1e-5")
endif()

# ---- The report: self-contained, both charts, the table ----
file(READ "${report}" html)
foreach(forbidden IN ITEMS "<script" "http:" "https:" "url(" "<link" "@import" "@font-face" "<img")
  string(FIND "${html}" "${forbidden}" at)
  if(NOT at EQUAL -1)
    fail("the report is not self-contained: it contains '${forbidden}'")
  endif()
endforeach()
foreach(part IN ITEMS "<svg id=\"price-chart\"" "<svg id=\"error-chart\"" "<table id=\"anomalies\">"
                      "<line class=\"threshold\"" "<tr class=\"test\"><td>1</td><td>test</td><td>")
  string(FIND "${html}" "${part}" at)
  if(at EQUAL -1)
    fail("the report has no '${part}'")
  endif()
endforeach()

# ---- Usage errors exit 2 and say what is wrong; bad data exits 1 ----
foreach(case IN ITEMS "--window;x|--window expects a number, got 'x'"
                      "--d-model;10;--heads;4|--d-model \\(10\\) must be a multiple of --heads \\(4\\)"
                      "--inject;all|--inject expects contextual, pattern, collective, subtle or mixed, got 'all'"
                      "--train-until;2008-02-01|--train-until 2008-02-01 leaves 23 training and 2496 test bars"
                      "--epochs|--epochs: 1 required N missing"
                      "--trees;5|unknown option '--trees'")
  string(REPLACE "|" ";" case "${case}")
  list(POP_BACK case pattern)
  execute_process(COMMAND "${MARKET}" ${case} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE errors)
  if(NOT code EQUAL 2 OR NOT errors MATCHES "${pattern}")
    fail("redflag_market ${case}: exit ${code}, expected 2 and '${pattern}'\n${errors}")
  endif()
endforeach()
file(WRITE "${WORK}/unsorted.csv" "timestamp,open,high,low,close,volume\n2020-01-02,1,2,1,2,10\n2020-01-01,1,2,1,2,10\n")
execute_process(COMMAND "${MARKET}" "${WORK}/unsorted.csv" RESULT_VARIABLE code OUTPUT_VARIABLE out
                ERROR_VARIABLE errors)
if(NOT code EQUAL 1 OR NOT errors MATCHES "line 3: timestamp '2020-01-01' does not come after '2020-01-02'")
  fail("unsorted timestamps: exit ${code}\n${errors}")
endif()
message(STATUS "examples.market: ${test_flagged} of 1007 test bars flagged; 1007 streamed scores agree with the batch scores")
