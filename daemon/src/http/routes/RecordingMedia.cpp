// GET /api/v1/recordings/{id}/media (scope recording.media_scope: recordings:read
// by default, admin always): the recording decrypted on the fly, chunk by
// chunk (nothing decrypted touches the disk), with single Range requests
// (206 + Content-Range; 416 when unsatisfiable). Every access, a refused
// range included, is an audit entry (actor, recording, range, status) written
// before the first byte goes out.
#include "http/routes/RecordingControl.h"
#include "http/routes/Routes.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <charconv>
#include <optional>
#include <vector>

namespace consultd::http::routes {
namespace {

struct ByteRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;  // inclusive
};

enum class RangeKind { None, Satisfiable, Unsatisfiable };

std::optional<std::uint64_t> number(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

/// RFC 9110 §14.1.2, one range: "bytes=a-b", "bytes=a-", "bytes=-n". A header
/// we do not understand (or several ranges) is ignored: the whole file is sent.
RangeKind parseRange(const std::string& header, std::uint64_t size, ByteRange& range) {
    const std::string prefix = "bytes=";
    if (header.compare(0, prefix.size(), prefix) != 0) return RangeKind::None;
    const std::string_view spec = std::string_view(header).substr(prefix.size());
    if (spec.find(',') != std::string_view::npos) return RangeKind::None;
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return RangeKind::None;
    const auto firstText = spec.substr(0, dash);
    const auto lastText = spec.substr(dash + 1);
    if (firstText.empty()) {  // suffix: the last n bytes
        const auto n = number(lastText);
        if (!n) return RangeKind::None;
        if (*n == 0 || size == 0) return RangeKind::Unsatisfiable;
        range.first = *n >= size ? 0 : size - *n;
        range.last = size - 1;
        return RangeKind::Satisfiable;
    }
    const auto first = number(firstText);
    if (!first) return RangeKind::None;
    std::optional<std::uint64_t> last;
    if (!lastText.empty()) {
        last = number(lastText);
        if (!last || *last < *first) return RangeKind::None;
    }
    if (*first >= size) return RangeKind::Unsatisfiable;
    range.first = *first;
    range.last = last ? std::min(*last, size - 1) : size - 1;
    return RangeKind::Satisfiable;
}

class RecordingMedia final : public Route {
public:
    explicit RecordingMedia(ApiServices& services) : s_(services) {}

    void handle(Request& request, Response& response) override {
        auto& recordings = recordingsOf(s_);
        const core::Actor actor{request.principal.actorName(), request.requestId()};
        auto access = recordings.openMedia(request.param("id"));
        const std::uint64_t size = access.reader->size();
        auto& raw = request.raw();
        ByteRange range;
        const std::string rangeHeader = raw.get("Range", "");
        const RangeKind kind = rangeHeader.empty() ? RangeKind::None : parseRange(rangeHeader, size, range);
        if (kind == RangeKind::Unsatisfiable) {
            recordings.auditAccess(access.row, actor, rangeHeader.substr(0, 100), 416);
            throw core::ApiError(416, "RANGE_NOT_SATISFIABLE",
                                 "the range is outside the recording (" + std::to_string(size) + " bytes)")
                .withDetail("size", std::to_string(size))
                .withHeader("Content-Range", "bytes */" + std::to_string(size));
        }
        if (kind == RangeKind::None) {
            range.first = 0;
            range.last = size == 0 ? 0 : size - 1;
        }
        const std::uint64_t length = size == 0 ? 0 : range.last - range.first + 1;
        const int status = kind == RangeKind::Satisfiable ? 206 : 200;
        // Audited before any byte leaves: a download that is cut is still an access.
        recordings.auditAccess(access.row, actor,
                               kind == RangeKind::Satisfiable
                                   ? "bytes=" + std::to_string(range.first) + "-" + std::to_string(range.last)
                                   : "full",
                               status);

        auto& out = raw.response();
        const auto httpStatus = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status);
        out.setStatusAndReason(httpStatus, Poco::Net::HTTPResponse::getReasonForStatus(httpStatus));
        out.setContentType(access.contentType);
        out.set("X-Request-Id", request.requestId());
        out.set("Cache-Control", "no-store");
        out.set("X-Content-Type-Options", "nosniff");
        out.set("Referrer-Policy", "no-referrer");
        out.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
        if (raw.secure()) out.set("Strict-Transport-Security", "max-age=31536000");
        out.set("Accept-Ranges", "bytes");
        out.set("Content-Disposition", "attachment; filename=\"" + access.row.id +
                                           (access.row.container == "webm" ? ".webm\"" : ".mkv\""));
        if (status == 206) {
            out.set("Content-Range", "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                                         std::to_string(size));
        }
        out.setContentLength64(static_cast<Poco::Int64>(length));
        // What was sent, for the metrics; the body goes out below, not through Response.
        response.text(kind == RangeKind::Satisfiable ? 206 : 200, access.contentType, {});
        std::ostream& stream = out.send();
        if (raw.getMethod() == "HEAD") return;
        std::vector<std::uint8_t> buffer(256 * 1024);
        std::uint64_t offset = range.first;
        std::uint64_t left = length;
        try {
            while (left > 0 && stream) {
                const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer.size()));
                const std::size_t got = access.reader->read(offset, std::span(buffer.data(), want));
                if (got == 0) break;
                stream.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(got));
                offset += got;
                left -= got;
            }
            stream.flush();
        } catch (const recording::RecordingError& e) {
            // Headers are gone: the client sees a short body (Content-Length) and the log says why.
            Poco::Logger::get("recording").error("recording " + access.row.id + ": download cut at byte " +
                                                 std::to_string(offset) + ": " + e.what());
        }
    }

private:
    ApiServices& s_;
};

}  // namespace

std::unique_ptr<Route> makeRecordingMedia(ApiServices& services) { return std::make_unique<RecordingMedia>(services); }

}  // namespace consultd::http::routes
