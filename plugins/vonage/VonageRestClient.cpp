#include "VonageRestClient.h"

#include "Settings.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLException.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>

#include <algorithm>
#include <filesystem>
#include <istream>
#include <memory>
#include <sstream>
#include <utility>

namespace consultd::vonage {

namespace {

/// Answers of this API are a few hundred bytes; a larger one is not the API
/// and must not make the daemon buffer without limit.
constexpr std::size_t kMaxResponseBytes = 1 << 20;
/// Longest upstream message quoted in an exception (they reach logs and API errors).
constexpr std::size_t kMaxQuotedMessage = 200;
/// Longest session id accepted from the API (real ones are about 80 characters).
constexpr std::size_t kMaxSessionIdChars = 1024;

bool isPlainId(const std::string& id) {
    return !id.empty() && id.size() <= 256 && id.find("..") == std::string::npos &&
           std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
           });
}

bool isPrintableAscii(const std::string& text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string readBounded(std::istream& in) {
    std::string body;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        body.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (body.size() > kMaxResponseBytes) {
            throw ProviderUnavailable("the Vonage API answer exceeds 1 MiB");
        }
    }
    return body;
}

/// The `message` of a JSON error body, shortened and printable; "" otherwise.
std::string upstreamMessage(const std::string& body) {
    try {
        Poco::JSON::Parser parser;
        const Poco::Dynamic::Var parsed = parser.parse(body);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return {};
        const auto object = parsed.extract<Poco::JSON::Object::Ptr>();
        std::string message = object->optValue<std::string>("message", "");
        if (message.size() > kMaxQuotedMessage) message.resize(kMaxQuotedMessage);
        std::replace_if(message.begin(), message.end(), [](char c) { return c < 0x20 || c == 0x7f; }, ' ');
        return message;
    } catch (const Poco::Exception&) {
        return {};  // a non-JSON error page: the status says enough
    }
}

Poco::JSON::Object::Ptr parseObject(const Poco::Dynamic::Var& value) {
    if (value.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return value.extract<Poco::JSON::Object::Ptr>();
}

Poco::Dynamic::Var parseJson(const std::string& body, const char* what) {
    try {
        Poco::JSON::Parser parser;
        return parser.parse(body);
    } catch (const Poco::Exception&) {
        throw ProviderUnavailable(std::string("the Vonage API answered ") + what + " with malformed JSON");
    }
}

}  // namespace

// ---------------------------------------------------------------- UpstreamHealth

void UpstreamHealth::recordSuccess() {
    std::lock_guard lock(mutex_);
    consecutiveFailures_ = 0;
    authFailing_ = false;
    detail_ = "last request succeeded";
}

void UpstreamHealth::recordFailure(const std::string& detail) {
    std::lock_guard lock(mutex_);
    ++consecutiveFailures_;
    detail_ = detail;
}

void UpstreamHealth::recordAuthFailure(const std::string& detail) {
    std::lock_guard lock(mutex_);
    consecutiveFailures_ = 0;
    authFailing_ = true;
    detail_ = detail;
}

Health UpstreamHealth::current() const {
    std::lock_guard lock(mutex_);
    if (consecutiveFailures_ >= kUnavailableAfterFailures) {
        return Health{Health::State::Unavailable,
                      std::to_string(consecutiveFailures_) + " consecutive failures: " + detail_};
    }
    if (consecutiveFailures_ > 0 || authFailing_) return Health{Health::State::Degraded, detail_};
    return Health{Health::State::Healthy, detail_};
}

// ---------------------------------------------------------------- VonageRestClient

