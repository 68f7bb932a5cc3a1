//! A generated migration history: files of about 1 KiB each, the shape of
//! real schema work (a table, an index, a comment, some rows).

use migrate_runtime::Migrations;

/// The SQL of migration `i`.
pub fn file(i: usize) -> String {
    format!(
        "-- ================================================================\n\
         -- Migration {i:04}: feature {i}\n\
         -- ================================================================\n\
         CREATE TABLE IF NOT EXISTS feature_{i} (\n    id SERIAL PRIMARY KEY,\n    profile_id INTEGER NOT NULL,\n    \
         name VARCHAR(100) NOT NULL DEFAULT 'feature {i}',\n    enabled BOOLEAN NOT NULL DEFAULT TRUE,\n    \
         settings TEXT,\n    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,\n    \
         updated_at TIMESTAMP WITH TIME ZONE\n);\n\
         CREATE INDEX IF NOT EXISTS idx_feature_{i}_profile ON feature_{i} (profile_id) WHERE enabled;\n\
         INSERT INTO feature_{i} (profile_id, settings) VALUES (1, '{{\"a\": 1}}'), (2, '{{\"b\": 2}}'), (3, NULL);\n\
         UPDATE feature_{i} SET updated_at = created_at WHERE updated_at IS NULL;\n\
         COMMENT ON TABLE feature_{i} IS 'Generated feature table {i} for the benchmark; about one kibibyte of SQL per file';\n\
         COMMENT ON COLUMN feature_{i}.settings IS 'Free-form settings for feature {i}';\n"
    )
}

/// `n` files in a temporary folder, loaded as a `Migrations`.
pub fn migrations(n: usize) -> (tempfile::TempDir, Migrations) {
    let dir = write(n);
    let set = Migrations::from_dir(dir.path()).unwrap();
    (dir, set)
}

pub fn write(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_into(dir.path(), n);
    dir
}

pub fn write_into(dir: &std::path::Path, n: usize) {
    for i in 1..=n {
        std::fs::write(dir.join(format!("{i:04}_feature_{i}.sql")), file(i)).unwrap();
    }
}
