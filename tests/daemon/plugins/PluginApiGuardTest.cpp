// ABI guard (as Envoy's): the public plugin headers hash to the value
// committed in plugin_api.sha256 for the compiled kProviderApiVersion, so a
// header change without a version bump fails here. See that file for the
// hash definition and how to update it.
#include "consultd/provider.h"

#include <cppunit/extensions/HelperMacros.h>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace consultd::plugins::test {
namespace {

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string sha256Hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("EVP_Digest failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0x0f];
    }
    return hex;
}

/// The hash defined in plugin_api.sha256.
std::string publicHeadersHash(std::vector<std::string>* names = nullptr) {
    const fs::path dir = fs::path(CONSULTD_PUBLIC_INCLUDE_DIR) / "consultd";
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().extension() == ".h") files.push_back(entry.path().filename().string());
    }
    std::sort(files.begin(), files.end());  // byte order, as LC_ALL=C ls
    std::string data;
    for (const auto& name : files) {
        data += "== consultd/" + name + "\n";
        data += readFile(dir / name);
    }
    if (names) *names = files;
    return sha256Hex(data);
}

/// version -> hash lines of plugin_api.sha256, in file order.
std::vector<std::pair<int, std::string>> committedHashes() {
    std::istringstream in(readFile(CONSULTD_PLUGIN_API_HASH_FILE));
    std::vector<std::pair<int, std::string>> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        int version = 0;
        std::string hash, extra;
        if (!(fields >> version >> hash) || (fields >> extra) || hash.size() != 64) {
            throw std::runtime_error(std::string(CONSULTD_PLUGIN_API_HASH_FILE) + ": malformed line \"" + line +
                                     "\" (expected \"<version> <64 hex digits>\")");
        }
        out.emplace_back(version, hash);
    }
    return out;
}

}  // namespace

class PluginApiGuardTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(PluginApiGuardTest);
    CPPUNIT_TEST(headersMatchTheCommittedHashOfThisVersion);
    CPPUNIT_TEST(hashFileIsAppendOnlyHistory);
    CPPUNIT_TEST(hashCoversEveryPublicHeader);
    CPPUNIT_TEST_SUITE_END();

public:
    void headersMatchTheCommittedHashOfThisVersion() {
        const std::string actual = publicHeadersHash();
        const auto lines = committedHashes();
        const auto current = std::find_if(lines.begin(), lines.end(),
                                          [](const auto& l) { return l.first == kProviderApiVersion; });
        const std::string fix =
            "\nIf you changed daemon/include/consultd/*.h on purpose: bump kProviderApiVersion and append\n  " +
            std::to_string(kProviderApiVersion + 1) + " " + actual + "\nto " + CONSULTD_PLUGIN_API_HASH_FILE +
            " (see the comment at its top).";
        if (current == lines.end()) {
            CPPUNIT_FAIL("plugin_api.sha256 has no line for kProviderApiVersion " +
                         std::to_string(kProviderApiVersion) + "; append\n  " + std::to_string(kProviderApiVersion) +
                         " " + actual);
        }
        if (current->second != actual) {
            CPPUNIT_FAIL("the public plugin headers changed but kProviderApiVersion is still " +
                         std::to_string(kProviderApiVersion) + " (committed hash " + current->second +
                         ", headers now hash to " + actual + ")" + fix);
        }
    }

    void hashFileIsAppendOnlyHistory() {
        const auto lines = committedHashes();
        CPPUNIT_ASSERT_MESSAGE("plugin_api.sha256 holds no version line", !lines.empty());
        std::set<std::string> hashes;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            // Versions ascend by one, newest last: a new API version is appended.
            CPPUNIT_ASSERT_EQUAL_MESSAGE("versions must be 1, 2, 3, ... in order", static_cast<int>(i) + 1,
                                        lines[i].first);
            CPPUNIT_ASSERT_MESSAGE("two API versions with the same headers: a bump without a change?",
                                   hashes.insert(lines[i].second).second);
        }
        CPPUNIT_ASSERT_EQUAL_MESSAGE("the newest line must be the compiled kProviderApiVersion", kProviderApiVersion,
                                     lines.back().first);
    }

    void hashCoversEveryPublicHeader() {
        std::vector<std::string> names;
        publicHeadersHash(&names);
        CPPUNIT_ASSERT_MESSAGE("no public header found", !names.empty());
        CPPUNIT_ASSERT_MESSAGE("provider.h is not covered",
                               std::find(names.begin(), names.end(), "provider.h") != names.end());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(PluginApiGuardTest);

}  // namespace consultd::plugins::test
