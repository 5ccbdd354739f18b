#pragma once
// The daemon's parts as Poco::Util::Subsystems, initialised in the order the
// application adds them and uninitialised in reverse. Each owns one part of
// the Runtime; none starts a thread before its initialize().

#include "app/Runtime.h"

#include <Poco/Util/Subsystem.h>

namespace consultd::app {

/// Opens the SQLite store (migrations, WAL, writer thread).
class StoreSubsystem final : public Poco::Util::Subsystem {
public:
    explicit StoreSubsystem(Runtime& runtime) : runtime_(runtime) {}
    const char* name() const override { return "consultd.store"; }
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    Runtime& runtime_;
};

/// Creates the enabled providers from the discovered plugins.
class ProviderSubsystem final : public Poco::Util::Subsystem {
public:
    explicit ProviderSubsystem(Runtime& runtime) : runtime_(runtime) {}
    const char* name() const override { return "consultd.providers"; }
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    Runtime& runtime_;
};

/// Local recordings: key, catalog, crash recovery of interrupted recordings
/// and the retention sweeper. Before the HTTP service (its routes use it).
class RecordingSubsystem final : public Poco::Util::Subsystem {
public:
    explicit RecordingSubsystem(Runtime& runtime) : runtime_(runtime) {}
    const char* name() const override { return "consultd.recording"; }
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    Runtime& runtime_;
};

/// The live side of recording: connects the recording service to sessions,
/// signaling and the native recorder once they exist (after the HTTP
/// service), and at shutdown, first of all, stops every live recording so
/// each file is finalised while signaling and the store still run.
class RecorderSubsystem final : public Poco::Util::Subsystem {
public:
    explicit RecorderSubsystem(Runtime& runtime) : runtime_(runtime) {}
    const char* name() const override { return "consultd.recorder"; }
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    Runtime& runtime_;
};

/// The REST API: session service, routes and the HTTP(S) listener.
class HttpSubsystem final : public Poco::Util::Subsystem {
public:
    explicit HttpSubsystem(Runtime& runtime) : runtime_(runtime) {}
    const char* name() const override { return "consultd.http"; }
    void initialize(Poco::Util::Application& app) override;
    void uninitialize() override;

private:
    Runtime& runtime_;
};

}  // namespace consultd::app
