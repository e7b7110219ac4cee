-- First-start initialisation of the PostgreSQL container (runs only on an empty data volume).
-- Two databases with their own owners, so a leaked Airflow credential gives no access to the
-- RIEC data and the other way round:
--   riec     pseudonymised records, entities, hit-list runs and the audit log
--   airflow  Airflow metadata
-- The passwords come from the container environment (RIEC_DB_PASSWORD, AIRFLOW_DB_PASSWORD),
-- never from this file. psql runs this file with ON_ERROR_STOP, so a missing variable stops the
-- initialisation instead of creating a role without a password.

\getenv riec_password RIEC_DB_PASSWORD
\getenv airflow_password AIRFLOW_DB_PASSWORD

CREATE ROLE riec LOGIN PASSWORD :'riec_password';
CREATE DATABASE riec OWNER riec ENCODING 'UTF8';
-- The owner keeps its rights; revoking PUBLIC keeps the airflow role out of this database.
REVOKE ALL ON DATABASE riec FROM PUBLIC;

CREATE ROLE airflow LOGIN PASSWORD :'airflow_password';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8';
REVOKE ALL ON DATABASE airflow FROM PUBLIC;

-- Since PostgreSQL 15 the public schema belongs to the database owner (pg_database_owner),
-- so riec and airflow create their own tables there without further grants.
