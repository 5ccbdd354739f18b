// daemon/src/plugins/PluginHost driven directly with real .so files built by
// this folder (fixtures/): a good minimal provider, one built against another
// API version, one missing consultd_plugin_module, one whose factories throw
// (SettingError and a plain exception), and a duplicate provider name.
#include "config/Config.h"
#include "consultd/provider.h"
#include "plugins/PluginHost.h"

#include <cppunit/extensions/HelperMacros.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace consultd::plugins::test {
namespace {

std::string fixtureDir(const std::string& name) { return std::string(CONSULTD_TEST_PLUGIN_ROOT) + "/" + name; }
std::string fixtureFile(const std::string& dir, const std::string& file) { return fixtureDir(dir) + "/" + file; }

/// mkdtemp() folder removed on destruction.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "consultd-pluginhost-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

void writeFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + path);
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += "\n  " + l;
    return out;
}

std::string joined(const std::vector<config::Diagnostic>& diags) {
    std::string out;
    for (const auto& d : diags) out += "\n  " + d.format();
    return out;
}

/// Config text with `providerGroups` inside `providers = { ... }`. The
/// providers group opens on line 1, so the first line of `providerGroups`
/// is line 4.
std::string configText(const std::string& pluginDir, const std::string& defaultProvider,
                       const std::string& providerGroups) {
    return "providers = {\n"
           "  plugin_dir = \"" + pluginDir + "\";\n"
           "  default = \"" + defaultProvider + "\";\n" +
           providerGroups + "};\n";
}

/// Loads and validates a config against the host's plugin schemas, like the daemon.
config::ConfigLoader::Result loadConfig(const PluginHost& host, const std::string& file, const std::string& text,
                                        const std::string& pluginDir) {
    writeFile(file, text);
    auto result = config::ConfigLoader::load(file);
    config::ConfigLoader::validateProviders(result, host.schemas(), pluginDir);
    return result;
}

}  // namespace

class PluginHostTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PluginHostTest);
    CPPUNIT_TEST(goodPluginLoadsAndServes);
    CPPUNIT_TEST(providerSettingsAreValidatedAgainstThePluginSchema);
    CPPUNIT_TEST(disabledProviderIsNotCreated);
    CPPUNIT_TEST(wrongApiVersionIsRefusedBeforeAnyCall);
    CPPUNIT_TEST(missingModuleSymbolIsRefused);
    CPPUNIT_TEST(factorySettingErrorNamesFileLineAndSetting);
    CPPUNIT_TEST(factoryExceptionNamesTheModule);
    CPPUNIT_TEST(enabledProviderWithoutPluginIsAnError);
    CPPUNIT_TEST(duplicateProviderNameIsRefused);
    CPPUNIT_TEST(missingFolderIsReported);
    CPPUNIT_TEST(fileThatIsNotASharedObjectIsReported);
    CPPUNIT_TEST(otherFilesAreIgnored);
    CPPUNIT_TEST(goodPluginStillLoadsBesideBadOnes);
    CPPUNIT_TEST_SUITE_END();

