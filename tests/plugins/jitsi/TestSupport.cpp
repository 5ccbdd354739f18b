#include "TestSupport.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Parser.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace consultd::testing {

namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

template <typename Write>
std::string pemOf(Write write) {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || write(bio.get()) != 1) throw std::runtime_error("PEM write failed");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

PkeyPtr parsePrivate(const std::string& pem) {
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) throw std::runtime_error("PEM read failed");
    return key;
}

char kPassphrase[] = "test-passphrase";

std::string base64UrlDecode(const std::string& segment) {
    if (segment.find_first_of("=+/") != std::string::npos) {
        throw std::runtime_error("segment is not unpadded base64url");
    }
    std::istringstream in(segment);
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    std::string out((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    return out;
}

}  // namespace

RsaKeyPem generateRsaKey(int bits) {
    PkeyPtr key(EVP_RSA_gen(static_cast<unsigned>(bits)));
    if (!key) throw std::runtime_error("RSA key generation failed");
    RsaKeyPem pem;
    pem.pkcs8 = pemOf([&](BIO* bio) {
        return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    pem.traditional = pemOf([&](BIO* bio) {
        return PEM_write_bio_PrivateKey_traditional(bio, key.get(), nullptr, nullptr, 0, nullptr,
                                                    nullptr);
    });
    pem.publicKey = pemOf([&](BIO* bio) { return PEM_write_bio_PUBKEY(bio, key.get()); });
    return pem;
}

const RsaKeyPem& sharedRsaKey() {
    static const RsaKeyPem key = generateRsaKey(2048);
    return key;
}

const RsaKeyPem& otherRsaKey() {
    static const RsaKeyPem key = generateRsaKey(2048);
    return key;
}

std::string ecPrivateKeyPem() {
    PkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) throw std::runtime_error("EC key generation failed");
    return pemOf([&](BIO* bio) {
        return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
}

std::string encryptedPkcs8Pem(const RsaKeyPem& pem) {
    const PkeyPtr key = parsePrivate(pem.pkcs8);
    return pemOf([&](BIO* bio) {
        return PEM_write_bio_PKCS8PrivateKey(bio, key.get(), EVP_aes_256_cbc(), kPassphrase,
                                             sizeof kPassphrase - 1, nullptr, nullptr);
    });
}

std::string encryptedTraditionalPem(const RsaKeyPem& pem) {
    const PkeyPtr key = parsePrivate(pem.pkcs8);
    return pemOf([&](BIO* bio) {
        return PEM_write_bio_PrivateKey_traditional(
            bio, key.get(), EVP_aes_256_cbc(), reinterpret_cast<unsigned char*>(kPassphrase),
            sizeof kPassphrase - 1, nullptr, nullptr);
    });
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "jitsi-test-XXXXXX").string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (mkdtemp(buffer.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    path_ = buffer.data();
}

TempDir::~TempDir() {
    std::error_code ignored;  // best effort: a leftover temp dir must not fail a test
    std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
    const std::filesystem::path file = path_ / name;
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) throw std::runtime_error("cannot write " + file.string());
    std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
    return file.string();
}

DecodedJwt decodeJwt(const std::string& token) {
    const auto first = token.find('.');
    const auto second = token.find('.', first == std::string::npos ? first : first + 1);
    if (first == std::string::npos || second == std::string::npos ||
        token.find('.', second + 1) != std::string::npos || second + 1 == token.size()) {
        throw std::runtime_error("not a compact JWS");
    }
    DecodedJwt jwt;
    jwt.headerJson = base64UrlDecode(token.substr(0, first));
    jwt.payloadJson = base64UrlDecode(token.substr(first + 1, second - first - 1));
    base64UrlDecode(token.substr(second + 1));  // the signature must be unpadded base64url too
    Poco::JSON::Parser parser;
    jwt.header = parser.parse(jwt.headerJson).extract<Poco::JSON::Object::Ptr>();
    parser.reset();
    jwt.payload = parser.parse(jwt.payloadJson).extract<Poco::JSON::Object::Ptr>();
    return jwt;
}

}  // namespace consultd::testing
