// Test driver: `consultd-recording-tool decrypt|repair|info ...` runs exactly
// the code `consultd recording ...` will run once wired into the daemon.
#include "recording/RecordingCli.h"

int main(int argc, char** argv) { return consultd::recording::runRecordingCommand(argc, argv); }
