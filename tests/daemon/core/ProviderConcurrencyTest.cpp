// The real jitsi plugin, loaded through PluginHost, signing grants from many
// threads at once. POCO 1.11's OpenSSLInitializer crashed (double free of its
// mutex array) when per-signature initialisers took the count through zero
// concurrently; the daemon and the plugin now hold one for their lifetime.
#include "plugins/PluginHost.h"

#include <cppunit/extensions/HelperMacros.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace consultd;

class ProviderConcurrencyTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ProviderConcurrencyTest);
    CPPUNIT_TEST(grantsFromManyThreads);
    CPPUNIT_TEST_SUITE_END();

public:
    void grantsFromManyThreads() {
        char tmpl[] = "/tmp/consultd-conc-XXXXXX";
        const std::string dir = ::mkdtemp(tmpl);
        std::ofstream(dir + "/secret") << "0123456789abcdef0123456789abcdef0123456789";
        ::chmod((dir + "/secret").c_str(), 0600);
        std::ofstream(dir + "/c.conf") << "providers = { plugin_dir = \"" CONSULTD_TEST_PLUGIN_DIR "\";\n"
                                       << " jitsi = { enabled = true; domain = \"meet.test\"; app_id = \"app\"; app_secret_file = \"secret\"; }; };\n";
        auto result = config::ConfigLoader::load(dir + "/c.conf");
        plugins::PluginHost host;
        std::vector<std::string> errors;
        host.discover(CONSULTD_TEST_PLUGIN_DIR, errors);
        config::ConfigLoader::validateProviders(result, host.schemas(), CONSULTD_TEST_PLUGIN_DIR);
        CPPUNIT_ASSERT(result.ok() && errors.empty());
        host.createProviders(result.config, nullptr, "http://127.0.0.1", errors);
        CPPUNIT_ASSERT(errors.empty());
        Provider* provider = host.find("jitsi");
        CPPUNIT_ASSERT(provider != nullptr);

        SessionView session;
        session.id = "ses_x";
        session.roomName = "consult-abcdefgh";
        ParticipantView participant;
        participant.id = "pt-1";
        participant.name = "Pat";
        participant.role = Role::Patient;
        std::atomic<int> signedTokens{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                // Short pauses like an HTTP thread's I/O let the initialiser
                // count touch zero between signatures: that is when it broke.
                for (int i = 0; i < 3000; ++i) {
                    if (!provider->issueGrant(session, participant).token.empty()) ++signedTokens;
                    if ((i + t) % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds((i * 7 + t) % 50));
                }
            });
        }
        for (auto& thread : threads) thread.join();
        CPPUNIT_ASSERT_EQUAL(8 * 3000, signedTokens.load());
        std::filesystem::remove_all(dir);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ProviderConcurrencyTest);
