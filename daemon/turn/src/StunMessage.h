#pragma once
// STUN (RFC 8489) message codec with the TURN (RFC 8656) methods and
// attributes. StunMessageView parses a datagram in place (no allocation);
// StunMessageBuilder writes into a caller's buffer. Neither is shared
// between threads.

#include "SocketAddress.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace consultd::turn::stun {

inline constexpr std::uint32_t kMagicCookie = 0x2112A442;
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::size_t kTransactionIdSize = 12;
inline constexpr std::uint32_t kFingerprintXor = 0x5354554E;

enum class Method : std::uint16_t {
    Binding = 0x001,
    Allocate = 0x003,
    Refresh = 0x004,
    Send = 0x006,
    Data = 0x007,
    CreatePermission = 0x008,
    ChannelBind = 0x009,
};

enum class MessageClass : std::uint8_t { Request = 0, Indication = 1, Success = 2, Error = 3 };

namespace attr {
inline constexpr std::uint16_t MappedAddress = 0x0001;
inline constexpr std::uint16_t ChangeRequest = 0x0003;  // RFC 5780, sent by turnutils_stunclient
inline constexpr std::uint16_t Username = 0x0006;
inline constexpr std::uint16_t MessageIntegrity = 0x0008;
inline constexpr std::uint16_t ErrorCode = 0x0009;
inline constexpr std::uint16_t UnknownAttributes = 0x000A;
inline constexpr std::uint16_t ChannelNumber = 0x000C;
inline constexpr std::uint16_t Lifetime = 0x000D;
inline constexpr std::uint16_t Bandwidth = 0x0010;  // RFC 5766 draft leftover, coturn -a
inline constexpr std::uint16_t XorPeerAddress = 0x0012;
inline constexpr std::uint16_t Data = 0x0013;
inline constexpr std::uint16_t Realm = 0x0014;
inline constexpr std::uint16_t Nonce = 0x0015;
inline constexpr std::uint16_t XorRelayedAddress = 0x0016;
inline constexpr std::uint16_t RequestedAddressFamily = 0x0017;
inline constexpr std::uint16_t EvenPort = 0x0018;
inline constexpr std::uint16_t RequestedTransport = 0x0019;
inline constexpr std::uint16_t DontFragment = 0x001A;
inline constexpr std::uint16_t MessageIntegritySha256 = 0x001C;
inline constexpr std::uint16_t PasswordAlgorithm = 0x001D;
inline constexpr std::uint16_t Userhash = 0x001E;
inline constexpr std::uint16_t XorMappedAddress = 0x0020;
inline constexpr std::uint16_t ReservationToken = 0x0022;
inline constexpr std::uint16_t Priority = 0x0024;
inline constexpr std::uint16_t UseCandidate = 0x0025;
inline constexpr std::uint16_t Padding = 0x0026;
inline constexpr std::uint16_t ResponsePort = 0x0027;
inline constexpr std::uint16_t AdditionalAddressFamily = 0x8000;
inline constexpr std::uint16_t AddressErrorCode = 0x8001;
inline constexpr std::uint16_t PasswordAlgorithms = 0x8002;
inline constexpr std::uint16_t AlternateDomain = 0x8003;
inline constexpr std::uint16_t Icmp = 0x8004;
inline constexpr std::uint16_t Software = 0x8022;
inline constexpr std::uint16_t AlternateServer = 0x8023;
inline constexpr std::uint16_t Fingerprint = 0x8028;
inline constexpr std::uint16_t IceControlled = 0x8029;
inline constexpr std::uint16_t IceControlling = 0x802A;
inline constexpr std::uint16_t ResponseOrigin = 0x802B;
inline constexpr std::uint16_t OtherAddress = 0x802C;
}  // namespace attr

/// Comprehension-required attributes are 0x0000-0x7FFF (RFC 8489 14).
constexpr bool isComprehensionRequired(std::uint16_t type) noexcept { return type < 0x8000; }

constexpr std::uint16_t messageType(Method method, MessageClass cls) noexcept {
    const auto m = static_cast<std::uint16_t>(method);
    const auto c = static_cast<std::uint16_t>(cls);
    return static_cast<std::uint16_t>((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) |
                                      ((c & 1) << 4) | ((c & 2) << 7));
}

/// First byte 0x40..0x7F: ChannelData (RFC 8656 12).
constexpr bool isChannelData(std::uint8_t firstByte) noexcept { return (firstByte & 0xC0) == 0x40; }
/// RFC 8656 narrowed channel numbers to 0x4000-0x4FFF, but RFC 5766 allows
/// 0x4000-0x7FFF and its clients (coturn's own turnutils among them) pick
/// from that whole range; refusing any of it would break them, and
/// 0x5000-0x7FFF cannot collide with STUN.
constexpr bool isValidChannel(std::uint16_t channel) noexcept { return channel >= 0x4000 && channel <= 0x7FFF; }

struct Attribute {
    std::uint16_t type = 0;
    std::uint16_t offset = 0;  ///< of the attribute header within the message
    std::span<const std::uint8_t> value;
};

enum class ParseResult {
    Ok,
    NotStun,         ///< first two bits, magic cookie or size say this is not STUN
    Malformed,       ///< STUN header but broken attributes / length
    BadFingerprint,  ///< FINGERPRINT present and wrong (RFC 8489: discard silently)
};

