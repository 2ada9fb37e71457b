// redflag: fit, score and evaluate redflag models on CSV files.
#include "command_table.hpp"

#include <redflag/version.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace {

void print_overview(const std::vector<redflag::cli::Command>& commands, std::ostream& out) {
  out << "redflag " << redflag::version_string << " — anomaly detection for finance\n\n"
      << "usage: redflag <command> [options]\n"
      << "       redflag <command> --help\n\n"
      << "commands:\n";
  for (const auto& command : commands) {
    out << "  " << command.name << std::string(12 - std::min<std::size_t>(command.name.size(), 11), ' ')
        << command.summary << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<redflag::cli::Command> commands = redflag::cli::all_commands();
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty() || arguments[0] == "--help" || arguments[0] == "-h" || arguments[0] == "help") {
    print_overview(commands, std::cout);
    return arguments.empty() ? 2 : 0;
  }
  if (arguments[0] == "--version") {
    std::cout << "redflag " << redflag::version_string << "\n";
    return 0;
  }
  const auto command = std::find_if(commands.begin(), commands.end(),
                                    [&](const auto& candidate) { return candidate.name == arguments[0]; });
  if (command == commands.end()) {
    std::cerr << "redflag: unknown command '" << arguments[0] << "'\n\n";
    print_overview(commands, std::cerr);
    return 2;
  }
  const std::vector<std::string> rest(arguments.begin() + 1, arguments.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    std::cout << command->usage;
    return 0;
  }
  try {
    return command->run(rest, std::cout);
  } catch (const redflag::invalid_argument& failure) {
    std::cerr << failure.what() << "\n";
    return 2;
  } catch (const redflag::error& failure) {
    std::cerr << failure.what() << "\n";
    return 1;
  }
}
