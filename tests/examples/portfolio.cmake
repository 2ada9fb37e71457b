# The portfolio cash-drift service, end to end (examples/portfolio): a driver
# starts it on a free loopback port, subscribes over WebSocket, posts the
# sample batch, marks a recommendation viewed, restarts it and checks the
# state; and the one-shot `analyze` mode on the sample batch.
if(TARGET redflag_portfolio)
  find_package(Boost 1.74 REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  add_executable(redflag_portfolio_driver "${CMAKE_CURRENT_LIST_DIR}/portfolio_driver.cpp")
  target_link_libraries(redflag_portfolio_driver PRIVATE redflag_project_options Boost::headers
                                                         nlohmann_json::nlohmann_json Threads::Threads)
  target_compile_features(redflag_portfolio_driver PRIVATE cxx_std_20)
  target_compile_options(redflag_portfolio_driver PRIVATE -Werror)
  add_dependencies(redflag_portfolio_driver redflag_portfolio)

  add_test(NAME examples.portfolio.service
           COMMAND redflag_portfolio_driver $<TARGET_FILE:redflag_portfolio>
                   "${PROJECT_SOURCE_DIR}/examples/portfolio/data" "${CMAKE_CURRENT_BINARY_DIR}/scratch")
  add_test(NAME examples.portfolio.analyze
           COMMAND redflag_portfolio analyze "${PROJECT_SOURCE_DIR}/examples/portfolio/data/accounts.json" --flagged)
  set_tests_properties(examples.portfolio.analyze PROPERTIES
                       PASS_REGULAR_EXPRESSION "CASH_ABOVE_MODEL: cash [0-9.]+ points above the model \\(> 5.0\\).*CASH_BELOW_MODEL: cash [0-9.]+ points below the model \\(< -5.0\\)|CASH_BELOW_MODEL: cash [0-9.]+ points below the model \\(< -5.0\\).*CASH_ABOVE_MODEL")
  # A rules file naming a column the accounts do not have is refused at start, naming it.
  file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/portfolio-bad-rules.json"
       [=[{"version": 2, "rules": [{"name": "CASH", "severity": "low", "weight": 0.2,
          "when": {"column": "cash_percent", "op": ">", "value": 5}}]}]=])
  add_test(NAME examples.portfolio.bad_rules
           COMMAND "${CMAKE_COMMAND}" -E env "REDFLAG_PORTFOLIO_RULES=${CMAKE_CURRENT_BINARY_DIR}/portfolio-bad-rules.json"
                   $<TARGET_FILE:redflag_portfolio> analyze "${PROJECT_SOURCE_DIR}/examples/portfolio/data/accounts.json")
  set_tests_properties(examples.portfolio.bad_rules PROPERTIES
                       PASS_REGULAR_EXPRESSION "rules\\[0\\]\\.when\\.column: unknown column 'cash_percent' \\(known columns: total_trade_amount")
  set_tests_properties(examples.portfolio.service examples.portfolio.analyze examples.portfolio.bad_rules PROPERTIES
                       LABELS examples TIMEOUT 60)
endif()
