// GET /api/v1/admin/events: the dashboard's live updates as Server-Sent
// Events. Each "snapshot" event carries the whole dashboard picture
// (admin/Dashboard.h) and is sent at once and then whenever the picture
// changes (recomputed every admin.event_interval_ms); a comment line every
// 15 s keeps proxies from closing an idle stream. Bounded by
// admin.max_event_streams (each holds an HTTP worker thread); a stream ends
// when its admin session ends (event "logout"), after 10 minutes (the
// browser's EventSource reconnects by itself) or when the daemon stops.
// `once=true` answers one snapshot event and closes (tests, buffering proxies).
#include "admin/AdminAuth.h"
#include "admin/Dashboard.h"
#include "core/ApiError.h"
#include "http/routes/AdminCookies.h"
#include "http/routes/Routes.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <sstream>

namespace consultd::http::routes {
namespace {

constexpr auto kKeepAlive = std::chrono::seconds(15);
constexpr auto kMaxStream = std::chrono::minutes(10);
constexpr auto kFresh = std::chrono::milliseconds(0);

std::string snapshotEvent(const std::string& snapshotJson) {
    return "event: snapshot\ndata: " + snapshotJson + "\n\n";
}

/// Holds a stream slot of the dashboard for its lifetime.
class StreamSlot {
public:
    explicit StreamSlot(admin::Dashboard& dashboard) : dashboard_(dashboard) {}
    ~StreamSlot() { dashboard_.closeStream(); }
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;

private:
    admin::Dashboard& dashboard_;
};

class AdminEvents final : public Route {
public:
    AdminEvents(ApiServices& services, AdminServices& admin) : s_(services), admin_(admin) {}

    void handle(Request& request, Response& response) override {
        const auto config = s_.config();
        if (const auto once = request.query("once")) {
            if (*once != "true" && *once != "false") {
                throw core::ApiError(422, "VALIDATION_FAILED", "invalid query parameters")
                    .withDetails("fields", {{"once", "must be true or false"}});
            }
            if (*once == "true") {
                response.text(200, "text/event-stream", snapshotEvent(admin_.dashboard.snapshotText(kFresh)));
                return;
            }
        }
        if (!admin_.dashboard.openStream(static_cast<int>(config->getInt("admin.max_event_streams")))) {
            throw core::ApiError(503, "TOO_MANY_STREAMS", "the dashboard's live-update streams are all in use")
                .withRetryAfter(10);
        }
        StreamSlot slot(admin_.dashboard);
        const auto interval = std::chrono::milliseconds(config->getInt("admin.event_interval_ms"));
        const std::string session = request.principal.adminUser.empty() ? "" : requestCookie(request, admin::kSessionCookie);

        auto& out = request.raw().response();
        out.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        out.setContentType("text/event-stream");
        out.set("Cache-Control", "no-store");
        out.set("X-Content-Type-Options", "nosniff");
        out.set("Referrer-Policy", "no-referrer");
        out.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
        out.set("X-Accel-Buffering", "no");  // a reverse proxy must not hold events back
        out.set("X-Request-Id", request.requestId());
        if (config->getBool("server.tls")) out.set("Strict-Transport-Security", "max-age=31536000");
        out.setChunkedTransferEncoding(true);
        out.setKeepAlive(false);
        response.status = 200;
        try {
            std::ostream& stream = out.send();
            stream << "retry: 3000\n\n" << std::flush;
            const auto started = std::chrono::steady_clock::now();
            auto lastWrite = started;
            std::string last;
            while (stream.good()) {
                const auto now = std::chrono::steady_clock::now();
                if (!session.empty() && !admin_.auth.validate(session, false)) {
                    stream << "event: logout\ndata: {}\n\n" << std::flush;
                    break;
                }
                // Shared between streams for half a period (one database
                // pass per period however many dashboards are open).
                std::string event = snapshotEvent(admin_.dashboard.snapshotText(interval / 2));
                if (event != last) {
                    stream << event << std::flush;
                    last = std::move(event);
                    lastWrite = now;
                } else if (now - lastWrite >= kKeepAlive) {
                    stream << ": keep-alive\n\n" << std::flush;
                    lastWrite = now;
                }
                if (now - started >= kMaxStream) break;
                if (admin_.dashboard.waitOrStop(interval)) break;
            }
        } catch (const Poco::Exception& e) {
            // The browser went away: the normal end of a stream.
            Poco::Logger::get("admin").debug("event stream " + request.requestId() + " ended: " + e.displayText());
        } catch (const std::ios_base::failure& e) {
            Poco::Logger::get("admin").debug("event stream " + request.requestId() + " ended: " + e.what());
        }
    }

private:
    ApiServices& s_;
    AdminServices& admin_;
};

}  // namespace

std::unique_ptr<Route> makeAdminEvents(ApiServices& services, AdminServices& admin) {
    return std::make_unique<AdminEvents>(services, admin);
}

}  // namespace consultd::http::routes
