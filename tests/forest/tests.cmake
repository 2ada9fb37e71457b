# scikit-learn parity: mean ROC AUC over 5 seeds of redflag's IsolationForest
# and scikit-learn's, same parameters, on shuttle, mammography and cardio.
# iforest_auc prints redflag's figure; sklearn_iforest.py runs both and fails
# when they differ by more than 0.01. Cardio is the copy bundled in
# examples/data, so it runs everywhere; shuttle and mammography come from
# REDFLAG_DATA_DIR, and their tests report a skip where that folder lacks
# them, as all of these do without a Python with scikit-learn.
set(redflag_parity_datasets
    "shuttle=${REDFLAG_DATA_DIR}/shuttle.csv"
    "mammography=${REDFLAG_DATA_DIR}/mammography.csv"
    "cardio=${PROJECT_SOURCE_DIR}/examples/data/cardio.csv")

add_executable(iforest_auc "${CMAKE_CURRENT_LIST_DIR}/iforest_auc.cpp")
target_link_libraries(iforest_auc PRIVATE redflag::redflag redflag_project_options)

foreach(entry IN LISTS redflag_parity_datasets)
  string(REGEX REPLACE "=.*" "" dataset "${entry}")
  string(REGEX REPLACE "^[^=]*=" "" csv "${entry}")
  redflag_add_tool_test(NAME forest.iforest_sklearn_parity_${dataset} MISSING "${redflag_sklearn_missing}"
                        COMMAND "${REDFLAG_SKLEARN_PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/sklearn_iforest.py"
                                "$<TARGET_FILE:iforest_auc>" "${csv}")
  set_tests_properties(forest.iforest_sklearn_parity_${dataset} PROPERTIES LABELS "forest")
endforeach()

# scikit-learn parity of RandomForest: mean test ROC AUC over 5 seeds on a
# stratified 70/30 split that random_forest_sklearn_parity.py makes with
# scikit-learn and hands to rf_auc as CSVs; fails beyond 0.01. rf_auc grows
# fully grown trees on up to 34k rows, so it is optimised and left
# uninstrumented even in sanitizer builds (random_forest_test runs the same
# code under the sanitizers); otherwise shuttle alone takes minutes.
add_executable(rf_auc "${CMAKE_CURRENT_LIST_DIR}/rf_auc.cpp")
target_link_libraries(rf_auc PRIVATE redflag::redflag redflag_project_options)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(rf_auc PRIVATE -O2 -fno-sanitize=all)
endif()

foreach(entry IN LISTS redflag_parity_datasets)
  string(REGEX REPLACE "=.*" "" dataset "${entry}")
  string(REGEX REPLACE "^[^=]*=" "" csv "${entry}")
  redflag_add_tool_test(NAME forest.random_forest_sklearn_parity_${dataset} MISSING "${redflag_sklearn_missing}"
                        COMMAND "${REDFLAG_SKLEARN_PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/random_forest_sklearn_parity.py"
                                "$<TARGET_FILE:rf_auc>" "${csv}")
  set_tests_properties(forest.random_forest_sklearn_parity_${dataset} PROPERTIES LABELS "forest")
endforeach()
