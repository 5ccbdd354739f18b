#include "admin/PasswordHasher.h"

#include "util/Crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstdint>
#include <optional>
#include <regex>
#include <stdexcept>

namespace consultd::admin {
namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::string scrypt(const std::string& password, const std::string& salt, const ScryptParams& p) {
    std::string out(kHashBytes, '\0');
    const std::uint64_t n = std::uint64_t{1} << p.log2N;
    // Memory needed is 128 * r * (N + p) bytes; allow it plus slack (OpenSSL's
    // default cap is 32 MiB, just below what N = 2^15, r = 8 needs).
    const std::uint64_t maxmem = 128ull * static_cast<std::uint64_t>(p.r) * (n + static_cast<std::uint64_t>(p.p)) +
                                 (16ull << 20);
    if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                       salt.size(), n, static_cast<std::uint64_t>(p.r), static_cast<std::uint64_t>(p.p), maxmem,
                       reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
        ERR_clear_error();
        throw std::runtime_error("scrypt failed (OpenSSL EVP_PBE_scrypt)");
    }
    return out;
}

std::optional<std::string> hexDecode(const std::string& hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string out;
    out.reserve(hex.size() / 2);
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]);
        const int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
    }
    return out;
}

struct Parsed {
    ScryptParams params;
    std::string salt;
    std::string hash;
};

std::optional<Parsed> parse(const std::string& stored) {
    static const std::regex kFormat(R"(scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([0-9a-f]{16,128})\$([0-9a-f]{64}))");
    std::smatch m;
    if (!std::regex_match(stored, m, kFormat)) return std::nullopt;
    Parsed parsed;
    parsed.params.log2N = std::stoi(m[1]);
    parsed.params.r = std::stoi(m[2]);
    parsed.params.p = std::stoi(m[3]);
    // Bounds keep a tampered row from making a login allocate gigabytes.
    if (parsed.params.log2N < 10 || parsed.params.log2N > 20 || parsed.params.r < 1 || parsed.params.r > 16 ||
        parsed.params.p < 1 || parsed.params.p > 16) {
        return std::nullopt;
    }
    auto salt = hexDecode(m[4]);
    auto hash = hexDecode(m[5]);
    if (!salt || !hash) return std::nullopt;
    parsed.salt = std::move(*salt);
    parsed.hash = std::move(*hash);
    return parsed;
}

}  // namespace

std::string hashPassword(const std::string& password, const ScryptParams& params) {
    const std::string salt = util::randomBytes(kSaltBytes);
    const std::string hash = scrypt(password, salt, params);
    return "scrypt$ln=" + std::to_string(params.log2N) + ",r=" + std::to_string(params.r) +
           ",p=" + std::to_string(params.p) + "$" + util::hexEncode(salt) + "$" + util::hexEncode(hash);
}

bool verifyPassword(const std::string& password, const std::string& stored) {
    const auto parsed = parse(stored);
    if (!parsed) return false;
    const std::string computed = scrypt(password, parsed->salt, parsed->params);
    return util::constantTimeEquals(computed, parsed->hash);
}

bool needsRehash(const std::string& stored, const ScryptParams& params) {
    const auto parsed = parse(stored);
    if (!parsed) return true;
    return parsed->params.log2N < params.log2N || parsed->params.r < params.r || parsed->params.p < params.p;
}

std::string passwordProblem(const std::string& password) {
    if (password.size() < 12) return "the password must be at least 12 characters long";
    if (password.size() > 1024) return "the password must be at most 1024 bytes long";
    if (password.find_first_of(std::string("\0\n\r", 3)) != std::string::npos) {
        return "the password must not contain NUL or line breaks";
    }
    return "";
}

}  // namespace consultd::admin
