#pragma once
// Encrypted recording container ("CDREC v1"): the on-disk format shared by the
// writer, the reader and the repair tool. docs/webrtc.md describes it for
// people; this header is the reference for code.
//
// File    = Header (48 bytes) || Slot 0 || Slot 1 || ... || Slot n-1
// Header  = magic "CDREC\0\r\n" | version u16 | header length u16 | chunk size u32 |
//           key id (8) | file nonce prefix (8, random per file) | reserved (16, zero)
// Slot i  = word u32 (bit 31 final flag, bits 0..30 plaintext length) | seq u32 |
//           ciphertext (length bytes) | GCM tag (16)
// Every slot but the last has exactly chunkSize plaintext bytes and sits at the
// fixed offset 48 + i * (chunkSize + 24), which is what gives random access.
// Nonce   = file nonce prefix || seq (a per-file counter bumped on every seal,
//           so a chunk rewritten in place never reuses a nonce).
// AAD     = header || chunk index u64 || word: moving, dropping, re-flagging or
//           cutting chunks, or editing the header, fails authentication.
// All integers are big-endian.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX, kept out of this header

namespace consultd::recording {

/// Size of an AES-256 key in bytes.
inline constexpr std::size_t kKeySize = 32;
/// Size of the fixed container header in bytes.
inline constexpr std::size_t kHeaderSize = 48;
/// Per-slot overhead: length word, sequence number, GCM tag.
inline constexpr std::size_t kSlotOverhead = 4 + 4 + 16;
/// Default plaintext bytes per chunk (64 KiB: about half a second of HD video).
inline constexpr std::uint32_t kDefaultChunkSize = 64 * 1024;
/// Largest chunk size a reader accepts (bounds memory for hostile files).
inline constexpr std::uint32_t kMaxChunkSize = 16 * 1024 * 1024;
/// Current container version.
inline constexpr std::uint16_t kFormatVersion = 1;

/// Why a recording could not be read or written.
enum class RecordingErrorKind {
    Io,         ///< the OS refused a read/write (disk full, permissions...)
    BadHeader,  ///< not a CDREC file, unknown version or malformed header
    WrongKey,   ///< the header names another key id
    Tampered,   ///< a chunk failed authentication or its framing is inconsistent
    Truncated,  ///< the file ends before its final chunk (cut or crashed writer)
    Usage,      ///< the caller broke the API contract (e.g. write after finish)
};

/// Error thrown by every function of the recording container.
class RecordingError : public std::runtime_error {
public:
    RecordingError(RecordingErrorKind kind, const std::string& message)
        : std::runtime_error(message), kind_(kind) {}
    /// The category, so callers can tell a wrong key from tampering or disk full.
    RecordingErrorKind kind() const noexcept { return kind_; }

private:
    RecordingErrorKind kind_;
};

/// Short stable name of an error kind ("io", "tampered", ...), for logs and events.
const char* toString(RecordingErrorKind kind) noexcept;

/// A recording key: 32 secret bytes and the public id derived from them.
/// Immutable after construction; safe to share between threads. The bytes are
/// wiped when the object is destroyed.
class RecordingKey {
public:
    /// Wraps raw key bytes. Throws RecordingError(Usage) if not 32 bytes.
    explicit RecordingKey(std::span<const std::uint8_t> bytes);
    ~RecordingKey();
    RecordingKey(const RecordingKey&) = default;
    RecordingKey& operator=(const RecordingKey&) = default;

    /// Reads a key file: exactly 32 raw bytes (`openssl rand -out K 32`) or 64
    /// hex digits (`openssl rand -hex 32 > K`), optionally followed by a newline.
    /// Throws RecordingError(Io/Usage) naming the file. Sets *tooOpen (when not
    /// null) if others, or a group other than the process's, may read the
    /// file, so the caller can warn.
    static RecordingKey loadFromFile(const std::string& path, bool* tooOpen = nullptr);

    /// The 32 key bytes.
    const std::array<std::uint8_t, kKeySize>& bytes() const noexcept { return bytes_; }
    /// First 8 bytes of SHA-256("consultd-recording-key-id" || key): stored in
    /// the header so a reader can say "wrong key" instead of "tampered".
    const std::array<std::uint8_t, 8>& id() const noexcept { return id_; }
    /// The id as 16 lowercase hex digits.
    std::string idHex() const;

private:
    std::array<std::uint8_t, kKeySize> bytes_{};
    std::array<std::uint8_t, 8> id_{};
};

/// Parsed container header.
struct RecordingHeader {
    std::uint32_t chunkSize = kDefaultChunkSize;
    std::array<std::uint8_t, 8> keyId{};
    std::array<std::uint8_t, 8> noncePrefix{};

    /// The 48 serialised bytes (also the AAD prefix of every chunk).
    std::array<std::uint8_t, kHeaderSize> serialize() const;
    /// Parses and validates; throws RecordingError(BadHeader).
    static RecordingHeader parse(std::span<const std::uint8_t> bytes);
    /// Byte offset of slot `index` in the file.
    std::uint64_t slotOffset(std::uint64_t index) const noexcept {
        return kHeaderSize + index * (static_cast<std::uint64_t>(chunkSize) + kSlotOverhead);
    }
};

/// Seals and opens individual chunks with AES-256-GCM (OpenSSL EVP).
/// Holds one EVP context; not thread-safe (use one per thread).
class ChunkCipher {
public:
    ChunkCipher(const RecordingKey& key, const RecordingHeader& header);
    ~ChunkCipher();
    ChunkCipher(const ChunkCipher&) = delete;
    ChunkCipher& operator=(const ChunkCipher&) = delete;

    /// Encrypts `plain` as chunk `index` with sequence `seq`; returns the whole
    /// slot (word, seq, ciphertext, tag).
    std::string seal(std::uint64_t index, std::uint32_t seq, bool final,
                     std::span<const std::uint8_t> plain);

    /// Result of opening one slot.
    struct Opened {
        bool final = false;
        std::uint32_t seq = 0;
        std::string plain;
    };
    /// Authenticates and decrypts the slot bytes for chunk `index`. Throws
    /// RecordingError(Tampered) when the slot is malformed or fails the tag.
    Opened open(std::uint64_t index, std::span<const std::uint8_t> slot);

private:
    std::array<std::uint8_t, kHeaderSize> headerBytes_;
    std::array<std::uint8_t, 8> noncePrefix_;
    std::array<std::uint8_t, kKeySize> key_;
    struct CtxFree {
        void operator()(evp_cipher_ctx_st* ctx) const noexcept;
    };
    std::unique_ptr<evp_cipher_ctx_st, CtxFree> ctx_;
};

/// Fills `out` with cryptographically secure random bytes (RAND_bytes).
void secureRandom(std::span<std::uint8_t> out);

}  // namespace consultd::recording