/// Read-only view of one STUN message; the bytes must outlive it.
class StunMessageView {
public:
    static constexpr std::size_t kMaxAttributes = 48;

    StunMessageView() = default;
    // Holds pointers into its own attribute table: not copyable.
    StunMessageView(const StunMessageView&) = delete;
    StunMessageView& operator=(const StunMessageView&) = delete;

    /// Validates framing per RFC 8489 6.3: top bits 00, magic cookie, length
    /// a multiple of 4 matching the datagram, attributes inside the message,
    /// MESSAGE-INTEGRITY(-SHA256) followed only by integrity/FINGERPRINT,
    /// FINGERPRINT last and correct.
    ParseResult parse(std::span<const std::uint8_t> message) noexcept;

    Method method() const noexcept { return method_; }
    std::uint16_t rawMethod() const noexcept { return rawMethod_; }
    MessageClass messageClass() const noexcept { return class_; }
    std::span<const std::uint8_t, kTransactionIdSize> transactionId() const noexcept {
        return std::span<const std::uint8_t, kTransactionIdSize>(bytes_.data() + 8, kTransactionIdSize);
    }
    std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }
    std::span<const Attribute> attributes() const noexcept { return {attrs_.data(), count_}; }
    /// Attributes before MESSAGE-INTEGRITY: the only ones a request may act on.
    std::span<const Attribute> usableAttributes() const noexcept { return {attrs_.data(), usableCount_}; }

    /// First attribute of `type` before the integrity attributes (RFC 8489:
    /// attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored).
    const Attribute* find(std::uint16_t type) const noexcept;
    bool has(std::uint16_t type) const noexcept { return find(type) != nullptr; }
    std::optional<std::string_view> findString(std::uint16_t type) const noexcept;
    std::optional<std::uint32_t> findU32(std::uint16_t type) const noexcept;
    /// XOR-*-ADDRESS decoded (nullopt if absent or malformed).
    std::optional<SocketAddress> findXorAddress(std::uint16_t type) const noexcept;
    std::optional<SocketAddress> xorAddress(const Attribute& a) const noexcept;

    bool hasMessageIntegrity() const noexcept { return integrity_ != nullptr || integrity256_ != nullptr; }
    bool usesSha256Integrity() const noexcept { return integrity256_ != nullptr; }
    /// Checks MESSAGE-INTEGRITY-SHA256 when present (RFC 8489 9.2.4 prefers
    /// it), else MESSAGE-INTEGRITY, with `key` in constant time.
    bool verifyIntegrity(std::span<const std::uint8_t> key) const;

private:
    std::span<const std::uint8_t> bytes_;
    Method method_ = Method::Binding;
    std::uint16_t rawMethod_ = 0;
    MessageClass class_ = MessageClass::Request;
    std::array<Attribute, kMaxAttributes> attrs_{};
    std::size_t count_ = 0;
    std::size_t usableCount_ = 0;  ///< attributes before the first integrity attribute
    const Attribute* integrity_ = nullptr;
    const Attribute* integrity256_ = nullptr;
};

/// Writes one STUN message into a caller-provided buffer. Once an append
/// does not fit, ok() turns false and the buffer must not be sent.
class StunMessageBuilder {
public:
    StunMessageBuilder(std::span<std::uint8_t> buffer, Method method, MessageClass cls,
                       std::span<const std::uint8_t, kTransactionIdSize> transactionId) noexcept;

    void add(std::uint16_t type, std::span<const std::uint8_t> value) noexcept;
    void addString(std::uint16_t type, std::string_view value) noexcept;
    void addU32(std::uint16_t type, std::uint32_t value) noexcept;
    void addAddress(std::uint16_t type, const SocketAddress& address) noexcept;  ///< plain (MAPPED-ADDRESS)
    void addXorAddress(std::uint16_t type, const SocketAddress& address) noexcept;
    /// ERROR-CODE with the reason phrase.
    void addError(int code, std::string_view reason) noexcept;
    void addUnknownAttributes(std::span<const std::uint16_t> types) noexcept;
    /// MESSAGE-INTEGRITY (HMAC-SHA1) over everything so far.
    void addMessageIntegrity(std::span<const std::uint8_t> key);
    void addMessageIntegritySha256(std::span<const std::uint8_t> key);
    void addFingerprint() noexcept;

    bool ok() const noexcept { return ok_; }
    std::span<const std::uint8_t> bytes() const noexcept { return {buffer_.data(), size_}; }

private:
    std::uint8_t* reserve(std::uint16_t type, std::size_t valueLength) noexcept;
    void setLength(std::size_t bodyLength) noexcept;

    std::span<std::uint8_t> buffer_;
    std::size_t size_ = 0;
    bool ok_ = true;
};

/// Encodes the XOR-ed address value (family, port, address) as RFC 8489 14.2.
std::size_t encodeXorAddress(const SocketAddress& address,
                             std::span<const std::uint8_t, kTransactionIdSize> transactionId,
                             std::uint8_t* out) noexcept;

/// Default reason phrases for the error codes the relay sends.
std::string_view reasonPhrase(int code) noexcept;

}  // namespace consultd::turn::stun
