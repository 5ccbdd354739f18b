// ConfigLoader: every validation path, locations, conf.d order, secrets.
#include "config/Config.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using consultd::SettingSpec;
using consultd::SettingType;
using consultd::config::ConfigLoader;

namespace {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/consultd-config-XXXXXX";
        path_ = ::mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
        const auto file = fs::path(path_) / name;
        fs::create_directories(file.parent_path());
        std::ofstream(file) << text;
        ::chmod(file.c_str(), mode);
        return file.string();
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

bool hasError(const ConfigLoader::Result& r, const std::string& needle) {
    for (const auto& e : r.errors) {
        if (e.format().find(needle) != std::string::npos) return true;
    }
    return false;
}

std::string allErrors(const ConfigLoader::Result& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.format() + "\n";
    return out;
}

std::map<std::string, std::vector<SettingSpec>> demoSchemas() {
    SettingSpec domain;
    domain.name = "domain";
    domain.type = SettingType::String;
    domain.required = true;
    SettingSpec ttl;
    ttl.name = "ttl";
    ttl.type = SettingType::Int;
    ttl.defaultValue = "60";
    ttl.min = 10;
    ttl.max = 100;
    return {{"demo", {domain, ttl}}};
}

const std::string kMinimal = "providers = { default = \"demo\"; demo = { enabled = true; domain = \"x\"; }; };\n";

}  // namespace

class ConfigLoaderTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ConfigLoaderTest);
    CPPUNIT_TEST(validMinimalConfigHasDefaults);
    CPPUNIT_TEST(unknownSettingIsAnErrorWithLine);
    CPPUNIT_TEST(unknownGroupIsAnError);
    CPPUNIT_TEST(wrongTypeIsAnError);
    CPPUNIT_TEST(outOfRangeIsAnError);
    CPPUNIT_TEST(valueNotInAllowedListIsAnError);
    CPPUNIT_TEST(syntaxErrorNamesFileAndLine);
    CPPUNIT_TEST(confDOverridesInNameOrder);
    CPPUNIT_TEST(errorInConfDNamesThatFile);
    CPPUNIT_TEST(missingSecretFileIsAnError);
    CPPUNIT_TEST(worldReadableSecretWarns);
    CPPUNIT_TEST(relativePathsAreRelativeToTheirFile);
    CPPUNIT_TEST(providerRequiredSettingMustBeSetWhenEnabled);
    CPPUNIT_TEST(disabledProviderNeedNotBeComplete);
    CPPUNIT_TEST(providerSettingRangeChecked);
    CPPUNIT_TEST(enabledProviderWithoutPluginIsAnError);
    CPPUNIT_TEST(defaultProviderMustBeEnabled);
    CPPUNIT_TEST(noProviderEnabledIsOnlyAWarning);
    CPPUNIT_TEST(turnModeNeedsSecret);
    CPPUNIT_TEST(tlsNeedsCertificate);
    CPPUNIT_TEST(listOfStringsChecked);
    CPPUNIT_TEST(keepValueFromRestoresOldValue);
    CPPUNIT_TEST_SUITE_END();

