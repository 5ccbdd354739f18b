#include "recording/RecordingCrypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace consultd::recording {
namespace {

constexpr std::array<std::uint8_t, 8> kMagic = {'C', 'D', 'R', 'E', 'C', 0x00, 0x0D, 0x0A};
constexpr std::size_t kTagSize = 16;
constexpr std::uint32_t kFinalBit = 0x80000000u;

void putU16(std::uint8_t* p, std::uint16_t v) {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void putU32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
void putU64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
std::uint16_t getU16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t getU32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

[[noreturn]] void cryptoFailure(const char* what) {
    throw RecordingError(RecordingErrorKind::Io, std::string("OpenSSL failure: ") + what);
}

}  // namespace

const char* toString(RecordingErrorKind kind) noexcept {
    switch (kind) {
        case RecordingErrorKind::Io: return "io";
        case RecordingErrorKind::BadHeader: return "bad_header";
        case RecordingErrorKind::WrongKey: return "wrong_key";
        case RecordingErrorKind::Tampered: return "tampered";
        case RecordingErrorKind::Truncated: return "truncated";
        case RecordingErrorKind::Usage: return "usage";
    }
    return "unknown";
}

void secureRandom(std::span<std::uint8_t> out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) cryptoFailure("RAND_bytes");
}

RecordingKey::RecordingKey(std::span<const std::uint8_t> bytes) {
    if (bytes.size() != kKeySize)
        throw RecordingError(RecordingErrorKind::Usage,
                             "recording key must be 32 bytes, got " + std::to_string(bytes.size()));
    std::memcpy(bytes_.data(), bytes.data(), kKeySize);
    // A domain-separated hash: the id identifies the key without helping an attacker.
    static constexpr char kLabel[] = "consultd-recording-key-id";
    std::array<std::uint8_t, sizeof kLabel - 1 + kKeySize> input{};
    std::memcpy(input.data(), kLabel, sizeof kLabel - 1);
    std::memcpy(input.data() + sizeof kLabel - 1, bytes_.data(), kKeySize);
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
    unsigned int digestLen = 0;
    bool hashed = EVP_Digest(input.data(), input.size(), digest.data(), &digestLen, EVP_sha256(),
                             nullptr) == 1;
    OPENSSL_cleanse(input.data(), input.size());
    if (!hashed) cryptoFailure("SHA-256");
    std::memcpy(id_.data(), digest.data(), id_.size());
    OPENSSL_cleanse(digest.data(), digest.size());
}

RecordingKey::~RecordingKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

std::string RecordingKey::idHex() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (auto b : id_) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 15]);
    }
    return out;
}

RecordingKey RecordingKey::loadFromFile(const std::string& path, bool* tooOpen) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw RecordingError(RecordingErrorKind::Io,
                             "key file " + path + ": " + std::strerror(errno));
    // The config loader's rule for secret files: 0640 with the daemon's own
    // group (root:consultd, as the package makes it) is fine; others never.
    if (tooOpen) *tooOpen = (st.st_mode & S_IRWXO) != 0 || ((st.st_mode & S_IRWXG) != 0 && st.st_gid != ::getegid());
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw RecordingError(RecordingErrorKind::Io, "key file " + path + ": cannot open");
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::array<std::uint8_t, kKeySize> key{};
    std::string text = raw;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    bool ok = false;
    if (raw.size() == kKeySize) {
        std::memcpy(key.data(), raw.data(), kKeySize);
        ok = true;
    } else if (text.size() == 2 * kKeySize) {
        ok = true;
        for (std::size_t i = 0; i < kKeySize && ok; ++i) {
            int hi = hexValue(text[2 * i]);
            int lo = hexValue(text[2 * i + 1]);
            if (hi < 0 || lo < 0) ok = false;
            else key[i] = static_cast<std::uint8_t>(hi * 16 + lo);
        }
    }
    OPENSSL_cleanse(raw.data(), raw.size());
    OPENSSL_cleanse(text.data(), text.size());
    if (!ok)
        throw RecordingError(RecordingErrorKind::Usage,
                             "key file " + path +
                                 ": expected 32 random bytes (openssl rand -out FILE 32) or 64 hex digits");
    RecordingKey result(key);
    OPENSSL_cleanse(key.data(), key.size());
    return result;
}

std::array<std::uint8_t, kHeaderSize> RecordingHeader::serialize() const {
    std::array<std::uint8_t, kHeaderSize> out{};
    std::memcpy(out.data(), kMagic.data(), kMagic.size());
    putU16(out.data() + 8, kFormatVersion);
    putU16(out.data() + 10, static_cast<std::uint16_t>(kHeaderSize));
    putU32(out.data() + 12, chunkSize);
    std::memcpy(out.data() + 16, keyId.data(), keyId.size());
    std::memcpy(out.data() + 24, noncePrefix.data(), noncePrefix.size());
    return out;  // bytes 32..47 reserved, zero
}

RecordingHeader RecordingHeader::parse(std::span<const std::uint8_t> bytes) {
    auto bad = [](const std::string& why) {
        return RecordingError(RecordingErrorKind::BadHeader, "not a consultd recording: " + why);
    };
    if (bytes.size() < kHeaderSize) throw bad("file shorter than the header");
    if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) throw bad("bad magic");
    std::uint16_t version = getU16(bytes.data() + 8);
    if (version != kFormatVersion)
        throw bad("unsupported version " + std::to_string(version));
    if (getU16(bytes.data() + 10) != kHeaderSize) throw bad("bad header length");
    RecordingHeader h;
    h.chunkSize = getU32(bytes.data() + 12);
    if (h.chunkSize == 0 || h.chunkSize > kMaxChunkSize) throw bad("bad chunk size");
    std::memcpy(h.keyId.data(), bytes.data() + 16, 8);
    std::memcpy(h.noncePrefix.data(), bytes.data() + 24, 8);
    for (std::size_t i = 32; i < kHeaderSize; ++i)
        if (bytes[i] != 0) throw bad("reserved bytes set");
    return h;
}

