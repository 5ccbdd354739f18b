#include "util/Crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace consultd::util {

std::string randomBytes(std::size_t bytes) {
    std::string out(bytes, '\0');
    if (bytes > 0 &&
        RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(bytes)) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    return out;
}

std::string randomBase32(std::size_t bytes) {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    const std::string raw = randomBytes(bytes);
    std::string out;
    out.reserve((bytes * 8 + 4) / 5);
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : raw) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31U]);
            bits -= 5;
        }
    }
    if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31U]);
    return out;
}

std::string base64UrlEncode(std::string_view data) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((data.size() * 4 + 2) / 3);
    std::size_t i = 0;
    for (; i + 2 < data.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                           (static_cast<unsigned char>(data[i + 1]) << 8) |
                           static_cast<unsigned char>(data[i + 2]);
        out.push_back(kAlphabet[(v >> 18) & 63U]);
        out.push_back(kAlphabet[(v >> 12) & 63U]);
        out.push_back(kAlphabet[(v >> 6) & 63U]);
        out.push_back(kAlphabet[v & 63U]);
    }
    if (i + 1 == data.size()) {
        const unsigned v = static_cast<unsigned char>(data[i]) << 16;
        out.push_back(kAlphabet[(v >> 18) & 63U]);
        out.push_back(kAlphabet[(v >> 12) & 63U]);
    } else if (i + 2 == data.size()) {
        const unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                           (static_cast<unsigned char>(data[i + 1]) << 8);
        out.push_back(kAlphabet[(v >> 18) & 63U]);
        out.push_back(kAlphabet[(v >> 12) & 63U]);
        out.push_back(kAlphabet[(v >> 6) & 63U]);
    }
    return out;
}

std::string hexEncode(std::string_view data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (unsigned char c : data) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 15U]);
    }
    return out;
}

std::string sha256Hex(std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL EVP_Digest(sha256) failed");
    }
    return hexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
}

bool constantTimeEquals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace consultd::util
