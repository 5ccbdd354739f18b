// consultd: video-consultation appliance daemon.
//
//   consultd [--config FILE]          run the daemon (systemd Type=notify)
//   consultd --check-config           validate the configuration and exit
//   consultd <command> ...            admin commands (apikey, audit, recording); see app/Cli.h

#include "app/Cli.h"
#include "app/ConsultdApplication.h"

#ifdef CONSULTD_WITH_GSTREAMER
#include "consultd/media/SignalingRecorder.h"
#endif

#include <Poco/Crypto/Crypto.h>

#include <iostream>

int main(int argc, char** argv) {
    if (argc > 1 && consultd::app::isCliCommand(argv[1])) return consultd::app::runCli(argc, argv);

    // Before any thread exists, so every thread inherits the mask and the
    // main loop alone receives SIGHUP/SIGTERM through sigtimedwait().
    consultd::app::blockDaemonSignals();
    // Once for the process: POCO's per-object OpenSSL initialisation is not
    // safe when its reference count drops to zero under concurrency.
    Poco::Crypto::initializeCrypto();
    try {
        consultd::app::ConsultdApplication app;
#ifdef CONSULTD_WITH_GSTREAMER
        // The native recorder (consultd-gst): GStreamer stays out of consultd-core.
        app.setLiveRecorderFactory([] { return consultd::media::makeSignalingRecorderFactory(); });
#endif
        return app.run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "<3>consultd: " << e.what() << "\n";
        return 78;  // EX_CONFIG: systemd shows it as a configuration failure
    }
}
