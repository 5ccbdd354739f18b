#include "app/DeviceCli.h"

#include "config/Config.h"
#include "core/ApiError.h"
#include "core/DeviceService.h"
#include "http/JoinJson.h"
#include "store/Store.h"
#include "util/Time.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace consultd::app {

std::string databasePath(const config::Config& config);  // app/Subsystems.cpp

namespace {

constexpr int kOk = 0;
constexpr int kFailed = 1;
constexpr int kUsage = 2;
constexpr int kConfig = 78;

constexpr const char* kUsageText =
    "usage: consultd device create --name NAME [--room ROOM] [--json]\n"
    "       consultd device list [--json]\n"
    "       consultd device enrollment-code DEVICE_ID [--json]\n"
    "       consultd device revoke DEVICE_ID [--json]\n"
    "options: --config FILE (default /etc/consultd/consultd.conf)\n";

struct DeviceArgs {
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;
    bool ok = true;
};

DeviceArgs parse(int argc, char** argv) {
    DeviceArgs args;
    for (int i = 2; i < argc; ++i) {
        std::string word = argv[i];
        if (word == "--json" || word == "--help" || word == "-h") {
            args.options[word == "-h" ? "help" : word.substr(2)] = "";
        } else if (word.rfind("--", 0) == 0) {
            const auto eq = word.find('=');
            if (eq != std::string::npos) {
                args.options[word.substr(2, eq - 2)] = word.substr(eq + 1);
            } else if (i + 1 < argc) {
                args.options[word.substr(2)] = argv[++i];
            } else {
                args.ok = false;
            }
        } else {
            args.positional.push_back(word);
        }
    }
    return args;
}

std::string cliActor() {
    if (const char* sudoUser = std::getenv("SUDO_USER"); sudoUser != nullptr && *sudoUser != '\0') {
        return std::string("cli:") + sudoUser;
    }
    if (const passwd* account = ::getpwuid(::geteuid()); account != nullptr) return std::string("cli:") + account->pw_name;
    return "cli:uid" + std::to_string(::geteuid());
}

void printDevice(const store::DeviceRecord& d, const std::string& code) {
    std::cout << d.id << "  " << d.name << "  room \"" << d.roomName << "\"  " << d.status;
    if (d.enrolledAt) std::cout << "  enrolled " << util::formatRfc3339(d.enrolledAt);
    if (d.lastSeenAt) std::cout << "  last seen " << util::formatRfc3339(d.lastSeenAt);
    if (d.revokedAt) std::cout << "  revoked " << util::formatRfc3339(d.revokedAt);
    std::cout << "\n";
    if (!code.empty()) {
        std::cout << "enrollment code (shown only now, valid until " << util::formatRfc3339(d.enrollmentExpiresAt)
                  << "): " << code << "\nOpen /kiosk on the device and type it in.\n";
    }
}

void printDeviceJson(const store::DeviceRecord& d, const std::string& code) {
    auto out = http::deviceJson(d);
    if (!code.empty()) out->set("enrollment_code", code);
    out->stringify(std::cout);
    std::cout << "\n";
}

int run(const DeviceArgs& args) {
    const std::string sub = args.positional.empty() ? "" : args.positional[0];
    const bool json = args.options.count("json") != 0;
    const auto option = [&](const char* name) {
        const auto it = args.options.find(name);
        return it == args.options.end() ? std::string() : it->second;
    };
    if (!args.ok || args.options.count("help") || (sub != "create" && sub != "list" && sub != "revoke" &&
                                                    sub != "enrollment-code")) {
        std::cerr << kUsageText;
        return args.options.count("help") ? kOk : kUsage;
    }
    const std::string name = option("name");
    if (sub == "create" && (name.empty() || name.size() > 100 || option("room").size() > 100)) {
        std::cerr << "consultd device create: --name (1-100 characters) is required; --room is at most 100\n" << kUsageText;
        return kUsage;
    }
    if ((sub == "revoke" || sub == "enrollment-code") && args.positional.size() != 2) {
        std::cerr << kUsageText;
        return kUsage;
    }

    const std::string configFile = args.options.count("config") ? option("config") : "/etc/consultd/consultd.conf";
    auto loaded = config::ConfigLoader::load(configFile);
    if (!loaded.config || !loaded.errors.empty()) {
        for (const auto& e : loaded.errors) std::cerr << e.format() << "\n";
        if (!loaded.config && loaded.errors.empty()) std::cerr << configFile << ": cannot be read\n";
        return kConfig;
    }
    std::shared_ptr<const config::Config> config = loaded.config;
    store::StoreOptions options;
    options.path = databasePath(*config);
    options.busyTimeoutMs = static_cast<int>(config->getInt("storage.busy_timeout_ms"));
    options.readConnections = 1;
    if (!fs::is_directory(fs::path(options.path).parent_path())) {
        std::cerr << "cannot open the database " << options.path << ": its folder does not exist (storage.state_dir)\n";
        return kFailed;
    }
    auto store = store::Store::open(options);
    core::DeviceService devices(*store, [config] { return config; });
    const core::Actor actor{cliActor(), ""};

    if (sub == "list") {
        const auto all = devices.list();
        if (json) {
            Poco::JSON::Object out;
            Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
            for (const auto& d : all) items->add(http::deviceJson(d));
            out.set("devices", items);
            out.stringify(std::cout);
            std::cout << "\n";
        } else {
            if (all.empty()) std::cout << "no devices\n";
            for (const auto& d : all) printDevice(d, "");
        }
        return kOk;
    }
    core::NewDevice result;
    if (sub == "create") {
        result = devices.create(name, option("room"), actor);
    } else if (sub == "enrollment-code") {
        result = devices.newEnrollmentCode(args.positional[1], actor);
    } else {
        result.device = devices.revoke(args.positional[1], actor);
    }
    if (json) {
        printDeviceJson(result.device, result.enrollmentCode);
    } else {
        printDevice(result.device, result.enrollmentCode);
    }
    return kOk;
}

}  // namespace

int runDeviceCommand(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const core::ApiError& e) {
        std::cerr << "consultd device: " << e.what() << "\n";
        return kFailed;
    } catch (const std::exception& e) {
        std::cerr << "consultd device: " << e.what() << "\n";
        return kFailed;
    }
}

}  // namespace consultd::app
