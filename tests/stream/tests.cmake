# A record whose description does not satisfy EntityDescription is a compile
# error naming the concept: the test builds such a program and expects the
# build to fail with that name in the compiler's message.
add_executable(stream_not_an_entity EXCLUDE_FROM_ALL "${CMAKE_CURRENT_LIST_DIR}/compile_fail/not_an_entity.cpp")
target_link_libraries(stream_not_an_entity PRIVATE redflag::redflag)
add_test(NAME stream.entity_concept_error
         COMMAND "${CMAKE_COMMAND}" --build "${CMAKE_BINARY_DIR}" --target stream_not_an_entity)
set_tests_properties(stream.entity_concept_error PROPERTIES
                     LABELS stream
                     PASS_REGULAR_EXPRESSION "EntityDescription"
                     FAIL_REGULAR_EXPRESSION "Built target stream_not_an_entity"
                     TIMEOUT 120)
