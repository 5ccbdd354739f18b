#include "StunMessage.h"

#include "TurnCrypto.h"

#include <arpa/inet.h>

#include <cstring>

namespace consultd::turn::stun {
namespace {

std::uint16_t readU16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t readU32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void writeU16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void writeU32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}
constexpr std::size_t padded(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

}  // namespace

ParseResult StunMessageView::parse(std::span<const std::uint8_t> message) noexcept {
    bytes_ = {};
    count_ = usableCount_ = 0;
    integrity_ = integrity256_ = nullptr;
    if (message.size() < kHeaderSize || (message[0] & 0xC0) != 0) return ParseResult::NotStun;
    if (readU32(message.data() + 4) != kMagicCookie) return ParseResult::NotStun;
    const std::size_t bodyLength = readU16(message.data() + 2);
    if (bodyLength % 4 != 0 || kHeaderSize + bodyLength != message.size()) return ParseResult::Malformed;

    const std::uint16_t type = readU16(message.data());
    rawMethod_ = static_cast<std::uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
    method_ = static_cast<Method>(rawMethod_);
    class_ = static_cast<MessageClass>(((type >> 4) & 1) | ((type >> 7) & 2));

    bool integritySeen = false;
    std::size_t offset = kHeaderSize;
    while (offset < message.size()) {
        if (offset + 4 > message.size()) return ParseResult::Malformed;
        const std::uint16_t attrType = readU16(message.data() + offset);
        const std::size_t length = readU16(message.data() + offset + 2);
        if (offset + 4 + padded(length) > message.size()) return ParseResult::Malformed;
        if (count_ == kMaxAttributes) return ParseResult::Malformed;
        Attribute& a = attrs_[count_++];
        a.type = attrType;
        a.offset = static_cast<std::uint16_t>(offset);
        a.value = message.subspan(offset + 4, length);
        offset += 4 + padded(length);

        if (attrType == attr::Fingerprint) {
            if (length != 4 || offset != message.size()) return ParseResult::Malformed;
            const std::uint32_t expected =
                crypto::crc32({message.subspan(0, a.offset)}) ^ kFingerprintXor;
            if (readU32(a.value.data()) != expected) return ParseResult::BadFingerprint;
        } else if (attrType == attr::MessageIntegrity && !integritySeen) {
            if (length != 20) return ParseResult::Malformed;
            integrity_ = &a;
            integritySeen = true;
            usableCount_ = count_ - 1;
        } else if (attrType == attr::MessageIntegritySha256 && !integrity256_) {
            if (length < 16 || length > 32 || length % 4 != 0) return ParseResult::Malformed;
            integrity256_ = &a;
            if (!integritySeen) usableCount_ = count_ - 1;
            integritySeen = true;
        }
    }
    if (!integritySeen) {
        usableCount_ = count_;
        // A trailing FINGERPRINT is never a "usable" attribute.
        if (usableCount_ > 0 && attrs_[usableCount_ - 1].type == attr::Fingerprint) --usableCount_;
    }
    bytes_ = message;
    return ParseResult::Ok;
}

const Attribute* StunMessageView::find(std::uint16_t type) const noexcept {
    for (std::size_t i = 0; i < usableCount_; ++i)
        if (attrs_[i].type == type) return &attrs_[i];
    return nullptr;
}

std::optional<std::string_view> StunMessageView::findString(std::uint16_t type) const noexcept {
    const Attribute* a = find(type);
    if (!a) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(a->value.data()), a->value.size());
}

std::optional<std::uint32_t> StunMessageView::findU32(std::uint16_t type) const noexcept {
    const Attribute* a = find(type);
    if (!a || a->value.size() != 4) return std::nullopt;
    return readU32(a->value.data());
}

std::optional<SocketAddress> StunMessageView::findXorAddress(std::uint16_t type) const noexcept {
    const Attribute* a = find(type);
    if (!a) return std::nullopt;
    return xorAddress(*a);
}

