#pragma once
// Route table: method + path pattern ("/api/v1/sessions/{id}/start") -> route.
// Matching splits the path into segments once and compares segment by
// segment; "{name}" captures one segment, and "{*name}" as the last
// segment captures the rest of the path (one or more segments, joined by /).
// Thread-safety: built once at start, then read-only (thread-safe to match).

#include "http/Route.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace consultd::http {

struct RouteEntry {
    std::string method;
    std::string pattern;
    std::string scope;  ///< required API key scope; empty = public
    std::unique_ptr<Route> route;
    std::vector<std::string> segments;
};

class Router {
public:
    void add(std::string method, std::string pattern, std::string scope, std::unique_ptr<Route> route);

    struct Match {
        const RouteEntry* entry = nullptr;
        std::map<std::string, std::string> params;
        std::vector<std::string> allowedMethods;  ///< when the path matched but not the method
    };
    Match match(const std::string& method, const std::string& path) const;

private:
    std::vector<RouteEntry> entries_;
};

std::vector<std::string> splitPath(const std::string& path);

}  // namespace consultd::http
