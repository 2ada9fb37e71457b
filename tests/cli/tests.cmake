# The `redflag` tool end to end: cli.workflow fits a scaler, inspects it,
# applies it, evaluates a score column, and rejects corrupted model files and
# bad usage; cli.iforest runs fit / score / eval with an IsolationForest;
# cli.iforest_eif the same with an ExtendedIsolationForest (and score on a
# float32 model); cli.iforest_explain checks `score --explain` (with
# explain_check, which does the arithmetic CMake cannot); cli.iforest_columns
# covers --missing and --categorical; cli.rf runs fit / info / score (with
# --explain, checked by explain_check --proba) / eval with a RandomForest;
# cli.tae runs simulate and eval tae; cli.dtype fits, scores and evaluates
# float32 forests (--dtype).
if(TARGET redflag_cli)
  add_executable(redflag_cli_explain_check "${CMAKE_CURRENT_LIST_DIR}/explain_check.cpp")
  target_link_libraries(redflag_cli_explain_check PRIVATE redflag_project_options)
  foreach(script IN ITEMS workflow iforest iforest_eif iforest_explain iforest_columns rf tae dtype)
    add_test(NAME cli.${script}
             COMMAND "${CMAKE_COMMAND}"
                     "-DREDFLAG=$<TARGET_FILE:redflag_cli>"
                     "-DEXPLAIN_CHECK=$<TARGET_FILE:redflag_cli_explain_check>"
                     "-DDATA=${PROJECT_SOURCE_DIR}/examples/data/cardio.csv"
                     "-DGOLDEN=${PROJECT_SOURCE_DIR}/tests/forest/golden"
                     "-DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli-${script}"
                     -P "${CMAKE_CURRENT_SOURCE_DIR}/cli/${script}.cmake")
    set_tests_properties(cli.${script} PROPERTIES LABELS cli)
  endforeach()
endif()
