// jitsi_grant_tool: loads a BUILT provider plugin the way the daemon does
// (dlopen RTLD_NOW|RTLD_LOCAL, API version checked before any C++ type is
// touched), creates every provider named in a key=value settings file and
// prints, as JSON, the grants it issues for each role. Used by
// verify_tokens.py, which checks the tokens with an independent JWT library.
//
//   jitsi_grant_tool PLUGIN.so SETTINGS_FILE [--room NAME]
//
// SETTINGS_FILE: one `<provider>.<setting> = <value>` per line, `#` comments.
// Exit codes: 0 ok, 2 plugin refused (load, symbols, version), 3 SettingError,
// 4 ProviderRejected, 1 anything else. Errors are printed as JSON on stdout.
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

/// The plugin could not be loaded or is not a consultd plugin of our API.
struct PluginRefused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string trim(const std::string& text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

/// provider -> (setting -> value)
std::map<std::string, std::map<std::string, std::string>> readSettingsFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::map<std::string, std::map<std::string, std::string>> groups;
    int lineNumber = 0;
    for (std::string line; std::getline(in, line);) {
        ++lineNumber;
        line = trim(line);
        if (line.empty() || line.front() == '#') continue;
        const auto equals = line.find('=');
        const std::string key = trim(line.substr(0, equals));
        const auto dot = key.find('.');
        if (equals == std::string::npos || dot == std::string::npos) {
            throw std::runtime_error(path + ":" + std::to_string(lineNumber) +
                                     ": expected <provider>.<setting> = <value>");
        }
        groups[key.substr(0, dot)][key.substr(dot + 1)] = trim(line.substr(equals + 1));
    }
    return groups;
}

const PluginModule& loadModule(const std::string& path) {
    // RTLD_LOCAL keeps the plugin's symbols from resolving another plugin's;
    // the handle is never closed, as in the daemon: objects from the module
    // live until exit.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) throw PluginRefused(path + ": " + dlerror());
    using VersionFn = int (*)();
    using ModuleFn = const PluginModule* (*)();
    auto version = reinterpret_cast<VersionFn>(dlsym(handle, "consultd_plugin_api_version"));
    if (version == nullptr) throw PluginRefused(path + ": no consultd_plugin_api_version symbol");
    if (version() != kProviderApiVersion) {
        throw PluginRefused(path + ": built against API " + std::to_string(version()) +
                            ", this tool provides " + std::to_string(kProviderApiVersion));
    }
    auto module = reinterpret_cast<ModuleFn>(dlsym(handle, "consultd_plugin_module"));
    if (module == nullptr || module() == nullptr) throw PluginRefused(path + ": no consultd_plugin_module");
    return *module();
}

Poco::JSON::Object::Ptr grantJson(const JoinGrant& grant) {
    auto json = Poco::makeShared<Poco::JSON::Object>();
    json->set("room", grant.room);
    json->set("token", grant.token);
    json->set("join_url", grant.joinUrl);
    json->set("expires_at", static_cast<Poco::Int64>(grant.expiresAt));
    auto ice = Poco::makeShared<Poco::JSON::Array>();
    for (const IceServer& server : grant.iceServers) {
        auto entry = Poco::makeShared<Poco::JSON::Object>();
        auto urls = Poco::makeShared<Poco::JSON::Array>();
        for (const std::string& url : server.urls) urls->add(url);
        entry->set("urls", urls);
        entry->set("username", server.username);
        entry->set("credential", server.credential);
        ice->add(entry);
    }
    json->set("ice_servers", ice);
    auto client = Poco::makeShared<Poco::JSON::Object>();
    for (const auto& [key, value] : grant.client) client->set(key, value);
    json->set("client", client);
    return json;
}

Poco::JSON::Object::Ptr capabilitiesJson(const Capabilities& caps) {
    auto json = Poco::makeShared<Poco::JSON::Object>();
    json->set("video", caps.video);
    json->set("voice_only", caps.voiceOnly);
    json->set("chat", caps.chat);
    json->set("recording", caps.recording);
    json->set("screen_share", caps.screenShare);
    json->set("webhooks", caps.webhooks);
    return json;
}

