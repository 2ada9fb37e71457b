# The `redflag` tool end to end: fit a scaler, inspect it, apply it, evaluate
# a score column, and reject corrupted model files and bad usage.
if(TARGET redflag_cli)
  add_test(NAME cli.workflow
           COMMAND "${CMAKE_COMMAND}"
                   "-DREDFLAG=$<TARGET_FILE:redflag_cli>"
                   "-DDATA=${PROJECT_SOURCE_DIR}/examples/data/cardio.csv"
                   "-DWORK=${CMAKE_CURRENT_BINARY_DIR}/cli"
                   -P "${CMAKE_CURRENT_SOURCE_DIR}/cli/workflow.cmake")
  set_tests_properties(cli.workflow PROPERTIES LABELS cli)
endif()
