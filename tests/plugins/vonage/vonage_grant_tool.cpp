// vonage_grant_tool: loads the BUILT vonage.so the way the daemon does
// (dlopen RTLD_NOW|RTLD_LOCAL, API version checked before any C++ type is
// touched), creates the "vonage" provider from a key=value settings file,
// creates a room (against whatever api_base_url names: the tests' fake
// server), issues a grant per role and prints everything as JSON. Used by
// verify_vonage_tokens.py, which checks the tokens with PyJWT.
//
//   vonage_grant_tool PLUGIN.so SETTINGS_FILE [--mode video|voice|chat] [--record]
//                     [--long-name]
//
// SETTINGS_FILE: one `vonage.<setting> = <value>` per line, `#` comments.
// Exit codes: 0 ok, 2 plugin refused, 3 SettingError, 4 ProviderRejected,
// 5 ProviderUnavailable, 1 anything else. Errors are printed as JSON on stdout.
// This is a test tool: it prints tokens, which the daemon never does.
#include "KeyValueSettings.h"
#include "TestProviderContext.h"

#include "consultd/provider.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <dlfcn.h>

#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

using namespace consultd;

namespace {

struct PluginRefused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::map<std::string, std::string> readSettings(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::map<std::string, std::string> values;
    for (std::string line; std::getline(in, line);) {
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        const auto equals = line.find('=');
        const std::string key = trim(line.substr(0, equals));
        if (equals == std::string::npos || key.rfind("vonage.", 0) != 0) {
            throw std::runtime_error(path + ": expected vonage.<setting> = <value>");
        }
        values[key.substr(7)] = trim(line.substr(equals + 1));
    }
    return values;
}

const PluginModule& loadModule(const std::string& path) {
    // Never closed, as in the daemon: objects from the module live until exit.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) throw PluginRefused(path + ": " + dlerror());
    using VersionFn = int (*)();
    using ModuleFn = const PluginModule* (*)();
    auto version = reinterpret_cast<VersionFn>(dlsym(handle, "consultd_plugin_api_version"));
    if (version == nullptr) throw PluginRefused(path + ": no consultd_plugin_api_version symbol");
    if (version() != kProviderApiVersion) {
        throw PluginRefused(path + ": built against API " + std::to_string(version()) + ", this tool provides " +
                            std::to_string(kProviderApiVersion));
    }
    auto module = reinterpret_cast<ModuleFn>(dlsym(handle, "consultd_plugin_module"));
    if (module == nullptr || module() == nullptr) throw PluginRefused(path + ": no consultd_plugin_module");
    return *module();
}

int fail(const std::string& type, const std::string& message, int code, const std::string& setting = {}) {
    Poco::JSON::Object error;
    error.set("type", type);
    error.set("message", message);
    if (!setting.empty()) error.set("setting", setting);
    Poco::JSON::Object json;
    json.set("error", error);
    json.stringify(std::cout);
    std::cout << '\n';
    return code;
}

Poco::JSON::Object::Ptr grantJson(const JoinGrant& grant) {
    auto json = Poco::makeShared<Poco::JSON::Object>();
    json->set("room", grant.room);
    json->set("token", grant.token);
    json->set("join_url", grant.joinUrl);
    json->set("expires_at", static_cast<Poco::Int64>(grant.expiresAt));
    json->set("ice_server_count", static_cast<int>(grant.iceServers.size()));
    auto client = Poco::makeShared<Poco::JSON::Object>();
    for (const auto& [key, value] : grant.client) client->set(key, value);
    json->set("client", client);
    return json;
}

int run(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: vonage_grant_tool PLUGIN.so SETTINGS_FILE [--mode M] [--record] [--long-name]\n";
        return 1;
    }
    Mode mode = Mode::Video;
    bool record = false;
    bool longName = false;
    for (int i = 3; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--mode" && i + 1 < argc) {
            const auto parsed = parseMode(argv[++i]);
            if (!parsed) throw std::runtime_error("unknown mode");
            mode = *parsed;
        } else if (arg == "--record") {
            record = true;
        } else if (arg == "--long-name") {
            longName = true;
        } else {
            throw std::runtime_error("unknown argument " + arg);
        }
    }
    const auto values = readSettings(argv[2]);

    const PluginModule* module = nullptr;
    try {
        module = &loadModule(argv[1]);
    } catch (const PluginRefused& refused) {
        return fail("PluginRefused", refused.what(), 2);
    }
    const ProviderFactory* factory = nullptr;
    for (const ProviderFactory* candidate : module->factories) {
        if (candidate->name() == "vonage") factory = candidate;
    }
    if (factory == nullptr) return fail("UnknownProvider", "no factory named vonage", 1);

    try {
        testing::TestProviderContext context(std::make_unique<testing::KeyValueSettings>(factory->settings(), values),
                                             {}, /*echoLog=*/true);
        const std::unique_ptr<Provider> provider = factory->create(context);

        SessionView session;
        session.id = "ses-grant-tool";
        session.roomName = "ses-grant-tool";
        session.mode = mode;
        session.providerRoomId = provider->createRoom(session).providerRoomId;

        Poco::JSON::Object output;
        output.set("module", std::string(module->moduleName));
        output.set("api_version", kProviderApiVersion);
        output.set("provider_room_id", session.providerRoomId);
        output.set("mode", std::string(modeName(mode)));
        auto grants = Poco::makeShared<Poco::JSON::Object>();
        for (Role role : {Role::Host, Role::Patient, Role::Guest, Role::Device}) {
            ParticipantView participant;
            participant.id = std::string("participant-") + roleName(role);
            participant.name = std::string("Test \"") + roleName(role) + "\" \xc3\x9c";
            if (longName) {
                participant.name.clear();
                for (int i = 0; i < 700; ++i) participant.name += "\xc3\xa9";  // 1400 bytes of é
            }
            participant.email = std::string(roleName(role)) + "@example.org";
            participant.role = role;
            grants->set(roleName(role), grantJson(provider->issueGrant(session, participant)));
        }
        output.set("grants", grants);
        try {
            provider->issueGrant(session, ParticipantView{"rec", "Recorder", "", Role::Recorder});
            output.set("recorder", std::string("granted"));
        } catch (const ProviderRejected&) {
            output.set("recorder", std::string("rejected"));
        }
        if (record) {
            provider->startRecording(session);
            provider->stopRecording(session);
            output.set("recorded", true);
        }
        output.set("health", std::string(provider->health().state == Health::State::Healthy ? "healthy" : "not healthy"));
        output.stringify(std::cout, 2);
        std::cout << '\n';
        return 0;
    } catch (const SettingError& error) {
        return fail("SettingError", error.what(), 3, error.setting());
    } catch (const ProviderRejected& rejected) {
        return fail("ProviderRejected", rejected.what(), 4);
    } catch (const ProviderUnavailable& unavailable) {
        return fail("ProviderUnavailable", unavailable.what(), 5);
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        std::cerr << "vonage_grant_tool: " << error.what() << '\n';
        return 1;
    }
}
