#include "recording/ProviderDownload.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <istream>
#include <optional>
#include <regex>

namespace consultd::recording {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

/// A failure worth another attempt (network, 5xx, 429, a short body).
class RetryableError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ContentRange {
    std::uint64_t first = 0;
    std::uint64_t total = 0;  // 0 = unknown ("*")
};

std::optional<ContentRange> parseContentRange(const std::string& value) {
    static const std::regex kRange(R"(bytes\s+(\d+)-(\d+)/(\d+|\*))");
    std::smatch m;
    if (!std::regex_match(value, m, kRange)) return std::nullopt;
    ContentRange range;
    range.first = std::stoull(m[1].str());
    range.total = m[3].str() == "*" ? 0 : std::stoull(m[3].str());
    return range;
}

}  // namespace

const char* DownloadError::kindName(Kind kind) {
    switch (kind) {
        case Kind::Refused: return "refused";
        case Kind::TooLarge: return "too_large";
        case Kind::Failed: return "failed";
    }
    return "failed";
}

bool hostAllowed(const std::string& host, const std::string& pattern) {
    const std::string h = lower(host);
    const std::string p = lower(pattern);
    if (p.rfind("*.", 0) == 0) {
        const std::string suffix = p.substr(1);  // ".example.org"
        return h.size() > suffix.size() && h.compare(h.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
    return !p.empty() && h == p;
}

RecordingDownloader::RecordingDownloader(DownloadPolicy policy) : policy_(std::move(policy)) {
    if (!policy_.caFile.empty()) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(policy_.caFile, error)) {
            throw std::runtime_error("CA file " + policy_.caFile + " is not a readable file");
        }
    }
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.loadDefaultCAs = true;
    params.caLocation = policy_.caFile;
    params.verificationDepth = 9;
    try {
        tls_ = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        tls_->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                               Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("CA file " + policy_.caFile + " cannot be loaded: " + e.displayText());
    }
}

void RecordingDownloader::checkUrl(const std::string& url) const {
    Poco::URI uri;
    try {
        uri = Poco::URI(url);
    } catch (const Poco::Exception&) {
        throw DownloadError(DownloadError::Kind::Refused, "the download URL does not parse");
    }
    if (lower(uri.getScheme()) != "https") {
        throw DownloadError(DownloadError::Kind::Refused, "the download URL is not https");
    }
    if (!uri.getUserInfo().empty()) {
        throw DownloadError(DownloadError::Kind::Refused, "the download URL carries user info");
    }
    const std::string host = uri.getHost();
    const bool allowed = std::any_of(policy_.allowedHosts.begin(), policy_.allowedHosts.end(),
                                     [&](const std::string& pattern) { return hostAllowed(host, pattern); });
    if (!allowed) {
        throw DownloadError(DownloadError::Kind::Refused,
                            "host " + host + " is not in recording_import.allowed_hosts for this provider");
    }
}

DownloadResult RecordingDownloader::download(const std::string& url, DownloadSink& sink,
                                             const std::function<bool(std::chrono::milliseconds)>& sleep) const {
    checkUrl(url);
    const Poco::URI uri(url);
    DownloadResult result;
    auto delay = policy_.retryInitial;
    std::string lastError;
    std::uint64_t total = 0;  // announced by the server; 0 = not yet known
    for (int attempt = 1;; ++attempt) {
        result.attempts = attempt;
        try {
            Poco::Net::HTTPSClientSession session(uri.getHost(), uri.getPort(), tls_);
            const Poco::Timespan timeout(static_cast<Poco::Timespan::TimeDiff>(policy_.timeout.count()) * 1000);
            session.setTimeout(timeout, timeout, timeout);
            session.setKeepAlive(false);
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            const std::uint64_t have = sink.size();
            if (have > 0) request.set("Range", "bytes=" + std::to_string(have) + "-");
            session.sendRequest(request);
            Poco::Net::HTTPResponse response;
            std::istream& in = session.receiveResponse(response);
            const int status = static_cast<int>(response.getStatus());
            if (status == 206 && have > 0) {
                const auto range = parseContentRange(response.get("Content-Range", ""));
                if (!range || range->first != have) {
                    throw RetryableError("the server answered a Range request with another range");
                }
                if (range->total != 0) total = range->total;
                result.resumed = true;
            } else if (status == 200) {
                if (have > 0) sink.restart();  // Range ignored: the whole file comes again
                total = response.hasContentLength() ? static_cast<std::uint64_t>(response.getContentLength64()) : 0;
            } else if (status >= 500 || status == 429 || status == 408) {
                throw RetryableError("the server answered HTTP " + std::to_string(status));
            } else {
                // 3xx (no redirects followed: the new host was never checked), 4xx:
                // an expired or wrong link does not get better by asking again.
                throw DownloadError(DownloadError::Kind::Failed, "the server answered HTTP " + std::to_string(status));
            }
            result.contentType = response.getContentType();
            if (total > policy_.maxBytes) {
                throw DownloadError(DownloadError::Kind::TooLarge, "the recording is " + std::to_string(total) +
                                                                       " bytes, above recording_import.max_bytes (" +
                                                                       std::to_string(policy_.maxBytes) + ")");
            }
            char buffer[65536];
            while (in) {
                in.read(buffer, sizeof buffer);
                const auto n = static_cast<std::size_t>(in.gcount());
                if (n == 0) break;
                if (sink.size() + n > policy_.maxBytes) {
                    throw DownloadError(DownloadError::Kind::TooLarge,
                                        "the recording exceeds recording_import.max_bytes (" +
                                            std::to_string(policy_.maxBytes) + ") while downloading");
                }
                sink.append(buffer, n);
            }
            if (in.bad()) throw RetryableError("the transfer broke off");
            if (total != 0 && sink.size() < total) {
                throw RetryableError("the transfer ended after " + std::to_string(sink.size()) + " of " +
                                     std::to_string(total) + " bytes");
            }
            if (total != 0 && sink.size() > total) {
                sink.restart();
                throw RetryableError("the server sent more bytes than it announced");
            }
            result.bytes = sink.size();
            return result;
        } catch (const DownloadError&) {
            throw;
        } catch (const RetryableError& e) {
            lastError = e.what();
        } catch (const Poco::TimeoutException&) {
            lastError = "timed out after " + std::to_string(policy_.timeout.count()) + " ms";
        } catch (const Poco::Net::SSLException& e) {
            lastError = "TLS failed: " + e.displayText();
        } catch (const Poco::Exception& e) {
            lastError = e.displayText();
        }
        if (attempt >= policy_.maxAttempts) {
            throw DownloadError(DownloadError::Kind::Failed,
                                "gave up after " + std::to_string(attempt) + " attempts: " + lastError);
        }
        if (!sleep(delay)) throw DownloadError(DownloadError::Kind::Failed, "stopped: " + lastError);
        delay = std::min(delay * 2, policy_.retryMax);
    }
}

}  // namespace consultd::recording