public:
    void goodPluginLoadsAndServes() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("good"), errors);
        CPPUNIT_ASSERT_MESSAGE("unexpected errors:" + joined(errors), errors.empty());
        const auto schemas = host.schemas();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, schemas.size());
        CPPUNIT_ASSERT(schemas.count("itest") == 1);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, schemas.at("itest").size());

        TempDir dir;
        auto config = loadConfig(host, dir.file("c.conf"),
                                 configText(fixtureDir("good"), "itest",
                                            "  itest = {\n    enabled = true;\n    greeting = \"hi\";\n"
                                            "    limit = 7;\n  };\n"),
                                 fixtureDir("good"));
        CPPUNIT_ASSERT_MESSAGE("config errors:" + joined(config.errors), config.ok());
        int iceCalls = 0;
        host.createProviders(
            config.config,
            [&](const std::string&, const std::string&) {
                ++iceCalls;
                return std::vector<IceServer>{};
            },
            "https://consult.invalid", errors);
        CPPUNIT_ASSERT_MESSAGE("create errors:" + joined(errors), errors.empty());

        Provider* provider = host.find("itest");
        CPPUNIT_ASSERT(provider != nullptr);
        CPPUNIT_ASSERT(host.find("jitsi") == nullptr);
        CPPUNIT_ASSERT_EQUAL(std::string("itest"), provider->name());
        CPPUNIT_ASSERT(provider->capabilities().video);
        CPPUNIT_ASSERT(!provider->capabilities().recording);

        SessionView session;
        session.id = "ses_1";
        session.roomName = "consult-abc";
        session.providerRoomId = provider->createRoom(session).providerRoomId;
        CPPUNIT_ASSERT_EQUAL(std::string("itest-consult-abc"), session.providerRoomId);
        ParticipantView who;
        who.id = "pat-1";
        who.role = Role::Patient;
        const JoinGrant grant = provider->issueGrant(session, who);
        // The validated settings reached the provider through its context.
        CPPUNIT_ASSERT_EQUAL(std::string("hi:pat-1:7"), grant.token);
        CPPUNIT_ASSERT_EQUAL(std::string("patient"), grant.client.at("role"));
        CPPUNIT_ASSERT(provider->health().state == Health::State::Degraded);
        // Defaults of the plugin API (no-op closeRoom, recording refused).
        provider->closeRoom(session);
        CPPUNIT_ASSERT_THROW(provider->startRecording(session), ProviderRejected);
        CPPUNIT_ASSERT_THROW(provider->handleWebhook({}), WebhookRejected);

        const auto list = host.list();
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, list.size());
        CPPUNIT_ASSERT_EQUAL(std::string("itest"), list[0].name);
        CPPUNIT_ASSERT_EQUAL(fixtureFile("good", "good_plugin.so"), list[0].modulePath);
        CPPUNIT_ASSERT_EQUAL(std::string("good_plugin"), list[0].moduleName);
        CPPUNIT_ASSERT_EQUAL(std::string("9.9.9"), list[0].moduleVersion);
        CPPUNIT_ASSERT(list[0].provider == provider);
    }

    void providerSettingsAreValidatedAgainstThePluginSchema() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("good"), errors);
        CPPUNIT_ASSERT(errors.empty());
        TempDir dir;
        const std::string file = dir.file("c.conf");
        auto config = loadConfig(host, file,
                                 configText(fixtureDir("good"), "itest",
                                            "  itest = {\n    enabled = true;\n    limit = 11;\n"
                                            "    greting = \"typo\";\n  };\n"),
                                 fixtureDir("good"));
        CPPUNIT_ASSERT(!config.ok());
        const std::string all = joined(config.errors);
        CPPUNIT_ASSERT_MESSAGE(all, contains(all, file + ":6: providers.itest.limit: value 11 is out of range 1..10"));
        CPPUNIT_ASSERT_MESSAGE(all, contains(all, file + ":7: providers.itest.greting: unknown setting"));
    }

    void disabledProviderIsNotCreated() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("good"), errors);
        TempDir dir;
        // default must name an enabled provider, so enable nothing and check
        // only what createProviders builds.
        writeFile(dir.file("c.conf"), configText(fixtureDir("good"), "itest", "  itest = {\n    enabled = false;\n  };\n"));
        auto config = config::ConfigLoader::load(dir.file("c.conf"));
        CPPUNIT_ASSERT(config.config);
        host.createProviders(config.config, nullptr, "https://consult.invalid", errors);
        CPPUNIT_ASSERT_MESSAGE(joined(errors), errors.empty());
        CPPUNIT_ASSERT(host.list().empty());
        CPPUNIT_ASSERT(host.find("itest") == nullptr);
    }

    void wrongApiVersionIsRefusedBeforeAnyCall() {
        PluginHost host;
        std::vector<std::string> errors;
        // consultd_plugin_module() of this fixture aborts: reaching it kills the test.
        host.discover(fixtureDir("wrong_api"), errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{1}, errors.size());
        const std::string& e = errors[0];
        CPPUNIT_ASSERT_MESSAGE(e, contains(e, fixtureFile("wrong_api", "wrong_api_plugin.so")));
        CPPUNIT_ASSERT_MESSAGE(e, contains(e, "built against plugin API " + std::to_string(kProviderApiVersion + 1)));
        CPPUNIT_ASSERT_MESSAGE(e, contains(e, "this daemon provides " + std::to_string(kProviderApiVersion)));
        CPPUNIT_ASSERT(host.schemas().empty());
    }

    void missingModuleSymbolIsRefused() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("no_module"), errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{1}, errors.size());
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], fixtureFile("no_module", "no_module_plugin.so")));
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "consultd_plugin_module"));
        CPPUNIT_ASSERT(host.schemas().empty());
    }

    void factorySettingErrorNamesFileLineAndSetting() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("throwing"), errors);
        CPPUNIT_ASSERT_MESSAGE(joined(errors), errors.empty());
        TempDir dir;
        const std::string file = dir.file("c.conf");
        auto config = loadConfig(host, file,
                                 configText(fixtureDir("throwing"), "itest_throw",
                                            "  itest_throw = {\n    enabled = true;\n    mode = \"weird\";\n  };\n"),
                                 fixtureDir("throwing"));
        CPPUNIT_ASSERT_MESSAGE(joined(config.errors), config.ok());
        host.createProviders(config.config, nullptr, "https://consult.invalid", errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{1}, errors.size());
        // The plugin names its setting as "mode" (like plugins/jitsi does);
        // the admin must be pointed at the file, line and full setting path.
        const std::string want = file + ":6: providers.itest_throw.mode: \"weird\" is not supported by this plugin";
        CPPUNIT_ASSERT_EQUAL(want, errors[0]);
        CPPUNIT_ASSERT(host.find("itest_throw") == nullptr);
        CPPUNIT_ASSERT(host.list().empty());
    }

    void factoryExceptionNamesTheModule() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("throwing"), errors);
        TempDir dir;
        auto config = loadConfig(host, dir.file("c.conf"),
                                 configText(fixtureDir("throwing"), "itest_fail", "  itest_fail = {\n    enabled = true;\n  };\n"),
                                 fixtureDir("throwing"));
        CPPUNIT_ASSERT_MESSAGE(joined(config.errors), config.ok());
        host.createProviders(config.config, nullptr, "https://consult.invalid", errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{1}, errors.size());
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], fixtureFile("throwing", "throwing_plugin.so")));
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "itest_fail"));
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "upstream handshake failed (test)"));
        CPPUNIT_ASSERT(host.find("itest_fail") == nullptr);
    }

    void enabledProviderWithoutPluginIsAnError() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("good"), errors);
        TempDir dir;
        const std::string file = dir.file("c.conf");
        const std::string text = configText(fixtureDir("good"), "itest",
                                            "  itest = {\n    enabled = true;\n  };\n"
                                            "  ghost = {\n    enabled = true;\n  };\n");
        auto config = loadConfig(host, file, text, fixtureDir("good"));
        CPPUNIT_ASSERT(!config.ok());
        const std::string all = joined(config.errors);
        CPPUNIT_ASSERT_MESSAGE(all, contains(all, file + ":7: providers.ghost: provider \"ghost\" is enabled but no plugin"));
        // createProviders on the raw config says the same.
        writeFile(file, text);
        auto raw = config::ConfigLoader::load(file);
        host.createProviders(raw.config, nullptr, "https://consult.invalid", errors);
        CPPUNIT_ASSERT_MESSAGE(joined(errors), contains(joined(errors), "providers.ghost: enabled but no plugin provides it"));
        CPPUNIT_ASSERT(host.find("ghost") == nullptr);
    }

    void duplicateProviderNameIsRefused() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(fixtureDir("duplicate"), errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{1}, errors.size());
        // Files load in name order: the copy (b_...) loses to a_....
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], fixtureFile("duplicate", "b_good_plugin_copy.so")));
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "\"itest\" is already provided by " +
                                                                  fixtureFile("duplicate", "a_good_plugin.so")));
    }

    void missingFolderIsReported() {
        PluginHost host;
        std::vector<std::string> errors;
        host.discover("/nonexistent/consultd/plugins", errors);
        CPPUNIT_ASSERT_EQUAL(std::size_t{1}, errors.size());
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "/nonexistent/consultd/plugins"));
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "does not exist"));
    }

    void fileThatIsNotASharedObjectIsReported() {
        TempDir dir;
        writeFile(dir.file("broken.so"), "this is not an ELF file\n");
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(dir.path(), errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{1}, errors.size());
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], dir.file("broken.so") + ": cannot load"));
    }

    void otherFilesAreIgnored() {
        TempDir dir;
        writeFile(dir.file("README.txt"), "not a plugin\n");
        writeFile(dir.file("jitsi.so.disabled"), "not loaded either\n");
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(dir.path(), errors);
        CPPUNIT_ASSERT_MESSAGE(joined(errors), errors.empty());
        CPPUNIT_ASSERT(host.schemas().empty());
    }

    void goodPluginStillLoadsBesideBadOnes() {
        TempDir dir;
        fs::create_symlink(fixtureFile("good", "good_plugin.so"), dir.file("good_plugin.so"));
        fs::create_symlink(fixtureFile("wrong_api", "wrong_api_plugin.so"), dir.file("wrong_api_plugin.so"));
        fs::create_symlink(fixtureFile("no_module", "no_module_plugin.so"), dir.file("no_module_plugin.so"));
        PluginHost host;
        std::vector<std::string> errors;
        host.discover(dir.path(), errors);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(joined(errors), std::size_t{2}, errors.size());
        CPPUNIT_ASSERT_MESSAGE(errors[0], contains(errors[0], "no_module_plugin.so"));
        CPPUNIT_ASSERT_MESSAGE(errors[1], contains(errors[1], "wrong_api_plugin.so"));
        CPPUNIT_ASSERT(host.schemas().count("itest") == 1);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PluginHostTest);

}  // namespace consultd::plugins::test
