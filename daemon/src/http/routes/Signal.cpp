// GET /api/v1/signal: the WebSocket upgrade of the native WebRTC signaling.
// Public: the signaling token in the first `join` message authenticates (never
// the URL). The handshake is POCO's; the socket is then detached from the
// HTTP connection and handed to the SignalingHub, so this HTTP worker thread
// returns at once and no thread is held per WebSocket.
#include "core/ApiError.h"
#include "http/routes/Routes.h"
#include "signal/SignalingService.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>

namespace consultd::http::routes {
namespace {

using core::ApiError;

class Signal final : public Route {
public:
    explicit Signal(signal::SignalingService& signaling) : signaling_(signaling) {}

    void handle(Request& request, Response& response) override {
        auto& raw = request.raw();
        // Cross-site WebSocket hijacking: a browser always sends Origin; it
        // must be the appliance's own public URL.
        if (raw.has("Origin") && !signal::originAllowed(raw.get("Origin"), signaling_.publicUrl())) {
            throw ApiError(403, "ORIGIN_NOT_ALLOWED", "the Origin of this WebSocket is not the appliance's public URL");
        }
        const std::string address = request.clientAddress();
        if (signaling_.hub().fullFor(address)) {
            throw ApiError(429, "RATE_LIMITED", "this client address holds its maximum of signaling connections")
                .withRetryAfter(10);
        }
        if (signaling_.hub().full()) {
            throw ApiError(503, "SIGNALING_UNAVAILABLE", "signaling is at its connection limit; try again later")
                .withRetryAfter(5);
        }
        std::optional<Poco::Net::WebSocket> socket;
        try {
            socket.emplace(raw, raw.response());
        } catch (const Poco::Net::WebSocketException& e) {
            if (e.code() == Poco::Net::WebSocket::WS_ERR_HANDSHAKE_UNSUPPORTED_VERSION) {
                response.headers.emplace_back("Sec-WebSocket-Version", Poco::Net::WebSocket::WEBSOCKET_VERSION);
            }
            throw ApiError(400, "WEBSOCKET_HANDSHAKE_FAILED",
                           "this endpoint speaks WebSocket (RFC 6455, version 13) only");
        }
        // The 101 response is sent and the socket detached: the dispatcher
        // must not write another response (it checks response.sent()).
        response.status = 101;
        signaling_.hub().adopt(std::move(*socket), address);
    }

private:
    signal::SignalingService& signaling_;
};

}  // namespace

std::unique_ptr<Route> makeSignal(ApiServices& /*services*/, signal::SignalingService& signaling) {
    return std::make_unique<Signal>(signaling);
}

}  // namespace consultd::http::routes
