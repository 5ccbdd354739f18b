#include "app/ConsultdApplication.h"

#include "app/Subsystems.h"
#include "app/Systemd.h"
#include "app/TurnSubsystem.h"
#include "config/Schema.h"
#include "log/JournalChannel.h"

#include <Poco/Logger.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>

#include <csignal>
#include <filesystem>
#include <iostream>

namespace consultd::app {

namespace {
Poco::Logger& daemonLog() { return Poco::Logger::get("consultd"); }
}  // namespace

namespace {
/// The signals the main loop takes synchronously with sigtimedwait().
sigset_t daemonSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    return set;
}
}  // namespace

void blockDaemonSignals() {
    const sigset_t set = daemonSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);  // a client hanging up must not kill the daemon
}

ConsultdApplication::ConsultdApplication() { setUnixOptions(true); }

void ConsultdApplication::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);
    using Poco::Util::Option;
    using Poco::Util::OptionCallback;
    auto cb = OptionCallback<ConsultdApplication>(this, &ConsultdApplication::handleOption);
    options.addOption(Option("config", "c", "config file (default /etc/consultd/consultd.conf)")
                          .required(false).repeatable(false).argument("FILE").callback(cb));
    options.addOption(Option("check-config", "", "validate the configuration and exit (0 when valid)").callback(cb));
    options.addOption(Option("version", "", "print the version and exit").callback(cb));
    options.addOption(Option("print-schema", "", "print every setting as Markdown (docs/config.md) and exit").callback(cb));
    options.addOption(Option("help", "h", "show this help").callback(cb));
}

void ConsultdApplication::handleOption(const std::string& name, const std::string& value) {
    if (name == "config") configFile_ = value;
    else if (name == "check-config") mode_ = Mode::CheckConfig;
    else if (name == "version") mode_ = Mode::Version;
    else if (name == "print-schema") mode_ = Mode::PrintSchema;
    else if (name == "help") mode_ = Mode::Help;
    if (mode_ == Mode::Version || mode_ == Mode::Help) stopOptionsProcessing();
}

bool ConsultdApplication::loadConfig(bool quietWarnings) {
    auto result = config::ConfigLoader::load(configFile_);
    if (result.config && result.errors.empty()) {
        // Plugins are discovered now: their settings are part of the config.
        runtime_.plugins = std::make_unique<plugins::PluginHost>();
        const std::string pluginDir = result.config->getPath("providers.plugin_dir");
        std::vector<std::string> pluginErrors;
        runtime_.plugins->discover(pluginDir, pluginErrors);
        for (const auto& e : pluginErrors) {
            result.errors.push_back({result.config->locationOf("providers.plugin_dir"), "providers.plugin_dir", e});
        }
        // Without the plugin folder every provider setting would look unknown: report the folder alone.
        if (std::filesystem::is_directory(pluginDir)) {
            config::ConfigLoader::validateProviders(result, runtime_.plugins->schemas(), pluginDir);
        }
    }
    if (mode_ == Mode::CheckConfig) {
        // A person at a terminal: plain "file:line: setting: problem" lines.
        for (const auto& w : result.warnings) std::cerr << "warning: " << w.format() << "\n";
        for (const auto& e : result.errors) std::cerr << e.format() << "\n";
    } else {
        if (!quietWarnings) {
            for (const auto& w : result.warnings) daemonLog().warning("config: " + w.format());
        }
        for (const auto& e : result.errors) daemonLog().error("config: " + e.format());
    }
    if (!result.ok()) return false;
    runtime_.setConfig(result.config);
    return true;
}

void ConsultdApplication::initialize(Poco::Util::Application& self) {
    log::setupLogging("info");
    if (mode_ != Mode::Serve) return;  // nothing to start for --version, --check-config, ...
    if (!loadConfig(false)) throw std::runtime_error("invalid configuration in " + configFile_ + " (see the errors above)");
    log::setLevel(runtime_.currentConfig()->getString("logging.level"));
    Systemd::status("opening the database");
    addSubsystem(new StoreSubsystem(runtime_));
    addSubsystem(new TurnSubsystem(runtime_));  // before providers: grants carry its URLs
    addSubsystem(new ProviderSubsystem(runtime_));
    addSubsystem(new RecordingSubsystem(runtime_));
    addSubsystem(new HttpSubsystem(runtime_));
    addSubsystem(new RecorderSubsystem(runtime_));  // uninitialised first: finalises recordings
    ServerApplication::initialize(self);
    initialized_ = true;
}

