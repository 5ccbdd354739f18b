// API keys against the real store: generation, hashing, constant-time check,
// revocation, malformed input.
#include "http/ApiKeyAuth.h"
#include "util/Crypto.h"

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <filesystem>
#include <thread>

using namespace consultd;
using http::ApiKeyAuthenticator;
using Failure = ApiKeyAuthenticator::Failure;

class ApiKeyAuthTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ApiKeyAuthTest);
    CPPUNIT_TEST(generatedKeyHasFormatAndOnlyHashStored);
    CPPUNIT_TEST(validKeyAuthenticatesWithScopes);
    CPPUNIT_TEST(wrongSecretUnknownAndMalformedRefused);
    CPPUNIT_TEST(revocationTakesEffectWithinCacheLifetime);
    CPPUNIT_TEST_SUITE_END();

    std::string dir_;
    std::unique_ptr<store::Store> store_;

public:
    void setUp() override {
        char tmpl[] = "/tmp/consultd-auth-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        store::StoreOptions options;
        options.path = dir_ + "/db";
        store_ = store::Store::open(options);
    }
    void tearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    http::NewApiKey makeKey(const std::vector<std::string>& scopes) {
        auto key = http::generateApiKey("test", scopes);
        store::AuditRecord audit;
        audit.action = "apikey.created";
        audit.actor = "test";
        store_->insertApiKey(key.record, audit);
        return key;
    }

    void generatedKeyHasFormatAndOnlyHashStored() {
        const auto key = makeKey({"sessions:read"});
        CPPUNIT_ASSERT_EQUAL(std::size_t{73}, key.plaintext.size());
        CPPUNIT_ASSERT(key.plaintext.rfind("cdk_" + key.record.id + "_", 0) == 0);
        const auto stored = store_->findApiKey(key.record.id);
        CPPUNIT_ASSERT(stored.has_value());
        CPPUNIT_ASSERT_EQUAL(util::sha256Hex(key.plaintext.substr(21)), stored->secretHash);
        CPPUNIT_ASSERT(stored->secretHash.find(key.plaintext.substr(21)) == std::string::npos);
    }

    void validKeyAuthenticatesWithScopes() {
        const auto key = makeKey({"sessions:read", "sessions:write"});
        ApiKeyAuthenticator auth(*store_);
        auto r = auth.authenticate("Bearer " + key.plaintext);
        CPPUNIT_ASSERT(r.failure == Failure::None);
        CPPUNIT_ASSERT_EQUAL(key.record.id, r.principal.keyId);
        CPPUNIT_ASSERT_EQUAL(std::size_t{2}, r.principal.scopes.size());
        CPPUNIT_ASSERT(auth.authenticate("bearer " + key.plaintext).failure == Failure::None);
    }

    void wrongSecretUnknownAndMalformedRefused() {
        const auto key = makeKey({"admin"});
        ApiKeyAuthenticator auth(*store_);
        std::string wrong = key.plaintext;
        wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
        CPPUNIT_ASSERT(auth.authenticate("Bearer " + wrong).failure == Failure::WrongSecret);
        auto other = http::generateApiKey("never stored", {"admin"});
        CPPUNIT_ASSERT(auth.authenticate("Bearer " + other.plaintext).failure == Failure::Unknown);
        CPPUNIT_ASSERT(auth.authenticate("").failure == Failure::Missing);
        CPPUNIT_ASSERT(auth.authenticate("Basic abc").failure == Failure::Malformed);
        CPPUNIT_ASSERT(auth.authenticate("Bearer cdk_short").failure == Failure::Malformed);
        std::string upper = key.plaintext;
        upper[5] = 'A';
        CPPUNIT_ASSERT(auth.authenticate("Bearer " + upper).failure == Failure::Malformed);
    }

    void revocationTakesEffectWithinCacheLifetime() {
        const auto key = makeKey({"admin"});
        ApiKeyAuthenticator auth(*store_);
        CPPUNIT_ASSERT(auth.authenticate("Bearer " + key.plaintext).failure == Failure::None);
        store::AuditRecord audit;
        audit.action = "apikey.revoked";
        audit.actor = "test";
        CPPUNIT_ASSERT(store_->revokeApiKey(key.record.id, 1, audit));
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));
        CPPUNIT_ASSERT(auth.authenticate("Bearer " + key.plaintext).failure == Failure::Revoked);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ApiKeyAuthTest);
