#pragma once
// The consultd daemon: a thin POCO ServerApplication whose main() reads like a
// table of contents. The work is in the subsystems (app/Subsystems.h).

#include "app/Runtime.h"

#include <Poco/Util/ServerApplication.h>

#include <string>

namespace consultd::app {

class ConsultdApplication final : public Poco::Util::ServerApplication {
public:
    ConsultdApplication();

    /// How to make the native recorder (the GStreamer one, linked into the
    /// `consultd` executable only); without it webrtc sessions are not recorded.
    void setLiveRecorderFactory(std::function<std::unique_ptr<recording::LiveRecorderFactory>()> make) {
        runtime_.liveRecorderFactory = std::move(make);
    }

protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void initialize(Poco::Util::Application& self) override;
    void uninitialize() override;
    int main(const std::vector<std::string>& args) override;

private:
    void handleOption(const std::string& name, const std::string& value);
    /// Loads and validates the whole config (plugins discovered). Prints every
    /// problem as "file:line: setting: problem"; false when there are errors.
    bool loadConfig(bool quietWarnings);
    /// SIGHUP: re-read, apply what may change live, keep the old config on error.
    void reload();
    /// Waits for SIGTERM/SIGINT, handling SIGHUP and watchdog pings meanwhile.
    void serveUntilStopped();
    /// --check-config's start-time checks; prints each problem; false on any.
    bool preflight();
    /// Markdown tables of every setting (core, then each discovered provider).
    void printSchema();

    enum class Mode { Serve, CheckConfig, Version, Help, PrintSchema };
    Mode mode_ = Mode::Serve;
    std::string configFile_ = "/etc/consultd/consultd.conf";
    bool initialized_ = false;
    Runtime runtime_;
};

/// Blocks the signals the daemon waits for synchronously; call in main()
/// before any thread exists so every thread inherits the mask.
void blockDaemonSignals();

}  // namespace consultd::app