std::optional<SocketAddress> StunMessageView::xorAddress(const Attribute& a) const noexcept {
    const auto v = a.value;
    if (v.size() < 4) return std::nullopt;
    const std::uint16_t port = static_cast<std::uint16_t>(readU16(v.data() + 2) ^ (kMagicCookie >> 16));
    std::uint8_t ip[16];
    if (v[1] == 0x01 && v.size() == 8) {
        const std::uint32_t x = readU32(v.data() + 4) ^ kMagicCookie;
        writeU32(ip, x);
        return SocketAddress::fromBytes(AF_INET, ip, port);
    }
    if (v[1] == 0x02 && v.size() == 20) {
        std::uint8_t mask[16];
        writeU32(mask, kMagicCookie);
        std::memcpy(mask + 4, bytes_.data() + 8, kTransactionIdSize);
        for (int i = 0; i < 16; ++i) ip[i] = v[4 + i] ^ mask[i];
        return SocketAddress::fromBytes(AF_INET6, ip, port);
    }
    return std::nullopt;
}

bool StunMessageView::verifyIntegrity(std::span<const std::uint8_t> key) const {
    const Attribute* a = integrity256_ ? integrity256_ : integrity_;
    if (!a) return false;
    // The length field is patched to end right after this attribute (RFC 8489 14.5/14.6).
    std::uint8_t header[kHeaderSize];
    std::memcpy(header, bytes_.data(), kHeaderSize);
    writeU16(header + 2, static_cast<std::uint16_t>(a->offset + 4 + a->value.size() - kHeaderSize));
    const auto body = bytes_.subspan(kHeaderSize, a->offset - kHeaderSize);
    if (a == integrity256_) {
        const auto mac = crypto::hmacSha256(key, {header, body});
        return crypto::constantTimeEquals(std::span(mac).first(a->value.size()), a->value);
    }
    const auto mac = crypto::hmacSha1(key, {header, body});
    return crypto::constantTimeEquals(mac, a->value);
}

StunMessageBuilder::StunMessageBuilder(std::span<std::uint8_t> buffer, Method method, MessageClass cls,
                                       std::span<const std::uint8_t, kTransactionIdSize> transactionId) noexcept
    : buffer_(buffer) {
    if (buffer_.size() < kHeaderSize) {
        ok_ = false;
        return;
    }
    writeU16(buffer_.data(), messageType(method, cls));
    writeU16(buffer_.data() + 2, 0);
    writeU32(buffer_.data() + 4, kMagicCookie);
    std::memcpy(buffer_.data() + 8, transactionId.data(), kTransactionIdSize);
    size_ = kHeaderSize;
}

void StunMessageBuilder::setLength(std::size_t bodyLength) noexcept {
    writeU16(buffer_.data() + 2, static_cast<std::uint16_t>(bodyLength));
}

std::uint8_t* StunMessageBuilder::reserve(std::uint16_t type, std::size_t valueLength) noexcept {
    if (!ok_ || valueLength > 0xFFFF || size_ + 4 + padded(valueLength) > buffer_.size() ||
        size_ + 4 + padded(valueLength) - kHeaderSize > 0xFFFF) {
        ok_ = false;
        return nullptr;
    }
    std::uint8_t* p = buffer_.data() + size_;
    writeU16(p, type);
    writeU16(p + 2, static_cast<std::uint16_t>(valueLength));
    std::memset(p + 4 + valueLength, 0, padded(valueLength) - valueLength);
    size_ += 4 + padded(valueLength);
    setLength(size_ - kHeaderSize);
    return p + 4;
}

void StunMessageBuilder::add(std::uint16_t type, std::span<const std::uint8_t> value) noexcept {
    if (std::uint8_t* p = reserve(type, value.size()); p && !value.empty()) std::memcpy(p, value.data(), value.size());
}

void StunMessageBuilder::addString(std::uint16_t type, std::string_view value) noexcept {
    add(type, crypto::bytesOf(value));
}

