// Test harness: one RecorderPeer driven over stdin/stdout JSON lines, so the
// Python tests can act as signaling between it and independent WebRTC peers
// (a GStreamer webrtcbin sender, aiortc).
//
//   recorder_harness --dir D --key-file K [--session S] [--local-address A]...
//                    [--ice-server URL [--username U] [--credential C]]... [--relay-only]
// stdin : {"cmd":"offer"|"answer","participant":P,"sdp":S}
//         {"cmd":"create-offer","participant":P}
//         {"cmd":"candidate","participant":P,"mline":N,"candidate":C}
//         {"cmd":"remove","participant":P}   {"cmd":"stop"}
// stdout: {"event":"description"|"candidate"|"log"|"finished"|"error"|"stopped", ...}
#include "consultd/media/RecorderPeer.h"
#include "recording/RecordingCrypto.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <iostream>
#include <mutex>
#include <sstream>
#include <string>

using consultd::media::IceServer;
using consultd::media::RecorderCallbacks;
using consultd::media::RecorderConfig;
using consultd::media::RecorderPeer;
using consultd::media::RecordingResult;

namespace {

std::mutex outMutex;

void emit(const Poco::JSON::Object& obj) {
    std::ostringstream line;
    obj.stringify(line);
    std::lock_guard lock(outMutex);
    std::cout << line.str() << std::endl;
}

Poco::JSON::Object resultJson(const RecordingResult& r) {
    Poco::JSON::Object o;
    o.set("event", "finished");
    o.set("participant", r.participantId);
    o.set("file", r.file.string());
    o.set("ok", r.ok);
    o.set("reason", r.reason);
    o.set("bytes", static_cast<Poco::UInt64>(r.bytes));
    o.set("duration_ms", static_cast<Poco::Int64>(r.duration.count() / 1000000));
    Poco::JSON::Array tracks;
    for (const auto& t : r.tracks) tracks.add(t);
    o.set("tracks", tracks);
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    RecorderConfig config;
    config.sessionId = "test-session";
    std::string keyFile;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "missing value for " << a << "\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--dir") config.outputDir = next();
        else if (a == "--key-file") keyFile = next();
        else if (a == "--session") config.sessionId = next();
        else if (a == "--local-address") config.localAddresses.push_back(next());
        else if (a == "--ice-server") config.iceServers.push_back({next(), "", ""});
        else if (a == "--username" && !config.iceServers.empty()) config.iceServers.back().username = next();
        else if (a == "--credential" && !config.iceServers.empty()) config.iceServers.back().credential = next();
        else if (a == "--relay-only") config.icePolicy = consultd::media::IceTransportPolicy::RelayOnly;
        else {
            std::cerr << "unknown argument " << a << "\n";
            return 2;
        }
    }
    config.key = std::make_shared<consultd::recording::RecordingKey>(
        consultd::recording::RecordingKey::loadFromFile(keyFile));

    RecorderCallbacks callbacks;
    callbacks.onLocalDescription = [](const std::string& p, const std::string& type, const std::string& sdp) {
        Poco::JSON::Object o;
        o.set("event", "description");
        o.set("participant", p);
        o.set("type", type);
        o.set("sdp", sdp);
        emit(o);
    };
    callbacks.onLocalCandidate = [](const std::string& p, unsigned mline, const std::string& c) {
        Poco::JSON::Object o;
        o.set("event", "candidate");
        o.set("participant", p);
        o.set("mline", mline);
        o.set("candidate", c);
        emit(o);
    };
    callbacks.onRecordingFinished = [](const RecordingResult& r) { emit(resultJson(r)); };
    callbacks.onLog = [](const std::string& p, const std::string& line) {
        Poco::JSON::Object o;
        o.set("event", "log");
        o.set("participant", p);
        o.set("line", line);
        emit(o);
    };

    RecorderPeer peer(config, callbacks);
    std::string line;
    Poco::JSON::Parser parser;
    while (std::getline(std::cin, line)) {
        if (line.empty()) continue;
        try {
            auto cmd = parser.parse(line).extract<Poco::JSON::Object::Ptr>();
            parser.reset();
            std::string name = cmd->getValue<std::string>("cmd");
            std::string participant = cmd->has("participant") ? cmd->getValue<std::string>("participant") : "";
            if (name == "offer") peer.handleOffer(participant, cmd->getValue<std::string>("sdp"));
            else if (name == "answer") peer.handleAnswer(participant, cmd->getValue<std::string>("sdp"));
            else if (name == "create-offer") peer.createOffer(participant);
            else if (name == "candidate")
                peer.addRemoteCandidate(participant, cmd->getValue<unsigned>("mline"),
                                        cmd->getValue<std::string>("candidate"));
            else if (name == "remove") peer.removeParticipant(participant);
            else if (name == "stop") break;
            else throw std::invalid_argument("unknown cmd " + name);
        } catch (const std::exception& e) {
            parser.reset();
            Poco::JSON::Object o;
            o.set("event", "error");
            o.set("message", e.what());
            emit(o);
        }
    }
    peer.stop();  // results arrive through onRecordingFinished
    Poco::JSON::Object done;
    done.set("event", "stopped");
    emit(done);
    return 0;
}