Poco::JSON::Object::Ptr errorJson(const std::string& type, const std::string& message,
                                  const std::string& provider, const std::string& setting = {}) {
    auto error = Poco::makeShared<Poco::JSON::Object>();
    error->set("type", type);
    error->set("message", message);
    error->set("provider", provider);
    if (!setting.empty()) error->set("setting", setting);
    auto json = Poco::makeShared<Poco::JSON::Object>();
    json->set("error", error);
    return json;
}

int run(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: jitsi_grant_tool PLUGIN.so SETTINGS_FILE [--room NAME]\n";
        return 1;
    }
    std::string room = "consult-room-1";
    for (int i = 3; i + 1 < argc; i += 2) {
        if (std::string(argv[i]) == "--room") room = argv[i + 1];
    }
    const auto groups = readSettingsFile(argv[2]);

    const PluginModule* module = nullptr;
    try {
        module = &loadModule(argv[1]);
    } catch (const PluginRefused& refused) {
        errorJson("PluginRefused", refused.what(), "")->stringify(std::cout);
        std::cout << '\n';
        return 2;
    }

    auto output = Poco::makeShared<Poco::JSON::Object>();
    output->set("api_version", kProviderApiVersion);
    output->set("module", std::string(module->moduleName));
    output->set("module_version", std::string(module->moduleVersion));
    auto factoryNames = Poco::makeShared<Poco::JSON::Array>();
    auto providers = Poco::makeShared<Poco::JSON::Object>();

    for (const ProviderFactory* factory : module->factories) {
        const std::string name = factory->name();
        factoryNames->add(name);
        const auto group = groups.find(name);
        if (group == groups.end()) continue;
        try {
            // Destroyed in reverse order: the provider before its context.
            testing::TestProviderContext context(
                std::make_unique<testing::KeyValueSettings>(factory->settings(), group->second), {},
                /*echoLog=*/true);
            const std::unique_ptr<Provider> provider = factory->create(context);

            SessionView session;
            session.id = "ses-" + room;
            session.roomName = room;
            auto json = Poco::makeShared<Poco::JSON::Object>();
            json->set("name", provider->name());
            json->set("capabilities", capabilitiesJson(provider->capabilities()));
            json->set("healthy", provider->health().state == Health::State::Healthy);
            session.providerRoomId = provider->createRoom(session).providerRoomId;
            json->set("provider_room_id", session.providerRoomId);
            auto grants = Poco::makeShared<Poco::JSON::Object>();
            for (Role role : {Role::Host, Role::Patient, Role::Guest, Role::Device}) {
                ParticipantView participant;
                participant.id = std::string("participant-") + roleName(role);
                participant.name = std::string("Test \"") + roleName(role) + "\" \xc3\x9c";
                participant.email = std::string(roleName(role)) + "@example.org";
                participant.role = role;
                grants->set(roleName(role), grantJson(provider->issueGrant(session, participant)));
            }
            json->set("grants", grants);
            providers->set(name, json);
        } catch (const SettingError& error) {
            errorJson("SettingError", error.what(), name, error.setting())->stringify(std::cout);
            std::cout << '\n';
            return 3;
        } catch (const ProviderRejected& rejected) {
            errorJson("ProviderRejected", rejected.what(), name)->stringify(std::cout);
            std::cout << '\n';
            return 4;
        }
    }
    for (const auto& [name, values] : groups) {
        if (!providers->has(name)) {
            errorJson("UnknownProvider", "no factory named " + name, name)->stringify(std::cout);
            std::cout << '\n';
            return 1;
        }
    }
    output->set("factories", factoryNames);
    output->set("providers", providers);
    output->stringify(std::cout, 2);
    std::cout << '\n';
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        std::cerr << "jitsi_grant_tool: " << error.what() << '\n';
        return 1;
    }
}
