# The `redflag` tool end to end: cli.workflow fits a scaler, inspects it,
# applies it, evaluates a score column, and rejects corrupted model files and
# bad usage; cli.iforest runs fit / score / eval with an IsolationForest.
if(TARGET redflag_cli)
  foreach(script IN ITEMS workflow iforest)
    add_test(NAME cli.${script}
             COMMAND "${CMAKE_COMMAND}"
                     "-DREDFLAG=$<TARGET_FILE:redflag_cli>"
                     "-DDATA=${PROJECT_SOURCE_DIR}/examples/data/cardio.csv"
                     "-DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli-${script}"
                     -P "${CMAKE_CURRENT_SOURCE_DIR}/cli/${script}.cmake")
    set_tests_properties(cli.${script} PROPERTIES LABELS cli)
  endforeach()
endif()
