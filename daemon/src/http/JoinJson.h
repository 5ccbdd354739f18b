#pragma once
// Rendering and cookie helpers shared by the join-page, device and kiosk
// routes (routes/RedeemInvite.cpp, routes/Kiosk*.cpp, routes/*Device*.cpp).

#include "config/Config.h"
#include "core/DeviceService.h"
#include "core/SessionService.h"
#include "http/Request.h"
#include "store/DeviceStore.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <string>

namespace consultd::http {

/// A join grant as POST /sessions/{id}/token renders it.
Poco::JSON::Object::Ptr grantJson(const core::GrantResult& grant);
/// What a join page or kiosk may see of a session: id, status, mode,
/// provider, scheduled_at, host_name (no patient data).
Poco::JSON::Object::Ptr joinSessionJson(const store::SessionRecord& session);
/// A device as GET /devices lists it (never a code or credential hash).
Poco::JSON::Object::Ptr deviceJson(const store::DeviceRecord& device);
/// RFC 3339 text, or null for 0.
Poco::Dynamic::Var timeOrNullValue(std::int64_t millis);

/// The name of the kiosk's device credential cookie (Path=/api/v1/kiosk).
inline constexpr const char* kDeviceCookie = "consultd_device";
/// Lifetime of the device cookie, renewed by every kiosk state call (400
/// days, the most Chromium keeps).
inline constexpr std::int64_t kDeviceCookieSeconds = 400LL * 24 * 3600;
/// The enrolled device whose credential cookie came with the request; throws
/// 401 DEVICE_UNAUTHENTICATED otherwise (never enrolled, revoked, replaced).
store::DeviceRecord authenticateDevice(core::DeviceService& devices, Request& request);

/// The value of cookie `name` in the request ("" when absent).
std::string cookieValue(Request& request, const std::string& name);
/// A Set-Cookie value: HttpOnly, SameSite=Strict, Secure when `secure`;
/// maxAgeSeconds 0 deletes the cookie.
std::string setCookie(const std::string& name, const std::string& value, const std::string& path,
                      std::int64_t maxAgeSeconds, bool secure);
/// Whether browsers reach the appliance over HTTPS (server.tls, or an https
/// public_url behind a TLS proxy): cookies then carry Secure.
bool secureCookies(const config::Config& config);

}  // namespace consultd::http