void ChunkCipher::CtxFree::operator()(evp_cipher_ctx_st* ctx) const noexcept {
    EVP_CIPHER_CTX_free(ctx);
}

ChunkCipher::ChunkCipher(const RecordingKey& key, const RecordingHeader& header)
    : headerBytes_(header.serialize()),
      noncePrefix_(header.noncePrefix),
      key_(key.bytes()),
      ctx_(EVP_CIPHER_CTX_new()) {
    if (!ctx_) cryptoFailure("EVP_CIPHER_CTX_new");
}

ChunkCipher::~ChunkCipher() { OPENSSL_cleanse(key_.data(), key_.size()); }

namespace {
struct ChunkAad {
    std::array<std::uint8_t, kHeaderSize + 8 + 4> bytes{};
};
ChunkAad makeAad(const std::array<std::uint8_t, kHeaderSize>& header, std::uint64_t index,
                 std::uint32_t word) {
    ChunkAad aad;
    std::memcpy(aad.bytes.data(), header.data(), kHeaderSize);
    putU64(aad.bytes.data() + kHeaderSize, index);
    putU32(aad.bytes.data() + kHeaderSize + 8, word);
    return aad;
}
}  // namespace

std::string ChunkCipher::seal(std::uint64_t index, std::uint32_t seq, bool final,
                              std::span<const std::uint8_t> plain) {
    if (plain.size() >= kFinalBit)
        throw RecordingError(RecordingErrorKind::Usage, "chunk too large");
    std::uint32_t word = static_cast<std::uint32_t>(plain.size()) | (final ? kFinalBit : 0u);
    std::array<std::uint8_t, 12> nonce{};
    std::memcpy(nonce.data(), noncePrefix_.data(), 8);
    putU32(nonce.data() + 8, seq);
    auto aad = makeAad(headerBytes_, index, word);

    std::string slot(8 + plain.size() + kTagSize, '\0');
    auto* out = reinterpret_cast<std::uint8_t*>(slot.data());
    putU32(out, word);
    putU32(out + 4, seq);
    EVP_CIPHER_CTX* ctx = ctx_.get();
    int len = 0;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx, nullptr, nullptr, key_.data(), nonce.data()) != 1 ||
        EVP_EncryptUpdate(ctx, nullptr, &len, aad.bytes.data(), static_cast<int>(aad.bytes.size())) != 1)
        cryptoFailure("GCM encrypt init");
    if (!plain.empty() &&
        EVP_EncryptUpdate(ctx, out + 8, &len, plain.data(), static_cast<int>(plain.size())) != 1)
        cryptoFailure("GCM encrypt");
    if (EVP_EncryptFinal_ex(ctx, out + 8 + plain.size(), &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, out + 8 + plain.size()) != 1)
        cryptoFailure("GCM encrypt final");
    return slot;
}

ChunkCipher::Opened ChunkCipher::open(std::uint64_t index, std::span<const std::uint8_t> slot) {
    auto tampered = [index](const std::string& why) {
        return RecordingError(RecordingErrorKind::Tampered,
                              "chunk " + std::to_string(index) + ": " + why);
    };
    if (slot.size() < 8 + kTagSize) throw tampered("slot too short");
    std::uint32_t word = getU32(slot.data());
    std::uint32_t seq = getU32(slot.data() + 4);
    std::size_t length = word & ~kFinalBit;
    if (slot.size() != 8 + length + kTagSize) throw tampered("length field does not match slot");
    std::array<std::uint8_t, 12> nonce{};
    std::memcpy(nonce.data(), noncePrefix_.data(), 8);
    putU32(nonce.data() + 8, seq);
    auto aad = makeAad(headerBytes_, index, word);

    Opened result;
    result.final = (word & kFinalBit) != 0;
    result.seq = seq;
    result.plain.resize(length);
    auto* out = reinterpret_cast<std::uint8_t*>(result.plain.data());
    EVP_CIPHER_CTX* ctx = ctx_.get();
    int len = 0;
    std::array<std::uint8_t, kTagSize> tag{};
    std::memcpy(tag.data(), slot.data() + 8 + length, kTagSize);
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx, nullptr, nullptr, key_.data(), nonce.data()) != 1 ||
        EVP_DecryptUpdate(ctx, nullptr, &len, aad.bytes.data(), static_cast<int>(aad.bytes.size())) != 1)
        cryptoFailure("GCM decrypt init");
    if (length > 0 &&
        EVP_DecryptUpdate(ctx, out, &len, slot.data() + 8, static_cast<int>(length)) != 1)
        cryptoFailure("GCM decrypt");
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1)
        cryptoFailure("GCM set tag");
    if (EVP_DecryptFinal_ex(ctx, out + length, &len) != 1) {
        // Never hand out plaintext that failed authentication.
        OPENSSL_cleanse(result.plain.data(), result.plain.size());
        throw tampered("authentication failed (tampered, reordered or wrong key)");
    }
    return result;
}

}  // namespace consultd::recording
