# scikit-learn parity: mean ROC AUC over 5 seeds of redflag's IsolationForest
# and scikit-learn's, same parameters, on shuttle, mammography and cardio.
# iforest_auc prints redflag's figure; sklearn_iforest.py runs both and fails
# when they differ by more than 0.01.
add_executable(iforest_auc "${CMAKE_CURRENT_LIST_DIR}/iforest_auc.cpp")
target_link_libraries(iforest_auc PRIVATE redflag::redflag redflag_project_options)

if(REDFLAG_SKLEARN_PYTHON AND EXISTS "${REDFLAG_DATA_DIR}/shuttle.csv")
  foreach(dataset IN ITEMS shuttle mammography cardio)
    add_test(NAME forest.iforest_sklearn_parity_${dataset}
             COMMAND "${REDFLAG_SKLEARN_PYTHON}" "${CMAKE_CURRENT_LIST_DIR}/sklearn_iforest.py"
                     "$<TARGET_FILE:iforest_auc>" "${REDFLAG_DATA_DIR}/${dataset}.csv")
    set_tests_properties(forest.iforest_sklearn_parity_${dataset} PROPERTIES LABELS "forest")
  endforeach()
endif()
