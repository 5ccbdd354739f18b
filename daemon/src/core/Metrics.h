#pragma once
// Prometheus metrics of the daemon, rendered in the text exposition format.
//
// Thread-safety: thread-safe. Counters are keyed by their label set under one
// mutex per family; the critical sections are a map lookup and an add.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace consultd::core {

class Metrics {
public:
    /// Extra lines produced at scrape time (sessions by status, TURN counters...).
    using Collector = std::function<void(std::string& out)>;

    void observeRequest(const std::string& route, const std::string& method, int status, double seconds);
    void countTokenIssued(const std::string& provider);
    void countProviderError(const std::string& provider, const std::string& kind);
    void countAuthFailure(const std::string& reason);
    /// A webhook request: result accepted | rejected | invalid | rate_limited | unavailable.
    void countWebhook(const std::string& provider, const std::string& result);
    /// A background retry of a provider room: result created | unavailable | rejected.
    void countRoomRetry(const std::string& provider, const std::string& result);
    /// A provider recording import: result imported | refused | too_large | failed | dropped.
    void countRecordingImport(const std::string& provider, const std::string& result);
    void addCollector(Collector collector);

    /// The whole exposition text.
    std::string render() const;

    /// Escapes a label value (backslash, quote, newline).
    static std::string escapeLabel(const std::string& value);

private:
    static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
    struct Histogram {
        std::array<std::uint64_t, kBuckets.size()> buckets{};
        std::uint64_t count = 0;
        double sum = 0;
    };

    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> requests_;       // label text -> count
    std::map<std::string, Histogram> latency_;            // route -> histogram
    std::map<std::string, std::uint64_t> tokens_;         // provider -> count
    std::map<std::string, std::uint64_t> providerErrors_; // label text -> count
    std::map<std::string, std::uint64_t> authFailures_;   // reason -> count
    std::map<std::string, std::uint64_t> webhooks_;       // label text -> count
    std::map<std::string, std::uint64_t> roomRetries_;    // label text -> count
    std::map<std::string, std::uint64_t> imports_;        // label text -> count
    std::vector<Collector> collectors_;
};

}  // namespace consultd::core
