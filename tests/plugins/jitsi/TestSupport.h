#pragma once
// Helpers for the jitsi plugin unit tests: throwaway keys made with OpenSSL,
// a temp directory for secret files, and a JWT decoder that keeps the raw
// JSON so tests can check claim TYPES, not only values.

#include <Poco/JSON/Object.h>

#include <filesystem>
#include <string>

namespace consultd::testing {

/// An RSA key pair as PEM texts.
struct RsaKeyPem {
    std::string pkcs8;        ///< -----BEGIN PRIVATE KEY-----
    std::string traditional;  ///< -----BEGIN RSA PRIVATE KEY-----
    std::string publicKey;    ///< -----BEGIN PUBLIC KEY-----
};

/// Generates a fresh RSA key of `bits`.
RsaKeyPem generateRsaKey(int bits);
/// A 2048-bit key generated once per process (key generation is slow).
const RsaKeyPem& sharedRsaKey();
/// A second, unrelated 2048-bit key (for "wrong key" checks).
const RsaKeyPem& otherRsaKey();
/// A P-256 EC private key in PKCS#8 PEM.
std::string ecPrivateKeyPem();
/// `key` as passphrase-protected PKCS#8 and traditional PEM.
std::string encryptedPkcs8Pem(const RsaKeyPem& key);
std::string encryptedTraditionalPem(const RsaKeyPem& key);

/// A private temp directory removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    /// Writes `content` to `name` inside the directory (mode 0600) and returns its path.
    std::string write(const std::string& name, const std::string& content) const;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// A compact JWS split into its parts.
struct DecodedJwt {
    std::string headerJson;
    std::string payloadJson;
    Poco::JSON::Object::Ptr header;
    Poco::JSON::Object::Ptr payload;
};

/// Decodes (does NOT verify) a compact JWS. Throws std::runtime_error when it
/// is not three base64url segments without padding.
DecodedJwt decodeJwt(const std::string& token);

}  // namespace consultd::testing
