#pragma once
// Admin commands run as `consultd <command> ...` (or `consultctl <command>`)
// against the configured database (safe while the daemon runs: SQLite WAL,
// writes are transactions that extend the same audit chain).
//
//   consultd check-config [--config FILE]
//   consultd status [--config FILE] [--json]
//   consultd apikey create --name NAME --scopes s1,s2 [--json]
//   consultd apikey list [--json]
//   consultd apikey revoke KEY_ID
//   consultd admin create|reset-password USERNAME [--password-file FILE]   (app/AdminCli.h)
//   consultd admin list | disable USERNAME
//   consultd session list [--status S] [--consultation ID] [--limit N] [--json]
//   consultd session show SESSION_ID [--json]
//   consultd session end SESSION_ID [--reason TEXT] [--quality Q] [--json]
//   consultd backup FILE                 online backup, consistent while the daemon runs
//   consultd restore FILE                only while the daemon is stopped
//   consultd audit verify [--json]
//   consultd audit export [--format csv|jsonl] [--output FILE] [--after SEQ]
//   consultd recording decrypt|repair|info ...   (recording/RecordingCli.h)
//
// Every command takes --config FILE (default /etc/consultd/consultd.conf).
// Stored recordings cannot be listed or exported from here yet.
//
// Exit codes: 0 ok, 1 operation failed (or daemon down for `status`),
// 2 usage error, 78 configuration error.

namespace consultd::app {

bool isCliCommand(const char* word);
int runCli(int argc, char** argv);

}  // namespace consultd::app
