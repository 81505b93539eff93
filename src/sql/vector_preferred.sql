-- 0.1.0 -> 0.2.0 only: make vector the preferred type of its category, as
-- a fresh 0.2.0 install creates it (src/sql/vector.sql: untyped literals
-- keep resolving to vector once halfvec overloads the same functions).
-- CREATE TYPE is the only way to set this, so the catalog row of the
-- extension's own vector type is updated; the script runs as superuser.

UPDATE pg_catalog.pg_type t SET typispreferred = true
FROM pg_catalog.pg_depend d, pg_catalog.pg_extension e
WHERE d.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND d.objid = t.oid
  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND d.refobjid = e.oid AND d.deptype = 'e'
  AND e.extname = 'embed' AND t.typname = 'vector';