public:
    void validMinimalConfigHasDefaults() {
        TempDir dir;
        auto r = ConfigLoader::load(dir.write("consultd.conf", kMinimal));
        ConfigLoader::validateProviders(r, demoSchemas(), "/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), r.ok());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{8080}, r.config->getInt("server.port"));
        CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), r.config->getString("server.listen_address"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{60}, r.config->getInt("providers.demo.ttl"));
        CPPUNIT_ASSERT(r.config->providerEnabled("demo"));
    }

    void unknownSettingIsAnErrorWithLine() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "server = {\n  port = 8081;\n  prot = 1;\n};\n" + kMinimal);
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":3: server.prot: unknown setting (did you mean port?)"));
    }

    void unknownGroupIsAnError() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "sever = { port = 1; };\n");
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":1: sever: unknown group"));
    }

    void wrongTypeIsAnError() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "server = { port = \"8080\"; tls = 1; };\n");
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "server.port: expected an integer, got a string"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "server.tls: expected a boolean (true/false), got a integer"));
    }

    void outOfRangeIsAnError() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "server = { port = 70000; };\n");
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":1: server.port: value 70000 is out of range 0..65535"));
    }

    void valueNotInAllowedListIsAnError() {
        TempDir dir;
        auto r = ConfigLoader::load(dir.write("consultd.conf", "logging = { level = \"verbose\"; };\n"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "logging.level: \"verbose\" is not one of: error, warning, notice, info, debug"));
    }

    void syntaxErrorNamesFileAndLine() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "server = {\n  port = 80;\n  tls = = true;\n};\n");
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT(!r.ok());
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":3: syntax error"));
    }

    void confDOverridesInNameOrder() {
        TempDir dir;
        const auto main = dir.write("consultd.conf", "server = { port = 1000; };\n" + kMinimal);
        dir.write("conf.d/20-b.conf", "server = { port = 3000; };\n");
        dir.write("conf.d/10-a.conf", "server = { port = 2000; threads = 8; };\n");
        dir.write("conf.d/ignored.txt", "server = { port = 9; };\n");
        auto r = ConfigLoader::load(main);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), r.errors.empty());
        CPPUNIT_ASSERT_EQUAL(std::int64_t{3000}, r.config->getInt("server.port"));
        CPPUNIT_ASSERT_EQUAL(std::int64_t{8}, r.config->getInt("server.threads"));
        CPPUNIT_ASSERT_EQUAL(std::size_t{3}, r.config->files().size());
        CPPUNIT_ASSERT(r.config->locationOf("server.port").file.find("20-b.conf") != std::string::npos);
    }

    void errorInConfDNamesThatFile() {
        TempDir dir;
        const auto main = dir.write("consultd.conf", kMinimal);
        const auto extra = dir.write("conf.d/50-local.conf", "\nsessions = { max_participant = 3; };\n");
        auto r = ConfigLoader::load(main);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, extra + ":2: sessions.max_participant: unknown setting"));
    }

    void missingSecretFileIsAnError() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "turn = { mode = \"external\"; secret_file = \"nope\"; external_servers = [\"turn:a:3478\"]; };\n");
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "turn.secret_file: cannot read secret file " + dir.path() + "/nope"));
    }

    void worldReadableSecretWarns() {
        TempDir dir;
        dir.write("secret", "s3cret-s3cret", 0644);
        const auto file = dir.write("consultd.conf", "turn = { mode = \"external\"; secret_file = \"secret\"; external_servers = [\"turn:a:3478\"]; };\n" + kMinimal);
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), r.errors.empty());
        bool warned = false;
        for (const auto& w : r.warnings) warned = warned || w.format().find("readable by others") != std::string::npos;
        CPPUNIT_ASSERT(warned);
        CPPUNIT_ASSERT_EQUAL(std::string("s3cret-s3cret"), r.config->readSecret("turn.secret_file"));
    }

    void relativePathsAreRelativeToTheirFile() {
        TempDir dir;
        const auto file = dir.write("etc/consultd.conf", "storage = { state_dir = \"../state\"; };\n");
        auto r = ConfigLoader::load(file);
        CPPUNIT_ASSERT_EQUAL((fs::path(dir.path()) / "state").string(), r.config->getPath("storage.state_dir"));
    }

    void providerRequiredSettingMustBeSetWhenEnabled() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "providers = { default = \"demo\"; demo = { enabled = true; }; };\n");
        auto r = ConfigLoader::load(file);
        ConfigLoader::validateProviders(r, demoSchemas(), "/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":1: providers.demo.domain: must be set"));
    }

    void disabledProviderNeedNotBeComplete() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "providers = { default = \"other\"; demo = { enabled = false; }; other = { enabled = true; domain = \"y\"; }; };\n");
        auto schemas = demoSchemas();
        schemas["other"] = schemas["demo"];
        auto r = ConfigLoader::load(file);
        ConfigLoader::validateProviders(r, schemas, "/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), r.ok());
    }

    void providerSettingRangeChecked() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "providers = { default = \"demo\"; demo = { enabled = true; domain = \"x\";\n ttl = 5; tll = 1; }; };\n");
        auto r = ConfigLoader::load(file);
        ConfigLoader::validateProviders(r, demoSchemas(), "/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":2: providers.demo.ttl: value 5 is out of range 10..100"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, file + ":2: providers.demo.tll: unknown setting"));
    }

    void enabledProviderWithoutPluginIsAnError() {
        TempDir dir;
        const auto file = dir.write("consultd.conf", "providers = { default = \"demo\"; demo = { enabled = true; domain = \"x\"; };\n vonage = { enabled = true; }; };\n");
        auto r = ConfigLoader::load(file);
        ConfigLoader::validateProviders(r, demoSchemas(), "/opt/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "providers.vonage: provider \"vonage\" is enabled but no plugin in /opt/plugins provides it"));
    }

    void defaultProviderMustBeEnabled() {
        TempDir dir;
        auto schemas = demoSchemas();
        schemas["other"] = schemas["demo"];
        auto r = ConfigLoader::load(dir.write("consultd.conf", "providers = { default = \"demo\"; demo = { enabled = false; };\n"
                                                               " other = { enabled = true; domain = \"x\"; }; };\n"));
        ConfigLoader::validateProviders(r, schemas, "/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "providers.default: \"demo\" is not an enabled provider"));
    }

    void noProviderEnabledIsOnlyAWarning() {
        // A fresh install starts (not ready) rather than crash-looping.
        TempDir dir;
        auto r = ConfigLoader::load(dir.write("consultd.conf", "providers = { default = \"demo\"; demo = { enabled = false; }; };\n"));
        ConfigLoader::validateProviders(r, demoSchemas(), "/plugins");
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), r.ok());
        bool warned = false;
        for (const auto& w : r.warnings) warned = warned || w.format().find("no provider is enabled") != std::string::npos;
        CPPUNIT_ASSERT(warned);
    }

    void turnModeNeedsSecret() {
        TempDir dir;
        auto r = ConfigLoader::load(dir.write("consultd.conf", "turn = { mode = \"external\"; };\n"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "turn.mode: turn.mode \"external\" needs turn.secret_file"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "turn.external_servers: turn.mode \"external\" needs at least one turn: URL"));
    }

    void tlsNeedsCertificate() {
        TempDir dir;
        auto r = ConfigLoader::load(dir.write("consultd.conf", "server = { tls = true; };\n"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "server.tls_cert_file: must be set when server.tls = true"));
    }

    void listOfStringsChecked() {
        TempDir dir;
        auto r = ConfigLoader::load(dir.write("consultd.conf", "turn = { stun_servers = [ 1, 2 ]; external_servers = \"turn:x\"; };\n"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "turn.stun_servers: every element must be a string"));
        CPPUNIT_ASSERT_MESSAGE(allErrors(r), hasError(r, "turn.external_servers: expected a list of strings"));
    }

    void keepValueFromRestoresOldValue() {
        TempDir dir;
        auto a = ConfigLoader::load(dir.write("a.conf", "server = { port = 1; };\n"));
        auto b = ConfigLoader::load(dir.write("b.conf", "server = { port = 2; };\n"));
        CPPUNIT_ASSERT(!b.config->sameValue(*a.config, "server.port"));
        b.config->keepValueFrom(*a.config, "server.port");
        CPPUNIT_ASSERT_EQUAL(std::int64_t{1}, b.config->getInt("server.port"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConfigLoaderTest);
