#pragma once
// The one exception type a request handler throws for a client-visible error.
// http/ErrorMapper turns it (and store/provider exceptions) into the JSON
// error envelope {"error": {code, message, details, request_id}}.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace consultd::core {

class ApiError : public std::runtime_error {
public:
    ApiError(int status, std::string code, const std::string& message)
        : std::runtime_error(message), status_(status), code_(std::move(code)) {}

    int status() const noexcept { return status_; }
    const std::string& code() const noexcept { return code_; }
    /// Flat string details (e.g. field -> problem for 422).
    const std::map<std::string, std::string>& details() const noexcept { return details_; }
    /// The key under which details are nested ("fields" for validation errors).
    const std::string& detailsKey() const noexcept { return detailsKey_; }
    std::optional<int> retryAfterSeconds() const noexcept { return retryAfter_; }

    ApiError& withDetails(std::string key, std::map<std::string, std::string> details) {
        detailsKey_ = std::move(key);
        details_ = std::move(details);
        return *this;
    }
    ApiError& withDetail(const std::string& key, const std::string& value) {
        details_[key] = value;
        return *this;
    }
    ApiError& withRetryAfter(int seconds) {
        retryAfter_ = seconds;
        return *this;
    }
    /// An extra response header (e.g. Content-Range on 416).
    ApiError& withHeader(std::string name, std::string value) {
        headers_.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }

private:
    int status_;
    std::string code_;
    std::map<std::string, std::string> details_;
    std::string detailsKey_;
    std::optional<int> retryAfter_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace consultd::core
