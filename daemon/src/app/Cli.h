#pragma once
// Admin commands run as `consultd <command> ...` against the configured
// database (safe while the daemon runs: SQLite WAL, writes are transactions).
//
//   consultd apikey create --name NAME --scopes s1,s2 [--config FILE] [--json]
//   consultd apikey list [--config FILE] [--json]
//   consultd apikey revoke KEY_ID [--config FILE]
//   consultd audit verify [--config FILE]
//
// Exit codes: 0 ok, 1 operation failed, 2 usage error, 78 configuration error.

namespace consultd::app {

bool isCliCommand(const char* word);
int runCli(int argc, char** argv);

}  // namespace consultd::app
