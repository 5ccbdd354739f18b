#include "signal/SignalingTokens.h"

#include "util/Crypto.h"

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace consultd::signal {

namespace {

constexpr const char* kAudience = "consultd-signal";

std::string base64UrlDecode(const std::string& in) {
    std::string b64 = in;
    for (char& c : b64) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
    }
    while (b64.size() % 4 != 0) b64.push_back('=');
    std::istringstream input(b64);
    Poco::Base64Decoder decoder(input);
    std::string out;
    char c = 0;
    while (decoder.get(c)) out.push_back(c);
    return out;
}

bool urlSafe(const std::string& part) {
    for (char c : part) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return !part.empty();
}

std::string errnoText(int error) {
    char buffer[256];
    return ::strerror_r(error, buffer, sizeof buffer);
}

}  // namespace

SignalingTokens::SignalingTokens(std::string key) : key_(std::move(key)) {
    if (key_.size() < 32) throw std::runtime_error("signaling key is shorter than 32 bytes");
}

SignalingTokens SignalingTokens::fromKeyFile(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        if (!fs::path(path).parent_path().empty()) fs::create_directories(fs::path(path).parent_path(), ec);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) {
            throw std::runtime_error("signaling.key_file: cannot create " + path + ": " + errnoText(errno));
        }
        if (fd >= 0) {
            const std::string key = util::hexEncode(util::randomBytes(32)) + "\n";
            const bool written = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size());
            const int writeErrno = errno;
            ::fchmod(fd, 0600);
            ::close(fd);
            if (!written) throw std::runtime_error("signaling.key_file: cannot write " + path + ": " + errnoText(writeErrno));
        }
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("signaling.key_file: cannot read " + path);
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    if (key.size() < 32) throw std::runtime_error("signaling.key_file: " + path + " holds fewer than 32 bytes");
    return SignalingTokens(std::move(key));
}

std::string SignalingTokens::signature(const std::string& signingInput) const {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
             reinterpret_cast<const unsigned char*>(signingInput.data()), signingInput.size(), digest, &length) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return util::base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string SignalingTokens::mint(const std::string& sessionId, const std::string& participantId,
                                  const std::string& role, std::int64_t expiresAt, std::int64_t issuedAt) const {
    Poco::JSON::Object payload(Poco::JSON_PRESERVE_KEY_ORDER);
    payload.set("aud", kAudience);
    payload.set("sid", sessionId);
    payload.set("sub", participantId);
    payload.set("role", role);
    payload.set("iat", issuedAt);
    payload.set("exp", expiresAt);
    payload.set("jti", util::randomBase32(10));
    std::ostringstream body;
    payload.stringify(body);
    const std::string input = util::base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                              util::base64UrlEncode(body.str());
    return input + "." + signature(input);
}

std::optional<SignalingClaims> SignalingTokens::verify(const std::string& token, std::int64_t now,
                                                       TokenProblem& problem) const {
    problem = TokenProblem::Malformed;
    if (token.size() > 4096) return std::nullopt;
    const auto first = token.find('.');
    const auto second = first == std::string::npos ? std::string::npos : token.find('.', first + 1);
    if (second == std::string::npos || token.find('.', second + 1) != std::string::npos) return std::nullopt;
    const std::string header = token.substr(0, first);
    const std::string body = token.substr(first + 1, second - first - 1);
    const std::string sig = token.substr(second + 1);
    if (!urlSafe(header) || !urlSafe(body) || !urlSafe(sig)) return std::nullopt;
    if (!util::constantTimeEquals(sig, signature(token.substr(0, second)))) {
        problem = TokenProblem::BadSignature;
        return std::nullopt;
    }
    // Signed by us: the rest is a consistency check, not a defence.
    try {
        Poco::JSON::Parser parser;
        const auto head = parser.parse(base64UrlDecode(header)).extract<Poco::JSON::Object::Ptr>();
        parser.reset();
        const auto claims = parser.parse(base64UrlDecode(body)).extract<Poco::JSON::Object::Ptr>();
        if (!head || !claims || head->optValue<std::string>("alg", "") != "HS256" ||
            claims->optValue<std::string>("aud", "") != kAudience) {
            problem = TokenProblem::Malformed;
            return std::nullopt;
        }
        SignalingClaims out;
        out.sessionId = claims->getValue<std::string>("sid");
        out.participantId = claims->getValue<std::string>("sub");
        out.role = claims->getValue<std::string>("role");
        out.expiresAt = claims->getValue<Poco::Int64>("exp");
        out.tokenId = claims->optValue<std::string>("jti", "");
        if (out.expiresAt <= now) {
            problem = TokenProblem::Expired;
            return std::nullopt;
        }
        problem = TokenProblem::None;
        return out;
    } catch (const Poco::Exception&) {
        problem = TokenProblem::Malformed;
        return std::nullopt;
    }
}

}  // namespace consultd::signal
