#pragma once
// Admin passwords: scrypt (OpenSSL EVP_PBE_scrypt), stored as one
// self-describing string
//
//     scrypt$ln=15,r=8,p=3$<salt, 16 bytes hex>$<hash, 32 bytes hex>
//
// so the parameters can be raised later without invalidating stored hashes
// (verify() reads them from the string). The default (N = 2^15, r = 8,
// p = 3: 32 MiB and about 0.1-0.3 s of one core) is one of OWASP's
// equivalent scrypt settings. Comparison is constant-time.
//
// Thread-safety: stateless functions; each call allocates its own 32 MiB.
// Callers bound how many run at once (AdminAuth does).

#include <string>

namespace consultd::admin {

struct ScryptParams {
    int log2N = 15;
    int r = 8;
    int p = 3;
};

/// A new salted hash of `password`. Throws std::runtime_error when OpenSSL fails.
std::string hashPassword(const std::string& password, const ScryptParams& params = {});

/// Whether `password` matches `stored`. A malformed `stored` (or parameters
/// outside the accepted bounds) is never a match.
bool verifyPassword(const std::string& password, const std::string& stored);

/// Whether `stored` uses weaker parameters than `params` (rehash on next login).
bool needsRehash(const std::string& stored, const ScryptParams& params = {});

/// Password rules checked by the CLI: 12..1024 bytes, no NUL or newline.
/// Returns the problem, or "" when acceptable.
std::string passwordProblem(const std::string& password);

}  // namespace consultd::admin
