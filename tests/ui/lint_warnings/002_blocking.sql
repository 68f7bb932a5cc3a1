CREATE INDEX IF NOT EXISTS idx_profiles_email ON profiles (email);
