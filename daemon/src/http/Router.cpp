#include "http/Router.h"

namespace consultd::http {

std::vector<std::string> splitPath(const std::string& path) {
    std::vector<std::string> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        const auto end = slash == std::string::npos ? path.size() : slash;
        if (end > start) segments.push_back(path.substr(start, end - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return segments;
}

void Router::add(std::string method, std::string pattern, std::string scope, std::unique_ptr<Route> route) {
    RouteEntry entry;
    entry.segments = splitPath(pattern);
    entry.method = std::move(method);
    entry.pattern = std::move(pattern);
    entry.scope = std::move(scope);
    entry.route = std::move(route);
    entries_.push_back(std::move(entry));
}

Router::Match Router::match(const std::string& method, const std::string& path) const {
    Match result;
    const auto segments = splitPath(path);
    for (const auto& entry : entries_) {
        // "{*name}" as the last pattern segment captures one or more remaining
        // segments, joined with '/'.
        const bool rest = !entry.segments.empty() && entry.segments.back().rfind("{*", 0) == 0;
        if (rest ? segments.size() < entry.segments.size() : entry.segments.size() != segments.size()) continue;
        std::map<std::string, std::string> params;
        bool ok = true;
        for (std::size_t i = 0; i < entry.segments.size() && ok; ++i) {
            const auto& want = entry.segments[i];
            if (rest && i + 1 == entry.segments.size()) {
                std::string joined;
                for (std::size_t j = i; j < segments.size(); ++j) joined += (j == i ? "" : "/") + segments[j];
                params[want.substr(2, want.size() - 3)] = joined;
            } else if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
                params[want.substr(1, want.size() - 2)] = segments[i];
            } else {
                ok = want == segments[i];
            }
        }
        if (!ok) continue;
        if (entry.method != method && !(method == "HEAD" && entry.method == "GET")) {
            result.allowedMethods.push_back(entry.method);
            continue;
        }
        result.entry = &entry;
        result.params = std::move(params);
        return result;
    }
    return result;
}

}  // namespace consultd::http