void StunMessageBuilder::addU32(std::uint16_t type, std::uint32_t value) noexcept {
    if (std::uint8_t* p = reserve(type, 4)) writeU32(p, value);
}

void StunMessageBuilder::addAddress(std::uint16_t type, const SocketAddress& address) noexcept {
    const bool v6 = address.family() == AF_INET6;
    if (std::uint8_t* p = reserve(type, v6 ? 20 : 8)) {
        p[0] = 0;
        p[1] = v6 ? 2 : 1;
        writeU16(p + 2, address.port());
        std::memcpy(p + 4, address.ipBytes(), address.ipLength());
    }
}

std::size_t encodeXorAddress(const SocketAddress& address,
                             std::span<const std::uint8_t, kTransactionIdSize> transactionId,
                             std::uint8_t* out) noexcept {
    const bool v6 = address.family() == AF_INET6;
    out[0] = 0;
    out[1] = v6 ? 2 : 1;
    writeU16(out + 2, static_cast<std::uint16_t>(address.port() ^ (kMagicCookie >> 16)));
    std::uint8_t mask[16];
    writeU32(mask, kMagicCookie);
    std::memcpy(mask + 4, transactionId.data(), kTransactionIdSize);
    const std::uint8_t* ip = address.ipBytes();
    for (std::size_t i = 0; i < address.ipLength(); ++i) out[4 + i] = ip[i] ^ mask[i];
    return v6 ? 20 : 8;
}

void StunMessageBuilder::addXorAddress(std::uint16_t type, const SocketAddress& address) noexcept {
    const bool v6 = address.family() == AF_INET6;
    if (std::uint8_t* p = reserve(type, v6 ? 20 : 8))
        encodeXorAddress(address, std::span<const std::uint8_t, kTransactionIdSize>(buffer_.data() + 8, kTransactionIdSize), p);
}

void StunMessageBuilder::addError(int code, std::string_view reason) noexcept {
    if (reason.size() > 763) reason = reason.substr(0, 763);
    if (std::uint8_t* p = reserve(attr::ErrorCode, 4 + reason.size())) {
        p[0] = p[1] = 0;
        p[2] = static_cast<std::uint8_t>(code / 100);
        p[3] = static_cast<std::uint8_t>(code % 100);
        std::memcpy(p + 4, reason.data(), reason.size());
    }
}

void StunMessageBuilder::addUnknownAttributes(std::span<const std::uint16_t> types) noexcept {
    if (std::uint8_t* p = reserve(attr::UnknownAttributes, types.size() * 2))
        for (std::size_t i = 0; i < types.size(); ++i) writeU16(p + 2 * i, types[i]);
}

void StunMessageBuilder::addMessageIntegrity(std::span<const std::uint8_t> key) {
    const std::size_t covered = size_;
    if (std::uint8_t* p = reserve(attr::MessageIntegrity, 20)) {
        const auto mac = crypto::hmacSha1(key, {buffer_.first(covered)});
        std::memcpy(p, mac.data(), mac.size());
    }
}

void StunMessageBuilder::addMessageIntegritySha256(std::span<const std::uint8_t> key) {
    const std::size_t covered = size_;
    if (std::uint8_t* p = reserve(attr::MessageIntegritySha256, 32)) {
        const auto mac = crypto::hmacSha256(key, {buffer_.first(covered)});
        std::memcpy(p, mac.data(), mac.size());
    }
}

void StunMessageBuilder::addFingerprint() noexcept {
    const std::size_t covered = size_;
    if (std::uint8_t* p = reserve(attr::Fingerprint, 4))
        writeU32(p, crypto::crc32({buffer_.first(covered)}) ^ kFingerprintXor);
}

std::string_view reasonPhrase(int code) noexcept {
    switch (code) {
    case 300: return "Try Alternate";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 486: return "Allocation Quota Reached";
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";
    default: return "Error";
    }
}

}  // namespace consultd::turn::stun
