// Entry point of webrtc.so: exports the "webrtc" provider kind.
#include "WebrtcProvider.h"

#include "consultd/provider.h"

namespace {

// Static storage: the daemon keeps the module pointer while the .so is loaded.
const consultd::webrtc::WebrtcProviderFactory webrtcFactory;

const consultd::PluginModule& webrtcModule() {
    static const consultd::PluginModule module{"webrtc", CONSULTD_WEBRTC_VERSION, {&webrtcFactory}};
    return module;
}

}  // namespace

CONSULTD_DECLARE_PLUGIN(webrtcModule())