bool isLoopbackHost(const std::string& host) {
    if (Poco::toLower(host) == "localhost") return true;
    Poco::Net::IPAddress address;
    return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

VonageRestClient::VonageRestClient(RestClientConfig config, const VonageSigner& signer, Clock clock)
    : config_(std::move(config)), signer_(signer), clock_(std::move(clock)) {
    try {
        base_ = Poco::URI(config_.baseUrl);
    } catch (const Poco::SyntaxException&) {
        throw SettingError(setting::kApiBaseUrl, "is not a valid URL");
    }
    const std::string scheme = Poco::toLower(base_.getScheme());
    if (base_.getHost().empty() || !base_.getUserInfo().empty() || !base_.getRawQuery().empty() ||
        !base_.getFragment().empty()) {
        throw SettingError(setting::kApiBaseUrl,
                           "must be https://host[:port][/path] without user info, query or fragment");
    }
    if (scheme == "http") {
        // Tokens and session ids must not cross a network in clear text; a
        // loopback test server (or a local TLS-terminating proxy) is the only exception.
        if (!isLoopbackHost(base_.getHost())) {
            throw SettingError(setting::kApiBaseUrl,
                               "must use https (plain http is accepted only for a loopback host)");
        }
        tls_ = false;
    } else if (scheme != "https") {
        throw SettingError(setting::kApiBaseUrl, "must be an https:// URL");
    }
    basePath_ = base_.getPath();
    while (!basePath_.empty() && basePath_.back() == '/') basePath_.pop_back();

    if (!config_.caFile.empty()) {
        std::error_code error;
        if (!std::filesystem::is_regular_file(config_.caFile, error)) {
            throw SettingError(setting::kCaFile, "is not a readable file");
        }
    }
    if (tls_) {
        Poco::Net::Context::Params params;
        params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
        params.loadDefaultCAs = true;  // the system store, plus ca_file below
        params.caLocation = config_.caFile;
        params.verificationDepth = 9;
        try {
            tlsContext_ = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
            tlsContext_->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                                          Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
        } catch (const Poco::Exception&) {
            throw SettingError(setting::kCaFile, "cannot be loaded as a PEM CA bundle");
        }
    }
}

std::string VonageRestClient::baseUrl() const {
    Poco::URI uri(base_);
    uri.setPath(basePath_);
    return uri.toString();
}

VonageRestClient::Response VonageRestClient::post(const std::string& path, const std::string& contentType,
                                                  const std::string& body, const char* what) {
    return send(Poco::Net::HTTPRequest::HTTP_POST, path, contentType, body, what);
}

VonageRestClient::Response VonageRestClient::send(const std::string& method, const std::string& path,
                                                  const std::string& contentType, const std::string& body,
                                                  const char* what) {
    const std::string target = std::string(what) + " (" + baseUrl() + ")";
    Response result;
    try {
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (tls_) {
            session = std::make_unique<Poco::Net::HTTPSClientSession>(base_.getHost(), base_.getPort(), tlsContext_);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(base_.getHost(), base_.getPort());
        }
        const Poco::Timespan timeout(static_cast<Poco::Timespan::TimeDiff>(config_.timeout.count()) * 1000);
        session->setTimeout(timeout, timeout, timeout);
        session->setKeepAlive(false);

        Poco::Net::HTTPRequest request(method, basePath_ + path, Poco::Net::HTTPMessage::HTTP_1_1);
        if (!contentType.empty()) request.setContentType(contentType);
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        request.set("Accept", "application/json");
        // A fresh token per request: nothing long-lived to leak or expire mid-use.
        request.set("Authorization", "Bearer " + signer_.appToken(unixSeconds(clock_())));
        session->sendRequest(request) << body;

        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        result.status = static_cast<int>(response.getStatus());
        result.body = readBounded(in);
    } catch (const ProviderUnavailable& error) {
        health_.recordFailure(error.what());
        throw;
    } catch (const Poco::TimeoutException&) {
        const std::string detail = target + " timed out after " + std::to_string(config_.timeout.count()) + " ms";
        health_.recordFailure(detail);
        throw ProviderUnavailable("vonage: " + detail);
    } catch (const Poco::Net::SSLException& error) {
        // Includes CertificateValidationException: the host is reachable but
        // not trustworthy, which no retry by the client can fix either.
        const std::string detail = target + ": TLS failed: " + error.displayText();
        health_.recordFailure(detail);
        throw ProviderUnavailable("vonage: " + detail);
    } catch (const Poco::Exception& error) {
        const std::string detail = target + " failed: " + error.displayText();
        health_.recordFailure(detail);
        throw ProviderUnavailable("vonage: " + detail);
    }

    if (result.status >= 200 && result.status < 300) {
        health_.recordSuccess();
        return result;
    }
    std::string detail = target + " answered HTTP " + std::to_string(result.status);
    if (const std::string message = upstreamMessage(result.body); !message.empty()) {
        detail += ": " + message;
    }
    // 429 is the API throttling us: transient, like a 5xx, so a retry later may work.
    if (result.status >= 500 || result.status == 429) {
        health_.recordFailure(detail);
        throw ProviderUnavailable("vonage: " + detail);
    }
    if (result.status == 401 || result.status == 403) {
        health_.recordAuthFailure(detail + " (check application_id and private_key_file)");
    } else if (result.status >= 400) {
        health_.recordSuccess();  // reachable and answering; the request itself was refused
    } else {
        health_.recordFailure(detail);  // 1xx/3xx: not what this API does
        throw ProviderUnavailable("vonage: " + detail);
    }
    throw ProviderRejected("vonage: " + detail);
}

std::string VonageRestClient::createSession(ArchiveMode archiveMode, MediaMode mediaMode) {
    // Fixed words only, so no form escaping is needed.
    const std::string form = std::string("archiveMode=") + (archiveMode == ArchiveMode::Always ? "always" : "manual") +
                             "&p2p.preference=" + (mediaMode == MediaMode::Relayed ? "enabled" : "disabled");
    const Response response =
        post("/session/create", "application/x-www-form-urlencoded", form, "POST /session/create");
    const Poco::Dynamic::Var parsed = parseJson(response.body, "session/create");
    Poco::JSON::Object::Ptr first;
    if (parsed.type() == typeid(Poco::JSON::Array::Ptr)) {
        const auto array = parsed.extract<Poco::JSON::Array::Ptr>();
        if (array->size() > 0) first = array->getObject(0);
    }
    const std::string sessionId = first ? first->optValue<std::string>("session_id", "") : std::string();
    if (sessionId.empty() || sessionId.size() > kMaxSessionIdChars || !isPrintableAscii(sessionId)) {
        // Counted as an upstream failure: a server that answers 200 without a
        // usable session is as broken as one that answers 500.
        const std::string detail = "POST /session/create answered without a usable session_id";
        health_.recordFailure(detail);
        throw ProviderUnavailable("vonage: " + detail);
    }
    return sessionId;
}

std::string VonageRestClient::startArchive(const std::string& sessionId, bool hasVideo, const std::string& name) {
    Poco::JSON::Object request;
    request.set("sessionId", sessionId);
    request.set("hasAudio", true);
    request.set("hasVideo", hasVideo);
    request.set("name", name);
    request.set("outputMode", std::string("composed"));
    request.set("streamMode", std::string("auto"));
    std::ostringstream body;
    request.stringify(body);
    const std::string path = "/v2/project/" + signer_.applicationId() + "/archive";
    const Response response = post(path, "application/json", body.str(), "POST archive");
    const Poco::JSON::Object::Ptr archive = parseObject(parseJson(response.body, "archive start"));
    const std::string id = archive ? archive->optValue<std::string>("id", "") : std::string();
    // The id goes into the stop URL's path: accept only a plain token.
    if (!isPlainId(id)) {
        const std::string detail = "POST archive answered without a usable archive id";
        health_.recordFailure(detail);
        throw ProviderUnavailable("vonage: " + detail);
    }
    return id;
}

void VonageRestClient::stopArchive(const std::string& archiveId) {
    if (!isPlainId(archiveId)) throw ProviderRejected("vonage: malformed archive id");
    const std::string path = "/v2/project/" + signer_.applicationId() + "/archive/" + archiveId + "/stop";
    post(path, "application/json", "", "POST archive stop");
}

void VonageRestClient::deleteArchive(const std::string& archiveId) {
    if (!isPlainId(archiveId)) throw ProviderRejected("vonage: malformed archive id");
    const std::string path = "/v2/project/" + signer_.applicationId() + "/archive/" + archiveId;
    send(Poco::Net::HTTPRequest::HTTP_DELETE, path, "", "", "DELETE archive");
}

}  // namespace consultd::vonage
