#include "core/Metrics.h"

#include <cstdio>

namespace consultd::core {

std::string Metrics::escapeLabel(const std::string& value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

void Metrics::observeRequest(const std::string& route, const std::string& method, int status, double seconds) {
    const std::string labels = "route=\"" + escapeLabel(route) + "\",method=\"" + method + "\",status=\"" +
                               std::to_string(status) + "\"";
    std::lock_guard lock(mutex_);
    ++requests_[labels];
    Histogram& h = latency_[route];
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) ++h.buckets[i];
    }
    ++h.count;
    h.sum += seconds;
}

void Metrics::countTokenIssued(const std::string& provider) {
    std::lock_guard lock(mutex_);
    ++tokens_[provider];
}

void Metrics::countProviderError(const std::string& provider, const std::string& kind) {
    std::lock_guard lock(mutex_);
    ++providerErrors_["provider=\"" + escapeLabel(provider) + "\",kind=\"" + escapeLabel(kind) + "\""];
}

void Metrics::countAuthFailure(const std::string& reason) {
    std::lock_guard lock(mutex_);
    ++authFailures_[reason];
}

void Metrics::countWebhook(const std::string& provider, const std::string& result) {
    std::lock_guard lock(mutex_);
    ++webhooks_["provider=\"" + escapeLabel(provider) + "\",result=\"" + escapeLabel(result) + "\""];
}

void Metrics::countRoomRetry(const std::string& provider, const std::string& result) {
    std::lock_guard lock(mutex_);
    ++roomRetries_["provider=\"" + escapeLabel(provider) + "\",result=\"" + escapeLabel(result) + "\""];
}

void Metrics::countRecordingImport(const std::string& provider, const std::string& result) {
    std::lock_guard lock(mutex_);
    ++imports_["provider=\"" + escapeLabel(provider) + "\",result=\"" + escapeLabel(result) + "\""];
}

void Metrics::addCollector(Collector collector) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collector));
}

std::string Metrics::render() const {
    std::string out;
    std::vector<Collector> collectors;
    {
        std::lock_guard lock(mutex_);
        out += "# HELP consultd_http_requests_total HTTP requests by route, method and status.\n";
        out += "# TYPE consultd_http_requests_total counter\n";
        for (const auto& [labels, n] : requests_) out += "consultd_http_requests_total{" + labels + "} " + std::to_string(n) + "\n";

        out += "# HELP consultd_http_request_duration_seconds Request latency by route.\n";
        out += "# TYPE consultd_http_request_duration_seconds histogram\n";
        char number[64];
        for (const auto& [route, h] : latency_) {
            const std::string r = "route=\"" + escapeLabel(route) + "\"";
            for (std::size_t i = 0; i < kBuckets.size(); ++i) {
                std::snprintf(number, sizeof number, "%g", kBuckets[i]);
                out += "consultd_http_request_duration_seconds_bucket{" + r + ",le=\"" + number + "\"} " +
                       std::to_string(h.buckets[i]) + "\n";
            }
            out += "consultd_http_request_duration_seconds_bucket{" + r + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
            std::snprintf(number, sizeof number, "%.6f", h.sum);
            out += "consultd_http_request_duration_seconds_sum{" + r + "} " + number + "\n";
            out += "consultd_http_request_duration_seconds_count{" + r + "} " + std::to_string(h.count) + "\n";
        }

        out += "# HELP consultd_tokens_issued_total Join grants issued by provider.\n";
        out += "# TYPE consultd_tokens_issued_total counter\n";
        for (const auto& [provider, n] : tokens_) {
            out += "consultd_tokens_issued_total{provider=\"" + escapeLabel(provider) + "\"} " + std::to_string(n) + "\n";
        }
        out += "# HELP consultd_provider_errors_total Failed calls into providers.\n";
        out += "# TYPE consultd_provider_errors_total counter\n";
        for (const auto& [labels, n] : providerErrors_) out += "consultd_provider_errors_total{" + labels + "} " + std::to_string(n) + "\n";
        out += "# HELP consultd_auth_failures_total Refused authentications by reason.\n";
        out += "# TYPE consultd_auth_failures_total counter\n";
        for (const auto& [reason, n] : authFailures_) {
            out += "consultd_auth_failures_total{reason=\"" + escapeLabel(reason) + "\"} " + std::to_string(n) + "\n";
        }
        out += "# HELP consultd_webhooks_total Provider webhook requests by provider and result.\n";
        out += "# TYPE consultd_webhooks_total counter\n";
        for (const auto& [labels, n] : webhooks_) out += "consultd_webhooks_total{" + labels + "} " + std::to_string(n) + "\n";
        out += "# HELP consultd_provider_room_retries_total Background retries of provider rooms by result.\n";
        out += "# TYPE consultd_provider_room_retries_total counter\n";
        for (const auto& [labels, n] : roomRetries_) {
            out += "consultd_provider_room_retries_total{" + labels + "} " + std::to_string(n) + "\n";
        }
        out += "# HELP consultd_recording_imports_total Provider recording imports by result.\n";
        out += "# TYPE consultd_recording_imports_total counter\n";
        for (const auto& [labels, n] : imports_) {
            out += "consultd_recording_imports_total{" + labels + "} " + std::to_string(n) + "\n";
        }
        collectors = collectors_;
    }
    for (const auto& collect : collectors) collect(out);
    return out;
}

}  // namespace consultd::core
