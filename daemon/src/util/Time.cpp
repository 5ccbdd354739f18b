#include "util/Time.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <regex>

namespace consultd::util {

std::int64_t nowMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string formatRfc3339(std::int64_t unixMillis) {
    const std::time_t seconds = static_cast<std::time_t>(unixMillis / 1000);
    const int millis = static_cast<int>(unixMillis % 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[80];
    if (millis != 0) {
        std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    } else {
        std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    return buffer;
}

std::optional<std::int64_t> parseRfc3339(const std::string& text) {
    static const std::regex kPattern(
        R"(^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$)");
    std::smatch m;
    if (!std::regex_match(text, m, kPattern)) return std::nullopt;
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60) {
        return std::nullopt;
    }
    const int day = tm.tm_mday;
    std::int64_t seconds = timegm(&tm);
    if (tm.tm_mday != day) return std::nullopt;  // e.g. Feb 30 normalised away
    std::int64_t millis = 0;
    if (m[8].matched) {
        std::string fraction = m[8].str();
        fraction.resize(3, '0');
        millis = std::stoi(fraction.substr(0, 3));
    }
    if (m[10].matched) {
        const int offset = std::stoi(m[11]) * 3600 + std::stoi(m[12]) * 60;
        seconds += (m[10].str() == "+") ? -offset : offset;
    }
    return seconds * 1000 + millis;
}

}  // namespace consultd::util