void ConsultdApplication::uninitialize() {
    if (initialized_) {
        Systemd::stopping("stopping");
        daemonLog().notice("stopping");
    }
    ServerApplication::uninitialize();
}

int ConsultdApplication::main(const std::vector<std::string>&) {
    switch (mode_) {
        case Mode::Version:
            std::cout << "consultd " << CONSULTD_VERSION << " (provider API " << kProviderApiVersion << ")\n";
            return EXIT_OK;
        case Mode::Help: {
            Poco::Util::HelpFormatter help(options());
            help.setCommand(commandName());
            help.setUsage("[--config FILE] [--check-config] | <command> ...");
            help.setHeader("consultd: video-consultation appliance daemon.\nCommands: apikey create|list|revoke, audit verify (see consultd <command> --help).");
            help.format(std::cout);
            return EXIT_OK;
        }
        case Mode::PrintSchema:
            printSchema();
            return EXIT_OK;
        case Mode::CheckConfig:
            if (!loadConfig(false) || !preflight()) return EXIT_CONFIG;
            std::cout << configFile_ << ": configuration is valid\n";
            return EXIT_OK;
        case Mode::Serve: break;
    }
    serveUntilStopped();
    return EXIT_OK;
}

bool ConsultdApplication::preflight() {
    // What the start would refuse, found without binding or opening anything:
    // the listener rules, the TLS pair, and each enabled provider's own checks
    // (key files that do not parse, secrets too short, ...).
    const auto config = runtime_.currentConfig();
    std::vector<std::string> problems;
    try {
        http::HttpService::preflight(*config);
    } catch (const std::exception& e) {
        problems.emplace_back(e.what());
    }
    log::setLevel("warning");  // the providers' start-up notes are not for --check-config's reader
    plugins::PluginHost trial;
    std::vector<std::string> ignored;
    trial.discover(config->getPath("providers.plugin_dir"), ignored);
    trial.createProviders(config, nullptr, "https://preflight.invalid", problems);
    for (const auto& p : problems) std::cerr << p << "\n";
    return problems.empty();
}

void ConsultdApplication::printSchema() {
    auto table = [](const std::string& prefix, const std::vector<SettingSpec>& settings) {
        std::cout << "| setting | type | default | reload | description |\n|---|---|---|---|---|\n";
        for (const auto& s : settings) {
            std::string def = s.defaultValue.empty() ? (s.required ? "(required)" : "\"\"") : s.defaultValue;
            std::cout << "| `" << prefix << s.name << "` | " << config::typeName(s.type) << " | `" << def << "` | "
                      << (s.reloadable ? "yes" : "no") << " | " << s.description << " |\n";
        }
        std::cout << "\n";
    };
    for (const auto& group : config::coreSchema()) {
        std::cout << "## " << group.path << "\n\n" << group.description << "\n\n";
        table(group.path + ".", group.settings);
    }
    // Provider sections come from the plugins found through --config.
    auto result = config::ConfigLoader::load(configFile_);
    if (!result.config) return;
    plugins::PluginHost host;
    std::vector<std::string> errors;
    host.discover(result.config->getPath("providers.plugin_dir"), errors);
    for (const auto& [name, settings] : host.schemas()) {
        std::cout << "## providers." << name << "\n\nProvider \"" << name << "\" (plugin setting group).\n\n";
        auto all = config::commonProviderSettings();
        all.insert(all.end(), settings.begin(), settings.end());
        table("providers." + name + ".", all);
    }
}

