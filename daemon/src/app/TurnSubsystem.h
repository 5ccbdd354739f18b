#pragma once
// The embedded TURN relay as a subsystem: started before the providers (their
// grants carry its URLs), stopped after HTTP. Inactive unless turn.mode is
// "embedded".

#include "app/Runtime.h"

#include <Poco/Util/Subsystem.h>

namespace consultd::app {

class TurnSubsystem final : public Poco::Util::Subsystem {
public:
    explicit TurnSubsystem(Runtime& runtime) : runtime_(runtime) {}
    const char* name() const override { return "consultd.turn"; }
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

    /// turn:/turns:/stun: URLs clients use to reach a relay bound to `ports`.
    static std::vector<std::string> clientUrls(const config::Config& config, int udpPort, int tcpPort, int tlsPort);

private:
    Runtime& runtime_;
};

}  // namespace consultd::app
