#include "web/WebAssets.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace consultd::web {
namespace fs = std::filesystem;

namespace {

bool plainRelativePath(const std::string& relative) {
    if (relative.empty() || relative.front() == '/') return false;
    if (relative.find('\\') != std::string::npos || relative.find('\0') != std::string::npos) return false;
    std::size_t start = 0;
    while (start <= relative.size()) {
        const auto slash = relative.find('/', start);
        const auto segment = relative.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        // Empty ("a//b"), ".", ".." and hidden files (".git", ".htpasswd") are never served.
        if (segment.empty() || segment.front() == '.') return false;
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return true;
}

}  // namespace

std::string contentTypeFor(const std::string& fileName) {
    static const std::array<std::pair<const char*, const char*>, 16> types = {{
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
        {".wav", "audio/wav"},
        {".ogg", "audio/ogg"},
    }};
    const auto dot = fileName.rfind('.');
    if (dot != std::string::npos) {
        const std::string ext = fileName.substr(dot);
        for (const auto& [suffix, type] : types) {
            if (ext == suffix) return type;
        }
    }
    return "application/octet-stream";
}

std::optional<Asset> readAsset(const fs::path& root, const std::string& relative, std::size_t maxBytes) {
    if (root.empty() || !plainRelativePath(relative)) return std::nullopt;
    std::error_code ec;
    const fs::path canonicalRoot = fs::canonical(root, ec);
    if (ec) return std::nullopt;
    const fs::path file = fs::canonical(canonicalRoot / relative, ec);
    if (ec) return std::nullopt;
    // A symlink inside the web root must not lead out of it.
    const auto [rootEnd, fileIt] = std::mismatch(canonicalRoot.begin(), canonicalRoot.end(), file.begin(), file.end());
    if (rootEnd != canonicalRoot.end()) return std::nullopt;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    if (static_cast<std::uintmax_t>(st.st_size) > maxBytes) return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream content;
    content << in.rdbuf();
    Asset asset;
    asset.body = content.str();
    asset.contentType = contentTypeFor(file.filename().string());
    char tag[64];
    std::snprintf(tag, sizeof tag, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_size),
                  static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000000ull +
                      static_cast<unsigned long long>(st.st_mtim.tv_nsec));
    asset.etag = tag;
    return asset;
}

std::string contentSecurityPolicy(const std::vector<std::string>& connectSources,
                                  const std::vector<std::string>& extraScriptSources,
                                  const std::vector<std::string>& extraFrameSources) {
    auto join = [](const std::vector<std::string>& items) {
        std::string out;
        for (const auto& item : items) out += " " + item;
        return out;
    };
    return "default-src 'self'; script-src 'self'" + join(extraScriptSources) +
           "; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self'"
           "; connect-src 'self'" + join(connectSources) +
           "; frame-src " + (extraFrameSources.empty() ? std::string("'none'") : join(extraFrameSources).substr(1)) +
           "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

void addPageHeaders(http::Response& response, const std::string& csp, const std::string& cacheControl) {
    response.headers.emplace_back("Content-Security-Policy", csp);
    response.headers.emplace_back("Cache-Control", cacheControl);
    response.headers.emplace_back("X-Frame-Options", "DENY");
    response.headers.emplace_back("Permissions-Policy",
                                  "camera=(self), microphone=(self), display-capture=(self), geolocation=()");
    response.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
}

}  // namespace consultd::web
