#pragma once
// Downloads a provider's finished recording (a Vonage archive URL, a JaaS
// preAuthenticatedLink) for the import into the local recording store.
//
// Only https, only to hosts configured for the provider (a webhook must never
// make the appliance fetch from the hospital's own network: SSRF), strict TLS
// verification (system CAs plus an optional CA file, host name checked), no
// redirects. Bounded: the size (Content-Length checked before the body, the
// bytes counted while streaming), a timeout per connect/send/receive, a
// number of attempts with exponential backoff. An interrupted transfer is
// resumed with `Range: bytes=<have>-` when the server answers 206; a server
// that ignores Range starts the file over. A download only succeeds when the
// byte count equals the total the server announced.
//
// Thread-safety: a RecordingDownloader is immutable after construction and
// may be used from several threads; one download() call per sink.

#include <Poco/Net/Context.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace consultd::recording {

/// Where the downloaded bytes go.
class DownloadSink {
public:
    virtual ~DownloadSink() = default;
    virtual void append(const char* data, std::size_t size) = 0;
    /// Bytes appended so far (where a resumed transfer continues).
    virtual std::uint64_t size() const = 0;
    /// Throws everything away: the server sent the whole file again.
    virtual void restart() = 0;
};

/// Why a download did not succeed.
class DownloadError : public std::runtime_error {
public:
    enum class Kind {
        Refused,   ///< URL not allowed (scheme, host, user info): never retried
        TooLarge,  ///< over max_bytes: never retried
        Failed,    ///< the server refused (4xx) or every attempt failed
    };
    DownloadError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    Kind kind() const noexcept { return kind_; }
    static const char* kindName(Kind kind);

private:
    Kind kind_;
};

struct DownloadPolicy {
    /// Host names the URL may name: exact ("media.example.org") or a suffix
    /// pattern ("*.example.org" matches one or more labels before it).
    std::vector<std::string> allowedHosts;
    std::string caFile;                       ///< extra PEM CA bundle; "" = system store only
    std::uint64_t maxBytes = 0;
    std::chrono::milliseconds timeout{30000};  ///< connect, and each send/receive
    int maxAttempts = 5;
    std::chrono::milliseconds retryInitial{2000};
    std::chrono::milliseconds retryMax{60000};
};

struct DownloadResult {
    std::uint64_t bytes = 0;
    int attempts = 0;
    bool resumed = false;       ///< a Range request continued a partial transfer
    std::string contentType;
};

class RecordingDownloader {
public:
    /// Throws std::runtime_error when the CA file cannot be loaded.
    explicit RecordingDownloader(DownloadPolicy policy);

    /// Checks `url` against the policy; throws DownloadError(Refused).
    void checkUrl(const std::string& url) const;

    /// Downloads `url` into `sink`. `sleep` waits between attempts and
    /// returns false when the daemon is stopping (the download then fails).
    /// Throws DownloadError.
    DownloadResult download(const std::string& url, DownloadSink& sink,
                            const std::function<bool(std::chrono::milliseconds)>& sleep) const;

    const DownloadPolicy& policy() const noexcept { return policy_; }

private:
    DownloadPolicy policy_;
    Poco::Net::Context::Ptr tls_;
};

/// True when `host` is matched by `pattern` (see DownloadPolicy::allowedHosts); case-insensitive.
bool hostAllowed(const std::string& host, const std::string& pattern);

}  // namespace consultd::recording
