# examples/transactions end to end (tests/examples/transactions/run.cmake runs
# each case; transactions_check checks the verdicts and the summary):
#   examples.transactions.demo       the README demo on the bundled stream
#   examples.transactions.stdin      stdin and file input give identical verdicts
#   examples.transactions.malformed  bad lines reported with line numbers and skipped
#   examples.transactions.generate   `generate` reproduces the bundled stream
#   examples.transactions.usage      bad arguments
#   examples.transactions.rules      --rules FILE, and a bad rules file
#   examples.transactions.serve      POST /detect and GET /health (a skip when built without Boost)
#   examples.transactions.json       the JSON lines' reader and writer (transactions/json_test.cpp)
#   examples.transactions.cluster_failover   workers and the trainer on a 3-node NATS JetStream
#                                            cluster through a worker's SIGKILL, the input leader's
#                                            SIGKILL and restart, a worker paused past its lease:
#                                            the verdicts are the single process's (transactions/cluster.sh)
#   examples.transactions.cluster_bad_input  dead letters, a model that does not load, a corrupted
#                                            checkpoint (one server)
#   Both are labelled `cluster` and skip without nats-server, curl or libnats.
if(TARGET redflag_transactions)
  find_package(nlohmann_json 3 REQUIRED)  # found already: the example needs them too
  find_package(simdjson REQUIRED)
  add_executable(transactions_json_test "${CMAKE_CURRENT_LIST_DIR}/transactions/json_test.cpp")
  target_link_libraries(transactions_json_test PRIVATE redflag_doctest_main redflag_project_options
                                                       nlohmann_json::nlohmann_json simdjson::simdjson)
  target_include_directories(transactions_json_test PRIVATE "${PROJECT_SOURCE_DIR}/examples")
  add_test(NAME examples.transactions.json COMMAND transactions_json_test)
  set_tests_properties(examples.transactions.json PROPERTIES LABELS examples)
  add_executable(transactions_check "${CMAKE_CURRENT_LIST_DIR}/transactions/check.cpp")
  target_link_libraries(transactions_check PRIVATE redflag_project_options nlohmann_json::nlohmann_json)
  # -Wno-maybe-uninitialized: GCC 12 warns falsely inside libstdc++'s <regex> at -O1 and above.
  target_compile_options(transactions_check PRIVATE -Werror -Wno-maybe-uninitialized)
  target_compile_features(transactions_check PRIVATE cxx_std_20)
  set(client "")
  set(serve_missing "")
  get_target_property(definitions redflag_transactions COMPILE_DEFINITIONS)
  if("REDFLAG_TRANSACTIONS_HTTP" IN_LIST definitions)
    add_executable(transactions_detect_client "${CMAKE_CURRENT_LIST_DIR}/transactions/detect_client.cpp")
    target_link_libraries(transactions_detect_client PRIVATE redflag_project_options nlohmann_json::nlohmann_json)
    target_compile_options(transactions_detect_client PRIVATE -Werror -Wno-maybe-uninitialized)
    target_compile_features(transactions_detect_client PRIVATE cxx_std_20)
    set(client "-DCLIENT=$<TARGET_FILE:transactions_detect_client>")
  else()
    set(serve_missing "redflag_transactions was built without `serve` (needs Boost 1.74+: apt install libboost-dev)")
  endif()
  set(cluster_missing "")
  find_program(REDFLAG_NATS_SERVER nats-server)
  find_program(REDFLAG_CURL curl)
  if(NOT "REDFLAG_TRANSACTIONS_CLUSTER" IN_LIST definitions)
    set(cluster_missing "redflag_transactions was built without the cluster modes (needs libnats: apt install libnats-dev)")
  elseif(NOT REDFLAG_NATS_SERVER)
    set(cluster_missing "no nats-server (apt install nats-server)")
  elseif(NOT REDFLAG_CURL)
    set(cluster_missing "no curl (apt install curl)")
  endif()
  foreach(case IN ITEMS failover bad_input)
    redflag_add_tool_test(NAME examples.transactions.cluster_${case} MISSING "${cluster_missing}"
                          COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/transactions/cluster.sh" ${case}
                                  "$<TARGET_FILE:redflag_transactions>"
                                  "${PROJECT_SOURCE_DIR}/examples/transactions/data/transactions.jsonl"
                                  "${CMAKE_CURRENT_BINARY_DIR}/examples-transactions-cluster-${case}"
                                  "${REDFLAG_NATS_SERVER}")
    # One at a time: each starts its own servers and processes on this machine's cores.
    set_tests_properties(examples.transactions.cluster_${case} PROPERTIES LABELS "examples;cluster" TIMEOUT 180
                                                                          RUN_SERIAL TRUE)
  endforeach()
  foreach(case IN ITEMS demo stdin malformed generate usage rules serve)
    set(missing "")
    if(case STREQUAL "serve")
      set(missing "${serve_missing}")
    endif()
    redflag_add_tool_test(NAME examples.transactions.${case} MISSING "${missing}"
                          COMMAND "${CMAKE_COMMAND}"
                                  "-DEXE=$<TARGET_FILE:redflag_transactions>"
                                  "-DCHECK=$<TARGET_FILE:transactions_check>"
                                  ${client}
                                  "-DDATA=${PROJECT_SOURCE_DIR}/examples/transactions/data/transactions.jsonl"
                                  "-DWORK=${CMAKE_CURRENT_BINARY_DIR}/examples-transactions-${case}"
                                  "-DCASE=${case}"
                                  "-DSOURCE_DIR=${PROJECT_SOURCE_DIR}"
                                  -P "${CMAKE_CURRENT_LIST_DIR}/transactions/run.cmake")
    set_tests_properties(examples.transactions.${case} PROPERTIES LABELS examples TIMEOUT 120)
  endforeach()
endif()
