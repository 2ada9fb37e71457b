// redflag: fit, score and evaluate redflag models on CSV files.
#include "command_table.hpp"

#include <redflag/version.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

const CLI::App* subcommand_named(const CLI::App& app, const std::string& name) {
  const auto found = app.get_subcommands([&](const CLI::App* sub) { return sub->get_name() == name; });
  return found.empty() ? nullptr : found.front();
}

// `redflag fit --out m.bin iforest data.csv`: a model name may follow the
// options, as it could before CLI11, which reads a subcommand's options only
// after its name; the name moves to the front. Every option of the commands
// with model subcommands (fit, eval) takes a value.
void model_name_first(std::vector<std::string>& arguments, const CLI::App& tool) {
  if (arguments.size() < 2) return;
  const CLI::App* command = subcommand_named(tool, arguments[0]);
  if (command == nullptr || command->get_subcommands({}).empty()) return;
  for (std::size_t i = 1; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument == "--help" || argument == "-h") continue;
    if (argument.starts_with("-")) {
      if (argument.find('=') == std::string::npos) ++i;  // its value
      continue;
    }
    if (subcommand_named(*command, argument) != nullptr) {
      std::rotate(arguments.begin() + 1, arguments.begin() + static_cast<std::ptrdiff_t>(i),
                  arguments.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
    return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App tool("redflag " + std::string(redflag::version_string) + " — anomaly detection for finance", "redflag");
  tool.set_version_flag("--version", "redflag " + std::string(redflag::version_string));
  tool.get_formatter()->label("Usage", "usage");
  tool.get_formatter()->column_width(26);
  tool.footer("`redflag <command> --help` describes a command.");
  // Options are read as typed and checked by the commands, which name what
  // they expected; unknown options and stray arguments are kept (extras) for
  // the commands to report the same way. A repeated option takes the last value.
  tool.allow_extras();
  tool.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::map<const CLI::App*, redflag::cli::Action> actions;
  for (const redflag::cli::Command& command : redflag::cli::all_commands()) {
    CLI::App* app = tool.add_subcommand(command.name, command.summary);
    actions[app] = command.define(*app);
  }

  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty()) {
    std::cout << tool.help();
    return 2;
  }
  if (arguments[0] == "help") arguments[0] = "--help";
  model_name_first(arguments, tool);
  std::reverse(arguments.begin(), arguments.end());  // CLI11 takes the arguments last first
  try {
    tool.parse(arguments);
  } catch (const CLI::Success& help_or_version) {
    return tool.exit(help_or_version);
  } catch (const CLI::ParseError& failure) {
    const std::vector<CLI::App*> chosen = tool.get_subcommands();
    std::cerr << "redflag" << (chosen.empty() ? "" : " " + chosen.front()->get_name()) << ": " << failure.what()
              << "\n";
    return 2;
  }
  const std::vector<CLI::App*> chosen = tool.get_subcommands();
  if (chosen.empty()) {
    std::cerr << "redflag: unknown command '" << tool.remaining().front() << "'\n\n" << tool.help();
    return 2;
  }
  try {
    return actions.at(chosen.front())(std::cout);
  } catch (const redflag::invalid_argument& failure) {
    std::cerr << failure.what() << "\n";
    return 2;
  } catch (const redflag::error& failure) {
    std::cerr << failure.what() << "\n";
    return 1;
  }
}
