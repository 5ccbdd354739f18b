#pragma once
// Invite links to the appliance's own join page, and their redemption.
//
// An invite names one participant of one session. Its id (the last path
// segment of `invite_url`, 160 random bits) is a bearer secret: stored only as
// SHA-256, never logged, never in an audit entry.
//
// "Single use" means one browser, not one HTTP call. The first redemption
// binds the invite to the browser that made it: the daemon hands that browser
// a rejoin credential (256 random bits, in an HttpOnly cookie; only its hash is
// stored). Later redemptions of the same invite (a reload, a network drop, the
// link opened again in the same browser) must present that credential; any
// other browser is refused with 409 INVITE_ALREADY_USED. Each redemption may
// return a fresh join grant (rate-limited per participant like
// POST /sessions/{id}/token). A bound invite works until its expiry, and after
// it as long as its session is active (a reload during a long call).
//
// Thread-safety: thread-safe (state in the Store; limiters are thread-safe).

#include "core/ConfigSource.h"
#include "core/RateLimiter.h"
#include "core/SessionService.h"
#include "store/InviteStore.h"

#include <atomic>
#include <functional>
#include <optional>
#include <string>

namespace consultd::core {

struct NewInvite {
    std::string inviteId;      ///< the secret: show once (in the URL), never store or log
    std::string url;           ///< <public_url>/join/<inviteId>
    std::string sessionId;
    std::string participantId;
    std::int64_t expiresAt = 0;  ///< Unix ms
};

struct Redemption {
    store::SessionRecord session;
    store::ParticipantRecord participant;
    std::int64_t inviteExpiresAt = 0;
    CanJoinResult window;
    std::optional<GrantResult> grant;   ///< when asked for and the session can be joined now
    /// Set when this call bound the invite: the rejoin credential the caller
    /// must hand to the browser (cookie) and never log.
    std::string newRejoinCredential;
};

class InviteService {
public:
    InviteService(store::Store& store, SessionService& sessions, ConfigSource config,
                  std::function<std::string()> publicUrl);

    /// A new invite for a participant of an open session (audited).
    NewInvite create(const std::string& sessionId, const std::string& participantId, const Actor& actor);

    /// Redeems an invite (see the rules above). `rejoinCredential` is what the
    /// browser presented (empty when none); `wantGrant` false only reports the
    /// session's state. Throws ApiError: 404 INVITE_NOT_FOUND, 403
    /// INVITE_EXPIRED, 409 INVITE_ALREADY_USED, 429 RATE_LIMITED, and what
    /// SessionService::issueGrant throws.
    Redemption redeem(const std::string& inviteId, const std::string& rejoinCredential, bool wantGrant,
                      const std::string& clientAddress, const std::string& requestId);

    /// Name of the cookie holding the rejoin credential of `inviteId` (one per
    /// invite, so one browser can hold several).
    static std::string rejoinCookieName(const std::string& inviteId);
    /// Whether `text` has the shape of an invite id (32 base32 characters).
    static bool looksLikeInviteId(const std::string& text);

private:
    void purgeExpiredNowAndThen();

    store::Store& store_;
    store::InviteStore invites_;
    SessionService& sessions_;
    ConfigSource config_;
    std::function<std::string()> publicUrl_;
    RateLimiter createLimiter_;
    RateLimiter redeemLimiter_;
    std::atomic<std::int64_t> lastPurge_{0};
};

}  // namespace consultd::core