void ConsultdApplication::serveUntilStopped() {
    const std::string status = "serving on port " + std::to_string(runtime_.http->port()) + ", " +
                               std::to_string(runtime_.plugins->list().size()) + " provider(s)";
    Systemd::ready(status);
    daemonLog().notice("ready: " + status);
    const auto watchdog = Systemd::watchdogInterval();
    if (watchdog) Systemd::watchdog();

    const sigset_t set = daemonSignals();
    auto nextPing = std::chrono::steady_clock::now() + (watchdog ? *watchdog : std::chrono::microseconds(0));
    for (;;) {
        timespec timeout{0, 250 * 1000 * 1000};
        if (watchdog) {
            const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(nextPing - std::chrono::steady_clock::now());
            const auto ns = std::max<long long>(1000000, std::min<long long>(left.count(), 1000000000LL));
            timeout = {static_cast<time_t>(ns / 1000000000LL), static_cast<long>(ns % 1000000000LL)};
        }
        const int sig = sigtimedwait(&set, nullptr, &timeout);
        if (sig == SIGHUP) {
            reload();
        } else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            daemonLog().notice(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGQUIT"));
            Systemd::stopping("stopping: finishing requests");
            return;
        }
        if (watchdog && std::chrono::steady_clock::now() >= nextPing) {
            // Ping only while the store answers: a wedged database gets us restarted.
            if (runtime_.store->healthy()) Systemd::watchdog();
            else daemonLog().error("watchdog ping withheld: the database does not answer");
            nextPing = std::chrono::steady_clock::now() + *watchdog;
        }
    }
}

void ConsultdApplication::reload() {
    Systemd::reloading();
    daemonLog().notice("SIGHUP: reloading " + configFile_);
    const auto old = runtime_.currentConfig();
    auto result = config::ConfigLoader::load(configFile_);
    if (result.config && result.errors.empty()) {
        config::ConfigLoader::validateProviders(result, runtime_.plugins->schemas(),
                                                result.config->getPath("providers.plugin_dir"));
    }
    for (const auto& w : result.warnings) daemonLog().warning("config: " + w.format());
    if (!result.ok()) {
        for (const auto& e : result.errors) daemonLog().error("config: " + e.format());
        daemonLog().error("reload rejected: the new configuration is invalid; still running on the previous one");
        Systemd::ready("reload rejected (invalid configuration); running on the previous one");
        return;
    }
    // Settings that need a restart keep their old value.
    auto next = std::make_shared<config::Config>(*result.config);
    std::vector<std::string> needRestart;
    const auto reloadable = [&](const std::string& path) {
        for (const auto& group : config::coreSchema()) {
            for (const auto& s : group.settings) {
                if (group.path + "." + s.name == path) return s.reloadable;
            }
        }
        return false;  // provider settings: providers are built once
    };
    for (const auto& path : old->paths()) {
        if (!next->sameValue(*old, path) && !reloadable(path)) needRestart.push_back(path);
    }
    if (!needRestart.empty()) {
        std::string list;
        for (const auto& p : needRestart) list += (list.empty() ? "" : ", ") + p;
        daemonLog().warning("reload: changed settings need a restart and keep their running values: " + list);
        for (const auto& p : needRestart) next->keepValueFrom(*old, p);
    }
    try {
        runtime_.http->reloadTls(*next);
    } catch (const std::exception& e) {
        daemonLog().error(std::string("reload rejected: ") + e.what() + "; still running on the previous configuration");
        Systemd::ready("reload rejected (TLS certificate); running on the previous one");
        return;
    }
    log::setLevel(next->getString("logging.level"));
    try {
        if (runtime_.turnRelay && next->getString("turn.mode") == "embedded") {
            runtime_.turnRelay->setSharedSecret(next->readSecret("turn.secret_file"));
        }
        auto minter = std::make_shared<core::IceServerMinter>(*next, runtime_.embeddedTurnUrls);
        std::lock_guard lock(runtime_.iceMutex);
        runtime_.iceMinter = std::move(minter);
    } catch (const std::exception& e) {
        daemonLog().error(std::string("reload: TURN credentials: ") + e.what() + "; keeping the previous ones");
    }
    runtime_.setConfig(next);
    daemonLog().notice("configuration reloaded");
    Systemd::ready("serving (configuration reloaded)");
}

}  // namespace consultd::app
