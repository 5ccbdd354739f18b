#pragma once
// `consultd recording ...`: offline tools for encrypted recordings.
//
//   consultd recording decrypt IN OUT --key-file K   authenticate all of IN, then write
//                                                    the plaintext WebM/Matroska to OUT
//                                                    ("-" = stdout), mode 0600
//   consultd recording repair FILE --key-file K      recover a crashed recording: keep the
//                                                    authenticated prefix; FILE.partial is
//                                                    renamed to FILE on success and to
//                                                    FILE.failed when nothing is recoverable
//   consultd recording info FILE [--key-file K]      header, key id, size, integrity
//
// Exit codes: 0 ok, 1 operation failed (tampered, truncated, wrong key, I/O),
// 2 usage error.

namespace consultd::recording {

/// Runs one recording command. `argv` is main()'s: argv[0] is the program,
/// argv[1] may be the word "recording" (skipped), then the subcommand.
/// Writes results to stdout and errors to stderr; never throws.
int runRecordingCommand(int argc, char** argv);

}  // namespace consultd::recording
