COMMENT ON TABLE t IS 'héllo wörld';
SELECT 1 2;
