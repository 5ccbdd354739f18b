#pragma once
// What a route sees of one HTTP request and what it fills in for the answer.
// Not shared between threads: one Request/Response pair per request.

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace consultd::http {

/// The authenticated caller (empty keyId and adminUser for public routes).
struct Principal {
    std::string keyId;
    std::vector<std::string> scopes;
    /// Set when an admin console session cookie authenticated the request.
    std::string adminUser;
    std::string actorName() const {
        if (!adminUser.empty()) return "admin:" + adminUser;
        return keyId.empty() ? "anonymous" : "apikey:" + keyId;
    }
};

class Request {
public:
    Request(Poco::Net::HTTPServerRequest& raw, std::string requestId, std::size_t maxBodyBytes);

    Poco::Net::HTTPServerRequest& raw() { return raw_; }
    const std::string& requestId() const { return requestId_; }
    const std::string& method() const { return raw_.getMethod(); }
    const std::string& path() const { return path_; }
    std::string clientAddress() const;

    /// A path parameter of the matched route ("{id}").
    const std::string& param(const std::string& name) const;
    /// A query parameter (decoded); nullopt when absent.
    std::optional<std::string> query(const std::string& name) const;

    /// The body as a JSON object: 415 unless Content-Type is application/json,
    /// 413 above the size limit, 400 when it is not a JSON object. An empty
    /// body is an empty object when `allowEmpty`.
    Poco::JSON::Object::Ptr jsonBody(bool allowEmpty = false);

    /// The raw body bytes, exactly as received (for signature checks): 413
    /// above `maxBytes`. Reads the body; call once.
    std::string rawBody(std::size_t maxBytes);

    Principal principal;
    std::map<std::string, std::string> params;

private:
    std::string readBody(std::size_t maxBytes);

    Poco::Net::HTTPServerRequest& raw_;
    std::string requestId_;
    std::size_t maxBodyBytes_;
    std::string path_;
    std::vector<std::pair<std::string, std::string>> query_;
    bool bodyRead_ = false;
};

struct Response {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    void json(int code, const Poco::JSON::Object& object);
    void text(int code, std::string contentTypeValue, std::string content);
};

}  // namespace consultd::http
