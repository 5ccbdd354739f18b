#include "http/Request.h"

#include "core/ApiError.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <istream>
#include <sstream>

namespace consultd::http {

using core::ApiError;

Request::Request(Poco::Net::HTTPServerRequest& raw, std::string requestId, std::size_t maxBodyBytes)
    : raw_(raw), requestId_(std::move(requestId)), maxBodyBytes_(maxBodyBytes) {
    try {
        Poco::URI uri(raw.getURI());
        path_ = uri.getPath();
        query_ = uri.getQueryParameters();
    } catch (const Poco::Exception&) {
        throw ApiError(400, "BAD_REQUEST", "malformed request URI");
    }
}

std::string Request::clientAddress() const { return raw_.clientAddress().host().toString(); }

const std::string& Request::param(const std::string& name) const {
    static const std::string empty;
    const auto it = params.find(name);
    return it == params.end() ? empty : it->second;
}

std::optional<std::string> Request::query(const std::string& name) const {
    for (const auto& [key, value] : query_) {
        if (key == name) return value;
    }
    return std::nullopt;
}

std::string Request::rawBody(std::size_t maxBytes) { return readBody(maxBytes); }

std::string Request::readBody(std::size_t limit) {
    bodyRead_ = true;
    if (raw_.hasContentLength() && raw_.getContentLength64() > static_cast<Poco::Int64>(limit)) {
        throw ApiError(413, "PAYLOAD_TOO_LARGE", "request body exceeds " + std::to_string(limit) + " bytes")
            .withDetail("max_bytes", std::to_string(limit));
    }
    std::istream& in = raw_.stream();
    std::string body;
    char buffer[8192];
    while (in) {
        in.read(buffer, sizeof buffer);
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) break;
        if (body.size() + n > limit) {
            throw ApiError(413, "PAYLOAD_TOO_LARGE", "request body exceeds " + std::to_string(limit) + " bytes")
                .withDetail("max_bytes", std::to_string(limit));
        }
        body.append(buffer, n);
    }
    return body;
}

Poco::JSON::Object::Ptr Request::jsonBody(bool allowEmpty) {
    const bool hasBody = (raw_.hasContentLength() && raw_.getContentLength64() > 0) || raw_.getChunkedTransferEncoding();
    if (!hasBody && allowEmpty) return new Poco::JSON::Object;
    std::string contentType = raw_.getContentType();
    const auto semicolon = contentType.find(';');
    std::string mediaType = contentType.substr(0, semicolon);
    while (!mediaType.empty() && mediaType.back() == ' ') mediaType.pop_back();
    for (auto& c : mediaType) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (mediaType != "application/json") {
        throw ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json")
            .withDetail("content_type", contentType.substr(0, 100));
    }
    const std::string body = readBody(maxBodyBytes_);
    if (body.empty()) {
        if (allowEmpty) return new Poco::JSON::Object;
        throw ApiError(400, "MALFORMED_JSON", "the request body is empty");
    }
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(body);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
            throw ApiError(400, "MALFORMED_JSON", "the request body must be a JSON object");
        }
        return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw ApiError(400, "MALFORMED_JSON", "the request body is not valid JSON");
    }
}

void Response::json(int code, const Poco::JSON::Object& object) {
    status = code;
    contentType = "application/json";
    std::ostringstream out;
    object.stringify(out);
    body = out.str();
}

void Response::text(int code, std::string contentTypeValue, std::string content) {
    status = code;
    contentType = std::move(contentTypeValue);
    body = std::move(content);
}

}  // namespace consultd::http
