#pragma once
// The schema as an ordered list of migration steps.
//
// Each step moves the database from version N-1 to N and is applied in its own
// transaction together with `PRAGMA user_version = N`, so a crash or a failing
// step leaves the database at the last complete version. Later features
// (recordings, invites, devices, admins) append steps; a step that has shipped
// is never edited.

#include <span>

namespace consultd::store {

namespace sql {
class Connection;
}

struct Migration {
    int version;              // 1, 2, 3, ... without gaps
    const char* description;  // for logs and errors
    const char* sql;          // parameterless DDL, may hold several statements
};

/// The steps this binary knows, in order.
std::span<const Migration> migrations();

/// Written to PRAGMA application_id by the first step so a foreign SQLite
/// file is refused instead of being migrated ("CNSD").
inline constexpr int kApplicationId = 0x434E5344;

/// Refuses a database this binary must not touch: a foreign SQLite file
/// (StoreError) or one whose version is past the last of `steps`
/// (SchemaTooNew). Returns the database's current version. Writes nothing.
int checkSchemaCompatible(sql::Connection& db, std::span<const Migration> steps);

/// Brings `db` (the write connection, outside any transaction) to the last
/// version of `steps`. Throws SchemaTooNew when the database is already past
/// it, StoreError when a step fails (that step is rolled back). Returns the
/// resulting version.
int applyMigrations(sql::Connection& db, std::span<const Migration> steps);

}  // namespace consultd::store
