-- migrate: no-transaction
CREATE OR REPLACE VIEW w AS SELECT 1;
