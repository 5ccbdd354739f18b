#include "TurnCrypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace consultd::turn::crypto {
namespace {

struct MacCtxDeleter {
    void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};
struct MacDeleter {
    void operator()(EVP_MAC* m) const noexcept { EVP_MAC_free(m); }
};

// EVP_MAC (OpenSSL 3) instead of the deprecated HMAC_CTX, fed part by part.
template <std::size_t N>
std::array<std::uint8_t, N> hmac(const char* digest, std::span<const std::uint8_t> key,
                                 std::initializer_list<std::span<const std::uint8_t>> parts) {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // process-lifetime, thread-safe after init
    if (!mac) throw std::runtime_error("OpenSSL: HMAC unavailable");
    std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_end()};
    static const std::uint8_t emptyKey = 0;
    if (!ctx || !EVP_MAC_init(ctx.get(), key.empty() ? &emptyKey : key.data(), key.size(), params))
        throw std::runtime_error("OpenSSL: HMAC init failed");
    for (auto part : parts)
        if (!part.empty() && !EVP_MAC_update(ctx.get(), part.data(), part.size()))
            throw std::runtime_error("OpenSSL: HMAC update failed");
    std::array<std::uint8_t, N> out{};
    std::size_t len = 0;
    if (!EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) || len != N)
        throw std::runtime_error("OpenSSL: HMAC final failed");
    return out;
}

std::array<std::uint32_t, 256> makeCrcTable() {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}

}  // namespace

Sha1Digest hmacSha1(std::span<const std::uint8_t> key,
                    std::initializer_list<std::span<const std::uint8_t>> parts) {
    return hmac<20>("SHA1", key, parts);
}

Sha256Digest hmacSha256(std::span<const std::uint8_t> key,
                        std::initializer_list<std::span<const std::uint8_t>> parts) {
    return hmac<32>("SHA256", key, parts);
}

Md5Digest md5(std::string_view data) {
    Md5Digest out{};
    unsigned int len = 0;
    if (!EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr) || len != out.size())
        throw std::runtime_error("OpenSSL: MD5 failed");
    return out;
}

std::uint32_t crc32(std::initializer_list<std::span<const std::uint8_t>> parts) {
    static const auto table = makeCrcTable();
    std::uint32_t c = 0xFFFFFFFFu;
    for (auto part : parts)
        for (std::uint8_t b : part) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::string base64Encode(std::span<const std::uint8_t> data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool constantTimeEquals(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void randomBytes(std::span<std::uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
        throw std::runtime_error("OpenSSL: RAND_bytes failed");
}

}  // namespace consultd::turn::crypto
